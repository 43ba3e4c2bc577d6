"""Request records checked against the pipeline's schema before the model sees them.

The semantics are those of `driftline.schema.validate.validate_frame`, the validate stage's own
check: the same coercion (`_coerce`, column by column) and the same rules (nullable, ge, le,
isin, unique). Running pandera on every request costs about 25 ms, so the common path — every
record valid — is checked here with the same coercion and plain vectorised comparisons, which
only ever accept what `validate_frame` accepts and build the same frame (unit-tested). As soon
as anything looks wrong, `validate_frame` itself runs on the request frame and its quarantine
reasons become the per-record, per-field errors of the 422 answer.
"""

from __future__ import annotations

import datetime
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftline.config.groups import ColumnSpec, SchemaSpec
from driftline.schema.validate import REASON, _coerce, validate_frame
from driftline.serve.bundle import RequestSchema

_NS_FIRST = datetime.datetime(1677, 9, 22)  # inside the range of datetime64[ns], with a margin
_NS_LAST = datetime.datetime(2262, 4, 11)
_EXACT_INT = 2**53  # beyond this, ints do not survive validate_frame's float round trip
RECORD = "__record__"  # carries each row's request index through validate_frame's quarantine
_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of one record (record is the index in `records`)."""

    record: int | None
    field: str | None
    message: str
    value: Any = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"record": self.record, "field": self.field, "message": self.message}
        if self.value is not None:
            out["value"] = self.value if not isinstance(self.value, float) or math.isfinite(self.value) else str(self.value)
        return out


def check_records(records: list[dict[str, Any]], schema: RequestSchema) -> tuple[pd.DataFrame | None, list[FieldError]]:
    """(the validated frame, no errors) or (None, every error found).

    The frame has one row per record in order, the schema's dtypes (as `validate_frame` leaves
    them), and only the schema's input columns.
    """
    spec = schema.spec
    errors: list[FieldError] = []
    readable: list[int] = []  # records whose shape is right; their values are checked next
    for i, record in enumerate(records):
        before = len(errors)
        for name in spec.columns:
            if name not in record:
                errors.append(FieldError(i, name, "field required"))
        for name, value in record.items():
            if name in spec.columns or name == schema.id_column:
                if not isinstance(value, _SCALARS):
                    errors.append(FieldError(i, name, "must be a single value, not an object or array"))
            elif schema.extra_columns == "error":
                errors.append(FieldError(i, name, "unexpected field (the schema does not allow extra fields)"))
        if len(errors) == before:
            readable.append(i)
    if not readable:
        return None, errors
    if not errors:
        good = fast_records(records, spec)
        if good is not None:
            return good, []
    subset = records if len(readable) == len(records) else [records[i] for i in readable]
    frame = pd.DataFrame({name: [record[name] for record in subset] for name in spec.columns})
    good, value_errors = _full_check(frame, spec)
    errors += [FieldError(None if e.record is None else readable[e.record], e.field, e.message, e.value) for e in value_errors]
    if errors:
        errors.sort(key=lambda e: (-1 if e.record is None else e.record, list(spec.columns).index(e.field) if e.field in spec.columns else len(spec.columns)))
        return None, errors
    return good, []


def fast_records(records: list[dict[str, Any]], spec: SchemaSpec) -> pd.DataFrame | None:
    """The validated frame when every record passes, else None (then `validate_frame` decides).

    Plain Python checks on the values JSON gives, with the coercion and rules of validate_frame.

    Accepts only the unambiguous forms — numbers for numeric columns, whole numbers for int,
    true/false for bool, strings for text and categories, naive ISO 8601 times written alike —
    and returns None for anything else (strings holding numbers, booleans in numeric columns,
    time zones...), which the full check then reads exactly as the validate stage would.
    """
    columns: dict[str, Any] = {}
    for name, col in spec.columns.items():
        values = [record[name] for record in records]
        built = _column(values, col)
        if built is None:
            return None
        columns[name] = built
    return pd.DataFrame(columns, index=pd.RangeIndex(len(records)))


def _column(values: list[Any], col: ColumnSpec) -> Any:
    kind = col.dtype
    present = []
    for v in values:
        if v is None or _is_nan(v):
            if not col.nullable:
                return None
        else:
            present.append(v)
    if kind == "float":
        if any(type(v) not in (int, float) for v in present):
            return None
        if any(type(v) is int and abs(v) > _EXACT_INT for v in present):
            return None
        numbers = present
        out: Any = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    elif kind in ("int", "binary"):
        numbers = []
        for v in present:
            if type(v) is int and abs(v) <= _EXACT_INT:
                numbers.append(v)
            elif type(v) is float and math.isfinite(v) and v.is_integer() and abs(v) <= _EXACT_INT:
                numbers.append(int(v))
            else:
                return None
        if kind == "binary" and col.isin is None and any(v not in (0, 1) for v in numbers):
            return None
        out = pd.array([None if v is None or _is_nan(v) else int(v) for v in values], dtype="Int64")
    elif kind == "bool":
        if any(type(v) is not bool for v in present) or col.ge is not None or col.le is not None or col.isin is not None:
            return None
        numbers = []
        out = pd.array([None if v is None or _is_nan(v) else v for v in values], dtype="boolean")
    elif kind == "datetime":
        if col.ge is not None or col.le is not None or col.isin is not None:
            return None
        times = _naive_iso_times(present)
        if times is None:
            return None
        it = iter(times)
        numbers = []
        out = np.array([np.datetime64("NaT") if v is None or _is_nan(v) else np.datetime64(next(it), "ns")
                        for v in values], dtype="datetime64[ns]")
    else:  # category, string
        if any(type(v) is not str for v in present):
            return None
        if col.ge is not None or col.le is not None:
            return None
        numbers = []
        if kind == "category":
            # Codes straight from the levels: what pd.Categorical(values, categories=levels) gives,
            # without building a string column first.
            levels = tuple(str(v) for v in col.isin) if col.isin is not None else tuple(sorted(set(present)))
            dtype, lookup = _category_levels(levels)
            codes = [lookup.get(v, -2) if v is not None and not _is_nan(v) else -1 for v in values]
            if -2 in codes:
                return None
            return pd.Categorical.from_codes(codes, dtype=dtype) if _unique_ok(present, col) else None
        out = pd.array([None if v is None or _is_nan(v) else v for v in values], dtype="string")
    if col.ge is not None and any(v < col.ge for v in numbers):
        return None
    if col.le is not None and any(v > col.le for v in numbers):
        return None
    if col.isin is not None:
        allowed = {str(v) for v in col.isin} if kind in ("category", "string") else set(col.isin)
        if kind not in ("category", "string") and any(isinstance(v, str) for v in allowed):
            return None
        if any(v not in allowed for v in (present if kind in ("category", "string") else numbers)):
            return None
    return out if _unique_ok(present, col) else None


def _is_nan(value: Any) -> bool:
    return type(value) is float and math.isnan(value)


def _unique_ok(present: list[Any], col: ColumnSpec) -> bool:
    return not col.unique or len(set(map(repr, present))) == len(present)


@functools.lru_cache(maxsize=64)
def _category_levels(levels: tuple[str, ...]) -> tuple[pd.CategoricalDtype, dict[str, int]]:
    return pd.CategoricalDtype(categories=list(levels)), {level: i for i, level in enumerate(levels)}


def _naive_iso_times(texts: list[Any]) -> list[Any] | None:
    """datetimes parsed from ISO 8601 strings that all share one layout (as pandas infers one
    format from the first value and holds every other to it); None when in doubt."""
    if not texts:
        return []
    if any(type(t) is not str for t in texts):
        return None
    layout = _layout(texts[0])
    out = []
    for text in texts:
        if _layout(text) != layout:
            return None
        try:
            when = datetime.datetime.fromisoformat(text)
        except ValueError:
            return None
        if when.tzinfo is not None or not _NS_FIRST <= when <= _NS_LAST:
            return None  # numpy would wrap a time outside datetime64[ns] silently; pandas refuses it
        out.append(when)
    if len(texts[0]) < 10 or texts[0][4] != "-":
        return None
    return out


def _layout(text: str) -> str:
    return "".join("9" if c.isdigit() else c for c in text)


def _full_check(frame: pd.DataFrame, spec: SchemaSpec) -> tuple[pd.DataFrame | None, list[FieldError]]:
    """validate_frame on the request; its quarantine reasons as per-record errors."""
    errors = _unreadable(frame, spec)
    if errors:
        return None, errors
    tagged = frame.assign(**{RECORD: np.arange(len(frame))})
    outcome = validate_frame(tagged, spec)
    if not len(outcome.quarantine):
        return outcome.valid[list(spec.columns)], []
    for record, reasons in zip(outcome.quarantine[RECORD].tolist(), outcome.quarantine[REASON].tolist()):
        for reason in str(reasons).split("; "):
            field, _, check = reason.partition(": ")
            col = spec.columns.get(field)
            value = frame.at[int(record), field] if field in frame.columns else None
            errors.append(FieldError(int(record), field, _message(col, check), _plain(value)))
    return None, errors


def _unreadable(frame: pd.DataFrame, spec: SchemaSpec) -> list[FieldError]:
    """Columns whose coercion raises (validate_frame would crash on them): find the records."""
    errors = []
    for name, col in spec.columns.items():
        if _coerces(frame[name], col):
            continue
        for i, value in enumerate(frame[name].tolist()):
            ok = _coerces(pd.Series([value], dtype=object), col, clean=True)
            if not ok:
                errors.append(FieldError(i, name, _message(col, f"not a valid {col.dtype}"), _plain(value)))
        if not any(e.field == name for e in errors):
            errors.append(FieldError(None, name, f"values of different kinds cannot be read as one {col.dtype} column"))
    return errors


def _coerces(series: pd.Series, col: ColumnSpec, clean: bool = False) -> bool:
    """Whether validate_frame's coercion gets through the column (and, if `clean`, reads every value)."""
    try:
        _, bad = _coerce(series, col)
    except (TypeError, ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        return False
    return not (clean and bool(bad.any()))


def _message(col: ColumnSpec | None, check: str) -> str:
    """pandera's check names, in words a client can act on."""
    if col is None:
        return check
    if check.startswith("not a valid"):
        hint = {"int": " (a whole number)", "binary": " (0 or 1)", "datetime": " (ISO 8601 without a time zone, e.g. 2024-05-01T12:30:00)",
                "bool": " (true or false)"}.get(col.dtype, "")
        return check + hint
    if check.startswith("greater_than_or_equal_to"):
        return f"must be >= {col.ge:g}"
    if check.startswith("less_than_or_equal_to"):
        return f"must be <= {col.le:g}"
    if check.startswith("isin"):
        allowed = col.isin if col.isin is not None else [0, 1]
        return "must be one of " + ", ".join(str(v) for v in allowed)
    if check.startswith("not_nullable"):
        return "must not be null"
    if "unique" in check:
        return "must be unique within the request"
    return check


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
