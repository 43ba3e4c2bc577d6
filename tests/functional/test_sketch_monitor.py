"""`monitor.sketch: kll` gives the monitor's decisions of the exact profile, and shows its error bound.

On the built-in generator's batches (`driftline simulate`'s quiet and covariate drift): per column
drifted or not, and the dataset verdict, are the same with a KLL-sketched reference as with the exact
profile the promote stage stores today — whether the sketch was built in one piece or merged from
partitions. Then the whole loop in a project: the promoted version stores sketches and the report
shows their bound.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftline.config.groups import MonitorSpec
from driftline.config.load import load_pipeline
from driftline.data.generator import generate_loans
from driftline.drift.monitor import Batch, Policy, Reference, build_report
from driftline.drift.profile import SketchProfile, monitored_kinds, profile_frame
from driftline.drift.report import DriftReport
from driftline.drift.sketch import merge_sketches, sketch_frame, sketch_numeric
from driftline.stages.promote import PROFILE_MAX_VALUES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def training() -> tuple[pd.DataFrame, dict[str, str]]:
    cfg = load_pipeline(REPO, "credit")
    source = cfg.dataset.source
    frame = generate_loans(rows=source.rows, seed=source.seed, start=source.start, end=source.end)
    return frame, monitored_kinds(cfg)


def simulated_batch(drift: str) -> pd.DataFrame:
    """What `driftline simulate credit --drift DRIFT` writes as the first batch."""
    start = dt.date.fromisoformat("2025-12-31")
    return generate_loans(rows=5000, seed=7, start=start.isoformat(), end=(start + dt.timedelta(days=30)).isoformat(),
                          drift=drift, batch=1)


def report_for(profiles: dict, kinds: dict[str, str], frame: pd.DataFrame) -> DriftReport:
    reference = Reference(version="v0001", profiles=profiles, metrics={})
    batch = Batch(frame=frame, files=["data/credit/incoming/batch-0001.parquet"], pending_batches=1, batches_since_retrain=1)
    policy = Policy(spec=MonitorSpec(domain_classifier=False), kinds=kinds, target="default", task="binary", metric="roc_auc")
    return build_report("credit", reference, batch, policy)


def partitioned(frame: pd.DataFrame, kinds: dict[str, str], parts: int) -> dict:
    """Numeric columns sketched per partition and merged; categories as the exact profile has them."""
    profiles = profile_frame(frame, {c: k for c, k in kinds.items() if k != "numeric"})
    for column in (c for c, k in kinds.items() if k == "numeric"):
        profiles[column] = merge_sketches([sketch_numeric(chunk, column) for chunk in np.array_split(frame[column], parts)])
    return profiles


def verdicts(report: DriftReport) -> tuple[dict[str, bool], bool, bool]:
    return {c.name: c.drifted for c in report.columns}, report.dataset_drift, report.decision.retrain


@pytest.mark.parametrize("drift", ["none", "covariate"])
def test_a_sketched_reference_gives_the_exact_profiles_decisions(training, drift: str) -> None:
    frame, kinds = training
    current = simulated_batch(drift)
    exact = report_for(profile_frame(frame, kinds, max_values=PROFILE_MAX_VALUES), kinds, current)
    columns, dataset, _ = verdicts(exact)
    assert dataset == (drift == "covariate")  # the generator's ground truth: the test means something
    assert any(columns.values()) == (drift == "covariate")
    for profiles in (sketch_frame(frame, kinds), partitioned(frame, kinds, 10)):
        assert all(isinstance(profiles[c], SketchProfile) for c, k in kinds.items() if k == "numeric")
        sketched = report_for(profiles, kinds, current)
        assert verdicts(sketched) == verdicts(exact)
        by_name = {c.name: c for c in sketched.columns}
        for column, kind in kinds.items():
            if kind == "numeric":
                assert by_name[column].sketch is not None and by_name[column].sketch.rank_error > 0.0
            else:
                assert by_name[column].sketch is None  # categories stay exact counts


def test_the_promoted_version_stores_sketches_and_the_report_shows_their_bound(cli, sh, projects, edit, tmp_path: Path) -> None:
    root = projects.fresh(tmp_path / "proj")
    edit(root, "conf/monitor/default.yaml", "sketch: exact", "sketch: kll")
    cli(["compile"], root)
    params = (root / "params.yaml").read_text()
    assert "sketch: kll" in params
    sh(["dvc", "repro"], root)
    profile = json.loads((root / "registry" / "credit" / "versions" / "v0001" / "profile.json").read_text())
    income = profile["columns"]["income"]
    assert income["kind"] == "numeric_kll" and 0.013 < income["error_bound"] < 0.0134
    assert profile["columns"]["region"]["kind"] == "categorical"

    cli(["simulate", "credit", "--drift", "covariate", "--rows", "2000"], root)
    sh(["dvc", "repro", "credit-monitor"], root)
    report = json.loads((root / "reports" / "credit" / "drift.json").read_text())
    columns = {c["name"]: c for c in report["columns"]}
    assert columns["income"]["drifted"]  # the covariate shift the generator makes
    assert columns["income"]["sketch"]["method"] == "kll" and columns["income"]["sketch"]["k"] == 200
    assert "sketch" not in columns["region"]
    page = (root / "reports" / "credit" / "drift.html").read_text()
    assert "KLL sketch (k=200), rank error ≤ 1.33%" in page
