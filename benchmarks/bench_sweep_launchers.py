"""Wall time of the same four-job `driftline sweep` on each launcher: basic, joblib (2 jobs), Ray (started locally).

    python benchmarks/bench_sweep_launchers.py [--rows 50000]

In a throw-away copy of this project: `dvc repro credit-featurize` once, then the 2 x 2 grid
(num_leaves 15,31 x learning_rate 0.05,0.1) with Hydra's basic launcher (one job at a time, in the
Hydra process), `hydra/launcher=joblib hydra.launcher.n_jobs=2` (two loky worker processes) and
`hydra/launcher=ray` (the launcher starts Ray on 127.0.0.1 with the usable CPUs; one CPU per task,
so two at a time here). Each wall time includes Hydra's start-up, the launcher's own start (worker
processes, Ray's head and workers) and the leaderboard. All three must give the same leaderboard:
the benchmark fails otherwise. Results go to benchmarks/results/sweep_launchers.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
from pathlib import Path

from _project import demo_project, machine, run, write_results

GRID = ["model.params.num_leaves=15,31", "model.params.learning_rate=0.05,0.1"]
LAUNCHERS = {
    "basic": [],
    "joblib_n_jobs_2": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "ray_local": ["hydra/launcher=ray"],
}


def sweep(root: Path, name: str, extra: list[str]) -> tuple[dict, list[dict[str, str]]]:
    seconds, _ = run(["driftline", "sweep", "credit", *GRID, *extra, f"hydra.sweep.dir=multirun/{name}"], root)
    folder = root / "multirun" / name
    results = [json.loads(p.read_text()) for p in sorted(folder.glob("*/result.json"))]
    with open(folder / "leaderboard.csv", newline="") as fh:
        board = [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]
    return {"wall_seconds": round(seconds, 2), "jobs": len(results), "job_seconds_sum": round(sum(r["seconds"] for r in results), 2)}, board


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()

    load_before = os.getloadavg()
    root = demo_project(args.rows, "sweep-launchers")
    try:
        prepare, _ = run(["dvc", "repro", "credit-featurize"], root)
        timings, boards = {}, {}
        for name, extra in LAUNCHERS.items():
            timings[name], boards[name] = sweep(root, name, extra)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    different = [name for name, board in boards.items() if board != boards["basic"]]
    if different:
        raise SystemExit(f"the leaderboards differ from the basic launcher's: {different}")
    basic = timings["basic"]["wall_seconds"]
    result = {
        "rows": args.rows,
        "grid": GRID,
        "prepare_features_seconds": round(prepare, 2),
        "launchers": timings,
        "wall_time_ratio_to_basic": {name: round(t["wall_seconds"] / basic, 2) for name, t in timings.items()},
        "same_leaderboard": True,
        "best": boards["basic"][0],
        "machine": machine(load_before),
    }
    write_results("sweep_launchers", result)


if __name__ == "__main__":
    main()
