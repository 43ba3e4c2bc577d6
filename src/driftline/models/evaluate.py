"""Metrics and plot tables from labels and scores: pure functions, no model, no files.

Every number returned is a plain, finite Python float (or int for `n`) rounded to 6 decimals,
so it can go straight into DVC metrics JSON. A metric that is undefined for the data (AUC with
one class present, R² of a constant target) is left out rather than reported as NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from driftline.config.model import check_task

DECIMALS = 6
CALIBRATION_BINS = 10


def compute_metrics(
    y_true: Any, scores: Any, task: str, threshold: float = 0.5
) -> dict[str, float]:
    """Headline metrics for the task.

    binary: roc_auc, average_precision, log_loss, brier, accuracy, precision, recall, f1 (rows
    with score >= threshold count as positive), positive_rate (share predicted positive),
    prevalence (share actually positive), n.
    regression: rmse, mae, r2, mape (over rows whose target is not zero, as a fraction), n.
    multiclass: log_loss, accuracy, macro_f1 (over classes seen in labels or predictions), n.
    """
    check_task(task)
    y, s = _arrays(y_true, scores, task)
    if task == "binary":
        metrics = _binary_metrics(y, s, threshold)
    elif task == "regression":
        metrics = _regression_metrics(y, s)
    else:
        metrics = _multiclass_metrics(y, s)
    clean: dict[str, float] = {"n": int(len(y))}
    for name, value in metrics.items():
        if value is not None and math.isfinite(value):
            clean[name] = round(float(value), DECIMALS)
    return dict(sorted(clean.items()))


def plot_tables(
    y_true: Any, scores: Any, task: str, max_points: int = 500
) -> dict[str, pd.DataFrame]:
    """Tables for DVC plots.

    binary: "roc" (fpr, tpr, threshold), "precision_recall" (recall, precision, threshold) —
    both left out when only one class is present — and "calibration" (mean_predicted,
    fraction_positive, count) over 10 equal-count bins of the score.
    regression: "residuals" (predicted, residual = actual - predicted) and
    "predicted_vs_actual" (actual, predicted).
    multiclass: "confusion", one (actual, predicted) row per example, as DVC's confusion
    template expects; it is not down-sampled, because that would change the counts.

    Curves and scatters keep at most `max_points` rows, evenly spaced along the curve (or along
    the sorted values) and always including both ends, so the same input gives the same table.
    """
    check_task(task)
    if max_points < 2:
        raise ValueError("max_points must be at least 2")
    y, s = _arrays(y_true, scores, task)
    if task == "binary":
        return _binary_tables(y, s, max_points)
    if task == "regression":
        return _regression_tables(y, s, max_points)
    return {
        "confusion": pd.DataFrame(
            {"actual": y.astype(np.int64), "predicted": np.argmax(s, axis=1).astype(np.int64)}
        )
    }


def downsample(table: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """At most `max_points` evenly spaced rows, first and last always kept."""
    n = len(table)
    if n <= max_points:
        return table.reset_index(drop=True)
    keep = np.unique(np.round(np.linspace(0, n - 1, max_points)).astype(np.int64))
    return table.iloc[keep].reset_index(drop=True)


def _arrays(y_true: Any, scores: Any, task: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"y_true must be one-dimensional, got shape {y.shape}")
    if len(y) == 0:
        raise ValueError("no rows to evaluate")
    if len(s) != len(y):
        raise ValueError(f"y_true has {len(y)} rows but scores has {len(s)}")
    if np.isnan(y).any() or np.isnan(s).any():
        raise ValueError("y_true and scores must not contain missing values")
    if task == "multiclass":
        if s.ndim != 2:
            raise ValueError(f"multiclass scores must be (n, classes), got shape {s.shape}")
        if (np.mod(y, 1) != 0).any() or y.min() < 0 or y.max() >= s.shape[1]:
            raise ValueError(f"multiclass labels must be integers 0..{s.shape[1] - 1}")
    else:
        if s.ndim != 1:
            raise ValueError(f"{task} scores must be one-dimensional, got shape {s.shape}")
        if task == "binary":
            if not np.isin(y, (0.0, 1.0)).all():
                raise ValueError("binary labels must be 0 or 1")
            if s.min() < 0 or s.max() > 1:
                raise ValueError("binary scores must be probabilities in [0, 1]")
    return y, s


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _binary_metrics(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, float | None]:
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    both_classes = len(np.unique(y)) == 2
    predicted = s >= threshold
    actual = y == 1
    tp = float(np.sum(predicted & actual))
    fp = float(np.sum(predicted & ~actual))
    fn = float(np.sum(~predicted & actual))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "roc_auc": roc_auc_score(y, s) if both_classes else None,
        "average_precision": average_precision_score(y, s) if both_classes else None,
        "log_loss": log_loss(y, s, labels=[0.0, 1.0]),
        "brier": float(np.mean((s - y) ** 2)),
        "accuracy": float(np.mean(predicted == actual)),
        "precision": precision,
        "recall": recall,
        # 2TP / (2TP + FP + FN): defined whenever anything is predicted or actually positive.
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "positive_rate": float(np.mean(predicted)),
        "prevalence": float(np.mean(actual)),
    }


def _regression_metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float | None]:
    errors = y - s
    nonzero = y != 0
    total = float(np.sum((y - y.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mae": float(np.mean(np.abs(errors))),
        "r2": 1.0 - float(np.sum(errors**2)) / total if total > 0 else None,
        "mape": float(np.mean(np.abs(errors[nonzero] / y[nonzero]))) if nonzero.any() else None,
    }


def _multiclass_metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float | None]:
    from sklearn.metrics import log_loss

    labels = y.astype(np.int64)
    predicted = np.argmax(s, axis=1)
    f1s = []
    for cls in np.union1d(labels, predicted):
        tp = float(np.sum((predicted == cls) & (labels == cls)))
        fp = float(np.sum((predicted == cls) & (labels != cls)))
        fn = float(np.sum((predicted != cls) & (labels == cls)))
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return {
        "log_loss": log_loss(labels, s, labels=list(range(s.shape[1]))),
        "accuracy": float(np.mean(predicted == labels)),
        "macro_f1": float(np.mean(f1s)),
    }


def _binary_tables(y: np.ndarray, s: np.ndarray, max_points: int) -> dict[str, pd.DataFrame]:
    from sklearn.metrics import precision_recall_curve, roc_curve

    tables: dict[str, pd.DataFrame] = {}
    if len(np.unique(y)) == 2:
        fpr, tpr, roc_thresholds = roc_curve(y, s, drop_intermediate=True)
        roc = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": _finite_thresholds(roc_thresholds)})
        tables["roc"] = _rounded(downsample(roc, max_points))

        precision, recall, pr_thresholds = precision_recall_curve(y, s, drop_intermediate=True)
        # sklearn orders by rising threshold and adds a last point (recall 0, precision 1)
        # with no threshold; it sits above every score, so 1.0 stands in for it.
        pr = pd.DataFrame(
            {
                "recall": recall,
                "precision": precision,
                "threshold": np.append(pr_thresholds, 1.0),
            }
        ).iloc[::-1]
        tables["precision_recall"] = _rounded(downsample(pr, max_points))
    tables["calibration"] = _rounded(_calibration(y, s))
    return tables


def _finite_thresholds(thresholds: np.ndarray) -> np.ndarray:
    # roc_curve's first threshold is +inf ("predict nothing positive"); JSON and CSV readers
    # choke on it, and for probabilities 1.0 says the same.
    return np.minimum(thresholds, 1.0)


def _calibration(y: np.ndarray, s: np.ndarray) -> pd.DataFrame:
    order = np.argsort(s, kind="stable")
    bins = [chunk for chunk in np.array_split(order, min(CALIBRATION_BINS, len(s))) if len(chunk)]
    return pd.DataFrame(
        {
            "mean_predicted": [float(np.mean(s[idx])) for idx in bins],
            "fraction_positive": [float(np.mean(y[idx])) for idx in bins],
            "count": np.array([len(idx) for idx in bins], dtype=np.int64),
        }
    )


def _regression_tables(y: np.ndarray, s: np.ndarray, max_points: int) -> dict[str, pd.DataFrame]:
    by_predicted = np.argsort(s, kind="stable")
    by_actual = np.argsort(y, kind="stable")
    residuals = pd.DataFrame({"predicted": s[by_predicted], "residual": (y - s)[by_predicted]})
    vs_actual = pd.DataFrame({"actual": y[by_actual], "predicted": s[by_actual]})
    return {
        "residuals": _rounded(downsample(residuals, max_points)),
        "predicted_vs_actual": _rounded(downsample(vs_actual, max_points)),
    }


def _rounded(table: pd.DataFrame) -> pd.DataFrame:
    floats = [col for col in table.columns if table[col].dtype.kind == "f"]
    return table.assign(**{col: table[col].round(DECIMALS) for col in floats})
