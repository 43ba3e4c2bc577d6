"""driftline.schema.validate: bad rows are quarantined with reasons, good rows keep the declared types."""

from __future__ import annotations

import pandas as pd
import pytest

from driftline.config.groups import SchemaSpec
from driftline.schema.validate import REASON, SchemaViolation, validate_frame

COLUMNS = {
    "application_id": {"dtype": "string", "unique": True},
    "applied_at": {"dtype": "datetime"},
    "age": {"dtype": "int", "ge": 18, "le": 100},
    "income": {"dtype": "float", "nullable": True, "ge": 0},
    "employment": {"dtype": "category", "isin": ["salaried", "retired", "student"]},
    "default": {"dtype": "binary", "nullable": True},
}


def schema(**overrides: object) -> SchemaSpec:
    return SchemaSpec.model_validate({"columns": COLUMNS, **overrides})


def good_rows(n: int = 6) -> pd.DataFrame:
    """`n` rows that satisfy every rule of `schema()`, as strings the way a CSV delivers them."""
    return pd.DataFrame(
        {
            "application_id": [f"app-{i}" for i in range(n)],
            "applied_at": [f"2024-01-{i + 1:02d}" for i in range(n)],
            "age": [str(20 + i) for i in range(n)],
            "income": [1000.0 * (i + 1) for i in range(n)],
            "employment": [("salaried", "retired", "student")[i % 3] for i in range(n)],
            "default": [i % 2 for i in range(n)],
        }
    )


def with_bad(column: str, value: object, row: int = 2) -> pd.DataFrame:
    df = good_rows().astype({column: object})
    df.loc[row, column] = value
    return df


# ---------------------------------------------------------------------------------------------
# One bad value: the row is quarantined, the reason names the column and the check
# ---------------------------------------------------------------------------------------------

BAD_VALUES = [
    pytest.param("age", "-5", "age: must be >= 18", id="below-minimum"),
    pytest.param("age", "101", "age: must be <= 100", id="above-maximum"),
    pytest.param("income", -1.0, "income: must be >= 0", id="negative-float"),
    pytest.param("employment", "pirate", "employment: must be one of salaried, retired, student", id="category-not-allowed"),
    pytest.param("age", "abc", "age: not a valid int (a whole number within ±2^63)", id="text-in-int-column"),
    pytest.param("income", "lots", "income: not a valid float", id="text-in-float-column"),
    pytest.param("age", "30.5", "age: not a valid int (a whole number within ±2^63)", id="fraction-in-int-column"),
    pytest.param("age", None, "age: must not be null", id="null-in-non-nullable"),
    pytest.param("applied_at", "not a date", "applied_at: not a valid datetime (ISO 8601 without a time zone, e.g. 2024-05-01T12:30:00)",
                 id="unparseable-datetime"),
    pytest.param("default", 2, "default: must be one of 0, 1", id="binary-not-0-or-1"),
]


@pytest.mark.parametrize(("column", "value", "reason"), BAD_VALUES)
def test_bad_value_quarantines_its_row_with_a_reason(column: str, value: object, reason: str) -> None:
    df = with_bad(column, value)
    outcome = validate_frame(df, schema())
    assert len(outcome.quarantine) == 1
    bad = outcome.quarantine.iloc[0]
    assert bad["application_id"] == "app-2"
    assert bad[REASON] == reason
    # the quarantined row shows the value as it arrived, so a person can see what was wrong
    if value is None:
        assert pd.isna(bad[column])
    else:
        assert str(bad[column]) == str(value)
    assert list(outcome.valid["application_id"]) == ["app-0", "app-1", "app-3", "app-4", "app-5"]
    assert len(outcome.valid) + len(outcome.quarantine) == len(df)


def test_value_that_cannot_be_read_gets_one_reason_not_a_second_null_complaint() -> None:
    outcome = validate_frame(with_bad("age", "abc"), schema())
    assert outcome.quarantine[REASON].tolist() == ["age: not a valid int (a whole number within ±2^63)"]
    assert outcome.failures == {"age: not a valid int (a whole number within ±2^63)": 1}


