"""The drift history (reports/<p>/drift_history.csv): its columns."""

from __future__ import annotations

HISTORY_COLUMNS = ("run", "time", "batch", "chunk", "rows", "signal", "name", "statistic", "threshold", "drifted")
