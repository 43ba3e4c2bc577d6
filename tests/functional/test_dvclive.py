"""DVCLive in the train stage, and sweep jobs recorded as DVC experiments (`driftline sweep --dvc-exp`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def experiments(root: Path, sh) -> dict[str, dict]:
    """name -> the experiment's data (params, metrics) from `dvc exp show --json`."""
    found = {}
    for commit in json.loads(sh(["dvc", "exp", "show", "--json"], root).stdout):
        for exp in commit.get("experiments") or []:
            found[exp["name"]] = exp["revs"][0]["data"]
    return found


def metric_file(data: dict, path: str) -> dict:
    return data["metrics"][path]["data"]


def test_dvc_exp_run_shows_dvclive_metrics_and_dvclive_neither_saves_experiments_nor_edits_dvc_yaml(sh, built_project: Path) -> None:
    root = built_project
    dvc_yaml = (root / "dvc.yaml").read_bytes()
    sh(["dvc", "exp", "run", "-n", "leaves15", "-S", "credit.model.params.num_leaves=15", "-S", "credit.model.train_curve=sample"], root)
    found = experiments(root, sh)
    assert list(found) == ["leaves15"], "DVC records the one experiment; DVCLive does not save another"
    assert (root / "dvc.yaml").read_bytes() == dvc_yaml, "DVCLive never edits the generated dvc.yaml"
    assert not (root / "dvclive").exists()
    training = metric_file(found["leaves15"], "reports/credit/live/metrics.json")
    assert 0.5 < training["valid"]["auc"] <= 1.0 and training["best_iteration"] >= 1 and training["num_threads"] >= 1
    assert training["train_curve"] == "sample" and training["valid"]["auc"] < training["train"]["auc"] <= 1.0
    plots = json.loads(sh(["dvc", "plots", "show", "--json"], root).stdout)["data"]
    live = "reports/credit/live/plots/metrics"
    assert {f"{live}/train_sample/auc.tsv", f"{live}/valid/auc.tsv"} <= set(plots)
    assert f"{live}/train/auc.tsv" not in plots, "no curve is named as the whole train split when it is a sample"


@pytest.fixture
def committed(built_project: Path, sh) -> Path:
    (built_project / ".gitignore").write_text("dvc_plots/\nmultirun/\n")
    sh(["git", "add", "-A"], built_project)
    sh(["git", "commit", "-q", "-m", "ignore multirun/"], built_project)
    return built_project


def test_sweep_records_each_job_as_a_dvc_experiment(cli, sh, committed: Path) -> None:
    root = committed
    head = sh(["git", "rev-parse", "HEAD"], root).stdout
    status = sh(["git", "status", "--porcelain"], root).stdout
    out = cli(["sweep", "credit", "--dvc-exp", "-m", "model.params.num_leaves=7,15", "hydra.sweep.dir=multirun/exp"], root)
    assert "recorded 2 DVC experiment(s)" in out.stdout

    found = experiments(root, sh)
    assert len(found) == 2
    board = {json.loads((root / f"multirun/exp/{job}/result.json").read_text())["swept"]["model.params.num_leaves"]:
             json.loads((root / f"multirun/exp/{job}/result.json").read_text()) for job in (0, 1)}
    for name, data in found.items():
        leaves = data["params"]["params.yaml"]["data"]["credit"]["model"]["params"]["num_leaves"]
        result = board[leaves]
        assert name.endswith(f"-{result['job']}") and name.startswith("credit-sweep-")
        training = metric_file(data, "reports/credit/live/metrics.json")
        assert training["valid"]["auc"] == pytest.approx(result["objective"], abs=1e-4), "the objective: valid roc_auc"
        assert metric_file(data, "reports/credit/metrics.json")["roc_auc"] == pytest.approx(result["test"])
    assert {7, 15} == set(board)

    # the workspace, the index and HEAD are as they were: experiments are refs, not edits
    assert sh(["git", "rev-parse", "HEAD"], root).stdout == head
    assert sh(["git", "status", "--porcelain"], root).stdout == status

    # applying one gives a workspace whose next `dvc repro` trains it (dvc.lock is still the baseline's)
    best = next(name for name, data in found.items()
                if data["params"]["params.yaml"]["data"]["credit"]["model"]["params"]["num_leaves"] == 7)
    sh(["dvc", "exp", "apply", best], root)
    assert "credit.model.params" in sh(["dvc", "status", "credit-train"], root).stdout


def test_dvc_exp_refuses_before_running_anything_without_a_commit(cli, sh, built_project: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "nogit"
    shutil.copytree(built_project, root, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    sh(["git", "init", "-q"], root)
    out = cli(["sweep", "credit", "--dvc-exp", "-m", "model.params.num_leaves=7,15", "hydra.sweep.dir=multirun/none"], root, check=False)
    assert out.returncode == 1 and "no git commit" in out.stderr and "git commit" in out.stderr
    assert not (root / "multirun").exists(), "nothing launched"
