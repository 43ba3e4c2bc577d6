"""The prediction log on PostgreSQL: one database that several serving hosts write at once.

Chosen with `serve.log.url: postgresql://user@host:port/database` (or DRIFTLINE_LOG_URL); reached
through SQLAlchemy with psycopg 3 (`pip install 'driftline[postgres]'`). The tables, views and
queries are the SQLite log's (`driftline.predictions.layout`), with PostgreSQL's JSON types.

Durability: each request is one transaction, committed before the HTTP response is sent, with
`synchronous_commit=on` set on every connection (whatever the server's default): the commit
returns once the server has flushed its WAL to disk. `--log-sync normal` sets it off (a server
crash can lose the last commits, never corrupt the log).

Concurrency: each server thread takes a connection from a small pool, so requests commit in
parallel; PostgreSQL orders them. No password is ever in the URL (config.serve refuses one):
libpq reads it from PGPASSWORD or ~/.pgpass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from driftline.clock import now_utc
from driftline.predictions.layout import (
    INSERT_REQUEST,
    LAYOUT_VERSION,
    POSTGRES_SCHEMA,
    POSTGRES_SCHEMA_LOCK,
    PRUNE_LABELS,
    PRUNE_REQUESTS,
    SELECT_DECISION,
    SELECT_LABEL,
    SELECT_LABELS,
    UPSERT_LABEL,
    LoggedRequest,
    PredictionLogError,
    known_ids,
    request_params,
    requests_query,
)

SYNCHRONOUS_COMMIT = {"full": "on", "normal": "off"}  # --log-sync -> PostgreSQL's synchronous_commit
POOL_SIZE = 8  # connections kept per serving process (its threads commit in parallel)
POOL_OVERFLOW = 16
CONNECT_TIMEOUT = 10  # seconds
_INSERT = sa.text(INSERT_REQUEST)
_UPSERT_LABEL = sa.text(UPSERT_LABEL)
_HINT = ("check that the server is up and the URL's user and database exist; a password goes in PGPASSWORD "
         "or ~/.pgpass, never in the URL")


def engine(url: str, synchronous: str = "full", *, pooled: bool = True) -> Engine:
    """A SQLAlchemy engine on psycopg 3 whose connections commit synchronously (per `synchronous`)
    and give JSONB back as JSON text, as SQLite does."""
    if synchronous not in SYNCHRONOUS_COMMIT:
        raise PredictionLogError(f"synchronous must be one of {', '.join(SYNCHRONOUS_COMMIT)}, not {synchronous!r}")
    try:
        import psycopg  # noqa: F401 - only to say what is missing
    except ImportError:
        raise PredictionLogError("a PostgreSQL prediction log needs psycopg 3",
                                 hint="pip install 'driftline[postgres]'") from None
    from psycopg.types.string import TextLoader

    target = make_url(url).set(drivername="postgresql+psycopg")
    args = {"options": f"-c synchronous_commit={SYNCHRONOUS_COMMIT[synchronous]}",
            "application_name": "driftline", "connect_timeout": CONNECT_TIMEOUT}
    pool = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW, "pool_pre_ping": True} if pooled else {"poolclass": sa.NullPool}
    made = sa.create_engine(target, connect_args=args, **pool)

    @sa.event.listens_for(made, "connect")
    def _json_as_text(dbapi_connection: Any, _: Any) -> None:
        for name in ("json", "jsonb"):
            dbapi_connection.adapters.register_loader(name, TextLoader)

    return made


def _failed(url: str, exc: SQLAlchemyError, doing: str) -> PredictionLogError:
    reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
    return PredictionLogError(f"cannot {doing} the prediction log {url}: {reason}", hint=_HINT)


def ensure_layout(db: Engine, url: str) -> None:
    """Create the tables and views when the database has none; refuse another layout or a stranger's table."""
    with db.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_SCHEMA_LOCK})
        has_layout = conn.exec_driver_sql("SELECT to_regclass('log_layout') IS NOT NULL").scalar()
        version = conn.exec_driver_sql("SELECT max(version) FROM log_layout").scalar() if has_layout else None
        if version == LAYOUT_VERSION:
            return
        if version is not None and version > LAYOUT_VERSION:
            raise PredictionLogError(f"{url} holds a prediction log written by a newer driftline (layout {version})",
                                     hint="upgrade driftline on this host, or point serve.log.url at another database")
        if version is None and conn.exec_driver_sql("SELECT to_regclass('requests') IS NOT NULL").scalar():
            raise PredictionLogError(f"{url} already has a table `requests` that driftline did not create",
                                     hint="give the log a database (or a schema, ?options=-csearch_path%3D...) of its own")
        lz4 = " COMPRESSION lz4" if _has_lz4(conn) else ""
        for statement in POSTGRES_SCHEMA:
            conn.exec_driver_sql(statement.replace("{lz4}", lz4))
        conn.execute(sa.text("INSERT INTO log_layout (version) VALUES (:version)"), {"version": LAYOUT_VERSION})


