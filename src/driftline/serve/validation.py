"""Request records checked against the pipeline's schema before the model sees them.

The semantics are those of `driftline.schema.validate.validate_frame`, the validate stage's own
check: the same coercion (`_coerce`, column by column) and the same rules (nullable, ge, le,
isin, unique). Running pandera on every request costs about 25 ms, so the common path — every
record valid — is checked here with the same coercion and plain vectorised comparisons, which
only ever accept what `validate_frame` accepts and build the same frame (unit-tested). As soon
as anything looks wrong, `validate_frame` itself runs on the request frame and its quarantine
reasons become the per-record, per-field errors of the 422 answer.

The common path works a column at a time: record shapes (`_shapes_ok`: every field there, single
values only, each column's values and the set of their types) and then each column on numpy
arrays (`_column_vectorised`): ~1.6 ms in all for 1,000 credit records instead of ~8 ms value by
value. Most of what is left is work no numpy call can do for us — reading each field out of its
record, taking its type, converting it — and building the DataFrame. A column in any form the
columnar check does not handle goes to the value-by-value `_column`, and a batch with any
doubt to the record-by-record loop, so the verdicts and messages are the ones they always were.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from driftline.config.groups import ColumnSpec, SchemaSpec
from driftline.schema.validate import REASON, _coerce, validate_frame
from driftline.serve.bundle import RequestSchema

_NS_FIRST = datetime.datetime(1677, 9, 22)  # inside the range of datetime64[ns], with a margin
_NS_LAST = datetime.datetime(2262, 4, 11)
_NS_FIRST_US, _NS_LAST_US = np.datetime64(_NS_FIRST, "us"), np.datetime64(_NS_LAST, "us")
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
    columns = _shapes_ok(records, schema)  # the common case, checked a column at a time
    tried_fast = columns is not None
    if columns is not None:
        good = fast_records(records, spec, columns)
        if good is not None:
            return good, []
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
    if not errors and not tried_fast:
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


def fast_records(records: list[dict[str, Any]], spec: SchemaSpec,
                 columns: dict[str, Column] | None = None) -> pd.DataFrame | None:
    """The validated frame when every record passes, else None (then `validate_frame` decides).

    Plain Python checks on the values JSON gives, with the coercion and rules of validate_frame.

    Accepts only the unambiguous forms — numbers for numeric columns, whole numbers for int,
    true/false for bool, strings for text and categories, naive ISO 8601 times written alike —
    and returns None for anything else (strings holding numbers, booleans in numeric columns,
    time zones...), which the full check then reads exactly as the validate stage would.

    `columns` is what `_shapes_ok` found, when the caller has it (else read from `records`).
    """
    built_columns: dict[str, Any] = {}
    for name, col in spec.columns.items():
        values, types = columns[name] if columns is not None else _read_column(records, name)
        built = _column_vectorised(values, col, types)
        if built is UNSURE:
            built = _column(values, col)
        if built is None:
            return None
        built_columns[name] = built
    # copy=False: the arrays are new and this frame's alone, so pandas need not copy them into
    # one block per dtype (a third of the cost of building the frame).
    return pd.DataFrame(built_columns, index=pd.RangeIndex(len(records)), copy=False)


class Column(NamedTuple):
    """One field of every record, and the set of the values' types (every check starts there)."""

    values: list[Any]
    types: set[type]


def _read_column(records: list[Any], name: str) -> Column:
    values = [r[name] for r in records]
    return Column(values, set(map(type, values)))


def _shapes_ok(records: list[Any], schema: RequestSchema) -> dict[str, Column] | None:
    """Whether every record is an object with every input field, only single values in the
    schema's fields (and the id), and no unexpected field when the schema forbids them — the
    per-record loop of `check_records` finding nothing, decided a column at a time. None
    means "look record by record" (that loop then names what is wrong), never "invalid";
    returns each input field's values and their types when all is well, else None."""
    required = schema.spec.columns.keys()
    if schema.extra_columns == "error":
        allowed = set(required) | ({schema.id_column} if schema.id_column else set())
        if not all(type(r) is dict and r.keys() <= allowed for r in records):
            return None
    columns = {}
    try:
        for name in required:  # a missing field (KeyError) or a record that is no object: look closer
            column = _read_column(records, name)
            if not column.types <= _SCALAR_TYPES:
                return None
            columns[name] = column
        id_column = schema.id_column
        if id_column and id_column not in required:
            ids = [r.get(id_column) for r in records]  # the id may be left out: None passes
            if not set(map(type, ids)) <= _SCALAR_TYPES:
                return None
    except (KeyError, TypeError, IndexError, AttributeError):
        return None
    return columns


_SCALAR_TYPES = frozenset(_SCALARS)
_NUMBER_TYPES = frozenset({int, float, type(None)})
_TEXT_TYPES = frozenset({str, type(None)})
UNSURE = object()  # _column_vectorised leaves the column to _column


