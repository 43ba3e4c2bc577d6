"""The monitor's core: per-column drift, dataset-level signals and the retrain decision. Pure.

Inputs are the champion's stored reference profile and the new rows; outputs are plain dicts in
the drift.json contract (see README, "drift.json"). The stage module does the reading and writing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from driftline.config.groups import ColumnPolicy, MonitorSpec
from driftline.drift.profile import CategoricalProfile, NumericProfile, Profile
from driftline.drift.stats import TESTS, DriftResult, adjust_p_values, default_test, run_tests

SCORE_COLUMN = "__score__"
HISTOGRAM_BINS = 20
INFORMATIVE = {"numeric": ("ks", "wasserstein", "psi"), "categorical": ("chi2", "jensen_shannon"),
               "binary": ("z_binary", "jensen_shannon")}


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def severity(result: DriftResult) -> float:
    """How far past its threshold a result is: 1.0 at the threshold, larger is worse."""
    if result.statistic is None:
        return 0.0
    if TESTS[result.test].decides_on == "p_value":
        p = max(result.p_value if result.p_value is not None else 1.0, 1e-300)
        return round(-math.log10(p) / -math.log10(result.threshold), 6) if result.threshold < 1 else 0.0
    return round(result.statistic / result.threshold, 6) if result.threshold > 0 else 0.0


def histogram(profile: Profile, current: pd.Series) -> dict[str, Any] | None:
    """Reference and current shares on shared bins, for the report's plots."""
    if isinstance(profile, NumericProfile):
        ref = profile.sorted_values
        if ref.size == 0:
            return None
        lo, hi = np.quantile(ref, [0.005, 0.995])
        if not hi > lo:
            lo, hi = float(ref[0]) - 0.5, float(ref[-1]) + 0.5
        edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
        cur = pd.to_numeric(current, errors="coerce").to_numpy(dtype=np.float64)
        cur = cur[np.isfinite(cur)]

        def shares(values: np.ndarray) -> list[float]:
            if values.size == 0:
                return [0.0] * HISTOGRAM_BINS
            idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, HISTOGRAM_BINS - 1)
            counts = np.bincount(idx, minlength=HISTOGRAM_BINS)
            return [round(float(c) / values.size, 6) for c in counts]

        return {"edges": [round(float(e), 6) for e in edges], "reference": shares(ref), "current": shares(cur)}
    assert isinstance(profile, CategoricalProfile)
    ref_counts = dict(profile.counts)
    cur_counts = current.dropna().astype(str).value_counts().to_dict()
    categories = sorted(set(ref_counts) | set(cur_counts), key=lambda c: (-ref_counts.get(c, 0), c))
    ref_total = sum(ref_counts.values()) or 1
    cur_total = sum(cur_counts.values()) or 1
    return {"categories": categories,
            "reference": [round(ref_counts.get(c, 0) / ref_total, 6) for c in categories],
            "current": [round(cur_counts.get(c, 0) / cur_total, 6) for c in categories]}


def _with_override(result: DriftResult, override: ColumnPolicy | None) -> DriftResult:
    """Re-decide a result against a per-column threshold from the policy."""
    if override is None or override.threshold is None or result.statistic is None:
        return result
    if TESTS[result.test].decides_on == "p_value":
        drifted = result.p_value is not None and result.p_value < override.threshold
    else:
        drifted = result.statistic >= override.threshold
    return DriftResult(result.test, result.column, result.statistic, result.p_value, override.threshold, drifted, result.details)


def column_report(profiles: Mapping[str, Profile], current: pd.DataFrame, columns: list[str],
                  spec: MonitorSpec) -> list[dict[str, Any]]:
    plan: dict[str, tuple[str, ...]] = {}
    deciding: dict[str, str] = {}
    for column in columns:
        profile = profiles[column]
        override = spec.overrides.get(column)
        test = (override.test if override and override.test else None) or default_test(profile.kind, profile.n - profile.n_missing)
        deciding[column] = test
        plan[column] = tuple(dict.fromkeys((test, *INFORMATIVE[profile.kind], "missing_share")))
    results = run_tests({c: profiles[c] for c in columns}, current, plan)
    chosen = [_with_override(next(r for r in results[c] if r.test == deciding[c]), spec.overrides.get(c)) for c in columns]
    if spec.multiple_testing != "none":
        chosen = adjust_p_values(chosen, "bh" if spec.multiple_testing == "benjamini_hochberg" else "bonferroni")
    report = []
    for column, result in zip(columns, chosen):
        missing = next(r for r in results[column] if r.test == "missing_share")
        details = dict(result.details)
        entry = {
            "name": column,
            "kind": profiles[column].kind,
            "test": result.test,
            "statistic": _finite(result.statistic),
            "p_value": _finite(result.p_value),
            "threshold": result.threshold,
            "drifted": bool(result.drifted or missing.drifted),
            "severity": max(severity(result), severity(missing)),
            "missing": {"reference": round(profiles[column].n_missing / max(profiles[column].n, 1), 6),
                        "current": round(float(current[column].isna().mean()) if column in current and len(current) else 1.0, 6),
                        "drifted": bool(missing.drifted)},
            "unseen_categories": list(details.get("unseen_categories", details.get("new_categories", [])))[:20],
            "other_tests": {r.test: {"statistic": _finite(r.statistic), "p_value": _finite(r.p_value), "drifted": bool(r.drifted)}
                            for r in results[column] if r.test not in (result.test, "missing_share")},
            "histogram": histogram(profiles[column], current[column]) if column in current else None,
        }
        if result.statistic is None:
            entry["note"] = str(details.get("reason", "not computed"))
        report.append(entry)
    return sorted(report, key=lambda e: (not e["drifted"], -e["severity"], e["name"]))


