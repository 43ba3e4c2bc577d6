"""The type rule: read one column's values into its declared type, and say which could not be read.

Written once and used by both backends (the validate stage's pandera check and the endpoint's
columnar check), so a value is readable on one path exactly when it is on the other. What each
kind accepts:

- float: finite numbers, and text holding one ("52000.5", as CSV gives it); not true/false, and not
  an infinity (`Infinity` in a request, `inf` in a CSV, inf in a Parquet column): no feature means
  that, and it would be logged and monitored as something else.
- int: the same, when whole and within int64 (±2^63), read exactly (never through a float);
  binary also takes true/false as 1/0. Null-like values (None, NaN, NA) are nulls, not unreadable.
- bool: true/false, 1/0, and the texts "true"/"false"/"1"/"0" in any case.
- datetime: ISO 8601 text starting YYYY-MM-DD (a time may follow, with "T" or a space) and no
  time zone; naive datetime objects; within datetime64[ns] (1677-09-22 to 2262-04-11).
- category, string: text; numbers and booleans are taken as their text.

`read_column` returns (values in the column's dtype with unreadable values as nulls, mask of the
unreadable values). It starts from the types present, so the usual JSON forms cost a numpy call.
"""

from __future__ import annotations

import datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

_NUMBERS = frozenset({int, float, type(None)})
_INTS = frozenset({int, type(None)})
_EXACT_IN_FLOAT = 2**53  # every whole number below this is exact in a float64
_INT64_END = 2**63  # int64 holds -2**63 .. 2**63 - 1; as a float, 2**63 itself is the first value outside
_TEXTS = frozenset({str, type(None)})
_BOOLS = frozenset({bool, type(None)})
_TRUTH: dict[Any, bool] = {True: True, False: False, "true": True, "false": False, "1": True, "0": False}  # 1 == 1.0 == True
_NS_FIRST = np.datetime64("1677-09-22", "us")  # datetime64[ns] spans 1677-09-21 to 2262-04-11; a margin each side
_NS_LAST = np.datetime64("2262-04-11", "us")
_NS_FIRST_TICK, _NS_LAST_TICK = int(_NS_FIRST.astype(np.int64)), int(_NS_LAST.astype(np.int64))


class Read(NamedTuple):
    values: Any  # numpy array or pandas extension array, in the column's dtype; unreadable values are nulls
    unreadable: np.ndarray  # bool, one per value
    numbers: np.ndarray | None = None  # number kinds: float64 (float) or int64 (int, binary) values, for the rules
    null: np.ndarray | None = None  # where `values` is null (given as null, or unreadable), when known cheaply


def read_column(values: Any, kind: str, types: frozenset[type] | set[type] | None = None) -> Read:
    """`values` (a list, numpy array or Series) read as `kind`. `types`: the set of the values'
    Python types, when the caller knows it (only for lists)."""
    dtype = getattr(values, "dtype", None)
    if dtype is not None and dtype != object:  # noqa: E721 - a numpy dtype, not a type: a typed column keeps its numbers
        return _read_typed(values.array if isinstance(values, pd.Series) else values, kind)
    items = values if isinstance(values, list) else list(values)
    if types is None:
        types = set(map(type, items))
    if kind in ("float", "int", "binary"):
        return _read_numbers(items, kind, types)
    if kind == "bool":
        return _read_bools(items, types)
    if kind == "datetime":
        return _read_times(items, types)
    return _read_texts(items, kind, types)


# ----------------------------------------------------------------------------------- numbers


