"""driftline.features: each transform's output, fit-on-train-only, the model matrix that training
and serving share, and the compile-time column check (driftline.config.features)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from driftline.config.features import TRANSFORM_SPECS, FeaturePlan, TransformSpec, check_columns
from driftline.features.columns import OTHER
from driftline.features.pipeline import (
    FittedFeatures,
    apply_features,
    features_frame,
    featurized_matrix,
    fit_features,
    model_matrix,
)
from driftline.features.transforms import TRANSFORMS

ROOT = Path(__file__).resolve().parents[2]
NAN = np.nan
SPEC = TypeAdapter(TransformSpec)


def run(config: dict, train: pd.DataFrame, apply_to: pd.DataFrame | None = None) -> pd.DataFrame:
    """Fit one transform on `train` and apply it to `apply_to` (default: `train`), as a frame."""
    fitted, _ = fit_features(train.assign(y=0.0), "y", "regression", plan_of(config))
    return apply_features(train if apply_to is None else apply_to, fitted)


def plan_of(*transforms: dict, exclude: list[str] | None = None) -> FeaturePlan:
    return FeaturePlan.model_validate({"transforms": list(transforms), "exclude": exclude or []})


def feature(fitted: FittedFeatures, X: np.ndarray, name: str) -> np.ndarray:
    """One feature's column of a model matrix."""
    return X[:, fitted.feature_columns.index(name)]


def assert_values(actual: pd.Series, expected: list) -> None:
    """Equal values, with NaN/None/NA all counting as one missing marker."""
    assert [None if pd.isna(v) else v for v in actual] == [None if pd.isna(v) else v for v in expected]


# ---------------------------------------------------------------------------------------------
# The config schema
# ---------------------------------------------------------------------------------------------


def test_every_spec_kind_has_a_transform() -> None:
    assert set(TRANSFORMS) == set(TRANSFORM_SPECS)


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"kind": "clip", "columns": ["a"], "lower": 0, "lower_quantile": 0.1}, id="clip-two-lower-bounds"),
        pytest.param({"kind": "clip", "columns": ["a"]}, id="clip-no-bound"),
        pytest.param({"kind": "clip", "columns": ["a"], "upper_quantile": 1.5}, id="clip-quantile-above-1"),
        pytest.param({"kind": "clip", "columns": ["a"], "lower": 5, "upper": 1}, id="clip-lower-above-upper"),
        pytest.param({"kind": "bucketize", "column": "a"}, id="bucketize-neither"),
        pytest.param({"kind": "bucketize", "column": "a", "edges": [1], "n_bins": 3}, id="bucketize-both"),
        pytest.param({"kind": "bucketize", "column": "a", "edges": [3, 1]}, id="bucketize-unsorted-edges"),
        pytest.param({"kind": "impute", "columns": ["a"], "strategy": "constant"}, id="impute-constant-no-value"),
        pytest.param({"kind": "impute", "columns": ["a"], "value": 3}, id="impute-value-without-constant"),
        pytest.param({"kind": "log1p", "columns": []}, id="empty-column-list"),
        pytest.param({"kind": "log1p", "columns": ["a"], "colums": ["b"]}, id="misspelt-key"),
        pytest.param({"kind": "sqrt", "columns": ["a"]}, id="unknown-kind"),
        pytest.param({"kind": "target_encode", "column": "a", "folds": 1}, id="one-fold"),
    ],
)
def test_invalid_transform_config_is_rejected(config: dict) -> None:
    with pytest.raises(ValidationError):
        SPEC.validate_python(config)


def test_plan_rejects_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        FeaturePlan.model_validate({"transforms": [], "exlude": ["id"]})


# ---------------------------------------------------------------------------------------------
# Each transform on a tiny frame
# ---------------------------------------------------------------------------------------------

STAMPS = pd.DataFrame(
    {"ts": pd.to_datetime(["2024-01-06 13:00", "2024-03-04 08:30", None])}  # Sat, Mon, NaT
)


