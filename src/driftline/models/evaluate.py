"""Metrics and plot tables from labels and scores: pure functions, no model, no files.

Every number returned is a plain, finite Python float (or int for `n`) rounded to 6 decimals,
so it can go straight into DVC metrics JSON. A metric that is undefined for the data (AUC with
one class present, R² of a constant target) is left out rather than reported as NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from driftline.config.metrics import check_task, task_metrics

DECIMALS = 6
CALIBRATION_BINS = 10


def compute_metrics(
    y_true: Any, scores: Any, task: str, threshold: float = 0.5
) -> dict[str, float]:
    """Every metric the registry (`driftline.config.metrics`) lists for the task.

    binary: roc_auc, average_precision, log_loss, brier, accuracy, precision, recall, f1 (rows
    with score >= threshold count as positive), positive_rate (share predicted positive),
    prevalence (share actually positive), n.
    regression: rmse, mae, r2, mape (over rows whose target is not zero, as a fraction), n.
    multiclass: log_loss, accuracy, macro_f1 (over classes seen in labels or predictions), n.
    """
    check_task(task)
    y, s = _arrays(y_true, scores, task)
    scored = _Scored(task, y, s, threshold)
    clean: dict[str, float] = {}
    for metric in task_metrics(task):
        value = COMPUTE[metric.name](scored)
        if value is None or not math.isfinite(value):
            continue
        clean[metric.name] = value if isinstance(value, int) else round(float(value), DECIMALS)
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


@dataclass(frozen=True)
class _Scored:
    """Labels and scores of one task, with the counts several metrics share (computed once)."""

    task: str
    y: np.ndarray
    s: np.ndarray
    threshold: float

    @cached_property
    def predicted(self) -> np.ndarray:
        """Predicted class per row: score >= threshold (binary) or the top class (multiclass)."""
        return self.s >= self.threshold if self.task == "binary" else np.argmax(self.s, axis=1)

    @cached_property
    def actual(self) -> np.ndarray:
        return self.y == 1 if self.task == "binary" else self.y.astype(np.int64)

    @cached_property
    def both_classes(self) -> bool:
        return len(np.unique(self.y)) == 2

    @cached_property
    def counts(self) -> tuple[float, float, float]:
        """(true positives, false positives, false negatives) of a binary task."""
        predicted, actual = self.predicted, self.actual
        return (float(np.sum(predicted & actual)), float(np.sum(predicted & ~actual)),
                float(np.sum(~predicted & actual)))

    @cached_property
    def errors(self) -> np.ndarray:
        return self.y - self.s


def _roc_auc(d: _Scored) -> float | None:
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(d.y, d.s) if d.both_classes else None


def _average_precision(d: _Scored) -> float | None:
    from sklearn.metrics import average_precision_score

    return average_precision_score(d.y, d.s) if d.both_classes else None


def _log_loss(d: _Scored) -> float:
    from sklearn.metrics import log_loss

    if d.task == "binary":
        return log_loss(d.y, d.s, labels=[0.0, 1.0])
    return log_loss(d.actual, d.s, labels=list(range(d.s.shape[1])))


def _precision(d: _Scored) -> float | None:
    tp, fp, _ = d.counts
    return _ratio(tp, tp + fp)


def _recall(d: _Scored) -> float | None:
    tp, _, fn = d.counts
    return _ratio(tp, tp + fn)


def _f1(d: _Scored) -> float | None:
    # 2TP / (2TP + FP + FN): defined whenever anything is predicted or actually positive.
    tp, fp, fn = d.counts
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _r2(d: _Scored) -> float | None:
    total = float(np.sum((d.y - d.y.mean()) ** 2))
    return 1.0 - float(np.sum(d.errors**2)) / total if total > 0 else None


def _mape(d: _Scored) -> float | None:
    nonzero = d.y != 0
    return float(np.mean(np.abs(d.errors[nonzero] / d.y[nonzero]))) if nonzero.any() else None


def _macro_f1(d: _Scored) -> float:
    f1s = []
    for cls in np.union1d(d.actual, d.predicted):
        tp = float(np.sum((d.predicted == cls) & (d.actual == cls)))
        fp = float(np.sum((d.predicted == cls) & (d.actual != cls)))
        fn = float(np.sum((d.predicted != cls) & (d.actual == cls)))
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s))


# One function per metric of the registry (`driftline.config.metrics.METRICS`), by the same name.
COMPUTE: dict[str, Callable[[_Scored], float | int | None]] = {
    "roc_auc": _roc_auc,
    "average_precision": _average_precision,
    "log_loss": _log_loss,
    "brier": lambda d: float(np.mean((d.s - d.y) ** 2)),
    "accuracy": lambda d: float(np.mean(d.predicted == d.actual)),
    "precision": _precision,
    "recall": _recall,
    "f1": _f1,
    "positive_rate": lambda d: float(np.mean(d.predicted)),
    "prevalence": lambda d: float(np.mean(d.actual)),
    "rmse": lambda d: float(np.sqrt(np.mean(d.errors**2))),
    "mae": lambda d: float(np.mean(np.abs(d.errors))),
    "r2": _r2,
    "mape": _mape,
    "macro_f1": _macro_f1,
    "n": lambda d: int(len(d.y)),
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
