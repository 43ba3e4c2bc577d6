"""The monitor's core and the promotion gate: pure functions on profiles, frames and reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftline.config.groups import ColumnPolicy, GateSpec, MonitorSpec
from driftline.drift.monitor import column_report, decide, histogram
from driftline.drift.profile import profile_frame
from driftline.drift.report import (
    CategoricalHistogram,
    ColumnDrift,
    EstimatedPerformance,
    MultivariateDrift,
    NumericHistogram,
    Performance,
    PredictionDrift,
)
from driftline.registry.gate import decide as gate

RNG = np.random.default_rng(0)
N = 4_000


def reference() -> pd.DataFrame:
    return pd.DataFrame({
        "income": RNG.lognormal(10, 0.5, N),
        "age": RNG.integers(18, 80, N).astype(float),
        "region": pd.Categorical(RNG.choice(["north", "south", "east"], N, p=[0.5, 0.3, 0.2])),
    })


KINDS = {"income": "numeric", "age": "numeric", "region": "categorical"}


@pytest.fixture(scope="module")
def profiles() -> dict:
    return profile_frame(reference(), KINDS)


def test_a_shifted_column_is_flagged_and_an_unshifted_one_is_not(profiles: dict) -> None:
    current = reference()
    current["income"] *= 0.7
    report = column_report(profiles, current, list(KINDS), MonitorSpec())
    by_name = {c.name: c for c in report}
    assert by_name["income"].drifted and by_name["income"].test == "wasserstein"
    assert not by_name["age"].drifted and not by_name["region"].drifted
    assert report[0].name == "income", "drifted columns come first"
    assert by_name["income"].severity > 1 > by_name["age"].severity


def test_more_missing_values_and_unseen_categories_are_signals_not_crashes(profiles: dict) -> None:
    current = reference()
    current.loc[: N // 2, "age"] = np.nan
    current["region"] = pd.Categorical(np.where(np.arange(N) % 3 == 0, "atlantis", current["region"].astype(str)))
    by_name = {c.name: c for c in column_report(profiles, current, list(KINDS), MonitorSpec())}
    assert by_name["age"].missing.drifted and by_name["age"].drifted
    assert by_name["region"].drifted and "atlantis" in by_name["region"].unseen_categories


def test_an_empty_current_column_is_reported_with_a_note(profiles: dict) -> None:
    current = reference()
    current["income"] = np.nan
    by_name = {c.name: c for c in column_report(profiles, current, list(KINDS), MonitorSpec())}
    assert by_name["income"].statistic is None and by_name["income"].note
    assert by_name["income"].missing.current == 1.0 and by_name["income"].drifted


def test_a_per_column_override_changes_test_and_threshold(profiles: dict) -> None:
    current = reference()
    current["age"] += 1.0
    spec = MonitorSpec(overrides={"age": ColumnPolicy(test="psi", threshold=0.001)})
    by_name = {c.name: c for c in column_report(profiles, current, list(KINDS), spec)}
    assert by_name["age"].test == "psi" and by_name["age"].threshold == 0.001 and by_name["age"].drifted


def test_histograms_share_bins_and_sum_to_one(profiles: dict) -> None:
    hist = histogram(profiles["income"], reference()["income"])
    assert isinstance(hist, NumericHistogram) and len(hist.edges) == len(hist.reference) + 1
    assert sum(hist.reference) == pytest.approx(1, abs=1e-4) and sum(hist.current) == pytest.approx(1, abs=1e-4)
    cats = histogram(profiles["region"], pd.Series(["north", "mars"]))
    assert isinstance(cats, CategoricalHistogram) and cats.categories[-1] == "mars" and cats.reference[-1] == 0


def column(name: str, drifted: bool) -> ColumnDrift:
    return ColumnDrift.model_validate({
        "name": name, "kind": "numeric", "test": "wasserstein", "statistic": 0.2 if drifted else 0.01, "p_value": None,
        "threshold": 0.1, "drifted": drifted, "severity": 2.0 if drifted else 0.1,
        "missing": {"reference": 0.0, "current": 0.0, "drifted": False}, "unseen_categories": [], "other_tests": {},
        "histogram": None})


def signals_of(**signals: bool) -> dict:
    """decide()'s inputs: two of five columns drifted, and each signal on or off."""
    return {
        "columns": [column(f"c{i}", i < 2) for i in range(5)], "dataset_drift": signals.get("dataset", False),
        "prediction": PredictionDrift(test="psi", statistic=0.3, threshold=0.2, drifted=signals.get("prediction", False),
                                      histogram=None, reference_mean=None, current_mean=None),
        "performance": Performance(metric="roc_auc", reference=0.8, current=0.7, drop=0.1, threshold=0.03, rows=1000,
                                   drifted=signals.get("performance", False)),
        "multivariate": MultivariateDrift(test="domain_classifier", auc=0.8, threshold=0.6,
                                          drifted=signals.get("multivariate", False),
                                          rows={"reference": 1000, "current": 1000}),
    }


