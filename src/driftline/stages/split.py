"""split: labelled rows -> train / valid / test parquet files."""

from __future__ import annotations

import pandas as pd

from driftline.atomic import write_parquet
from driftline.paths import SPLITS
from driftline.stages.context import StageContext, StageError


def run(ctx: StageContext) -> str:
    from driftline.data.split import split_frame

    p, cfg = ctx.paths, ctx.cfg
    df = pd.read_parquet(ctx.path(p.labelled))
    parts = split_frame(df, cfg.split, cfg.target, cfg.dataset.timestamp, cfg.task)
    empty = [name for name in SPLITS if parts[name].empty]
    if empty:
        raise StageError(f"{ctx.pipeline}.split left no rows in: {', '.join(empty)} ({len(df):,} labelled rows); use more data or larger shares")
    for name in SPLITS:
        write_parquet(ctx.path(p.split(name)), parts[name])
    sizes = ", ".join(f"{name} {len(parts[name]):,}" for name in SPLITS)
    return f"{cfg.split.kind} split: {sizes} -> {p.split_dir}/"
