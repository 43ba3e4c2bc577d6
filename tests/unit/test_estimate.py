"""Performance before the labels arrive (driftline.drift.estimate): CBPE and DLE against realised values.

The champion here is a small LightGBM model trained on the built-in generator's loans. Covariate
batches keep P(label | features) (CBPE's assumption holds); concept batches change it (it does not).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from driftline.data.generator import generate_loans
from driftline.drift.estimate import (
    Estimator,
    EstimatorError,
    estimate_cbpe,
    estimate_dle,
    estimate_performance,
    fit_cbpe,
    fit_dle,
    fit_estimator,
)
from driftline.drift.report import EstimatedPerformance
from driftline.models.evaluate import compute_metrics

NUMERIC = ["age", "income", "loan_amount", "term_months", "credit_score", "debt_to_income", "open_accounts", "delinquencies_2y"]
CATEGORICAL = ["employment", "home_ownership", "region", "purpose"]
FEATURES = NUMERIC + CATEGORICAL
THRESHOLD = 0.3
BATCHES = 10
BATCH_ROWS = 5000


def matrix(frame: pd.DataFrame, extra: tuple[str, ...] = ()) -> np.ndarray:
    """Numeric columns as floats, categories as their codes: the shape of driftline's model matrix."""
    columns = [frame[c].astype("float64").to_numpy() for c in NUMERIC + list(extra)]
    columns += [frame[c].cat.codes.astype("float64").to_numpy() for c in CATEGORICAL]
    return np.column_stack(columns)


def train(X: np.ndarray, y: np.ndarray, objective: str, names: list[str]):
    import lightgbm as lgb

    params = {"objective": objective, "num_leaves": 15, "learning_rate": 0.05, "verbosity": -1, "num_threads": 1,
              "seed": 0, "deterministic": True, "force_row_wise": True}
    categorical = [names.index(c) for c in CATEGORICAL]
    return lgb.train(params, lgb.Dataset(X, y, feature_name=names, categorical_feature=categorical), num_boost_round=100)


@pytest.fixture(scope="module")
def credit():
    """A binary champion, its estimator (fitted on held-out rows) and its registered metrics."""
    rows = generate_loans(rows=24_000, seed=3)
    X, y = matrix(rows), rows["default"].to_numpy(dtype=np.float64)
    fit = np.arange(len(y)) < 16_000
    model = train(X[fit], y[fit], "binary", FEATURES)
    held_out = model.predict(X[~fit])
    return model, fit_cbpe(held_out, y[~fit]), compute_metrics(y[~fit], held_out, "binary", threshold=THRESHOLD)


def batches(drift: str) -> list[pd.DataFrame]:
    return [generate_loans(rows=BATCH_ROWS, seed=3, drift=drift, batch=b) for b in range(1, BATCHES + 1)]


def cbpe_on(credit, batch: pd.DataFrame) -> EstimatedPerformance:
    model, estimator, reference = credit
    return estimate_cbpe(estimator, model.predict(matrix(batch)), THRESHOLD, reference_metrics=reference,
                         drop_threshold=0.03, labels=batch["default"].to_numpy(dtype=np.float64))


def metric(report: EstimatedPerformance, name: str):
    return next(m for m in report.metrics if m.metric == name)


def test_cbpe_estimates_roc_auc_within_its_band_under_covariate_shift(credit) -> None:
    reports = [cbpe_on(credit, b) for b in batches("covariate")]
    aucs = [metric(r, "roc_auc") for r in reports]
    inside = sum(m.low <= m.realised <= m.high for m in aucs)
    errors = [abs(m.estimate - m.realised) for m in aucs]
    assert inside >= 7, f"realised roc_auc in the 90% band on {inside} of {BATCHES} covariate batches"
    assert np.mean(errors) < 0.015
    # the shift is real: riskier applicants are easier to rank, and the estimate follows the realised rise
    assert np.mean([m.realised for m in aucs]) > aucs[0].reference + 0.01
    assert np.mean([m.estimate for m in aucs]) > aucs[0].reference + 0.01
    for name in ("accuracy", "precision", "recall"):
        inside = sum(metric(r, name).low <= metric(r, name).realised <= metric(r, name).high for r in reports)
        assert inside >= 6, f"{name}: realised in the band on {inside} of {BATCHES} covariate batches"


