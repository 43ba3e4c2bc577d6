"""The prediction log's layout, once for both backends: tables, views and the queries they answer.

Two tables and two views, the same names and columns in SQLite (the embedded default) and
PostgreSQL (a log several serving hosts share):

    requests(batch_id PK, time, pipeline, model_version, size, record_ids, inputs, outputs, reasons)
                                          -- one row per HTTP request; the last four are JSON arrays
                                             with one element per decision (null when none has one)
    labels(request_id PK, label, time, source)           -- ground truth that arrived later
    predictions                           -- a view: one row per decision, keyed by request_id
                                             (`<batch_id>-<position>`, position from 0)
    labelled_predictions                  -- the view joining predictions and labels

Times are ISO 8601 UTC text in both (one format, so text order is time order). What differs is
written here and only here: SQLite keeps JSON as text and unpacks it with json_each, PostgreSQL
keeps it in JSON columns (checked on insert, stored as sent, key order included) and unpacks it with
json_array_elements WITH ORDINALITY — JSONB would reorder each record's keys and, measured, made a
1,000-record commit two to three times dearer; cast to jsonb in a query to index or compare. SQLite
stores a label as the value itself (a column without a type), PostgreSQL as JSONB (1 and "1" stay
apart); SQLite's
rows are ordered by rowid, PostgreSQL's by an identity column `seq`; the layout version is
`PRAGMA user_version` in SQLite and the one-row table `log_layout` in PostgreSQL, which also has an
index on (pipeline, time) for the monitor's reads (several pipelines may share one database).

The queries below use named parameters (`:name`), which sqlite3 and SQLAlchemy both take.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from driftline.errors import DriftlineError

LAYOUT_VERSION = 2  # 2 = one row per request (1, unversioned: one row per decision, SQLite only)


class PredictionLogError(DriftlineError):
    """The prediction log cannot be opened or written; the message says why."""


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


def decision_id(batch_id: str, index: int) -> str:
    """The request id of the `index`-th decision of a logged request."""
    return f"{batch_id}-{index}"


def split_decision_id(request_id: str) -> tuple[str, int] | None:
    """(batch_id, index) of a decision's request id, or None when it cannot be one."""
    batch_id, dash, index = request_id.rpartition("-")
    if not dash or not batch_id or not index.isdigit() or (len(index) > 1 and index[0] == "0"):
        return None
    return batch_id, int(index)


# ----------------------------------------------------------------------------- tables and views

SQLITE_SCHEMA = """
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

#: One statement each (run in one transaction, under an advisory lock so that two hosts starting at
#: once do not race to create the same table). `{lz4}` is " COMPRESSION lz4" where the server has it:
#: a 1,000-record request's arrays are about 300 kB, and lz4 compresses them several times faster than
#: PostgreSQL's default pglz (bench_log_backends).
POSTGRES_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS requests (
        seq           BIGINT GENERATED ALWAYS AS IDENTITY,
        batch_id      TEXT PRIMARY KEY,
        time          TEXT NOT NULL,
        pipeline      TEXT NOT NULL,
        model_version TEXT NOT NULL,
        size          INTEGER NOT NULL,
        record_ids    JSON{lz4},
        inputs        JSON{lz4} NOT NULL,
        outputs       JSON{lz4} NOT NULL,
        reasons       JSON{lz4}
    )""",
    "CREATE INDEX IF NOT EXISTS requests_pipeline_time ON requests (pipeline, time)",
    """CREATE TABLE IF NOT EXISTS labels (
        request_id TEXT PRIMARY KEY,
        label      JSONB NOT NULL,
        time       TEXT NOT NULL,
        source     TEXT NOT NULL
    )""",
    """CREATE OR REPLACE VIEW predictions AS
        SELECT r.batch_id || '-' || (d.n - 1) AS request_id, r.time AS time, r.pipeline AS pipeline,
               r.model_version AS model_version,
               r.record_ids ->> (d.n - 1)::int AS record_id,
               d.value AS inputs,
               r.outputs -> (d.n - 1)::int AS outputs,
               CASE WHEN json_typeof(r.reasons -> (d.n - 1)::int) = 'null' THEN NULL
                    ELSE r.reasons -> (d.n - 1)::int END AS reasons,
               r.batch_id AS batch_id, (d.n - 1)::int AS position
        FROM requests r CROSS JOIN LATERAL json_array_elements(r.inputs) WITH ORDINALITY AS d(value, n)""",
    """CREATE OR REPLACE VIEW labelled_predictions AS
        SELECT p.*, l.label AS label, l.time AS label_time
        FROM predictions p JOIN labels l USING (request_id)""",
    "CREATE TABLE IF NOT EXISTS log_layout (version INTEGER NOT NULL)",
)
POSTGRES_SCHEMA_LOCK = 0x64726966746C6E  # pg_advisory_xact_lock key while the layout is created ("driftln")

