"""Read a featurized split back as (X, y, ids) with the training dtypes."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from driftline.models.target import encode_target  # noqa: F401  (re-exported: stages and the sweep import it from here)
from driftline.stages.context import StageContext


@dataclass
class Matrix:
    X: pd.DataFrame
    y: pd.Series
    ids: pd.Series | None


def load_fitted(ctx: StageContext):  # -> FittedFeatures
    import json

    from driftline.features.pipeline import FittedFeatures

    return FittedFeatures.from_json(json.loads(ctx.path(ctx.paths.fitted_features).read_text(encoding="utf-8")))


def load_matrix(ctx: StageContext, split: str, feature_columns: list[str], categorical: dict[str, list]) -> Matrix:
    frame = pd.read_parquet(ctx.path(ctx.paths.features(split)))
    from driftline.features.transforms import categorical_dtype, encode_categorical

    X = frame[feature_columns].copy()
    for column, levels in categorical.items():
        if column in X.columns:
            X[column] = encode_categorical(X[column], *categorical_dtype(levels))
    id_col = ctx.cfg.dataset.id
    ids = frame[id_col] if id_col and id_col in frame.columns else None
    return Matrix(X, frame[ctx.cfg.target], ids)
