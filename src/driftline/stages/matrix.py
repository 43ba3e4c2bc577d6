"""Read a featurized split back as (X, y, ids): the model matrix the stage trains or scores on.

The file reading is all that lives here; turning the featurized frame into the matrix is
`driftline.features.featurized_matrix`, and the labels are `driftline.models.train.encode_target`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from driftline.models.train import encode_target
from driftline.stages.context import StageContext

if TYPE_CHECKING:
    import numpy as np

    from driftline.features.pipeline import FittedFeatures

__all__ = ["Matrix", "encode_target", "load_fitted", "load_matrix"]


@dataclass
class Matrix:
    X: np.ndarray  # float64, one column per feature; categoricals as codes
    y: pd.Series
    ids: pd.Series | None


def load_fitted(ctx: StageContext) -> FittedFeatures:
    from driftline.features.pipeline import FittedFeatures

    return FittedFeatures.from_json(json.loads(ctx.path(ctx.paths.fitted_features).read_text(encoding="utf-8")))


def load_matrix(ctx: StageContext, split: str, feature_columns: list[str], categorical: dict[str, list]) -> Matrix:
    from driftline.features.pipeline import featurized_matrix

    frame = pd.read_parquet(ctx.path(ctx.paths.features(split)))
    id_col = ctx.cfg.dataset.id
    ids = frame[id_col] if id_col and id_col in frame.columns else None
    return Matrix(featurized_matrix(frame, feature_columns, categorical), frame[ctx.cfg.target], ids)
