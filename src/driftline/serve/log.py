"""The prediction log: every served decision in SQLite (WAL mode), durable before the answer.

`logs/<pipeline>/predictions.sqlite` (git-ignored: a `.gitignore` is written beside it) holds

    predictions(request_id PK, time, pipeline, model_version, record_id, inputs, outputs, reasons)
    labels(request_id PK, label, time, source)           -- ground truth that arrived later
    labelled_predictions                                 -- the view joining both, for monitoring

`read_decisions` gives the log back as a frame (inputs, score, prediction, label) for the monitor.

`inputs`, `outputs` and `reasons` are JSON text. One request is one transaction; it commits
before the HTTP response is sent. WAL checkpoints run on a background thread (with a connection
of its own), not inside a request's commit.

Durability: WAL with `synchronous=FULL` (the default here) fsyncs the WAL at every commit, so a
decision the client was told about survives a power cut. `synchronous=NORMAL` in WAL mode only
survives a crash of the process (the OS still holds the data), and loses the last commits on a
power cut — the server's `--log-sync normal` trades that for latency where the disk is slow.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftline.registry.store import now_utc

if TYPE_CHECKING:
    import pandas as pd

LOGS_DIR = "logs"
LOG_FILE = "predictions.sqlite"
SYNC_MODES = ("full", "normal")
CHECKPOINT_ROWS = 5_000  # decisions written since the last checkpoint that wake the checkpointer
CHECKPOINT_SECONDS = 1.0  # ...or this long after the last, if anything was written
log = logging.getLogger("driftline.serve")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    request_id    TEXT PRIMARY KEY,
    time          TEXT NOT NULL,
    pipeline      TEXT NOT NULL,
    model_version TEXT NOT NULL,
    record_id     TEXT,
    inputs        TEXT NOT NULL,
    outputs       TEXT NOT NULL,
    reasons       TEXT
);
CREATE TABLE IF NOT EXISTS labels (
    request_id TEXT PRIMARY KEY,
    label      NOT NULL,
    time       TEXT NOT NULL,
    source     TEXT NOT NULL
);
CREATE VIEW IF NOT EXISTS labelled_predictions AS
    SELECT p.*, l.label AS label, l.time AS label_time
    FROM predictions p JOIN labels l USING (request_id);
"""


class PredictionLogError(Exception):
    """The prediction log cannot be opened or written; the message says why."""


def log_path(root: Path, pipeline: str) -> Path:
    return Path(root) / LOGS_DIR / pipeline / LOG_FILE


class PredictionLog:
    """One SQLite connection shared by the server's threads; writes are serialised by a lock."""

    def __init__(self, path: Path, synchronous: str = "full") -> None:
        if synchronous not in SYNC_MODES:
            raise PredictionLogError(f"synchronous must be one of {', '.join(SYNC_MODES)}, not {synchronous!r}")
        self.path = Path(path)
        self.synchronous = synchronous
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            ignore = self.path.parent.parent / ".gitignore"
            if self.path.parent.parent.name == LOGS_DIR and not ignore.exists():
                ignore.write_text("# prediction logs are data, not source: keep them out of git\n*\n", encoding="utf-8")
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._db.executescript(_SCHEMA)
            # Checkpoints (copying the WAL into the database file, and its fsync) run on a thread
            # of their own instead of inside whichever request's commit crosses SQLite's
            # 1,000-page mark: a commit only appends to the WAL (and fsyncs it, per `synchronous`).
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpoints = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._checkpoints.execute(f"PRAGMA synchronous={synchronous.upper()}")
        except (OSError, sqlite3.Error) as exc:
            raise PredictionLogError(f"cannot open the prediction log {self.path}: {exc}") from exc
        self._lock = threading.Lock()
        self._unchecked_rows = 0
        self._wake = threading.Event()
        self._closing = False
        self.checkpoints = 0  # completed background checkpoints (for tests and curiosity)
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="prediction-log-checkpoint", daemon=True)
        self._checkpointer.start()

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._checkpointer.join(timeout=30)
        with self._lock:
            self._checkpoints.close()
            self._db.close()  # the last connection to close checkpoints what is left

    def _checkpoint_loop(self) -> None:
        while True:
            self._wake.wait(timeout=CHECKPOINT_SECONDS)
            self._wake.clear()
            if self._closing:
                return
            if not self._unchecked_rows:
                continue
            self._unchecked_rows = 0
            try:
                self._checkpoints.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
            except sqlite3.Error:  # busy or closing: the next round (or close) catches up
                log.warning("prediction log checkpoint failed", exc_info=True)

    def record(self, rows: Sequence[tuple[str, str, str, str | None, str, str, str | None]], pipeline: str) -> None:
        """Write decisions (request_id, time, model_version, record_id, inputs, outputs, reasons) in
        one transaction; returns once committed (durable per `synchronous`)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO predictions (request_id, time, model_version, record_id, inputs, outputs, reasons, pipeline) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(*row, pipeline) for row in rows],
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._unchecked_rows += len(rows)
            if self._unchecked_rows >= CHECKPOINT_ROWS:
                self._wake.set()

    def known(self, request_ids: Iterable[str]) -> set[str]:
        """The request ids that are in the log."""
        ids = list(dict.fromkeys(request_ids))
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(r[0] for r in self._db.execute(f"SELECT request_id FROM predictions WHERE request_id IN ({marks})", chunk))
        return found

    def add_labels(self, labels: Sequence[tuple[str, Any]], source: str) -> None:
        """Store ground truth by request id (a later label for the same decision replaces the earlier)."""
        now = now_utc()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO labels (request_id, label, time, source) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(request_id) DO UPDATE SET label = excluded.label, time = excluded.time, source = excluded.source",
                    [(rid, label, now, source) for rid, label in labels],
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._unchecked_rows += len(labels)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Read-only helper for tests and tools."""
        with self._lock:
            return list(self._db.execute(sql, params))


