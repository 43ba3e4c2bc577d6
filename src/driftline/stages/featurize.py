"""featurize: fit the declared transforms on train only; apply them to every split; save the state as JSON."""

from __future__ import annotations

import pandas as pd

from driftline.atomic import write_json, write_parquet
from driftline.paths import SPLITS
from driftline.stages.context import StageContext


def keep_columns(ctx: StageContext, frame: pd.DataFrame) -> list[str]:
    """Non-feature columns carried beside the features: the row id and the target."""
    cols = [c for c in (ctx.cfg.dataset.id,) if c]
    return [c for c in cols if c in frame.columns] + [ctx.cfg.target]


def run(ctx: StageContext) -> str:
    from driftline.features.pipeline import apply_features, fit_features

    p, cfg = ctx.paths, ctx.cfg
    splits = {name: pd.read_parquet(ctx.path(p.split(name))) for name in SPLITS}
    drop = [c for c in (cfg.dataset.id, cfg.dataset.timestamp) if c]
    fitted, train_features = fit_features(splits["train"], cfg.target, cfg.task, cfg.features, drop_columns=drop)
    for name, frame in splits.items():
        features = train_features if name == "train" else apply_features(frame, fitted)
        out = pd.concat([frame[keep_columns(ctx, frame)].reset_index(drop=True), features.reset_index(drop=True)], axis=1)
        write_parquet(ctx.path(p.features(name)), out)
    write_json(ctx.path(p.fitted_features), fitted.to_json())
    return f"{len(fitted.feature_columns)} features from {len(cfg.features.transforms)} transforms (fit on {len(splits['train']):,} train rows) -> {p.features_dir}/"
