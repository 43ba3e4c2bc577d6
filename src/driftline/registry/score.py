"""Score a model version on raw rows through its own fitted features (the champion or a challenger)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def score_version(model_path: Path, features_path: Path, meta: Mapping[str, Any], rows: pd.DataFrame,
                  *, task: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    """(scores, encoded labels) of one model version on raw rows; `meta` is its model.json.

    The rows need the target column (NaN where unlabelled); the labels come back encoded as
    training saw them (`driftline.models.train.encode_target`).
    """
    from driftline.features.pipeline import FittedFeatures, model_matrix
    from driftline.models.train import encode_target, load_model, predict_scores

    fitted = FittedFeatures.from_json(json.loads(features_path.read_text(encoding="utf-8")))
    X = model_matrix(rows, fitted)  # the same matrix training and the endpoint build
    scores = predict_scores(load_model(model_path), X, task)
    return scores, encode_target(rows[target], task, meta.get("classes"))
