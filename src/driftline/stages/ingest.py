"""ingest: read the configured source, plus the new batches the drift policy absorbed, into raw.parquet.

Absorbed batches and the source are cast to the schema's dtypes with the one cast
(`driftline.schema.cast`) before they are stacked, so a batch whose timestamps are text or whose
categories are plain strings never meets pyarrow as a mixed column. A value that cannot be read
is kept as text for the validate stage to quarantine with its reason; a batch missing a schema
column is refused, naming the file and the column (retire it: `driftline batch retire`).
"""

from __future__ import annotations

import pandas as pd

from driftline.atomic import write_parquet
from driftline.stages.context import StageContext, StageError


def absorbed_batches(ctx: StageContext) -> list[tuple[str, pd.DataFrame]]:
    """The batches listed in the trigger file (file, rows), each checked against the hash it was absorbed with."""
    from driftline.data.batches import batch_sha256, read_batch_frame, read_trigger

    frames = []
    retire = f"take it out of the loop with `driftline batch retire {ctx.pipeline} BATCH --reason ...`"
    for batch in read_trigger(ctx.root, ctx.paths.trigger).absorbed:
        path = ctx.path(batch.file)
        if not path.exists():
            raise StageError(f"{ctx.paths.trigger} lists {batch.file}, which is missing",
                             hint=f"restore it (`dvc pull {batch.file}.dvc` or git), or {retire}")
        if batch_sha256(path) != batch.sha256:
            raise StageError(f"{batch.file} changed after it was absorbed into training; batches are immutable",
                             hint=f"restore it (`dvc checkout {batch.file}.dvc`), or {retire} and add the corrected file as a new batch")
        try:
            frames.append((batch.file, read_batch_frame(path)))
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several unrelated types for a damaged file
            raise StageError(f"{batch.file} is not a readable Parquet file ({type(exc).__name__})", hint=retire) from None
    return frames


def stack(ctx: StageContext, source: pd.DataFrame, batches: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """The source and the batches, each cast to the schema's dtypes, in one frame."""
    from driftline.schema.cast import cast_to_schema, concat_cast
    from driftline.schema.rules import REQUIRED, rules_for
    from driftline.schema.validate import frame_problems

    rules = rules_for(ctx.cfg.schema_)
    frames = [cast_to_schema(source, rules, strict=False)]
    if not batches:  # one frame is already one dtype per column: stacking it would only re-read its categories (0.8 s at 1M rows)
        return frames[0].reset_index(drop=True)
    for file, frame in batches:
        missing = [column for column, message in frame_problems(list(frame.columns), rules) if message == REQUIRED]
        if missing:
            raise StageError(f"{file}: column {missing[0]!r} is missing" + (f" (and {', '.join(missing[1:])})" if missing[1:] else ""),
                             hint=f"take it out of the loop with `driftline batch retire {ctx.pipeline} {file} --reason ...`")
        frames.append(cast_to_schema(frame, rules, strict=False))
    return concat_cast(frames, rules)


def run(ctx: StageContext) -> str:
    from driftline.data.sources import SourceError, read_source

    try:
        df = read_source(ctx.cfg.dataset.source.model_dump(), ctx.root)
    except SourceError as exc:
        raise StageError(f"{ctx.pipeline}.dataset.source: {exc}") from exc
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise StageError(f"{ctx.pipeline}.dataset.source returned no rows: check the source and its query")
    batches = absorbed_batches(ctx) if ctx.cfg.monitor is not None else []
    df = stack(ctx, df, batches)  # the source too: a zoned time in UTC, an int beyond int64 kept as text to quarantine
    write_parquet(ctx.path(ctx.paths.raw), df)
    extra = f" (incl. {sum(len(b) for _, b in batches):,} rows from {len(batches)} absorbed batch(es))" if batches else ""
    return f"{len(df):,} rows x {df.shape[1]} columns{extra} -> {ctx.paths.raw}"
