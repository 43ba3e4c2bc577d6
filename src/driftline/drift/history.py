"""The drift history (reports/<p>/drift_history.csv): one row per run, batch (and chunk), signal and name.

Every monitor run appends its rows; nothing is ever rewritten, so the file is the drift over time
that `dvc plots show` and the HTML trend panel draw. The columns (`HISTORY_COLUMNS`):

- ``run``: the monitor run that appended the row (1, 2, ...); ``time``: that run's ISO-8601 UTC time.
- ``batch``: the batch stem (``batch-0003``); ``chunk``: "" or the chunk label (``2025-01-06``,
  ``rows 0-4999``); ``rows``: rows in that batch or chunk.
- ``signal``: one of `SIGNALS`; ``name``: the column for ``column``, ``psi`` for ``prediction``, the
  metric for ``estimated``/``realised``, ``bad_share`` for ``quality``, and for ``decision`` (one row
  per run, on the run's last batch) one of `DECISIONS`.
- ``statistic``, ``threshold``: numbers, empty when missing; ``drifted``: 1/0, empty when meaningless.

Pure functions: `report_rows` turns one run's report into the rows it appends, `append_history`
gives the file's new text, `read_history` reads it back for the HTML trend panel. The monitor stage
reads and writes the file (atomically). Only the standard library (csv): no pandas on the rendering path.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from driftline.errors import DriftlineError

if TYPE_CHECKING:
    from driftline.drift.report import DriftReport

HISTORY_COLUMNS = ("run", "time", "batch", "chunk", "rows", "signal", "name", "statistic", "threshold", "drifted")
SIGNALS = ("column", "prediction", "estimated", "realised", "quality", "decision")
DECISIONS = ("retrain", "no retrain", "not evaluated", "rejected")
HEADER = ",".join(HISTORY_COLUMNS) + "\n"


class HistoryError(DriftlineError):
    """The drift history cannot be read: a bad header, or a row whose cell is not what its column holds."""


@dataclass(frozen=True)
class HistoryRow:
    """One line of drift_history.csv, typed. `None` is an empty cell."""

    run: int
    time: str
    batch: str
    signal: str
    name: str
    statistic: float | None = None
    threshold: float | None = None
    drifted: bool | None = None
    chunk: str = ""
    rows: int | None = None

    @property
    def point(self) -> str:
        """Where on the x axis this row sits: the batch, and the chunk when there is one."""
        return f"{self.batch} · {self.chunk}" if self.chunk else self.batch


def _bad(source: str, line: int, column: str, value: str, wanted: str) -> HistoryError:
    return HistoryError(
        f"{source} line {line}: column '{column}' holds {value!r}, not {wanted}",
        hint="the monitor appends this file; restore it from git (`git checkout -- <file>`) rather than editing it by hand",
    )


def _int(text: str, source: str, line: int, column: str, *, optional: bool) -> int | None:
    if text == "" and optional:
        return None
    try:
        return int(text)
    except ValueError:
        raise _bad(source, line, column, text, "a whole number") from None


def _float(text: str, source: str, line: int, column: str) -> float | None:
    if text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        raise _bad(source, line, column, text, "a number (or empty)") from None
    if not math.isfinite(number):
        raise _bad(source, line, column, text, "a finite number (or empty)")
    return number


def _flag(text: str, source: str, line: int) -> bool | None:
    if text not in ("", "0", "1"):
        raise _bad(source, line, "drifted", text, "1, 0 or empty")
    return None if text == "" else text == "1"


def read_history(text: str, source: str = "drift_history.csv") -> list[HistoryRow]:
    """Parse drift_history.csv text into rows, in file order; "" (no file yet) gives [].

    A wrong header or a cell that is not what its column holds is a `HistoryError` naming
    `source`, the line and the column. Unknown signals are refused too: a typo would otherwise
    vanish from every plot.
    """
    if not text.strip():
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    if tuple(header) != HISTORY_COLUMNS:
        raise HistoryError(f"{source}: header is {','.join(header)!r}, expected {','.join(HISTORY_COLUMNS)!r}",
                           hint="the file was not written by the driftline monitor; move it aside and rerun the monitor")
    rows = []
    for line, cells in enumerate(reader, start=2):
        if not cells:
            continue
        if len(cells) != len(HISTORY_COLUMNS):
            raise HistoryError(f"{source} line {line}: {len(cells)} cells, expected {len(HISTORY_COLUMNS)}",
                               hint="the monitor appends this file; restore it from git rather than editing it by hand")
        cell = dict(zip(HISTORY_COLUMNS, cells))
        if cell["signal"] not in SIGNALS:
            raise _bad(source, line, "signal", cell["signal"], "one of " + ", ".join(SIGNALS))
        if cell["signal"] == "decision" and cell["name"] not in DECISIONS:
            raise _bad(source, line, "name", cell["name"], "a decision (" + ", ".join(DECISIONS) + ")")
        run = _int(cell["run"], source, line, "run", optional=False)
        rows.append(HistoryRow(
            run=run or 0, time=cell["time"], batch=cell["batch"], chunk=cell["chunk"],
            rows=_int(cell["rows"], source, line, "rows", optional=True), signal=cell["signal"], name=cell["name"],
            statistic=_float(cell["statistic"], source, line, "statistic"),
            threshold=_float(cell["threshold"], source, line, "threshold"), drifted=_flag(cell["drifted"], source, line),
        ))
    return rows


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return repr(float(value))  # the shortest text that reads back as the same float


def history_rows_to_csv(rows: Iterable[HistoryRow], *, header: bool = True) -> str:
    """The rows as drift_history.csv text (with the header line unless `header=False`), "\\n" line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(HISTORY_COLUMNS)
    for row in rows:
        if row.signal not in SIGNALS:
            raise ValueError(f"unknown history signal {row.signal!r} (expected one of {', '.join(SIGNALS)})")
        writer.writerow([
            row.run, row.time, row.batch, row.chunk, "" if row.rows is None else row.rows, row.signal, row.name,
            _number(row.statistic), _number(row.threshold), "" if row.drifted is None else int(row.drifted),
        ])
    return out.getvalue()


