"""Build the Hydra command line of a sweep and run it as a subprocess (the edge of the sweep)."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from driftline.sweep.job import ROOT_ENV
from driftline.threads import OMP_WAIT_ENV, PARALLEL_JOBS_ENV, default_threads

SWEEP_DIR_KEY = "hydra.sweep.dir"
RAY_CPUS_KEY = "hydra.launcher.ray.init.num_cpus"
RAY_TASK_CPUS_KEY = "hydra.launcher.ray.remote.num_cpus"


def _value(overrides: Sequence[str], key: str) -> str | None:
    for override in overrides:
        name, _, value = override.partition("=")
        if name.lstrip("+") == key:
            return value
    return None


def _parsed_value(overrides: Sequence[str], key: str) -> str | None:
    """The value of `key` as Hydra reads it (quotes and escapes removed), or None when not given."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    for override in overrides:
        if override.partition("=")[0].lstrip("+") == key:
            try:
                return str(OverridesParser.create().parse_override(override).value())
            except HydraException:
                return override.partition("=")[2]
    return None


def quoted(value: str) -> str:
    """`value` as a Hydra override value: bare when it is plain, else single-quoted with `'` escaped."""
    if re.fullmatch(r"[\w./@%~+-]+", value):
        return value
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    trailing = len(escaped) - len(escaped.rstrip("\\"))
    return f"'{escaped}{chr(92) * trailing}'"


def sweep_dir_for(overrides: Sequence[str], now: datetime, root: Path) -> Path:
    """`hydra.sweep.dir` if the user set it, else Hydra's own layout `multirun/<date>/<time>`, absolute.

    A relative folder is the project root's (where the sweep runs). It is made absolute before Hydra
    sees it because launcher workers (Ray) resolve a relative one against their own working directory,
    and the leaderboard is read from where the jobs wrote.
    """
    chosen = Path(_parsed_value(overrides, SWEEP_DIR_KEY) or f"multirun/{now:%Y-%m-%d}/{now:%H-%M-%S}")
    return chosen if chosen.is_absolute() else root.resolve() / chosen


def hydra_overrides(overrides: Sequence[str], sweep_dir: Path, direction: str) -> list[str]:
    """The user's overrides plus what the sweep needs: the absolute sweep dir, and Optuna's direction.

    Hydra's Optuna sweeper minimises unless told otherwise; when the user picks it with
    `hydra/sweeper=optuna` and no `hydra.sweeper.direction`, the pipeline's direction is added
    (maximize for roc_auc, minimize for rmse/log_loss).
    """
    kept = [o for o in overrides if o.partition("=")[0].lstrip("+") != SWEEP_DIR_KEY]
    extra = [f"{SWEEP_DIR_KEY}={quoted(str(sweep_dir))}"]
    if _value(overrides, "hydra/sweeper") == "optuna" and _value(overrides, "hydra.sweeper.direction") is None:
        extra.append(f"hydra.sweeper.direction={direction}")
    return [*kept, *extra]


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


def _number(text: str | None, default: float) -> float | None:
    """`text` as a number (`default` when unset); None when it is not one (Hydra will say so)."""
    if text is None or text == "null":
        return default
    try:
        return float(text)
    except ValueError:
        return None


