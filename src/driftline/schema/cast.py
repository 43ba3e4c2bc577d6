"""Cast a frame to the dtypes its schema declares: the one place a batch or a source gets its types.

Values are read with the type rule (`driftline.schema.read.read_column`), so a value castable
here is exactly one the validate stage and the endpoint accept. What each kind becomes:

- float: float64; int and binary: nullable Int64; bool: nullable boolean;
- datetime: datetime64[ns] without a time zone. ISO 8601 text is read as written; a value with a
  time zone (text with "Z"/"+hh:mm", or a zoned dtype, as a CSV source's `parse_dates` gives
  it) is converted to UTC and the zone dropped, the same for a source and for its batches;
- category: pandas category, the declared levels first, then any other value seen (so the
  validate stage can still name a value outside `isin`, instead of it becoming a null here);
- string: pandas string.

`strict=True` (a batch being added) refuses a column with any value that cannot be read, naming
the column and examples. `strict=False` (ingest's source) keeps such a column as text, so the
validate stage quarantines exactly the unreadable rows with their reasons. Columns the schema
does not declare are left as they are; missing ones are the caller's to report (`frame_problems`).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftline.errors import DriftlineError
from driftline.schema.read import has_text_levels, read_column
from driftline.schema.rules import ColumnRules, SchemaRules

EXAMPLES = 3


class CastError(DriftlineError):
    """A column's values cannot be read as the type the schema declares."""

    def __init__(self, column: str, message: str, *, hint: str | None = None) -> None:
        self.column = column
        super().__init__(message, hint=hint)


def cast_to_schema(frame: pd.DataFrame, rules: SchemaRules, *, strict: bool = True) -> pd.DataFrame:
    """A copy of `frame` with every declared column in its kind's dtype (see the module doc)."""
    out = frame.copy()
    for name, col in rules.columns.items():
        if name in out.columns:
            out[name] = cast_column(out[name], col, strict=strict)
    return out


def cast_column(values: pd.Series, col: ColumnRules, *, strict: bool = True) -> Any:
    """One column in its kind's dtype; unreadable values refused (strict) or the column kept as text."""
    if col.kind == "datetime":
        cast, unreadable = _datetimes(values)
    else:
        read = read_column(values, col.kind)
        cast, unreadable = read.values, read.unreadable
    if unreadable.any():
        if strict:
            examples = ", ".join(repr(v) for v in pd.Series(values).to_numpy(dtype=object)[unreadable][:EXAMPLES])
            raise CastError(col.name, f"column {col.name!r}: {int(unreadable.sum()):,} of {len(values):,} value(s) are "
                                      f"{col.message('type')}; first: {examples}",
                            hint=f"fix those values, or change the column's dtype in the schema (now {col.kind})")
        text = as_text(values)
        if col.kind == "datetime":  # the readable times as naive UTC text, so a zoned one is not refused with its neighbours
            read = ~unreadable & ~np.isnat(cast)
            text = text.copy()
            text[read] = pd.Series(cast[read]).dt.strftime("%Y-%m-%dT%H:%M:%S.%f").to_numpy()
        return text
    if col.kind == "category":
        if has_text_levels(getattr(values, "dtype", None)):
            return _recoded(pd.Categorical(values), col)
        return _categories(cast, col)
    return cast


def as_text(values: Any) -> pd.Series:
    """Every value as its text (nulls stay null): the form any column can be written in."""
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    return series.astype("string")


def concat_cast(frames: Sequence[pd.DataFrame], rules: SchemaRules) -> pd.DataFrame:
    """Frames already cast (`cast_to_schema`), stacked with one dtype per column: a category
    gets every frame's levels; a column whose dtypes differ (text in one frame, kept as text by a
    lenient cast; or a column the schema does not declare) becomes text in all, so the validate
    stage reads each value with the type rule and pyarrow never meets a mixed column."""
    frames = [f.reset_index(drop=True) for f in frames]
    names = list(dict.fromkeys(name for f in frames for name in f.columns))
    for name in names:
        col = rules.columns.get(name)
        present = [f for f in frames if name in f.columns]
        category = col is not None and col.kind == "category"
        if len({str(f[name].dtype) for f in present}) <= 1 and not category:
            continue
        texts = [as_text(f[name]) for f in present]
        if col is not None and category and all(isinstance(f[name].dtype, pd.CategoricalDtype) for f in present):
            levels = _levels(col, pd.concat(texts, ignore_index=True))
            for f, text in zip(present, texts):
                f[name] = pd.Categorical(text, categories=levels)
        else:
            for f, text in zip(present, texts):
                f[name] = text
    return pd.concat(frames, ignore_index=True)


