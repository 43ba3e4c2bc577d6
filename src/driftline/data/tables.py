"""Parquet files as pyarrow tables, for stages that only move rows and never need pandas."""

from __future__ import annotations

import base64
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


def read_as_written(path: str | os.PathLike[str]) -> pa.Table:
    """A Parquet file written from a pandas frame, as the table pandas wrote it from.

    Writing the table (or rows of it) again with `atomic.write_parquet` gives the bytes pandas
    would have written: pyarrow reads a category column's text levels back as `string` where pandas
    wrote `large_string`, and the schema the file stores (ARROW:schema) restores them; and every
    column is one chunk, as pandas hands its columns to pyarrow, so the pages come out the same.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    table = file.read().combine_chunks()
    stored = file.metadata.metadata or {}
    if b"ARROW:schema" not in stored:
        return table
    written = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(stored[b"ARROW:schema"])))
    for i, field in enumerate(table.schema):
        want = written.field(field.name).type if field.name in written.names else field.type
        if pa.types.is_dictionary(field.type) and want != field.type:
            table = table.set_column(i, field.with_type(want), table.column(i).cast(want))
    return table
