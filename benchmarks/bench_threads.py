"""LightGBM training time of the credit model with 1 and 2 threads, idle and with the CPUs busy.

    python benchmarks/bench_threads.py [--rows 50000] [--repeats 3]

In a throw-away copy of this project: `dvc repro credit-featurize` once, then, in a fresh process
per condition, driftline's own `fit_model` on the prepared credit features: a fixed 120 trees
(early stopping patience 120, so every run builds the same trees). Conditions: num_threads 1 and
2, on the machine as it is ("idle") and with one `while True: pass` process per CPU ("busy"), each
with OpenMP's default wait policy and with OMP_WAIT_POLICY=passive. Reports the median seconds of
`--repeats` trainings and the ratio of 2 threads to 1. Results go to benchmarks/results/threads.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from _project import ENV, REPO, demo_project

TREES = 120

# Runs in a fresh process, so OMP_WAIT_POLICY is read when OpenMP starts. lightgbm is imported
# first, so OpenMP has started before driftline's training could choose passive waiting for it.
TRAIN = """
import lightgbm
import json, sys, time
from pathlib import Path
from driftline.sweep.job import feature_matrices, prepared
from driftline.models.train import fit_model
root, threads, repeats, trees = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
prep = prepared(root, "credit")
cfg = prep.base
fitted, data, _ = feature_matrices(root, prep, cfg)
params = {**cfg.model.params.to_lightgbm(), "num_threads": threads}
spec = cfg.model.model_copy(update={"params": type(cfg.model.params)(**params), "num_boost_round": trees, "early_stopping_rounds": trees})
(X_train, y_train), (X_valid, y_valid) = data["train"], data["valid"]
seconds = []
for _ in range(repeats):
    started = time.perf_counter()
    result = fit_model(X_train, y_train, X_valid, y_valid, cfg.task, spec, feature_names=fitted.feature_columns,
                       categorical=list(fitted.categorical))
    seconds.append(time.perf_counter() - started)
print(json.dumps({"seconds": seconds, "trees": result.booster.num_trees(), "rows": len(X_train)}))
"""


def cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def train(root: Path, threads: int, repeats: int, passive: bool) -> dict:
    env = {**ENV, "OMP_WAIT_POLICY": "passive"} if passive else {k: v for k, v in ENV.items() if k != "OMP_WAIT_POLICY"}
    env.pop("OMP_NUM_THREADS", None)
    proc = subprocess.run([sys.executable, "-c", TRAIN, str(root), str(threads), str(repeats), str(TREES)], cwd=root, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"training failed:\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"median_seconds": round(statistics.median(out["seconds"]), 3), "seconds": [round(s, 3) for s in out["seconds"]],
            "trees": out["trees"], "train_rows": out["rows"]}


def hogs(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()

    n_cpus = cpus()
    root = demo_project(args.rows, "threads", then=(["dvc", "repro", "credit-featurize"],))
    results: dict[str, dict] = {}
    try:
        for load in ("idle", "busy"):
            started = hogs(n_cpus) if load == "busy" else []
            try:
                for passive in (False, True):
                    for threads in (1, 2):
                        name = f"{load}-{'passive' if passive else 'default_wait'}-{threads}thread"
                        results[name] = {"load_avg_1min_before": round(os.getloadavg()[0], 2), **train(root, threads, args.repeats, passive)}
                        print(name, results[name]["median_seconds"], "s", flush=True)
            finally:
                for proc in started:
                    proc.kill()
                    proc.wait()
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    ratios = {f"{load}-{wait}": round(results[f"{load}-{wait}-2thread"]["median_seconds"] / results[f"{load}-{wait}-1thread"]["median_seconds"], 2)
              for load in ("idle", "busy") for wait in ("default_wait", "passive")}
    doc = {
        "benchmark": "bench_threads",
        "what": f"credit model, {TREES} trees, driftline fit_model; median of {args.repeats} trainings in one process per condition",
        "rows": args.rows,
        "cpus": n_cpus,
        "busy_means": f"{n_cpus} `while True: pass` processes running (one per CPU)",
        "note": "the 'idle' machine is shared with other sessions; load_avg_1min_before shows how idle it was",
        "python": platform.python_version(),
        "results": results,
        "ratio_2threads_over_1thread": ratios,
    }
    out = REPO / "benchmarks" / "results" / "threads.json"
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(ratios, indent=2))
    print(f"-> {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
