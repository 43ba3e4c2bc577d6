"""The one clock every record is stamped with: UTC, ISO 8601."""

from __future__ import annotations

import datetime as dt


def now_utc(timespec: str = "milliseconds") -> str:
    """The current UTC time, ISO 8601 (milliseconds unless asked otherwise)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec=timespec)
