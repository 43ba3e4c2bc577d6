"""The hand-written baseline of `benchmarks/bench_pipeline.py`, and the light start-up of a stage process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pipeline_script.py"
HEAVY = ("pandas", "pyarrow", "lightgbm", "sklearn", "dvc", "scipy")


def test_the_script_trains_a_model_that_ranks_better_than_chance(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--rows", "2000", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout.strip().splitlines()[-1])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert printed["rows"] == 2000 and 290 <= metrics["n"] <= 310  # the test split: 15% of 2,000 rows, per class
    assert metrics["roc_auc"] == printed["roc_auc"] > 0.6
    assert (tmp_path / "model.txt").read_text().startswith("tree")
    assert 1 <= printed["best_iteration"] <= 1000


def test_the_cli_and_a_stage_context_start_without_data_libraries() -> None:
    code = ("import sys, driftline.cli.main, driftline.stages.context; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == ""
