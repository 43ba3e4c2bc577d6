"""The README's quickstart and tutorial, as a new user runs them, in a fresh clone at the default size."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Quickstart:
    """A fresh clone after the quickstart's commands, and what they printed."""

    root: Path
    check: int
    repro: str


@pytest.fixture(scope="module")
def quickstart(sh, tmp_path_factory: pytest.TempPathFactory) -> Quickstart:
    """The quickstart as a new user runs it, every command a real process: clone, `driftline compile --check`, `dvc repro`."""
    dest = tmp_path_factory.mktemp("clone") / "driftline"
    sh(["git", "clone", "-q", str(REPO), str(dest)], REPO)
    sh(["git", "config", "user.email", "e2e@example.com"], dest)
    sh(["git", "config", "user.name", "driftline e2e"], dest)
    check = sh(["driftline", "compile", "--check"], dest, check=False).returncode
    return Quickstart(dest, check, sh(["dvc", "repro"], dest).stdout)


@pytest.fixture
def clone(quickstart: Quickstart, tmp_path: Path) -> Path:
    """This test's own copy of the clone after the quickstart, for the tutorial steps that change it."""
    return shutil.copytree(quickstart.root, tmp_path / "driftline", symlinks=True)


def test_quickstart_dvc_repro_runs_both_demo_pipelines(quickstart: Quickstart) -> None:
    clone = quickstart.root
    assert quickstart.check == 0
    ran = set(re.findall(r"Running stage '([^']+)'", quickstart.repro))
    assert {"credit-train", "credit-evaluate", "pricing-train", "pricing-evaluate"} <= ran
    metrics = json.loads((clone / "reports/credit/metrics.json").read_text())
    assert 7_400 <= metrics["n"] <= 7_600  # the test split: 15% of 50,000 rows
    assert metrics["roc_auc"] > 0.7
    assert (clone / "models/credit/model.txt").read_text().startswith("tree")


def test_tutorial_metrics_plots_dag(sh, quickstart: Quickstart, tmp_path: Path) -> None:
    clone = quickstart.root  # read only
    assert "reports/credit/metrics.json" in sh(["dvc", "metrics", "show"], clone).stdout
    sh(["dvc", "plots", "show", "-o", str(tmp_path / "plots")], clone)
    assert "credit: ROC (test split)" in (tmp_path / "plots" / "index.html").read_text()
    assert "pricing-evaluate" in sh(["dvc", "dag"], clone).stdout
    assert "intact" in sh(["driftline", "audit", "verify"], clone).stdout
    assert "stage_run" in sh(["driftline", "audit", "log", "--kind", "stage_run"], clone).stdout


def test_tutorial_hyperparameter_edit_and_experiment(sh, clone: Path) -> None:
    sh(["git", "add", "-A"], clone)
    sh(["git", "commit", "-q", "--allow-empty", "-m", "after quickstart"], clone)
    pipeline = clone / "pipelines/credit.yaml"
    pipeline.write_text(pipeline.read_text().replace("model:\n  threshold: 0.3", "model:\n  threshold: 0.3\n  params:\n    num_leaves: 63"))
    sh(["driftline", "compile"], clone)
    out = sh(["dvc", "repro"], clone).stdout
    always = {"credit-monitor", "credit-promote", "pricing-promote"}  # the monitor looks; promote writes the registry
    assert set(re.findall(r"Running stage '([^']+)'", out)) == {"credit-train", "credit-evaluate"} | always
    assert "num_leaves" in sh(["dvc", "params", "diff"], clone).stdout
    sh(["git", "checkout", "--", "."], clone)
    sh(["dvc", "checkout", "-q"], clone, check=False)
    out = sh(["dvc", "exp", "run", "-S", "credit.model.params.num_leaves=63"], clone).stdout
    # 63 leaves were trained just above: DVC's run cache restores train and evaluate instead of running them
    assert set(re.findall(r"Running stage '([^']+)'", out)) == always
    assert "Stage 'credit-train' is cached - skipping run, checking out outputs" in out
    shown = json.dumps(json.loads(sh(["dvc", "exp", "show", "--json"], clone).stdout))
    assert '"num_leaves": 63' in shown
