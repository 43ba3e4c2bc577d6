"""Targets as LightGBM wants them, one rule for training, evaluation, promotion and monitoring."""

from __future__ import annotations

import numpy as np
import pandas as pd


def encode_target(y: pd.Series, task: str, classes: list | None) -> np.ndarray:
    """Targets as LightGBM wants them: floats, or class indices for multiclass."""
    if task == "multiclass":
        lookup = {c: i for i, c in enumerate(classes or [])}
        return y.map(lambda v: lookup[v if not isinstance(v, np.generic) else v.item()]).to_numpy(dtype=np.int64)
    return y.astype("float64").to_numpy()
