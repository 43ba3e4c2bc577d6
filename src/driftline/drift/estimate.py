"""Performance before the labels arrive: CBPE for binary classifiers, DLE for regression.

Pure functions: arrays and dicts in, an `EstimatedPerformance` (drift.json's `estimated` part) out.
What a registered version needs to estimate is an `Estimator`: a JSON document (estimator.json)
and, for regression, the nanny models as LightGBM text. Nothing here reads or writes a file
(`driftline.stages.promote` writes them into the version folder and `load_estimator` reads them).

Binary classifiers: confidence-based performance estimation (CBPE, as NannyML does it).
    `fit_cbpe` calibrates the champion's scores on its held-out (test split) rows: isotonic
    regression on equal-count score bins, stored as JSON arrays (each bin's mean score, calibrated
    rate and rows; never a pickle). Scores are calibrated linearly between those points, and past
    the outer ones on the log-odds scale. Binning first matters: isotonic regression on every row
    overfits its end steps, which overstated the estimated roc_auc by about 0.02 under covariate
    shift in our trials; clamping past the outer points understated it by as much.
    `estimate_cbpe` maps new scores to calibrated probabilities p and reads the metrics off the
    expected confusion matrix (a row predicted positive is a true positive with probability p);
    roc_auc is the area under the expected ROC curve: rows ranked by score, expected TPR and FPR
    from the cumulative sums of p and 1 - p.
    The band is Monte Carlo: `DRAWS` draws (seeded, vectorised), each calibrating with one of
    `CALIBRATION_BOOTSTRAPS` maps refitted on bootstrap resamples of the held-out rows (so the
    band carries their own sampling noise; an estimator stored without them jitters the one map
    within its binomial standard errors) and then drawing a label per row from the calibrated
    probabilities, scored as the realised metric would be; the band holds the central
    `confidence` share of the draws. It is the spread the realised value would have *if the
    calibration holds*: it says nothing about a change in P(label | features). CBPE assumes that
    relationship is unchanged (covariate shift only); under concept drift its estimate is wrong,
    and the benchmark (benchmarks/bench_estimate.py) shows by how much.

Regression: direct loss estimation (DLE).
    `fit_dle` trains two small "nanny" LightGBM models (1 thread, deterministic, seeded) on the
    champion's held-out rows: one of the absolute error, one of the squared error, from the
    champion's model matrix plus its prediction. Each is fitted on one half and checked on the
    other (and the other way round), then refitted on all rows; the check halves give the spread
    of a row's actual loss around the nanny's prediction. `estimate_dle` averages the nanny's
    predictions (MAE; RMSE as the root of the mean predicted squared error) and gives an analytic
    band: estimate ± z · (relative residual spread · estimate) / √rows.

Multiclass models get no estimator (`fit_estimator` returns None): not supported yet.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftline.config.metrics import METRICS, headline
from driftline.drift.report import EstimatedPerformance, MetricEstimate
from driftline.errors import DriftlineError

FORMAT = 1
ESTIMATOR_FILE = "estimator.json"
#: loss -> the nanny model's file in the version folder (LightGBM text)
NANNY_FILES = {"mae": "nanny_mae.txt", "mse": "nanny_mse.txt"}
CBPE_METRICS = ("roc_auc", "accuracy", "precision", "recall")
DLE_METRICS = ("rmse", "mae")
#: Monte Carlo label draws for the CBPE band
DRAWS = 300
#: calibration bins: about this many held-out rows of the rarer class each, within the bounds below
CALIBRATION_CLASS_ROWS = 40
CALIBRATION_MIN_BINS = 5
CALIBRATION_MAX_BINS = 100
#: calibration maps refitted on bootstrap resamples of the held-out rows (the band's share of their own noise)
CALIBRATION_BOOTSTRAPS = 40
_DRAWS_PER_BLOCK = 50
DECIMALS = 6
PREDICTION_COLUMN = "__prediction__"
NANNY_PARAMS = {"objective": "regression", "num_leaves": 15, "learning_rate": 0.05, "min_data_in_leaf": 50,
                "lambda_l2": 1.0, "num_threads": 1, "deterministic": True, "force_row_wise": True,
                "seed": 0, "verbosity": -1}
NANNY_MAX_ROUNDS = 400
NANNY_EARLY_STOPPING = 20


class EstimatorError(DriftlineError):
    """An estimator cannot be fitted on these rows, or a stored one is damaged."""


@dataclass(frozen=True)
class Estimator:
    """What a registered version needs to estimate its performance: estimator.json (+ nanny models)."""

    meta: dict[str, Any]
    #: DLE: loss ("mae", "mse") -> the nanny model as LightGBM text; empty for CBPE
    nanny: Mapping[str, str] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return str(self.meta["method"])

    def documents(self) -> dict[str, str]:
        """File name -> text, as the version folder stores them."""
        docs = {ESTIMATOR_FILE: json.dumps(self.meta, indent=2, sort_keys=True, allow_nan=False) + "\n"}
        docs.update({NANNY_FILES[loss]: text for loss, text in self.nanny.items()})
        return docs

    @classmethod
    def from_documents(cls, meta: Mapping[str, Any], nanny: Mapping[str, str], where: str = ESTIMATOR_FILE) -> Estimator:
        """Rebuild one from estimator.json (parsed) and the nanny texts; EstimatorError if they do not fit."""
        method = meta.get("method")
        if meta.get("format") != FORMAT or method not in ("cbpe", "dle"):
            raise EstimatorError(f"{where}: not a format-{FORMAT} cbpe/dle estimator (format {meta.get('format')!r}, method {method!r})",
                                 hint="re-register the version (rerun its promote stage) to write a fresh one")
        if method == "cbpe":
            cal = meta.get("calibration") or {}
            arrays = [cal.get(key) for key in ("x", "y", "rows")]
            if not all(isinstance(a, list) and a and len(a) == len(arrays[0]) for a in arrays):
                raise EstimatorError(f"{where}: calibration.x, .y and .rows must be non-empty lists of one length",
                                     hint="re-register the version to write a fresh estimator")
            boots = meta.get("calibration_bootstrap", [])
            if not isinstance(boots, list) or not all(
                    isinstance(b, dict) and isinstance(b.get("x"), list) and isinstance(b.get("y"), list)
                    and b["x"] and len(b["x"]) == len(b["y"]) for b in boots):
                raise EstimatorError(f"{where}: calibration_bootstrap must be a list of {{x, y}} lists of one length",
                                     hint="re-register the version to write a fresh estimator")
        else:
            missing = [NANNY_FILES[loss] for loss in NANNY_FILES if not nanny.get(loss)]
            if missing:
                raise EstimatorError(f"{where}: the nanny model {', '.join(missing)} is missing",
                                     hint="re-register the version to write a fresh estimator")
        return cls(dict(meta), dict(nanny))


# ---------------------------------------------------------------------------------------------
# CBPE
# ---------------------------------------------------------------------------------------------


def fit_cbpe(scores: Any, labels: Any) -> dict[str, Any]:
    """estimator.json for a binary classifier: isotonic calibration of `scores` on held-out `labels`.

    Rows whose label is missing are left out. EstimatorError when fewer than 2 rows of each class remain.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(f"scores {s.shape} and labels {y.shape} must be two vectors of one length")
    keep = ~np.isnan(y) & np.isfinite(s)
    s, y = s[keep], y[keep]
    positives = int((y == 1).sum())
    if positives < 2 or len(y) - positives < 2:
        raise EstimatorError(f"CBPE needs held-out rows of both classes to calibrate on; got {positives} positive of {len(y)}",
                             hint="give the test split more rows (split.test) so it holds both classes")
    calibration = _binned_isotonic(s, y)
    rng = np.random.default_rng(0)
    resamples = [rng.integers(0, len(y), len(y)) for _ in range(CALIBRATION_BOOTSTRAPS)]
    bootstrap = [{k: v for k, v in _binned_isotonic(s[i], y[i]).items() if k in ("x", "y")} for i in resamples
                 if 0 < y[i].sum() < len(i)]
    return {
        "format": FORMAT,
        "method": "cbpe",
        "task": "binary",
        "rows": len(y),
        "positives": positives,
        "calibration": calibration,
        "calibration_bootstrap": bootstrap,
    }


