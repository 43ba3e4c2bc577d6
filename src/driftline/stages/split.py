"""split: labelled rows -> train / valid / test parquet files.

Which split a row lands in is decided by `driftline.data.split` on the few columns that rule reads
(the target, the timestamp or the group); the rows themselves are only moved, with pyarrow, so
the other columns never pass through pandas. The files are the bytes `split_frame` and pandas
would write.
"""

from __future__ import annotations

from driftline.atomic import write_parquet
from driftline.paths import SPLITS
from driftline.stages.context import StageContext, StageError


def run(ctx: StageContext) -> str:
    import pyarrow as pa

    from driftline.data.split import assign_splits, check_classes, columns_read
    from driftline.data.tables import read_as_written

    p, cfg = ctx.paths, ctx.cfg
    table = read_as_written(ctx.path(p.labelled))
    needed = columns_read(cfg.split, cfg.target, cfg.dataset.timestamp)
    decides = table.select([c for c in needed if c in table.column_names]).to_pandas()
    check_classes(decides, cfg.target, cfg.task)
    labels = assign_splits(decides, cfg.split, cfg.target, cfg.dataset.timestamp, cfg.task)
    parts = {name: table.filter(pa.array(labels == name)) for name in SPLITS}
    empty = [name for name in SPLITS if not parts[name].num_rows]
    if empty:
        raise StageError(f"{ctx.pipeline}.split left no rows in: {', '.join(empty)} ({table.num_rows:,} labelled rows); use more data or larger shares")
    for name in SPLITS:
        write_parquet(ctx.path(p.split(name)), parts[name])
    sizes = ", ".join(f"{name} {parts[name].num_rows:,}" for name in SPLITS)
    return f"{cfg.split.kind} split: {sizes} -> {p.split_dir}/"
