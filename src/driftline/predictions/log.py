"""The prediction log: every served decision, durable before the answer; SQLite by default.

A pipeline's log is `logs/<pipeline>/predictions.sqlite` (WAL mode; git-ignored: a `.gitignore` is
written beside it) unless its `serve.log.url` (or DRIFTLINE_LOG_URL) names a PostgreSQL database,
which several serving hosts can share (`driftline.predictions.postgres`). `open_log(location)` gives
either backend behind one API (record, known, add_labels, query, close); `read_decisions` and
`read_decision` read either. Both hold the same tables and views (`driftline.predictions.layout`):
`requests` (one row per HTTP request, JSON arrays with one element per decision), `labels`, and the
views `predictions` (one row per decision) and `labelled_predictions`.

A decision's `request_id` is `<batch_id>-<index>`: the request's row and the decision's position
in it. One row per request rather than per decision is what lets a 1,000-record batch commit in
about 1 ms instead of 4-5 (one B-tree entry and one JSON text per column instead of a thousand
rows and index entries); the `predictions` view still shows one row per decision to SQL users
(it unpacks the arrays with SQLite's json_each, so look a decision up with
`WHERE batch_id = ?` on `requests` when the log is large: `read_decision` does).

`read_decisions` gives the log back as a frame (inputs, score, prediction, label) for the monitor.

One request is one transaction; it commits before the HTTP response is sent. In SQLite, WAL checkpoints run
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
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from driftline.clock import now_utc
from driftline.config.serve import LOG_URL_ENV, check_log_url
from driftline.faults import reached
from driftline.predictions.layout import (
    INSERT_REQUEST,
    LAYOUT_VERSION,
    PRUNE_LABELS,
    PRUNE_REQUESTS,
    SELECT_DECISION,
    SELECT_LABEL,
    SELECT_LABELS,
    SQLITE_SCHEMA,
    UPSERT_LABEL,
    LoggedRequest,
    PredictionLogError,
    decision_id,
    known_ids,
    request_params,
    requests_query,
    split_decision_id,
)

if TYPE_CHECKING:
    import pandas as pd

LOGS_DIR = "logs"
LOG_FILE = "predictions.sqlite"
SYNC_MODES = ("full", "normal")
CHECKPOINT_ROWS = 5_000  # decisions written since the last checkpoint that wake the checkpointer
CHECKPOINT_SECONDS = 1.0  # ...or this long after the last, if anything was written
log = logging.getLogger("driftline.serve")

#: Where a log is: a SQLite file, or the URL of a PostgreSQL database (`serve.log.url`).
Location = Path | str


def log_path(root: Path, pipeline: str) -> Path:
    return Path(root) / LOGS_DIR / pipeline / LOG_FILE


def log_location(root: Path, pipeline: str, url: str | None) -> Location:
    """Where `pipeline` logs its decisions: DRIFTLINE_LOG_URL when set, else the pipeline's
    `serve.log.url`, else its SQLite file under logs/."""
    override = os.environ.get(LOG_URL_ENV, "").strip()
    if override:
        try:
            return check_log_url(override)
        except ValueError as exc:
            raise PredictionLogError(f"{LOG_URL_ENV}: {exc}", hint=f"fix or unset {LOG_URL_ENV}") from None
    return url if url is not None else log_path(root, pipeline)


def is_server(location: Location) -> bool:
    """True for a database server's URL, False for a SQLite file."""
    return isinstance(location, str) and "://" in location


class DecisionLog(Protocol):
    """What the endpoint and label import use, whichever backend holds the log."""

    def record(self, entry: LoggedRequest, pipeline: str) -> None: ...
    def known(self, request_ids: Iterable[str]) -> set[str]: ...
    def add_labels(self, labels: Sequence[tuple[str, Any]], source: str) -> None: ...
    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple]: ...
    def prune(self, pipeline: str, before: str) -> int: ...
    def close(self) -> None: ...

    @property
    def where(self) -> str: ...


def open_log(location: Location, synchronous: str = "full") -> DecisionLog:
    """The log at `location`, created when missing: SQLite for a path, PostgreSQL for a URL."""
    if is_server(location):
        from driftline.predictions.postgres import PostgresLog

        return PostgresLog(str(location), synchronous)
    return PredictionLog(Path(location), synchronous)


