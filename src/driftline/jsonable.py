"""Values as plain JSON data, written once: numpy and pandas scalars, missing values, timestamps.

Reports (drift statistics) and answers (reason codes) both hold values that came out of numpy or
pandas; this turns each into what JSON can carry: NaN, inf and missing become null, timestamps
ISO 8601 text, anything else unknown its text.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

_MISSING_TYPES = frozenset({"NAType", "NaTType"})  # pandas.NA and pandas.NaT, without importing pandas


def jsonable(value: Any) -> Any:
    """`value` as plain JSON data (mappings and sequences converted item by item)."""
    if value is None or type(value).__name__ in _MISSING_TYPES:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):  # pandas.Timestamp is a datetime
        return value.isoformat()
    if isinstance(value, np.datetime64):
        import pandas as pd

        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    return str(value)
