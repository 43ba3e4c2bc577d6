"""Start or join Ray, then run each Hydra job as a Ray task (hydra-ray-launcher's job flow).

The flow follows hydra-ray-launcher's `_core.launch`: set up Hydra's globals and logging, create
the sweep folder, start Ray (or join the cluster at `init.address`), load each job's sweep config
and submit `run_job` as a remote task, then return the JobReturns in job order.

What it adds, found when running driftline's sweeps on Ray 2.60:
- Workers do not inherit the caller's working directory or environment: the sweep folder is made
  absolute before the jobs are shipped, and the variables a job needs (the project root, the
  thread-sharing settings: `driftline.sweep.job.WORKER_ENV`) go in the job's `runtime_env`.
- Started here, Ray listens on 127.0.0.1 only and without its dashboard. Ray replaces a loopback
  address with the machine's address unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 is set before it
  is imported; that is set for a local start or a loopback cluster, never for a remote one (whose
  workers must reach this process at a routable address).
- Joining a running cluster, ray.init refuses resource arguments (`num_cpus`, `object_store_memory`,
  ...: Hydra issue #2893); they are the cluster's, set by `ray start`, and are dropped with a warning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray keeps 127.0.0.1 instead of the machine's address
LOOPBACK = "127.0.0.1"
# ray.init arguments that size a new Ray instance; joining a running cluster, ray.init refuses them.
LOCAL_ONLY = ("num_cpus", "num_gpus", "resources", "labels", "object_store_memory", "include_dashboard",
              "dashboard_host", "dashboard_port", "_node_ip_address", "_temp_dir", "_system_config")


def _host(address: str) -> str:
    """The host of `host:port`, `ray://host:port` or `[::1]:port`."""
    rest = address.split("://", 1)[-1]
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    return rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest


def is_loopback(address: str) -> bool:
    host = _host(address)
    return host == "localhost" or host == "::1" or host.startswith("127.")


def joins_cluster(init: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
    """Whether ray.init will join a running cluster rather than start Ray here (RAY_ADDRESS counts too)."""
    address = init.get("address")
    if address is None:
        return bool(environ.get("RAY_ADDRESS")) and environ.get("RAY_ADDRESS") != "local"
    return str(address) != "local"


def init_arguments(init: Mapping[str, Any], environ: Mapping[str, str], cpus: int, worker_env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """(ray.init keyword arguments, the arguments dropped because they cannot apply to a running cluster).

    Unset (null) values are left out, so ray.init keeps its own defaults. Starting Ray here: on
    127.0.0.1, no dashboard, `cpus` CPUs unless `num_cpus` is given. `worker_env` is added to
    `runtime_env.env_vars` (the user's own env_vars win).
    """
    kwargs = {k: v for k, v in init.items() if v is not None}
    dropped: list[str] = []
    if joins_cluster(kwargs, environ):
        dropped = [k for k in LOCAL_ONLY if k in kwargs]
        for key in dropped:
            del kwargs[key]
    else:
        kwargs.setdefault("num_cpus", cpus)
        kwargs.setdefault("include_dashboard", False)
        kwargs.setdefault("_node_ip_address", LOOPBACK)
    runtime_env = dict(kwargs.get("runtime_env") or {})
    runtime_env["env_vars"] = {**worker_env, **(runtime_env.get("env_vars") or {})}
    kwargs["runtime_env"] = runtime_env
    return kwargs, dropped


def keeps_loopback(init: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
    """Whether Ray must keep 127.0.0.1: it starts here, or the cluster is on this machine's loopback."""
    if not joins_cluster(init, environ):
        return True
    address = init.get("address") or environ.get("RAY_ADDRESS", "")
    return is_loopback(str(address))


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of this process that every job needs in its Ray worker (those that are set)."""
    from driftline.sweep.job import WORKER_ENV

    return {name: environ[name] for name in WORKER_ENV if name in environ}


def start_ray(init_cfg: DictConfig) -> None:
    from driftline.threads import usable_cpus

    init = OmegaConf.to_container(init_cfg, resolve=True) if init_cfg is not None else {}
    assert isinstance(init, dict)
    if keeps_loopback(init, os.environ):
        os.environ.setdefault(LOOPBACK_ENV, "0")  # read once, when Ray is imported
    import ray

    if ray.is_initialized():
        log.info("Ray is already running.")
        return
    kwargs, dropped = init_arguments(init, os.environ, usable_cpus(), worker_environment(os.environ))
    if dropped:
        log.warning("joining the Ray cluster at %s: ignoring %s (the cluster's own, set by `ray start`)",
                    kwargs.get("address") or os.environ.get("RAY_ADDRESS"), ", ".join(f"init.{k}" for k in dropped))
    shown = {k: v for k, v in kwargs.items() if k != "runtime_env"}
    log.info("Initializing ray with config: %s (worker env: %s)", shown, ", ".join(sorted(kwargs["runtime_env"]["env_vars"])) or "none")
    ray.init(**kwargs)


def _run_job(hydra_context: HydraContext, sweep_config: DictConfig, task_function: TaskFunction, singleton_state: dict[Any, Any]) -> JobReturn:
    """One job, in a Ray worker: Hydra's state as in the driver, then Hydra's own run_job."""
    setup_globals()
    Singleton.set_state(singleton_state)
    HydraConfig.instance().set_config(sweep_config)
    return run_job(hydra_context=hydra_context, task_function=task_function, config=sweep_config,
                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
    """Run the jobs as Ray tasks; their JobReturns in job order."""
    setup_globals()
    assert launcher.config is not None and launcher.hydra_context is not None and launcher.task_function is not None
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    # Absolute, resolved once here: a worker resolves a relative folder against its own working directory.
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir)).absolute()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    log.info(f"Ray Launcher is launching {len(job_overrides)} jobs, sweep output dir: {sweep_dir}")
    start_ray(launcher.ray_cfg.init)
    import ray

    remote_options = OmegaConf.to_container(launcher.ray_cfg.remote, resolve=True) if launcher.ray_cfg.get("remote") else {}
    assert isinstance(remote_options, dict)
    remote = ray.remote(**remote_options)(_run_job) if remote_options else ray.remote(_run_job)
    singleton_state = Singleton.get_state()
    runs = []
    for offset, overrides in enumerate(job_overrides):
        idx = initial_job_idx + offset
        log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        sweep_config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.sweep.dir = str(sweep_dir)
            # Set by the scheduler where there is one (SLURM_JOB_ID ...); Ray has none to give.
            sweep_config.hydra.job.id = f"job_id_for_{idx}"
            sweep_config.hydra.job.num = idx
        runs.append(remote.remote(launcher.hydra_context, sweep_config, launcher.task_function, singleton_state))
    return [ray.get(run) for run in runs]
