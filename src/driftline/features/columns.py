"""Columns, the one data model of the feature transforms: numpy arrays and category codes.

A column is either a 1-d numpy array (float64 with NaN for missing numbers, int64, bool,
datetime64, or object for text and anything mixed) or `Codes`: integer codes into a list of
category levels (-1 = missing). `column` turns whatever a caller holds — a pandas column of any
dtype, a numpy array, a list — into one of those; the rest of this module is what the transforms
need on them (numbers as floats, missing masks, level learning and level lookup).

Level matching follows pandas' `Index.get_indexer` over the stored levels, because that is what
fitted models were trained with: a typed level list (all bool, all numbers, all text) never
matches True against 1, and a list mixing text with other kinds compares with Python equality.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

OTHER = "__other__"
"""The level that rare and (at apply time) unseen categories are merged into."""

Level = bool | int | float | str
"""A category level as stored in JSON state."""

SMALL = 64  # below this many rows, per-value dict lookups beat factorising first


@dataclass(frozen=True, eq=False)
class Codes:
    """A categorical column: positions in `levels`, -1 for missing."""

    codes: np.ndarray  # intp
    levels: list[Any]


Column = np.ndarray | Codes


def length(col: Column) -> int:
    return len(col.codes) if isinstance(col, Codes) else len(col)


# ---------------------------------------------------------------------------------------------
# Input columns
# ---------------------------------------------------------------------------------------------

_LEVELS: dict[int, tuple[Any, list[Any]]] = {}  # id(CategoricalDtype) -> (dtype, its levels)


def _codes_of(codes: Any, dtype: pd.CategoricalDtype) -> Codes:
    # Validated requests share one dtype object per column (lru-cached in serve.validation), so
    # the levels are listed once, not per request; and the same list object lets a level lookup
    # reuse its mapping (see `Table.positions`).
    hit = _LEVELS.get(id(dtype))
    if hit is None or hit[0] is not dtype:
        if len(_LEVELS) > 256:
            _LEVELS.clear()
        hit = _LEVELS[id(dtype)] = (dtype, list(dtype.categories))
    return Codes(np.asarray(codes, dtype=np.intp), hit[1])


def column(values: Any) -> Column:
    """Any caller's column (pandas Series or array of any dtype, numpy array, list) as a Column."""
    if isinstance(values, list):
        values = pd.Series(values)  # exactly as a DataFrame built from the same lists would hold it
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy() if isinstance(values.dtype, np.dtype) else values.array
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        values = values.to_numpy()
    dtype = getattr(values, "dtype", None)
    if isinstance(values, np.ndarray):
        array = values
    elif isinstance(dtype, pd.CategoricalDtype):
        return _codes_of(values.codes, dtype)
    elif isinstance(dtype, np.dtype):  # tz-naive DatetimeArray, TimedeltaArray
        array = np.asarray(values)
    elif isinstance(dtype, pd.DatetimeTZDtype):
        # Time-zone aware: the local wall clock, which is what date parts are read from.
        array = values.tz_localize(None).to_numpy()
    elif isinstance(dtype, pd.StringDtype):
        return values.to_numpy(dtype=object)  # missing as NaN or pd.NA: both count as missing
    elif dtype is not None and is_bool_dtype(dtype):
        # Nullable boolean: True/False/None, so category levels match as booleans, not as 1/0.
        return values.to_numpy(dtype=object, na_value=None)
    elif dtype is not None and is_numeric_dtype(dtype):
        # Nullable Int64/Float64: float64 with NaN for missing.
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    elif dtype is not None:
        return np.asarray(values, dtype=object)  # any other extension type: its Python values
    else:
        array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"columns must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind in "US":
        return array.astype(object)
    if array.dtype.kind in "fiubmMO":
        return array
    return array.astype(object)


