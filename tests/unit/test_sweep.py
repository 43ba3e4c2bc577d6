"""Pure parts of the sweep: ranking, CSV/SVG, the Hydra command line, writing the winner into YAML, the Ray launcher's arguments."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from driftline.sweep import leaderboard, runner
from driftline.sweep.apply import apply_values, changes
from driftline.sweep.job import swept_values
from driftline.sweep.objective import direction
from hydra_plugins.driftline_ray_launcher import _core as ray_core  # pure helpers; Ray itself is imported only at launch


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


def test_sweep_dir_defaults_to_hydras_layout_unless_set_and_is_absolute(tmp_path: Path) -> None:
    now = datetime(2026, 11, 25, 9, 8, 7)
    root = tmp_path.resolve()
    assert runner.sweep_dir_for([], now, tmp_path) == root / "multirun/2026-11-25/09-08-07"
    assert runner.sweep_dir_for(["hydra.sweep.dir=out/x"], now, tmp_path) == root / "out/x"
    assert runner.sweep_dir_for(["hydra.sweep.dir=/elsewhere/x"], now, tmp_path) == Path("/elsewhere/x")
    assert runner.sweep_dir_for(["hydra.sweep.dir='my runs/a,b'"], now, tmp_path) == root / "my runs/a,b", "Hydra's quoting removed"


@pytest.mark.parametrize("path", ["/tmp/plain/dir-1.x", "/tmp/with space/a,b", "/tmp/it's", "/tmp/odd\\'mix=\\", "/tmp/${x}[y]"])
def test_sweep_dir_is_passed_to_hydra_as_a_value_it_reads_back(path: str) -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    override = runner.hydra_overrides([], Path(path), "maximize")[-1]
    parsed = OverridesParser.create().parse_override(override)
    assert parsed.key_or_group == "hydra.sweep.dir" and not parsed.is_sweep_override()
    assert parsed.value() == path


def test_optuna_gets_the_pipelines_direction_unless_the_user_set_one() -> None:
    added = runner.hydra_overrides(["hydra/sweeper=optuna", "x=int(interval(1,4))"], Path("/p/multirun/a"), "maximize")
    assert added[-2:] == ["hydra.sweep.dir=/p/multirun/a", "hydra.sweeper.direction=maximize"]
    kept = runner.hydra_overrides(["hydra/sweeper=optuna", "hydra.sweeper.direction=minimize", "hydra.sweep.dir=d"], Path("/p/d"), "maximize")
    assert kept == ["hydra/sweeper=optuna", "hydra.sweeper.direction=minimize", "hydra.sweep.dir=/p/d"], "the user's dir, made absolute"


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


def test_ray_launcher_needs_ray_not_hydra_ray_launcher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "ray" else real(name))
    assert runner.missing_plugins(["hydra/launcher=ray"], tmp_path) == [
        "hydra/launcher=ray needs Ray (driftline ships the launcher plugin): pip install -e '.[ray]'"
    ]


def test_hydra_ray_launcher_installed_beside_driftlines_is_a_conflict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: real("json") if name == "hydra_plugins.hydra_ray_launcher" else real(name))
    hints = runner.missing_plugins(["hydra/launcher=ray", "a=1,2"], tmp_path)
    assert len(hints) == 1 and "pip uninstall hydra-ray-launcher" in hints[0] and "cloudpickle<3" in hints[0]
    assert runner.missing_plugins(["hydra/launcher=joblib"], tmp_path) == [], "only a sweep on Ray is concerned"


def test_driftlines_ray_launcher_is_a_hydra_plugin() -> None:
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher

    launchers = {cls.__module__ + "." + cls.__name__ for cls in Plugins.instance().discover(Launcher)}
    assert "hydra_plugins.driftline_ray_launcher.ray_launcher.RayLauncher" in launchers
    node = ConfigStore.instance().load("hydra/launcher/ray.yaml").node
    assert node._target_ == "hydra_plugins.driftline_ray_launcher.ray_launcher.RayLauncher"
    assert set(node.ray) == {"init", "remote"} and node.ray.init.address is None, "hydra-ray-launcher's config shape"


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
        pytest.param(["hydra/launcher=ray"], None, False, id="ray-default-one-cpu-and-thread-per-task"),
        pytest.param(["hydra/launcher=ray"], 2, True, id="ray-2-tasks-x-2-threads"),
        pytest.param(["hydra/launcher=ray", "+hydra.launcher.ray.remote.num_cpus=2"], 2, False, id="ray-tasks-of-2-cpus"),
        pytest.param(["hydra/launcher=ray", "hydra.launcher.ray.init.num_cpus=4"], None, True, id="ray-told-of-4-cpus"),
        pytest.param(["hydra/launcher=ray", "+hydra.launcher.ray.remote.num_cpus=0.5"], None, True, id="ray-half-cpu-tasks"),
    ],
)
def test_oversubscription_warning(overrides: list[str], model_threads: int | None, warns: bool) -> None:
    warning = runner.oversubscription(overrides, model_threads, cpus=2)
    assert (warning is not None) == warns
    if warns:
        assert "model.params.num_threads=1" in warning or "ray.init.num_cpus" in warning


@pytest.mark.parametrize(
    ("overrides", "jobs"),
    [
        pytest.param(["hydra/launcher=ray"], 2, id="one-per-cpu"),
        pytest.param(["hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=8", "+hydra.launcher.ray.remote.num_cpus=2"], 4, id="8-cpus-2-per-task"),
        pytest.param(["hydra/launcher=ray", "+hydra.launcher.ray.remote.num_cpus=4"], 1, id="task-larger-than-ray"),
    ],
)
def test_parallel_jobs_on_ray_are_its_cpus_over_each_tasks(overrides: list[str], jobs: int) -> None:
    assert runner.parallel_jobs(overrides, cpus=2) == jobs
    env = runner.job_environment(overrides, 2, {})
    assert env["DRIFTLINE_PARALLEL_JOBS"] == "1", "Ray gives each task its share itself (OMP_NUM_THREADS = its CPUs)"


# ----------------------------------------------------------------------------- the Ray launcher's ray.init arguments

WORKER = {"DRIFTLINE_PROJECT": "/p"}


def test_starting_ray_here_keeps_it_on_loopback_without_dashboard() -> None:
    kwargs, dropped = ray_core.init_arguments({"address": None}, {}, cpus=3, worker_env=WORKER)
    assert kwargs == {"num_cpus": 3, "include_dashboard": False, "_node_ip_address": "127.0.0.1", "runtime_env": {"env_vars": WORKER}}
    assert dropped == [] and ray_core.keeps_loopback({"address": None}, {})


def test_joining_a_cluster_drops_what_only_a_new_instance_takes() -> None:
    init = {"address": "10.1.2.3:6379", "num_cpus": 2, "object_store_memory": None, "runtime_env": {"env_vars": {"DRIFTLINE_PROJECT": "/mine", "X": "1"}}}
    kwargs, dropped = ray_core.init_arguments(init, {}, cpus=3, worker_env={**WORKER, "OMP_WAIT_POLICY": "PASSIVE"})
    assert kwargs == {"address": "10.1.2.3:6379", "runtime_env": {"env_vars": {"DRIFTLINE_PROJECT": "/mine", "X": "1", "OMP_WAIT_POLICY": "PASSIVE"}}}
    assert dropped == ["num_cpus"], "null object_store_memory is simply left out (Hydra issue #2893)"
    assert not ray_core.keeps_loopback(init, {}), "a remote cluster's workers must reach this process at a routable address"


@pytest.mark.parametrize(
    ("init", "environ", "joins", "loopback"),
    [
        pytest.param({"address": "127.0.0.1:6379"}, {}, True, True, id="loopback-cluster"),
        pytest.param({"address": "ray://localhost:10001"}, {}, True, True, id="ray-client-localhost"),
        pytest.param({"address": "[::1]:6379"}, {}, True, True, id="ipv6-loopback"),
        pytest.param({"address": "local"}, {}, False, True, id="local-means-start"),
        pytest.param({"address": None}, {"RAY_ADDRESS": "10.0.0.5:6379"}, True, False, id="RAY_ADDRESS-joins"),
        pytest.param({"address": "auto"}, {}, True, False, id="auto"),
    ],
)
def test_which_address_joins_and_which_keeps_loopback(init: dict, environ: dict, joins: bool, loopback: bool) -> None:
    assert ray_core.joins_cluster(init, environ) == joins
    assert ray_core.keeps_loopback(init, environ) == loopback


def test_workers_get_the_jobs_environment_that_is_set() -> None:
    env = {"DRIFTLINE_PROJECT": "/p", "DRIFTLINE_PARALLEL_JOBS": "1", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "x"}
    assert ray_core.worker_environment(env) == {"DRIFTLINE_PROJECT": "/p", "DRIFTLINE_PARALLEL_JOBS": "1"}
