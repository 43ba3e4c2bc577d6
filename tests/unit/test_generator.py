"""The demo loan generator: reproducible, realistic enough to model, and drifting as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftline.data.generator import (
    CATEGORY_LEVELS,
    DRIFT_KINDS,
    LOAN_COLUMNS,
    generate_loans,
)

ROWS = 40_000
COVARIATE_DRIFTED = ["income", "credit_score", "employment", "region", "loan_amount"]
COVARIATE_UNDRIFTED = [
    "application_id",
    "applied_at",
    "age",
    "home_ownership",
    "purpose",
    "term_months",
    "open_accounts",
    "delinquencies_2y",
]
FEATURES = [c for c in LOAN_COLUMNS if c != "default"]


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    return generate_loans(ROWS, seed=11)


@pytest.fixture(scope="module")
def covariate() -> pd.DataFrame:
    return generate_loans(ROWS, seed=11, drift="covariate")


@pytest.fixture(scope="module")
def concept() -> pd.DataFrame:
    return generate_loans(ROWS, seed=11, drift="concept")


def _codes(df: pd.DataFrame) -> pd.DataFrame:
    """Categories as codes: pandas compares categorical columns element by element (slow)."""
    return df.apply(lambda s: s.cat.codes if isinstance(s.dtype, pd.CategoricalDtype) else s)


def test_same_arguments_give_identical_frames() -> None:
    pd.testing.assert_frame_equal(generate_loans(3_000, seed=5), generate_loans(3_000, seed=5))


def test_different_seed_gives_different_rows() -> None:
    a, b = generate_loans(3_000, seed=5), generate_loans(3_000, seed=6)
    assert not np.array_equal(a["loan_amount"], b["loan_amount"])


def test_later_batch_has_new_ids_and_rows() -> None:
    first, second = generate_loans(3_000, batch=0), generate_loans(3_000, batch=1)
    assert set(first["application_id"]).isdisjoint(second["application_id"])
    assert second["application_id"].str.startswith("A001-").all()
    assert not np.array_equal(first["loan_amount"], second["loan_amount"])
    assert not first["applied_at"].equals(second["applied_at"])


def test_columns_dtypes_and_fixed_category_levels() -> None:
    tiny = generate_loans(3)
    assert list(tiny.columns) == list(LOAN_COLUMNS)
    assert tiny["application_id"].dtype == pd.Series(["x"]).dtype
    assert tiny["applied_at"].dtype == "datetime64[ns]"
    assert tiny["credit_score"].dtype == "Int64"
    for column, kind in LOAN_COLUMNS.items():
        if kind == "category":
            assert list(tiny[column].cat.categories) == list(CATEGORY_LEVELS[column])
        elif kind in ("int", "binary") and column != "credit_score":
            assert tiny[column].dtype == "int64", column
        elif kind == "float":
            assert tiny[column].dtype == "float64", column


def test_values_stay_in_their_documented_ranges(loans: pd.DataFrame) -> None:
    assert loans["application_id"].is_unique
    assert loans["age"].between(18, 80).all()
    assert loans["credit_score"].dropna().between(300, 850).all()
    assert set(loans["term_months"]) == {36, 60}
    assert (loans["loan_amount"] > 0).all()
    assert (loans["income"].dropna() > 0).all()
    assert (loans["debt_to_income"] >= 0).all()
    assert (loans[["open_accounts", "delinquencies_2y"]] >= 0).all().all()
    assert set(loans["default"]) == {0, 1}
    assert loans["applied_at"].min() >= pd.Timestamp("2024-01-01")
    assert loans["applied_at"].max() < pd.Timestamp("2025-12-31")
    assert loans["applied_at"].is_monotonic_increasing


def test_missing_values_only_in_income_and_credit_score(loans: pd.DataFrame) -> None:
    missing = loans.isna().mean()
    assert 0.065 < missing["income"] < 0.095
    assert 0.02 < missing["credit_score"] < 0.04
    assert missing.drop(["income", "credit_score"]).eq(0).all()


def test_default_rate_is_realistic(loans: pd.DataFrame) -> None:
    assert 0.10 <= loans["default"].mean() <= 0.15


def test_fewer_applications_at_weekends_and_at_night(loans: pd.DataFrame) -> None:
    stamps = loans["applied_at"].dt
    assert (stamps.day_of_week >= 5).mean() < 2 / 7 - 0.05
    assert stamps.hour.between(0, 5).mean() < 0.5 * 6 / 24


def test_default_depends_on_credit_score(loans: pd.DataFrame) -> None:
    decile = pd.qcut(loans["credit_score"].astype("float64"), 10, labels=False)
    rate = loans.groupby(decile)["default"].mean()
    assert rate[0] > 2 * rate[9]


def test_interest_rate_is_priced_from_risk(loans: pd.DataFrame) -> None:
    assert (loans["interest_rate"] > 0).all()
    assert loans["interest_rate"].corr(loans["credit_score"].astype("float64")) < -0.5
    by_term = loans.groupby("term_months")["interest_rate"].mean()
    assert by_term[60] > by_term[36]


def test_covariate_drift_moves_documented_columns(
    loans: pd.DataFrame, covariate: pd.DataFrame
) -> None:
    assert loans["credit_score"].mean() - covariate["credit_score"].mean() > 20
    assert covariate["income"].mean() < 0.85 * loans["income"].mean()
    assert covariate["loan_amount"].mean() > 1.05 * loans["loan_amount"].mean()
    def share(df: pd.DataFrame, column: str, level: str) -> float:
        return float((df[column] == level).mean())

    unemployed = [share(df, "employment", "unemployed") for df in (loans, covariate)]
    north = [share(df, "region", "north") for df in (loans, covariate)]
    assert unemployed[1] > 1.5 * unemployed[0]
    assert north[1] < 0.75 * north[0]
    for column in COVARIATE_DRIFTED:
        assert not covariate[column].equals(loans[column]), column


def test_covariate_drift_leaves_undrifted_columns_identical(
    loans: pd.DataFrame, covariate: pd.DataFrame
) -> None:
    pd.testing.assert_frame_equal(
        _codes(covariate[COVARIATE_UNDRIFTED]), _codes(loans[COVARIATE_UNDRIFTED])
    )
    pd.testing.assert_series_equal(covariate["income"].isna(), loans["income"].isna())


def test_covariate_drift_grows_with_strength(loans: pd.DataFrame) -> None:
    shifts = [
        loans["credit_score"].mean()
        - generate_loans(ROWS, seed=11, drift="covariate", strength=s)["credit_score"].mean()
        for s in (0.5, 1.0, 2.0)
    ]
    assert 0 < shifts[0] < shifts[1] < shifts[2]
    pd.testing.assert_frame_equal(
        generate_loans(2_000, drift="covariate", strength=0.0), generate_loans(2_000)
    )


def _risk_features(df: pd.DataFrame) -> np.ndarray:
    score = df["credit_score"].astype("float64")
    income = df["income"]
    columns = [
        score.fillna(score.mean()) / 100,
        score.isna(),
        np.log(df["loan_amount"] / income).fillna(0),
        income.isna(),
        df["debt_to_income"].clip(upper=2),
        df["delinquencies_2y"].clip(upper=4),
        df["applied_at"].dt.day_of_week >= 5,
        df["interest_rate"] / 10,
        *(df["employment"] == level for level in CATEGORY_LEVELS["employment"][1:]),
    ]
    return np.column_stack([np.asarray(c, dtype="float64") for c in columns])


def _fit_logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Plain Newton-Raphson logistic regression (with intercept); a few iterations suffice."""
    x = np.column_stack([np.ones(len(x)), x])
    weights = np.zeros(x.shape[1])
    for _ in range(25):
        p = 1 / (1 + np.exp(-x @ weights))
        step = np.linalg.solve((x * (p * (1 - p))[:, None]).T @ x, x.T @ (y - p))
        weights += step
        if np.abs(step).max() < 1e-8:
            break
    return weights


