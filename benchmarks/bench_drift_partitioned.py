"""Benchmark the reference profile of partitioned data: exact merge on Dask against today's in-memory path.

Run:  python benchmarks/bench_drift_partitioned.py                  (10M rows in 50 Parquet files)
      python benchmarks/bench_drift_partitioned.py --rows 1000000   (quick check)

Writes benchmarks/results/drift_partitioned.json (generated; rerun the command above to refresh it)
and prints a small table. Seeded synthetic rows (4 numeric columns with NaN and ±inf, 2 categorical
string columns) are written to `--files` Parquet files; then, each in its own fresh process, in one run:

(a) in memory, today's path: read every file into one frame, `profile_frame`;
(b) partitioned: `drift.partitioned.profile_partitions`, one task per file on a local dask.distributed
    cluster of `--workers` worker processes on 127.0.0.1, merged exactly in the driver;
(c) partitioned-kll: the same with `monitor.sketch: kll` (k=200): each task returns KLL sketches of its
    numeric columns, which the driver merges.

Wall time is the call's (perf_counter, cluster start-up included for (b)); peak memory is the RSS of
the process tree (the benchmark's child and, for (b), its worker processes), sampled every 20 ms by
psutil, with the driver's own peak (ru_maxrss) and the peak of the workers' summed RSS beside it.
The exact profiles are saved and compared byte for byte (JSON and .npz): the check is that they are
equal. The sketched profile is checked against the exact one: counts equal, and every numeric column's
ranks at 99 quantiles within the sketch's stated rank-error bound.

What this shows, honestly: the exact merge keeps every sorted value, so the driver ends up holding all
of them (the parts as they arrive, then the merged array): it spreads the reading and sorting over
workers but does not bound the driver's memory. Bounded memory is what KLL sketches are for: (c)
shows the driver's peak with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "drift_partitioned.json"
MODES = ("in-memory", "partitioned", "partitioned-kll")
KINDS = {"num_0": "numeric", "num_1": "numeric", "num_2": "numeric", "num_3": "numeric",
         "cat_0": "categorical", "cat_1": "categorical"}


def write_files(folder: Path, rows: int, files: int, seed: int) -> list[Path]:
    """`files` Parquet files of about rows/files rows each (written one at a time: never all in memory)."""
    import pandas as pd

    from driftline.atomic import write_parquet

    rng = np.random.default_rng(seed)
    sizes = np.full(files, rows // files)
    sizes[: rows % files] += 1
    paths = []
    levels0 = np.array([f"level_{i:02d}" for i in range(8)], dtype=object)
    levels1 = np.array([f"segment_{i:03d}" for i in range(120)], dtype=object)
    for i, n in enumerate(sizes):
        num = {f"num_{k}": v for k, v in enumerate((rng.normal(50, 10, n), rng.lognormal(3, 0.5, n),
                                                     rng.poisson(4, n).astype(np.float64), np.round(rng.normal(0, 1, n), 2)))}
        for values in num.values():
            values[rng.uniform(size=n) < 0.02] = np.nan
            values[rng.uniform(size=n) < 0.001] = np.inf
        cat0 = levels0[rng.integers(0, 8, n)]
        cat0[rng.uniform(size=n) < 0.01] = None
        frame = pd.DataFrame({**num, "cat_0": pd.Series(cat0, dtype="str"), "cat_1": pd.Series(levels1[rng.integers(0, 120, n)], dtype="str")})
        paths.append(folder / f"part-{i:03d}.parquet")
        write_parquet(paths[-1], frame)
    return paths


# ------------------------------------------------------------------------ the measured children


def child(mode: str, files: list[str], out: Path, workers: int) -> dict:
    """Build the profile one way, save it under `out`, and report time and this process's peak RSS."""
    from driftline.drift.profile import profile_frame, save_profile

    start = time.perf_counter()
    if mode == "in-memory":
        from driftline.data.sources import read_parquet_files

        frame = read_parquet_files([Path(f) for f in files], "benchmark")
        profiles = profile_frame(frame, KINDS)
    else:
        from driftline.config.cluster import ClusterSpec
        from driftline.drift.partitioned import file_partitions, profile_partitions

        sketch_k = 200 if mode == "partitioned-kll" else None
        profiles = profile_partitions(file_partitions(files), KINDS, cluster=ClusterSpec(workers=workers), sketch_k=sketch_k)
    seconds = time.perf_counter() - start
    save_profile(profiles, out / f"{mode}.json", out / f"{mode}.npz")
    return {"seconds": seconds, "own_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(mode: str, files: list[Path], out: Path, workers: int) -> dict:
    """Run `child` in a fresh process and sample the RSS of its process tree until it ends."""
    import psutil

    cmd = [sys.executable, __file__, "--child", mode, "--out", str(out), "--workers", str(workers), *map(str, files)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peaks = {"tree": 0, "workers": 0}

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                children = root.children(recursive=True)
                worker_rss = sum(c.memory_info().rss for c in children)
                tree = root.memory_info().rss + worker_rss
            except psutil.Error:
                continue
            peaks["tree"] = max(peaks["tree"], tree)
            peaks["workers"] = max(peaks["workers"], worker_rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    stdout, _ = proc.communicate()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{mode} run failed (exit {proc.returncode})")
    result = json.loads(stdout.strip().splitlines()[-1])
    return {**result, "tree_peak_rss_mb": peaks["tree"] / 2**20, "workers_peak_rss_mb_sum": peaks["workers"] / 2**20}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.paths, args.out, args.workers)))
        return 0

    from driftline.atomic import write_json

    with tempfile.TemporaryDirectory(prefix="bench-partitioned-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        files = write_files(folder, args.rows, args.files, args.seed)
        write_seconds = time.perf_counter() - start
        data_mb = sum(f.stat().st_size for f in files) / 2**20
        load_before = os.getloadavg()[0]
        runs = {mode: measure(mode, files, folder, args.workers) for mode in MODES}
        load_after = os.getloadavg()[0]
        same = all((folder / f"in-memory{ext}").read_bytes() == (folder / f"partitioned{ext}").read_bytes() for ext in (".json", ".npz"))
        profile_mb = (folder / "in-memory.npz").stat().st_size / 2**20
        sketch = sketch_check(folder)

    memory, partitioned, kll = runs["in-memory"], runs["partitioned"], runs["partitioned-kll"]
    results = {
        "_generated_by": "benchmarks/bench_drift_partitioned.py — regenerate with `python benchmarks/bench_drift_partitioned.py`",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_before": load_before, "load_after": load_after},
        "data": {"rows": args.rows, "files": args.files, "columns": KINDS, "parquet_mb": round(data_mb, 1),
                 "sorted_values_mb": round(profile_mb, 1), "write_seconds": round(write_seconds, 2)},
        "workers": args.workers,
        "in_memory": memory,
        "partitioned": partitioned,
        "ratio_partitioned_over_in_memory": {
            "seconds": partitioned["seconds"] / memory["seconds"],
            "tree_peak_rss": partitioned["tree_peak_rss_mb"] / memory["tree_peak_rss_mb"],
            "driver_peak_rss": partitioned["own_peak_rss_mb"] / memory["own_peak_rss_mb"],
        },
        "partitioned_kll": kll,
        "ratio_partitioned_kll_over_in_memory": {
            "seconds": kll["seconds"] / memory["seconds"],
            "tree_peak_rss": kll["tree_peak_rss_mb"] / memory["tree_peak_rss_mb"],
            "driver_peak_rss": kll["own_peak_rss_mb"] / memory["own_peak_rss_mb"],
        },
        "checks": {"profiles_byte_identical": same, "kll": sketch},
        "note": "the exact merge holds every sorted value in the driver at the end (parts, then the merged array), "
                "so it spreads reading and sorting over workers without bounding the driver's memory; KLL sketches bound it",
    }
    write_json(args.output, results)
    print(f"\n{args.rows:,} rows in {args.files} Parquet files ({data_mb:.0f} MB), {args.workers} workers")
    print(f"{'path':<14}{'seconds':>10}{'tree peak MB':>15}{'driver peak MB':>17}{'workers MB':>13}")
    for mode, run in runs.items():
        print(f"{mode:<14}{run['seconds']:>10.2f}{run['tree_peak_rss_mb']:>15.0f}{run['own_peak_rss_mb']:>17.0f}"
              f"{run.get('workers_peak_rss_mb_sum', 0):>13.0f}")
    print(f"profiles byte-identical: {same}\nwrote {args.output}")
    print(f"KLL: counts equal {sketch['counts_equal']}, max rank error {sketch['max_rank_error']:.4f} "
          f"(bound {sketch['error_bound']:.4f}), sketched profile {sketch['profile_kb']:.0f} kB")
    return 0 if same and sketch["within_bound"] and sketch["counts_equal"] else 1


def sketch_check(folder: Path) -> dict:
    """The sketched profile against the exact one: counts, and ranks at 99 quantiles within the bound."""
    from driftline.drift.profile import NumericProfile, load_profile
    from driftline.drift.sketch import sorted_view

    exact = load_profile(folder / "in-memory.json", folder / "in-memory.npz")
    sketched = load_profile(folder / "partitioned-kll.json", folder / "partitioned-kll.npz")
    counts_equal, worst, bound = True, 0.0, 0.0
    for name, reference in exact.items():
        got = sketched[name]
        counts_equal &= (got.n, got.n_missing) == (reference.n, reference.n_missing)
        if not isinstance(reference, NumericProfile):
            counts_equal &= dict(got.counts) == dict(reference.counts)
            continue
        values, view = reference.sorted_values, sorted_view(got)
        points = np.quantile(values, np.linspace(0.01, 0.99, 99))
        ranks = view.count_at_most(points) / view.n
        worst = max(worst, float(np.abs(ranks - values.searchsorted(points, side="right") / values.size).max()))
        bound = max(bound, got.error_bound)
    size = sum((folder / f"partitioned-kll{ext}").stat().st_size for ext in (".json", ".npz")) / 1024
    return {"counts_equal": bool(counts_equal), "max_rank_error": worst, "error_bound": bound,
            "within_bound": worst <= bound, "profile_kb": round(size, 1)}


if __name__ == "__main__":
    sys.exit(main())