def _column_vectorised(values: list[Any], col: ColumnSpec, types: set[type] | None = None) -> Any:
    """`_column` on numpy arrays for the usual forms: the same column, None (the same refusal),
    or UNSURE for anything else, which `_column` then checks value by value. `types` is the set
    of the values' types, when the caller has it already.

    Only ever accepts what `_column` accepts (unit-tested side by side)."""
    kind = col.dtype
    if types is None:
        types = set(map(type, values))
    if kind in ("float", "int", "binary"):
        if not types <= _NUMBER_TYPES:
            return UNSURE
        # Whole numbers and no null, the usual JSON for an int column: read as int64 directly,
        # cheaper than through float64 and with no fractions to look for.
        whole_only = kind != "float" and types == {int}
        if whole_only:
            try:
                present = np.fromiter(values, dtype=np.int64, count=len(values))
            except OverflowError:
                return UNSURE  # beyond int64, so beyond 2**53: see below
            null = np.zeros(len(present), dtype=bool)
        else:
            try:
                arr = np.array(values, dtype=np.float64)  # None -> NaN, as _column treats it: null
            except (OverflowError, TypeError, ValueError):
                return UNSURE
            null = np.isnan(arr)
            has_null = bool(null.any())
            if has_null and not col.nullable:
                return None
            present = arr[~null] if has_null else arr
        # Every range rule below is a rule on the smallest or the largest value: two reductions
        # instead of a boolean array per rule. With every value null, no value can break them.
        low, high = (present.min().item(), present.max().item()) if present.size else (math.inf, -math.inf)
        # Beyond 2**53 the float copy may round: leave big numbers to _column's exact checks.
        if not (-_EXACT_INT < low and high < _EXACT_INT):
            return UNSURE if bool(np.isfinite(present).all()) or kind == "float" else None
        if kind == "float":
            out: Any = arr
        else:
            if not whole_only and not bool((present == np.floor(present)).all()):
                return None  # not whole (finite: checked above)
            if kind == "binary" and col.isin is None and (low < 0 or high > 1):
                return None  # whole numbers from 0 to 1 are 0 and 1
            ints = present if whole_only else np.where(null, 0, arr).astype(np.int64)
            out = pd.arrays.IntegerArray(ints, null)
        if col.ge is not None and low < col.ge:
            return None
        if col.le is not None and high > col.le:
            return None
        if col.isin is not None:
            if any(isinstance(v, (str, bool)) or not isinstance(v, (int, float)) for v in col.isin):
                return UNSURE
            if not bool(np.isin(present, np.array(list(col.isin), dtype=np.float64)).all()):
                return None
        if col.unique:
            return UNSURE
        return out
    if kind == "category":
        if not types <= _TEXT_TYPES or col.ge is not None or col.le is not None or col.unique:
            return UNSURE
        if col.isin is None:
            return UNSURE
        if type(None) in types and not col.nullable:
            return None
        dtype, lookup = _category_levels(tuple(str(v) for v in col.isin))
        codes = np.fromiter(map(lookup.get, values, itertools.repeat(-2)), dtype=np.int64, count=len(values))
        if (codes == -2).any():  # a text outside the levels
            return None
        # validate=False: the codes are the levels' own positions (or -1, null), nothing to check.
        return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
    if kind == "string":
        if not types <= _TEXT_TYPES or col.ge is not None or col.le is not None:
            return UNSURE
        if type(None) in types and not col.nullable:
            return None
        if col.isin is not None:
            allowed = {str(v) for v in col.isin}
            if not allowed.issuperset(set(values) - {None}):
                return None
        if col.unique:
            present = [v for v in values if v is not None] if type(None) in types else values
            if len(set(present)) != len(present):
                return None
        return pd.array(values, dtype="string")
    if kind == "datetime":
        if types != {str} or col.ge is not None or col.le is not None or col.isin is not None or col.unique:
            return UNSURE
        first = values[0]
        layout = first.translate(_DIGITS_TO_9)
        if layout not in _PLAIN_LAYOUTS:
            return UNSURE
        # Every text in the first one's layout: as long (counted by Python: numpy's fixed-width
        # text hides trailing NULs), digits where it has digits, its other characters elsewhere.
        if set(map(len, values)) != {len(first)}:
            return None
        texts = np.array(values, dtype=f"U{len(first)}")
        chars = texts.view(np.uint32).reshape(len(texts), -1)
        digits = (chars >= 48) & (chars <= 57)
        if not (digits == digits[0]).all() or not (chars[:, ~digits[0]] == chars[0, ~digits[0]]).all():
            return None
        try:
            # In these layouts numpy refuses exactly the texts that datetime.fromisoformat (what
            # _column reads with) refuses — 30 February, hour 24, second 60... — except year 0,
            # which the range check below refuses. In microseconds (no layout is finer), because
            # in nanoseconds numpy would wrap a time outside that range silently.
            times = np.array(values, dtype="datetime64[us]")
        except ValueError:
            return None
        if not (_NS_FIRST_US <= times.min() and times.max() <= _NS_LAST_US):
            return None
        return times.astype("datetime64[ns]")
    return UNSURE


_DIGITS_TO_9 = str.maketrans("0123456789", "9999999999")
# Naive ISO 8601 layouts that datetime.fromisoformat and numpy read alike (only digits vary).
_PLAIN_LAYOUTS = frozenset(
    f"9999-99-99{sep}{time}" for sep in ("T", " ") for time in ("99:99", "99:99:99", "99:99:99.999", "99:99:99.999999")
) | {"9999-99-99"}


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
def _category_levels(levels: tuple[str, ...]) -> tuple[pd.CategoricalDtype, dict[str | None, int]]:
    """The dtype, and each level's code; None's code is -1, pandas' code for a missing value."""
    return pd.CategoricalDtype(categories=list(levels)), {None: -1, **{level: i for i, level in enumerate(levels)}}


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