@pytest.mark.parametrize(
    ("config", "frame", "expected"),
    [
        pytest.param(
            {"kind": "date_parts", "column": "ts"},
            STAMPS,
            {"ts_weekday": [5, 0, NAN], "ts_is_weekend": [1, 0, NAN], "ts_hour": [13, 8, NAN], "ts_month": [1, 3, NAN]},
            id="date_parts-default-parts",
        ),
        pytest.param(
            {"kind": "date_parts", "column": "ts", "parts": ["day", "dayofyear", "year"]},
            STAMPS,
            {"ts_day": [6, 4, NAN], "ts_dayofyear": [6, 64, NAN], "ts_year": [2024, 2024, NAN]},
            id="date_parts-day-dayofyear-year",
        ),
        pytest.param(
            {"kind": "date_parts", "column": "ts", "parts": ["weekday", "hour"]},
            pd.DataFrame({"ts": ["2024-01-06T13:00:00", "2024-03-04T08:30:00", None]}),
            {"ts_weekday": [5, 0, NAN], "ts_hour": [13, 8, NAN]},
            id="date_parts-from-iso-strings",
        ),
        pytest.param(
            {"kind": "log1p", "columns": ["a"]},
            pd.DataFrame({"a": [0.0, np.e - 1, -5.0, NAN]}),
            {"a": [0.0, 1.0, 0.0, NAN]},
            id="log1p-negatives-clipped-to-zero",
        ),
        pytest.param(
            {"kind": "clip", "columns": ["a"], "lower": 0, "upper": 10},
            pd.DataFrame({"a": [-5.0, 0.0, 5.0, 50.0, NAN]}),
            {"a": [0.0, 0.0, 5.0, 10.0, NAN]},
            id="clip-fixed-bounds",
        ),
        pytest.param(
            {"kind": "clip", "columns": ["a"], "upper": 2},
            pd.DataFrame({"a": [-5, 1, 3]}),
            {"a": [-5.0, 1.0, 2.0]},
            id="clip-upper-only",
        ),
        pytest.param(
            {"kind": "ratio", "numerator": "a", "denominator": "b", "name": "a_per_b"},
            pd.DataFrame({"a": [1.0, 2.0, 3.0, 0.0], "b": [2, 0, NAN, 0]}),
            {"a_per_b": [0.5, NAN, NAN, NAN]},
            id="ratio-zero-denominator-is-nan",
        ),
        pytest.param(
            {"kind": "bucketize", "column": "a", "edges": [0, 10]},
            pd.DataFrame({"a": [-1.0, 0.0, 5.0, 10.0, 11.0, NAN]}),
            {"a": [0, 1, 1, 2, 2, NAN]},
            id="bucketize-fixed-edges",
        ),
        pytest.param(
            {"kind": "missing_indicator", "columns": ["a", "s"]},
            pd.DataFrame({"a": [1.0, NAN, 3.0], "s": ["x", "y", None]}),
            {"a_missing": [0, 1, 0], "s_missing": [0, 0, 1], "a": [1.0, NAN, 3.0]},
            id="missing_indicator",
        ),
        pytest.param(
            {"kind": "impute", "columns": ["a"], "strategy": "median"},
            pd.DataFrame({"a": [1.0, NAN, 3.0, 10.0]}),
            {"a": [1.0, 3.0, 3.0, 10.0]},
            id="impute-median",
        ),
        pytest.param(
            {"kind": "impute", "columns": ["a"], "strategy": "mean"},
            pd.DataFrame({"a": [1.0, NAN, 3.0, 8.0]}),
            {"a": [1.0, 4.0, 3.0, 8.0]},
            id="impute-mean",
        ),
        pytest.param(
            {"kind": "impute", "columns": ["a"], "strategy": "constant", "value": -1},
            pd.DataFrame({"a": [1.0, NAN]}),
            {"a": [1.0, -1.0]},
            id="impute-constant-number",
        ),
        pytest.param(
            {"kind": "impute", "columns": ["s"], "strategy": "constant", "value": "unknown"},
            pd.DataFrame({"s": ["x", None]}),
            {"s": ["x", "unknown"]},
            id="impute-constant-string",
        ),
        pytest.param(
            {"kind": "impute", "columns": ["s"], "strategy": "most_frequent"},
            pd.DataFrame({"s": ["b", "a", None, "b", "a"]}),
            {"s": ["b", "a", "a", "b", "a"]},
            id="impute-most-frequent-ties-to-first-in-order",
        ),
        pytest.param(
            {"kind": "categorical", "columns": ["s"], "min_frequency": 2},
            pd.DataFrame({"s": ["a", "a", "b", "c", "c", None]}),
            {"s": ["a", "a", OTHER, "c", "c", NAN]},
            id="categorical-rare-levels-merged",
        ),
        pytest.param(
            {"kind": "categorical", "columns": ["s"], "max_categories": 1},
            pd.DataFrame({"s": ["a", "b", "b", "c"]}),
            {"s": [OTHER, "b", "b", OTHER]},
            id="categorical-max-categories",
        ),
        pytest.param(
            {"kind": "drop", "columns": ["a"]},
            pd.DataFrame({"a": [1], "b": [2]}),
            {"b": [2]},
            id="drop",
        ),
    ],
)
def test_transform_output(config: dict, frame: pd.DataFrame, expected: dict) -> None:
    out = run(config, frame)
    for column, values in expected.items():
        assert_values(out[column], values)
    if config["kind"] == "drop":
        assert list(out.columns) == list(expected)


