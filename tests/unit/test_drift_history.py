"""drift_history.csv: the text the monitor appends, read back exactly; damage named by line and column."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from driftline.drift.history import (
    HEADER,
    HISTORY_COLUMNS,
    HistoryError,
    HistoryRow,
    append_history,
    history_rows_to_csv,
    next_run,
    read_history,
    report_rows,
)
from driftline.drift.report import DriftReport
from driftline.paths import PipelinePaths
from tests.drift_samples import sample_report

RUN_1 = [
    HistoryRow(1, "2026-12-01T10:00:00Z", "batch-0001", "column", "income", 0.0412, 0.1, False, rows=3000),
    HistoryRow(1, "2026-12-01T10:00:00Z", "batch-0001", "column", "region, north/south", 0.31, 0.1, True, rows=3000),
    HistoryRow(1, "2026-12-01T10:00:00Z", "batch-0001", "estimated", "roc_auc", 0.7712, None, None, rows=3000),
    HistoryRow(1, "2026-12-01T10:00:00Z", "batch-0001", "column", "income", 0.2, 0.1, True, chunk="2025-01-06", rows=700),
    HistoryRow(1, "2026-12-01T10:00:00Z", "batch-0001", "decision", "no retrain", 0.5, 0.3, None),
]
RUN_2 = [HistoryRow(2, "2026-12-02T10:00:00Z", "batch-0002", "decision", "not evaluated", None, 0.3, None, rows=3)]


def test_the_header_is_the_documented_contract() -> None:
    assert HEADER == "run,time,batch,chunk,rows,signal,name,statistic,threshold,drifted\n"
    assert PipelinePaths("credit").drift_history == "reports/credit/drift_history.csv"


def test_rows_round_trip_through_the_text_exactly() -> None:
    text = history_rows_to_csv(RUN_1)
    assert text.startswith(HEADER)
    assert read_history(text) == RUN_1
    assert history_rows_to_csv(read_history(text)) == text, "writing what was read changes no byte"


def test_the_text_is_plain_csv_with_empty_cells_for_missing_values() -> None:
    table = list(csv.DictReader(io.StringIO(history_rows_to_csv(RUN_1 + RUN_2))))
    assert [tuple(r) for r in table][0] == HISTORY_COLUMNS
    assert table[1]["name"] == "region, north/south", "a comma in a column name is quoted, not a new cell"
    estimated = table[2]
    assert (estimated["statistic"], estimated["threshold"], estimated["drifted"]) == ("0.7712", "", "")
    assert (table[0]["drifted"], table[1]["drifted"]) == ("0", "1")
    assert table[3]["chunk"] == "2025-01-06" and table[0]["chunk"] == ""
    assert table[5]["statistic"] == "" and table[5]["rows"] == "3"


def test_append_keeps_the_old_bytes_and_adds_lines() -> None:
    first = append_history("", RUN_1)
    assert first == history_rows_to_csv(RUN_1)
    second = append_history(first, RUN_2)
    assert second.startswith(first)
    assert second[len(first):].count("\n") == 1 and "not evaluated" in second[len(first):]
    assert read_history(second) == RUN_1 + RUN_2
    assert read_history(append_history(first.rstrip("\n"), RUN_2)) == RUN_1 + RUN_2, "a missing last newline is mended"


def test_next_run_counts_on_from_the_last_one() -> None:
    assert next_run([]) == 1
    assert next_run(RUN_1 + RUN_2) == 3


def test_an_empty_file_is_an_empty_history() -> None:
    assert read_history("") == [] and read_history(HEADER) == []
    assert HistoryRow(1, "t", "batch-0001", "column", "x", chunk="rows 0-4999").point == "batch-0001 · rows 0-4999"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("run,time,batch\n1,t,b\n", "header is 'run,time,batch'"),
        (HEADER + "x,t,b,,1,column,age,0.1,0.1,0\n", "line 2: column 'run' holds 'x'"),
        (HEADER + "1,t,b,,1,column,age,high,0.1,0\n", "line 2: column 'statistic' holds 'high'"),
        (HEADER + "1,t,b,,1,column,age,nan,0.1,0\n", "column 'statistic' holds 'nan', not a finite number"),
        (HEADER + "1,t,b,,1,column,age,0.1,0.1,0\n1,t,b,,1,column,age,0.1,0.1,yes\n", "line 3: column 'drifted' holds 'yes'"),
        (HEADER + "1,t,b,,1,colum,age,0.1,0.1,0\n", "column 'signal' holds 'colum'"),
        (HEADER + "1,t,b,,,decision,maybe,0.1,0.3,\n", "column 'name' holds 'maybe'"),
        (HEADER + "1,t,b,,1,column\n", "line 2: 6 cells, expected 10"),
    ],
    ids=["header", "run", "statistic", "nan", "drifted", "signal", "decision", "short-row"],
)
def test_damage_is_named_by_file_line_and_column(text: str, message: str) -> None:
    with pytest.raises(HistoryError, match="reports/credit/drift_history.csv") as caught:
        read_history(text, "reports/credit/drift_history.csv")
    assert message in str(caught.value)
    assert caught.value.hint, "says what to do next"


def test_appending_to_a_damaged_file_is_refused() -> None:
    with pytest.raises(HistoryError):
        append_history("not,a,history\n", RUN_2)


# --------------------------------------------------------------------------- what one monitor run appends


def report_with_chunks(**decision: Any) -> DriftReport:
    report = sample_report()
    report["chunks"] = [
        {"batch": "data/credit/incoming/batch-0002.parquet", "chunk": label, "rows": 2500,
         "columns": [{"name": "income", "statistic": stat, "threshold": 0.1, "drifted": stat >= 0.1}],
         "share_drifted": 0.0, "prediction_psi": 0.25, "estimated": 0.74, "realised": None}
        for label, stat in (("rows 0-2499", 0.05), ("rows 2500-4999", 0.15))
    ]
    report["estimated"] = {"method": "cbpe", "rows": 5000, "confidence": 0.9, "headline": "roc_auc", "drop": 0.04,
                           "threshold": 0.05, "drifted": False, "metrics": []}
    report["quality"] = [{"file": "batch-0002.parquet", "rows": 5000, "bad_rows": 10, "bad_share": 0.002,
                          "max_bad_share": 0.05, "reasons": {"age: must be >= 18": 10}, "rejected": False}]
    report["decision"].update(decision)
    return DriftReport.model_validate(report)


def test_one_run_appends_its_chunks_quality_and_one_decision() -> None:
    rows = report_rows(report_with_chunks(), 4, "2026-12-04T10:00:00Z")
    assert {(row.run, row.time) for row in rows} == {(4, "2026-12-04T10:00:00Z")}
    assert [(r.chunk, r.statistic, r.drifted) for r in rows if r.signal == "column"] == [
        ("rows 0-2499", 0.05, False), ("rows 2500-4999", 0.15, True)]
    assert {r.batch for r in rows} == {"batch-0002"}, "batches are named by their stem"
    assert [(r.statistic, r.threshold, r.drifted) for r in rows if r.signal == "prediction"] == [(0.25, 0.2, True)] * 2
    assert [(r.name, r.statistic) for r in rows if r.signal == "estimated"] == [("roc_auc", 0.74)] * 2
    assert [(r.name, r.statistic, r.threshold, r.drifted) for r in rows if r.signal == "quality"] == [("bad_share", 0.002, 0.05, False)]
    (decision,) = [r for r in rows if r.signal == "decision"]
    assert (decision.name, decision.statistic, decision.threshold) == ("retrain", 0.4, 0.3)
    assert read_history(history_rows_to_csv(rows)) == rows


@pytest.mark.parametrize(
    ("decision", "quality_rejected", "name"),
    [({"retrain": False}, False, "no retrain"), ({"retrain": False, "evaluated": False}, False, "not evaluated"),
     ({"retrain": False}, True, "rejected")],
    ids=["no-retrain", "not-evaluated", "rejected"],
)
def test_the_decision_row_names_what_the_run_decided(decision: dict, quality_rejected: bool, name: str) -> None:
    report = report_with_chunks(**decision)
    if quality_rejected:
        report = report.model_copy(update={"quality": [q.model_copy(update={"rejected": True}) for q in report.quality]})
    assert [r.name for r in report_rows(report, 1, "t") if r.signal == "decision"] == [name]


def test_a_run_with_nothing_new_still_records_its_decision() -> None:
    report = sample_report(retrain=False)
    report["decision"].update(evaluated=False, reasons=["no new data since the last run"])
    rows = report_rows(DriftReport.model_validate(report), 7, "t")
    assert [(r.signal, r.name, r.batch) for r in rows] == [("decision", "not evaluated", "batch-0002")]