def test_cbpe_misses_concept_drift_by_design(credit) -> None:
    """CBPE assumes P(label | features) is unchanged: when it changes, the estimate is wrong and the band says nothing."""
    aucs = [metric(cbpe_on(credit, b), "roc_auc") for b in batches("concept")]
    above = sum(m.realised < m.low for m in aucs)
    assert above >= 8, f"the realised roc_auc fell below the band on only {above} of {BATCHES} concept batches"
    assert np.mean([m.estimate - m.realised for m in aucs]) > 0.02


def test_cbpe_band_narrows_with_rows() -> None:
    rng = np.random.default_rng(0)
    labels_of = lambda s: (rng.random(len(s)) < s).astype(np.float64)  # noqa: E731 - calibrated by construction
    reference = rng.beta(1, 4, 20_000)
    estimator = fit_cbpe(reference, labels_of(reference))
    widths = {}
    for rows in (1_000, 16_000):
        scores = rng.beta(1, 4, rows)
        auc = metric(estimate_cbpe(estimator, scores, THRESHOLD, reference_metrics={}, drop_threshold=0.03), "roc_auc")
        assert auc.low < auc.estimate < auc.high
        widths[rows] = auc.high - auc.low
    assert 2.5 < widths[1_000] / widths[16_000] < 6  # about sqrt(16) = 4


def test_drop_is_the_headline_estimate_against_the_registered_value(credit) -> None:
    model, estimator, reference = credit
    scores = model.predict(matrix(batches("none")[0]))
    quiet = estimate_cbpe(estimator, scores, THRESHOLD, reference_metrics=reference, drop_threshold=0.03)
    auc = metric(quiet, "roc_auc")
    assert quiet.headline == "roc_auc" and quiet.method == "cbpe" and quiet.rows == BATCH_ROWS
    assert quiet.drop == pytest.approx(auc.reference - auc.estimate, abs=1e-6)
    assert not quiet.drifted and auc.realised is None
    inflated = estimate_cbpe(estimator, scores, THRESHOLD, reference_metrics={**reference, "roc_auc": auc.estimate + 0.05},
                             drop_threshold=0.03)
    assert inflated.drifted and inflated.drop == pytest.approx(0.05, abs=1e-6) and inflated.threshold == 0.03
    unknown = estimate_cbpe(estimator, scores, THRESHOLD, reference_metrics={}, drop_threshold=0.03)
    assert unknown.drop is None and not unknown.drifted and metric(unknown, "roc_auc").reference is None


def test_realised_comes_from_the_labelled_rows_only(credit) -> None:
    model, estimator, reference = credit
    batch = batches("none")[1]
    scores, labels = model.predict(matrix(batch)), batch["default"].to_numpy(dtype=np.float64)
    labels[::2] = np.nan  # half of the labels have not arrived
    report = estimate_cbpe(estimator, scores, THRESHOLD, reference_metrics=reference, drop_threshold=0.03, labels=labels)
    expected = compute_metrics(labels[1::2], scores[1::2], "binary", threshold=THRESHOLD)
    assert {m.metric: m.realised for m in report.metrics} == {n: expected[n] for n in ("roc_auc", "accuracy", "precision", "recall")}
    assert report.rows == len(scores)  # the estimate covers every row


def test_estimator_json_round_trips_and_estimates_identically(credit) -> None:
    model, estimator, reference = credit
    documents = Estimator(estimator).documents()
    assert set(documents) == {"estimator.json"}
    stored = json.loads(documents["estimator.json"])  # strict JSON: no NaN, no pickle
    back = Estimator.from_documents(stored, {})
    assert back.meta == estimator and stored["calibration"]["kind"] == "binned_isotonic"
    scores = model.predict(matrix(batches("covariate")[0]))
    before = estimate_cbpe(estimator, scores, THRESHOLD, reference_metrics=reference, drop_threshold=0.03)
    after = estimate_performance(back, scores, threshold=THRESHOLD, reference_metrics=reference, drop_threshold=0.03)
    assert after == before