def test_categorical_gives_category_dtype_with_sorted_levels() -> None:
    out = run({"kind": "categorical", "columns": ["s"]}, pd.DataFrame({"s": ["b", "c", "a", "b"]}))
    assert isinstance(out["s"].dtype, pd.CategoricalDtype)
    assert list(out["s"].cat.categories) == ["a", "b", "c"]


def test_bucketize_learns_deduplicated_quantile_edges_on_train() -> None:
    train = pd.DataFrame({"a": [0.0] * 90 + list(range(1, 11)), "y": 0.0})
    fitted, _ = fit_features(train, "y", "regression", plan_of({"kind": "bucketize", "column": "a", "n_bins": 4}))
    assert fitted.states == [{"edges": [0.0]}]  # three quartiles, all zero, collapse into one edge
    assert model_matrix({"a": [-1.0, 0.0, 5.0]}, fitted).ravel().tolist() == [0, 1, 1]


def test_transforms_do_not_modify_their_input() -> None:
    frame = pd.DataFrame({"a": [1.0, NAN, 3.0]})
    before = frame.copy()
    run({"kind": "impute", "columns": ["a"]}, frame)
    run({"kind": "missing_indicator", "columns": ["a"]}, frame)
    pd.testing.assert_frame_equal(frame, before)


def test_many_added_columns_do_not_fragment_the_frame() -> None:
    # pandas warns (an error under our pytest config) after ~100 single-column inserts
    frame = pd.DataFrame({f"c{i}": [1.0, NAN] for i in range(150)})
    plan = plan_of(*({"kind": "missing_indicator", "columns": [f"c{i}"]} for i in range(150)))
    fitted, matrix = fit_features(frame.assign(y=[0, 1]), "y", "binary", plan)
    assert matrix.shape == (2, 300)
    assert apply_features(frame, fitted).shape == (2, 300)


# ---------------------------------------------------------------------------------------------
# State is learned on train only
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "train", "other", "expected"),
    [
        pytest.param(
            {"kind": "impute", "columns": ["a"]},
            pd.DataFrame({"a": [1.0, 2.0, 3.0, NAN]}),
            pd.DataFrame({"a": [100.0, 200.0, 300.0, NAN]}),
            {"a": [100.0, 200.0, 300.0, 2.0]},
            id="impute-median-from-train",
        ),
        pytest.param(
            {"kind": "clip", "columns": ["a"], "lower_quantile": 0.1, "upper_quantile": 0.9},
            pd.DataFrame({"a": np.arange(101.0)}),
            pd.DataFrame({"a": [-1000.0, 50.0, 1000.0]}),
            {"a": [10.0, 50.0, 90.0]},
            id="clip-quantiles-from-train",
        ),
        pytest.param(
            {"kind": "bucketize", "column": "a", "n_bins": 2},
            pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 5.0]}),
            pd.DataFrame({"a": [100.0, 101.0, 2.0]}),
            {"a": [1, 1, 0]},
            id="bucketize-edges-from-train",
        ),
        pytest.param(
            {"kind": "categorical", "columns": ["s"], "min_frequency": 2},
            pd.DataFrame({"s": ["a", "a", "b", "rare"]}),
            pd.DataFrame({"s": ["b", "b", "new", "a"]}),
            {"s": [OTHER, OTHER, OTHER, "a"]},
            id="categorical-levels-from-train",
        ),
    ],
)
def test_state_comes_from_train_only(
    config: dict, train: pd.DataFrame, other: pd.DataFrame, expected: dict
) -> None:
    out = run(config, train, apply_to=other)
    for column, values in expected.items():
        assert_values(out[column], values)


def test_unseen_category_becomes_other_when_that_level_exists_else_missing() -> None:
    with_other = run(
        {"kind": "categorical", "columns": ["s"], "min_frequency": 2},
        pd.DataFrame({"s": ["a", "a", "b"]}),
        apply_to=pd.DataFrame({"s": ["a", "zzz", None]}),
    )
    assert_values(with_other["s"], ["a", OTHER, NAN])
    without_other = run(
        {"kind": "categorical", "columns": ["s"]},
        pd.DataFrame({"s": ["a", "b"]}),
        apply_to=pd.DataFrame({"s": ["a", "zzz"]}),
    )
    assert_values(without_other["s"], ["a", NAN])
    assert list(without_other["s"].cat.categories) == ["a", "b"]


