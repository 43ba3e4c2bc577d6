"""The `serve` key of a pipeline: where `driftline serve` logs its decisions.

    serve:
      log:
        url: null          # the embedded default: logs/<pipeline>/predictions.sqlite
        # url: postgresql://driftline@db.internal:5432/decisions   a log several hosts share
        retention_days: null   # keep every decision; N: the server deletes decisions (and their labels)
                               # older than N days when it starts and every hour while it runs
        max_extra_bytes: 4096  # per record: JSON of fields outside the schema that the log keeps

A URL names the server, user and database, never a password: params.yaml and dvc.lock are committed,
so a URL with one is refused. libpq reads the password from PGPASSWORD or ~/.pgpass (PGPASSFILE),
as psql does. The environment variable DRIFTLINE_LOG_URL, when set, overrides the key.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

LOG_URL_ENV = "DRIFTLINE_LOG_URL"
LOG_URL_SCHEMES = ("postgresql", "postgresql+psycopg")
MAX_EXTRA_BYTES_LIMIT = 16 * 1024 * 1024  # the largest body `driftline serve` accepts by default


def check_log_url(url: str) -> str:
    """The URL, stripped, when it can name a shared prediction log; ValueError saying why not."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError as exc:
        raise ValueError(f"'{url}' is not a URL ({exc})") from None
    if parts.scheme not in LOG_URL_SCHEMES:
        raise ValueError(f"'{url}' is not a PostgreSQL URL: write postgresql://user@host:port/database "
                         "(or null for the embedded SQLite log)")
    if parts.password is not None or "password" in parse_qs(parts.query):
        raise ValueError("the URL holds a password, which would be written to params.yaml and dvc.lock; "
                         "remove it and give it to libpq through PGPASSWORD or ~/.pgpass")
    if not parts.path.strip("/"):
        raise ValueError(f"'{url}' names no database: write postgresql://user@host:port/database")
    return url


class ServeLogSpec(BaseModel):
    """`url`: null keeps the SQLite file per pipeline; a postgresql:// URL (no password) is a shared log.
    `retention_days`: null keeps every decision; N deletes this pipeline's decisions older than N days
    (and their labels) when the server starts and every hour. `max_extra_bytes`: how much JSON of
    a record's fields outside the schema the log keeps (the rest is left out, and the record says so)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    retention_days: int | None = Field(None, ge=1, le=36_500)
    max_extra_bytes: int = Field(4096, ge=0, le=MAX_EXTRA_BYTES_LIMIT)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_log_url(value)


class ServeSpec(BaseModel):
    """What `driftline serve` needs beyond the champion."""

    model_config = ConfigDict(extra="forbid")

    log: ServeLogSpec = ServeLogSpec()
