"""The prediction log: every served decision in SQLite (WAL mode), durable before the answer.

`logs/<pipeline>/predictions.sqlite` (git-ignored: a `.gitignore` is written beside it) holds

    requests(batch_id PK, time, pipeline, model_version, size, record_ids, inputs, outputs, reasons)
                                          -- one row per HTTP request; the last four are JSON arrays
                                             with one element per decision (null when none has one)
    labels(request_id PK, label, time, source)           -- ground truth that arrived later
    predictions                           -- a view: one row per decision, keyed by request_id
    labelled_predictions                  -- the view joining predictions and labels

A decision's `request_id` is `<batch_id>-<index>`: the request's row and the decision's position
in it. One row per request rather than per decision is what lets a 1,000-record batch commit in
about 1 ms instead of 4-5 (one B-tree entry and one JSON text per column instead of a thousand
rows and index entries); the `predictions` view still shows one row per decision to SQL users
(it unpacks the arrays with SQLite's json_each, so look a decision up with
`WHERE batch_id = ?` on `requests` when the log is large: `read_decision` does).

`read_decisions` gives the log back as a frame (inputs, score, prediction, label) for the monitor.

One request is one transaction; it commits before the HTTP response is sent. WAL checkpoints run
on a background thread (with a connection of its own), not inside a request's commit.

Durability: WAL with `synchronous=FULL` (the default here) fsyncs the WAL at every commit, so a
decision the client was told about survives a power cut. `synchronous=NORMAL` in WAL mode only
survives a crash of the process (the OS still holds the data), and loses the last commits on a
power cut — the server's `--log-sync normal` trades that for latency where the disk is slow.

Several processes may write one log (`driftline serve --workers N`, `driftline labels import`
beside a server): SQLite serialises their transactions with its file lock (a writer waits up to
30 s), and every process checkpoints.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from driftline.clock import now_utc
from driftline.errors import DriftlineError

if TYPE_CHECKING:
    import pandas as pd

LOGS_DIR = "logs"
LOG_FILE = "predictions.sqlite"
SYNC_MODES = ("full", "normal")
LAYOUT_VERSION = 2  # PRAGMA user_version: 2 = one row per request (1, unversioned: one row per decision)
CHECKPOINT_ROWS = 5_000  # decisions written since the last checkpoint that wake the checkpointer
CHECKPOINT_SECONDS = 1.0  # ...or this long after the last, if anything was written
log = logging.getLogger("driftline.serve")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    batch_id      TEXT PRIMARY KEY,
    time          TEXT NOT NULL,
    pipeline      TEXT NOT NULL,
    model_version TEXT NOT NULL,
    size          INTEGER NOT NULL,
    record_ids    TEXT,
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
CREATE VIEW IF NOT EXISTS predictions AS
    SELECT r.batch_id || '-' || d.key AS request_id, r.time AS time, r.pipeline AS pipeline,
           r.model_version AS model_version,
           CAST(json_extract(r.record_ids, '$[' || d.key || ']') AS TEXT) AS record_id,
           d.value AS inputs,
           json_extract(r.outputs, '$[' || d.key || ']') AS outputs,
           json_extract(r.reasons, '$[' || d.key || ']') AS reasons,
           r.batch_id AS batch_id, d.key AS position
    FROM requests r, json_each(r.inputs) d;
CREATE VIEW IF NOT EXISTS labelled_predictions AS
    SELECT p.*, l.label AS label, l.time AS label_time
    FROM predictions p JOIN labels l USING (request_id);
"""


def decision_id(batch_id: str, index: int) -> str:
    """The request id of the `index`-th decision of a logged request."""
    return f"{batch_id}-{index}"


def split_decision_id(request_id: str) -> tuple[str, int] | None:
    """(batch_id, index) of a decision's request id, or None when it cannot be one."""
    batch_id, dash, index = request_id.rpartition("-")
    if not dash or not batch_id or not index.isdigit() or (len(index) > 1 and index[0] == "0"):
        return None
    return batch_id, int(index)


@dataclass(frozen=True)
class LoggedRequest:
    """One HTTP request's decisions as the log stores them: JSON arrays, one element per decision."""

    batch_id: str
    time: str
    model_version: str
    size: int
    inputs: str  # the records as sent
    outputs: str  # {"score", "prediction"[, "scores"]} per decision
    record_ids: str | None = None  # the records' id field; None when no record had one
    reasons: str | None = None  # reason codes per decision (null where not asked for); None when none were


