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
    both empty (header only) when only one class is present — and "calibration" (mean_predicted,
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

    def weighted_counts(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(true positives, false positives, false negatives) of a binary task, per row of `w`."""
        predicted, actual = self.predicted, self.actual
        return (_per_round(w, predicted & actual), _per_round(w, predicted & ~actual),
                _per_round(w, ~predicted & actual))

    @cached_property
    def errors(self) -> np.ndarray:
        return self.y - self.s


def _per_round(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Weighted sums of a per-row quantity, one per row of `weights` (rounds x rows)."""
    return weights @ values.astype(np.float64)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN (undefined, so left out) where the denominator is 0."""
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _mean(row_values: Callable[[_Scored], np.ndarray]) -> Callable[[_Scored, np.ndarray], np.ndarray]:
    """A metric that is the weighted mean of a per-row value."""
    return lambda d, w: _divide(_per_round(w, row_values(d)), w.sum(axis=1))


def _roc_auc(d: _Scored, w: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney AUC: P(score of a positive > score of a negative), ties counting half.

    The scores are sorted once and tied scores grouped, so each round costs O(rows).
    """
    order = np.argsort(d.s, kind="stable")
    ordered = d.s[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    positive = d.actual[order]
    wo = w[:, order]
    pos = np.add.reduceat(np.where(positive, wo, 0.0), starts, axis=1)
    neg = np.add.reduceat(np.where(positive, 0.0, wo), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    wins = np.sum(pos * (below + 0.5 * neg), axis=1)
    return _divide(wins, pos.sum(axis=1) * neg.sum(axis=1))


def _log_loss_per_row(d: _Scored) -> np.ndarray:
    """-log of the probability given to the true class, clipped to [eps, 1 - eps] as sklearn does."""
    if d.task == "binary":
        truth = np.where(d.actual, d.s, 1.0 - d.s)
    else:
        truth = d.s[np.arange(len(d.y)), d.actual]
    eps = np.finfo(np.float64).eps
    return -np.log(np.clip(truth, eps, 1 - eps))


def _precision(d: _Scored, w: np.ndarray) -> np.ndarray:
    tp, fp, _ = d.weighted_counts(w)
    return _divide(tp, tp + fp)


def _recall(d: _Scored, w: np.ndarray) -> np.ndarray:
    tp, _, fn = d.weighted_counts(w)
    return _divide(tp, tp + fn)


def _f1(d: _Scored, w: np.ndarray) -> np.ndarray:
    # 2TP / (2TP + FP + FN): defined whenever anything is predicted or actually positive.
    tp, fp, fn = d.weighted_counts(w)
    return _divide(2 * tp, 2 * tp + fp + fn)


def _rmse(d: _Scored, w: np.ndarray) -> np.ndarray:
    return np.sqrt(_divide(_per_round(w, d.errors**2), w.sum(axis=1)))


def _r2(d: _Scored, w: np.ndarray) -> np.ndarray:
    total_weight = w.sum(axis=1)
    centre = float(np.mean(d.y))  # centring first keeps the variance free of cancellation
    shifted = d.y - centre
    mean_shift = _divide(_per_round(w, shifted), total_weight)
    variance = _per_round(w, shifted**2) - total_weight * mean_shift**2
    defined = variance > 0
    return np.where(defined, 1.0 - _divide(_per_round(w, d.errors**2), np.where(defined, variance, 0.0)), np.nan)


def _mape(d: _Scored, w: np.ndarray) -> np.ndarray:
    nonzero = d.y != 0
    ratios = np.abs(d.errors[nonzero] / d.y[nonzero])
    return _divide(_per_round(w[:, nonzero], ratios), w[:, nonzero].sum(axis=1))


# The metrics computed for many weightings of the rows at once: `weights` is (rounds, rows), each
# row one weighting (all ones for the plain metric, bootstrap counts for a resample). A metric
# listed here is computed this way and no other, so the gate's bootstrap and metrics.json agree.
# NaN marks a round where the metric is undefined.
WEIGHTED: dict[str, Callable[[_Scored, np.ndarray], np.ndarray]] = {
    "roc_auc": _roc_auc,
    "log_loss": _mean(_log_loss_per_row),
    "brier": _mean(lambda d: (d.s - d.y) ** 2),
    "accuracy": _mean(lambda d: d.predicted == d.actual),
    "precision": _precision,
    "recall": _recall,
    "f1": _f1,
    "positive_rate": _mean(lambda d: d.predicted),
    "prevalence": _mean(lambda d: d.actual),
    "rmse": _rmse,
    "mae": _mean(lambda d: np.abs(d.errors)),
    "r2": _r2,
    "mape": _mape,
}


def _unweighted(name: str) -> Callable[[_Scored], float]:
    return lambda d: float(WEIGHTED[name](d, np.ones((1, len(d.y))))[0])


def _average_precision(d: _Scored) -> float | None:
    from sklearn.metrics import average_precision_score

    return average_precision_score(d.y, d.s) if d.both_classes else None


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
    **{name: _unweighted(name) for name in WEIGHTED},
    "average_precision": _average_precision,
    "macro_f1": _macro_f1,
    "n": lambda d: int(len(d.y)),
}


def resampled_metric(
    y_true: Any, scores: Any, task: str, name: str, counts: np.ndarray, threshold: float = 0.5
) -> np.ndarray:
    """The metric `name` on each bootstrap resample of the rows; NaN where it is undefined.

    `counts` is (rounds, rows): how often each row is drawn in each resample. The common metrics
    (`WEIGHTED`) are computed for all rounds at once; the others resample by resample.
    """
    check_task(task)
    y, s = _arrays(y_true, scores, task)
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != len(y) or not np.issubdtype(counts.dtype, np.integer):
        raise ValueError(f"counts must be integers of shape (rounds, {len(y)}), got {counts.dtype} {counts.shape}")
    scored = _Scored(task, y, s, threshold)
    if name in WEIGHTED:
        return WEIGHTED[name](scored, counts.astype(np.float64))
    rows = np.arange(len(y))
    values = np.full(len(counts), np.nan)
    for i, drawn in enumerate(counts):
        idx = np.repeat(rows, drawn)
        value = COMPUTE[name](_Scored(task, y[idx], s[idx], threshold))
        values[i] = np.nan if value is None else float(value)
    return values


def _binary_tables(y: np.ndarray, s: np.ndarray, max_points: int) -> dict[str, pd.DataFrame]:
    from sklearn.metrics import precision_recall_curve, roc_curve

    # With one class present the curves are undefined: their tables are empty (header only), so
    # `dvc plots` shows no curve rather than a made-up one, and roc_auc is left out of the metrics.
    tables: dict[str, pd.DataFrame] = {
        "roc": pd.DataFrame({"fpr": [], "tpr": [], "threshold": []}, dtype=np.float64),
        "precision_recall": pd.DataFrame({"recall": [], "precision": [], "threshold": []}, dtype=np.float64),
    }
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
