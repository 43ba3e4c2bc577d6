"""Request validation: the fast path accepts exactly what validate_frame accepts and builds the same frame."""

from __future__ import annotations

import pandas as pd
import pytest

from driftline.config.groups import ColumnSpec, SchemaSpec
from driftline.schema.validate import validate_frame
from driftline.serve.bundle import request_schema
from driftline.serve.validation import (
    UNSURE,
    _column,
    _column_vectorised,
    _shapes_ok,
    check_records,
    fast_records,
)

SCHEMA = SchemaSpec(
    columns={
        "application_id": ColumnSpec(dtype="string", unique=True),
        "applied_at": ColumnSpec(dtype="datetime"),
        "age": ColumnSpec(dtype="int", ge=18, le=100),
        "income": ColumnSpec(dtype="float", nullable=True, ge=0),
        "employment": ColumnSpec(dtype="category", isin=["salaried", "retired"]),
        "term_months": ColumnSpec(dtype="int", isin=[36, 60]),
        "credit_score": ColumnSpec(dtype="int", nullable=True, ge=300, le=850),
        "note": ColumnSpec(dtype="string", nullable=True),
        "flag": ColumnSpec(dtype="binary"),
        "verified": ColumnSpec(dtype="bool", nullable=True),
        "default": ColumnSpec(dtype="binary", nullable=True),
    }
)
REQUEST = request_schema(SCHEMA, target="default", label_column="default", id_column="application_id")
GOOD = {"application_id": "A1", "applied_at": "2024-01-01T07:57:41.000", "age": 30, "income": 52000.5,
        "employment": "salaried", "term_months": 36, "credit_score": 700, "note": "hi", "flag": 0, "verified": True}


def reference(records: list[dict]) -> pd.DataFrame:
    """What the validate stage makes of the same records."""
    frame = pd.DataFrame({name: [r[name] for r in records] for name in REQUEST.columns})
    outcome = validate_frame(frame, REQUEST.spec)
    assert not len(outcome.quarantine), outcome.quarantine
    return outcome.valid


def test_the_request_schema_leaves_out_target_and_id() -> None:
    assert "default" not in REQUEST.columns and "application_id" not in REQUEST.columns
    assert REQUEST.id_column == "application_id"


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param([{}], id="one-record"),
        pytest.param([{}, {"income": None, "credit_score": None, "note": None, "verified": None}], id="nulls"),
        pytest.param([{}, {"income": 10, "age": 18.0, "employment": "retired", "term_months": 60}], id="ints-as-floats"),
        pytest.param([{"applied_at": "2024-03-05"}, {"applied_at": "2025-12-31"}], id="dates"),
        pytest.param([{"flag": 1, "verified": False, "income": float("inf")}], id="edges"),
        pytest.param([{"applied_at": "2024-01-01 07:57"}, {"applied_at": "2024-11-21 17:05"}], id="other-time-layout"),
    ],
)
def test_fast_path_builds_the_same_frame_as_validate_frame(changes: list[dict]) -> None:
    records = [{**GOOD, **c} for c in changes]
    fast = fast_records(records, REQUEST.spec)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, reference(records))
    frame, errors = check_records(records, REQUEST)
    assert not errors
    pd.testing.assert_frame_equal(frame, reference(records))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"age": "30"}, id="number-as-text"),
        pytest.param({"income": "52000.5"}, id="float-as-text"),
        pytest.param({"flag": True}, id="bool-for-binary"),
        pytest.param({"verified": "true"}, id="bool-as-text"),
    ],
)
def test_forms_the_fast_path_leaves_to_validate_frame_are_still_accepted(change: dict) -> None:
    records = [{**GOOD, **change}]
    assert fast_records(records, REQUEST.spec) is None
    frame, errors = check_records(records, REQUEST)
    assert not errors
    pd.testing.assert_frame_equal(frame, reference(records))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        pytest.param({"age": 17}, "age", "must be >= 18", id="too-young"),
        pytest.param({"age": 30.5}, "age", "not a valid int (a whole number)", id="not-whole"),
        pytest.param({"credit_score": 851}, "credit_score", "must be <= 850", id="too-high"),
        pytest.param({"income": "lots"}, "income", "not a valid float", id="not-a-number"),
        pytest.param({"employment": "astronaut"}, "employment", "must be one of salaried, retired", id="not-allowed"),
        pytest.param({"term_months": 48}, "term_months", "must be one of 36, 60", id="not-allowed-int"),
        pytest.param({"age": None}, "age", "must not be null", id="null"),
        pytest.param({"flag": 2}, "flag", "must be one of 0, 1", id="binary"),
        pytest.param({"applied_at": "someday"}, "applied_at", "not a valid datetime (ISO 8601 without a time zone, e.g. 2024-05-01T12:30:00)", id="time"),
        pytest.param({"age": [30]}, "age", "must be a single value, not an object or array", id="array"),
        pytest.param({"applied_at": "9999-12-31T00:00:00.000"}, "applied_at",
                     "not a valid datetime (ISO 8601 without a time zone, e.g. 2024-05-01T12:30:00)", id="time-out-of-range"),
    ],
)
def test_each_bad_value_is_named_by_record_and_field(change: dict, field: str, message: str) -> None:
    records = [GOOD, {**GOOD, **change}]
    frame, errors = check_records(records, REQUEST)
    assert frame is None
    assert [(e.record, e.field, e.message) for e in errors] == [(1, field, message)]


