"""DVC's run cache on the train stage: restoring a hyperparameter already trained against retraining.

    python benchmarks/bench_run_cache.py [--rows 50000] [--repeats 3]

In a throw-away copy of this project: `dvc repro credit-train` once (num_leaves 31), then
`num_leaves: 63` in pipelines/credit.yaml, `driftline compile`, `dvc repro -s credit-train` (trains),
and back. Then, `--repeats` times each: `dvc repro -s -f credit-train` (a forced retrain, which
skips the run cache) and a switch of num_leaves followed by `dvc repro -s credit-train` (a restore
from the run cache: DVC prints "is cached - skipping run"). Wall times of the whole `dvc`
command, so both include DVC's own start-up. Results go to benchmarks/results/run_cache.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
from pathlib import Path

from _project import REPO, demo_project, run

MODEL = "models/credit/model.txt"
PLAIN = "model:\n  threshold: 0.3"
LEAVES = PLAIN + "\n  params:\n    num_leaves: 63"


def leaves(root: Path, wide: bool) -> None:
    path = root / "pipelines/credit.yaml"
    text = path.read_text()
    path.write_text(text.replace(PLAIN, LEAVES, 1) if wide else text.replace(LEAVES, PLAIN, 1))
    run(["driftline", "compile"], root)


def digest(root: Path) -> str:
    return hashlib.sha256((root / MODEL).read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    root = demo_project(args.rows, "runcache", then=(["dvc", "repro", "credit-train"],))
    try:
        narrow = digest(root)
        leaves(root, True)
        run(["dvc", "repro", "-s", "credit-train"], root)
        wide = digest(root)
        retrain, restore, identical = [], [], True
        for _ in range(args.repeats):
            seconds, out = run(["dvc", "repro", "-s", "-f", "credit-train"], root)
            assert "Running stage 'credit-train'" in out, out
            retrain.append(round(seconds, 3))
            for wide_now in (False, True):
                leaves(root, wide_now)
                seconds, out = run(["dvc", "repro", "-s", "credit-train"], root)
                assert "Stage 'credit-train' is cached - skipping run" in out, out
                restore.append(round(seconds, 3))
                identical &= digest(root) == (wide if wide_now else narrow)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    doc = {
        "benchmark": "bench_run_cache",
        "what": "wall seconds of `dvc repro -s credit-train`: forced retrain vs restore from DVC's run cache",
        "rows": args.rows,
        "load_avg_1min_after": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "retrain_seconds": retrain,
        "restore_seconds": restore,
        "median_retrain_seconds": round(statistics.median(retrain), 3),
        "median_restore_seconds": round(statistics.median(restore), 3),
        "ratio_retrain_over_restore": round(statistics.median(retrain) / statistics.median(restore), 2),
        "restored_model_bytes_identical": identical,
    }
    out = REPO / "benchmarks" / "results" / "run_cache.json"
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(doc, indent=2))
    print(f"-> {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