DECISIONS = [
    pytest.param({}, {}, False, "no retrain signal fired", id="quiet"),
    pytest.param({"dataset": True}, {}, True, "2 of 5 columns drifted", id="dataset-drift"),
    pytest.param({"performance": True}, {}, True, "roc_auc fell from 0.8000 to 0.7000", id="performance"),
    pytest.param({"multivariate": True}, {}, False, "not a retrain signal", id="signal-outside-policy"),
    pytest.param({"multivariate": True}, {"retrain_on": ["multivariate"]}, True, "AUC 0.800", id="signal-in-policy"),
    pytest.param({"dataset": True}, {"min_labelled_rows": 10_000}, False, "waiting for labels", id="too-few-labels"),
    pytest.param({"dataset": True}, {"cooldown_batches": 5}, False, "cooldown", id="cooldown"),
    pytest.param({"dataset": True}, {"min_batch_rows": 5_000}, False, "waiting for more data", id="small-batch"),
]


@pytest.mark.parametrize(("signals", "policy", "retrain", "reason"), DECISIONS)
def test_the_decision_follows_the_policy(signals: dict, policy: dict, retrain: bool, reason: str) -> None:
    decision = decide(MonitorSpec(**policy), **signals_of(**signals), new_rows=1_000, labelled_rows=1_000,
                      batches_since_retrain=1)
    assert decision.retrain is retrain
    assert any(reason in r for r in decision.reasons), decision.reasons
    assert decision.policy == MonitorSpec(**policy)


def test_no_new_rows_never_retrains() -> None:
    decision = decide(MonitorSpec(), **signals_of(dataset=True), new_rows=0, labelled_rows=0, batches_since_retrain=0)
    assert decision.retrain is False and "no new data" in decision.reasons[0]


def estimated(drop: float, threshold: float = 0.03) -> EstimatedPerformance:
    """A CBPE estimate of roc_auc, `drop` below the champion's 0.80."""
    return EstimatedPerformance.model_validate({
        "method": "cbpe", "rows": 1000, "confidence": 0.9, "headline": "roc_auc", "drop": drop, "threshold": threshold,
        "drifted": drop >= threshold,
        "metrics": [{"metric": "roc_auc", "reference": 0.8, "estimate": 0.8 - drop, "low": 0.8 - drop - 0.02,
                     "high": 0.8 - drop + 0.02}]})


def test_an_estimated_drop_is_a_retrain_signal_when_the_policy_says_so() -> None:
    inputs = {**signals_of(), "new_rows": 1_000, "labelled_rows": 1_000, "batches_since_retrain": 1}
    fired = decide(MonitorSpec(retrain_on=["estimated_performance"]), **inputs, estimated=estimated(0.05))
    assert fired.retrain and fired.signals == ["estimated_performance"]
    assert fired.reasons[0] == ("estimated roc_auc (CBPE, no labels needed) fell from 0.8000 to 0.7500 "
                                "(drop 0.0500 >= 0.03)")
    noted = decide(MonitorSpec(), **inputs, estimated=estimated(0.05))
    assert not noted.retrain and "not a retrain signal in this policy" in noted.reasons[1]


HARMLESS = [
    pytest.param(estimated(0.005), False, "but estimated roc_auc holds (drop +0.0050 < 0.03): ignored", id="estimate-holds"),
    pytest.param(estimated(0.05), True, "2 of 5 columns drifted", id="estimate-drops"),
    pytest.param(None, True, "2 of 5 columns drifted", id="no-estimate-to-judge"),
]