def _categories(values: Any, col: ColumnRules) -> pd.Categorical:
    text = as_text(values)
    return pd.Categorical(text, categories=_levels(col, text))


def _recoded(values: pd.Categorical, col: ColumnRules) -> pd.Categorical:
    """`_categories` of a category column with text levels, by its codes: the levels it uses are its text."""
    codes = np.asarray(values.codes)
    used = pd.Series(values.categories[np.unique(codes[codes >= 0])], dtype="string")
    return values.set_categories(_levels(col, used))


def _levels(col: ColumnRules, text: pd.Series) -> list[str]:
    declared = list(col.levels or ())
    seen = set(text.dropna().unique()) - set(declared)
    return declared + sorted(seen)


_ZONED = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d(:?\d\d)?)", re.IGNORECASE)


def _zoned(value: Any) -> bool:
    """ISO 8601 text with a time zone, or a datetime that carries one."""
    if isinstance(value, str):
        return _ZONED.fullmatch(value.strip()) is not None
    return isinstance(value, datetime.datetime) and value.tzinfo is not None


def _datetimes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """datetime64[ns] values and the mask of unreadable ones; zoned values in UTC, zone dropped."""
    series = pd.Series(values)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    read = read_column(series, "datetime")
    times, unreadable = np.asarray(read.values, dtype="datetime64[ns]").copy(), read.unreadable.copy()
    if unreadable.any():  # the type rule takes no time zone: the zoned values among these, in UTC
        rows = np.array([i for i in np.flatnonzero(unreadable) if _zoned(series.iat[i])], dtype=np.int64)
        if not len(rows):
            return times, unreadable
        zoned = pd.to_datetime(pd.Series(series.to_numpy(dtype=object)[rows], dtype=object), format="ISO8601",
                               utc=True, errors="coerce")
        read_ok = zoned.notna().to_numpy()
        if read_ok.any():
            utc = zoned[read_ok].dt.tz_localize(None).astype("datetime64[ns]").to_numpy()
            times[rows[read_ok]] = utc
            unreadable[rows[read_ok]] = False
    return times, unreadable


@dataclass
class CheckedBatch:
    """A new batch cast to the schema's dtypes, and how its rows fare against the row-level rules."""

    frame: pd.DataFrame
    rows: int
    bad_rows: int
    failures: dict[str, int]  # "column: message" -> rows

    @property
    def bad_share(self) -> float:
        return self.bad_rows / self.rows if self.rows else 0.0


def check_batch(frame: pd.DataFrame, rules: SchemaRules, label: str) -> CheckedBatch:
    """Structural problems refuse the batch with one error naming `label` and the column (missing
    or forbidden columns, values unreadable as the column's type, no rows). Row-level rules
    (ranges, allowed values, nulls, uniqueness) do not: their failures are counted for the monitor,
    which judges the batch. Columns the schema drops (`extra_columns: drop`) are dropped here."""
    from driftline.schema.validate import frame_problems, validate_frame

    problems = frame_problems(list(frame.columns), rules)
    if problems:
        column, message = problems[0]
        more = f" (and {len(problems) - 1} more: {', '.join(c for c, _ in problems[1:])})" if len(problems) > 1 else ""
        raise CastError(column, f"{label}: column {column!r}: {message}{more}",
                        hint="the file must have the schema's columns; fix the file or the schema, then add it again")
    if frame.empty:
        raise CastError("", f"{label}: the file has no rows", hint="add a file with rows")
    if rules.extra_columns == "drop":
        frame = frame[[c for c in frame.columns if c in rules.columns]]
    try:
        cast = cast_to_schema(frame, rules, strict=True)
    except CastError as exc:
        raise CastError(exc.column, f"{label}: {exc}", hint=exc.hint) from None
    outcome = validate_frame(cast, rules)
    return CheckedBatch(cast, len(cast), len(outcome.quarantine), outcome.failures)