def test_missing_fields_and_bad_values_are_reported_together() -> None:
    missing = {k: v for k, v in GOOD.items() if k != "age"}
    records = [missing, {**GOOD, "age": 5, "income": -1}, GOOD]
    _, errors = check_records(records, REQUEST)
    assert [(e.record, e.field) for e in errors] == [(0, "age"), (1, "age"), (1, "income")]


def test_extra_fields_follow_the_schema_policy() -> None:
    record = {**GOOD, "favourite_colour": "blue"}
    assert not check_records([record], REQUEST)[1]
    strict = request_schema(SCHEMA.model_copy(update={"extra_columns": "error"}), target="default",
                            label_column="default", id_column="application_id")
    errors = check_records([record], strict)[1]
    assert [(e.record, e.field) for e in errors] == [(0, "favourite_colour")]


def test_times_written_in_different_layouts_get_the_validate_stage_verdict() -> None:
    records = [GOOD, {**GOOD, "applied_at": "2024-01-02"}]
    assert fast_records(records, REQUEST.spec) is None
    frame = pd.DataFrame({name: [r[name] for r in records] for name in REQUEST.columns})
    outcome = validate_frame(frame, REQUEST.spec)
    served, errors = check_records(records, REQUEST)
    if len(outcome.quarantine):
        assert served is None and {e.record for e in errors} == {1}
    else:
        pd.testing.assert_frame_equal(served, outcome.valid)


# ----------------------------------------------------------------------------- the columnar checks

