"""Reason codes: for each row, the features that moved its score most, from LightGBM's
per-feature contributions (`pred_contrib`, TreeSHAP values in raw-score space)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftline.jsonable import jsonable
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
    return _per_row(booster, booster.predict(data, pred_contrib=True), len(data))


def contributions_matrix(booster: lightgbm.Booster, X: np.ndarray) -> np.ndarray:
    """`contributions` for a float matrix already in the model's column order.

    Categorical features hold their category codes as floats (NaN for missing), as LightGBM
    itself turns a pandas frame with the training categories into numbers; the values are the
    same as `contributions` on that frame, without the per-call pandas conversion.
    """
    X = np.asarray(X, dtype=np.float64)
    width = len(booster.feature_name())
    if X.ndim != 2 or X.shape[1] != width:
        raise ValueError(f"expected a matrix of shape (n, {width}), got {X.shape}")
    return _per_row(booster, booster.predict(X, pred_contrib=True), len(X))


def _per_row(booster: lightgbm.Booster, raw: Any, n_rows: int) -> np.ndarray:
    contrib = np.asarray(raw, dtype=np.float64)
    width = len(booster.feature_name()) + 1
    if contrib.shape[1] == width:
        return contrib
    num_class = contrib.shape[1] // width
    per_class = contrib.reshape(n_rows, num_class, width)
    predicted = per_class.sum(axis=2).argmax(axis=1)
    return per_class[np.arange(n_rows), predicted, :]


def reason_codes(
    booster: lightgbm.Booster, X: pd.DataFrame, top: int = 3, direction: str = "increase"
) -> list[list[dict[str, Any]]]:
    """Per row, up to `top` features that pushed the score up ("increase": toward class 1 for
    binary, i.e. higher risk) or down ("decrease"), strongest first.

    Each code is {feature, value, contribution}: `value` is the row's raw input (None when
    missing; categories as their label) and `contribution` its raw-score push. Only features
    that pushed in the asked direction are listed, so a row can have fewer than `top` codes.
    """
    _check(top, direction)
    data = align_features(booster, X)
    names = list(data.columns)
    contrib = contributions(booster, data)[:, :-1]
    return _codes(contrib, names, [data[name].tolist() for name in names], top, direction)


def reason_codes_matrix(
    booster: lightgbm.Booster,
    X: np.ndarray,
    feature_names: list[str] | None = None,
    top: int = 3,
    direction: str = "increase",
    categorical: dict[int, list[Any]] | None = None,
    contrib: np.ndarray | None = None,
) -> list[list[dict[str, Any]]]:
    """`reason_codes` for a float matrix in the model's column order (see `contributions_matrix`).

    `categorical` maps column positions to their category levels in code order, so a code's
    `value` is its label as with a pandas frame; `contrib` takes contributions already computed
    for exactly these rows (from `contributions_matrix`, bias column included). Same codes, same
    numbers as `reason_codes` on the frame the matrix was made from.
    """
    _check(top, direction)
    names = list(feature_names) if feature_names is not None else list(booster.feature_name())
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(names):
        raise ValueError(f"expected a matrix of shape (n, {len(names)}), got {X.shape}")
    if contrib is None:
        contrib = contributions_matrix(booster, X)
    if contrib.shape != (len(X), len(names) + 1):
        raise ValueError(f"contrib must have shape {(len(X), len(names) + 1)}, got {contrib.shape}")
    categorical = categorical or {}
    columns: list[list[Any]] = []
    for j in range(len(names)):
        values = X[:, j].tolist()
        levels = categorical.get(j)
        if levels is not None:
            values = [None if math.isnan(v) else levels[int(v)] for v in values]
        columns.append(values)
    return _codes(contrib[:, :-1], names, columns, top, direction)


def _check(top: int, direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if top < 1:
        raise ValueError("top must be at least 1")


def _codes(
    contrib: np.ndarray, names: list[Any], columns: list[list[Any]], top: int, direction: str
) -> list[list[dict[str, Any]]]:
    signed = contrib if direction == "increase" else -contrib
    # Stable sort on the negated push: strongest first, ties in column order.
    order = np.argsort(-signed, axis=1, kind="stable")[:, :top]

    codes: list[list[dict[str, Any]]] = []
    for row, picked in enumerate(order):
        row_codes = []
        for col in picked:
            if signed[row, col] <= 0:
                break
            row_codes.append(
                {
                    "feature": str(names[col]),
                    "value": jsonable(columns[col][row]),
                    "contribution": float(contrib[row, col]),
                }
            )
        codes.append(row_codes)
    return codes