@pytest.mark.parametrize(("estimate", "retrain", "reason"), HARMLESS)
def test_drift_that_does_not_hurt_is_ignored_only_when_harm_can_be_judged(estimate, retrain: bool, reason: str) -> None:
    inputs = {**signals_of(dataset=True), "new_rows": 1_000, "labelled_rows": 1_000, "batches_since_retrain": 1}
    inputs["performance"] = None  # no labels: only the estimate can say whether the drift hurts
    decision = decide(MonitorSpec(ignore_harmless_drift=True, retrain_on=["dataset_drift", "estimated_performance"]),
                      **inputs, estimated=estimate)
    assert decision.retrain is retrain
    assert any(reason in r for r in decision.reasons), decision.reasons


def test_rejected_batches_come_first_and_every_drifted_column_is_named() -> None:
    columns = [column(f"column_{i}", True) for i in range(9)]
    inputs = {**signals_of(dataset=True), "columns": columns}
    decision = decide(MonitorSpec(), **inputs, new_rows=1_000, labelled_rows=1_000, batches_since_retrain=1,
                      rejected=["batch-0002.parquet rejected: 40% of its rows fail the schema"])
    assert decision.reasons[0].startswith("batch-0002.parquet rejected")
    assert decision.reasons[1].startswith("9 of 9 columns drifted") and all(f"column_{i}" in decision.reasons[1] for i in range(9))


def test_below_min_batch_rows_nothing_is_judged() -> None:
    decision = decide(MonitorSpec(min_batch_rows=200), **signals_of(dataset=True, performance=True), new_rows=3,
                      labelled_rows=3, batches_since_retrain=1)
    assert decision.evaluated is False and decision.retrain is False and decision.signals == []
    assert decision.reasons == ["3 new rows < min_batch_rows 200: waiting for more data"]


GATES = [
    pytest.param(0.80, 0.78, GateSpec(), "binary", True, id="better-auc-passes"),
    pytest.param(0.78, 0.80, GateSpec(), "binary", False, id="worse-auc-refused"),
    pytest.param(0.80, 0.80, GateSpec(), "binary", True, id="tie-passes-without-min-improvement"),
    pytest.param(0.805, 0.80, GateSpec(min_improvement=0.01), "binary", False, id="too-small-improvement"),
    pytest.param(0.90, 1.00, GateSpec(), "regression", True, id="lower-rmse-passes"),
    pytest.param(1.10, 1.00, GateSpec(), "regression", False, id="higher-rmse-refused"),
    pytest.param(0.60, None, GateSpec(minimum=0.7), "binary", False, id="first-model-below-the-bar"),
    pytest.param(0.75, None, GateSpec(minimum=0.7), "binary", True, id="first-model-above-the-bar"),
]


@pytest.mark.parametrize(("challenger", "champion", "spec", "task", "passed"), GATES)
def test_the_gate(challenger: float, champion: float | None, spec: GateSpec, task: str, passed: bool) -> None:
    result = gate(challenger, champion, spec, task)
    assert result.passed is passed
    assert result.metric in result.reason


def test_time_chunks_follow_the_period_and_row_chunks_the_count() -> None:
    from driftline.drift.monitor import _chunks

    frame = pd.DataFrame({"applied_at": pd.date_range("2025-01-06", periods=21, freq="D")[::-1]})  # newest first
    weekly = _chunks(frame, MonitorSpec(chunk={"period": "1W-MON"}), "applied_at")
    assert [(label, len(rows)) for label, rows in weekly] == [("2025-01-06", 7), ("2025-01-13", 7), ("2025-01-20", 7)]
    assert sorted(np.concatenate([rows for _, rows in weekly]).tolist()) == list(range(21))  # every row, once
    by_rows = _chunks(frame, MonitorSpec(chunk={"rows": 50}), "applied_at")
    assert [(label, len(rows)) for label, rows in by_rows] == [("rows 0-20", 21)]
    assert _chunks(frame, MonitorSpec(), "applied_at") == []


def test_a_chunk_period_that_is_not_a_pandas_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="not a pandas offset"):
        MonitorSpec(chunk={"period": "fortnightly"})
    with pytest.raises(ValueError, match="exactly one"):
        MonitorSpec(chunk={"period": "1W", "rows": 500})