def _read_numbers(items: list[Any], kind: str, types: Any) -> Read:
    n = len(items)
    if kind == "float" and types <= _NUMBERS:
        try:
            floats = np.array(items, dtype=np.float64)  # None -> NaN: a null
        except OverflowError:  # an int beyond any float: value by value below
            floats = None
        if floats is not None:
            return _finite(floats, np.zeros(n, dtype=bool))
    if kind != "float" and types <= _INTS:  # the usual JSON for an int column: read exactly
        ints = None
        try:
            if type(None) in types:
                # Through float64 (None -> NaN), which is exact below 2**53; anything larger is read
                # value by value below.
                floats = np.array(items, dtype=np.float64)
                null = np.isnan(floats)
                if not (np.abs(floats) >= _EXACT_IN_FLOAT).any():
                    ints = np.where(null, 0, floats).astype(np.int64)
            else:
                null = np.zeros(n, dtype=bool)
                ints = np.fromiter(items, dtype=np.int64, count=n)
        except OverflowError:  # beyond int64, or any float: value by value below
            ints = None
        if ints is not None:
            return Read(pd.arrays.IntegerArray(ints, null), np.zeros(n, dtype=bool), ints, null)
    # Anything else, value by value: numbers exactly, text through pandas' parser.
    floats = np.full(n, np.nan)
    exact: dict[int, int] = {}  # ints for an int column, kept out of the float copy
    unreadable = np.zeros(n, dtype=bool)
    texts: list[int] = []
    for i, v in enumerate(items):
        if _is_null(v):
            continue
        if isinstance(v, (bool, np.bool_)):
            if kind == "binary":
                exact[i] = int(v)
            else:
                unreadable[i] = True  # true/false is not a number, except in a 0/1 column
        elif isinstance(v, (int, np.integer)) and kind != "float":
            exact[i] = int(v)
        elif isinstance(v, (int, float, np.integer, np.floating)):
            try:
                floats[i] = float(v)
            except OverflowError:
                unreadable[i] = True
        elif isinstance(v, str):
            texts.append(i)
        else:
            unreadable[i] = True
    if texts:
        parsed = pd.to_numeric(pd.Series([items[i] for i in texts], dtype=object), errors="coerce")
        if kind != "float" and parsed.dtype.kind in "iu":  # whole numbers in text: exact
            exact.update(zip(texts, parsed.tolist()))
        else:
            floats[texts] = parsed.to_numpy(np.float64)
            unreadable[texts] = np.isnan(floats[texts])  # "nan" or "" says nothing: unreadable, not null
    if kind == "float":
        return _finite(floats, unreadable)
    return _as_ints(floats, exact, unreadable)


def _finite(floats: np.ndarray, unreadable: np.ndarray) -> Read:
    """A float column read: an infinity is unreadable (and a null in the values), like any value that is no float."""
    infinite = np.isinf(floats)
    if infinite.any():
        floats = np.where(infinite, np.nan, floats)
        unreadable = unreadable | infinite
    return Read(floats, unreadable, floats, np.isnan(floats))


def _as_ints(floats: np.ndarray, exact: dict[int, int], unreadable: np.ndarray) -> Read:
    """Int64 from whole floats within int64 and from exact ints within int64; the rest unreadable."""
    with np.errstate(invalid="ignore"):
        whole = (np.floor(floats) == floats) & (np.abs(floats) < _INT64_END)
    unreadable = unreadable | (~np.isnan(floats) & ~whole)
    ints = np.where(whole, floats, 0).astype(np.int64)
    null = ~whole
    for i, v in exact.items():
        if -_INT64_END <= v < _INT64_END:
            ints[i], null[i] = v, False
        else:
            unreadable[i] = True
    return Read(pd.arrays.IntegerArray(ints, null), unreadable, ints, null)


def _is_null(value: Any) -> bool:
    return (value is None or value is pd.NA or value is pd.NaT or (isinstance(value, (float, np.floating)) and value != value)
            or (isinstance(value, np.datetime64) and bool(np.isnat(value))))


# ----------------------------------------------------------------------------------- booleans


def _read_bools(items: list[Any], types: Any) -> Read:
    if types <= _BOOLS:
        null = np.fromiter((v is None for v in items), dtype=bool, count=len(items))
        return Read(pd.arrays.BooleanArray(np.array([bool(v) for v in items], dtype=bool), null),
                    np.zeros(len(items), dtype=bool))
    out: list[Any] = []
    unreadable = np.zeros(len(items), dtype=bool)
    for i, v in enumerate(items):
        if _is_null(v):
            out.append(None)
            continue
        key = v.lower() if isinstance(v, str) else v
        try:
            truth = _TRUTH.get(key)
        except TypeError:  # unhashable
            truth = None
        if truth is None:
            unreadable[i] = True
        out.append(truth)
    return Read(pd.array(out, dtype="boolean"), unreadable)


# ----------------------------------------------------------------------------------- times


def _read_times(items: list[Any], types: Any) -> Read:
    n = len(items)
    if types == {str} and n:
        times = _parse_iso(items)
        if times is not None:
            inside = _inside(times)
            if inside is None:
                none = np.zeros(n, dtype=bool)
                return Read(times.astype("datetime64[ns]"), none, None, none)
            return Read(np.where(inside, times, np.datetime64("NaT")).astype("datetime64[ns]"), ~inside, None, ~inside)
    # Value by value only when the column holds something else, or a text the batch parse refused.
    times = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    unreadable = np.zeros(n, dtype=bool)
    for i, v in enumerate(items):
        if _is_null(v):
            continue
        when = None
        if isinstance(v, str):
            parsed = _parse_iso([v])
            when = None if parsed is None else parsed[0]
        elif isinstance(v, datetime.datetime) and v.tzinfo is None:
            when = np.datetime64(v, "us")
        elif isinstance(v, datetime.date) and not isinstance(v, datetime.datetime):
            when = np.datetime64(v, "us")
        elif isinstance(v, np.datetime64):
            when = v.astype("datetime64[us]")
        if when is None or np.isnat(when) or not (_NS_FIRST <= when <= _NS_LAST):
            unreadable[i] = True
        else:
            times[i] = when
    return Read(times.astype("datetime64[ns]"), unreadable)