class PredictionLogError(DriftlineError):
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
            try:
                _check_layout(self._db, self.path)  # before anything is written, even the WAL switch
            except PredictionLogError:
                self._db.close()
                raise
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={LAYOUT_VERSION}")
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

    def record(self, entry: LoggedRequest, pipeline: str) -> None:
        """Write one request's decisions in one transaction; returns once committed (durable per
        `synchronous`)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT INTO requests (batch_id, time, pipeline, model_version, size, record_ids, inputs, outputs, reasons) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (entry.batch_id, entry.time, pipeline, entry.model_version, entry.size, entry.record_ids,
                     entry.inputs, entry.outputs, entry.reasons),
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._unchecked_rows += entry.size
            if self._unchecked_rows >= CHECKPOINT_ROWS:
                self._wake.set()

    def known(self, request_ids: Iterable[str]) -> set[str]:
        """The request ids that are in the log."""
        wanted: dict[str, list[tuple[str, int]]] = {}
        for request_id in dict.fromkeys(request_ids):
            parts = split_decision_id(request_id)
            if parts is not None:
                wanted.setdefault(parts[0], []).append((request_id, parts[1]))
        batches = list(wanted)
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(batches), 500):
                chunk = batches[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for batch_id, size in self._db.execute(f"SELECT batch_id, size FROM requests WHERE batch_id IN ({marks})", chunk):
                    found.update(request_id for request_id, index in wanted[batch_id] if index < size)
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
    return orjson.dumps(obj).decode("utf-8")


def read_decisions(path: Path, since: str | None = None, model_version: str | None = None) -> pd.DataFrame:
    """The logged decisions as a frame, for the monitor (endpoint monitoring) and for people.

    One row per decision: the input fields as sent (one column each), `score`, `prediction`,
    `model_version`, `time`, `request_id`, and `label` (missing until ground truth joins).
    Opened read-only, so a running server is never blocked. `since` is an ISO time (inclusive).
    """
    import pandas as pd

    where, params = [], []
    if since is not None:
        where.append("time >= ?")
        params.append(since)
    if model_version is not None:
        where.append("model_version = ?")
        params.append(model_version)
    sql = ("SELECT batch_id, time, model_version, size, inputs, outputs FROM requests"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY rowid")
    db = _open_read_only(path)
    try:
        requests = db.execute(sql, params).fetchall()
        labels = dict(db.execute("SELECT request_id, label FROM labels").fetchall())
    except sqlite3.Error as exc:
        raise PredictionLogError(f"cannot read the prediction log {path}: {exc}") from exc
    finally:
        db.close()
    inputs: list[Any] = []
    outputs: list[Any] = []
    request_ids, times, versions = [], [], []
    for batch_id, time, version, size, inputs_text, outputs_text in requests:
        inputs += orjson.loads(inputs_text)
        outputs += orjson.loads(outputs_text)
        request_ids += [decision_id(batch_id, i) for i in range(size)]
        times += [time] * size
        versions += [version] * size
    meta = pd.DataFrame({
        "request_id": request_ids,
        "time": pd.to_datetime(times, utc=True),
        "model_version": versions,
        "score": [o.get("score") for o in outputs],
        "prediction": [o.get("prediction") for o in outputs],
        "label": [labels.get(rid) for rid in request_ids],
    })
    return pd.concat([pd.DataFrame(inputs).reset_index(drop=True), meta], axis=1)


def read_decision(path: Path, request_id: str) -> dict[str, Any] | None:
    """One logged decision (inputs, outputs and reasons parsed) with its label, or None."""
    parts = split_decision_id(request_id)
    if parts is None:
        return None
    batch_id, index = parts
    db = _open_read_only(path)
    try:
        row = db.execute("SELECT time, pipeline, model_version, size, record_ids, inputs, outputs, reasons "
                         "FROM requests WHERE batch_id = ?", (batch_id,)).fetchone()
        label = db.execute("SELECT label, time, source FROM labels WHERE request_id = ?", (request_id,)).fetchone()
    except sqlite3.Error as exc:
        raise PredictionLogError(f"cannot read the prediction log {path}: {exc}") from exc
    finally:
        db.close()
    if row is None or index >= row[3]:
        return None
    time, pipeline, version, _, record_ids, inputs, outputs, reasons = row
    return {
        "request_id": request_id, "time": time, "pipeline": pipeline, "model_version": version,
        "record_id": None if record_ids is None else _text_or_none(orjson.loads(record_ids)[index]),
        "inputs": orjson.loads(inputs)[index],
        "outputs": orjson.loads(outputs)[index],
        "reasons": None if reasons is None else orjson.loads(reasons)[index],
        "label": None if label is None else {"label": label[0], "time": label[1], "source": label[2]},
    }


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _open_read_only(path: Path) -> sqlite3.Connection:
    if not Path(path).is_file():
        raise PredictionLogError(f"no prediction log at {path}")
    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        _check_layout(db, Path(path))
    except sqlite3.Error as exc:  # not a database, or damaged
        db.close()
        raise PredictionLogError(f"cannot read the prediction log {path}: {exc}") from exc
    except PredictionLogError:
        db.close()
        raise
    return db


def _check_layout(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a log written in another layout (its data stays as it is, readable with sqlite3)."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    old_table = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'predictions'").fetchone()
    if old_table is not None or version > LAYOUT_VERSION:
        made_by = "an older driftline (one row per decision)" if old_table is not None else "a newer driftline"
        raise PredictionLogError(f"{path} was written by {made_by}; move it aside (it stays readable with sqlite3) "
                                 "and start again: a new log is begun in its place")