def prediction_report(profiles: Mapping[str, Profile], scores: np.ndarray | None, spec: MonitorSpec) -> dict[str, Any] | None:
    if scores is None or SCORE_COLUMN not in profiles:
        return None
    profile = profiles[SCORE_COLUMN]
    current = pd.Series(scores, name=SCORE_COLUMN)
    result = TESTS["psi"](profile, current, threshold=spec.prediction_threshold)
    return {"test": "psi", "statistic": _finite(result.statistic), "threshold": spec.prediction_threshold,
            "drifted": bool(result.drifted), "histogram": histogram(profile, current),
            "reference_mean": _finite(profile.mean),
            "current_mean": _finite(float(np.mean(scores))) if len(scores) else None}


def decide(report: Mapping[str, Any], spec: MonitorSpec, *, new_rows: int, labelled_rows: int,
           batches_since_retrain: int) -> dict[str, Any]:
    """Retrain or not, with the reasons, from the report's signals and the policy."""
    policy = spec.model_dump(mode="json")
    if new_rows == 0:
        return {"retrain": False, "reasons": ["no new data since the last run"], "signals": [], "policy": policy}
    if new_rows < spec.min_batch_rows:
        return {"retrain": False, "reasons": [f"waiting for more data: {new_rows} new rows < min_batch_rows {spec.min_batch_rows}"],
                "signals": [], "policy": policy}
    signals: dict[str, str] = {}
    columns = report.get("columns", [])
    drifted = [c["name"] for c in columns if c["drifted"]]
    if columns and report.get("dataset_drift"):
        signals["dataset_drift"] = (f"{len(drifted)} of {len(columns)} columns drifted "
                                    f"({len(drifted) / len(columns):.0%} >= {spec.drift_share:.0%}): {', '.join(drifted[:6])}")
    prediction = report.get("prediction")
    if prediction and prediction.get("drifted"):
        signals["prediction_drift"] = f"prediction drift: PSI {prediction['statistic']:.3f} >= {prediction['threshold']}"
    performance = report.get("performance")
    if performance and performance.get("drifted"):
        signals["performance"] = (f"{performance['metric']} fell from {performance['reference']:.4f} to "
                                  f"{performance['current']:.4f} (drop {performance['drop']:.4f} >= {performance['threshold']})")
    multivariate = report.get("multivariate")
    if multivariate and multivariate.get("drifted"):
        signals["multivariate"] = f"a classifier tells reference from current: AUC {multivariate['auc']:.3f} >= {multivariate['threshold']}"
    fired = [s for s in spec.retrain_on if s in signals]
    noted = [signals[s] + " (not a retrain signal in this policy)" for s in signals if s not in spec.retrain_on]
    if not fired:
        return {"retrain": False, "reasons": ["no retrain signal fired", *noted], "signals": sorted(signals), "policy": policy}
    reasons = [signals[s] for s in fired] + noted
    if labelled_rows < spec.min_labelled_rows:
        return {"retrain": False, "reasons": [*reasons, f"but only {labelled_rows} labelled new rows < min_labelled_rows {spec.min_labelled_rows}: waiting for labels"],
                "signals": sorted(signals), "policy": policy}
    if batches_since_retrain < spec.cooldown_batches:
        return {"retrain": False, "reasons": [*reasons, f"but in cooldown: {batches_since_retrain} batch(es) since the last retrain < cooldown_batches {spec.cooldown_batches}"],
                "signals": sorted(signals), "policy": policy}
    return {"retrain": True, "reasons": reasons, "signals": sorted(signals), "policy": policy}