def test_category_codes_do_not_depend_on_train_row_order() -> None:
    train = pd.DataFrame({"s": list("cabcab"), "y": [0, 1, 0, 1, 0, 1]})
    plan = plan_of({"kind": "categorical", "columns": ["s"]})
    first, _ = fit_features(train, "y", "binary", plan)
    second, _ = fit_features(train.iloc[::-1], "y", "binary", plan)
    assert first.categorical == second.categorical == {"s": ["a", "b", "c"]}
    request = {"s": ["c"]}
    assert model_matrix(request, first).tolist() == model_matrix(request, second).tolist() == [[2.0]]


def test_category_codes_do_not_depend_on_the_input_level_order() -> None:
    # Data read from parquet or a schema arrives as `category` with its own level order.
    def as_category(values: list[str], levels: list[str]) -> pd.Series:
        return pd.Series(pd.Categorical(values, categories=levels))

    train = pd.DataFrame(
        {"s": as_category(list("cabcab"), ["c", "b", "a"]), "y": [0, 1, 0, 1, 0, 1]}
    )
    request = pd.DataFrame({"s": as_category(["a", "c"], ["a", "c", "b"])})
    for plan in (plan_of({"kind": "categorical", "columns": ["s"]}), plan_of()):
        fitted, matrix = fit_features(train, "y", "binary", plan)
        assert fitted.categorical == {"s": ["a", "b", "c"]}
        assert matrix[:, 0].tolist() == [2, 0, 1, 2, 0, 1]
        assert model_matrix(request, fitted)[:, 0].tolist() == [0, 2]


# ---------------------------------------------------------------------------------------------
# The whole plan: feature matrix, JSON round trip, serving parity
# ---------------------------------------------------------------------------------------------

FULL_PLAN = {
    "transforms": [
        {"kind": "date_parts", "column": "ts"},
        {"kind": "missing_indicator", "columns": ["income"]},
        {"kind": "impute", "columns": ["income"]},
        {"kind": "log1p", "columns": ["income", "amount"]},
        {"kind": "clip", "columns": ["balance"], "lower_quantile": 0.05, "upper_quantile": 0.95},
        {"kind": "ratio", "numerator": "amount", "denominator": "count", "name": "amount_per_count"},
        {"kind": "bucketize", "column": "age", "n_bins": 4},
        {"kind": "categorical", "columns": ["city"], "min_frequency": 10},
        {"kind": "target_encode", "column": "merchant", "smoothing": 5},
        {"kind": "drop", "columns": ["merchant"]},
    ],
    "exclude": ["batch"],
}


@pytest.fixture
def loans() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s"),
            "amount": rng.lognormal(3, 1, n),
            "income": rng.lognormal(10, 1, n),
            "balance": rng.normal(1000, 300, n),
            "count": rng.integers(0, 5, n),
            "age": pd.array(rng.integers(18, 90, n), dtype="Int64"),
            "city": rng.choice(["paris", "lyon", "nice", "lille", "metz", "tiny"], n, p=[0.4, 0.3, 0.1, 0.1, 0.09, 0.01]),
            "merchant": rng.choice([f"m{i}" for i in range(40)], n),
            "channel": rng.choice(["web", "app"], n),
            "member": rng.random(n) < 0.5,
            "batch": rng.integers(0, 3, n),
            "default": (rng.random(n) < 0.2).astype(int),
        }
    )
    frame.loc[rng.random(n) < 0.1, "income"] = NAN
    frame.loc[[3, 9], "age"] = pd.NA
    return frame


def fit_loans(loans: pd.DataFrame) -> tuple[FittedFeatures, np.ndarray]:
    return fit_features(
        loans, "default", "binary", FeaturePlan.model_validate(FULL_PLAN), drop_columns=["id", "ts"]
    )