COLUMN_CASES = [
    ("age", [30, 18, 100, 45.0]),
    ("age", [30, 17]),
    ("age", [30, 101]),
    ("age", [30, None]),
    ("age", [30, 30.5]),
    ("age", [30, float("inf")]),
    ("age", [30, float("nan")]),
    ("age", [30, 2**60]),
    ("age", [30, True]),
    ("age", [30, 2**53]),
    ("age", [30, 2**63]),
    ("income", [1.5, None, float("nan"), 0, 3]),
    ("income", [1.5, -0.1]),
    ("income", [1.5, float("inf")]),
    ("income", [1.5, 2**53 + 1]),
    ("income", [1.5, 10**400]),
    ("income", [None, None]),
    ("term_months", [36, 60, 36.0]),
    ("term_months", [36, 48]),
    ("credit_score", [None, 300, 850]),
    ("credit_score", [299, 850]),
    ("credit_score", [None, None]),
    ("flag", [0, 1, 1.0]),
    ("flag", [0, 2]),
    ("flag", [0, None]),
    ("flag", [0, -1]),
    ("flag", [1.0, 2.0]),
    ("verified", [True, None, False]),
    ("employment", ["salaried", "retired", "salaried"]),
    ("employment", ["salaried", "astronaut"]),
    ("employment", ["salaried", None]),
    ("employment", ["salaried", 1]),
    ("note", ["a", None, "b"]),
    ("note", ["a", 1]),
    ("applied_at", ["2024-01-01T07:57:41.000", "2024-12-31T23:59:59.999"]),
    ("applied_at", ["2024-01-01", "2025-02-28"]),
    ("applied_at", ["2024-01-01 07:57", "2024-11-21 17:05"]),
    ("applied_at", ["2024-01-01T07:57:41.123456", "2024-01-01T07:57:41.000001"]),
    ("applied_at", ["2024-01-01T07:57:41", "2024-01-01T07:57:4"]),
    ("applied_at", ["2024-01-01T07:57:41", "2024-01-01T07:57:41Z"]),
    ("applied_at", ["2024-02-30T00:00:00", "2024-01-01T00:00:00"]),
    ("applied_at", ["2024-01-01T24:00:00", "2024-01-01T00:00:00"]),
    ("applied_at", ["9999-12-31T00:00:00", "2024-01-01T00:00:00"]),
    ("applied_at", ["2262-04-11T00:00:00", "1677-09-22T00:00:00"]),
    ("applied_at", ["2262-04-11T00:00:01", "2024-01-01T00:00:00"]),
    ("applied_at", ["1677-09-21T23:59:59", "2024-01-01T00:00:00"]),
    ("applied_at", ["0000-01-01T00:00:00", "2024-01-01T00:00:00"]),
    ("applied_at", ["2023-02-29T00:00:00", "2024-02-29T00:00:00"]),
    ("applied_at", ["2024-13-01T00:00:00", "2024-01-01T00:00:00"]),
    ("applied_at", ["2024-01-01T00:60:00", "2024-01-01T00:00:00"]),
    ("applied_at", ["2024-01-01T00:00:60", "2024-01-01T00:00:00"]),
    ("applied_at", ["2024-01-01T07:57:41", "2024-01-01T07:57:41.5"]),
    ("applied_at", ["2024-01-01T07:57:41", "2024-01-01T07:57:41\x00"]),
    ("applied_at", ["2024-01-01T07:57:41", "2024-01-01T07:57:41\x00\x00"]),
    ("applied_at", ["2024-01-01T07:57:41", "\u0662024-01-01T07:57:4"]),
    ("applied_at", ["2024-01-01T00:00:00+02:00"]),
    ("applied_at", ["2024-01-01T07:57:41", None]),
    ("applied_at", ["yesterday"]),
]


# Column forms the request schema above does not have.
OTHER_COLUMN_CASES = [
    ("nullable-category", ColumnSpec(dtype="category", nullable=True, isin=["x", "y"]), ["x", None, "y"]),
    ("nullable-category", ColumnSpec(dtype="category", nullable=True, isin=["x", "y"]), [None, None]),
    ("nullable-category", ColumnSpec(dtype="category", nullable=True, isin=["x", "y"]), ["x", None, "z"]),
    ("string", ColumnSpec(dtype="string"), ["a", None]),
    ("string", ColumnSpec(dtype="string", isin=["a", "b"]), ["a", "b", None]),
    ("unique-string", ColumnSpec(dtype="string", unique=True, nullable=True), ["a", None, None]),
    ("unique-string", ColumnSpec(dtype="string", unique=True, nullable=True), ["a", None, "a"]),
    ("bounded-float", ColumnSpec(dtype="float", ge=0.5, le=1.5), [0.5, 1.5, 1]),
    ("bounded-float", ColumnSpec(dtype="float", ge=0.5, le=1.5), [0.5, 1.6]),
    ("binary-isin", ColumnSpec(dtype="binary", isin=[1]), [1, 1]),
    ("binary-isin", ColumnSpec(dtype="binary", isin=[1]), [1, 0]),
    ("int-float-isin", ColumnSpec(dtype="int", isin=[1.5, 2]), [2, 2]),
]


