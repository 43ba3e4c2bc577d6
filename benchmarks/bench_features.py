"""The serving feature step: fitted transforms -> the model's float matrix, for 1 and 1,000 records.

    python benchmarks/bench_features.py [--rows 20000] [--label after]
    PYTHONPATH=<checkout of 24b2e1f>/src python benchmarks/bench_features.py --label before

Fits the credit pipeline's transforms (conf/features/credit.yaml) on generated loans, turns held-out
rows into validated request frames exactly as the server does (`check_records`), then times the
feature step on them: one record, and a batch of 1,000. The naive baseline in the same run is the
pandas DataFrame adapter (`apply_features`, a frame with category columns), timed on the same
frames; the ratio says what building frames would cost on the serving path.

Targets: <= 0.3 ms (p50) for one record, <= 4 ms (p50) for 1,000. Results are merged, under
--label, into benchmarks/results/features.json, so a run before a change and one after it sit side
by side ("before" was measured on the retired numpy twin, `driftline.features.fast`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks/results/features.json"
TARGETS = {"single_p50_ms": 0.3, "batch_1000_p50_ms": 4.0}


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    fn()  # warm-up (first-call caches)
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    ms = np.asarray(seconds) * 1e3
    return {"p50_ms": round(float(np.percentile(ms, 50)), 4), "p99_ms": round(float(np.percentile(ms, 99)), 4),
            "mean_ms": round(float(ms.mean()), 4), "n": len(ms)}


def feature_step(fitted: Any) -> tuple[str, Callable[[Any], np.ndarray], Callable[[Any], Any]]:
    """(which implementation, frame -> model matrix, frame -> pandas adapter frame)."""
    from driftline.features.pipeline import apply_features

    try:
        from driftline.features.pipeline import model_matrix  # the one columnar core
    except ImportError:  # before: the numpy twin of the pandas transforms
        from driftline.features.fast import compile_plan

        fast = compile_plan(fitted)
        return "driftline.features.fast (numpy twin)", fast.matrix, lambda f: apply_features(f, fitted)
    return "driftline.features.pipeline.model_matrix", lambda f: model_matrix(f, fitted), lambda f: apply_features(f, fitted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="Generated loans (3/4 fit, the rest served).")
    parser.add_argument("--label", default="after", help="Key of this run in the results file (e.g. before, after).")
    parser.add_argument("--repeat", type=int, default=2000, help="Timed calls per single-record measurement.")
    args = parser.parse_args()

    try:
        from driftline.config.features import FeaturePlan
    except ImportError:  # before: the plan lived in driftline.features
        from driftline.features.pipeline import FeaturePlan
    from driftline.config.groups import SchemaSpec
    from driftline.data.generator import generate_loans
    from driftline.features.pipeline import fit_features
    from driftline.serve.bundle import request_schema
    from driftline.serve.validation import check_records

    loans = generate_loans(rows=args.rows, seed=11)
    cut = args.rows * 3 // 4
    plan = FeaturePlan.model_validate(yaml.safe_load((REPO / "conf/features/credit.yaml").read_text()))
    fitted, _ = fit_features(loans.iloc[:cut], "default", "binary", plan, drop_columns=["application_id", "applied_at"])
    schema = SchemaSpec.model_validate(yaml.safe_load((REPO / "conf/schema/loans.yaml").read_text()))
    rs = request_schema(schema, target="default", label_column="default", id_column="application_id")
    held_out = loans.iloc[cut:].drop(columns=["default"]).reset_index(drop=True)
    records = json.loads(held_out.head(1000).to_json(orient="records", date_format="iso"))
    frame1, errors1 = check_records(records[:1], rs)
    frame1k, errors1k = check_records(records, rs)
    assert not errors1 and not errors1k

    which, matrix, adapter = feature_step(fitted)
    assert matrix(frame1k).shape == (1000, len(fitted.feature_columns))
    single = timed(lambda: matrix(frame1), args.repeat)
    batch = timed(lambda: matrix(frame1k), max(args.repeat // 20, 20))
    adapter_single = timed(lambda: adapter(frame1), max(args.repeat // 10, 50))
    adapter_batch = timed(lambda: adapter(frame1k), max(args.repeat // 40, 20))
    run = {
        "implementation": which,
        "machine": {"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
                    "python": platform.python_version()},
        "features": len(fitted.feature_columns),
        "single_record": single,
        "batch_1000": batch,
        "pandas_adapter_single_record": adapter_single,
        "pandas_adapter_batch_1000": adapter_batch,
        "ratios": {
            "pandas_adapter_over_matrix_single": round(adapter_single["p50_ms"] / single["p50_ms"], 1),
            "pandas_adapter_over_matrix_batch_1000": round(adapter_batch["p50_ms"] / batch["p50_ms"], 1),
        },
        "targets": TARGETS,
        "met": {"single": single["p50_ms"] <= TARGETS["single_p50_ms"],
                "batch_1000": batch["p50_ms"] <= TARGETS["batch_1000_p50_ms"]},
    }
    print(f"{args.label} [{which}]: one record p50 {single['p50_ms']} ms (p99 {single['p99_ms']}), "
          f"1,000 records p50 {batch['p50_ms']} ms; pandas adapter {adapter_single['p50_ms']} / {adapter_batch['p50_ms']} ms")
    try:
        results = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        results = {}
    results[args.label] = run
    if "before" in results and "after" in results:  # side by side: p50 after / p50 before
        results["after_over_before"] = {
            key: round(results["after"][key]["p50_ms"] / results["before"][key]["p50_ms"], 2)
            for key in ("single_record", "batch_1000")
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, RESULTS)


if __name__ == "__main__":
    main()
