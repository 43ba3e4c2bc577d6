"""The train stage with and without a per-round metric on the train split, as a user runs it.

    python benchmarks/bench_train.py [--rows 1000000] [--repeats 2]

In a throw-away copy of this project at `--rows` loan applications: `dvc repro credit-featurize`
once, then `driftline run train credit` (the stage's own process, the wall time a user waits) with
`model.train_curve` set in conf/model/lgbm.yaml and compiled, as a user would change it:

- `full`: LightGBM evaluates the whole train split every round (what the stage did before issue 15);
- `none`: the default, the train split's metrics are evaluated once, at the best iteration;
- `sample`: every round on a fixed sample of `train_curve_rows` rows.

The conditions alternate (full, none, sample, full, none, ...) so that load on a shared machine
falls on all of them alike. Reports, per condition: wall and CPU seconds of each run (the best is
the figure), the stage's own training seconds, the model file's SHA-256 (must be one value for all:
the curve changes no tree), best iteration and the valid and train AUC at it; and the ratio of
each condition's best wall and CPU time to `full`'s (CPU time is the steadier figure on a busy machine). Results go to benchmarks/results/train.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import time
from pathlib import Path

from _project import ENV, demo_project, machine, run, write_results

CURVES = ("full", "none", "sample")


def set_curve(root: Path, curve: str) -> None:
    conf = root / "conf/model/lgbm.yaml"
    conf.write_text(re.sub(r"(?m)^train_curve: \w+$", f"train_curve: {curve}", conf.read_text()))
    run(["driftline", "compile"], root)


def train_once(root: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(["driftline", "run", "train", "credit"], cwd=root, env=ENV, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"driftline run train credit failed:\n{proc.stdout}\n{proc.stderr}")
    summary = json.loads((root / "reports/credit/live/metrics.json").read_text())
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
        "training_s": summary["seconds"],
        "best_iteration": summary["best_iteration"],
        "valid_auc": summary["valid"]["auc"],
        "train_auc": summary["train"]["auc"],
        "model_sha256": hashlib.sha256((root / "models/credit/model.txt").read_bytes()).hexdigest(),
        "load_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    load = os.getloadavg()
    root = demo_project(args.rows, "train", then=(["dvc", "repro", "credit-featurize"],))
    runs: dict[str, list[dict]] = {curve: [] for curve in CURVES}
    try:
        for _ in range(args.repeats):
            for curve in CURVES:
                set_curve(root, curve)
                runs[curve].append(train_once(root))
                print(f"{curve:>6}: {runs[curve][-1]}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    best = {curve: min(r["wall_s"] for r in results) for curve, results in runs.items()}
    best_cpu = {curve: min(r["cpu_s"] for r in results) for curve, results in runs.items()}
    models = {r["model_sha256"] for results in runs.values() for r in results}
    aucs = {(r["valid_auc"], r["train_auc"], r["best_iteration"]) for results in runs.values() for r in results}
    write_results("train", {
        "benchmark": "bench_train",
        "what": "`driftline run train credit` with model.train_curve full (the stage before issue 15), none (the default), sample",
        "rows": args.rows,
        "machine": machine(load),
        "runs": runs,
        "best_wall_s": best,
        "ratio_to_full": {curve: round(best[curve] / best["full"], 3) for curve in CURVES},
        "best_cpu_s": best_cpu,
        "cpu_ratio_to_full": {curve: round(best_cpu[curve] / best_cpu["full"], 3) for curve in CURVES},
        "one_model_for_all": len(models) == 1,
        "same_auc_and_best_iteration": len(aucs) == 1,
    })
    if len(models) != 1 or len(aucs) != 1:
        raise SystemExit("the train curve changed the model: see benchmarks/results/train.json")


if __name__ == "__main__":
    main()
