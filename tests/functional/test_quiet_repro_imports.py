"""A repro with nothing to do stays light: the monitor with no new batch and promote with an unchanged
model run on every `dvc repro` (always_changed), and neither loads the data libraries for it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HEAVY = {"pandas", "numpy", "pyarrow", "lightgbm", "sklearn", "scipy"}

# Ask the interpreter which modules it holds once the command has finished (`-X importtime` misses
# modules loaded through importlib.import_module, as the stages are).
RUN_THEN_REPORT_MODULES = """
import json, sys
from driftline.cli.main import app
code = 0
try:
    app(["run", sys.argv[1], "credit"], prog_name="driftline")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"exit": code, "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize(("step", "says"), [
    ("monitor", "no new batches (0 pending, 0 absorbed); report unchanged"),
    ("promote", "model unchanged: v0001 stays champion"),
])
def test_a_stage_with_nothing_to_do_loads_no_data_library(cli, sh, built_project: Path, step: str, says: str) -> None:
    cli(["run", "monitor", "credit"], built_project)  # the first repro reported before a champion existed
    proc = sh([sys.executable, "-c", RUN_THEN_REPORT_MODULES, step], built_project)
    assert says in proc.stdout + proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["exit"] == 0
    assert f"driftline.stages.{step}" in result["modules"], "the stage did not run"
    assert not {name.split(".")[0] for name in result["modules"]} & HEAVY
