"""drift_history.csv: the text the monitor appends, read back exactly; damage named by line and column."""

from __future__ import annotations

import csv
import io

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
)
from driftline.paths import PipelinePaths

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
