"""Reason codes: for each row, the features that moved its score most, from LightGBM's
per-feature contributions (`pred_contrib`, TreeSHAP values in raw-score space)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftline.models.train import align_features

if TYPE_CHECKING:
    import lightgbm

DIRECTIONS = ("increase", "decrease")


def contributions(booster: lightgbm.Booster, X: pd.DataFrame) -> np.ndarray:
    """Per-row feature contributions, shape (n, features + 1); the last column is the bias.

    Values are in raw-score space (log-odds for binary), so each row sums to the raw score.
    For multiclass models, each row holds the contributions toward its predicted class.
    """
    data = align_features(booster, X)
    contrib = np.asarray(booster.predict(data, pred_contrib=True), dtype=np.float64)
    width = len(booster.feature_name()) + 1
    if contrib.shape[1] == width:
        return contrib
    num_class = contrib.shape[1] // width
    per_class = contrib.reshape(len(data), num_class, width)
    predicted = per_class.sum(axis=2).argmax(axis=1)
    return per_class[np.arange(len(data)), predicted, :]


def reason_codes(
    booster: lightgbm.Booster, X: pd.DataFrame, top: int = 3, direction: str = "increase"
) -> list[list[dict[str, Any]]]:
    """Per row, up to `top` features that pushed the score up ("increase": toward class 1 for
    binary, i.e. higher risk) or down ("decrease"), strongest first.

    Each code is {feature, value, contribution}: `value` is the row's raw input (None when
    missing; categories as their label) and `contribution` its raw-score push. Only features
    that pushed in the asked direction are listed, so a row can have fewer than `top` codes.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if top < 1:
        raise ValueError("top must be at least 1")
    data = align_features(booster, X)
    names = list(data.columns)
    contrib = contributions(booster, data)[:, :-1]
    signed = contrib if direction == "increase" else -contrib
    # Stable sort on the negated push: strongest first, ties in column order.
    order = np.argsort(-signed, axis=1, kind="stable")[:, :top]
    columns = [data[name].tolist() for name in names]

    codes: list[list[dict[str, Any]]] = []
    for row, picked in enumerate(order):
        row_codes = []
        for col in picked:
            if signed[row, col] <= 0:
                break
            row_codes.append(
                {
                    "feature": str(names[col]),
                    "value": _json_value(columns[col][row]),
                    "contribution": float(contrib[row, col]),
                }
            )
        codes.append(row_codes)
    return codes


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return value
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    return str(value)
