"""Benchmark the promotion gate's paired tests against a per-resample loop.

Run:  python benchmarks/bench_gate.py                 (10,000 test rows, 1,000 bootstrap rounds)
      python benchmarks/bench_gate.py --rows 2000     (quick check)

Writes benchmarks/results/gate.json (generated; rerun the command above to refresh it) and prints
a small table. On seeded synthetic scores of a binary and a regression task, measured in one
process with time.perf_counter (best of --repeat):

(a) `driftline.registry.gate.bootstrap` (both models on the same resamples, every resample's
    metric computed at once by `models.evaluate.resampled_metric`) for roc_auc and rmse;
(b) `driftline.registry.gate.delong` for roc_auc;
(c) the naive baseline: a Python loop over the same resamples, sklearn's roc_auc_score or
    numpy's rmse on `y[idx]` per resample and model.

The interval ends of (a) and (c) must agree to 1e-9 (same resamples, same metric).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from driftline.atomic import write_json
from driftline.registry.gate import BOOTSTRAP_SEED, bootstrap, delong, resample_counts

RESULTS = Path(__file__).parent / "results" / "gate.json"
CONFIDENCE = 0.95


def _naive(y: np.ndarray, a: np.ndarray, b: np.ndarray, metric: str, rounds: int) -> tuple[float, float]:
    sign = 1.0 if metric == "roc_auc" else -1.0
    rows = np.arange(y.size)
    diffs = []
    for block in resample_counts(y.size, rounds, BOOTSTRAP_SEED):
        for drawn in block:
            idx = np.repeat(rows, drawn)
            if metric == "roc_auc":
                values = [roc_auc_score(y[idx], s[idx]) for s in (a, b)]
            else:
                values = [float(np.sqrt(np.mean((y[idx] - s[idx]) ** 2))) for s in (a, b)]
            diffs.append(sign * (values[0] - values[1]))
    low, high = np.quantile(diffs, [1 - CONFIDENCE, CONFIDENCE])
    return float(low), float(high)


def _best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    y = (rng.random(args.rows) < 0.3).astype(float)
    latent = y + rng.normal(size=args.rows)
    champion = 1 / (1 + np.exp(-(latent + rng.normal(0, 0.7, args.rows))))
    challenger = 1 / (1 + np.exp(-(latent + rng.normal(0, 0.7, args.rows))))
    target = rng.normal(50, 10, args.rows)
    champion_r = target + rng.normal(0, 3, args.rows)
    challenger_r = target + rng.normal(0, 3, args.rows)

    cases = {}
    for metric, task, (truth, a, b) in (("roc_auc", "binary", (y, challenger, champion)),
                                        ("rmse", "regression", (target, challenger_r, champion_r))):
        seconds, result = _best(partial(bootstrap, truth, a, b, task, metric, CONFIDENCE, rounds=args.rounds), args.repeat)
        naive_seconds, (low, high) = _best(partial(_naive, truth, a, b, metric, args.rounds), 1)
        gap = max(abs(result.low - low), abs(result.high - high))
        cases[f"bootstrap_{metric}"] = {"seconds": round(seconds, 4), "naive_seconds": round(naive_seconds, 4),
                                        "speedup": round(naive_seconds / seconds, 1), "max_interval_difference": gap}
        if gap > 1e-9:
            print(f"bootstrap {metric}: intervals differ from the naive loop by {gap}", file=sys.stderr)
            return 1
    seconds, _ = _best(lambda: delong(y, challenger, champion, CONFIDENCE), args.repeat)
    cases["delong_roc_auc"] = {"seconds": round(seconds, 5)}

    results = {
        "generated_by": "python benchmarks/bench_gate.py",
        "rows": args.rows, "rounds": args.rounds, "cases": cases,
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
                    "cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2)},
    }
    write_json(args.output, results)
    print(f"{'case':<20}{'seconds':>10}{'naive s':>10}{'speedup':>9}")
    for name, case in cases.items():
        print(f"{name:<20}{case['seconds']:>10}{case.get('naive_seconds', ''):>10}{case.get('speedup', ''):>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
