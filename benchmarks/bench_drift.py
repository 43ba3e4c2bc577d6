"""Benchmark the drift-statistics core against per-column scipy calls, and the monitor against Evidently.

Run:  python benchmarks/bench_drift.py            (1M reference × 1M current rows, Evidently included)
      python benchmarks/bench_drift.py --rows 100000   (quick check; add --evidently to compare there too)

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
    column on the raw arrays (NaN dropped, category counts by value_counts on both sides);
(d) Evidently 0.7's `Report([DataDriftPreset()])` on the same frames (written to Parquet and read
    back), in its own virtual environment because it needs pandas<3: made once, outside the
    repo, in ~/.cache/driftline-bench/evidently (`python -m venv`, then pip install
    "evidently==0.7.*" "pandas<3" pyarrow), and run there by benchmarks/_evidently_child.py.
    Its CPU seconds (time.process_time in the child, the Parquet read excluded) are divided by the
    monitor path's (target ≥ 100×), and its verdict on each column is set beside driftline's.
    On by default at 1M rows (`--no-evidently` skips it); when the venv cannot be made the results
    say so and carry no Evidently figure.

Every statistic is compared with scipy's; the largest absolute difference must be ≤ 1e-9.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from driftline.cpu import NUMPY_DISABLE_ENV, prefer_fast_sort

# As the `driftline` command does before numpy loads (driftline.cpu): on AMD Zen 4, numpy's AVX2
# sort instead of its microcoded AVX-512 one. Evidently's process inherits the same setting.
prefer_fast_sort()

import numpy as np
import pandas as pd
import scipy
from _project import machine
from scipy import stats
from scipy.spatial.distance import jensenshannon

from driftline.atomic import write_json
from driftline.config.groups import MonitorSpec
from driftline.drift.monitor import column_report
from driftline.drift.profile import load_profile, profile_frame, save_profile
from driftline.drift.report import ColumnDrift
from driftline.drift.stats import run_tests

RESULTS = Path(__file__).parent / "results" / "drift.json"
TOLERANCE = 1e-9
#: The scipy baseline's seconds over the kernel's best, in the same run (12.6x measured at 1M x 1M).
#: A ratio, not a time: an absolute "report within 1 s" flipped with the machine's load.
TARGET_RATIO_BASELINE = 10.0
TARGET_PEAK_MB = 500.0
#: Evidently's CPU seconds over the monitor path's, on the same frames (issue 15).
TARGET_RATIO_EVIDENTLY = 100.0
EVIDENTLY_VENV = Path.home() / ".cache" / "driftline-bench" / "evidently"
EVIDENTLY_PACKAGES = ("evidently==0.7.*", "pandas<3", "pyarrow")
EVIDENTLY_CHILD = Path(__file__).parent / "_evidently_child.py"

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


# ------------------------------------------------------------------------------ Evidently


def _evidently_ready(python: Path) -> str | None:
    """Evidently's and pandas' versions in the venv, if they are the ones wanted (0.7.x, pandas<3)."""
    if not python.exists():
        return None
    probe = "import evidently, pandas, pyarrow; print(evidently.__version__, pandas.__version__)"
    proc = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None
    evidently, pandas = proc.stdout.split()
    return proc.stdout.strip() if evidently.startswith("0.7.") and int(pandas.split(".")[0]) < 3 else None


def evidently_python(venv: Path = EVIDENTLY_VENV) -> tuple[Path | None, str]:
    """The interpreter of Evidently's own venv, made once and cached outside the repo; or None and why."""
    python = venv / "bin" / "python"
    if _evidently_ready(python):
        return python, f"cached venv {venv}"
    print(f"making Evidently's venv (once): {venv} …")
    venv.parent.mkdir(parents=True, exist_ok=True)
    for cmd in ([sys.executable, "-m", "venv", "--clear", str(venv)],
                [str(python), "-m", "pip", "install", "-q", *EVIDENTLY_PACKAGES]):
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return None, f"`{' '.join(cmd)}` failed: {(proc.stderr or proc.stdout).strip()[-500:]}"
    if not _evidently_ready(python):
        return None, f"{venv} was made but does not import evidently 0.7 with pandas<3"
    return python, f"venv made now: {venv}"