def test_duplicates_in_a_unique_column_quarantine_every_copy() -> None:
    df = good_rows()
    df.loc[4, "application_id"] = "app-1"
    outcome = validate_frame(df, schema())
    assert outcome.quarantine["application_id"].tolist() == ["app-1", "app-1"]
    assert outcome.quarantine[REASON].tolist() == ["application_id: must be unique (the same value appears more than once)"] * 2
    assert "app-1" not in set(outcome.valid["application_id"])


def test_null_is_fine_where_the_schema_allows_it() -> None:
    df = good_rows()
    df.loc[1, "income"] = None
    outcome = validate_frame(df, schema())
    assert outcome.quarantine.empty
    assert outcome.valid["income"].isna().tolist() == [False, True, False, False, False, False]


def test_every_reason_of_a_row_is_listed() -> None:
    df = with_bad("age", "-5")
    df.loc[2, "employment"] = "pirate"
    outcome = validate_frame(df, schema())
    reasons = outcome.quarantine.loc[0, REASON]
    assert reasons == "age: must be >= 18; employment: must be one of salaried, retired, student"


# ---------------------------------------------------------------------------------------------
# Good rows: declared dtypes, nothing lost
# ---------------------------------------------------------------------------------------------


def test_good_rows_get_the_declared_dtypes() -> None:
    outcome = validate_frame(with_bad("employment", "pirate"), schema())
    valid = outcome.valid
    assert str(valid["age"].dtype) == "Int64"
    assert valid["age"].tolist() == [20, 21, 23, 24, 25]
    assert valid["income"].dtype == "float64"
    assert valid["applied_at"].dtype == "datetime64[ns]"
    assert valid["applied_at"].iloc[0] == pd.Timestamp("2024-01-01")
    assert str(valid["default"].dtype) == "Int64"
    assert isinstance(valid["employment"].dtype, pd.CategoricalDtype)
    # the declared levels, in declared order, even when a level does not occur in the data
    assert list(valid["employment"].cat.categories) == ["salaried", "retired", "student"]


def test_a_category_without_declared_levels_takes_the_levels_of_the_good_rows() -> None:
    spec = SchemaSpec.model_validate({"columns": {"colour": {"dtype": "category"}, "n": {"dtype": "int", "ge": 0}}})
    df = pd.DataFrame({"colour": ["red", "blue", "green", "red"], "n": [1, 2, -1, 3]})
    outcome = validate_frame(df, spec)
    assert sorted(outcome.valid["colour"].cat.categories) == ["blue", "red"]  # 'green' was only in a bad row


def test_no_row_is_lost_and_bad_share_counts_quarantined_rows() -> None:
    df = good_rows(20).astype({"age": object, "employment": object})
    df.loc[[3, 7], "age"] = "-1"
    df.loc[[7, 11], "employment"] = "pirate"
    df.loc[15, "age"] = "abc"
    outcome = validate_frame(df, schema())
    assert len(outcome.valid) + len(outcome.quarantine) == 20
    assert sorted(outcome.quarantine["application_id"]) == sorted(f"app-{i}" for i in (3, 7, 11, 15))
    assert outcome.bad_share == pytest.approx(4 / 20)
    # failures count rows per check; row 7 counts once under each of its two checks
    assert outcome.failures == {"age: not a valid int (a whole number within ±2^63)": 1, "age: must be >= 18": 2,
                                "employment: must be one of salaried, retired, student": 2}


def test_clean_frame_has_zero_bad_share() -> None:
    outcome = validate_frame(good_rows(), schema())
    assert outcome.quarantine.empty
    assert outcome.bad_share == 0.0
    assert outcome.failures == {}
    assert len(outcome.valid) == 6


# ---------------------------------------------------------------------------------------------
# Whole-frame problems and extra columns
# ---------------------------------------------------------------------------------------------


def test_missing_column_raises_naming_it() -> None:
    with pytest.raises(SchemaViolation, match="income"):
        validate_frame(good_rows().drop(columns=["income"]), schema())


