"""The credit model trained locally and on Dask (a LocalCluster of 2 one-thread workers): time and AUC.

    python benchmarks/bench_dask_training.py [--rows 200000]

In a throw-away copy of this project: `dvc repro credit-featurize` once, then, in one fresh process
per engine, driftline's own `fit_model` on the prepared credit features with the demo's model config,
`model.engine` set to `local` or `dask` (rounds from an early-stopped run on a 100,000-row sample).
The dask time includes starting and stopping the local cluster and the sample run. AUCs are the
valid and test splits', computed by driftline's evaluate code from the model each engine saved.
Both engines share this machine's CPUs: this measures the wiring's cost, not a cluster's speed-up.
Results go to benchmarks/results/dask_training.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from _project import ENV, REPO, demo_project

# Runs in a fresh process per engine (a fair start for imports and threads).
TRAIN = """
import json, sys, time
from pathlib import Path
from driftline.sweep.job import feature_matrices, prepared
from driftline.models.evaluate import compute_metrics
from driftline.models.train import encode_target, fit_model, predict_scores
root, engine = Path(sys.argv[1]), sys.argv[2]
prep = prepared(root, "credit")
cfg = prep.base
fitted, data, _ = feature_matrices(root, prep, cfg)
spec = cfg.model.model_copy(update={"engine": engine})
(X_train, y_train), (X_valid, y_valid) = data["train"], data["valid"]
started = time.perf_counter()
result = fit_model(X_train, y_train, X_valid, y_valid, cfg.task, spec, feature_names=fitted.feature_columns,
                   categorical=list(fitted.categorical))
seconds = time.perf_counter() - started
auc = {}
for split in ("valid", "test"):
    X, y = data[split]
    auc[split] = compute_metrics(encode_target(y, cfg.task, None), predict_scores(result.booster, X, cfg.task), cfg.task)["roc_auc"]
print(json.dumps({"seconds": round(seconds, 3), "trees": result.booster.num_trees(), "train_rows": len(X_train),
                  "roc_auc": auc, "dask": result.dask}))
"""


def train(root: Path, engine: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", TRAIN, str(root), engine], cwd=root, env=ENV, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} training failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()

    root = demo_project(args.rows, "dask-training", then=(["dvc", "repro", "credit-featurize"],))
    try:
        results = {}
        for engine in ("local", "dask"):
            results[engine] = {"load_avg_1min_before": round(os.getloadavg()[0], 2), **train(root, engine)}
            print(engine, results[engine]["seconds"], "s, valid AUC", results[engine]["roc_auc"]["valid"], flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    doc = {
        "benchmark": "bench_dask_training",
        "what": "credit model, driftline fit_model, model.engine local vs dask (LocalCluster, 2 workers x 1 thread, on this machine)",
        "rows": args.rows,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "note": "one machine shared with other sessions: the dask time is the cost of the wiring (cluster start, sample run, "
                "data transfer), not a measure of a multi-machine speed-up",
        "python": platform.python_version(),
        "results": results,
        "ratio_dask_over_local_seconds": round(results["dask"]["seconds"] / results["local"]["seconds"], 2),
        "valid_auc_dask_minus_local": round(results["dask"]["roc_auc"]["valid"] - results["local"]["roc_auc"]["valid"], 4),
        "test_auc_dask_minus_local": round(results["dask"]["roc_auc"]["test"] - results["local"]["roc_auc"]["test"], 4),
    }
    out = REPO / "benchmarks" / "results" / "dask_training.json"
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: doc[k] for k in doc if k.startswith(("ratio", "valid", "test"))}, indent=2))
    print(f"-> {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
