"""ingest: read the configured source, plus the new batches the drift policy absorbed, into raw.parquet."""

from __future__ import annotations

import pandas as pd

from driftline.atomic import write_parquet
from driftline.stages.context import StageContext, StageError


def absorbed_batches(ctx: StageContext) -> list[pd.DataFrame]:
    """The batches listed in the trigger file, each checked against the hash it was absorbed with."""
    from driftline.data.batches import read_trigger
    from driftline.hashing import sha256_file

    frames = []
    for batch in read_trigger(ctx.root, ctx.paths.trigger).absorbed:
        path = ctx.path(batch.file)
        if not path.is_file():
            raise StageError(f"{ctx.paths.trigger} lists {batch.file}, which is missing: restore it (git or dvc pull)")
        if sha256_file(path) != batch.sha256:
            raise StageError(f"{batch.file} changed after it was absorbed into training; batches are immutable, add a new one instead")
        frames.append(pd.read_parquet(path))
    return frames


def run(ctx: StageContext) -> str:
    from driftline.data.sources import SourceError, read_source

    try:
        df = read_source(ctx.cfg.dataset.source.model_dump(), ctx.root)
    except SourceError as exc:
        raise StageError(f"{ctx.pipeline}.dataset.source: {exc}") from exc
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise StageError(f"{ctx.pipeline}.dataset.source returned no rows: check the source and its query")
    batches = absorbed_batches(ctx) if ctx.cfg.monitor is not None else []
    if batches:
        df = pd.concat([df, *batches], ignore_index=True)
    write_parquet(ctx.path(ctx.paths.raw), df)
    extra = f" (incl. {sum(len(b) for b in batches):,} rows from {len(batches)} absorbed batch(es))" if batches else ""
    return f"{len(df):,} rows x {df.shape[1]} columns{extra} -> {ctx.paths.raw}"
