"""KLL sketches (`monitor.sketch: kll`) against the exact profile, on 1M floats.

Run:  python benchmarks/bench_sketch.py              (1M rows, k = 200 and 1000)
      python benchmarks/bench_sketch.py --rows 100000 --repeat 3   (quick check)

Writes benchmarks/results/sketch.json (generated; rerun the command above to refresh it). Measured
in one process on a seeded lognormal column (long right tail), for each k:

- build: `sketch.sketch_numeric` on the whole column, against the exact profile (`profile_numeric`,
  every value sorted) and the one promote stores today (at most 10,000 order statistics); best of
  --repeat by time.perf_counter;
- merge: 20 partition sketches (built beforehand) merged by `sketch.merge_sketches`;
- rank error: the largest |F̂ − F| over every decile and 1,000 random points, against the exact
  ECDF, for the whole-column sketch and the merged one, worst over --repeat builds (the sketch is
  randomised), with the library's bound beside it;
- the drift tests (KS, Wasserstein, PSI) on a 100,000-row current batch from the sketch and from the
  exact profile, and the statistics' differences;
- file size of the stored profile (JSON + .npz) for each.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from driftline.atomic import write_json
from driftline.drift import stats as drift
from driftline.drift.profile import profile_numeric, save_profile
from driftline.drift.sketch import merge_sketches, sketch_numeric, sorted_view
from driftline.stages.promote import PROFILE_MAX_VALUES

RESULTS = Path(__file__).parent / "results" / "sketch.json"
PARTS = 20


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return min(times), out


def max_rank_error(profile: Any, ordered: np.ndarray, points: np.ndarray) -> float:
    view = sorted_view(profile)
    at = np.abs(view.count_at_most(points) / view.n - ordered.searchsorted(points, side="right") / ordered.size)
    below = np.abs(view.count_below(points) / view.n - ordered.searchsorted(points, side="left") / ordered.size)
    return float(max(at.max(), below.max()))


def stored_bytes(profile: Any) -> int:
    with tempfile.TemporaryDirectory() as folder:
        json_path, npz_path = Path(folder) / "p.json", Path(folder) / "p.npz"
        save_profile({"x": profile}, json_path, npz_path)
        return json_path.stat().st_size + npz_path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--k", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(2026)
    values = rng.lognormal(0.0, 1.0, args.rows)
    ordered = np.sort(values)
    points = np.concatenate((np.quantile(ordered, np.arange(1, 10) / 10), rng.choice(ordered, 1000)))
    current = rng.lognormal(0.05, 1.0, 100_000)
    partitions = np.array_split(values, PARTS)

    exact_time, exact = best(lambda: profile_numeric(values, "x"), args.repeat)
    stored_time, stored = best(lambda: profile_numeric(values, "x", max_values=PROFILE_MAX_VALUES), args.repeat)
    exact_tests = {t: drift.TESTS[t](exact, current) for t in ("ks", "wasserstein", "psi")}
    exact_test_time, _ = best(lambda: [drift.TESTS[t](exact, current) for t in ("ks", "wasserstein", "psi")], args.repeat)
    results: dict[str, Any] = {
        "rows": args.rows, "partitions": PARTS, "repeat": args.repeat, "current_rows": current.size,
        "python": sys.version.split()[0], "numpy": np.__version__, "datasketches": importlib.metadata.version("datasketches"),
        "machine": platform.machine(),
        "exact": {"build_seconds": round(exact_time, 4), "profile_bytes": stored_bytes(exact)},
        "exact_10k_order_statistics": {"build_seconds": round(stored_time, 4), "profile_bytes": stored_bytes(stored)},
        "exact_tests_seconds": round(exact_test_time, 4),
        "kll": {},
    }
    for k in args.k:
        build_time, sketch = best(lambda k=k: sketch_numeric(values, "x", k), args.repeat)
        parts = [sketch_numeric(p, "x", k) for p in partitions]
        merge_time, merged = best(lambda parts=parts: merge_sketches(parts), args.repeat)
        whole_errors = [max_rank_error(sketch_numeric(values, "x", k), ordered, points) for _ in range(args.repeat)]
        merged_errors = [max_rank_error(merge_sketches([sketch_numeric(p, "x", k) for p in partitions]), ordered, points)
                         for _ in range(args.repeat)]
        sketched_tests = {t: drift.TESTS[t](merged, current) for t in ("ks", "wasserstein", "psi")}
        test_time, _ = best(lambda merged=merged: [drift.TESTS[t](merged, current) for t in ("ks", "wasserstein", "psi")],
                            args.repeat)
        results["kll"][str(k)] = {
            "build_seconds": round(build_time, 4),
            "build_ratio_to_exact": round(build_time / exact_time, 3),
            "merge_seconds": round(merge_time, 5),
            "rank_error_bound": round(sketch.error_bound, 5),
            "max_rank_error_whole": round(max(whole_errors), 5),
            "max_rank_error_merged": round(max(merged_errors), 5),
            "profile_bytes": stored_bytes(merged),
            "tests_seconds": round(test_time, 4),
            "tests": {t: {"exact": exact_tests[t].statistic, "sketch": sketched_tests[t].statistic,
                          "difference": abs(exact_tests[t].statistic - sketched_tests[t].statistic),
                          "error_bound": sketched_tests[t].details["statistic_error_bound"]}
                      for t in exact_tests},
        }
    write_json(args.output, results)
    print(f"{args.rows:,} floats: exact profile {exact_time:.3f} s, {results['exact']['profile_bytes']:,} bytes; "
          f"10k order statistics {stored_time:.3f} s, {results['exact_10k_order_statistics']['profile_bytes']:,} bytes")
    for k, row in results["kll"].items():
        print(f"k={k}: build {row['build_seconds']:.3f} s ({row['build_ratio_to_exact']}× exact), merge of {PARTS} "
              f"{row['merge_seconds'] * 1000:.2f} ms, rank error {row['max_rank_error_whole']:.2%} whole / "
              f"{row['max_rank_error_merged']:.2%} merged vs bound {row['rank_error_bound']:.2%}, "
              f"{row['profile_bytes']:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
