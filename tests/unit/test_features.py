"""driftline.features: each transform's output, fit-on-train-only, serving parity, compile checks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter, ValidationError

from driftline.features.pipeline import (
    TRANSFORM_SPECS,
    FeaturePlan,
    FittedFeatures,
    TransformSpec,
    apply_features,
    check_columns,
    fit_features,
)
from driftline.features.transforms import OTHER, TRANSFORMS, FitContext

NAN = np.nan
SPEC = TypeAdapter(TransformSpec)


def run(config: dict, train: pd.DataFrame, apply_to: pd.DataFrame | None = None) -> pd.DataFrame:
    """Fit one transform on `train` and apply it to `apply_to` (default: `train`)."""
    spec = SPEC.validate_python(config)
    transform = TRANSFORMS[spec.kind]
    ctx = FitContext(target=pd.Series(np.zeros(len(train)), name="y"), task="regression")
    state = transform.fit(train, spec, ctx)
    return transform.apply(train if apply_to is None else apply_to, spec, state)


def plan_of(*transforms: dict, exclude: list[str] | None = None) -> FeaturePlan:
    return FeaturePlan.model_validate({"transforms": list(transforms), "exclude": exclude or []})


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
    train = pd.DataFrame({"a": [0.0] * 90 + list(range(1, 11))})
    spec = SPEC.validate_python({"kind": "bucketize", "column": "a", "n_bins": 4})
    state = TRANSFORMS["bucketize"].fit(train, spec, FitContext(pd.Series([0.0] * 100), "regression"))
    assert state == {"edges": [0.0]}  # three quartiles, all zero, collapse into one edge
    out = TRANSFORMS["bucketize"].apply(pd.DataFrame({"a": [-1.0, 0.0, 5.0]}), spec, state)
    assert_values(out["a"], [0, 1, 1])


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
    request = pd.DataFrame({"s": ["c"]})
    codes = apply_features(request, first)["s"].cat.codes
    assert codes.tolist() == apply_features(request, second)["s"].cat.codes.tolist() == [2]


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
        assert matrix["s"].cat.codes.tolist() == [2, 0, 1, 2, 0, 1]
        assert apply_features(request, fitted)["s"].cat.codes.tolist() == [0, 2]


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


def fit_loans(loans: pd.DataFrame) -> tuple[FittedFeatures, pd.DataFrame]:
    return fit_features(
        loans, "default", "binary", FeaturePlan.model_validate(FULL_PLAN), drop_columns=["id", "ts"]
    )


def test_feature_matrix_columns_and_dtypes(loans: pd.DataFrame) -> None:
    fitted, matrix = fit_loans(loans)
    assert list(matrix.columns) == fitted.feature_columns
    assert {"id", "ts", "default", "batch", "merchant"}.isdisjoint(fitted.feature_columns)
    assert {"ts_weekday", "income_missing", "amount_per_count", "merchant_te"} <= set(matrix.columns)
    assert sorted(fitted.categorical) == ["channel", "city"]  # channel: a string column, automatic
    assert fitted.categorical["city"] == ["lille", "lyon", "metz", "nice", "paris", OTHER]
    for column in matrix.columns:
        expected = "category" if column in fitted.categorical else "float64"
        assert str(matrix[column].dtype) == expected, column
    assert set(matrix["member"].unique()) == {0.0, 1.0}
    assert matrix["age"].isna().sum() == 2  # nullable Int64 missing values become NaN
    assert matrix.index.equals(loans.index)


def test_json_round_trip_gives_identical_output(loans: pd.DataFrame) -> None:
    fitted, _ = fit_loans(loans)
    text = json.dumps(fitted.to_json(), allow_nan=False, sort_keys=True)
    reloaded = FittedFeatures.from_json(json.loads(text))
    assert reloaded == fitted
    new = loans.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(apply_features(new, reloaded), apply_features(new, fitted))


def test_single_row_apply_equals_the_same_row_of_a_batch(loans: pd.DataFrame) -> None:
    fitted, _ = fit_loans(loans)
    request = loans.drop(columns=["default"])
    request.loc[5, "city"] = "never-seen"
    request.loc[6, "merchant"] = "never-seen"
    batch = apply_features(request, fitted)
    for row in [0, 3, 5, 6, 9]:
        single = apply_features(request.loc[[row]], fitted)
        pd.testing.assert_frame_equal(single, batch.loc[[row]])
    assert batch.loc[5, "city"] == OTHER
    assert batch.loc[6, "merchant_te"] == pytest.approx(loans["default"].mean())


def test_serving_request_with_strings_matches_typed_frame(loans: pd.DataFrame) -> None:
    # A JSON request arrives as objects: timestamps as ISO strings, numbers as Python floats.
    fitted, _ = fit_loans(loans)
    typed = loans.drop(columns=["default"]).iloc[:5]
    as_json = pd.DataFrame(json.loads(typed.to_json(orient="records", date_format="iso")))
    as_json = as_json.astype({"age": object}).reset_index(drop=True)
    expected = apply_features(typed, fitted).reset_index(drop=True)
    pd.testing.assert_frame_equal(apply_features(as_json, fitted), expected)


def test_apply_does_not_modify_the_input(loans: pd.DataFrame) -> None:
    fitted, _ = fit_loans(loans)
    before = loans.copy()
    apply_features(loans, fitted)
    pd.testing.assert_frame_equal(loans, before)


def test_serving_request_missing_a_needed_column_names_it(loans: pd.DataFrame) -> None:
    fitted, _ = fit_loans(loans)
    with pytest.raises(KeyError, match="balance"):
        apply_features(loans.drop(columns=["balance"]), fitted)
    # columns that are dropped or unused need not be sent
    apply_features(loans.drop(columns=["id", "default", "batch"]), fitted)


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
    in_sample = apply_features(train, fitted)["noise_te"]
    out_of_fold = matrix["noise_te"]
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
    pd.testing.assert_frame_equal(first, again)
    assert not first["noise_te"].equals(other_seed["noise_te"])


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
    fitted, matrix = fit_features(train, "label", "multiclass", plan)
    columns = ["g_te_x", "g_te_y", "g_te_z"]
    assert [c for c in fitted.feature_columns if c.startswith("g_te")] == columns
    served = apply_features(pd.DataFrame({"g": ["a", "c"]}), fitted)[columns]
    np.testing.assert_allclose(served.sum(axis=1), 1.0)
    assert served.loc[1, "g_te_z"] > served.loc[0, "g_te_z"]


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
