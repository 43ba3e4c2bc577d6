"""The rule for LightGBM's training threads, and where a trained model records them."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from driftline import threads
from driftline.config.model import ModelSpec
from driftline.models.train import train_model
from driftline.sweep import runner
from driftline.threads import PARALLEL_JOBS_ENV, TRAININGS_ENV, default_threads, running_training, usable_cpus


@pytest.mark.parametrize(
    ("cpus", "environ", "threads"),
    [
        pytest.param(4, {}, 4, id="all-usable-cpus"),
        pytest.param(4, {"OMP_NUM_THREADS": "2"}, 2, id="omp-caps"),
        pytest.param(2, {"OMP_NUM_THREADS": "8"}, 2, id="omp-above-cpus-changes-nothing"),
        pytest.param(8, {"OMP_NUM_THREADS": "6,2"}, 6, id="omp-nested-list-uses-outer-level"),
        pytest.param(4, {"OMP_NUM_THREADS": "lots"}, 4, id="invalid-omp-ignored"),
        pytest.param(4, {PARALLEL_JOBS_ENV: "2"}, 2, id="two-jobs-share"),
        pytest.param(5, {PARALLEL_JOBS_ENV: "2"}, 2, id="share-rounds-down"),
        pytest.param(2, {PARALLEL_JOBS_ENV: "4"}, 1, id="more-jobs-than-cpus-still-one"),
        pytest.param(8, {"OMP_NUM_THREADS": "4", PARALLEL_JOBS_ENV: "2"}, 2, id="cap-then-share"),
        pytest.param(4, {PARALLEL_JOBS_ENV: "0"}, 4, id="zero-jobs-ignored"),
    ],
)
def test_default_threads(cpus: int, environ: dict[str, str], threads: int) -> None:
    assert default_threads(cpus, environ) == threads


@pytest.mark.parametrize(
    ("cpus", "environ", "trainings", "threads"),
    [
        pytest.param(4, {}, 2, 2, id="two-trainings-share"),
        pytest.param(2, {}, 3, 1, id="more-trainings-than-cpus-still-one"),
        pytest.param(4, {PARALLEL_JOBS_ENV: "2"}, 2, 2, id="sweep-jobs-are-those-trainings-not-twice"),
        pytest.param(8, {PARALLEL_JOBS_ENV: "2"}, 4, 2, id="the-larger-count-wins"),
        pytest.param(8, {"OMP_NUM_THREADS": "4"}, 2, 2, id="cap-then-share"),
    ],
)
def test_trainings_running_at_once_share_the_cpus(cpus: int, environ: dict[str, str], trainings: int, threads: int) -> None:
    assert default_threads(cpus, environ, trainings=trainings) == threads


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_running_training_is_registered_until_it_ends_and_dead_ones_are_not_counted(tmp_path) -> None:
    (tmp_path / str(os.getppid())).touch()  # another live process, training
    dead = tmp_path / str(_dead_pid())
    dead.touch()  # a training that was killed
    with running_training(tmp_path) as running:
        assert (tmp_path / str(os.getpid())).exists()
        assert running.count() == 2
        assert not dead.exists(), "a dead training's entry is removed"
    assert not (tmp_path / str(os.getpid())).exists()
    blocked = tmp_path / "a-file-in-the-way"
    blocked.touch()
    with running_training(blocked / "trainings") as alone:
        assert alone.count() == 1, "a folder that cannot be written counts this training only"


def test_a_training_takes_its_share_when_another_is_running(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "usable_cpus", lambda: 4)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv(PARALLEL_JOBS_ENV, raising=False)
    monkeypatch.setenv(TRAININGS_ENV, str(tmp_path))
    alone = _train({})
    (tmp_path / str(os.getppid())).touch()
    shared = _train({})
    assert (alone.threads, shared.threads) == (4, 2)
    # the file is the one a training alone writes: what else ran must not change the model's bytes
    assert shared.booster.model_to_string() == alone.booster.model_to_string()
    assert "[num_threads: 4]" in shared.booster.model_to_string()
    assert [p.name for p in tmp_path.iterdir()] == [str(os.getppid())], "the training left the register"


def test_usable_cpus_follow_the_affinity_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert usable_cpus() == 2
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert usable_cpus() == 64


def test_sweep_tells_its_jobs_how_many_share_the_cpus() -> None:
    joblib = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    env = runner.job_environment(joblib, 4, {})
    assert env[PARALLEL_JOBS_ENV] == "2" and default_threads(4, env) == 2
    assert runner.job_environment(["hydra/launcher=joblib"], 4, {})[PARALLEL_JOBS_ENV] == "4"  # n_jobs unset: one per CPU
    assert runner.job_environment(["a=1,2"], 4, {})[PARALLEL_JOBS_ENV] == "1"  # the basic launcher runs one job at a time
    assert runner.job_environment(joblib, 4, {"OMP_WAIT_POLICY": "ACTIVE"})["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_default_share_never_warns_but_an_explicit_value_can() -> None:
    joblib = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    assert runner.oversubscription(joblib, None, cpus=4) is None
    warning = runner.oversubscription([*joblib, "model.params.num_threads=4"], None, cpus=4)
    assert warning is not None and "model.params.num_threads=2" in warning


def _data(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] + rng.normal(scale=0.5, size=n) > 0).astype(float)


def _train(params: dict) -> object:
    X, y = _data()
    spec = ModelSpec(params=params, num_boost_round=5)
    return train_model(X[:300], y[:300], X[300:], y[300:], "binary", spec, feature_names=["a", "b", "c"])


def test_training_uses_the_default_and_records_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    result = _train({})
    assert result.threads == 1 == default_threads()
    assert "[num_threads: 1]" in result.booster.model_to_string()


def test_an_explicit_num_threads_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARALLEL_JOBS_ENV, "64")
    result = _train({"num_threads": 3})
    assert result.threads == 3
    assert "[num_threads: 3]" in result.booster.model_to_string()


def test_the_training_summary_records_the_threads(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from driftline.paths import PipelinePaths
    from driftline.stages import train as stage
    from driftline.stages.context import StageContext
    from driftline.stages.matrix import Matrix

    X, y = _data()
    matrices = {"train": (X[:300], y[:300]), "valid": (X[300:], y[300:])}
    fitted = SimpleNamespace(feature_columns=["a", "b", "c"], categorical={})
    monkeypatch.setattr(stage, "load_fitted", lambda ctx: fitted)
    monkeypatch.setattr(stage, "load_matrix", lambda ctx, split, cols, cats: Matrix(matrices[split][0], pd.Series(matrices[split][1]), None))
    cfg = SimpleNamespace(task="binary", target="y", model=ModelSpec(params={"num_threads": 1}, num_boost_round=5))
    ctx = StageContext(tmp_path, "credit", cfg, PipelinePaths("credit"))
    stage.run(ctx)
    summary = json.loads((tmp_path / ctx.paths.train_summary).read_text(encoding="utf-8"))
    assert summary["num_threads"] == 1


def test_passive_wait_is_a_default_and_leaves_the_environment_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    from driftline.threads import passive_wait

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    with passive_wait():
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    with passive_wait():
        assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
