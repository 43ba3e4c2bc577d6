"""Build the Hydra command line of a sweep and run it as a subprocess (the edge of the sweep)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from driftline.sweep.job import ROOT_ENV
from driftline.threads import OMP_WAIT_ENV, PARALLEL_JOBS_ENV, default_threads

SWEEP_DIR_KEY = "hydra.sweep.dir"


def _value(overrides: Sequence[str], key: str) -> str | None:
    for override in overrides:
        name, _, value = override.partition("=")
        if name.lstrip("+") == key:
            return value
    return None


def sweep_dir_for(overrides: Sequence[str], now: datetime) -> str:
    """`hydra.sweep.dir` if the user set it, else Hydra's own layout `multirun/<date>/<time>`."""
    return _value(overrides, SWEEP_DIR_KEY) or f"multirun/{now:%Y-%m-%d}/{now:%H-%M-%S}"


def hydra_overrides(overrides: Sequence[str], sweep_dir: str, direction: str) -> list[str]:
    """The user's overrides plus what the sweep needs: the sweep dir, and Optuna's direction.

    Hydra's Optuna sweeper minimises unless told otherwise; when the user picks it with
    `hydra/sweeper=optuna` and no `hydra.sweeper.direction`, the pipeline's direction is added
    (maximize for roc_auc, minimize for rmse/log_loss).
    """
    extra = []
    if _value(overrides, SWEEP_DIR_KEY) is None:
        extra.append(f"{SWEEP_DIR_KEY}={sweep_dir}")
    if _value(overrides, "hydra/sweeper") == "optuna" and _value(overrides, "hydra.sweeper.direction") is None:
        extra.append(f"hydra.sweeper.direction={direction}")
    return [*overrides, *extra]


def command(root: Path, pipeline: str, overrides: Sequence[str]) -> list[str]:
    """`python -m driftline.sweep.app -m --config-dir ... --config-name <p> hydra.searchpath=... <overrides>`."""
    root = root.resolve()
    return [
        sys.executable, "-m", "driftline.sweep.app", "-m",  # Hydra's argparse wants -m before the overrides
        "--config-dir", str(root / "pipelines"),
        "--config-name", pipeline,
        f"hydra.searchpath=[file://{root / 'conf'}]",
        *overrides,
    ]


def parallel_jobs(overrides: Sequence[str], cpus: int) -> int:
    """How many jobs train at once: joblib's `hydra.launcher.n_jobs` (-1 or unset: one per CPU), else 1."""
    if _value(overrides, "hydra/launcher") != "joblib":
        return 1
    try:
        n_jobs = int(_value(overrides, "hydra.launcher.n_jobs") or "-1")
    except ValueError:
        return 1
    return cpus if n_jobs < 0 else max(n_jobs, 1)


def job_environment(overrides: Sequence[str], cpus: int, environ: dict[str, str]) -> dict[str, str]:
    """The sweep's environment: the project root, and the number of parallel jobs that share the CPUs.

    Jobs train with `driftline.threads.default_threads()`, which divides the CPUs by
    DRIFTLINE_PARALLEL_JOBS, and waiting OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE) unless set.
    """
    env = {**environ, PARALLEL_JOBS_ENV: str(parallel_jobs(overrides, cpus))}
    env.setdefault(OMP_WAIT_ENV, "PASSIVE")
    return env


def run(root: Path, pipeline: str, overrides: Sequence[str]) -> int:
    """Run the multirun in the project root, streaming Hydra's output; return its exit code."""
    from driftline.threads import usable_cpus

    env = {**job_environment(overrides, usable_cpus(), dict(os.environ)), ROOT_ENV: str(root.resolve())}
    return subprocess.run(command(root, pipeline, overrides), cwd=root, env=env, check=False).returncode


# Hydra plugins a user picks by name, the module that provides each, and the package to install.
PLUGINS = {
    ("hydra/launcher", "joblib"): ("hydra_plugins.hydra_joblib_launcher", "hydra-joblib-launcher"),
    ("hydra/launcher", "ray"): ("hydra_plugins.hydra_ray_launcher", "hydra-ray-launcher"),
    ("hydra/launcher", "submitit_local"): ("hydra_plugins.hydra_submitit_launcher", "hydra-submitit-launcher"),
    ("hydra/launcher", "submitit_slurm"): ("hydra_plugins.hydra_submitit_launcher", "hydra-submitit-launcher"),
    ("hydra/sweeper", "optuna"): ("hydra_plugins.hydra_optuna_sweeper", "hydra-optuna-sweeper"),
    ("hydra/sweeper", "nevergrad"): ("hydra_plugins.hydra_nevergrad_sweeper", "hydra-nevergrad-sweeper"),
    ("hydra/sweeper", "ax"): ("hydra_plugins.hydra_ax_sweeper", "hydra-ax-sweeper"),
}


def missing_plugins(overrides: Sequence[str], root: Path) -> list[str]:
    """Install hints for the Hydra plugins the overrides ask for that are not installed.

    A project config such as conf/hydra/sweeper/credit_optuna.yaml that builds on `optuna`
    counts as asking for the Optuna sweeper.
    """
    from importlib.util import find_spec

    hints = []
    for (group, option), (module, package) in PLUGINS.items():
        chosen = _value(overrides, group)
        if chosen is None:
            continue
        wanted = chosen == option
        local = root / "conf" / group / f"{chosen}.yaml"
        if not wanted and local.is_file():
            wanted = any(line.strip().lstrip("- ").split("#")[0].strip() == option for line in local.read_text(encoding="utf-8").splitlines())
        if wanted and find_spec(module) is None:
            hints.append(f"{group}={chosen} needs the {package} plugin: pip install {package} (or pip install -e '.[sweep]')")
    return hints


def oversubscription(overrides: Sequence[str], model_threads: int | None, cpus: int | None) -> str | None:
    """A warning when parallel joblib jobs times LightGBM threads exceed the CPUs.

    LightGBM's OpenMP threads spin while they wait; oversubscribed, a sweep gets many times
    slower (measured here: 2 jobs x 2 threads on 2 CPUs took 10x the sequential time). Without
    an explicit num_threads each job gets its share (`driftline.threads.default_threads`), so
    only an explicit value or more jobs than CPUs can oversubscribe.
    """
    if _value(overrides, "hydra/launcher") != "joblib" or not cpus:
        return None
    try:
        int(_value(overrides, "hydra.launcher.n_jobs") or "-1")
    except ValueError:
        return None
    n_jobs = parallel_jobs(overrides, cpus)
    threads_text = _value(overrides, "model.params.num_threads")
    try:
        explicit = int(threads_text) if threads_text is not None else model_threads
    except ValueError:
        return None
    if explicit is None:
        threads = default_threads(cpus, {**os.environ, PARALLEL_JOBS_ENV: str(n_jobs)})
    else:
        threads = cpus if explicit <= 0 else explicit
    if n_jobs * threads <= cpus:
        return None
    fit = max(1, cpus // max(n_jobs, 1))
    return (f"{n_jobs} parallel jobs x {threads} LightGBM threads > {cpus} CPUs: LightGBM slows down badly when "
            f"oversubscribed; add model.params.num_threads={fit} (or lower hydra.launcher.n_jobs)")
