"""Request validation: the endpoint's columnar check gives the validate stage's verdicts and messages.

`PARITY` is one table of cases, each run through both backends of the schema's rules — pandera
(the validate stage's `validate_frame`) and numpy (the endpoint's `check_records`) — asserting the
same accepted records, the same frame, and the same (record, field, message) errors.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from driftline.config.groups import ColumnSpec, SchemaSpec
from driftline.schema.validate import REASON, SchemaViolation, validate_frame
from driftline.serve.bundle import RequestSchema, request_schema
from driftline.serve.validation import _shapes_ok, check_records

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
INT = "not a valid int (a whole number within ±2^63)"
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
        pytest.param([{"flag": 1, "verified": False, "income": 0.0}], id="edges"),
        pytest.param([{"applied_at": "2024-01-01 07:57"}, {"applied_at": "2024-11-21 17:05"}], id="other-time-layout"),
    ],
)
def test_the_endpoint_builds_the_same_frame_as_validate_frame(changes: list[dict]) -> None:
    records = [{**GOOD, **c} for c in changes]
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
def test_forms_a_csv_or_a_lenient_client_sends_are_accepted(change: dict) -> None:
    records = [{**GOOD, **change}]
    frame, errors = check_records(records, REQUEST)
    assert not errors
    pd.testing.assert_frame_equal(frame, reference(records))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        pytest.param({"age": 17}, "age", "must be >= 18", id="too-young"),
        pytest.param({"age": 30.5}, "age", INT, id="not-whole"),
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


def test_many_records_match_validate_frame() -> None:
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


# ----------------------------------------------------------------------------- one table, both backends

TIME = "not a valid datetime (ISO 8601 without a time zone, e.g. 2024-05-01T12:30:00)"
UNIQUE = SchemaSpec(columns={"code": ColumnSpec(dtype="string", unique=True, nullable=True),
                             "level": ColumnSpec(dtype="category", nullable=True),
                             "grade": ColumnSpec(dtype="category", isin=[1, 2]),
                             "n": ColumnSpec(dtype="int", unique=True, nullable=True)})
STRICT = SCHEMA.model_copy(update={"extra_columns": "error"})


def case(id: str, changes: list[dict[str, Any]] | dict[str, Any], *errors: tuple[int, str, str],
         schema: SchemaSpec = SCHEMA, drop: tuple[str, ...] = ()) -> Any:
    """Records made from GOOD (one per dict of changes, fields in `drop` left out), and the
    errors both backends must report; none means every record is accepted."""
    base = GOOD if schema is not UNIQUE else {"code": "a", "level": "x", "n": 1, "grade": "1"}
    records = [{k: v for k, v in {**base, **c}.items() if k not in drop}
               for c in (changes if isinstance(changes, list) else [changes])]
    return pytest.param(schema, records, list(errors), id=id)


PARITY = [
    case("good-record", {}),
    case("nulls-where-allowed", {"income": None, "credit_score": None, "note": None, "verified": None}),
    case("nan-where-allowed", {"income": math.nan, "credit_score": math.nan}),
    case("none-in-non-null-int", {"age": None}, (0, "age", "must not be null")),
    case("nan-in-non-null-int", {"age": math.nan}, (0, "age", "must not be null")),
    case("none-in-non-null-category", {"employment": None}, (0, "employment", "must not be null")),
    case("none-in-non-null-datetime", {"applied_at": None}, (0, "applied_at", "must not be null")),
    case("text-in-int", {"age": "thirty"}, (0, "age", INT)),
    case("number-as-text-in-int", {"age": "30"}),
    case("number-as-text-in-float", {"income": "52000.5"}),
    case("empty-text-in-float", {"income": ""}, (0, "income", "not a valid float")),
    case("nan-as-text-in-float", {"income": "nan"}, (0, "income", "not a valid float")),
    case("fraction-in-int", {"age": 30.5}, (0, "age", INT)),
    case("whole-float-in-int", {"age": 30.0, "term_months": 60.0}),
    case("infinity-in-int", {"age": math.inf}, (0, "age", INT)),
    case("infinity-in-float", {"income": math.inf}, (0, "income", "not a valid float")),
    case("minus-infinity-in-float", {"income": -math.inf}, (0, "income", "not a valid float")),
    case("infinity-as-text-in-float", {"income": "inf"}, (0, "income", "not a valid float")),
    case("below-minimum", {"age": 17}, (0, "age", "must be >= 18")),
    case("above-maximum", {"credit_score": 851}, (0, "credit_score", "must be <= 850")),
    case("negative-float", {"income": -0.01}, (0, "income", "must be >= 0")),
    case("two-problems-in-one-record", {"age": 5, "income": -1},
         (0, "age", "must be >= 18"), (0, "income", "must be >= 0")),
    case("int-not-allowed", {"term_months": 48}, (0, "term_months", "must be one of 36, 60")),
    case("unseen-category", {"employment": "astronaut"}, (0, "employment", "must be one of salaried, retired")),
    case("number-in-category", {"employment": 1}, (0, "employment", "must be one of salaried, retired")),
    case("number-in-string", {"note": 7}),
    case("bool-in-int", {"age": True}, (0, "age", INT)),
    case("bool-in-float", {"income": False}, (0, "income", "not a valid float")),
    case("bool-in-binary", {"flag": True}),
    case("int-in-bool", {"verified": 1}),
    case("text-in-bool", {"verified": "TRUE"}),
    case("yes-in-bool", {"verified": "yes"}, (0, "verified", "not a valid bool (true or false)")),
    case("two-in-binary", {"flag": 2}, (0, "flag", "must be one of 0, 1")),
    case("huge-int-in-int", {"age": 10**23}, (0, "age", INT)),
    case("2^53-plus-1-in-int", {"credit_score": 2**53 + 1}, (0, "credit_score", "must be <= 850")),
    case("ints-past-2^53-stay-exact", [{"n": 2**53 + 1}, {"n": 2**53, "code": "b"}, {"n": -(2**63), "code": "c"}],
         schema=UNIQUE),
    case("ints-past-2^53-with-a-null", [{"n": 2**62 + 1}, {"n": None, "code": "b"}, {"n": 2**62, "code": "c"}],
         schema=UNIQUE),
    case("2^63-in-int", {"age": 2**63}, (0, "age", INT)),
    case("beyond-int64-in-int", {"age": 2**64}, (0, "age", INT)),
    case("huge-int-in-float", {"income": 10**23}),
    case("beyond-any-float-in-float", {"income": 10**400}, (0, "income", "not a valid float")),
    case("iso-date", {"applied_at": "2024-03-05"}),
    case("iso-time-naive", {"applied_at": "2024-03-05T10:00:00"}),
    case("iso-time-with-space", {"applied_at": "2024-03-05 10:00"}),
    case("iso-time-utc-z", {"applied_at": "2024-03-05T10:00:00Z"}, (0, "applied_at", TIME)),
    case("iso-time-plus-offset", {"applied_at": "2024-03-05T10:00:00+02:00"}, (0, "applied_at", TIME)),
    case("iso-time-minus-offset", {"applied_at": "2024-03-05T10:00:00-05:00"}, (0, "applied_at", TIME)),
    case("iso-layouts-mixed", [{"applied_at": "2024-03-05"}, {"applied_at": "2024-03-05T10:00:00.5"}]),
    case("time-beyond-datetime64-ns", {"applied_at": "9999-12-31T00:00:00"}, (0, "applied_at", TIME)),
    case("impossible-date", {"applied_at": "2024-02-30"}, (0, "applied_at", TIME)),
    case("word-for-a-time", [{"applied_at": "now"}, {"applied_at": "yesterday"}],
         (0, "applied_at", TIME), (1, "applied_at", TIME)),
    case("number-in-datetime", {"applied_at": 1_700_000_000}, (0, "applied_at", TIME)),
    case("one-bad-record-of-three", [{}, {"age": 12}, {}], (1, "age", "must be >= 18")),
    case("missing-field", {}, (0, "age", "field required"), drop=("age",)),
    case("extra-field-dropped", {"favourite_colour": "blue"}),
    case("extra-field-refused", {"favourite_colour": "blue"},
         (0, "favourite_colour", "unexpected field (the schema does not allow extra fields: its extra_columns is error)"),
         schema=STRICT),
    case("duplicates-in-unique-columns", [{}, {"code": "b", "n": 2}, {"code": "a", "n": 2}, {"code": None, "n": None},
                                          {"code": None, "n": None}],
         (0, "code", "must be unique (the same value appears more than once)"),
         (1, "n", "must be unique (the same value appears more than once)"),
         (2, "code", "must be unique (the same value appears more than once)"),
         (2, "n", "must be unique (the same value appears more than once)"), schema=UNIQUE),
    case("number-for-a-numeric-level", {"grade": 2}, schema=UNIQUE),
    case("number-outside-numeric-levels", {"grade": 3}, (0, "grade", "must be one of 1, 2"), schema=UNIQUE),
    case("category-without-declared-levels", [{"level": "y", "code": "p", "n": 1}, {"level": "x", "code": "q", "n": 2},
                                              {"level": None, "code": "r", "n": 3}], schema=UNIQUE),
]


def through_pandera(records: list[dict[str, Any]], request: RequestSchema) -> tuple[pd.DataFrame | None, list[tuple]]:
    """The validate stage's verdict on the records, as (frame or None, [(record, field, message)])."""
    names = list(dict.fromkeys(k for r in records for k in r if k != request.id_column))
    frame = pd.DataFrame({k: pd.Series([r[k] for r in records], dtype=object) for k in names})
    spec = request.spec.model_copy(update={"extra_columns": request.extra_columns})
    if request.extra_columns != "error":
        frame["__record__"] = range(len(records))  # which record each quarantined row is
    try:
        outcome = validate_frame(frame, spec)
    except SchemaViolation as exc:
        return None, [(i, name, message) for i in range(len(records)) for name, message in exc.problems]
    if not len(outcome.quarantine):
        return outcome.valid[list(request.columns)], []
    errors = [(int(record), *reason.split(": ", 1))
              for record, reasons in zip(outcome.quarantine["__record__"], outcome.quarantine[REASON])
              for reason in reasons.split("; ")]
    return None, errors


@pytest.mark.parametrize(("schema", "records", "expected"), PARITY)
def test_both_backends_give_the_same_verdict_and_messages(schema: SchemaSpec, records: list[dict], expected: list) -> None:
    request = request_schema(schema, target="default", label_column="default", id_column="application_id")
    stage_frame, stage_errors = through_pandera(records, request)
    served_frame, served = check_records(records, request)
    served_errors = [(e.record, e.field, e.message) for e in served]
    assert sorted(served_errors) == sorted(expected)
    assert sorted(stage_errors) == sorted(expected)
    if expected:
        assert served_frame is None and stage_frame is None
    else:
        pd.testing.assert_frame_equal(served_frame, stage_frame)


def test_the_value_sent_is_echoed_with_each_error() -> None:
    _, errors = check_records([{**GOOD, "age": 10**23, "income": "lots"}], REQUEST)
    assert [e.to_json() for e in errors] == [
        {"record": 0, "field": "age", "message": INT, "value": 10**23},
        {"record": 0, "field": "income", "message": "not a valid float", "value": "lots"},
    ]
