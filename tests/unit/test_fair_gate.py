"""The fair gate's pieces: row keys that survive a new split, the rows left out, and the refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftline.config.groups import GateSpec
from driftline.data.split import SplitError, check_classes, key_columns, row_keys, unseen_rows
from driftline.registry.gate import MIN_FAIR_ROWS, judge, too_few_fair_rows


def frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": [f"A{i:05d}" for i in range(n)], "x": rng.normal(size=n), "y": rng.integers(0, 2, n)})


def test_row_keys_follow_the_row_not_its_position_or_split() -> None:
    df = frame()
    shuffled = df.sample(frac=1.0, random_state=1)
    keys, again = row_keys(df, ["id"]), row_keys(shuffled, ["id"])
    assert len(set(keys.tolist())) == len(df)
    assert dict(zip(df["id"], keys)) == dict(zip(shuffled["id"], again))
    # by content when there is no id column: the same values read back give the same key
    by = key_columns(["y", "x", "id"], None)
    assert by == ["id", "x", "y"]
    assert (row_keys(df, by) == row_keys(df.copy(), by)).all()


def test_unseen_rows_leaves_out_exactly_the_trained_rows() -> None:
    df = frame()
    trained = row_keys(df.iloc[:300], ["id"])
    test = df.sample(frac=1.0, random_state=2)  # a new split that mixes trained and unseen rows
    mask = unseen_rows(test, ["id"], trained)
    assert set(test.loc[mask, "id"]) == set(df["id"].iloc[300:])


def test_the_gate_reports_the_rows_it_left_out() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 600)
    challenger = np.clip(y * 0.3 + rng.uniform(0, 0.7, 600), 0, 1)
    champion = np.clip(y * 0.1 + rng.uniform(0, 0.9, 600), 0, 1)
    result = judge(GateSpec(), "binary", y, challenger, champion, excluded=900, champion_name="champion v0001")
    assert result.passed and result.rows == 600 and result.rows_excluded == 900
    assert "on the 600 test rows champion v0001 did not train on (900 it trained on left out)" in result.reason


def test_too_few_fair_rows_refuses_naming_the_split() -> None:
    result = too_few_fair_rows(GateSpec(), "binary", 57, 449, "champion v0001", "data/credit/split/test.parquet")
    assert not result.passed and result.challenger is None and result.rows_excluded == 392
    assert "only 57 of the 449 rows of the test split (data/credit/split/test.parquet)" in result.reason
    assert f"fewer than the {MIN_FAIR_ROWS}" in result.reason and "split.seed" in result.reason


def test_a_single_class_test_split_is_refused_not_a_crash() -> None:
    y = np.zeros(200, dtype=int)
    scores = np.linspace(0.01, 0.5, 200)
    result = judge(GateSpec(), "binary", y, scores, scores[::-1].copy())
    assert not result.passed and result.challenger is None
    assert "roc_auc is undefined for the challenger" in result.reason and "one class only (0)" in result.reason
    first = judge(GateSpec(), "binary", y, scores, None)
    assert not first.passed and "not compared" in first.reason


@pytest.mark.parametrize("target", [[0] * 50, [None] * 50], ids=["one-class", "all-null"])
def test_a_single_class_target_is_a_split_error_naming_the_target(target: list) -> None:
    df = pd.DataFrame({"x": range(50), "default": pd.array(target, dtype="Int64")})
    with pytest.raises(SplitError, match=r"target 'default' has (only one class \(0\)|no class)") as exc:
        check_classes(df, "default", "binary")
    assert "label" in exc.value.hint
    check_classes(df, "default", "regression")  # a constant regression target is a (poor) model, not an error


def test_unused_levels_of_a_categorical_target_are_not_classes() -> None:
    df = pd.DataFrame({"grade": pd.Categorical(["a"] * 20, categories=["a", "b", "c"])})
    with pytest.raises(SplitError, match=r"only one class \(a\)"):
        check_classes(df, "grade", "multiclass")
    check_classes(df.assign(grade=pd.Categorical(["a", "b"] * 10, categories=["a", "b", "c"])), "grade", "multiclass")