def run_evidently(reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, str]) -> dict[str, Any]:
    """Evidently's DataDriftPreset on the same frames, in its own venv: its JSON, or {"error": why}."""
    python, how = evidently_python()
    if python is None:
        return {"error": f"Evidently could not be set up, so it was not run: {how}"}
    numeric = ",".join(c for c, kind in kinds.items() if kind == "numeric")
    categorical = ",".join(c for c, kind in kinds.items() if kind != "numeric")
    with tempfile.TemporaryDirectory(prefix="driftline-bench-evidently-") as tmp:
        ref_path, cur_path = Path(tmp) / "reference.parquet", Path(tmp) / "current.parquet"
        reference.to_parquet(ref_path)
        current.to_parquet(cur_path)
        print("running Evidently's DataDriftPreset in its own venv (takes minutes at 1M rows) …")
        proc = subprocess.run([str(python), str(EVIDENTLY_CHILD), str(ref_path), str(cur_path), numeric, categorical],
                              capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": f"Evidently's run failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}"}
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    found["venv"] = how
    return found


def compare_verdicts(ours: list[ColumnDrift], theirs: dict[str, Any], changes: dict[str, str]) -> list[dict[str, Any]]:
    """Per column: the injected change, driftline's verdict (deciding test, statistic), Evidently's
    (method, score), whether they agree, and why not when they differ."""
    rows = []
    for column in sorted(ours, key=lambda c: c.name):
        them = theirs.get(column.name, {})
        row: dict[str, Any] = {
            "column": column.name,
            "injected_change": changes[column.name],
            "driftline": {"drifted": column.drifted, "test": column.test, "statistic": column.statistic,
                          "threshold": column.threshold, "missing_share_drifted": column.missing.drifted},
            "evidently": {"drifted": them.get("drifted"), "method": them.get("method"), "score": them.get("score"),
                          "threshold": them.get("threshold")},
        }
        row["agree"] = them.get("drifted") is not None and bool(them["drifted"]) == column.drifted
        if not row["agree"]:
            row["why_differ"] = _why_differ(column, them)
        rows.append(row)
    return rows


def _why_differ(column: ColumnDrift, them: dict[str, Any]) -> str:
    if them.get("drifted") is None:
        return "Evidently gave no verdict for this column"
    deciding = column.statistic is not None and column.statistic >= column.threshold
    if column.drifted and column.missing.drifted and not deciding:
        return (f"the missing share rose from {column.missing.reference:.1%} to {column.missing.current:.1%}: "
                "driftline flags it, Evidently drops missing values before testing")
    return (f"driftline's {column.test} is {_fmt(column.statistic)} against {column.threshold}, "
            f"Evidently's {them.get('method')} is {_fmt(them.get('score'))} against {them.get('threshold')}")


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
    parser.add_argument("--evidently", action=argparse.BooleanOptionalAction, default=None,
                        help="run Evidently's DataDriftPreset on the same frames (default: on at 1M rows or more)")
    args = parser.parse_args(argv)
    with_evidently = args.evidently if args.evidently is not None else args.rows >= 1_000_000
    load_start = os.getloadavg()

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
    monitored: list[ColumnDrift] = []
    for _ in range(args.repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        monitored = column_report(stored, current, columns, spec)
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
    path_best = min(path_cpu)
    evidently: dict[str, Any] = {"skipped": "--no-evidently (or fewer than 1M rows without --evidently)"}
    if with_evidently:
        evidently = run_evidently(reference, current, kinds)
    versus: dict[str, Any] = {}
    if "cpu_seconds" in evidently:
        ratio = evidently["cpu_seconds"] / path_best
        table = compare_verdicts(monitored, evidently["columns"], changes)
        versus = {
            "monitor_path_cpu_seconds": path_best,
            "kernel_cpu_seconds": min(cpu_timings),
            "evidently_cpu_seconds": evidently["cpu_seconds"],
            "ratio_evidently_over_monitor_path": ratio,
            "target_ratio": TARGET_RATIO_EVIDENTLY,
            "target_met": ratio >= TARGET_RATIO_EVIDENTLY,
            "verdicts_agree": sum(r["agree"] for r in table),
            "columns_compared": len(table),
            "columns": table,
        }
    results = {
        "_generated_by": "benchmarks/bench_drift.py — regenerate with `python benchmarks/bench_drift.py`",
        "machine": {
            **machine(load_start),
            "numpy": np.__version__,
            NUMPY_DISABLE_ENV: os.environ.get(NUMPY_DISABLE_ENV),
            "scipy": scipy.__version__,
            "pandas": pd.__version__,
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
            "cpu_seconds_best": path_best,
            "cpu_seconds_all": path_cpu,
            "ratio_cpu_over_kernel_cpu": path_best / min(cpu_timings),
        },
        "evidently": {key: value for key, value in evidently.items() if key != "columns"},
        "versus_evidently": versus,
        "baseline": {
            "seconds": baseline_seconds,
            "tests": "scipy ks_2samp + wasserstein_distance per numeric column, chi2_contingency per categorical",
        },
        "ratio_baseline_over_report_best": baseline_seconds / best,
        "max_abs_diff_vs_scipy": max_diff,
        "checks": {
            "baseline_over_report_at_least_10x": baseline_seconds / best >= TARGET_RATIO_BASELINE,
            "peak_within_500mb": peak_mb <= TARGET_PEAK_MB,
            "all_diffs_within_1e-9": all(v <= TOLERANCE for v in max_diff.values()),
            **({"evidently_over_monitor_path_at_least_100x": versus["target_met"]} if versus else {}),
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
        ("monitor path (column_report) CPU, best (s)", f"{path_best:.3f}"),
        ("monitor path / kernel, CPU", f"{path_best / min(cpu_timings):.2f}x"),
        ("load average before / after", f"{load_before:.2f} / {load_after:.2f}"),
        ("report peak memory, tracemalloc (MB)", f"{peak_mb:.0f}"),
        ("scipy baseline (s)", f"{baseline_seconds:.2f}"),
        ("ratio baseline / report", f"{baseline_seconds / best:.1f}x"),
    ]
    if versus:
        rows += [("Evidently DataDriftPreset CPU (s)", f"{versus['evidently_cpu_seconds']:.1f}"),
                 ("Evidently / monitor path, CPU", f"{versus['ratio_evidently_over_monitor_path']:.0f}x"),
                 (f"target >= {TARGET_RATIO_EVIDENTLY:.0f}x met", str(versus["target_met"])),
                 ("verdicts that agree", f"{versus['verdicts_agree']} of {versus['columns_compared']}")]
    else:
        rows.append(("Evidently", "not run"))
    rows += [(f"max |diff| {key}", f"{value:.2e}") for key, value in sorted(max_diff.items())]
    for label, value in rows:
        print(f"{label:<44}{value:>16}")
    if "error" in evidently:
        print(f"\nEvidently: {evidently['error']}")
    print()
    if versus:
        print(f"  {'column':<8} {'injected change':<20} {'driftline (deciding test)':<32} {'Evidently (method)':<40} agree")
        for row in versus["columns"]:
            ours, theirs = row["driftline"], row["evidently"]
            mine = f"{'DRIFT' if ours['drifted'] else 'ok':<5} {ours['test']} {_fmt(ours['statistic'])}"
            method = (theirs["method"] or "?").replace(" distance", "").replace(" (normed)", " normed")
            other = f"{'DRIFT' if theirs['drifted'] else 'ok':<5} {method} {_fmt(theirs['score'])}"
            print(f"  {row['column']:<8} {row['injected_change']:<20} {mine:<32} {other:<40} {'yes' if row['agree'] else 'NO'}")
        for row in versus["columns"]:
            if not row["agree"]:
                print(f"  {row['column']}: {row['why_differ']}")
    else:
        for row in results["columns"]:
            flags = [t for t in ("ks", "wasserstein", "psi", "missing_share", "chi2", "jensen_shannon") if row.get(t, {}).get("drifted")]
            print(f"  {row['column']:<8} {row['injected_change']:<22} drifted by: {', '.join(flags) or '-'}")
    print(f"\nwrote {args.output}")
    return 0 if all(results["checks"].values()) else 1


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    sys.exit(main())
