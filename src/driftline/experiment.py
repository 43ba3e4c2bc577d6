"""Whether this process runs inside a DVC experiment, and which one.

`dvc exp run` (in the workspace, `--temp` or `--queue`) sets DVC_EXP_NAME and DVC_EXP_BASELINE_REV
in the environment of every stage command it runs. An experiment is a draft: its results reach the
project only when `dvc exp apply` brings them into the main workspace, and several run side by side
from the same commit. So driftline never writes shared, append-only state from one: the registry
refuses to register or promote, and audit records go to a journal that the experiment carries in
its promotion report (see README "Experiments and the registry").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

NAME_ENV = "DVC_EXP_NAME"
BASELINE_ENV = "DVC_EXP_BASELINE_REV"


@dataclass(frozen=True)
class Experiment:
    """The DVC experiment this process is a stage of."""

    name: str
    baseline_rev: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "baseline_rev": self.baseline_rev}


def current_experiment(environ: Mapping[str, str] | None = None) -> Experiment | None:
    """The running DVC experiment, or None in the main workspace (`dvc repro`, the CLI)."""
    env = os.environ if environ is None else environ
    name, baseline = env.get(NAME_ENV, ""), env.get(BASELINE_ENV, "")
    if not name and not baseline:
        return None
    return Experiment(name or "unnamed", baseline)
