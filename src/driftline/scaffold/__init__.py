"""`driftline init`: infer a schema from a CSV/Parquet file and scaffold a pipeline around it.

`infer.py` is pure (a frame in, plain config dicts out); `render.py` turns them into commented
YAML texts; `project.py` is the edge that reads the data and writes the files, never over an
existing one.
"""