@pytest.mark.parametrize(
    ("policy", "kept"),
    [pytest.param("drop", False, id="drop"), pytest.param("keep", True, id="keep")],
)
def test_extra_columns_are_dropped_or_kept(policy: str, kept: bool) -> None:
    df = good_rows().assign(note=list("abcdef"))
    outcome = validate_frame(df, schema(extra_columns=policy))
    assert ("note" in outcome.valid.columns) is kept
    if kept:
        assert outcome.valid["note"].tolist() == list("abcdef")
    assert list(outcome.valid.columns[: len(COLUMNS)]) == list(COLUMNS)


def test_extra_columns_error_names_the_column() -> None:
    df = good_rows().assign(note=list("abcdef"))
    with pytest.raises(SchemaViolation, match="note"):
        validate_frame(df, schema(extra_columns="error"))


def test_quarantine_keeps_extra_columns_so_bad_rows_can_be_traced() -> None:
    df = with_bad("age", "-5").assign(note=list("abcdef"))
    outcome = validate_frame(df, schema(extra_columns="drop"))
    assert outcome.quarantine.loc[0, "note"] == "c"


# ---------------------------------------------------------------------------------------------
# Values the type rule refuses instead of mangling (typed columns, as parquet delivers them)
# ---------------------------------------------------------------------------------------------

INT = "not a valid int (a whole number within ±2^63)"
TIME = "not a valid datetime (ISO 8601 without a time zone, e.g. 2024-05-01T12:30:00)"


@pytest.mark.parametrize(
    ("column", "values", "reason"),
    [
        pytest.param("age", pd.array([30, 31, 2**63, 33, 34, 35], dtype="uint64"), f"age: {INT}", id="uint64-beyond-int64"),
        pytest.param("age", [30.0, 31.0, float("inf"), 33.0, 34.0, 35.0], f"age: {INT}", id="infinity-in-int"),
        pytest.param("applied_at", ["2024-01-01"] * 2 + ["2024-01-01T10:00:00+02:00"] + ["2024-01-01"] * 3,
                     f"applied_at: {TIME}", id="offset-in-text"),
        pytest.param("applied_at", pd.to_datetime(["2024-01-01"] * 6).astype("datetime64[us]").tolist()[:2]
                     + ["9999-12-31"] + pd.to_datetime(["2024-01-01"] * 3).tolist(), f"applied_at: {TIME}",
                     id="beyond-datetime64-ns"),
    ],
)
def test_values_that_do_not_fit_the_declared_type_are_quarantined_not_mangled(column: str, values: list, reason: str) -> None:
    df = good_rows().assign(**{column: values})
    outcome = validate_frame(df, schema())
    assert outcome.quarantine[REASON].tolist() == [reason]
    assert outcome.quarantine["application_id"].tolist() == ["app-2"]


def test_a_time_zone_aware_column_is_refused_row_by_row_not_a_crash() -> None:
    df = good_rows().assign(applied_at=pd.date_range("2024-01-01", periods=6, tz="UTC"))
    outcome = validate_frame(df, schema())
    assert outcome.valid.empty
    assert set(outcome.quarantine[REASON]) == {f"applied_at: {TIME}"}


def test_every_pandera_check_is_named_for_its_rule_and_carries_its_message() -> None:
    from driftline.schema.rules import rules_for
    from driftline.schema.validate import pandera_schema

    rules = rules_for(schema())
    for name, column in pandera_schema(rules).columns.items():
        col = rules.columns[name]
        assert [(c.name, c.error) for c in column.checks] == [(rule, col.message(rule)) for rule in col.rules if rule != "type"]
        assert column.nullable, "nulls are a rule of the spec (not_null), so pandera never reports one under its own name"


def test_whole_numbers_past_2_to_the_53_are_kept_exactly() -> None:
    spec = SchemaSpec.model_validate({"columns": {"id": {"dtype": "int", "unique": True}}})
    ids = [2**53, 2**53 + 1, 2**62 + 1]  # through a float64 the first two would collide
    outcome = validate_frame(pd.DataFrame({"id": ids}), spec)
    assert outcome.quarantine.empty
    assert outcome.valid["id"].tolist() == ids
    outcome = validate_frame(pd.DataFrame({"id": pd.Series([str(v) for v in ids], dtype=object)}), spec)
    assert outcome.valid["id"].tolist() == ids
