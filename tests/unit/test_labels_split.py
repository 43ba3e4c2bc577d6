"""driftline.data.labels and driftline.data.split: who gets a label, and which split each row lands in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftline.config.groups import ColumnLabel, JoinLabel, RuleLabel, SplitSpec
from driftline.data.generator import generate_loans
from driftline.data.labels import LabelError, attach_labels
from driftline.data.split import assign_splits, columns_read, split_frame

SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    return generate_loans(4000)


def applications() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "application_id": ["a", "b", "c", "d", "e"],
            "days_late": [0.0, 120.0, np.nan, 30.0, 95.0],
            "outcome": pd.array([0, 1, None, 0, 1], dtype="Int64"),
        }
    )


# ---------------------------------------------------------------------------------------------
# attach_labels
# ---------------------------------------------------------------------------------------------


def test_column_label_keeps_rows_without_a_label_aside() -> None:
    labelled, unlabelled = attach_labels(applications(), ColumnLabel(kind="column", column="outcome"), "default")
    assert labelled["application_id"].tolist() == ["a", "b", "d", "e"]
    assert labelled["default"].tolist() == [0, 1, 0, 1]
    assert unlabelled["application_id"].tolist() == ["c"]
    # the source column is renamed, not duplicated: the label must not also sit there as a feature
    assert "outcome" not in labelled.columns


def test_column_label_with_the_target_name_is_kept_as_is() -> None:
    labelled, unlabelled = attach_labels(applications(), ColumnLabel(kind="column", column="outcome"), "outcome")
    assert labelled["outcome"].tolist() == [0, 1, 0, 1]
    assert len(labelled) + len(unlabelled) == 5


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        pytest.param(">", 90, [0, 1, 0, 1], id="greater-than"),
        pytest.param(">=", 30, [0, 1, 1, 1], id="at-least"),
        pytest.param("<", 30, [1, 0, 0, 0], id="less-than"),
        pytest.param("==", 0, [1, 0, 0, 0], id="equal"),
        pytest.param("!=", 0, [0, 1, 1, 1], id="not-equal"),
    ],
)
def test_rule_label_is_0_or_1_and_a_missing_input_is_unlabelled(op: str, value: float, expected: list[int]) -> None:
    spec = RuleLabel(kind="rule", column="days_late", op=op, value=value)
    labelled, unlabelled = attach_labels(applications(), spec, "default")
    assert labelled["application_id"].tolist() == ["a", "b", "d", "e"]
    assert labelled["default"].tolist() == expected
    # NaN is neither late nor on time: it waits for a label rather than counting as 0 (or 1 for '!=')
    assert unlabelled["application_id"].tolist() == ["c"]
    assert unlabelled["default"].isna().all()


def test_rule_label_drops_its_source_column_so_it_cannot_leak_into_features() -> None:
    spec = RuleLabel(kind="rule", column="days_late", op=">", value=90)
    labelled, unlabelled = attach_labels(applications(), spec, "default")
    assert "days_late" not in labelled.columns
    assert "days_late" not in unlabelled.columns


def test_join_label_matches_by_key_and_keeps_unmatched_rows_aside() -> None:
    labels = pd.DataFrame({"application_id": ["e", "a", "zz"], "defaulted": [1, 0, 1]})
    spec = JoinLabel(kind="join", path="data/labels.csv", on="application_id", column="defaulted")
    labelled, unlabelled = attach_labels(applications(), spec, "default", labels)
    assert dict(zip(labelled["application_id"], labelled["default"], strict=True)) == {"a": 0, "e": 1}
    assert sorted(unlabelled["application_id"]) == ["b", "c", "d"]
    # a label for an application we never saw does not invent a row
    assert len(labelled) + len(unlabelled) == 5


def test_join_label_matches_integer_ids_read_as_text() -> None:
    frame = pd.DataFrame({"id": pd.array([1, 2, 3], dtype="Int64"), "x": [0.1, 0.2, 0.3]})
    labels = pd.DataFrame({"id": [3, 1], "y": [1, 0]})
    spec = JoinLabel(kind="join", path="labels.csv", on="id", column="y")
    labelled, unlabelled = attach_labels(frame, spec, "default", labels)
    assert dict(zip(labelled["id"], labelled["default"], strict=True)) == {1: 0, 3: 1}
    assert unlabelled["id"].tolist() == [2]


def test_join_label_with_duplicate_keys_names_the_file() -> None:
    labels = pd.DataFrame({"application_id": ["a", "a", "b"], "defaulted": [0, 1, 1]})
    spec = JoinLabel(kind="join", path="data/labels.csv", on="application_id", column="defaulted")
    with pytest.raises(LabelError, match=r"data/labels\.csv.*duplicate 'application_id'"):
        attach_labels(applications(), spec, "default", labels)


def test_join_label_missing_a_column_names_the_file_and_column() -> None:
    labels = pd.DataFrame({"application_id": ["a"], "label": [1]})
    spec = JoinLabel(kind="join", path="data/labels.csv", on="application_id", column="defaulted")
    with pytest.raises(LabelError, match=r"data/labels\.csv.*defaulted"):
        attach_labels(applications(), spec, "default", labels)


# ---------------------------------------------------------------------------------------------
# assign_splits / split_frame
# ---------------------------------------------------------------------------------------------


def shares(labels: np.ndarray) -> dict[str, float]:
    return {name: float(np.mean(labels == name)) for name in SPLITS}


@pytest.mark.parametrize(
    ("task", "target", "stratify"),
    [
        pytest.param("binary", "default", True, id="binary-stratified"),
        pytest.param("binary", "default", False, id="binary-plain"),
        pytest.param("regression", "interest_rate", True, id="regression"),
    ],
)
def test_random_split_is_reproducible_and_has_the_configured_shares(
    loans: pd.DataFrame, task: str, target: str, stratify: bool
) -> None:
    spec = SplitSpec(kind="random", valid=0.2, test=0.1, seed=3, stratify=stratify)
    first = assign_splits(loans, spec, target, None, task)
    again = assign_splits(loans.copy(), spec, target, None, task)
    np.testing.assert_array_equal(first, again)
    got = shares(first)
    assert got == pytest.approx({"train": 0.7, "valid": 0.2, "test": 0.1}, abs=0.005)


def test_different_seeds_give_different_splits(loans: pd.DataFrame) -> None:
    one = assign_splits(loans, SplitSpec(seed=0), "default", None, "binary")
    two = assign_splits(loans, SplitSpec(seed=1), "default", None, "binary")
    assert np.mean(one == two) < 0.8


@pytest.mark.parametrize("seed", [0, 1, 42], ids=lambda s: f"seed-{s}")
def test_stratified_split_keeps_the_default_rate_in_every_split(loans: pd.DataFrame, seed: int) -> None:
    overall = loans["default"].mean()
    parts = split_frame(loans, SplitSpec(seed=seed, stratify=True), "default", None, "binary")
    for name, part in parts.items():
        assert abs(part["default"].mean() - overall) <= 0.01, name


def test_stratified_split_keeps_every_class_rate_for_multiclass(loans: pd.DataFrame) -> None:
    overall = loans["employment"].astype(str).value_counts(normalize=True)
    parts = split_frame(loans, SplitSpec(seed=0), "employment", None, "multiclass")
    for name, part in parts.items():
        rates = part["employment"].astype(str).value_counts(normalize=True).reindex(overall.index, fill_value=0)
        assert (rates - overall).abs().max() <= 0.01, name


def test_split_frame_loses_no_row_and_repeats_none(loans: pd.DataFrame) -> None:
    parts = split_frame(loans, SplitSpec(seed=0), "default", None, "binary")
    ids = pd.concat([parts[name]["application_id"] for name in SPLITS])
    assert len(ids) == len(loans)
    assert ids.is_unique
    assert set(ids) == set(loans["application_id"])


def test_time_split_trains_on_the_past_and_tests_on_the_future(loans: pd.DataFrame) -> None:
    shuffled = loans.sample(frac=1.0, random_state=0)
    parts = split_frame(shuffled, SplitSpec(kind="time"), "interest_rate", "applied_at", "regression")
    assert parts["train"]["applied_at"].max() < parts["valid"]["applied_at"].min()
    assert parts["valid"]["applied_at"].max() < parts["test"]["applied_at"].min()
    assert {k: len(v) / len(loans) for k, v in parts.items()} == pytest.approx(
        {"train": 0.7, "valid": 0.15, "test": 0.15}, abs=0.005
    )


def test_time_split_never_puts_one_moment_in_two_splits(loans: pd.DataFrame) -> None:
    """Dates without a time of day repeat: a day's rows must not straddle train and valid."""
    daily = loans.assign(applied_at=loans["applied_at"].dt.normalize())
    parts = split_frame(daily, SplitSpec(kind="time"), "interest_rate", "applied_at", "regression")
    assert parts["train"]["applied_at"].max() < parts["valid"]["applied_at"].min()
    assert parts["valid"]["applied_at"].max() < parts["test"]["applied_at"].min()
    assert sum(len(p) for p in parts.values()) == len(loans)
    for name, share in (("train", 0.7), ("valid", 0.15), ("test", 0.15)):
        assert len(parts[name]) / len(loans) == pytest.approx(share, abs=0.03), name


