"""`driftline sweep`: a real Hydra multirun over a pipeline, on the features `dvc repro` prepared."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

GRID = ["model.params.num_leaves=15,31,63", "model.params.learning_rate=0.05,0.1"]


@pytest.fixture(scope="module")
def featurized(projects, sh) -> Path:
    """A small project whose features `dvc repro` prepared, committed; the tests sweep into their own folders."""
    root = projects.reproduced()
    (root / ".gitignore").write_text("dvc_plots/\nmultirun/\n")
    sh(["git", "add", "-A"], root)
    sh(["git", "commit", "-q", "-m", "ignore multirun/"], root)
    return root


@pytest.fixture
def own_copy(featurized: Path, tmp_path: Path) -> Path:
    """A private copy, for the tests that change pipelines/ or conf/."""
    return shutil.copytree(featurized, tmp_path / "proj", symlinks=True)


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_sweep_refuses_before_dvc_repro(cli, project: Path) -> None:
    out = cli(["sweep", "credit", "-m", "model.params.num_leaves=15,31"], project, check=False)
    assert out.returncode == 1
    assert "not prepared yet" in out.stderr and "dvc repro" in out.stderr
    assert not (project / "multirun").exists(), "nothing launched"


def test_grid_sweep_writes_hydra_job_folders_and_a_leaderboard(cli, sh, featurized: Path) -> None:
    out = cli(["sweep", "credit", "-m", *GRID, "hydra.sweep.dir=multirun/grid"], featurized)
    sweep_dir = featurized / "multirun/grid"
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1", "2", "3", "4", "5"], "Hydra's own <sweep_dir>/<job>/ layout"
    for job in jobs:
        assert (job / ".hydra/overrides.yaml").is_file()
        metrics = json.loads((job / "metrics.json").read_text())
        assert 0.5 < metrics["valid"]["roc_auc"] <= 1.0 and "roc_auc" in metrics["test"]
        assert "credit:" in (job / "config.yaml").read_text()
    board = rows(sweep_dir / "leaderboard.csv")
    assert len(board) == 6
    scores = [float(r["valid_roc_auc"]) for r in board]
    assert scores == sorted(scores, reverse=True), "roc_auc: best (highest) first"
    assert {(r["model.params.num_leaves"], r["model.params.learning_rate"]) for r in board} == {
        (n, lr) for n in ("15", "31", "63") for lr in ("0.05", "0.1")
    }
    best = json.loads((sweep_dir / board[0]["job"] / "result.json").read_text())
    assert best["objective"] == pytest.approx(scores[0]) and best["direction"] == "maximize"
    svg = (sweep_dir / "leaderboard.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<rect") == 6
    assert "sweep leaderboard" in out.stdout and "valid_roc_auc" in out.stdout
    # A sweep trains models; it must not touch what dvc repro produced.
    assert "credit" not in sh(["dvc", "status", "credit-featurize"], featurized).stdout.replace("Data and pipelines are up to date.", "")


def test_joblib_launcher_runs_jobs_in_parallel(sh, featurized: Path) -> None:
    # a subprocess: the Hydra jobs print to the terminal, which an in-process run does not capture
    out = sh(["driftline", "sweep", "credit", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
              "model.params.num_threads=1", "model.params.num_leaves=15,31", "hydra.sweep.dir=multirun/joblib"], featurized)
    assert "Joblib.Parallel(n_jobs=2" in out.stdout + out.stderr
    assert len(rows(featurized / "multirun/joblib/leaderboard.csv")) == 2


def test_optuna_sweeper_with_the_shipped_search_space(cli, featurized: Path) -> None:
    import hydra_plugins.hydra_optuna_sweeper  # noqa: F401  (in the dev extra; a missing plugin is a failure)
    cli(["sweep", "credit", "hydra/sweeper=credit_optuna", "hydra.sweeper.n_trials=3",
        "hydra.sweep.dir=multirun/optuna"], featurized)
    sweep_dir = featurized / "multirun/optuna"
    results = (sweep_dir / "optimization_results.yaml").read_text()
    board = rows(sweep_dir / "leaderboard.csv")
    assert len(board) == 3
    assert f"best_value: {float(board[0]['valid_roc_auc'])}" in results, "Optuna maximised the objective the jobs returned"


def test_optuna_override_syntax_gets_the_pipelines_direction(cli, featurized: Path) -> None:
    import hydra_plugins.hydra_optuna_sweeper  # noqa: F401  (in the dev extra; a missing plugin is a failure)
    cli(["sweep", "credit", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2",
        "model.params.num_leaves=int(interval(8,64))", "hydra.sweep.dir=multirun/optuna-cli"], featurized)
    hydra = (featurized / "multirun/optuna-cli/0/.hydra/hydra.yaml").read_text()
    assert "direction: maximize" in hydra, "Optuna minimises by default; roc_auc must be maximised"
    best = rows(featurized / "multirun/optuna-cli/leaderboard.csv")[0]
    assert f"best_value: {float(best['valid_roc_auc'])}" in (featurized / "multirun/optuna-cli/optimization_results.yaml").read_text()


def test_feature_override_refits_in_memory_only(cli, featurized: Path) -> None:
    before = (featurized / "models/credit/features.json").read_bytes()
    cli(["sweep", "credit", "+features.exclude=[age,open_accounts]", "hydra.sweep.dir=multirun/features"], featurized)
    result = json.loads((featurized / "multirun/features/0/result.json").read_text())
    assert result["refitted_features"] is True
    fitted = json.loads(before)
    assert result["features"] == len(fitted["feature_columns"]) - 2
    assert (featurized / "models/credit/features.json").read_bytes() == before


def test_data_keys_are_refused_with_a_pointer_to_dvc_exp(sh, featurized: Path) -> None:
    # a subprocess: the refusal comes from the Hydra job, which prints to the terminal
    out = sh(["driftline", "sweep", "credit", "split.seed=1,2", "hydra.sweep.dir=multirun/split"], featurized, check=False)
    assert out.returncode == 1
    assert "changes split" in out.stderr and "dvc exp run" in out.stderr


def test_missing_plugin_is_named_with_an_install_hint(cli, featurized: Path) -> None:
    out = cli(["sweep", "credit", "hydra/launcher=submitit_local", "model.params.num_leaves=15,31"], featurized, check=False)
    assert out.returncode == 2
    assert "pip install hydra-submitit-launcher" in out.stderr


def test_apply_best_writes_a_minimal_diff_and_recompiles(cli, sh, own_copy: Path) -> None:
    pipeline = own_copy / "pipelines/credit.yaml"
    before = pipeline.read_text()
    out = cli(["sweep", "credit", "model.params.num_leaves=7,15", "model.params.learning_rate=0.05,0.2",
              "hydra.sweep.dir=multirun/apply", "--apply", "best"], own_copy)
    best = rows(own_copy / "multirun/apply/leaderboard.csv")[0]
    after = pipeline.read_text()
    assert after.startswith(before.rstrip("\n").rsplit("model:", 1)[0]), "comments, defaults and order kept"
    assert f"num_leaves: {best['model.params.num_leaves']}" in after
    if best["model.params.learning_rate"] == "0.05":  # the default already: no line for it
        assert "learning_rate" not in after
    assert "dvc repro" in out.stdout
    cli(["compile", "--check"], own_copy)
    params = sh(["dvc", "params", "diff", "--json"], own_copy).stdout
    assert "credit.model.params.num_leaves" in params
    import yaml

    compiled = yaml.safe_load((own_copy / "params.yaml").read_text())["credit"]["model"]["params"]
    assert compiled["num_leaves"] == int(best["model.params.num_leaves"]), "the next dvc repro trains the winner"


def test_stale_features_are_refused_until_dvc_repro(cli, own_copy: Path) -> None:
    features = own_copy / "conf/features/credit.yaml"
    features.write_text(features.read_text().replace("min_frequency: 20", "min_frequency: 25"))
    stale = cli(["sweep", "credit", "model.params.num_leaves=15"], own_copy, check=False)
    assert stale.returncode == 1 and "run `driftline compile`" in stale.stderr
    cli(["compile"], own_copy)
    old = cli(["sweep", "credit", "model.params.num_leaves=15"], own_copy, check=False)
    assert old.returncode == 1 and "older than params.yaml" in old.stderr
    assert "credit.features.transforms[7].min_frequency: 20 -> 25" in old.stderr