# ----------------------------------------------------------------------------- queries (both backends)

INSERT_REQUEST = (
    "INSERT INTO requests (batch_id, time, pipeline, model_version, size, record_ids, inputs, outputs, reasons) "
    "VALUES (:batch_id, :time, :pipeline, :model_version, :size, :record_ids, :inputs, :outputs, :reasons)"
)
UPSERT_LABEL = (
    "INSERT INTO labels (request_id, label, time, source) VALUES (:request_id, :label, :time, :source) "
    "ON CONFLICT (request_id) DO UPDATE SET label = excluded.label, time = excluded.time, source = excluded.source"
)
SELECT_DECISION = ("SELECT time, pipeline, model_version, size, record_ids, inputs, outputs, reasons "
                   "FROM requests WHERE batch_id = :batch_id")
SELECT_LABEL = "SELECT label, time, source FROM labels WHERE request_id = :request_id"
SELECT_LABELS = "SELECT request_id, label FROM labels"
SIZES_CHUNK = 500  # batch ids per `sizes_query`
# Retention (`serve.log.retention_days`): one pipeline's requests older than a time, then every label
# whose decision is gone (a request id is `<batch_id>-<digits>`: trimming the digits leaves `<batch_id>-`).
PRUNE_REQUESTS = "DELETE FROM requests WHERE pipeline = :pipeline AND time < :before"
PRUNE_LABELS = ("DELETE FROM labels WHERE rtrim(request_id, '0123456789') NOT IN "
                "(SELECT batch_id || '-' FROM requests)")


def request_params(entry: LoggedRequest, pipeline: str) -> dict[str, object]:
    """INSERT_REQUEST's parameters for one logged request."""
    return {"batch_id": entry.batch_id, "time": entry.time, "pipeline": pipeline, "model_version": entry.model_version,
            "size": entry.size, "record_ids": entry.record_ids, "inputs": entry.inputs, "outputs": entry.outputs,
            "reasons": entry.reasons}


def sizes_query(batch_ids: list[str]) -> tuple[str, dict[str, str]]:
    """The number of decisions of each of these logged requests (`batch_id, size` rows)."""
    names = {f"b{i}": batch_id for i, batch_id in enumerate(batch_ids)}
    return f"SELECT batch_id, size FROM requests WHERE batch_id IN ({', '.join(':' + n for n in names)})", names


def requests_query(order_by: str, *, since: str | None, model_version: str | None,
                   pipeline: str | None) -> tuple[str, dict[str, str]]:
    """The logged requests in the order they were written (`order_by`: rowid or seq), filtered."""
    filters = {"time >= :since": ("since", since), "model_version = :model_version": ("model_version", model_version),
               "pipeline = :pipeline": ("pipeline", pipeline)}
    where = [clause for clause, (_, value) in filters.items() if value is not None]
    params = {name: value for name, value in filters.values() if value is not None}
    return ("SELECT batch_id, time, model_version, size, inputs, outputs FROM requests"
            + (" WHERE " + " AND ".join(where) if where else "") + f" ORDER BY {order_by}"), params


def known_ids(request_ids: Iterable[str], sizes: Callable[[str, dict[str, str]], Iterable[tuple[str, int]]]) -> set[str]:
    """The request ids that name a logged decision; `sizes(sql, params)` runs `sizes_query` on a backend."""
    wanted: dict[str, list[tuple[str, int]]] = {}
    for request_id in dict.fromkeys(request_ids):
        parts = split_decision_id(request_id)
        if parts is not None:
            wanted.setdefault(parts[0], []).append((request_id, parts[1]))
    batches = list(wanted)
    found: set[str] = set()
    for start in range(0, len(batches), SIZES_CHUNK):
        for batch_id, size in sizes(*sizes_query(batches[start : start + SIZES_CHUNK])):
            found.update(request_id for request_id, index in wanted[batch_id] if index < size)
    return found