@pytest.mark.parametrize("seed", [0, 7], ids=lambda s: f"seed-{s}")
def test_group_split_keeps_each_group_in_one_split(loans: pd.DataFrame, seed: int) -> None:
    customers = loans.assign(customer=[f"cust-{i % 500}" for i in range(len(loans))])
    spec = SplitSpec(kind="group", group="customer", seed=seed)
    labels = assign_splits(customers, spec, "default", None, "binary")
    splits_per_customer = pd.Series(labels).groupby(customers["customer"].to_numpy()).nunique()
    assert splits_per_customer.max() == 1
    # with 500 groups the shares land near the configured ones
    assert shares(labels) == pytest.approx({"train": 0.7, "valid": 0.15, "test": 0.15}, abs=0.05)
    np.testing.assert_array_equal(labels, assign_splits(customers, spec, "default", None, "binary"))


def test_group_split_depends_on_the_seed(loans: pd.DataFrame) -> None:
    customers = loans.assign(customer=[f"cust-{i % 500}" for i in range(len(loans))])
    one = assign_splits(customers, SplitSpec(kind="group", group="customer", seed=0), "default", None, "binary")
    two = assign_splits(customers, SplitSpec(kind="group", group="customer", seed=1), "default", None, "binary")
    assert np.mean(one == two) < 0.8


def test_empty_frame_gives_empty_splits() -> None:
    empty = generate_loans(10).iloc[0:0]
    parts = split_frame(empty, SplitSpec(), "default", None, "binary")
    assert all(part.empty for part in parts.values())
    assert list(parts) == list(SPLITS)


@pytest.mark.parametrize(("spec", "target", "task"), [
    (SplitSpec(seed=3), "default", "binary"),
    (SplitSpec(seed=3, stratify=False), "default", "binary"),
    (SplitSpec(kind="time"), "interest_rate", "regression"),
    (SplitSpec(kind="group", group="customer", seed=3), "default", "binary"),
], ids=["stratified", "random", "time", "group"])
def test_the_split_reads_only_the_columns_it_names(loans: pd.DataFrame, spec: SplitSpec, target: str, task: str) -> None:
    """The split stage hands the rule only `columns_read` (the other columns stay in pyarrow)."""
    rows = loans.assign(customer=[f"cust-{i % 500}" for i in range(len(loans))])
    only = rows[columns_read(spec, target, "applied_at")]
    assert len(only.columns) < len(rows.columns)
    np.testing.assert_array_equal(assign_splits(only, spec, target, "applied_at", task),
                                  assign_splits(rows, spec, target, "applied_at", task))
