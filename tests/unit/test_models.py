"""driftline.models: the model config schema, training, scoring, metrics, plots, reason codes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn import metrics as skm

from driftline.config.model import LightGBMParams, ModelSpec, lightgbm_param_aliases, lightgbm_params
from driftline.models.evaluate import compute_metrics, plot_tables
from driftline.models.explain import contributions, reason_codes
from driftline.models.train import (
    feature_importance,
    load_model,
    predict_scores,
    save_model,
    train_model,
    training_summary,
)

# ---------------------------------------------------------------- data


def make_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "driver": rng.normal(size=n),
            "helper": rng.normal(size=n),
            "noise": rng.normal(size=n),
            "segment": pd.Categorical(rng.choice(["a", "b", "c"], size=n)),
        }
    )


def binary_target(X: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logit = 2.5 * X["driver"] + 0.7 * X["helper"] + (X["segment"] == "c").to_numpy() * 0.8
    return (rng.random(len(X)) < 1 / (1 + np.exp(-logit))).astype(int)


def split(X: pd.DataFrame, y: np.ndarray, at: int) -> tuple:
    return X.iloc[:at], y[:at], X.iloc[at:].reset_index(drop=True), y[at:]


FAST = ModelSpec(
    params={"num_leaves": 7, "learning_rate": 0.1, "min_data_in_leaf": 10},
    num_boost_round=60,
    early_stopping_rounds=10,
)


@pytest.fixture(scope="module")
def binary_data() -> dict:
    X = make_frame(600, seed=1)
    y = binary_target(X, seed=2)
    X_train, y_train, X_rest, y_rest = split(X, y, 300)
    return {
        "X_train": X_train,
        "y_train": y_train,
        "X_valid": X_rest.iloc[:150],
        "y_valid": y_rest[:150],
        "X_test": X_rest.iloc[150:].reset_index(drop=True),
        "y_test": y_rest[150:],
    }


@pytest.fixture(scope="module")
def binary_result(binary_data: dict):
    d = binary_data
    return train_model(d["X_train"], d["y_train"], d["X_valid"], d["y_valid"], "binary", FAST)


# ---------------------------------------------------------------- spec


def test_misspelt_param_is_rejected_with_a_suggestion() -> None:
    suggestion = r"unknown LightGBM parameter 'num_leafs' \(did you mean 'num_leaves'\?\)"
    with pytest.raises(ValidationError, match=suggestion):
        LightGBMParams.model_validate({"num_leafs": 31})


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("objective", "from the task"),
        ("metric", "from the task"),
        ("num_class", "num_class"),
        ("num_iterations", "model.num_boost_round"),
        ("n_estimators", "model.num_boost_round"),
        ("num_boost_round", "model.num_boost_round"),
        ("early_stopping_round", "model.early_stopping_rounds"),
        ("early_stopping_rounds", "model.early_stopping_rounds"),
        ("categorical_feature", "category"),
        ("output_model", "command-line"),
    ],
    ids=lambda v: str(v),
)
def test_params_driftline_sets_itself_are_rejected(key: str, hint: str) -> None:
    with pytest.raises(ValidationError, match=rf"'{key}'.*not allowed here: .*{hint}"):
        LightGBMParams.model_validate({key: 1})


def test_every_bad_key_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        LightGBMParams.model_validate({"objective": "binary", "num_leafs": 3, "zzz_qqq": 1})
    text = str(info.value)
    assert "'objective'" in text and "'num_leafs'" in text and "unknown LightGBM parameter 'zzz_qqq'" in text


def test_alias_is_accepted_renamed_and_range_checked() -> None:
    params = LightGBMParams.model_validate(
        {"min_child_samples": 5, "colsample_bytree": 0.5, "max_bin_by_feature": [8, 9]}
    )
    assert params.min_data_in_leaf == 5
    assert params.to_lightgbm() == {
        "min_data_in_leaf": 5,
        "feature_fraction": 0.5,
        "max_bin_by_feature": [8, 9],
        "verbosity": -1,
    }
    with pytest.raises(ValidationError, match="min_data_in_leaf' must be >= 0"):
        LightGBMParams.model_validate({"min_child_samples": -1})
    with pytest.raises(ValidationError, match="given twice"):
        LightGBMParams.model_validate({"min_child_samples": 5, "min_data_in_leaf": 6})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"num_leaves": 1}, "must be > 1 and <= 131072"),
        ({"learning_rate": 0}, "must be > 0"),
        ({"feature_fraction": 1.5}, "must be > 0 and <= 1"),
        ({"bagging_fraction": 0.8}, "bagging_freq"),
        ({"is_unbalance": True, "scale_pos_weight": 3}, "not both"),
    ],
    ids=["num_leaves", "learning_rate", "feature_fraction", "bagging_without_freq", "unbalance_twice"],
)
def test_out_of_range_params_are_rejected(params: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LightGBMParams.model_validate(params)


def test_model_spec_forbids_unknown_keys_and_defaults_params() -> None:
    assert ModelSpec().params.to_lightgbm() == {"verbosity": -1}
    with pytest.raises(ValidationError, match="extra"):
        ModelSpec.model_validate({"num_boost_rounds": 10})


@pytest.mark.parametrize(
    ("task", "num_class", "objective", "metric"),
    [
        ("binary", None, "binary", ["auc", "binary_logloss"]),
        ("regression", None, "regression", ["rmse", "l1"]),
        ("multiclass", 4, "multiclass", ["multi_logloss", "multi_error"]),
    ],
    ids=["binary", "regression", "multiclass"],
)
def test_lightgbm_params_set_objective_and_metrics_from_task(task, num_class, objective, metric) -> None:
    params = lightgbm_params(ModelSpec(params={"num_leaves": 15}), task, num_class)
    assert params["objective"] == objective
    assert params["metric"] == metric
    assert params["num_leaves"] == 15
    assert params["deterministic"] is True and params["seed"] == 0 and params["verbosity"] == -1
    assert params["num_threads"] == 0
    assert ("num_class" in params) == (task == "multiclass")
    assert "learning_rate" not in params  # unset means LightGBM's default


def test_lightgbm_params_keep_user_seed_and_threads_and_check_num_class() -> None:
    params = lightgbm_params(ModelSpec(params={"seed": 7, "nthread": 2}), "binary", None)
    assert params["seed"] == 7 and params["num_threads"] == 2
    with pytest.raises(ValueError, match="num_class"):
        lightgbm_params(ModelSpec(), "multiclass", None)
    with pytest.raises(ValueError, match="unknown task"):
        lightgbm_params(ModelSpec(), "ranking", None)


def test_spec_does_not_import_lightgbm() -> None:
    code = (
        "import sys, driftline.config.model as s; "
        "s.lightgbm_params(s.ModelSpec(params={'min_child_samples': 3}), 'binary', None); "
        "assert 'lightgbm' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shipped_param_names_match_installed_lightgbm() -> None:
    from lightgbm.basic import _ConfigAliases

    installed = _ConfigAliases._get_all_param_aliases()
    shipped = lightgbm_param_aliases()
    assert {k: sorted(v) for k, v in installed.items()} == {k: sorted(v) for k, v in shipped.items()}, (
        "LightGBM changed its parameters: regenerate with `python -m driftline.config.model`"
    )


# ---------------------------------------------------------------- training


def test_binary_model_learns_a_learnable_problem(binary_data: dict, binary_result) -> None:
    scores = predict_scores(binary_result.booster, binary_data["X_test"], "binary")
    assert scores.shape == (len(binary_data["X_test"]),)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert skm.roc_auc_score(binary_data["y_test"], scores) > 0.8


def test_early_stopping_stops_on_a_noise_target() -> None:
    X = make_frame(400, seed=3)
    y = np.random.default_rng(4).integers(0, 2, size=400)
    spec = ModelSpec(
        params={"num_leaves": 15, "min_data_in_leaf": 5}, num_boost_round=300, early_stopping_rounds=10
    )
    result = train_model(X.iloc[:250], y[:250], X.iloc[250:], y[250:], "binary", spec)
    assert len(result.curves) < 300
    assert result.best_iteration == len(result.curves) - 10
    # The booster keeps only the trees up to the best iteration.
    assert result.booster.current_iteration() == result.best_iteration


def test_curves_have_one_row_per_iteration_with_valid_metrics_and_train_metrics_once(binary_result) -> None:
    curves = binary_result.curves
    assert list(curves.columns) == ["iteration", "valid_auc", "valid_binary_logloss"]
    assert curves["iteration"].tolist() == list(range(1, len(curves) + 1))
    assert binary_result.best_iteration <= len(curves) <= FAST.num_boost_round
    assert curves["valid_auc"].notna().all()
    assert binary_result.train_curve == "none"
    assert set(binary_result.train_metrics) == {"auc", "binary_logloss"}


@pytest.mark.parametrize("curve", ["sample", "full"])
def test_the_train_curve_changes_no_tree_and_its_metrics_at_the_best_iteration(binary_data: dict, binary_result, curve: str) -> None:
    d = binary_data
    spec = FAST.model_copy(update={"train_curve": curve, "train_curve_rows": 200})
    drawn = train_model(d["X_train"], d["y_train"], d["X_valid"], d["y_valid"], "binary", spec)
    name = {"sample": "train_sample", "full": "train"}[curve]
    assert list(drawn.curves.columns) == ["iteration", f"{name}_auc", f"{name}_binary_logloss", "valid_auc", "valid_binary_logloss"]
    assert drawn.curves[f"{name}_binary_logloss"].iloc[-1] < drawn.curves[f"{name}_binary_logloss"].iloc[0]
    # the same trees, byte for byte, and the same early stop: a curve is only looked at
    assert drawn.best_iteration == binary_result.best_iteration and len(drawn.curves) == len(binary_result.curves)
    assert drawn.booster.model_to_string() == binary_result.booster.model_to_string()
    # the train split's metrics, evaluated once at the best iteration, are what the full curve shows there
    assert drawn.train_metrics == binary_result.train_metrics
    if curve == "full":
        at_best = drawn.curves.iloc[drawn.best_iteration - 1]
        assert drawn.train_metrics == {"auc": at_best["train_auc"], "binary_logloss": at_best["train_binary_logloss"]}
    summary = training_summary(drawn, train_rows=1, valid_rows=1, features=1, seconds=0.0)
    assert summary["train_curve"] == curve and summary["train"]["auc"] == round(binary_result.train_metrics["auc"], 6)


def test_saved_model_is_text_and_round_trips_exactly(tmp_path, binary_data: dict, binary_result) -> None:
    path = tmp_path / "model" / "model.txt"
    save_model(binary_result.booster, path)
    assert path.read_text(encoding="utf-8").startswith("tree")
    loaded = load_model(path)
    assert loaded.current_iteration() == binary_result.best_iteration
    X = binary_data["X_test"]
    np.testing.assert_array_equal(
        predict_scores(loaded, X, "binary"), predict_scores(binary_result.booster, X, "binary")
    )


def test_training_is_deterministic(binary_data: dict, binary_result) -> None:
    d = binary_data
    again = train_model(d["X_train"], d["y_train"], d["X_valid"], d["y_valid"], "binary", FAST)
    assert again.booster.model_to_string() == binary_result.booster.model_to_string()


def test_scoring_uses_training_columns_and_category_levels(binary_data: dict, binary_result) -> None:
    X = binary_data["X_test"]
    expected = predict_scores(binary_result.booster, X, "binary")
    # Columns shuffled and an extra one added; categories listed in another order.
    shuffled = X[["segment", "noise", "driver", "helper"]].assign(extra=1.0)
    shuffled["segment"] = shuffled["segment"].cat.reorder_categories(["c", "b", "a"])
    np.testing.assert_array_equal(predict_scores(binary_result.booster, shuffled, "binary"), expected)
    with pytest.raises(ValueError, match="missing"):
        predict_scores(binary_result.booster, X.drop(columns="driver"), "binary")


def test_categorical_columns_are_categorical_features(binary_data: dict, binary_result) -> None:
    assert "[categorical_feature: 3]" in binary_result.booster.model_to_string()  # "segment"
    # Integer codes become categorical when named explicitly.
    d = binary_data
    X_train, X_valid = (d[k].assign(segment=d[k]["segment"].cat.codes) for k in ("X_train", "X_valid"))
    args = (X_train, d["y_train"], X_valid, d["y_valid"], "binary", FAST)
    result = train_model(*args, categorical=["segment"])
    assert "[categorical_feature: 3]" in result.booster.model_to_string()
    with pytest.raises(ValueError, match="not in the training data"):
        train_model(*args, categorical=["nope"])


def test_feature_importance_ranks_the_driver_first(binary_result) -> None:
    table = feature_importance(binary_result.booster)
    assert list(table.columns) == ["feature", "gain", "split"]
    assert table["feature"].iloc[0] == "driver"
    assert table["gain"].is_monotonic_decreasing
    assert sorted(table["feature"]) == ["driver", "helper", "noise", "segment"]


def test_regression_path() -> None:
    X = make_frame(500, seed=5)
    y = 3 * X["driver"].to_numpy() + np.random.default_rng(6).normal(scale=0.3, size=500)
    result = train_model(X.iloc[:300], y[:300], X.iloc[300:400], y[300:400], "regression", FAST)
    assert [c for c in result.curves.columns if c.startswith("valid_")] == ["valid_rmse", "valid_l1"]
    scores = predict_scores(result.booster, X.iloc[400:], "regression")
    assert scores.shape == (100,)
    metrics = compute_metrics(y[400:], scores, "regression")
    assert metrics["r2"] > 0.8


def test_multiclass_path() -> None:
    X = make_frame(600, seed=7)
    y = np.digitize(X["driver"].to_numpy(), [-0.5, 0.5])  # classes 0, 1, 2
    result = train_model(X.iloc[:300], y[:300], X.iloc[300:450], y[300:450], "multiclass", FAST)
    assert "valid_multi_logloss" in result.curves.columns
    scores = predict_scores(result.booster, X.iloc[450:], "multiclass")
    assert scores.shape == (150, 3)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0)
    assert compute_metrics(y[450:], scores, "multiclass")["accuracy"] > 0.8


def test_bad_labels_are_rejected(binary_data: dict) -> None:
    d = binary_data
    with pytest.raises(ValueError, match="0/1"):
        train_model(d["X_train"], d["y_train"] + 1, d["X_valid"], d["y_valid"], "binary", FAST)


# ---------------------------------------------------------------- metrics


@pytest.fixture(scope="module")
def scored() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, size=400)
    scores = np.clip(0.35 * y + rng.random(400) * 0.65, 0, 1)
    return y, scores


def test_binary_metrics_match_sklearn(scored) -> None:
    y, s = scored
    m = compute_metrics(y, s, "binary", threshold=0.4)
    predicted = (s >= 0.4).astype(int)
    expected = {
        "roc_auc": skm.roc_auc_score(y, s),
        "average_precision": skm.average_precision_score(y, s),
        "log_loss": skm.log_loss(y, s),
        "brier": skm.brier_score_loss(y, s),
        "accuracy": skm.accuracy_score(y, predicted),
        "precision": skm.precision_score(y, predicted),
        "recall": skm.recall_score(y, predicted),
        "f1": skm.f1_score(y, predicted),
        "positive_rate": predicted.mean(),
        "prevalence": y.mean(),
    }
    for name, value in expected.items():
        assert m[name] == pytest.approx(value, abs=1e-6), name
    assert m["n"] == 400 and isinstance(m["n"], int)
    assert all(type(v) in (float, int) for v in m.values())


def test_single_class_omits_undefined_metrics_and_stays_json_safe() -> None:
    m = compute_metrics(np.zeros(20, dtype=int), np.linspace(0.1, 0.3, 20), "binary")
    assert "roc_auc" not in m and "average_precision" not in m
    assert "recall" not in m  # no positives at all
    assert "precision" not in m  # nothing predicted positive at 0.5
    assert m["accuracy"] == 1.0 and "log_loss" in m
    json.dumps(m, allow_nan=False)


def test_regression_metrics_match_sklearn_and_skip_zero_targets_for_mape() -> None:
    y = np.array([0.0, 1.0, 2.0, 4.0, -3.0])
    s = np.array([0.5, 1.5, 1.0, 4.0, -2.0])
    m = compute_metrics(y, s, "regression")
    assert m["rmse"] == pytest.approx(skm.root_mean_squared_error(y, s), abs=1e-6)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, s), abs=1e-6)
    assert m["r2"] == pytest.approx(skm.r2_score(y, s), abs=1e-6)
    nonzero = y != 0
    assert m["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y[nonzero], s[nonzero]), abs=1e-6)
    constant = compute_metrics(np.ones(5), s, "regression")
    assert "r2" not in constant
    json.dumps(constant, allow_nan=False)


def test_multiclass_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(9)
    raw = rng.random((200, 4))
    probs = raw / raw.sum(axis=1, keepdims=True)
    y = rng.integers(0, 3, size=200)  # class 3 never occurs
    m = compute_metrics(y, probs, "multiclass")
    predicted = probs.argmax(axis=1)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, probs, labels=[0, 1, 2, 3]), abs=1e-6)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted), abs=1e-6)
    labels = sorted(set(y) | set(predicted))
    assert m["macro_f1"] == pytest.approx(
        skm.f1_score(y, predicted, average="macro", labels=labels, zero_division=0), abs=1e-6
    )


# ---------------------------------------------------------------- plots


def test_binary_plot_tables_are_capped_and_monotone() -> None:
    rng = np.random.default_rng(10)
    y = rng.integers(0, 2, size=5000)
    s = np.clip(0.3 * y + rng.random(5000) * 0.7, 0, 1)
    tables = plot_tables(y, s, "binary", max_points=50)
    roc = tables["roc"]
    assert list(roc.columns) == ["fpr", "tpr", "threshold"]
    assert 2 <= len(roc) <= 50
    assert roc["fpr"].is_monotonic_increasing and roc["tpr"].is_monotonic_increasing
    assert roc.iloc[0][["fpr", "tpr"]].tolist() == [0.0, 0.0]
    assert roc.iloc[-1][["fpr", "tpr"]].tolist() == [1.0, 1.0]
    assert np.isfinite(roc["threshold"]).all()
    pr = tables["precision_recall"]
    assert list(pr.columns) == ["recall", "precision", "threshold"] and len(pr) <= 50
    assert pr["recall"].is_monotonic_increasing and pr["recall"].iloc[-1] == 1.0
    cal = tables["calibration"]
    assert list(cal.columns) == ["mean_predicted", "fraction_positive", "count"]
    assert len(cal) == 10 and cal["count"].sum() == 5000
    assert cal["mean_predicted"].is_monotonic_increasing
    # Same input, same tables.
    again = plot_tables(y, s, "binary", max_points=50)
    for name, table in tables.items():
        pd.testing.assert_frame_equal(table, again[name])


def test_single_class_binary_curves_are_empty_tables_with_their_headers() -> None:
    """The evaluate stage writes every plot file the task declares: undefined curves as headers only."""
    tables = plot_tables(np.ones(30, dtype=int), np.linspace(0.2, 0.9, 30), "binary")
    assert set(tables) == {"roc", "precision_recall", "calibration"}
    assert tables["roc"].empty and list(tables["roc"].columns) == ["fpr", "tpr", "threshold"]
    assert tables["precision_recall"].empty and list(tables["precision_recall"].columns) == ["recall", "precision", "threshold"]
    assert tables["calibration"]["count"].sum() == 30


def test_regression_and_multiclass_plot_tables() -> None:
    rng = np.random.default_rng(11)
    y = rng.normal(size=2000)
    s = y + rng.normal(scale=0.1, size=2000)
    tables = plot_tables(y, s, "regression", max_points=100)
    assert list(tables["residuals"].columns) == ["predicted", "residual"]
    assert list(tables["predicted_vs_actual"].columns) == ["actual", "predicted"]
    assert all(len(t) <= 100 for t in tables.values())
    assert tables["predicted_vs_actual"]["actual"].iloc[0] == pytest.approx(y.min(), abs=1e-6)
    assert tables["predicted_vs_actual"]["actual"].iloc[-1] == pytest.approx(y.max(), abs=1e-6)

    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    confusion = plot_tables(np.array([0, 2, 2]), probs, "multiclass")["confusion"]
    assert confusion.to_dict("list") == {"actual": [0, 2, 2], "predicted": [0, 1, 2]}


# ---------------------------------------------------------------- reason codes


def test_contributions_plus_bias_sum_to_the_raw_score(binary_data: dict, binary_result) -> None:
    X = binary_data["X_test"]
    contrib = contributions(binary_result.booster, X)
    assert contrib.shape == (len(X), 5)
    raw = binary_result.booster.predict(X, raw_score=True)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, rtol=1e-9, atol=1e-9)


def test_reason_codes_put_the_driving_feature_first(binary_data: dict, binary_result) -> None:
    X = binary_data["X_test"]
    codes = reason_codes(binary_result.booster, X, top=2)
    assert len(codes) == len(X)
    contrib = contributions(binary_result.booster, X)
    high = int(np.argmax(X["driver"].to_numpy()))
    assert codes[high][0]["feature"] == "driver"
    assert codes[high][0]["value"] == pytest.approx(X["driver"].iloc[high])
    for row, row_codes in enumerate(codes):
        assert len(row_codes) <= 2
        pushes = [c["contribution"] for c in row_codes]
        assert pushes == sorted(pushes, reverse=True) and all(p > 0 for p in pushes)
        if row_codes:
            assert pushes[0] == pytest.approx(contrib[row, :-1].max())
    json.dumps(codes, allow_nan=False)


def test_reason_codes_for_decrease_and_missing_values(binary_data: dict, binary_result) -> None:
    X = binary_data["X_test"].copy()
    X.loc[0, "helper"] = np.nan
    low = int(np.argmin(X["driver"].to_numpy()))
    codes = reason_codes(binary_result.booster, X, top=4, direction="decrease")
    assert codes[low][0]["feature"] == "driver" and codes[low][0]["contribution"] < 0
    values = {c["feature"]: c["value"] for row in codes for c in row}
    assert all(v is None or isinstance(v, (str, float, int)) for v in values.values())
    segment_values = {c["value"] for row in codes for c in row if c["feature"] == "segment"}
    assert segment_values <= {"a", "b", "c"}
    json.dumps(codes, allow_nan=False)
    with pytest.raises(ValueError, match="direction"):
        reason_codes(binary_result.booster, X, direction="up")