def ray_shares(overrides: Sequence[str], cpus: int) -> tuple[int, int] | None:
    """(parallel jobs, CPUs per job) on Ray: its CPUs (`init.num_cpus`, else `cpus`) / each task's `remote.num_cpus` (1).

    Joining a cluster, its nodes' CPUs are not known here: a node like this machine is assumed.
    Ray gives each task OMP_NUM_THREADS = its whole CPUs (at least 1), which driftline's default
    thread count honours. None when a value is not a number or a task asks for no CPU.
    """
    ray_cpus, per_task = _number(_value(overrides, RAY_CPUS_KEY), cpus), _number(_value(overrides, RAY_TASK_CPUS_KEY), 1.0)
    if ray_cpus is None or per_task is None or per_task <= 0:
        return None
    return max(1, int(ray_cpus // per_task)), max(1, math.floor(per_task))


def parallel_jobs(overrides: Sequence[str], cpus: int) -> int:
    """How many jobs train at once: joblib's `hydra.launcher.n_jobs` (-1 or unset: one per CPU), Ray's (`ray_shares`), else 1."""
    launcher = _value(overrides, "hydra/launcher")
    if launcher == "ray":
        shares = ray_shares(overrides, cpus)
        return shares[0] if shares else 1
    if launcher != "joblib":
        return 1
    try:
        n_jobs = int(_value(overrides, "hydra.launcher.n_jobs") or "-1")
    except ValueError:
        return 1
    return cpus if n_jobs < 0 else max(n_jobs, 1)


def job_environment(overrides: Sequence[str], cpus: int, environ: dict[str, str]) -> dict[str, str]:
    """The sweep's environment: the number of parallel jobs that share the CPUs, and passive OpenMP waits.

    Jobs train with `driftline.threads.default_threads()`, which divides the CPUs by
    DRIFTLINE_PARALLEL_JOBS, and waiting OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE) unless set.
    On Ray, DRIFTLINE_PARALLEL_JOBS is 1: Ray already gives each task its share as OMP_NUM_THREADS.
    """
    jobs = 1 if _value(overrides, "hydra/launcher") == "ray" else parallel_jobs(overrides, cpus)
    env = {**environ, PARALLEL_JOBS_ENV: str(jobs)}
    env.setdefault(OMP_WAIT_ENV, "PASSIVE")
    return env


def run(root: Path, pipeline: str, overrides: Sequence[str]) -> int:
    """Run the multirun in the project root, streaming Hydra's output; return its exit code."""
    from driftline.threads import usable_cpus

    env = {**job_environment(overrides, usable_cpus(), dict(os.environ)), ROOT_ENV: str(root.resolve())}
    return subprocess.run(command(root, pipeline, overrides), cwd=root, env=env, check=False).returncode


def _plugin(package: str, extra: str = "") -> str:
    return f"the {package} plugin: pip install {package}" + (f" (or pip install -e '.[{extra}]')" if extra else "")


# Hydra plugins a user picks by name: the module that provides each, and what to install when it is missing.
PLUGINS = {
    ("hydra/launcher", "joblib"): ("hydra_plugins.hydra_joblib_launcher", _plugin("hydra-joblib-launcher", "sweep")),
    # driftline's own launcher (src/hydra_plugins/driftline_ray_launcher); it needs Ray itself
    ("hydra/launcher", "ray"): ("ray", "Ray (driftline ships the launcher plugin): pip install -e '.[ray]'"),
    ("hydra/launcher", "submitit_local"): ("hydra_plugins.hydra_submitit_launcher", _plugin("hydra-submitit-launcher")),
    ("hydra/launcher", "submitit_slurm"): ("hydra_plugins.hydra_submitit_launcher", _plugin("hydra-submitit-launcher")),
    ("hydra/sweeper", "optuna"): ("hydra_plugins.hydra_optuna_sweeper", _plugin("hydra-optuna-sweeper", "sweep")),
    ("hydra/sweeper", "nevergrad"): ("hydra_plugins.hydra_nevergrad_sweeper", _plugin("hydra-nevergrad-sweeper")),
    ("hydra/sweeper", "ax"): ("hydra_plugins.hydra_ax_sweeper", _plugin("hydra-ax-sweeper")),
}
# Installed plugins that register the same name as driftline's own, so Hydra would pick one of the two.
CONFLICTS = {
    ("hydra/launcher", "ray"): (
        "hydra_plugins.hydra_ray_launcher",
        "hydra-ray-launcher is installed and also registers hydra/launcher=ray: pip uninstall hydra-ray-launcher. "
        "driftline ships its own Ray launcher because hydra-ray-launcher pins cloudpickle<3, which dask needs",
    ),
}


def _asked_for(overrides: Sequence[str], root: Path, group: str, option: str) -> str | None:
    """The name the user chose in `group` when it is `option` or a project config building on it, else None.

    A project config such as conf/hydra/sweeper/credit_optuna.yaml whose defaults list names
    `optuna` counts as asking for the Optuna sweeper.
    """
    chosen = _value(overrides, group)
    if chosen is None:
        return None
    if chosen == option:
        return chosen
    local = root / "conf" / group / f"{chosen}.yaml"
    if local.is_file() and any(line.strip().lstrip("- ").split("#")[0].strip() == option for line in local.read_text(encoding="utf-8").splitlines()):
        return chosen
    return None


def missing_plugins(overrides: Sequence[str], root: Path) -> list[str]:
    """What to install (or uninstall) for the Hydra plugins the overrides ask for, one line each; [] when all is well."""
    from importlib.util import find_spec

    hints = []
    for (group, option), (module, needs) in PLUGINS.items():
        chosen = _asked_for(overrides, root, group, option)
        if chosen is not None and find_spec(module) is None:
            hints.append(f"{group}={chosen} needs {needs}")
    for (group, option), (module, message) in CONFLICTS.items():
        if _asked_for(overrides, root, group, option) is not None and find_spec(module) is not None:
            hints.append(message)
    return hints


def oversubscription(overrides: Sequence[str], model_threads: int | None, cpus: int | None) -> str | None:
    """A warning when parallel jobs (joblib or Ray) times LightGBM threads exceed the CPUs.

    LightGBM's OpenMP threads spin while they wait; oversubscribed, a sweep gets many times
    slower (measured here: 2 jobs x 2 threads on 2 CPUs took 10x the sequential time). Without
    an explicit num_threads each job gets its share (`driftline.threads.default_threads`; on Ray,
    its task's CPUs), so only an explicit value, more jobs than CPUs, or Ray told of more CPUs
    than the machine has can oversubscribe.
    """
    launcher = _value(overrides, "hydra/launcher")
    if launcher not in ("joblib", "ray") or not cpus:
        return None
    threads_text = _value(overrides, "model.params.num_threads")
    try:
        explicit = int(threads_text) if threads_text is not None else model_threads
    except ValueError:
        return None
    if launcher == "ray":
        shares = ray_shares(overrides, cpus)
        if shares is None:
            return None
        n_jobs, task_cpus = shares
        default = default_threads(cpus, {**os.environ, "OMP_NUM_THREADS": str(task_cpus), PARALLEL_JOBS_ENV: "1"})
        lower = "raise hydra.launcher.ray.remote.num_cpus or lower hydra.launcher.ray.init.num_cpus"
    else:
        try:
            int(_value(overrides, "hydra.launcher.n_jobs") or "-1")
        except ValueError:
            return None
        n_jobs = parallel_jobs(overrides, cpus)
        default = default_threads(cpus, {**os.environ, PARALLEL_JOBS_ENV: str(n_jobs)})
        lower = "lower hydra.launcher.n_jobs"
    if explicit is None:
        threads = default
    else:
        threads = cpus if explicit <= 0 else explicit
    if n_jobs * threads <= cpus:
        return None
    fit = max(1, cpus // max(n_jobs, 1))
    return (f"{n_jobs} parallel jobs x {threads} LightGBM threads > {cpus} CPUs: LightGBM slows down badly when "
            f"oversubscribed; add model.params.num_threads={fit} (or {lower})")