def values(col: Column) -> np.ndarray:
    """Codes as an object array of their levels (NaN for missing); arrays as they are."""
    if not isinstance(col, Codes):
        return col
    levels = np.empty(len(col.levels) + 1, dtype=object)
    levels[:-1] = col.levels
    levels[-1] = np.nan
    return levels[col.codes]


def as_float(col: Column, name: str) -> np.ndarray:
    """The column as float64 with NaN for missing (bools become 0/1, timedeltas seconds).

    Serving requests may carry numbers as text or objects; those are parsed.
    """
    col = values(col)
    kind = col.dtype.kind
    if kind == "f":
        return col.astype(np.float64, copy=False)
    if kind in "iub":
        return col.astype(np.float64)
    if kind == "m":
        return pd.Series(col).dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "O" and is_boolean_objects(col):
        out = np.full(len(col), np.nan)
        present = ~isna(col)
        out[present] = col[present].astype(np.float64)
        return out
    try:
        parsed = pd.to_numeric(pd.Series(col, dtype=col.dtype, copy=False), errors="raise")
    except (ValueError, TypeError) as err:
        raise ValueError(f"column '{name}' is not numeric: {err}") from None
    return parsed.to_numpy(dtype=np.float64, na_value=np.nan)


def isna(col: Column) -> np.ndarray:
    if isinstance(col, Codes):
        return col.codes < 0
    kind = col.dtype.kind
    if kind == "f":
        return np.isnan(col)
    if kind in "iub":
        return np.zeros(len(col), dtype=bool)
    if kind in "mM":
        return np.isnat(col)
    return pd.isna(col)


def is_numeric(col: Column) -> bool:
    """Numbers, booleans (nullable ones included) and durations; not text, codes or times."""
    if isinstance(col, Codes):
        return False
    return col.dtype.kind in "fiubm" or (col.dtype == object and is_boolean_objects(col))


def is_boolean_objects(col: np.ndarray) -> bool:
    """An object column holding only booleans and missing values (a nullable boolean column)."""
    present = col[~pd.isna(col)]
    return len(present) > 0 and all(isinstance(v, (bool, np.bool_)) for v in present.tolist())