def append_history(existing: str, rows: Sequence[HistoryRow], source: str = "drift_history.csv") -> str:
    """The file's new text: `existing` (checked, "" when there is no file yet) with `rows` appended.

    The old bytes are kept as they are, so git shows an append as added lines only.
    """
    if not existing.strip():
        return history_rows_to_csv(rows)
    read_history(existing, source)  # refuse to append to a file that could not be read back
    if not existing.endswith("\n"):
        existing += "\n"
    return existing + history_rows_to_csv(rows, header=False)


def next_run(rows: Sequence[HistoryRow]) -> int:
    """The number of the next monitor run: one more than the last recorded (1 for an empty history)."""
    return max((row.run for row in rows), default=0) + 1


def batch_stem(path: str) -> str:
    """A batch as the history names it: `data/credit/incoming/batch-0003.parquet` -> `batch-0003`."""
    return PurePosixPath(path).stem if path else ""


def decision_name(report: DriftReport) -> str:
    """The run's decision as the history names it (one of `DECISIONS`)."""
    if report.quality and all(batch.rejected for batch in report.quality):
        return "rejected"
    if not report.decision.evaluated:
        return "not evaluated"
    return "retrain" if report.decision.retrain else "no retrain"


def report_rows(report: DriftReport, run: int, time: str) -> list[HistoryRow]:
    """What one monitor run appends: its batches' (and chunks') statistics, their data quality, and one decision row.

    Built from `report.chunks` (per batch or chunk: each column's deciding statistic, the prediction PSI,
    the estimated and realised headline metric) and `report.quality`; the decision row sits on the run's
    last batch, with the share of drifted columns against `drift_share`. A run with nothing new still
    gets its decision row, so the history has one decision per run.
    """
    rows: list[HistoryRow] = []
    psi_threshold = report.prediction.threshold if report.prediction else None
    metric = report.estimated.headline if report.estimated else report.performance.metric if report.performance else None
    for chunk in report.chunks:
        where = {"run": run, "time": time, "batch": batch_stem(chunk.batch), "chunk": chunk.chunk or "", "rows": chunk.rows}
        for column in chunk.columns:
            rows.append(HistoryRow(signal="column", name=column.name, statistic=column.statistic,
                                   threshold=column.threshold, drifted=column.drifted, **where))
        if chunk.prediction_psi is not None:
            rows.append(HistoryRow(signal="prediction", name="psi", statistic=chunk.prediction_psi, threshold=psi_threshold,
                                   drifted=None if psi_threshold is None else chunk.prediction_psi >= psi_threshold, **where))
        for signal, value in (("estimated", chunk.estimated), ("realised", chunk.realised)):
            if value is not None and metric is not None:
                rows.append(HistoryRow(signal=signal, name=metric, statistic=value, **where))
    for quality in report.quality:
        rows.append(HistoryRow(run, time, batch_stem(quality.file), "quality", "bad_share", quality.bad_share,
                               quality.max_bad_share, quality.rejected, rows=quality.rows))
    batches = [row.batch for row in rows] or [batch_stem(b) for b in report.current.batches]
    rows.append(HistoryRow(run, time, batches[-1] if batches else "", "decision", decision_name(report),
                           report.share_drifted, report.decision.policy.drift_share, rows=report.current.rows or None))
    return rows