def test_feature_matrix_columns_and_dtypes(loans: pd.DataFrame) -> None:
    fitted, matrix = fit_loans(loans)
    assert matrix.dtype == np.float64 and matrix.shape == (len(loans), len(fitted.feature_columns))
    assert {"id", "ts", "default", "batch", "merchant"}.isdisjoint(fitted.feature_columns)
    assert {"ts_weekday", "income_missing", "amount_per_count", "merchant_te"} <= set(fitted.feature_columns)
    assert sorted(fitted.categorical) == ["channel", "city"]  # channel: a string column, automatic
    assert fitted.categorical["city"] == ["lille", "lyon", "metz", "nice", "paris", OTHER]
    assert set(feature(fitted, matrix, "member")) == {0.0, 1.0}
    assert np.isnan(feature(fitted, matrix, "age")).sum() == 2  # nullable Int64 missing values become NaN
    # categoricals are codes into the fitted levels: "tiny" (rare) is "__other__"
    city = feature(fitted, matrix, "city")
    assert set(city[(loans["city"] == "tiny").to_numpy()]) == {fitted.categorical["city"].index(OTHER)}
    # the DataFrame adapter: category columns with the fitted levels, floats, the input's index
    frame = apply_features(loans, fitted)
    assert list(frame.columns) == fitted.feature_columns and frame.index.equals(loans.index)
    for column in frame.columns:
        expected = "category" if column in fitted.categorical else "float64"
        assert str(frame[column].dtype) == expected, column


def test_featurized_frame_reads_back_as_the_same_matrix(loans: pd.DataFrame, tmp_path: Path) -> None:
    """What train and evaluate read from the featurize stage's parquet is the matrix it wrote."""
    fitted, matrix = fit_loans(loans)
    path = tmp_path / "train.parquet"
    features_frame(matrix, fitted.feature_columns, fitted.categorical).to_parquet(path)
    again = featurized_matrix(pd.read_parquet(path), fitted.feature_columns, fitted.categorical)
    assert np.array_equal(again, matrix, equal_nan=True)


def test_json_round_trip_gives_identical_output(loans: pd.DataFrame) -> None:
    fitted, _ = fit_loans(loans)
    text = json.dumps(fitted.to_json(), allow_nan=False, sort_keys=True)
    reloaded = FittedFeatures.from_json(json.loads(text))
    assert reloaded == fitted
    new = loans.sample(frac=1.0, random_state=1)
    assert np.array_equal(model_matrix(new, reloaded), model_matrix(new, fitted), equal_nan=True)


def test_single_row_apply_equals_the_same_row_of_a_batch(loans: pd.DataFrame) -> None:
    fitted, _ = fit_loans(loans)
    request = loans.drop(columns=["default"])
    request.loc[5, "city"] = "never-seen"
    request.loc[6, "merchant"] = "never-seen"
    request.loc[7, "city"] = None
    batch = model_matrix(request, fitted)
    for row in [0, 3, 5, 6, 7, 9]:
        single = model_matrix(request.loc[[row]], fitted)
        assert np.array_equal(single, batch[[row]], equal_nan=True)
    frame = apply_features(request, fitted)
    assert frame.loc[5, "city"] == OTHER  # unseen level
    assert pd.isna(frame.loc[7, "city"])  # missing stays missing
    assert frame.loc[6, "merchant_te"] == pytest.approx(loans["default"].mean())  # unseen: the prior


def test_columns_as_lists_or_arrays_give_the_frames_matrix(loans: pd.DataFrame) -> None:
    fitted, _ = fit_loans(loans)
    request = loans.drop(columns=["default"]).iloc[:20].reset_index(drop=True)
    expected = model_matrix(request, fitted)
    as_arrays = {c: request[c].to_numpy() for c in request.columns}
    as_lists = {c: request[c].tolist() for c in request.columns}
    assert np.array_equal(model_matrix(as_arrays, fitted), expected, equal_nan=True)
    assert np.array_equal(model_matrix(as_lists, fitted), expected, equal_nan=True)
    with pytest.raises(ValueError, match="differ in length"):
        model_matrix({**as_arrays, "amount": as_arrays["amount"][:3]}, fitted)


def test_serving_request_with_strings_matches_typed_frame(loans: pd.DataFrame) -> None:
    # A JSON request arrives as objects: timestamps as ISO strings, numbers as Python floats.
    fitted, _ = fit_loans(loans)
    typed = loans.drop(columns=["default"]).iloc[:5]
    as_json = pd.DataFrame(json.loads(typed.to_json(orient="records", date_format="iso")))
    as_json = as_json.astype({"age": object}).reset_index(drop=True)
    # (to_json keeps 10 significant digits: equal up to that rounding)
    np.testing.assert_allclose(model_matrix(as_json, fitted), model_matrix(typed, fitted), rtol=1e-9)