def int_or_float(numbers: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """int64 when nothing is missing, else float64 with NaN (pandas' own convention)."""
    if missing.any():
        out = numbers.astype(np.float64)
        out[missing] = np.nan
        return out
    return numbers.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Levels
# ---------------------------------------------------------------------------------------------


def to_level(value: Any) -> Level:
    """A category level as a plain JSON scalar (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float) and np.isfinite(value):
        return value
    raise TypeError(f"category level {value!r} ({type(value).__name__}) cannot be stored as JSON")


def level_sort_key(level: Level) -> tuple[int, Any]:
    """Numbers before strings, each in natural order: a fixed order whatever the row order."""
    return (1, level) if isinstance(level, str) else (0, level)


def factorize(col: Column) -> tuple[np.ndarray, list[Level]]:
    """(row codes, -1 for missing; the distinct observed values as levels, in any order)."""
    if isinstance(col, Codes):
        # Levels in order of first appearance, as pandas factorises: sums over levels then add
        # up in the same order, so out-of-fold encodings match to the last bit whatever the input.
        present, first = np.unique(col.codes[col.codes >= 0], return_index=True)
        observed = present[np.argsort(first, kind="stable")]
        remap = np.full(len(col.levels) + 1, -1, dtype=np.intp)
        remap[observed] = np.arange(len(observed))
        return remap[col.codes], [to_level(col.levels[i]) for i in observed]
    row_codes, uniques = pd.factorize(col, use_na_sentinel=True)
    return row_codes.astype(np.intp, copy=False), [to_level(v) for v in uniques.tolist()]


def level_counts(col: Column) -> list[tuple[Level, int]]:
    """(level, count) of every observed value."""
    row_codes, levels = factorize(col)
    counts = np.bincount(row_codes[row_codes >= 0], minlength=len(levels))
    return [(level, int(n)) for level, n in zip(levels, counts.tolist())]


def learn_levels(col: Column, min_frequency: int = 1, max_categories: int | None = None) -> list[Level]:
    """Sorted levels to keep, plus OTHER last when any level was merged away."""
    observed = level_counts(col)
    kept = [(level, n) for level, n in observed if n >= min_frequency]
    if max_categories is not None and len(kept) > max_categories:
        kept.sort(key=lambda item: (-item[1], level_sort_key(item[0])))
        kept = kept[:max_categories]
    levels = sorted((level for level, _ in kept), key=level_sort_key)
    if len(kept) < len(observed) and OTHER not in levels:
        levels.append(OTHER)
    return levels


def index_dtype(levels: Sequence[Level]) -> Any:
    """The pandas index dtype of stored levels: text gets pandas' default, anything mixed object."""
    if levels and all(isinstance(v, str) for v in levels):
        return None
    if levels and any(isinstance(v, str) for v in levels):
        return object
    return None


class Table:
    """level -> position over stored levels, matching values as pandas' `get_indexer` would."""

    def __init__(self, levels: Sequence[Level]) -> None:
        self.levels = list(levels)
        strict = pd.Index(self.levels, dtype=index_dtype(self.levels)).dtype != object
        self.key = _key if strict else _loose_key
        self.index: dict[Any, int] = {}
        for i, level in enumerate(self.levels):
            self.index.setdefault(self.key(level), i)
        self.other = self.levels.index(OTHER) if OTHER in self.levels else -1
        self._codes_cache: tuple[Any, tuple[int, int], np.ndarray] | None = None

    def positions(self, col: Column, unseen: int, missing: int) -> np.ndarray:
        """Position of each value in the levels; `unseen` if absent, `missing` for missing."""
        index, key = self.index, self.key
        if isinstance(col, Codes):
            if col.levels is self.levels and unseen == self.other and missing == -1:
                return col.codes
            cached = self._codes_cache
            if cached is not None and cached[0] is col.levels and cached[1] == (unseen, missing):
                return cached[2][col.codes]
            mapped = np.fromiter((index.get(key(v), unseen) for v in col.levels), dtype=np.intp,
                                 count=len(col.levels))
            mapped = np.append(mapped, missing).astype(np.intp)
            self._codes_cache = (col.levels, (unseen, missing), mapped)
            return mapped[col.codes]
        n = len(col)
        if n <= SMALL:
            items = col.tolist()
            if col.dtype.kind in "fiub":  # numbers: NaN is the only missing value
                return np.fromiter((missing if v != v else index.get(key(v), unseen) for v in items),
                                   dtype=np.intp, count=n)
            # Booleans among other objects: pandas factorises True and 1 into one value first.
            if not any(isinstance(v, (bool, np.bool_)) for v in items):
                return np.fromiter((missing if _is_missing(v) else index.get(key(v), unseen) for v in items),
                                   dtype=np.intp, count=n)
        row_codes, uniques = pd.factorize(col, use_na_sentinel=True)
        mapped = np.fromiter((index.get(key(v), unseen) for v in uniques.tolist()), dtype=np.intp,
                             count=len(uniques))
        return np.append(mapped, missing).astype(np.intp)[row_codes]

    def encode(self, col: Column) -> Codes:
        """The column as codes into these levels: unseen values become OTHER if it is a level,
        else missing."""
        return Codes(self.positions(col, unseen=self.other, missing=-1), self.levels)


def same_level(a: Any, b: Any) -> bool:
    """Whether two values are one category level (True is not the level 1)."""
    return bool(_key(a) == _key(b))


def _key(value: Any) -> Any:
    # Booleans are their own kind of level: pandas does not match True against the level 1.
    if isinstance(value, (bool, np.bool_)):
        return ("__bool__", bool(value))
    if isinstance(value, np.generic):
        return value.item()
    return value


def _loose_key(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, np.floating):
        return bool(np.isnan(value))
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    return False