@pytest.mark.parametrize(("name", "values"), COLUMN_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(COLUMN_CASES)])
def test_the_columnar_check_accepts_only_what_the_value_by_value_check_accepts(name: str, values: list) -> None:
    assert_columnar_check_agrees(values, REQUEST.columns[name], name)


@pytest.mark.parametrize(("name", "col", "values"), OTHER_COLUMN_CASES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(OTHER_COLUMN_CASES)])
def test_the_columnar_check_agrees_on_other_column_forms(name: str, col: ColumnSpec, values: list) -> None:
    assert_columnar_check_agrees(values, col, name)


def assert_columnar_check_agrees(values: list, col: ColumnSpec, name: str) -> None:
    slow = _column(values, col)
    fast = _column_vectorised(values, col)
    if fast is UNSURE:
        return  # left to _column: the same verdict by construction
    if fast is None:
        return  # the full check (validate_frame) decides, as it does whenever _column is unsure
    assert slow is not None, f"{name}: the columnar check accepted {values!r}, _column does not"
    pd.testing.assert_series_equal(pd.Series(fast), pd.Series(slow))


def test_a_null_where_the_schema_forbids_one_is_refused_in_every_kind_of_column() -> None:
    for dtype, value in [("string", "a"), ("category", "x"), ("int", 1), ("float", 1.5), ("binary", 1)]:
        col = ColumnSpec(dtype=dtype, isin=["x"] if dtype == "category" else None)
        assert _column_vectorised([value, None], col) in (None, UNSURE), dtype
    strict = request_schema(SchemaSpec(columns={**SCHEMA.columns, "code": ColumnSpec(dtype="string")}), target="default",
                            label_column="default", id_column="application_id")
    frame, errors = check_records([{**GOOD, "code": "a"}, {**GOOD, "code": None}], strict)
    assert frame is None
    assert [(e.record, e.field, e.message) for e in errors] == [(1, "code", "must not be null")]


def test_the_usual_columns_are_checked_without_the_value_by_value_fallback() -> None:
    for name, values in [("age", [30, 40]), ("income", [1.0, None]), ("employment", ["salaried"] * 2),
                         ("note", ["x", None]), ("applied_at", ["2024-01-01T07:57:41.000"] * 2), ("flag", [0, 1])]:
        assert _column_vectorised(values, REQUEST.columns[name]) is not UNSURE, name


def test_many_records_take_the_columnar_path_and_match_validate_frame() -> None:
    records = [{**GOOD, "application_id": f"A{i}", "age": 18 + i % 80, "income": None if i % 7 == 0 else 1000.0 * i,
                "employment": ("salaried", "retired")[i % 2], "term_months": (36, 60)[i % 2],
                "credit_score": None if i % 5 == 0 else 300 + i % 500, "note": None if i % 3 else f"n{i}",
                "flag": i % 2, "verified": None if i % 4 == 0 else bool(i % 3),
                "applied_at": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{i % 60:02d}.000"}
               for i in range(500)]
    assert _shapes_ok(records, REQUEST) is not None
    frame, errors = check_records(records, REQUEST)
    assert not errors
    pd.testing.assert_frame_equal(frame, reference(records))


def test_record_shapes_are_checked_a_column_at_a_time() -> None:
    assert _shapes_ok([GOOD, GOOD], REQUEST) is not None
    assert _shapes_ok([GOOD, {k: v for k, v in GOOD.items() if k != "age"}], REQUEST) is None
    assert _shapes_ok([GOOD, {**GOOD, "age": [30]}], REQUEST) is None
    assert _shapes_ok([GOOD, {**GOOD, "application_id": {"a": 1}}], REQUEST) is None
    assert _shapes_ok([GOOD, {k: v for k, v in GOOD.items() if k != "application_id"}], REQUEST) is not None
    assert _shapes_ok([{**GOOD, "favourite_colour": "blue"}], REQUEST) is not None
    strict = request_schema(SCHEMA.model_copy(update={"extra_columns": "error"}), target="default",
                            label_column="default", id_column="application_id")
    assert _shapes_ok([GOOD], strict) is not None
    assert _shapes_ok([{**GOOD, "favourite_colour": "blue"}], strict) is None
