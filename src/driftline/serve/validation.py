"""Request records checked against the pipeline's schema before the model sees them.

The rules are the validate stage's, declared once in `driftline.schema.rules` and checked here
by the schema's numpy backend (`driftline.schema.columnar`), a column at a time: the same type
reading (`driftline.schema.read`), the same verdicts and the same messages as the stage's pandera
check, by construction (tests/unit/test_serve_validation.py runs one table of cases through both).

What is left here is what only a request has: records. `_shapes_ok` checks, a column at a time,
that every record is an object with every field, single values only, and no field the schema
forbids; when it finds anything, the record-by-record loop names each problem, and the records
whose shape is right still get their values checked, so a client sees every problem at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from driftline.schema.columnar import check_column
from driftline.schema.rules import NOT_A_SINGLE_VALUE, REQUIRED, UNEXPECTED
from driftline.serve.bundle import RequestSchema

_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)


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

    The frame has one row per record in order, the dtypes the validate stage gives its valid
    rows, and only the schema's input columns.
    """
    rules = schema.rules
    columns = _shapes_ok(records, schema)  # the usual case: every record well formed
    errors: list[FieldError] = []
    readable: list[int] | None = None  # None: every record
    if columns is None:
        errors, readable = _shape_errors(records, schema)
        if not readable:
            return None, errors
        subset = [records[i] for i in readable]
        columns = {name: _read_column(subset, name) for name in rules.columns}
    built: dict[str, Any] = {}
    for name, col in rules.columns.items():
        values, types = columns[name]
        checked = check_column(col, values, types)
        for rule, broken in checked.failures:
            message = col.message(rule)
            for i in np.flatnonzero(broken).tolist():
                errors.append(FieldError(i if readable is None else readable[i], name, message, _plain(values[i])))
        built[name] = checked.values
    if errors:
        order = {name: i for i, name in enumerate(rules.columns)}
        errors.sort(key=lambda e: (-1 if e.record is None else e.record, order.get(e.field, len(order))))  # stable: rule order kept
        return None, errors
    # copy=False: the arrays are new and this frame's alone, so pandas need not copy them into
    # one block per dtype (a third of the cost of building the frame).
    return pd.DataFrame(built, index=pd.RangeIndex(len(records)), copy=False), []


class Column(NamedTuple):
    """One field of every record, and the set of the values' types (every check starts there)."""

    values: list[Any]
    types: set[type]


def _read_column(records: list[Any], name: str) -> Column:
    values = [r[name] for r in records]
    return Column(values, set(map(type, values)))


def _shape_errors(records: list[Any], schema: RequestSchema) -> tuple[list[FieldError], list[int]]:
    """Every record's shape problems, and the records with none (their values are checked next)."""
    columns = schema.rules.columns
    errors: list[FieldError] = []
    readable: list[int] = []
    for i, record in enumerate(records):
        before = len(errors)
        for name in columns:
            if name not in record:
                errors.append(FieldError(i, name, REQUIRED))
        for name, value in record.items():
            if name in columns or name == schema.id_column:
                if not isinstance(value, _SCALARS):
                    errors.append(FieldError(i, name, NOT_A_SINGLE_VALUE))
            elif schema.extra_columns == "error":
                errors.append(FieldError(i, name, UNEXPECTED))
        if len(errors) == before:
            readable.append(i)
    return errors, readable


def _shapes_ok(records: list[Any], schema: RequestSchema) -> dict[str, Column] | None:
    """Whether every record is an object with every input field, only single values in the
    schema's fields (and the id), and no unexpected field when the schema forbids them — the
    per-record loop of `_shape_errors` finding nothing, decided a column at a time. None
    means "look record by record" (that loop then names what is wrong), never "invalid";
    returns each input field's values and their types when all is well, else None."""
    required = schema.rules.columns.keys()
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


def _plain(value: Any) -> Any:
    """The value as the client sent it, ready for JSON (NaN: null)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value