def test_a_damaged_estimator_is_refused_with_a_hint() -> None:
    with pytest.raises(EstimatorError, match="calibration.x") as info:
        Estimator.from_documents({"format": 1, "method": "cbpe", "calibration": {"x": [0.1], "y": [], "rows": [5]}}, {})
    assert "re-register" in info.value.hint
    with pytest.raises(EstimatorError, match="nanny_mae.txt"):
        Estimator.from_documents({"format": 1, "method": "dle"}, {"mse": "tree"})
    with pytest.raises(EstimatorError, match="format"):
        Estimator.from_documents({"format": 99, "method": "cbpe"}, {})


def test_cbpe_needs_both_classes_to_calibrate() -> None:
    with pytest.raises(EstimatorError, match="both classes") as info:
        fit_cbpe(np.linspace(0, 1, 50), np.zeros(50))
    assert "split.test" in info.value.hint


def test_multiclass_has_no_estimator() -> None:
    assert fit_estimator("multiclass", np.full((10, 3), 1 / 3), np.zeros(10)) is None


@pytest.fixture(scope="module")
def pricing():
    """A regression champion (the interest rate), its held-out rows, and its DLE estimator."""
    rows = generate_loans(rows=16_000, seed=5)
    X, y = matrix(rows), rows["interest_rate"].to_numpy(dtype=np.float64)
    fit = np.arange(len(y)) < 10_000
    model = train(X[fit], y[fit], "regression", FEATURES)
    held_out = model.predict(X[~fit])
    meta, nanny = fit_dle(X[~fit], held_out, y[~fit], FEATURES, categorical=CATEGORICAL)
    return model, meta, nanny, compute_metrics(y[~fit], held_out, "regression"), (X[~fit], held_out, y[~fit])


def dle_on(pricing, batch: pd.DataFrame) -> EstimatedPerformance:
    model, meta, nanny, reference, _ = pricing
    X = matrix(batch)
    return estimate_dle(meta, nanny, X, model.predict(X), reference_metrics=reference, drop_threshold=0.1,
                        targets=batch["interest_rate"].to_numpy(dtype=np.float64))


def test_dle_estimates_mae_and_rmse_close_to_realised_under_covariate_shift(pricing) -> None:
    reports = [dle_on(pricing, b) for b in batches("covariate")]
    for name in ("mae", "rmse"):
        estimates = [metric(r, name) for r in reports]
        relative = [abs(m.estimate - m.realised) / m.realised for m in estimates]
        assert np.mean(relative) < 0.05, f"{name}: mean relative error {np.mean(relative):.3f}"
        assert sum(m.low <= m.realised <= m.high for m in estimates) >= 6
    assert reports[0].headline == "rmse" and reports[0].method == "dle"
    rmse = metric(reports[0], "rmse")
    assert reports[0].drop == pytest.approx(rmse.estimate - rmse.reference, abs=1e-6)  # lower is better: a rise is a drop


def test_dle_is_deterministic_and_its_nanny_is_lightgbm_text(pricing) -> None:
    _, meta, nanny, _, (X, predictions, targets) = pricing
    again_meta, again_nanny = fit_dle(X, predictions, targets, FEATURES, categorical=CATEGORICAL)
    assert again_meta == meta and again_nanny == nanny
    assert set(nanny) == {"mae", "mse"} and all(text.startswith("tree") for text in nanny.values())
    documents = Estimator(meta, nanny).documents()
    assert set(documents) == {"estimator.json", "nanny_mae.txt", "nanny_mse.txt"}
    back = Estimator.from_documents(json.loads(documents["estimator.json"]), nanny)
    first = estimate_performance(back, predictions, matrix=X, reference_metrics={}, drop_threshold=0.1)
    assert first == estimate_dle(meta, nanny, X, predictions, reference_metrics={}, drop_threshold=0.1)


def test_dle_refuses_a_matrix_of_another_shape(pricing) -> None:
    model, meta, nanny, reference, (X, predictions, _) = pricing
    with pytest.raises(ValueError, match=f"{len(FEATURES)} columns"):
        estimate_dle(meta, nanny, X[:, :-1], predictions, reference_metrics=reference, drop_threshold=0.1)