def _binned_isotonic(scores: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Isotonic regression on equal-count score bins: one point (mean score, calibrated rate, rows) a bin.

    Plain isotonic regression on every row overfits its end steps (the top step is the rows where
    the noise ran high), which overstates the estimated AUC; pooling rows first into bins of about
    `CALIBRATION_CLASS_ROWS` rows of the rarer class each removes most of that bias.
    """
    from sklearn.isotonic import IsotonicRegression

    rarer = int(min(labels.sum(), len(labels) - labels.sum()))
    bins = int(np.clip(rarer // CALIBRATION_CLASS_ROWS, CALIBRATION_MIN_BINS, CALIBRATION_MAX_BINS))
    order = np.argsort(scores, kind="stable")
    groups = [g for g in np.array_split(order, min(bins, len(order))) if len(g)]
    centres = np.array([scores[g].mean() for g in groups])
    # bins of tied scores share a centre: one point each
    centres, first = np.unique(centres, return_index=True)
    merged = [np.concatenate(groups[i:j]) for i, j in zip(first, [*first[1:], len(groups)])]
    rates = np.array([labels[g].mean() for g in merged])
    counts = np.array([len(g) for g in merged], dtype=np.float64)
    fitted = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True).fit(centres, rates, sample_weight=counts).predict(centres)
    return {"kind": "binned_isotonic", "x": [float(v) for v in centres], "y": [float(v) for v in fitted],
            "rows": [int(v) for v in counts]}


@dataclass(frozen=True)
class _SortedPlacement:
    """Where each of a sorted run of scores sits on the calibration map's points x, computed once.

    Sorted, the scores between two neighbouring points form one contiguous slice, so calibrating a
    whole block of maps (Monte Carlo draws) is one broadcast per slice rather than a gather per row.
    """

    x: np.ndarray
    starts: np.ndarray  # row where the slice between x[j] and x[j + 1] starts; starts[-1]: first row past x[-1]
    w: np.ndarray  # each row's weight on the upper point of its slice
    score_logit: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, sorted_scores: np.ndarray) -> _SortedPlacement:
        starts = np.r_[np.searchsorted(sorted_scores, x[:-1], side="left"), np.searchsorted(sorted_scores, x[-1], side="right")]
        w = np.zeros(len(sorted_scores))
        for j in range(len(x) - 1):
            rows = slice(starts[j], starts[j + 1])
            w[rows] = (sorted_scores[rows] - x[j]) / (x[j + 1] - x[j])
        return cls(x, starts, w, _logit(sorted_scores))

    def probs(self, y: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, shape (k, rows), for k versions of the map's y values, shape (k, points), in y's dtype.

        Between points: linear. Past the outer points the score's own log-odds carry on, shifted by that
        point's calibration offset: a drifted batch often scores past the held-out range, and clamping
        those rows to one value would throw away their ranking (and understate the estimated roc_auc).
        """
        k, n = y.shape[0], len(self.w)
        p = np.empty((k, n), dtype=y.dtype)
        w = self.w.astype(y.dtype)
        for j in range(len(self.x) - 1):
            rows = slice(self.starts[j], self.starts[j + 1])
            p[:, rows] = y[:, j:j + 1] + (y[:, j + 1:j + 2] - y[:, j:j + 1]) * w[rows]
        for rows, end in ((slice(0, self.starts[0]), 0), (slice(self.starts[-1], n), -1)):
            if rows.stop > rows.start:
                offset = _logit(y[:, [end]]) - _logit(self.x[end])
                p[:, rows] = 1 / (1 + np.exp(-(self.score_logit[rows][None, :] + offset)))
        return p


def _calibration_arrays(estimator: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cal = estimator["calibration"]
    return (np.asarray(cal["x"], dtype=np.float64), np.asarray(cal["y"], dtype=np.float64),
            np.asarray(cal["rows"], dtype=np.float64))


def calibrate(estimator: Mapping[str, Any], scores: Any) -> np.ndarray:
    """Calibrated P(label = 1) of each score: the stored map, linear between its points, log-odds past its ends."""
    x, y, _ = _calibration_arrays(estimator)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(s, kind="stable")
    probs = np.empty(len(s))
    probs[order] = _SortedPlacement.of(x, s[order]).probs(y[None, :])[0]
    return probs


def _logit(p: Any) -> Any:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def expected_metrics(scores: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, float | None]:
    """CBPE's point estimates: the metrics of the expected confusion matrix and the expected ROC curve."""
    predicted = scores >= threshold
    tp, fp = float(probs[predicted].sum()), float((1 - probs[predicted]).sum())
    fn, tn = float(probs[~predicted].sum()), float((1 - probs[~predicted]).sum())
    n = len(scores)
    return {
        "roc_auc": _expected_auc(scores, probs),
        "accuracy": (tp + tn) / n,
        "precision": tp / (tp + fp) if predicted.any() else None,
        "recall": tp / (tp + fn) if tp + fn > 0 else None,
    }


def _expected_auc(scores: np.ndarray, probs: np.ndarray) -> float | None:
    order = np.argsort(-scores, kind="stable")
    s, p = scores[order], probs[order]
    ends = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # last row of each run of tied scores
    tps, fps = np.cumsum(p)[ends], np.cumsum(1 - p)[ends]
    if tps[-1] <= 0 or fps[-1] <= 0:
        return None
    tpr, fpr = np.r_[0.0, tps / tps[-1]], np.r_[0.0, fps / fps[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def sampled_metrics(estimator: Mapping[str, Any], scores: np.ndarray, threshold: float, draws: int = DRAWS,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Each metric as it could be realised, over `draws` Monte Carlo draws (NaN where undefined).

    A draw first picks a calibration map refitted on a bootstrap resample of the held-out rows (for
    an estimator stored without those: the one map, each point's rate moved by its binomial standard
    error), then labels from the probabilities that map gives. The spread so
    covers the labels' sampling and the calibration's own estimation error, not a change of concept.
    Vectorised, a block of draws at a time: positives and true positives by counting, AUC by the
    rank-sum (Mann-Whitney) formula over the scores' mid-ranks.
    """
    from scipy.stats import rankdata

    x, y, counts = _calibration_arrays(estimator)
    scores = np.sort(scores)  # every metric here is blind to row order
    place = _SortedPlacement.of(x, scores)
    rate_se = np.sqrt(y * (1 - y) / np.maximum(counts, 1))
    n = len(scores)
    predicted = scores >= threshold
    centred_ranks = (rankdata(scores) - (n + 1) / 2).astype(np.float32)  # float32 sums stay exact enough when centred
    rng = np.random.default_rng(seed)
    # each draw's calibration: a map refitted on a bootstrap resample of the held-out rows (their own
    # sampling noise); estimators stored before those existed jitter the one map within its binomial errors
    boots = [(np.asarray(b["x"], dtype=np.float64), np.asarray(b["y"], dtype=np.float32))
             for b in estimator.get("calibration_bootstrap", [])]
    placements: dict[int, _SortedPlacement] = {}
    rank_sum, tp, pos = np.empty(draws), np.empty(draws), np.empty(draws)
    for start in range(0, draws, _DRAWS_PER_BLOCK):
        block = slice(start, min(start + _DRAWS_PER_BLOCK, draws))
        k = block.stop - block.start
        if boots:
            labels = np.empty((k, n), dtype=bool)
            chosen = rng.integers(0, len(boots), k)
            for m in np.unique(chosen):
                rows = np.flatnonzero(chosen == m)
                bx, by = boots[m]
                at = placements.setdefault(int(m), _SortedPlacement.of(bx, scores))
                labels[rows] = rng.random((len(rows), n), dtype=np.float32) < at.probs(np.repeat(by[None, :], len(rows), axis=0))
        else:
            maps = np.clip(y + rate_se * rng.standard_normal((k, len(y))), 0, 1).astype(np.float32)
            labels = rng.random((k, n), dtype=np.float32) < place.probs(maps)
        pos[block] = np.count_nonzero(labels, axis=1)
        tp[block] = np.count_nonzero(labels & predicted, axis=1)
        rank_sum[block] = labels.astype(np.float32) @ centred_ranks + pos[block] * (n + 1) / 2
    neg, n_pred = n - pos, float(predicted.sum())
    fn, fp = pos - tp, n_pred - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = np.where((pos > 0) & (neg > 0), (rank_sum - pos * (pos + 1) / 2) / (pos * neg), np.nan)
        return {
            "roc_auc": auc,
            "accuracy": (n - fp - fn) / n,
            "precision": np.full(draws, np.nan) if n_pred == 0 else tp / n_pred,
            "recall": np.where(pos > 0, tp / pos, np.nan),
        }


def estimate_cbpe(estimator: Mapping[str, Any], scores: Any, threshold: float, *, reference_metrics: Mapping[str, Any],
                  drop_threshold: float, confidence: float = 0.9, labels: Any = None,
                  draws: int = DRAWS, seed: int = 0) -> EstimatedPerformance:
    """Estimated roc_auc, accuracy, precision and recall of a binary champion on unlabelled rows.

    `scores` are the champion's P(label = 1) on the new rows (what `registry.score.score_version`
    returns; the model matrix is the champion's own), `threshold` its decision threshold (model.threshold),
    `reference_metrics` its registered metrics.json. `labels` (encoded 0/1, NaN where not yet known)
    fills `realised` from the labelled rows, computed as the evaluate stage does; the estimate always
    covers every row. The band: see the module docstring (Monte Carlo, `draws` draws, seeded).
    """
    s = np.asarray(scores, dtype=np.float64)
    _check_rows(s, confidence)
    probs = calibrate(estimator, s)
    point = expected_metrics(s, probs, threshold)
    spread = sampled_metrics(estimator, s, threshold, draws=draws, seed=seed)
    lo_q, hi_q = (1 - confidence) / 2, (1 + confidence) / 2
    band = {}
    for name, values in spread.items():
        finite = values[np.isfinite(values)]
        band[name] = (float(np.quantile(finite, lo_q)), float(np.quantile(finite, hi_q))) if len(finite) else (None, None)
    realised = _realised(labels, s, "binary", threshold)
    return _performance("cbpe", "binary", len(s), confidence, point, band, realised, reference_metrics, drop_threshold,
                        note=f"CBPE: scores calibrated on {estimator.get('rows', 0):,} held-out rows; assumes P(label | features) "
                             "is unchanged (covariate shift), and misses concept drift")


# ---------------------------------------------------------------------------------------------
# DLE
# ---------------------------------------------------------------------------------------------


def fit_dle(frame: Any, predictions: Any, targets: Any, feature_columns: Sequence[str], *,
            categorical: Sequence[str] = (), seed: int = 0) -> tuple[dict[str, Any], dict[str, str]]:
    """estimator.json and the nanny models (loss -> LightGBM text) for a regression champion.

    `frame` is the champion's model matrix on its held-out rows (`features.pipeline.model_matrix(rows,
    fitted)`, columns `feature_columns`; the ones named in `categorical` hold category codes),
    `predictions` its predictions there, `targets` the actual values (rows with a missing target are
    left out). EstimatorError with fewer than 100 usable rows.
    """
    import lightgbm as lgb

    X, names = _nanny_matrix(frame, predictions, feature_columns)
    y = np.asarray(targets, dtype=np.float64)
    if y.shape != (len(X),):
        raise ValueError(f"targets must be a vector of {len(X)} values, got shape {y.shape}")
    keep = np.isfinite(y)
    X, y, pred = X[keep], y[keep], X[keep, -1]
    if len(y) < 100:
        raise EstimatorError(f"DLE needs at least 100 held-out rows with a target to train its nanny model; got {len(y)}",
                             hint="give the test split more rows (split.test)")
    cat_idx = [names.index(c) for c in categorical]
    halves = np.random.default_rng(seed).permutation(len(y)) % 2 == 0
    params = {**NANNY_PARAMS, "seed": seed}
    losses = {"mae": np.abs(y - pred), "mse": (y - pred) ** 2}
    meta_losses: dict[str, Any] = {}
    nanny: dict[str, str] = {}
    for loss, target in losses.items():
        residuals = np.empty(len(y))
        rounds = []
        for fit_rows in (halves, ~halves):
            check = ~fit_rows
            fit_set = lgb.Dataset(X[fit_rows], target[fit_rows], feature_name=names, categorical_feature=cat_idx, free_raw_data=False)
            check_set = lgb.Dataset(X[check], target[check], reference=fit_set)
            booster = lgb.train(params, fit_set, num_boost_round=NANNY_MAX_ROUNDS, valid_sets=[check_set],
                                callbacks=[lgb.early_stopping(NANNY_EARLY_STOPPING, verbose=False)])
            rounds.append(booster.best_iteration or booster.current_iteration())
            residuals[check] = target[check] - np.clip(booster.predict(X[check], num_iteration=rounds[-1]), 0, None)
        final_rounds = max(1, round(sum(rounds) / len(rounds)))
        final = lgb.train(params, lgb.Dataset(X, target, feature_name=names, categorical_feature=cat_idx), num_boost_round=final_rounds)
        nanny[loss] = final.model_to_string()
        mean_loss = float(target.mean())
        meta_losses[loss] = {"rounds": final_rounds, "mean": _round(mean_loss), "bias": _round(float(residuals.mean())),
                             # spread of a row's loss around the nanny's prediction, relative to the mean loss
                             "relative_spread": _round(float(residuals.std()) / mean_loss if mean_loss > 0 else 0.0)}
    meta = {"format": FORMAT, "method": "dle", "task": "regression", "rows": len(y), "feature_columns": list(feature_columns),
            "categorical": list(categorical), "losses": meta_losses, "nanny": dict(NANNY_FILES)}
    return meta, nanny


def estimate_dle(meta: Mapping[str, Any], nanny: Mapping[str, str], frame: Any, predictions: Any, *,
                 reference_metrics: Mapping[str, Any], drop_threshold: float, confidence: float = 0.9,
                 targets: Any = None) -> EstimatedPerformance:
    """Estimated RMSE and MAE of a regression champion on unlabelled rows (DLE).

    `frame` is the champion's model matrix on the new rows (`model_matrix(rows, fitted)`, the columns
    `meta["feature_columns"]`), `predictions` the champion's predictions there, `reference_metrics` its
    registered metrics.json. `targets` (NaN where unknown) fills `realised`. The band is analytic (see
    the module docstring).
    """
    import lightgbm as lgb
    from scipy.stats import norm

    X, _ = _nanny_matrix(frame, predictions, meta["feature_columns"])
    _check_rows(X[:, -1], confidence)
    n = len(X)
    z = float(norm.ppf((1 + confidence) / 2))
    mean_loss, spread = {}, {}
    for loss in ("mae", "mse"):
        booster = lgb.Booster(model_str=nanny[loss])
        mean_loss[loss] = float(np.clip(booster.predict(X, num_threads=1), 0, None).mean())
        spread[loss] = z * meta["losses"][loss]["relative_spread"] * mean_loss[loss] / math.sqrt(n)
    mae, mse = mean_loss["mae"], mean_loss["mse"]
    point = {"mae": mae, "rmse": math.sqrt(mse)}
    band = {"mae": (max(0.0, mae - spread["mae"]), mae + spread["mae"]),
            "rmse": (math.sqrt(max(0.0, mse - spread["mse"])), math.sqrt(mse + spread["mse"]))}
    realised = _realised(targets, X[:, -1], "regression", 0.5)
    return _performance("dle", "regression", n, confidence, point, band, realised, reference_metrics, drop_threshold,
                        note=f"DLE: nanny LightGBM models of the absolute and squared error, trained on {meta.get('rows', 0):,} "
                             "held-out rows; assumes the champion's errors depend on the features as they did there, and cannot see "
                             "errors in regions those rows never reached")


# ---------------------------------------------------------------------------------------------
# One entry point per task
# ---------------------------------------------------------------------------------------------


def fit_estimator(task: str, scores: Any, labels: Any, *, matrix: Any = None, feature_columns: Sequence[str] = (),
                  categorical: Sequence[str] = ()) -> Estimator | None:
    """The estimator of a champion from its held-out rows: CBPE (binary), DLE (regression), None (multiclass).

    `scores` are the champion's scores (predictions) there and `labels` the encoded targets; DLE also
    needs the champion's model `matrix` on those rows with its `feature_columns` and `categorical` names.
    """
    if task == "binary":
        return Estimator(fit_cbpe(scores, labels))
    if task == "regression":
        if matrix is None:
            raise ValueError("DLE needs the champion's model matrix")
        meta, nanny = fit_dle(matrix, scores, labels, feature_columns, categorical=categorical)
        return Estimator(meta, nanny)
    return None  # multiclass: not supported (CBPE's multiclass variant is not implemented)


def estimate_performance(estimator: Estimator, scores: Any, *, matrix: Any = None, threshold: float = 0.5,
                         reference_metrics: Mapping[str, Any], drop_threshold: float, confidence: float = 0.9,
                         labels: Any = None) -> EstimatedPerformance:
    """`estimate_cbpe` or `estimate_dle`, whichever the estimator is for.

    `scores`: the champion's scores on the new rows; `matrix`: its model matrix there (DLE only);
    `threshold`: its decision threshold (CBPE only); `labels`: encoded targets, NaN where unknown.
    """
    if estimator.method == "cbpe":
        return estimate_cbpe(estimator.meta, scores, threshold, reference_metrics=reference_metrics,
                             drop_threshold=drop_threshold, confidence=confidence, labels=labels)
    if matrix is None:
        raise ValueError("DLE needs the champion's model matrix on the new rows")
    return estimate_dle(estimator.meta, estimator.nanny, matrix, scores, reference_metrics=reference_metrics,
                        drop_threshold=drop_threshold, confidence=confidence, targets=labels)


# ---------------------------------------------------------------------------------------------
# Shared
# ---------------------------------------------------------------------------------------------


def _nanny_matrix(frame: Any, predictions: Any, feature_columns: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    X = np.asarray(frame, dtype=np.float64)
    pred = np.asarray(predictions, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(feature_columns):
        raise ValueError(f"the model matrix must have {len(feature_columns)} columns (one per feature), got shape {X.shape}")
    if pred.shape != (len(X),):
        raise ValueError(f"predictions must be a vector of {len(X)} values, got shape {pred.shape}")
    return np.column_stack([X, pred]), [*map(str, feature_columns), PREDICTION_COLUMN]


def _check_rows(values: np.ndarray, confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if values.ndim != 1 or len(values) == 0:
        raise ValueError("no rows to estimate on")
    if not np.isfinite(values).all():
        raise ValueError("scores must be finite")


def _realised(labels: Any, scores: np.ndarray, task: str, threshold: float) -> dict[str, float]:
    if labels is None:
        return {}
    from driftline.models.evaluate import compute_metrics

    y = np.asarray(labels, dtype=np.float64)
    known = ~np.isnan(y)
    if not known.any():
        return {}
    return compute_metrics(y[known], scores[known], task, threshold=threshold)


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), DECIMALS)


def _performance(method: str, task: str, rows: int, confidence: float, point: Mapping[str, float | None],
                 band: Mapping[str, tuple[float | None, float | None]], realised: Mapping[str, float],
                 reference_metrics: Mapping[str, Any], drop_threshold: float, note: str) -> EstimatedPerformance:
    names = CBPE_METRICS if method == "cbpe" else DLE_METRICS
    estimates = []
    for name in names:
        ref = reference_metrics.get(name)
        estimates.append(MetricEstimate(metric=name, reference=_round(ref) if ref is not None else None,
                                        estimate=_round(point.get(name)), low=_round(band[name][0]), high=_round(band[name][1]),
                                        realised=_round(realised.get(name)) if name in realised else None))
    main = headline(task)
    chosen = next(e for e in estimates if e.metric == main)
    drop = None
    if chosen.reference is not None and chosen.estimate is not None:
        drop = _round(METRICS[main].sign * (chosen.reference - chosen.estimate))
    return EstimatedPerformance(method=method, rows=rows, confidence=confidence, metrics=estimates, headline=main, drop=drop,
                                threshold=drop_threshold, drifted=drop is not None and drop >= drop_threshold, note=note)