class PredictionLog:
    """The SQLite backend: one connection shared by the server's threads; writes are serialised by a lock."""

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
            self._db.executescript(SQLITE_SCHEMA)
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

    @property
    def where(self) -> str:
        return str(self.path)

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
        `synchronous`). Kill points (faults.py): `log:record:before` (the row is inserted, the
        transaction still open: a crash there rolls it back, and the client was never answered) and
        `log:record:committed` (durable; the answer is not sent yet)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(INSERT_REQUEST, request_params(entry, pipeline))
                reached("log:record:before")
                self._db.execute("COMMIT")
                reached("log:record:committed")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._unchecked_rows += entry.size
            if self._unchecked_rows >= CHECKPOINT_ROWS:
                self._wake.set()

    def known(self, request_ids: Iterable[str]) -> set[str]:
        """The request ids that are in the log."""
        def sizes(sql: str, params: dict[str, str]) -> list[tuple[str, int]]:
            with self._lock:
                return self._db.execute(sql, params).fetchall()

        return known_ids(request_ids, sizes)

    def add_labels(self, labels: Sequence[tuple[str, Any]], source: str) -> None:
        """Store ground truth by request id (a later label for the same decision replaces the earlier)."""
        now = now_utc()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(UPSERT_LABEL, [{"request_id": rid, "label": label, "time": now, "source": source}
                                                    for rid, label in labels])
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._unchecked_rows += len(labels)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple]:
        """Read-only helper for tests and tools."""
        with self._lock:
            return list(self._db.execute(sql, params))

    def prune(self, pipeline: str, before: str) -> int:
        """Delete `pipeline`'s requests logged before `before` (ISO UTC) and the labels of their
        decisions, in one transaction (retention); the number of requests deleted."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                deleted = self._db.execute(PRUNE_REQUESTS, {"pipeline": pipeline, "before": before}).rowcount
                if deleted:
                    self._db.execute(PRUNE_LABELS)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            return deleted


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


def read_decisions(location: Location, since: str | None = None, model_version: str | None = None,
                   pipeline: str | None = None) -> pd.DataFrame:
    """The logged decisions as a frame, for the monitor (endpoint monitoring) and for people.

    One row per decision: the input fields as sent (one column each), `score`, `prediction`,
    `model_version`, `time`, `request_id`, and `label` (missing until ground truth joins).
    A SQLite log is opened read-only, so a running server is never blocked. `since` is an ISO time
    (inclusive); `pipeline` keeps one pipeline's decisions (a PostgreSQL log may hold several).
    """
    import pandas as pd

    if is_server(location):
        from driftline.predictions.postgres import fetch_requests

        requests, labels = fetch_requests(str(location), since=since, model_version=model_version, pipeline=pipeline)
    else:
        sql, params = requests_query("rowid", since=since, model_version=model_version, pipeline=pipeline)
        db = _open_read_only(Path(location))
        try:
            requests = db.execute(sql, params).fetchall()
            labels = dict(db.execute(SELECT_LABELS).fetchall())
        except sqlite3.Error as exc:
            raise PredictionLogError(f"cannot read the prediction log {location}: {exc}") from exc
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


def read_decision(location: Location, request_id: str) -> dict[str, Any] | None:
    """One logged decision (inputs, outputs and reasons parsed) with its label, or None."""
    parts = split_decision_id(request_id)
    if parts is None:
        return None
    batch_id, index = parts
    if is_server(location):
        from driftline.predictions.postgres import fetch_decision

        row, label = fetch_decision(str(location), batch_id, request_id)
    else:
        db = _open_read_only(Path(location))
        try:
            row = db.execute(SELECT_DECISION, {"batch_id": batch_id}).fetchone()
            label = db.execute(SELECT_LABEL, {"request_id": request_id}).fetchone()
        except sqlite3.Error as exc:
            raise PredictionLogError(f"cannot read the prediction log {location}: {exc}") from exc
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


def log_locations(root: Path) -> list[Location]:
    """Every prediction log of the project: the SQLite files under logs/, then each PostgreSQL URL that
    a pipeline's `serve.log.url` (or DRIFTLINE_LOG_URL) names, once each."""
    from driftline.project import ProjectError, read_params

    found: list[Location] = list(sorted(Path(root, LOGS_DIR).glob(f"*/{LOG_FILE}")))
    try:
        params = read_params(root)
    except ProjectError:
        params = {}
    urls: dict[str, None] = {}
    for name, cfg in params.items():
        if name.startswith("_") or not isinstance(cfg, dict):
            continue
        url = ((cfg.get("serve") or {}).get("log") or {}).get("url")
        location = log_location(root, name, url if isinstance(url, str) else None)
        if is_server(location):
            urls[str(location)] = None
    return [*found, *urls]


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
