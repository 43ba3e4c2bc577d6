"""`hydra/launcher=ray`: the launcher's structured config, registered in Hydra's ConfigStore.

No `from __future__ import annotations` here: Hydra's plugin scan runs this module before it is in
sys.modules, where dataclasses cannot resolve string annotations.
"""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class RayConf:
    # Arguments of ray.init; null ones are not passed (add others with `+hydra.launcher.ray.init.<name>=`).
    # Without an address the launcher starts Ray on this machine, listening on 127.0.0.1 only, without
    # its dashboard, with the CPUs this process may use. With one, it joins that cluster, whose
    # resources are its own: num_cpus, num_gpus and object_store_memory are then ignored.
    init: dict[str, Any] = field(default_factory=lambda: {"address": None, "num_cpus": None, "num_gpus": None, "object_store_memory": None})
    # Options of each job's remote task (ray.remote(**remote)), e.g. num_cpus, memory, max_retries.
    remote: dict[str, Any] = field(default_factory=dict)


@dataclass
class RayLauncherConf:
    _target_: str = "hydra_plugins.driftline_ray_launcher.ray_launcher.RayLauncher"
    ray: RayConf = field(default_factory=RayConf)


ConfigStore.instance().store(group="hydra/launcher", name="ray", node=RayLauncherConf, provider="driftline_ray_launcher")
