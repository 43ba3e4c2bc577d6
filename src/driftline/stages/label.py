"""label: attach the target; rows without a label yet are kept aside in unlabelled.parquet."""

from __future__ import annotations

import pandas as pd

from driftline.atomic import write_parquet
from driftline.stages.context import StageContext, StageError


def run(ctx: StageContext) -> str:
    from driftline.data.labels import LabelError, attach_labels

    p, cfg = ctx.paths, ctx.cfg
    df = pd.read_parquet(ctx.path(p.validated))
    labels = None
    if cfg.label.kind == "join":
        from driftline.data.sources import read_source

        kind = "parquet" if cfg.label.path.endswith(".parquet") else "csv"
        labels = read_source({"kind": kind, "path": cfg.label.path}, ctx.root)
    try:
        labelled, unlabelled = attach_labels(df, cfg.label, cfg.target, labels)
    except LabelError as exc:
        raise StageError(f"{ctx.pipeline}.label: {exc}") from exc
    if labelled.empty:
        raise StageError(f"{ctx.pipeline}.label: no row has a label; check {ctx.pipeline}.label")
    if cfg.task == "binary":
        values = set(pd.unique(labelled[cfg.target].dropna()).tolist())
        if not values <= {0, 1}:
            raise StageError(f"{ctx.pipeline}.target '{cfg.target}' must be 0/1 for a binary task, found {sorted(map(str, values))[:5]}")
    write_parquet(ctx.path(p.labelled), labelled)
    write_parquet(ctx.path(p.unlabelled), unlabelled)
    return f"{len(labelled):,} labelled, {len(unlabelled):,} waiting for labels -> {p.labelled}"
