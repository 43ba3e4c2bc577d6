"""`dvc repro` on a compiled project: what reruns after an edit, and DVC's own tools on the result."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

STEPS = ("ingest", "validate", "label", "split", "featurize", "train", "evaluate", "promote")
# The monitor looks for new batches on every repro (cheap when there are none); promote writes the
# registry, a side effect no cache may replay, so it always runs (cheap when the model is the champion's).
ALWAYS = {"credit-monitor", "credit-promote", "pricing-promote"}


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.fixture
def reproduced(built_project: Path) -> Path:
    """This test's own copy of a small project after a full `dvc repro`, committed."""
    return built_project


def test_first_repro_runs_every_stage(projects, reproduced: Path) -> None:
    assert projects.first_repro is not None
    assert ran_stages(projects.first_repro.stdout) == {f"{p}-{s}" for p in ("credit", "pricing") for s in STEPS} | ALWAYS


def test_full_repro_leaves_model_metrics_and_plots(reproduced: Path) -> None:
    for pipeline in ("credit", "pricing"):
        model = (reproduced / "models" / pipeline / "model.txt").read_text()
        assert model.startswith("tree"), "LightGBM text format, not pickle"
        assert json.loads((reproduced / "models" / pipeline / "features.json").read_text())["feature_columns"]
    credit = json.loads((reproduced / "reports/credit/metrics.json").read_text())
    assert 0.65 < credit["roc_auc"] < 0.95
    pricing = json.loads((reproduced / "reports/pricing/metrics.json").read_text())
    assert pricing["r2"] > 0.5
    for plot in ("roc", "precision_recall", "calibration", "feature_importance"):
        assert (reproduced / f"reports/credit/plots/{plot}.csv").stat().st_size > 0
    training = json.loads((reproduced / "reports/credit/live/metrics.json").read_text())
    assert training["best_iteration"] <= training["step"] and 0.5 < training["valid"]["auc"] <= 1.0
    curve = (reproduced / "reports/credit/live/plots/metrics/valid/auc.tsv").read_text().splitlines()
    assert curve[0] == "step\tauc" and curve[-1].startswith(f"{training['step']}\t"), "DVCLive: one row per boosting round"
    for plot in ("residuals", "predicted_vs_actual"):
        assert (reproduced / f"reports/pricing/plots/{plot}.csv").stat().st_size > 0
    card = json.loads((reproduced / "registry/credit/versions/v0001/model_card.json").read_text())
    assert card["version"] == "v0001" and card["intended_use"].startswith("Rank consumer loan applications")
    assert set(card["metrics_by_slice"]) == {"employment", "home_ownership", "term_months"}
    assert card["metrics_by_slice"]["term_months"]["36"]["n"] > 0 and card["gate"]["passed"]
    markdown = (reproduced / "registry/credit/versions/v0001/model_card.md").read_text()
    assert markdown.startswith("# Model card: credit v0001") and "### By `employment`" in markdown


def test_noop_repro_runs_nothing(sh, reproduced: Path) -> None:
    out = sh(["dvc", "repro"], reproduced)
    assert ran_stages(out.stdout) == ALWAYS
    assert "Stage 'credit-ingest' didn't change, skipping" in out.stdout


def test_hyperparameter_edit_reruns_only_train_and_after(cli, sh, edit, reproduced: Path) -> None:
    edit(reproduced, "pipelines/credit.yaml", "model:\n  threshold: 0.3", "model:\n  threshold: 0.3\n  params:\n    num_leaves: 63")
    cli(["compile"], reproduced)
    out = sh(["dvc", "repro"], reproduced)
    assert ran_stages(out.stdout) == {"credit-train", "credit-evaluate", "credit-promote"} | ALWAYS
    assert "Stage 'credit-featurize' didn't change, skipping" in out.stdout
    params = json.loads(sh(["dvc", "params", "diff", "--json"], reproduced).stdout)
    change = params["params.yaml"]["credit.model.params.num_leaves"]
    assert (change["old"], change["new"]) == (31, 63)