def test_time_zone_aware_timestamps_give_wall_clock_parts() -> None:
    train = pd.DataFrame({"ts": pd.to_datetime(["2024-01-06 13:00", "2024-03-04 08:30"]), "y": [0, 1]})
    fitted, _ = fit_features(train, "y", "binary", plan_of({"kind": "date_parts", "column": "ts", "parts": ["hour", "weekday"]}))
    aware = pd.Series(pd.to_datetime(["2024-01-06 20:00"]).tz_localize("UTC").tz_convert("Asia/Kolkata"))  # Sun 01:30
    assert model_matrix({"ts": aware}, fitted).tolist() == [[1.0, 6.0]]
    assert model_matrix({"ts": ["2024-01-07T01:30:00+05:30"]}, fitted).tolist() == [[1.0, 6.0]]


@pytest.mark.parametrize(
    ("train_values", "served", "expected_codes"),
    [
        pytest.param([True, False] * 30, pd.array([True, None, False], dtype="boolean"), [1, NAN, 0], id="nullable-bool-matches-bool-levels"),
        pytest.param([True, False] * 30, [1, 0, None], [NAN, NAN, NAN], id="ints-are-not-bool-levels"),
        pytest.param([1, 2, 3] * 20, pd.array([1, None, 3], dtype="Int64"), [0, NAN, 2], id="nullable-int-matches-int-levels"),
        pytest.param([1, 2, 3] * 20, ["1", "2", None], [NAN, NAN, NAN], id="text-is-not-a-number-level"),
        pytest.param([1, 2, 3] * 20, [1.0, 2.0, NAN], [0, 1, NAN], id="floats-match-equal-int-levels"),
    ],
)
def test_which_served_values_match_which_levels(train_values: list, served: object, expected_codes: list) -> None:
    train = pd.DataFrame({"c": train_values, "y": np.arange(len(train_values)) % 2})
    fitted, _ = fit_features(train, "y", "binary", plan_of({"kind": "categorical", "columns": ["c"]}))
    got = model_matrix({"c": served}, fitted)[:, 0]
    np.testing.assert_array_equal(got, np.array(expected_codes, dtype=np.float64))


def test_apply_does_not_modify_the_input(loans: pd.DataFrame) -> None:
    fitted, _ = fit_loans(loans)
    before = loans.copy()
    model_matrix(loans, fitted)
    pd.testing.assert_frame_equal(loans, before)


def test_serving_request_missing_a_needed_column_names_it(loans: pd.DataFrame) -> None:
    fitted, _ = fit_loans(loans)
    with pytest.raises(KeyError, match=r"balance.*features\.transforms\[4\]\.columns\[0\]"):
        model_matrix(loans.drop(columns=["balance"]), fitted)
    with pytest.raises(KeyError, match="channel"):  # a feature no transform reads
        model_matrix(loans.drop(columns=["channel"]), fitted)
    # columns that are dropped or unused need not be sent
    model_matrix(loans.drop(columns=["id", "default", "batch", "merchant"]).assign(merchant="m1"), fitted)
    model_matrix(loans.drop(columns=["id", "default", "batch"]), fitted)


def test_transform_reading_the_target_is_refused(loans: pd.DataFrame) -> None:
    plan = plan_of({"kind": "log1p", "columns": ["default"]})
    with pytest.raises(ValueError, match=r"transforms\[0\]\.columns\[0\].*target"):
        fit_features(loans, "default", "binary", plan)


# ---------------------------------------------------------------------------------------------
# Target encoding
# ---------------------------------------------------------------------------------------------


def noise_frame(seed: int = 0, n: int = 5000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"noise": rng.integers(0, 1000, n).astype(str), "y": rng.integers(0, 2, n)}
    )


def test_target_encoding_on_train_is_out_of_fold_and_leaks_less() -> None:
    train = noise_frame()
    plan = plan_of({"kind": "target_encode", "column": "noise"}, exclude=["noise"])
    fitted, matrix = fit_features(train, "y", "binary", plan)
    in_sample = feature(fitted, model_matrix(train, fitted), "noise_te")
    out_of_fold = feature(fitted, matrix, "noise_te")
    assert not np.allclose(out_of_fold, in_sample)
    # a pure-noise level carries no signal: in-sample encoding invents some, out-of-fold does not
    assert np.corrcoef(in_sample, train["y"])[0, 1] > 0.3
    assert abs(np.corrcoef(out_of_fold, train["y"])[0, 1]) < 0.05


