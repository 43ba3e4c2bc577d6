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
    from driftline.features.pipeline import features_frame, featurize

    p, cfg = ctx.paths, ctx.cfg
    splits = {name: pd.read_parquet(ctx.path(p.split(name))) for name in SPLITS}
    fitted, matrices = featurize(cfg, splits)
    for name, frame in splits.items():
        X = matrices[name]
        # Written with category columns (readable in any parquet viewer); train and evaluate read
        # the very same matrix back (`featurized_matrix`).
        features = features_frame(X, fitted.feature_columns, fitted.categorical)
        out = pd.concat([frame[keep_columns(ctx, frame)].reset_index(drop=True), features], axis=1)
        write_parquet(ctx.path(p.features(name)), out)
    write_json(ctx.path(p.fitted_features), fitted.to_json())
    return (f"{len(fitted.feature_columns)} features from {len(cfg.features.transforms)} transforms "
            f"(fit on {len(splits['train']):,} train rows) -> {p.features_dir}/")
