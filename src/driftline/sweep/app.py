"""The Hydra application behind `driftline sweep`: one call of `main` is one sweep job.

Run by `driftline sweep` (see runner.py) as

    python -m driftline.sweep.app --config-dir <root>/pipelines --config-name <pipeline> \
        hydra.searchpath=[file://<root>/conf] -m <overrides>

so every Hydra sweeper and launcher plugin works through config alone. The task function
returns the job's objective (the primary metric on the valid split) as a float, which is what
Hydra's optimising sweepers (Optuna, Nevergrad, Ax) need.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from driftline.sweep.job import ROOT_ENV

log = logging.getLogger("driftline.sweep")


@hydra.main(version_base="1.3", config_path=None, config_name=None)
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig

    from driftline.config.compose import keep_env_references
    from driftline.project import find_root
    from driftline.sweep.job import run_job

    hc = HydraConfig.get()
    root = Path(os.environ[ROOT_ENV]) if os.environ.get(ROOT_ENV) else find_root()
    keep_env_references(cfg)  # a password from the environment never reaches the job's config.yaml
    data = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    job = int(hc.job.num) if hc.job.get("num") is not None else 0
    overrides = list(hc.overrides.task)
    result = run_job(root, str(hc.job.config_name), data, Path(hc.runtime.output_dir), overrides, job)
    log.info(
        "job %d %s: valid %s %.4f, test %s %s, %d trees (%.1fs)",
        job, " ".join(overrides) or "(defaults)", result["metric"], result["objective"], result["metric"],
        f"{result['test']:.4f}" if result["test"] is not None else "n/a", result["best_iteration"], result["seconds"],
    )
    return float(result["objective"])


if __name__ == "__main__":
    main()
