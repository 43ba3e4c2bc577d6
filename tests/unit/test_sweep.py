"""Pure parts of the sweep: ranking, CSV/SVG, the Hydra command line, writing the winner into YAML."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from driftline.sweep import leaderboard, runner
from driftline.sweep.apply import apply_values, changes
from driftline.sweep.job import swept_values
from driftline.sweep.objective import direction


def result(job: int, objective: float, leaves: int, metric: str = "roc_auc") -> dict:
    return {
        "job": job, "objective": objective, "test": objective - 0.01, "metric": metric,
        "direction": direction(metric), "best_iteration": 10 + job, "seconds": 0.5,
        "overrides": [f"model.params.num_leaves={leaves}"], "swept": {"model.params.num_leaves": leaves},
    }


@pytest.mark.parametrize(
    ("metric", "expected_jobs"),
    [pytest.param("roc_auc", [1, 2, 0], id="roc_auc-maximised"), pytest.param("rmse", [0, 2, 1], id="rmse-minimised")],
)
def test_rank_puts_the_best_first_in_the_metrics_direction(metric: str, expected_jobs: list[int]) -> None:
    rows = leaderboard.rank([result(0, 0.70, 15, metric), result(1, 0.80, 31, metric), result(2, 0.75, 63, metric)])
    assert [r["job"] for r in rows] == expected_jobs
    assert [r["rank"] for r in rows] == [1, 2, 3]


def test_ties_keep_job_order() -> None:
    rows = leaderboard.rank([result(1, 0.8, 31), result(0, 0.8, 15)])
    assert [r["job"] for r in rows] == [0, 1]


def test_csv_has_one_column_per_swept_key_and_both_splits() -> None:
    text = leaderboard.to_csv(leaderboard.rank([result(0, 0.7, 15), result(1, 0.8, 31)]))
    lines = text.splitlines()
    assert lines[0] == "rank,job,model.params.num_leaves,valid_roc_auc,test_roc_auc,trees,seconds"
    assert lines[1].startswith("1,1,31,0.800000,0.790000,11,")


def test_svg_is_self_contained_and_escaped() -> None:
    rows = leaderboard.rank([result(0, 0.7, 15), result(1, 0.8, 31)])
    svg = leaderboard.to_svg(rows, title="credit <grid>")
    assert svg.startswith("<svg xmlns=") and "<script" not in svg and "href" not in svg
    assert "credit &lt;grid&gt;" in svg and svg.count("<rect") == 2
    assert leaderboard.to_svg([]).startswith("<svg")


def test_swept_values_reads_resolved_values_and_skips_hydra_keys() -> None:
    data = {"model": {"params": {"num_leaves": 63, "learning_rate": 0.1}}}
    overrides = ["model.params.num_leaves=63", "+model.params.learning_rate=0.1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    assert swept_values(data, overrides) == {"model.params.num_leaves": 63, "model.params.learning_rate": 0.1}


def test_sweep_dir_defaults_to_hydras_layout_unless_set() -> None:
    now = datetime(2026, 11, 25, 9, 8, 7)
    assert runner.sweep_dir_for([], now) == "multirun/2026-11-25/09-08-07"
    assert runner.sweep_dir_for(["hydra.sweep.dir=out/x"], now) == "out/x"


def test_optuna_gets_the_pipelines_direction_unless_the_user_set_one() -> None:
    added = runner.hydra_overrides(["hydra/sweeper=optuna", "x=int(interval(1,4))"], "multirun/a", "maximize")
    assert added[-2:] == ["hydra.sweep.dir=multirun/a", "hydra.sweeper.direction=maximize"]
    kept = runner.hydra_overrides(["hydra/sweeper=optuna", "hydra.sweeper.direction=minimize", "hydra.sweep.dir=d"], "unused", "maximize")
    assert kept == ["hydra/sweeper=optuna", "hydra.sweeper.direction=minimize", "hydra.sweep.dir=d"]


def test_command_puts_multirun_before_the_overrides(tmp_path: Path) -> None:
    cmd = runner.command(tmp_path, "credit", ["a=1,2"])
    assert cmd[1:4] == ["-m", "driftline.sweep.app", "-m"]
    assert cmd[-1] == "a=1,2" and f"hydra.searchpath=[file://{tmp_path.resolve() / 'conf'}]" in cmd


def test_missing_plugin_hint_follows_a_project_sweeper_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    (tmp_path / "conf/hydra/sweeper").mkdir(parents=True)
    (tmp_path / "conf/hydra/sweeper/mine.yaml").write_text("defaults:\n  - optuna  # the plugin's config\n  - _self_\n")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name.startswith("hydra_plugins.") else real(name))
    hints = runner.missing_plugins(["hydra/sweeper=mine", "hydra/launcher=joblib"], tmp_path)
    assert any("hydra-optuna-sweeper" in h for h in hints) and any("hydra-joblib-launcher" in h for h in hints)
    assert runner.missing_plugins(["a=1,2"], tmp_path) == []


PIPELINE = """\
# Credit risk
defaults:
  - /model: lgbm   # LightGBM
  - _self_

task: binary
model:
  threshold: 0.3   # decision threshold
"""


def test_apply_values_is_a_minimal_diff_keeping_comments() -> None:
    out = apply_values(PIPELINE, {"model.params.num_leaves": 63, "model.threshold": 0.4})
    assert out == PIPELINE.replace("threshold: 0.3 ", "threshold: 0.4 ") + "  params:\n    num_leaves: 63\n"


def test_changes_keeps_only_values_that_differ() -> None:
    current = {"model": {"params": {"num_leaves": 31, "learning_rate": 0.05}}}
    assert changes({"model.params.num_leaves": 63, "model.params.learning_rate": 0.05}, current) == {"model.params.num_leaves": 63}


@pytest.mark.parametrize(
    ("overrides", "model_threads", "warns"),
    [
        pytest.param(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], 2, True, id="2x2-on-2-cpus"),
        pytest.param(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model.params.num_threads=1"], 2, False, id="2x1-fits"),
        pytest.param(["hydra/launcher=joblib"], 1, False, id="n_jobs-defaults-to-cpus"),
        pytest.param(["a=1,2"], 2, False, id="basic-launcher-is-sequential"),
    ],
)
def test_oversubscription_warning(overrides: list[str], model_threads: int, warns: bool) -> None:
    warning = runner.oversubscription(overrides, model_threads, cpus=2)
    assert (warning is not None) == warns
    if warns:
        assert "model.params.num_threads=1" in warning