def test_target_encoding_is_seeded() -> None:
    train = noise_frame(n=500)
    plan = plan_of({"kind": "target_encode", "column": "noise", "seed": 3})
    first = fit_features(train, "y", "binary", plan)[1]
    again = fit_features(train, "y", "binary", plan)[1]
    other_seed = fit_features(train, "y", "binary", plan_of({"kind": "target_encode", "column": "noise", "seed": 4}))[1]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other_seed)


def test_target_encoding_smooths_toward_the_prior() -> None:
    train = pd.DataFrame({"g": ["a"] * 4 + ["b"] * 4, "y": [1.0, 1, 1, 1, 0, 0, 0, 0]})
    plan = plan_of({"kind": "target_encode", "column": "g", "smoothing": 4, "name": "g_rate"})
    fitted, _ = fit_features(train, "y", "regression", plan)
    served = apply_features(pd.DataFrame({"g": ["a", "b", "new", None]}), fitted)["g_rate"]
    # (sum + m * prior) / (count + m) with prior 0.5, m = 4
    assert served.tolist() == pytest.approx([0.75, 0.25, 0.5, 0.5])


def test_target_encoding_multiclass_gives_one_column_per_class() -> None:
    train = pd.DataFrame({"g": list("aabbcc") * 5, "label": list("xyxzzz") * 5})
    plan = plan_of({"kind": "target_encode", "column": "g"})
    fitted, _ = fit_features(train, "label", "multiclass", plan)
    columns = ["g_te_x", "g_te_y", "g_te_z"]
    assert [c for c in fitted.feature_columns if c.startswith("g_te")] == columns
    served = apply_features(pd.DataFrame({"g": ["a", "c"]}), fitted)[columns]
    np.testing.assert_allclose(served.sum(axis=1), 1.0)
    assert served.loc[1, "g_te_z"] > served.loc[0, "g_te_z"]


# ---------------------------------------------------------------------------------------------
# Serving equals training: the shipped credit plan, a model, a validated request
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def credit():
    """(fitted, booster, held-out rows) as the featurize and train stages make them."""
    from driftline.config.model import ModelSpec
    from driftline.data.generator import generate_loans
    from driftline.models.train import fit_model

    loans = generate_loans(rows=3000, seed=11)
    plan = FeaturePlan.model_validate(yaml.safe_load((ROOT / "conf/features/credit.yaml").read_text()))
    train, valid, test = loans.iloc[:2000], loans.iloc[2000:2500], loans.iloc[2500:].reset_index(drop=True)
    fitted, X_train = fit_features(train, "default", "binary", plan, drop_columns=["application_id", "applied_at"])
    spec = ModelSpec(num_boost_round=40, early_stopping_rounds=10, params={"num_threads": 1})
    result = fit_model(X_train, train["default"], model_matrix(valid, fitted), valid["default"], "binary", spec,
                       feature_names=fitted.feature_columns, categorical=list(fitted.categorical))
    return fitted, result.booster, test


def test_a_validated_request_gets_the_featurize_stages_matrix(credit) -> None:
    """Records as JSON carries them, through the endpoint's validation: the same numbers, row for row."""
    from driftline.config.groups import SchemaSpec
    from driftline.serve.bundle import request_schema
    from driftline.serve.validation import check_records

    fitted, _, test = credit
    schema = SchemaSpec.model_validate(yaml.safe_load((ROOT / "conf/schema/loans.yaml").read_text()))
    rs = request_schema(schema, target="default", label_column="default", id_column="application_id")
    rows = test.drop(columns=["default"]).head(200)
    records = json.loads(rows.to_json(orient="records", date_format="iso"))
    expected = model_matrix(rows, fitted)
    for chunk in (slice(0, 200), slice(0, 1), slice(7, 8)):
        frame, errors = check_records(records[chunk], rs)
        assert not errors
        assert np.array_equal(model_matrix(frame, fitted), expected[chunk], equal_nan=True)


def test_the_model_learns_categoricals_from_the_matrix_and_names_them(credit) -> None:
    from driftline.models.explain import reason_codes_matrix
    from driftline.models.train import feature_importance

    fitted, booster, test = credit
    assert booster.feature_name() == fitted.feature_columns
    positions = ",".join(map(str, fitted.categorical_positions))  # LightGBM was told which columns are categories
    assert positions and f"[categorical_feature: {positions}]" in booster.model_to_string()
    assert set(feature_importance(booster)["feature"]) == set(fitted.feature_columns)
    X = model_matrix(test, fitted)
    codes = reason_codes_matrix(booster, X, fitted.feature_columns, top=3, categorical=fitted.categorical_positions)
    named = [code for row in codes for code in row]
    assert named and {code["feature"] for code in named} <= set(fitted.feature_columns)
    for code in named:  # a category's reason shows its label, not its code
        if code["feature"] in fitted.categorical and code["value"] is not None:
            assert code["value"] in fitted.categorical[code["feature"]]
    assert any(code["feature"] in fitted.categorical for code in named)


