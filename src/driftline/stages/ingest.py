"""ingest: read the configured source into data/<pipeline>/raw.parquet."""

from __future__ import annotations

import pandas as pd

from driftline.atomic import write_parquet
from driftline.stages.context import StageContext, StageError


def run(ctx: StageContext) -> str:
    from driftline.data.sources import SourceError, read_source

    try:
        df = read_source(ctx.cfg.dataset.source.model_dump(), ctx.root)
    except SourceError as exc:
        raise StageError(f"{ctx.pipeline}.dataset.source: {exc}") from exc
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise StageError(f"{ctx.pipeline}.dataset.source returned no rows: check the source and its query")
    write_parquet(ctx.path(ctx.paths.raw), df)
    return f"{len(df):,} rows x {df.shape[1]} columns -> {ctx.paths.raw}"
