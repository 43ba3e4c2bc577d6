"""Wall times of the credit pipeline as a user meets them, in a throw-away copy of this project.

    python benchmarks/bench_pipeline.py [--rows 50000 1000000]

Measures, per size: the full `dvc repro credit-evaluate`, a no-op `dvc repro`, and each stage's own
time as driftline reports it; once: `driftline --help` start-up and the start-up of a non-training
stage (`driftline run split credit`, which reads params.yaml, checks it is current and splits).
Baseline in the same run: `python -c pass` and `python -c "import pandas"`, so the figures can be
read as ratios on any machine. Results go to benchmarks/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _project import ENV, REPO, demo_project


def timed(cmd: list[str], cwd: Path, repeat: int = 1) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
        out = proc.stdout
    return statistics.median(times), out


def project_copy(rows: int) -> Path:
    return demo_project(rows, "pipeline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 1_000_000])
    args = parser.parse_args()
    results: dict[str, object] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    here = Path.cwd()
    results["baseline_python_start_s"] = round(timed([sys.executable, "-c", "pass"], here, 5)[0], 3)
    results["baseline_import_pandas_s"] = round(timed([sys.executable, "-c", "import pandas"], here, 5)[0], 3)
    results["driftline_help_s"] = round(timed(["driftline", "--help"], here, 5)[0], 3)
    for rows in args.rows:
        root = project_copy(rows)
        try:
            full, out = timed(["dvc", "repro", "credit-evaluate"], root)
            stage_times = {m[0]: float(m[1]) for m in re.findall(r"^credit-(\w+): .*\((\d+\.\d+)s\)$", out, re.M)}
            noop, _ = timed(["dvc", "repro", "credit-evaluate"], root, 3)
            stage_start, _ = timed(["driftline", "run", "split", "credit"], root, 3)
            results[f"rows_{rows}"] = {
                "dvc_repro_credit_s": round(full, 2),
                "noop_dvc_repro_s": round(noop, 2),
                "stage_seconds_inside": stage_times,
                "driftline_run_split_s": round(stage_start, 3),
            }
            print(f"{rows:>9,} rows: dvc repro {full:.1f}s, no-op {noop:.2f}s, stages {stage_times}")
        finally:
            shutil.rmtree(root, ignore_errors=True)
    out_file = REPO / "benchmarks/results/pipeline.json"
    out_file.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(results, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