# ---------------------------------------------------------------------------------------------
# Compile-time column check
# ---------------------------------------------------------------------------------------------

SCHEMA = {
    "id": "int",
    "ts": "datetime",
    "amount": "float",
    "count": "int",
    "city": "string",
    "member": "bool",
}


def test_check_columns_accepts_a_valid_plan() -> None:
    plan = plan_of(
        {"kind": "date_parts", "column": "ts"},
        {"kind": "ratio", "numerator": "amount", "denominator": "count", "name": "avg"},
        {"kind": "log1p", "columns": ["avg"]},  # a column made by an earlier transform
        {"kind": "log1p", "columns": ["ts_hour"]},
        {"kind": "categorical", "columns": ["city"]},
        {"kind": "target_encode", "column": "city"},
        {"kind": "drop", "columns": ["amount"]},
        exclude=["id"],
    )
    assert check_columns(plan, SCHEMA) == []


@pytest.mark.parametrize(
    ("transforms", "exclude", "expected_path", "message_part"),
    [
        pytest.param(
            [{"kind": "log1p", "columns": ["amount", "amout"]}],
            [],
            "features.transforms[0].columns[1]",
            "unknown column 'amout'",
            id="unknown-column",
        ),
        pytest.param(
            [{"kind": "log1p", "columns": ["ts_hour"]}, {"kind": "date_parts", "column": "ts"}],
            [],
            "features.transforms[0].columns[0]",
            "unknown column 'ts_hour'",
            id="column-made-by-a-later-transform",
        ),
        pytest.param(
            [{"kind": "drop", "columns": ["count"]}, {"kind": "impute", "columns": ["count"]}],
            [],
            "features.transforms[1].columns[0]",
            "dropped by features.transforms[0]",
            id="column-already-dropped",
        ),
        pytest.param(
            [{"kind": "date_parts", "column": "amount"}],
            [],
            "features.transforms[0].column",
            "'amount' is float",
            id="date_parts-on-float",
        ),
        pytest.param(
            [{"kind": "log1p", "columns": ["city"]}],
            [],
            "features.transforms[0].columns[0]",
            "'city' is string",
            id="log1p-on-string",
        ),
        pytest.param(
            [{"kind": "clip", "columns": ["ts"], "upper": 1}],
            [],
            "features.transforms[0].columns[0]",
            "'ts' is datetime",
            id="clip-on-datetime",
        ),
        pytest.param(
            [{"kind": "ratio", "numerator": "amount", "denominator": "city", "name": "r"}],
            [],
            "features.transforms[0].denominator",
            "'city' is string",
            id="ratio-on-string",
        ),
        pytest.param(
            [{"kind": "categorical", "columns": ["count"]}, {"kind": "log1p", "columns": ["count"]}],
            [],
            "features.transforms[1].columns[0]",
            "'count' is category",
            id="log1p-after-categorical",
        ),
        pytest.param(
            [{"kind": "impute", "columns": ["city"], "strategy": "median"}],
            [],
            "features.transforms[0].columns[0]",
            "'city' is string",
            id="median-of-string",
        ),
        pytest.param(
            [{"kind": "ratio", "numerator": "amount", "denominator": "count", "name": "city"}],
            [],
            "features.transforms[0].name",
            "overwrite existing column 'city'",
            id="new-column-overwrites",
        ),
        pytest.param([], ["user_id"], "features.exclude[0]", "unknown column 'user_id'", id="unknown-exclude"),
    ],
)
def test_check_columns_reports_problem_at_its_key_path(
    transforms: list[dict], exclude: list[str], expected_path: str, message_part: str
) -> None:
    problems = check_columns(plan_of(*transforms, exclude=exclude), SCHEMA)
    assert len(problems) == 1, problems
    path, message = problems[0]
    assert path == expected_path
    assert message_part in message


def test_check_columns_reports_every_problem_at_once() -> None:
    plan = plan_of(
        {"kind": "log1p", "columns": ["nope"]},
        {"kind": "date_parts", "column": "city"},
        exclude=["ghost"],
    )
    paths = [path for path, _ in check_columns(plan, SCHEMA)]
    assert paths == [
        "features.transforms[0].columns[0]",
        "features.transforms[1].column",
        "features.exclude[0]",
    ]
