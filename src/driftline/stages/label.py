"""label: attach the target; rows without a label yet are kept aside in unlabelled.parquet.

When the target is a column of the rows themselves (`label: {kind: column, column: <target>}`, the
common case), the stage only moves rows: it filters the Parquet table with pyarrow and never loads
pandas (about 0.5 s of a process's start-up, and a conversion of every column each way).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftline.atomic import write_parquet
from driftline.stages.context import StageContext, StageError

if TYPE_CHECKING:
    import pyarrow as pa


def run(ctx: StageContext) -> str:
    cfg = ctx.cfg
    if cfg.label.kind == "column" and cfg.label.column == cfg.target:
        labelled, unlabelled = _split_by_target(ctx)
    else:
        labelled, unlabelled = _attach(ctx)
    if not len(labelled):
        raise StageError(f"{ctx.pipeline}.label: no row has a label; check {ctx.pipeline}.label")
    if cfg.task == "binary":
        values = _distinct(labelled, cfg.target)
        if not values <= {0, 1}:
            raise StageError(f"{ctx.pipeline}.target '{cfg.target}' must be 0/1 for a binary task, found {sorted(map(str, values))[:5]}")
    write_parquet(ctx.path(ctx.paths.labelled), labelled)
    write_parquet(ctx.path(ctx.paths.unlabelled), unlabelled)
    return f"{len(labelled):,} labelled, {len(unlabelled):,} waiting for labels -> {ctx.paths.labelled}"


def _split_by_target(ctx: StageContext) -> tuple[pa.Table, pa.Table]:
    """The rows whose target is present, and the others, as pyarrow tables (pandas' metadata kept)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from driftline.data.tables import read_as_written

    table = read_as_written(ctx.path(ctx.paths.validated))
    if ctx.cfg.target not in table.column_names:
        raise StageError(f"{ctx.pipeline}.label: column '{ctx.cfg.target}' not in {ctx.paths.validated}")
    target = table[ctx.cfg.target]
    present = pc.is_valid(target)
    if pa.types.is_floating(target.type):  # pandas counts NaN as missing, as it does null
        present = pc.and_(present, pc.invert(pc.is_nan(target)))
    present = present.combine_chunks() if isinstance(present, pa.ChunkedArray) else present
    return table.filter(present), table.filter(pc.invert(present))


def _attach(ctx: StageContext) -> tuple[Any, Any]:
    """Labels from a rule or a join (or a column of another name), with pandas."""
    import pandas as pd

    from driftline.data.labels import LabelError, attach_labels

    p, cfg = ctx.paths, ctx.cfg
    df = pd.read_parquet(ctx.path(p.validated))
    labels = None
    if cfg.label.kind == "join":
        from driftline.data.sources import read_source

        kind = "parquet" if cfg.label.path.endswith(".parquet") else "csv"
        labels = read_source({"kind": kind, "path": cfg.label.path}, ctx.root)
    try:
        return attach_labels(df, cfg.label, cfg.target, labels)
    except LabelError as exc:
        raise StageError(f"{ctx.pipeline}.label: {exc}") from exc


def _distinct(rows: Any, column: str) -> set:
    """The distinct present values of a column of a pandas frame or a pyarrow table."""
    if hasattr(rows, "to_pandas"):
        import pyarrow.compute as pc

        return set(pc.unique(rows[column].drop_null()).to_pylist())
    import pandas as pd

    return set(pd.unique(rows[column].dropna()).tolist())
