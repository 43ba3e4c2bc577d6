"""driftline.features.fast: the numpy replay gives exactly the matrix LightGBM gets from pandas.

The reference is `apply_features`' frame turned into numbers the way LightGBM turns a pandas frame
with the training categories into numbers (category codes, -1 as NaN; floats as they are):
`frame_codes_matrix`. Predictions, contributions and reason codes of a booster trained on pandas
categoricals must be equal on the fast matrix too.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from driftline.data.generator import generate_loans
from driftline.features import fast as fast_module
from driftline.features.fast import FAST_KINDS, compile_plan, frame_codes_matrix
from driftline.features.pipeline import (
    FeaturePlan,
    FittedFeatures,
    apply_features,
    fit_features,
)
from driftline.features.transforms import TRANSFORMS
from driftline.models.explain import (
    contributions,
    contributions_matrix,
    reason_codes,
    reason_codes_matrix,
)
from driftline.config.model import ModelSpec
from driftline.models.train import train_model

ROOT = Path(__file__).resolve().parents[2]
NAN = np.nan


def reference(frame: pd.DataFrame, fitted: FittedFeatures) -> np.ndarray:
    """What LightGBM receives from the pandas path."""
    fast = compile_plan(fitted)
    X = apply_features(frame, fitted)
    assert list(X.columns) == fast.feature_columns
    return frame_codes_matrix(X, fast.feature_columns, fast.categorical_positions)


def assert_same(fitted: FittedFeatures, columns, frame: pd.DataFrame | None = None) -> np.ndarray | None:
    """fast.matrix(columns) equals the pandas path on the same data (NaN-equal, to 1e-12)."""
    fast = compile_plan(fitted)
    assert fast.fallback is None
    frame = frame if frame is not None else (columns if isinstance(columns, pd.DataFrame) else pd.DataFrame(columns))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            expected = reference(frame, fitted)
    except Exception as exc:  # noqa: BLE001 - the pandas path refuses (or warns about) this input: so must we
        with pytest.raises(type(exc)), warnings.catch_warnings():
            warnings.simplefilter("error")
            fast.matrix(columns)
        return None
    got = fast.matrix(columns)
    assert got.dtype == np.float64 and got.shape == expected.shape
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12, equal_nan=True)
    assert np.array_equal(got, expected, equal_nan=True)  # in fact bit for bit
    return got


def all_ways(fitted: FittedFeatures, frame: pd.DataFrame) -> None:
    """As a frame, as numpy columns, as lists, and one row at a time."""
    frame = frame.reset_index(drop=True)
    assert_same(fitted, frame)
    assert_same(fitted, {c: frame[c].to_numpy() for c in frame.columns}, frame)
    as_lists = {c: frame[c].tolist() for c in frame.columns}
    assert_same(fitted, as_lists)
    for i in range(min(len(frame), 12)):
        assert_same(fitted, frame.iloc[[i]].reset_index(drop=True))
        assert_same(fitted, {c: v[i : i + 1] for c, v in as_lists.items()})


# ---------------------------------------------------------------------------------------------
# The real plans, on generated loans
# ---------------------------------------------------------------------------------------------

PLANS = {
    "credit": ("default", "binary", []),
    "pricing": ("interest_rate", "regression", []),
}


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    return generate_loans(rows=4000, seed=11)


@pytest.fixture(scope="module", params=sorted(PLANS))
def real(request, loans: pd.DataFrame):
    """(name, fitted, booster, held-out frame) for a real plan, as the featurize stage fits it."""
    name = request.param
    target, task, _ = PLANS[name]
    plan = FeaturePlan.model_validate(yaml.safe_load((ROOT / f"conf/features/{name}.yaml").read_text()))
    train, valid, test = loans.iloc[:2500], loans.iloc[2500:3200], loans.iloc[3200:]
    fitted, X_train = fit_features(train, target, task, plan, drop_columns=["application_id", "applied_at"])
    X_valid = apply_features(valid, fitted)
    spec = ModelSpec(num_boost_round=40, early_stopping_rounds=10, params={"num_threads": 1})
    booster = train_model(X_train, train[target], X_valid, valid[target], task, spec).booster
    return name, fitted, booster, test.drop(columns=[target]).reset_index(drop=True)


def messy(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Serving-style columns: strings for categories (some unseen), ISO strings for times, NaNs."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    n = len(out)
    for column in ("employment", "home_ownership", "region", "purpose"):
        values = np.array(out[column].astype(object))
        values[rng.random(n) < 0.05] = "never-seen"
        values[rng.random(n) < 0.05] = None
        out[column] = values
    stamps = np.array(out["applied_at"].dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object))
    stamps[rng.random(n) < 0.05] = None
    out["applied_at"] = stamps
    for column in ("income", "credit_score", "loan_amount", "debt_to_income", "age"):
        values = np.array(out[column].astype("float64"))
        values[rng.random(n) < 0.07] = NAN
        out[column] = values
    out.loc[rng.random(n) < 0.03, "income"] = 0.0  # ratio by zero
    out.loc[rng.random(n) < 0.03, "loan_amount"] = -5.0  # log1p of a negative
    out.loc[rng.random(n) < 0.03, "age"] = 25.0  # exactly on a bucket edge
    return out


def test_real_plans_are_fully_compiled(real) -> None:
    _, fitted, _, _ = real
    assert compile_plan(fitted).fallback is None


def test_real_plans_match_on_clean_rows(real) -> None:
    _, fitted, _, test = real
    all_ways(fitted, test)


def test_real_plans_match_on_messy_rows(real) -> None:
    _, fitted, _, test = real
    all_ways(fitted, messy(test))
    all_ways(fitted, messy(test, seed=1).iloc[::-1])


def test_real_plans_match_on_validated_requests(real) -> None:
    """The frames the server scores: records as JSON gives them, through check_records."""
    from driftline.config.groups import SchemaSpec
    from driftline.serve.bundle import request_schema
    from driftline.serve.validation import check_records

    name, fitted, _, test = real
    schema = SchemaSpec.model_validate(yaml.safe_load((ROOT / "conf/schema/loans.yaml").read_text()))
    target = PLANS[name][0]
    rs = request_schema(schema, target=target, label_column="default", id_column="application_id")
    records = test.drop(columns=[c for c in ("default", "interest_rate") if c in test.columns])
    if "interest_rate" in rs.columns:
        records = records.assign(interest_rate=10.0)
    payload = json.loads(records.head(300).to_json(orient="records", date_format="iso"))
    for chunk in (payload, payload[:1], payload[7:8]):
        frame, errors = check_records(chunk, rs)
        assert not errors
        assert_same(fitted, frame)


def test_booster_predictions_contributions_and_reasons_are_equal(real) -> None:
    _, fitted, booster, test = real
    fast = compile_plan(fitted)
    for frame in (test, messy(test), test.iloc[:1], messy(test).iloc[[5]]):
        X = apply_features(frame, fitted)
        M = fast.matrix(frame)
        assert np.array_equal(booster.predict(X), booster.predict(M))
        assert np.array_equal(contributions(booster, X), contributions_matrix(booster, M))
        expected = reason_codes(booster, X, top=3)
        assert reason_codes_matrix(booster, M, fast.feature_columns, top=3,
                                   categorical=fast.categorical_positions) == expected
        contrib = contributions_matrix(booster, M)
        assert reason_codes_matrix(booster, M, fast.feature_columns, top=3,
                                   categorical=fast.categorical_positions, contrib=contrib) == expected
        assert reason_codes_matrix(booster, M, top=2, direction="decrease",
                                   categorical=fast.categorical_positions) == reason_codes(
            booster, X, top=2, direction="decrease")


# ---------------------------------------------------------------------------------------------
# Every transform kind, on small frames with the awkward cases
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 600
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime("2023-12-25") + pd.to_timedelta(rng.integers(0, 400 * 86400, n), unit="s"),
            "a": rng.normal(10, 5, n),
            "b": rng.integers(-3, 20, n).astype(float),
            "k": rng.integers(0, 6, n),
            "city": rng.choice(["paris", "lyon", "nice", "metz", "tiny"], n, p=[0.4, 0.3, 0.2, 0.09, 0.01]),
            "shop": pd.Categorical(rng.choice(["s1", "s2", "s3"], n)),
            "flag": rng.random(n) < 0.3,
            "y": (rng.random(n) < 0.3).astype(int),
            "cls": rng.choice(["lo", "mid", "hi"], n),
            "reg": rng.normal(0, 1, n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "a"] = NAN
    frame.loc[rng.random(n) < 0.1, "b"] = NAN
    frame.loc[rng.random(n) < 0.05, "b"] = 0.0
    frame.loc[rng.random(n) < 0.1, "city"] = None
    frame.loc[rng.random(n) < 0.05, "ts"] = pd.NaT
    return frame


def serving(frame: pd.DataFrame) -> pd.DataFrame:
    """Unseen levels, strings for times, and a category column as plain strings."""
    out = frame.drop(columns=["y", "cls", "reg"]).iloc[:80].reset_index(drop=True).copy()
    city = np.array(out["city"].astype(object))
    city[::7] = "unseen-town"
    out["city"] = city
    out["ts"] = [None if pd.isna(t) else t.isoformat() for t in out["ts"]]
    shop = np.array(out["shop"].astype(object))
    shop[::9] = "s9"
    out["shop"] = shop
    out.loc[5, "k"] = 99
    return out


TARGETS = {"binary": "y", "regression": "reg", "multiclass": "cls"}

KIND_CASES = [
    ("date_parts", "binary", [{"kind": "date_parts", "column": "ts",
                               "parts": ["weekday", "is_weekend", "hour", "month", "day", "dayofyear", "year"]}]),
    ("date_parts-default", "binary", [{"kind": "date_parts", "column": "ts"}]),
    ("log1p", "binary", [{"kind": "log1p", "columns": ["a", "b"]}]),
    ("clip-fixed", "binary", [{"kind": "clip", "columns": ["a", "b"], "lower": 0, "upper": 12}]),
    ("clip-quantile", "binary", [{"kind": "clip", "columns": ["a"], "lower_quantile": 0.05, "upper_quantile": 0.9},
                                 {"kind": "clip", "columns": ["b"], "upper_quantile": 0.5}]),
    ("ratio", "binary", [{"kind": "ratio", "numerator": "a", "denominator": "b", "name": "a_b"}]),
    ("bucketize-edges", "binary", [{"kind": "bucketize", "column": "a", "edges": [0, 5, 10, 15]}]),
    ("bucketize-bins", "binary", [{"kind": "bucketize", "column": "b", "n_bins": 4},
                                  {"kind": "bucketize", "column": "k", "n_bins": 3}]),
    ("missing_indicator", "binary", [{"kind": "missing_indicator", "columns": ["a", "city", "ts", "k", "shop"]}]),
    ("impute-median", "binary", [{"kind": "impute", "columns": ["a", "b"], "strategy": "median"}]),
    ("impute-mean", "binary", [{"kind": "impute", "columns": ["a"], "strategy": "mean"}]),
    ("impute-constant", "binary", [{"kind": "impute", "columns": ["a"], "strategy": "constant", "value": -1},
                                   {"kind": "impute", "columns": ["city"], "strategy": "constant", "value": "none"}]),
    ("impute-most-frequent", "binary", [{"kind": "impute", "columns": ["city", "b"], "strategy": "most_frequent"}]),
    ("impute-after-categorical", "binary", [{"kind": "categorical", "columns": ["city"]},
                                            {"kind": "impute", "columns": ["city"], "strategy": "constant",
                                             "value": "none"}]),
    ("categorical", "binary", [{"kind": "categorical", "columns": ["city", "shop", "k"]}]),
    ("categorical-other", "binary", [{"kind": "categorical", "columns": ["city"], "min_frequency": 30},
                                     {"kind": "categorical", "columns": ["k"], "max_categories": 3}]),
    ("categorical-bool", "binary", [{"kind": "categorical", "columns": ["flag"]}]),
    ("target_encode-binary", "binary", [{"kind": "target_encode", "column": "city"},
                                        {"kind": "target_encode", "column": "k", "name": "k_enc", "smoothing": 0}]),
    ("target_encode-regression", "regression", [{"kind": "target_encode", "column": "shop", "smoothing": 5}]),
    ("target_encode-multiclass", "multiclass", [{"kind": "target_encode", "column": "city"}]),
    ("drop", "binary", [{"kind": "drop", "columns": ["a"]}]),
    ("everything", "binary", [
        {"kind": "date_parts", "column": "ts", "parts": ["weekday", "hour"]},
        {"kind": "missing_indicator", "columns": ["a"]},
        {"kind": "ratio", "numerator": "a", "denominator": "b", "name": "r"},
        {"kind": "impute", "columns": ["a"]},
        {"kind": "log1p", "columns": ["a"]},
        {"kind": "bucketize", "column": "r", "edges": [-1, 0, 1]},
        {"kind": "categorical", "columns": ["ts_weekday"], "min_frequency": 200},
        {"kind": "target_encode", "column": "shop"},
        {"kind": "drop", "columns": ["b"]},
    ]),
]


def test_every_kind_has_a_case() -> None:
    covered = {t["kind"] for _, _, transforms in KIND_CASES for t in transforms}
    assert covered == set(TRANSFORMS) == set(FAST_KINDS)


@pytest.mark.parametrize(("name", "task", "transforms"), KIND_CASES, ids=[c[0] for c in KIND_CASES])
def test_each_kind_matches_pandas(small: pd.DataFrame, name: str, task: str, transforms: list[dict]) -> None:
    target = TARGETS[task]
    others = [c for c in TARGETS.values() if c != target]
    plan = FeaturePlan.model_validate({"transforms": transforms, "exclude": others})
    fitted, _ = fit_features(small, target, task, plan)
    held_out = small.drop(columns=["y", "cls", "reg"])
    all_ways(fitted, held_out)
    all_ways(fitted, serving(small))


def test_missing_column_is_a_key_error(real) -> None:
    _, fitted, _, test = real
    fast = compile_plan(fitted)
    with pytest.raises(KeyError):
        fast.matrix(test.drop(columns=["employment"]))
    with pytest.raises(KeyError):
        apply_features(test.drop(columns=["employment"]), fitted)


def test_unknown_kind_falls_back_to_pandas(monkeypatch, real) -> None:
    """A kind without a numpy replay: the whole plan goes through apply_features, same numbers."""
    _, fitted, _, test = real
    monkeypatch.setattr(fast_module, "FAST_KINDS", FAST_KINDS - {"log1p"})
    fast = compile_plan(fitted)
    assert fast.fallback is not None and "log1p" in fast.fallback
    calls = []
    real_apply = fast_module.apply_features
    monkeypatch.setattr(fast_module, "apply_features", lambda *a: calls.append(1) or real_apply(*a))
    assert np.array_equal(fast.matrix(messy(test)), reference(messy(test), fitted), equal_nan=True)
    assert calls


def test_unusual_dtype_falls_back_for_that_call(small: pd.DataFrame) -> None:
    plan = FeaturePlan.model_validate({"transforms": [{"kind": "date_parts", "column": "ts", "parts": ["hour", "day"]}],
                                       "exclude": ["cls", "reg"]})
    fitted, _ = fit_features(small, "y", "binary", plan)
    frame = small.drop(columns=["y"]).assign(ts=small["ts"].dt.tz_localize("UTC").dt.tz_convert("Asia/Kolkata"))
    assert_same(fitted, frame)
    as_strings = frame.assign(ts=[None if pd.isna(t) else t.isoformat() for t in frame["ts"]])
    assert_same(fitted, as_strings)  # offsets in the strings: local wall-clock parts, as pandas


LEVEL_TYPE_CASES = [
    ("bool-levels", [True, False] * 30, [
        pd.array([True, None, False], dtype="boolean"),
        np.array([True, False, True]),
        [1, 0, None],
        [1.0, 0.0, NAN],
        pd.array([1, None, 0], dtype="Int64"),
    ]),
    ("int-levels", [1, 2, 3] * 20, [
        pd.array([1, None, 3], dtype="Int64"),
        [1.0, 2.0, NAN],
        [True, False, None],
        ["1", "2", None],
        np.array([3, 1, 7]),
    ]),
    ("mixed-object-levels", [True, "a", "b", 2] * 15, [
        [1, "a", True],
        [None, "b", 2.0],
        pd.array([True, None, False], dtype="boolean"),
        ["True", "c", None],
    ]),
]


@pytest.mark.parametrize(("name", "train_values", "serve_values"), LEVEL_TYPE_CASES,
                         ids=[c[0] for c in LEVEL_TYPE_CASES])
def test_category_levels_match_as_pandas_matches_them(name: str, train_values: list, serve_values: list) -> None:
    """Which serving values count as which training level (bool vs 1, nullable types, mixed)."""
    n = len(train_values)
    train = pd.DataFrame({"c": pd.Series(train_values, dtype=object if "mixed" in name else None),
                          "d": pd.Series(train_values, dtype=object if "mixed" in name else None),
                          "y": (np.arange(n) % 4 == 0).astype(int)})
    plan = FeaturePlan.model_validate({"transforms": [{"kind": "target_encode", "column": "d"},
                                                      {"kind": "categorical", "columns": ["c"]}]})
    fitted, _ = fit_features(train, "y", "binary", plan)
    for values in serve_values:
        frame = pd.DataFrame({"c": values, "d": values})
        assert_same(fitted, frame)
        assert_same(fitted, {"c": values, "d": values}, frame)
        big = pd.DataFrame({"c": pd.concat([pd.Series(values)] * 40, ignore_index=True),
                            "d": pd.concat([pd.Series(values)] * 40, ignore_index=True)})
        assert_same(fitted, big)  # past SMALL rows: the factorising branch


def test_score_frame_fast_path_equals_pandas_path(real) -> None:
    """The server's scoring: same scores, decisions and reason codes with and without the fast path."""
    from driftline.serve.bundle import ModelBundle
    from driftline.serve.scoring import fast_path, score_frame

    name, fitted, booster, test = real
    names = booster.feature_name()
    positions = tuple(i for i, c in enumerate(names) if c in fitted.categorical)
    assert [list(levels) for levels in booster.pandas_categorical or []] == [
        fitted.categorical[names[i]] for i in positions
    ]
    common: dict = {"pipeline": name, "version": "v1", "task": PLANS[name][1], "threshold": 0.3, "classes": None,
                    "booster": booster, "fitted": fitted, "request_schema": None, "feature_columns": names,
                    "numpy_categorical": positions, "info": {}}
    fast_bundle = ModelBundle(**common, fast=compile_plan(fitted))
    pandas_bundle = ModelBundle(**common)
    assert fast_path(fast_bundle) and not fast_path(pandas_bundle)
    for frame in (test.head(200), messy(test).head(200), test.iloc[[3]].reset_index(drop=True)):
        for explain in ("none", "declined", "all"):
            got, expected = score_frame(fast_bundle, frame, explain), score_frame(pandas_bundle, frame, explain)
            assert got.scores == expected.scores
            assert got.predictions == expected.predictions
            assert got.reasons == expected.reasons
            if explain != "none" and PLANS[name][1] == "binary":
                assert any(r is not None for r in got.reasons) or not any(got.predictions)