def _parse_iso(texts: list[str]) -> np.ndarray | None:
    """The texts as datetime64[us] when every one is ISO 8601 without a time zone, else None."""
    width = max(map(len, texts))
    if width < 10:
        return None
    chars = np.array(texts, dtype=f"U{width}").view(np.uint32).reshape(len(texts), width)
    # numpy also reads "now", "today", "NaT", bare years, signed years and leading blanks: hold
    # every text to a digit first and dashes at 4 and 7 (numpy checks the digits in between),
    # and refuse a time zone ("Z", "+hh:mm", "-hh:mm"), which numpy would read as UTC with a warning.
    tail = chars[:, 10:]
    if not (((chars[:, 0] - 48) < 10) & (chars[:, 4] == 45) & (chars[:, 7] == 45)).all() or \
            ((tail == 43) | (tail == 45) | ((tail | 32) == 122)).any():
        return None
    try:
        return np.array(texts, dtype="datetime64[us]")
    except ValueError:
        return None


def _inside(times: np.ndarray) -> np.ndarray | None:
    """None when every time (datetime64[us], no NaT) fits datetime64[ns], else the mask of those that do."""
    ticks = times.view(np.int64)
    if _NS_FIRST_TICK <= ticks.min() and ticks.max() <= _NS_LAST_TICK:
        return None
    return (ticks >= _NS_FIRST_TICK) & (ticks <= _NS_LAST_TICK)


# ----------------------------------------------------------------------------------- text


def _read_texts(items: list[Any], kind: str, types: Any) -> Read:
    unreadable = np.zeros(len(items), dtype=bool)
    if not types <= _TEXTS:
        items = [None if _is_null(v) else v if isinstance(v, str) else str(v) for v in items]
    return Read(pd.array(items, dtype="string"), unreadable)


def _read_typed(values: Any, kind: str) -> Read:
    """A column that already has a dtype (the validate stage's frames, mostly): numbers stay numbers."""
    dtype = values.dtype
    n = len(values)
    none = np.zeros(n, dtype=bool)
    if kind in ("float", "int", "binary") and pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        array = pd.array(values)
        if kind == "float":
            return _finite(array.to_numpy(dtype=np.float64, na_value=np.nan), none)
        if pd.api.types.is_signed_integer_dtype(dtype):  # exact, no float in between
            null = np.asarray(array.isna(), dtype=bool)
            ints = array.to_numpy(dtype=np.int64, na_value=0)
            return Read(pd.arrays.IntegerArray(ints, null), none, ints, null)
        if not pd.api.types.is_unsigned_integer_dtype(dtype):
            return _as_ints(array.to_numpy(dtype=np.float64, na_value=np.nan), {}, none)
    if kind == "datetime" and dtype.kind == "M" and getattr(dtype, "tz", None) is None:
        times = np.asarray(values).astype("datetime64[us]")
        inside = np.isnat(times) | ((times >= _NS_FIRST) & (times <= _NS_LAST))
        return Read(np.where(inside, times, np.datetime64("NaT")).astype("datetime64[ns]"), ~inside)
    if kind in ("category", "string") and isinstance(dtype, pd.StringDtype):
        return Read(pd.array(values, dtype="string"), none)
    if kind in ("category", "string") and has_text_levels(dtype):
        # text levels taken by code (-1, missing, becomes null): no Python object per value (0.6 s a 1M-row column)
        levels = pd.array(np.asarray(dtype.categories, dtype=object), dtype="string")
        return Read(levels.take(np.asarray(pd.Categorical(values).codes), allow_fill=True), none)
    return read_column(list(np.asarray(values, dtype=object)), kind)


def has_text_levels(dtype: Any) -> bool:
    """A pandas category dtype whose levels are all text: its values can be taken by code, never one by one."""
    return isinstance(dtype, pd.CategoricalDtype) and all(isinstance(v, str) for v in dtype.categories)
