"""The drift report: one pure builder, a typed model, and a drift.json contract that does not move.

The fixtures under fixtures/drift_report/ hold the monitor's inputs for seven situations and the
drift.json the monitor wrote for them before the report had a type (see generate.py there).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from driftline.config.groups import MonitorSpec
from driftline.drift.monitor import Batch, Policy, Reference, build_report
from driftline.drift.profile import load_profile
from driftline.drift.report import DriftReport

FIXTURES = Path(__file__).parent / "fixtures" / "drift_report"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "drift.json").is_file())


def inputs(name: str) -> tuple[Reference | None, Batch, Policy]:
    """The reference, batch and policy of one fixture case, read back from its files."""
    champion = json.loads((FIXTURES / "reference" / "champion.json").read_text())
    case = json.loads((FIXTURES / name / "case.json").read_text())
    frame = pd.read_parquet(FIXTURES / name / "batch.parquet")
    scored = pd.read_parquet(FIXTURES / name / "scored.parquet")
    spec = MonitorSpec(**case["policy"])
    reference = None
    if case["champion"]:
        reference = Reference(
            version=champion["version"],
            profiles=load_profile(FIXTURES / "reference" / "profile.json", FIXTURES / "reference" / "profile.npz"),
            metrics=champion["metrics"],
            sample=pd.read_parquet(FIXTURES / "reference" / "reference_sample.parquet") if spec.domain_classifier else None,
        )
    has_rows = reference is not None and len(frame) > 0
    batch = Batch(
        frame=frame if reference is not None else pd.DataFrame(),
        files=case["files"],
        pending_batches=case["pending_batches"],
        batches_since_retrain=case["batches_since_retrain"],
        earlier=pd.DataFrame({"default": np.zeros(case["extra_pending_labelled"])}),
        scores=scored["score"].to_numpy() if has_rows else None,
        labels=scored["label"].to_numpy() if has_rows else None,
    )
    policy = Policy(spec=spec, kinds=champion["kinds"], target="default", task="binary", metric="roc_auc")
    return reference, batch, policy


@pytest.mark.parametrize("name", CASES)
def test_the_builder_writes_the_same_drift_json_as_before(name: str) -> None:
    expected = json.loads((FIXTURES / name / "drift.json").read_text())
    report = build_report("credit", *inputs(name))
    assert report.to_json() == expected


def test_the_fixtures_cover_each_situation() -> None:
    reports = {name: json.loads((FIXTURES / name / "drift.json").read_text()) for name in CASES}
    assert len(reports) == 7
    assert not reports["no_drift"]["decision"]["retrain"] and not reports["no_drift"]["dataset_drift"]
    assert reports["covariate_drift"]["dataset_drift"] and reports["covariate_drift"]["multivariate"]["drifted"]
    assert reports["concept_drift"]["performance"]["drifted"] and not reports["concept_drift"]["dataset_drift"]
    assert "waiting for more data" in reports["tiny_batch"]["decision"]["reasons"][0]
    by_name = {c["name"]: c for c in reports["empty_constant_unseen"]["columns"]}
    assert by_name["income"]["statistic"] is None and by_name["income"]["note"]
    assert by_name["region"]["unseen_categories"] == ["atlantis"]
    assert "no new data" in reports["no_new_rows"]["decision"]["reasons"][0]
    assert reports["no_champion"]["reference"] == {"version": None}


@pytest.mark.parametrize("name", CASES)
def test_drift_json_reads_back_into_the_model_unchanged(name: str) -> None:
    document = json.loads((FIXTURES / name / "drift.json").read_text())
    assert DriftReport.model_validate(document).to_json() == document


def test_the_builder_leaves_its_inputs_alone() -> None:
    reference, batch, policy = inputs("empty_constant_unseen")
    frame = batch.frame.copy()
    build_report("credit", reference, batch, policy)
    pd.testing.assert_frame_equal(batch.frame, frame)


def test_a_misspelt_or_missing_key_is_refused() -> None:
    document = json.loads((FIXTURES / "no_drift" / "drift.json").read_text())
    with pytest.raises(ValidationError, match="share_drifted"):
        DriftReport.model_validate({k: v for k, v in document.items() if k != "share_drifted"})
    with pytest.raises(ValidationError, match="drifted_share"):
        DriftReport.model_validate({**document, "drifted_share": 0.5})


def test_more_labels_waiting_in_earlier_batches_can_release_a_retrain() -> None:
    reference, batch, policy = inputs("covariate_drift")
    strict = Policy(**{**policy.__dict__, "spec": MonitorSpec(domain_classifier=False, min_labelled_rows=1500)})
    waiting = build_report("credit", reference, batch, strict)
    assert not waiting.decision.retrain and "waiting for labels" in waiting.decision.reasons[-1]
    released = build_report("credit", reference, Batch(**{**batch.__dict__, "earlier": pd.DataFrame({"default": np.ones(600)})}), strict)
    assert released.decision.retrain


def test_without_scores_there_is_no_prediction_or_performance_signal() -> None:
    reference, batch, policy = inputs("concept_drift")
    report = build_report("credit", reference, Batch(**{**batch.__dict__, "scores": None, "labels": None}), policy)
    assert report.prediction is None and report.performance is None
    assert not report.decision.retrain and report.columns


def test_a_lower_is_better_metric_counts_a_rise_as_the_drop() -> None:
    reference, batch, policy = inputs("concept_drift")
    metrics = {"rmse": 0.30}
    labels = batch.labels
    scores = np.where(np.isnan(labels), 0.5, labels) + 0.5  # every score off by 0.5: rmse 0.5
    worse = build_report("credit", Reference(**{**reference.__dict__, "metrics": metrics}),
                         Batch(**{**batch.__dict__, "scores": scores}),
                         Policy(**{**policy.__dict__, "task": "regression", "metric": "rmse", "lower_is_better": True}))
    assert worse.performance is not None
    assert worse.performance.drop == pytest.approx(0.2) and worse.performance.drifted