def test_a_model_fitted_before_drift_stays_calibrated_only_under_covariate_drift(
    loans: pd.DataFrame, covariate: pd.DataFrame, concept: pd.DataFrame
) -> None:
    """Covariate drift keeps P(default | features); concept drift changes it."""
    weights = _fit_logistic(_risk_features(loans), loans["default"].to_numpy("float64"))

    def miscalibration(df: pd.DataFrame) -> float:
        x = np.column_stack([np.ones(len(df)), _risk_features(df)])
        return abs(float(np.mean(1 / (1 + np.exp(-x @ weights)))) - df["default"].mean())

    assert covariate["default"].mean() > loans["default"].mean() + 0.05  # riskier applicants
    assert miscalibration(covariate) < 0.02
    assert miscalibration(concept) > 0.04


def test_concept_drift_keeps_features_and_changes_the_label(
    loans: pd.DataFrame, concept: pd.DataFrame
) -> None:
    pd.testing.assert_frame_equal(_codes(concept[FEATURES]), _codes(loans[FEATURES]))
    assert concept["default"].mean() > loans["default"].mean() + 0.03

    def dti_gap(df: pd.DataFrame) -> float:
        quintile = pd.qcut(df["debt_to_income"], 5, labels=False)
        rate = df.groupby(quintile)["default"].mean()
        return rate[4] - rate[0]

    assert dti_gap(concept) > 1.5 * dti_gap(loans)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": 0}, "rows"),
        ({"drift": "sideways"}, "drift"),
        ({"start": "2025-01-01", "end": "2025-01-01"}, "end"),
        ({"start": "2025-06-01", "end": "2025-01-01"}, "end"),
        ({"start": "not a date"}, "start"),
        ({"strength": -1.0}, "strength"),
        ({"batch": -1}, "batch"),
    ],
    ids=[
        "no-rows",
        "unknown-drift",
        "empty-range",
        "reversed-range",
        "bad-date",
        "negative-strength",
        "negative-batch",
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_loans(**{"rows": 10, **kwargs})


def test_drift_kinds_are_the_documented_ones() -> None:
    assert DRIFT_KINDS == ("none", "covariate", "concept")
