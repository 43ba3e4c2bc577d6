"""Benchmark the drift-statistics core against per-column scipy calls.

Run:  python benchmarks/bench_drift.py            (1M reference × 1M current rows)
      python benchmarks/bench_drift.py --rows 100000   (quick check)

Writes benchmarks/results/drift.json (generated; rerun the command above to refresh it) and
prints a small table. Measured, all in one process, on seeded synthetic data with 20 numeric
and 5 categorical columns, some of them drifted:

(a) building the reference profile — done once, at training time — and saving/loading it;
(b) the full report from the stored profile: KS + Wasserstein + PSI + missing share for every
    numeric column, chi2 + Jensen–Shannon + missing share for every categorical one
    (`driftline.drift.stats.run_tests`), wall time by time.perf_counter (first run and best of
    --repeat) and peak memory by tracemalloc in a separate, untimed run (numpy reports its
    buffers to tracemalloc, so the peak includes them; it is the peak above what was
    allocated before the report started);
(b2) the monitor's own path as the stage runs it, `driftline.drift.monitor.column_report` with the
    default monitor config: the deciding test, the informative tests, the missing share and the
    report's histograms, in CPU seconds (time.process_time) beside the kernel's (issue 15);
(c) the naive baseline: scipy's ks_2samp, wasserstein_distance and chi2_contingency per
    column on the raw arrays (NaN dropped, category counts by value_counts on both sides).

Every statistic is compared with scipy's; the largest absolute difference must be ≤ 1e-9.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy
from scipy import stats
from scipy.spatial.distance import jensenshannon

from driftline.atomic import write_json
from driftline.config.groups import MonitorSpec
from driftline.drift.monitor import column_report
from driftline.drift.profile import load_profile, profile_frame, save_profile
from driftline.drift.stats import run_tests

RESULTS = Path(__file__).parent / "results" / "drift.json"
TOLERANCE = 1e-9
TARGET_SECONDS = 1.0
TARGET_PEAK_MB = 500.0

# (name, generator of reference values, injected change for the current batch)
NUMERIC_COLUMNS: list[tuple[str, str, str]] = [
    ("num_00", "normal", "none"),
    ("num_01", "normal", "shift 0.02 sd"),
    ("num_02", "normal", "shift 0.25 sd"),
    ("num_03", "normal", "scale x1.3"),
    ("num_04", "lognormal", "none"),
    ("num_05", "lognormal", "shift 0.1 sd"),
    ("num_06", "integer", "none"),
    ("num_07", "integer", "rate +10%"),
    ("num_08", "rounded", "none"),
    ("num_09", "rounded", "missing 2% -> 15%"),
    ("num_10", "uniform", "none"),
    ("num_11", "uniform", "shift 0.5 sd"),
    ("num_12", "normal", "none"),
    ("num_13", "normal", "none"),
    ("num_14", "lognormal", "none"),
    ("num_15", "integer", "none"),
    ("num_16", "rounded", "none"),
    ("num_17", "uniform", "none"),
    ("num_18", "normal", "none"),
    ("num_19", "normal", "shift 1 sd"),
]
CATEGORICAL_COLUMNS: list[tuple[str, int, str]] = [
    ("cat_0", 5, "none"),
    ("cat_1", 12, "mix change"),
    ("cat_2", 30, "none"),
    ("cat_3", 8, "unseen category 3%"),
    ("cat_4", 50, "none"),
]


# ----------------------------------------------------------------------------------- data


def _numeric(rng: np.random.Generator, family: str, n: int, change: str) -> np.ndarray:
    shift = float(change.split()[1]) if change.startswith("shift") else 0.0
    if family == "normal":
        values = rng.normal(50.0 + 10.0 * shift, 10.0 * (1.3 if change.startswith("scale") else 1.0), n)
    elif family == "lognormal":
        values = rng.lognormal(3.0, 0.5, n) + shift * 11.0
    elif family == "integer":
        values = rng.poisson(4.0 * (1.1 if change.startswith("rate") else 1.0), n).astype(np.float64)
    elif family == "rounded":
        values = np.round(rng.normal(0.0, 1.0, n), 2)
    else:
        values = rng.uniform(0.0, 1.0, n) + shift * 0.2887
    missing = 0.15 if change.startswith("missing") else 0.02
    values[rng.uniform(size=n) < missing] = np.nan
    return values


def _categorical(rng: np.random.Generator, levels: int, n: int, change: str, current: bool) -> pd.Series:
    names = np.array([f"level_{i:02d}" for i in range(levels)] + ["brand_new"])
    weights = np.linspace(1.0, 3.0, levels)
    if current and change == "mix change":
        weights = weights[::-1]
    shares = np.r_[weights / weights.sum(), 0.0]
    if current and change.startswith("unseen"):
        shares = np.r_[shares[:-1] * 0.97, 0.03]
    values = names[rng.choice(levels + 1, size=n, p=shares)].astype(object)
    values[rng.uniform(size=n) < 0.01] = None
    return pd.Series(values, dtype="str")


def make_frames(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(seed)
    reference: dict[str, Any] = {}
    current: dict[str, Any] = {}
    for name, family, change in NUMERIC_COLUMNS:
        reference[name] = _numeric(rng, family, rows, "none")
        current[name] = _numeric(rng, family, rows, change)
    for name, levels, change in CATEGORICAL_COLUMNS:
        reference[name] = _categorical(rng, levels, rows, change, current=False)
        current[name] = _categorical(rng, levels, rows, change, current=True)
    kinds = {name: "numeric" for name, _, _ in NUMERIC_COLUMNS}
    kinds |= {name: "categorical" for name, _, _ in CATEGORICAL_COLUMNS}
    return pd.DataFrame(reference), pd.DataFrame(current), kinds


# ------------------------------------------------------------------------------ baseline


def scipy_baseline(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[float, dict[str, dict[str, float]]]:
    """The per-column scipy calls a first implementation would make; returns (seconds, stats)."""
    found: dict[str, dict[str, float]] = {}
    start = time.perf_counter()
    for name, _, _ in NUMERIC_COLUMNS:
        ref = reference[name].dropna().to_numpy()
        cur = current[name].dropna().to_numpy()
        ks = stats.ks_2samp(ref, cur)
        found[name] = {
            "ks_statistic": float(ks.statistic),
            "ks_p_value": float(ks.pvalue),
            "wasserstein": float(stats.wasserstein_distance(ref, cur)),
        }
    for name, _, _ in CATEGORICAL_COLUMNS:
        table = pd.concat(
            [reference[name].value_counts(dropna=True), current[name].value_counts(dropna=True)], axis=1
        ).fillna(0)
        observed = table.to_numpy().T
        chi2 = stats.chi2_contingency(observed)
        found[name] = {"chi2_statistic": float(chi2.statistic), "chi2_p_value": float(chi2.pvalue)}
    seconds = time.perf_counter() - start
    for name, _, _ in CATEGORICAL_COLUMNS:  # not timed: our report has it, the baseline does not
        table = pd.concat(
            [reference[name].value_counts(dropna=True), current[name].value_counts(dropna=True)], axis=1
        ).fillna(0)
        observed = table.to_numpy().T
        found[name]["jensen_shannon"] = float(jensenshannon(observed[0], observed[1], base=2))
    return seconds, found


# ------------------------------------------------------------------------------------ main


def _ours(report: dict[str, list[Any]]) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for column, results in report.items():
        by_test = {r.test: r for r in results}
        if "ks" in by_test:
            found[column] = {
                "ks_statistic": by_test["ks"].statistic,
                "ks_p_value": by_test["ks"].p_value,
                "wasserstein": by_test["wasserstein"].details["distance"],
            }
        else:
            found[column] = {
                "chi2_statistic": by_test["chi2"].statistic,
                "chi2_p_value": by_test["chi2"].p_value,
                "jensen_shannon": by_test["jensen_shannon"].statistic,
            }
    return found


def _column_summary(report: dict[str, list[Any]], changes: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for column, results in report.items():
        row: dict[str, Any] = {"column": column, "injected_change": changes[column]}
        for r in results:
            row[r.test] = {"statistic": r.statistic, "p_value": r.p_value, "drifted": r.drifted}
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in reference and in current")
    parser.add_argument("--threads", type=int, default=2, help="threads for the report")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of the report")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    print(f"generating {args.rows:,} × {len(NUMERIC_COLUMNS) + len(CATEGORICAL_COLUMNS)} reference and current rows …")
    reference, current, kinds = make_frames(args.rows, args.seed)

    start = time.perf_counter()
    profiles = profile_frame(reference, kinds)
    profile_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        json_path, npz_path = Path(tmp) / "profile.json", Path(tmp) / "profile.npz"
        start = time.perf_counter()
        save_profile(profiles, json_path, npz_path)
        save_seconds = time.perf_counter() - start
        profile_bytes = json_path.stat().st_size + npz_path.stat().st_size
        start = time.perf_counter()
        stored = load_profile(json_path, npz_path)
        load_seconds = time.perf_counter() - start
    del profiles

    load_before = os.getloadavg()[0]
    timings, cpu_timings = [], []
    report: dict[str, list[Any]] = {}
    for _ in range(args.repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        report = run_tests(stored, current, n_threads=args.threads)
        timings.append(time.perf_counter() - start)
        cpu_timings.append(time.process_time() - cpu_start)
    serial_timings = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        run_tests(stored, current, n_threads=1)
        serial_timings.append(time.perf_counter() - start)
    serial_seconds = min(serial_timings)
    columns = list(current.columns)
    spec = MonitorSpec()
    path_seconds, path_cpu = [], []
    for _ in range(args.repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        column_report(stored, current, columns, spec)
        path_seconds.append(time.perf_counter() - start)
        path_cpu.append(time.process_time() - cpu_start)
    load_after = os.getloadavg()[0]

    tracemalloc.start()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    run_tests(stored, current, n_threads=args.threads)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_mb = (peak - before) / 2**20

    print("running the scipy baseline (takes a while) …")
    baseline_seconds, theirs = scipy_baseline(reference, current)
    ours = _ours(report)
    max_diff: dict[str, float] = {}
    for column, values in theirs.items():
        for key, value in values.items():
            max_diff[key] = max(max_diff.get(key, 0.0), abs(ours[column][key] - value))

    best = min(timings)
    changes = {name: change for name, _, change in NUMERIC_COLUMNS}
    changes |= {name: change for name, _, change in CATEGORICAL_COLUMNS}
    results = {
        "_generated_by": "benchmarks/bench_drift.py — regenerate with `python benchmarks/bench_drift.py`",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "pandas": pd.__version__,
            "platform": platform.platform(),
        },
        "config": {
            "rows_reference": args.rows,
            "rows_current": args.rows,
            "numeric_columns": len(NUMERIC_COLUMNS),
            "categorical_columns": len(CATEGORICAL_COLUMNS),
            "threads": args.threads,
            "repeat": args.repeat,
            "seed": args.seed,
        },
        "profile": {
            "build_seconds": profile_seconds,
            "save_seconds": save_seconds,
            "load_seconds": load_seconds,
            "stored_bytes": profile_bytes,
        },
        "report": {
            "seconds_first": timings[0],
            "seconds_best": best,
            "seconds_all": timings,
            "seconds_median": float(np.median(timings)),
            "cpu_seconds_all": cpu_timings,
            "seconds_single_thread_best": serial_seconds,
            "seconds_single_thread_all": serial_timings,
            "load_average_1min_before_after": [load_before, load_after],
            "timing_method": "time.perf_counter around run_tests on the loaded profile; "
            "the machine is shared, so see the load average",
            "peak_mb_tracemalloc": peak_mb,
            "memory_method": "tracemalloc peak above the start of a separate untimed run (numpy buffers included)",
            "tests": "numeric: ks, wasserstein, psi, missing_share; categorical: chi2, jensen_shannon, missing_share",
        },
        "monitor_path": {
            "what": "drift.monitor.column_report with MonitorSpec() defaults: deciding + informative tests, missing share, histograms",
            "seconds_best": min(path_seconds),
            "seconds_all": path_seconds,
            "cpu_seconds_best": min(path_cpu),
            "cpu_seconds_all": path_cpu,
            "ratio_cpu_over_kernel_cpu": min(path_cpu) / min(cpu_timings),
        },
        "baseline": {
            "seconds": baseline_seconds,
            "tests": "scipy ks_2samp + wasserstein_distance per numeric column, chi2_contingency per categorical",
        },
        "ratio_baseline_over_report_best": baseline_seconds / best,
        "max_abs_diff_vs_scipy": max_diff,
        "checks": {
            "report_within_1s": best <= TARGET_SECONDS,
            "peak_within_500mb": peak_mb <= TARGET_PEAK_MB,
            "all_diffs_within_1e-9": all(v <= TOLERANCE for v in max_diff.values()),
        },
        "columns": _column_summary(report, changes),
    }
    write_json(args.output, results)

    print()
    print(f"{'measure':<44}{'value':>16}")
    print("-" * 60)
    rows = [
        ("profile build, once (s)", f"{profile_seconds:.3f}"),
        ("profile save / load (s)", f"{save_seconds:.2f} / {load_seconds:.2f}"),
        (f"report, {args.threads} threads, first / best (s)", f"{timings[0]:.3f} / {best:.3f}"),
        (f"report, {args.threads} threads, median (s)", f"{float(np.median(timings)):.3f}"),
        ("report, 1 thread, best (s)", f"{serial_seconds:.3f}"),
        ("kernel CPU, best (s)", f"{min(cpu_timings):.3f}"),
        ("monitor path (column_report) CPU, best (s)", f"{min(path_cpu):.3f}"),
        ("monitor path / kernel, CPU", f"{min(path_cpu) / min(cpu_timings):.1f}x"),
        ("load average before / after", f"{load_before:.2f} / {load_after:.2f}"),
        ("report peak memory, tracemalloc (MB)", f"{peak_mb:.0f}"),
        ("scipy baseline (s)", f"{baseline_seconds:.2f}"),
        ("ratio baseline / report", f"{baseline_seconds / best:.1f}x"),
    ]
    rows += [(f"max |diff| {key}", f"{value:.2e}") for key, value in sorted(max_diff.items())]
    for label, value in rows:
        print(f"{label:<44}{value:>16}")
    print()
    for row in results["columns"]:
        flags = [t for t in ("ks", "wasserstein", "psi", "missing_share", "chi2", "jensen_shannon") if row.get(t, {}).get("drifted")]
        print(f"  {row['column']:<8} {row['injected_change']:<22} drifted by: {', '.join(flags) or '-'}")
    print(f"\nwrote {args.output}")
    return 0 if all(results["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