def _has_lz4(conn: sa.Connection) -> bool:
    """Whether the server was built with lz4 (PostgreSQL 14+ with --with-lz4, as Debian's is)."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("SET LOCAL default_toast_compression = 'lz4'")
    except SQLAlchemyError:
        return False
    return True


class PostgresLog:
    """The PostgreSQL backend of the prediction log (see `driftline.predictions.log.DecisionLog`)."""

    def __init__(self, url: str, synchronous: str = "full") -> None:
        self.url = url
        self.synchronous = synchronous
        self._engine = engine(url, synchronous)
        try:
            ensure_layout(self._engine, url)
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise _failed(url, exc, "open") from None
        except PredictionLogError:
            self._engine.dispose()
            raise

    @property
    def where(self) -> str:
        return self.url

    def close(self) -> None:
        self._engine.dispose()

    def record(self, entry: LoggedRequest, pipeline: str) -> None:
        """Write one request's decisions in one transaction; returns once committed (synchronous_commit)."""
        with self._engine.begin() as conn:
            conn.execute(_INSERT, request_params(entry, pipeline))

    def known(self, request_ids: Iterable[str]) -> set[str]:
        """The request ids that are in the log."""
        with self._engine.connect() as conn:
            return known_ids(request_ids, lambda sql, params: conn.execute(sa.text(sql), params).all())

    def add_labels(self, labels: Sequence[tuple[str, Any]], source: str) -> None:
        """Store ground truth by request id (a later label for the same decision replaces the earlier)."""
        if not labels:
            return
        now = now_utc()
        with self._engine.begin() as conn:
            conn.execute(_UPSERT_LABEL, [{"request_id": rid, "label": orjson.dumps(label).decode(), "time": now,
                                          "source": source} for rid, label in labels])

    def prune(self, pipeline: str, before: str) -> int:
        """Delete `pipeline`'s requests logged before `before` (ISO UTC) and the labels of their
        decisions, in one transaction (retention); the number of requests deleted."""
        with self._engine.begin() as conn:
            deleted = conn.execute(sa.text(PRUNE_REQUESTS), {"pipeline": pipeline, "before": before}).rowcount
            if deleted:
                conn.execute(sa.text(PRUNE_LABELS))
        return deleted

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple]:
        """Read-only helper for tests and tools (named parameters, `:name`)."""
        with self._engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), dict(params) if params else {})]


def fetch_requests(url: str, *, since: str | None, model_version: str | None,
                   pipeline: str | None) -> tuple[list[tuple], dict[str, Any]]:
    """`read_decisions`' rows: the requests in the order they were logged, and every label by request id."""
    sql, params = requests_query("seq", since=since, model_version=model_version, pipeline=pipeline)
    db = engine(url, pooled=False)
    try:
        with db.connect() as conn:
            requests = [tuple(row) for row in conn.execute(sa.text(sql), params)]
            labels = {rid: orjson.loads(label) for rid, label in conn.execute(sa.text(SELECT_LABELS))}
    except SQLAlchemyError as exc:
        raise _failed(url, exc, "read") from None
    finally:
        db.dispose()
    return requests, labels


def fetch_decision(url: str, batch_id: str, request_id: str) -> tuple[tuple | None, tuple | None]:
    """`read_decision`'s rows: the request's (or None) and the decision's label (or None)."""
    db = engine(url, pooled=False)
    try:
        with db.connect() as conn:
            if not conn.exec_driver_sql("SELECT to_regclass('requests') IS NOT NULL").scalar():
                return None, None  # no server has logged to this database yet
            row = conn.execute(sa.text(SELECT_DECISION), {"batch_id": batch_id}).first()
            label = conn.execute(sa.text(SELECT_LABEL), {"request_id": request_id}).first()
    except SQLAlchemyError as exc:
        raise _failed(url, exc, "read") from None
    finally:
        db.dispose()
    return (None if row is None else tuple(row),
            None if label is None else (orjson.loads(label[0]), label[1], label[2]))