def test_feature_transform_edit_reruns_featurize_and_after_not_ingest(cli, sh, edit, reproduced: Path) -> None:
    edit(reproduced, "conf/features/credit.yaml", "{kind: target_encode, column: region, smoothing: 20}",
         "{kind: target_encode, column: region, smoothing: 5}")
    cli(["compile"], reproduced)
    out = sh(["dvc", "repro"], reproduced)
    assert ran_stages(out.stdout) == {"credit-featurize", "credit-train", "credit-evaluate", "credit-promote"} | ALWAYS


def test_dvc_metrics_plots_and_dag_work(sh, reproduced: Path, tmp_path: Path) -> None:
    metrics = json.loads(sh(["dvc", "metrics", "show", "--json"], reproduced).stdout)
    workspace = next(iter(metrics.values()))["data"]  # the workspace entry
    assert "roc_auc" in workspace["reports/credit/metrics.json"]["data"]
    assert "rmse" in workspace["reports/pricing/metrics.json"]["data"]

    out_dir = tmp_path / "plots"
    sh(["dvc", "plots", "show", "-o", str(out_dir)], reproduced)
    html = (out_dir / "index.html").read_text()
    for title in ("credit: ROC (test split)", "credit: precision-recall (test split)", "credit: calibration (test split)",
                  "credit: feature importance (gain)", "pricing: residuals (test split)", "pricing: predicted vs actual (test split)",
                  "reports/credit/live/plots/metrics/valid/auc.tsv", "reports/pricing/live/plots/metrics/valid/rmse.tsv"):
        assert title in html, title
    shown = json.loads(sh(["dvc", "plots", "show", "--json"], reproduced).stdout)["data"]
    assert "reports/credit/plots/roc.csv" in shown and not [p for p in shown if "::" in p], "each plot drawn once"

    dag = sh(["dvc", "dag", "--dot"], reproduced).stdout.replace('"', "")
    chain = [f"credit-{a} -> credit-{b}" for a, b in zip(("monitor", *STEPS), STEPS, strict=False)]
    for edge in chain:
        assert edge in dag, edge


def test_dvc_exp_run_sets_a_model_hyperparameter(sh, reproduced: Path) -> None:
    out = sh(["dvc", "exp", "run", "-n", "leaves63", "-S", "credit.model.params.num_leaves=63"], reproduced)
    assert ran_stages(out.stdout) == {"credit-train", "credit-evaluate", "credit-promote"} | ALWAYS
    shown = json.loads(sh(["dvc", "exp", "show", "--json"], reproduced).stdout)
    text = json.dumps(shown)
    assert "leaves63" in text and '"num_leaves": 63' in text


def test_every_stage_run_and_promotion_is_audited_and_reruns_only_append(cli, sh, reproduced: Path) -> None:
    log = reproduced / "audit" / "log.jsonl"
    before = log.read_text()
    records = [json.loads(line) for line in before.splitlines()]
    stages = {r["payload"]["stage"] for r in records if r["kind"] == "stage_run"}
    assert {f"{p}-{s}" for p in ("credit", "pricing") for s in STEPS} <= stages
    train = next(r for r in records if r["kind"] == "stage_run" and r["payload"]["stage"] == "credit-train")
    assert train["payload"]["params"]["credit.model.params"]["num_leaves"] == 31
    assert train["payload"]["outputs"]["models/credit/model.txt"]
    assert train["payload"]["git"]["commit"] and train["payload"]["packages"]["lightgbm"]
    assert {"registered", "promotion"} <= {r["kind"] for r in records}
    sh(["dvc", "repro"], reproduced)
    after = log.read_text()
    assert after.startswith(before) and len(after) > len(before), "reruns append; they never rewrite"
    assert cli(["audit", "verify"], reproduced).returncode == 0
