"""Wall time of a six-job `driftline sweep` run one job at a time and two at a time (joblib).

    python benchmarks/bench_sweep.py [--rows 50000]

In a throw-away copy of this project: `dvc repro credit-featurize` once, then the same 3 x 2 grid
(num_leaves 15,31,63 x learning_rate 0.05,0.1) with Hydra's basic launcher (sequential) and with
`hydra/launcher=joblib hydra.launcher.n_jobs=2`. Reports each sweep's wall time (Hydra start-up
and leaderboard included), the jobs' own train-and-score seconds, and the speed-up. Each job
trains with the default thread count (`driftline.threads`: the CPUs the process may use, shared
among the sweep's parallel jobs); the same pair is run again with `model.params.num_threads=1`.
Results go to benchmarks/results/sweep.json (its current figures were measured when the shipped
num_threads was 2, before the shared default; rerun to refresh them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from _project import demo_project, machine, run, write_results

GRID = ["model.params.num_leaves=15,31,63", "model.params.learning_rate=0.05,0.1"]


def project_copy(rows: int) -> Path:
    return demo_project(rows, "sweep")


def sweep(root: Path, name: str, extra: list[str]) -> dict:
    seconds, _ = run(["driftline", "sweep", "credit", "-m", *GRID, *extra, f"hydra.sweep.dir=multirun/{name}"], root)
    results = [json.loads(p.read_text()) for p in sorted((root / "multirun" / name).glob("*/result.json"))]
    best = max(results, key=lambda r: r["objective"])
    return {
        "wall_seconds": round(seconds, 2),
        "jobs": len(results),
        "job_seconds_sum": round(sum(r["seconds"] for r in results), 2),
        "best": {"overrides": best["overrides"], "valid_roc_auc": best["objective"], "test_roc_auc": best["test"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()

    load_before = os.getloadavg()
    root = project_copy(args.rows)
    try:
        prepare, _ = run(["dvc", "repro", "credit-featurize"], root)
        sequential = sweep(root, "sequential", [])
        parallel = sweep(root, "joblib2", ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"])
        one_thread = ["model.params.num_threads=1"]
        sequential_1t = sweep(root, "sequential-1thread", one_thread)
        parallel_1t = sweep(root, "joblib2-1thread", ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *one_thread])
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    result = {
        "rows": args.rows,
        "grid": GRID,
        "prepare_features_seconds": round(prepare, 2),
        "one_job_at_a_time": sequential,
        "two_jobs_at_a_time_joblib": parallel,
        "speedup": round(sequential["wall_seconds"] / parallel["wall_seconds"], 2),
        "one_thread_per_job": {
            "one_job_at_a_time": sequential_1t,
            "two_jobs_at_a_time_joblib": parallel_1t,
            "speedup": round(sequential_1t["wall_seconds"] / parallel_1t["wall_seconds"], 2),
        },
        "machine": machine(load_before),
    }
    write_results("sweep", result)


if __name__ == "__main__":
    main()