def parse_label(value: Any, task: str, classes: list[Any] | None) -> Any:
    """A label as stored: 0/1 for binary, a float for regression, a known class for multiclass.

    Raises ValueError with a message naming what is accepted.
    """
    if isinstance(value, str):
        value = value.strip()
    if task == "binary":
        lookup = {0: 0, 1: 1, "0": 0, "1": 1, "0.0": 0, "1.0": 1, "true": 1, "false": 0}  # True == 1, False == 0
        key = value.lower() if isinstance(value, str) else value
        if isinstance(key, float) and key in (0.0, 1.0):
            key = int(key)
        if key in lookup and not (isinstance(key, float)):
            return lookup[key]
        raise ValueError(f"label {value!r} is not 0 or 1")
    if task == "regression":
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"label {value!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"label {value!r} is not a finite number")
        return number
    known = {str(c): c for c in (classes or [])}
    if str(value) in known:
        return known[str(value)]
    raise ValueError(f"label {value!r} is not one of the classes {', '.join(known)}")


def dumps(obj: Any) -> str:
    """Compact JSON for the log; NaN and infinities, which JSON lacks, become null."""
    import orjson

    return orjson.dumps(obj).decode("utf-8")


def read_decisions(path: Path, since: str | None = None, model_version: str | None = None) -> pd.DataFrame:
    """The logged decisions as a frame, for the monitor (endpoint monitoring) and for people.

    One row per decision: the input fields as sent (one column each), `score`, `prediction`,
    `model_version`, `time`, `request_id`, and `label` (missing until ground truth joins).
    Opened read-only, so a running server is never blocked. `since` is an ISO time (inclusive).
    """
    import pandas as pd

    if not Path(path).is_file():
        raise PredictionLogError(f"no prediction log at {path}")
    where, params = [], []
    if since is not None:
        where.append("p.time >= ?")
        params.append(since)
    if model_version is not None:
        where.append("p.model_version = ?")
        params.append(model_version)
    sql = ("SELECT p.request_id, p.time, p.model_version, p.inputs, p.outputs, l.label FROM predictions p "
           "LEFT JOIN labels l USING (request_id)" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY p.rowid")
    import json

    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = db.execute(sql, params).fetchall()
    except sqlite3.Error as exc:
        raise PredictionLogError(f"cannot read the prediction log {path}: {exc}") from exc
    finally:
        db.close()
    inputs = pd.DataFrame([json.loads(r[3]) for r in rows])
    outputs = [json.loads(r[4]) for r in rows]
    meta = pd.DataFrame({
        "request_id": [r[0] for r in rows],
        "time": pd.to_datetime([r[1] for r in rows], utc=True),
        "model_version": [r[2] for r in rows],
        "score": [o.get("score") for o in outputs],
        "prediction": [o.get("prediction") for o in outputs],
        "label": [r[5] for r in rows],
    })
    return pd.concat([inputs.reset_index(drop=True), meta], axis=1)
