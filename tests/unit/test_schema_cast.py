"""driftline.schema.cast: a batch or a source gets the schema's dtypes, or a refusal naming the column."""

from __future__ import annotations

import pandas as pd
import pytest

from driftline.config.groups import SchemaSpec
from driftline.schema.cast import CastError, cast_to_schema, check_batch, concat_cast
from driftline.schema.rules import rules_for

COLUMNS = {
    "application_id": {"dtype": "string", "unique": True},
    "applied_at": {"dtype": "datetime"},
    "age": {"dtype": "int", "ge": 18},
    "income": {"dtype": "float", "nullable": True, "ge": 0},
    "employment": {"dtype": "category", "isin": ["salaried", "retired", "student"]},
    "default": {"dtype": "binary", "nullable": True},
    "active": {"dtype": "bool"},
}
RULES = rules_for(SchemaSpec.model_validate({"columns": COLUMNS}))


def as_csv_gives_it(n: int = 4) -> pd.DataFrame:
    """Every value as text, the way a CSV read without options delivers it."""
    return pd.DataFrame({
        "application_id": [f"app-{i}" for i in range(n)],
        "applied_at": [f"2024-03-0{i + 1}T10:30:00" for i in range(n)],
        "age": [str(30 + i) for i in range(n)],
        "income": ["1200.5", "", "3000", "0"][:n],
        "employment": ["salaried", "retired", "student", "salaried"][:n],
        "default": ["0", "1", "", "1"][:n],
        "active": ["true", "False", "1", "0"][:n],
    }).replace("", None)


def test_text_becomes_the_declared_dtypes() -> None:
    cast = cast_to_schema(as_csv_gives_it(), RULES)
    assert {c: str(t) for c, t in cast.dtypes.items()} == {
        "application_id": "string", "applied_at": "datetime64[ns]", "age": "Int64", "income": "float64",
        "employment": "category", "default": "Int64", "active": "boolean"}
    assert cast["applied_at"].iloc[1] == pd.Timestamp("2024-03-02 10:30")
    assert cast["income"].isna().tolist() == [False, True, False, False]
    assert cast["active"].tolist() == [True, False, True, False]
    assert list(cast["employment"].cat.categories) == ["salaried", "retired", "student"], "the declared levels, in order"


def test_time_zones_become_utc_without_a_zone() -> None:
    frame = as_csv_gives_it(3).assign(applied_at=["2024-03-01T10:30:00Z", "2024-03-01 12:30:00+02:00", "2024-03-01T10:30:00"])
    assert cast_to_schema(frame, RULES)["applied_at"].tolist() == [pd.Timestamp("2024-03-01 10:30")] * 3
    zoned = as_csv_gives_it(2).assign(applied_at=pd.to_datetime(["2024-03-01T11:30:00+01:00"] * 2))  # as parse_dates gives it
    assert cast_to_schema(zoned, RULES)["applied_at"].tolist() == [pd.Timestamp("2024-03-01 10:30")] * 2


def test_a_value_outside_the_declared_levels_is_kept_for_the_validate_stage_to_name() -> None:
    cast = cast_to_schema(as_csv_gives_it().assign(employment=["salaried", "pirate", None, "student"]), RULES)
    assert cast["employment"].tolist()[:2] == ["salaried", "pirate"] and pd.isna(cast["employment"].iloc[2])


@pytest.mark.parametrize(("column", "value", "kind"), [
    ("applied_at", "03/01/2024", "datetime"),
    ("applied_at", "2024", "datetime"),
    ("age", "thirty", "int"),
    ("age", "30.5", "int"),
    ("income", "lots", "float"),
    ("active", "maybe", "bool"),
], ids=["us-date", "bare-year", "word-for-int", "fraction-for-int", "word-for-float", "word-for-bool"])
def test_strict_cast_refuses_an_unreadable_value_naming_column_and_value(column: str, value: str, kind: str) -> None:
    frame = as_csv_gives_it()
    frame.loc[2, column] = value
    with pytest.raises(CastError) as caught:
        cast_to_schema(frame, RULES, strict=True)
    assert caught.value.column == column
    assert f"column {column!r}: 1 of 4 value(s) are not a valid {kind}" in str(caught.value) and repr(value) in str(caught.value)


def test_lenient_cast_keeps_an_unreadable_column_as_text() -> None:
    frame = as_csv_gives_it()
    frame.loc[2, "age"] = "thirty"
    cast = cast_to_schema(frame, RULES, strict=False)
    assert str(cast["age"].dtype) == "string" and cast["age"].tolist() == ["30", "31", "thirty", "33"]
    assert str(cast["income"].dtype) == "float64", "the other columns are cast as usual"


def test_stacking_gives_one_dtype_per_column() -> None:
    typed = cast_to_schema(as_csv_gives_it(), RULES)
    text_age = as_csv_gives_it().copy()
    text_age.loc[0, "age"] = "old"
    other = cast_to_schema(text_age.assign(employment=["retired", "intern", "student", "retired"]), RULES, strict=False)
    stacked = concat_cast([typed, other], RULES)
    assert len(stacked) == 8
    assert str(stacked["age"].dtype) == "string" and stacked["age"].tolist()[:5] == ["30", "31", "32", "33", "old"]
    assert list(stacked["employment"].cat.categories) == ["salaried", "retired", "student", "intern"]
    assert str(stacked["applied_at"].dtype) == "datetime64[ns]"
    stacked.to_parquet(pd.io.common.BytesIO())  # pyarrow takes it: no mixed column


def test_check_batch_refuses_a_missing_column_and_counts_row_failures() -> None:
    with pytest.raises(CastError) as caught:
        check_batch(as_csv_gives_it().drop(columns=["income"]), RULES, "new.csv")
    assert str(caught.value).startswith("new.csv: column 'income': field required")
    with pytest.raises(CastError, match="new.csv: the file has no rows"):
        check_batch(as_csv_gives_it().iloc[:0], RULES, "new.csv")
    checked = check_batch(as_csv_gives_it().assign(age=["17", "40", "50", "12"], notes="x"), RULES, "new.csv")
    assert (checked.rows, checked.bad_rows, checked.bad_share) == (4, 2, 0.5)
    assert checked.failures == {"age: must be >= 18": 2}
    assert "notes" not in checked.frame.columns, "extra_columns: drop (the default) drops it at the door"
