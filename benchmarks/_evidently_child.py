"""Evidently's DataDriftPreset on the benchmark's frames; run by bench_drift.py in Evidently's own venv.

Evidently 0.7 needs pandas<3, so bench_drift.py runs this file with the interpreter of a separate
virtual environment (see `bench_drift.evidently_python`), never with driftline's. It imports
nothing from driftline.

    python _evidently_child.py REFERENCE.parquet CURRENT.parquet NUMERIC,COLUMNS CATEGORICAL,COLUMNS

Prints one JSON object on stdout: versions, CPU seconds (time.process_time around building the two
Datasets and `Report.run`, the Parquet read excluded) and, per column, Evidently's method, score,
threshold and verdict (its own `drift_detected`, read from the test it attaches to each column).
"""

from __future__ import annotations

import json
import sys
import time


def main(argv: list[str]) -> int:
    reference_path, current_path, numeric, categorical = argv
    import evidently
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    # The column kinds driftline monitors them as, so both sides compare the same thing.
    definition = DataDefinition(numerical_columns=[c for c in numeric.split(",") if c],
                                categorical_columns=[c for c in categorical.split(",") if c])
    wall, cpu = time.perf_counter(), time.process_time()
    reference_set = Dataset.from_pandas(reference, data_definition=definition)
    current_set = Dataset.from_pandas(current, data_definition=definition)
    dataset_cpu = time.process_time() - cpu
    # include_tests only records each column's drift_detected as a pass/fail: nothing is recomputed.
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current_set, reference_set)
    cpu_seconds = time.process_time() - cpu
    wall_seconds = time.perf_counter() - wall

    result = snapshot.dict()
    columns: dict[str, dict[str, object]] = {}
    share = None
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            columns[config["column"]] = {"method": config.get("method"), "score": metric.get("value"),
                                         "threshold": config.get("threshold")}
        elif config.get("type", "").endswith("DriftedColumnsCount"):
            share = metric.get("value", {}).get("share")
    for test in result["tests"]:
        column = test.get("metric_config", {}).get("params", {}).get("column")
        if test.get("id") == "drift" and column in columns:
            columns[column]["drifted"] = test.get("status") == "FAIL"
    print(json.dumps({
        "evidently": evidently.__version__,
        "pandas": pd.__version__,
        "python": sys.version.split()[0],
        "report": "Report([DataDriftPreset()], include_tests=True).run(current, reference)",
        "cpu_seconds": cpu_seconds,
        "cpu_seconds_datasets": dataset_cpu,
        "wall_seconds": wall_seconds,
        "share_drifted": share,
        "columns": columns,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
