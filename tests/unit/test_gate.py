"""The promotion gate's paired test: noise is refused, real improvement passes, in either metric direction."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from driftline.config.groups import GateSpec
from driftline.errors import EXIT_BAD_CONFIG
from driftline.registry.gate import GateConfigError, bootstrap, delong, delong_covariance, judge


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def credit_like(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, latent signal, a champion's scores): a 30% default rate, a champion with AUC about 0.76."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(float)
    latent = y + rng.normal(size=n)
    return y, latent, _sigmoid(latent - 0.5)


def two_equal_models(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, challenger, champion): both see the signal through independent noise of the same size."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(float)
    latent = y + rng.normal(size=n)
    return y, _sigmoid(latent + rng.normal(0, 0.7, n)), _sigmoid(latent + rng.normal(0, 0.7, n))


def regression_case(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(target, better predictions with 80% of the champion's error, champion's predictions)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(50, 10, n)
    champion = y + rng.normal(0, 3, n)
    return y, y + 0.8 * (champion - y), champion


# ----------------------------------------------------------------------------- verdicts


def test_a_challenger_that_is_the_champion_plus_tiny_noise_is_refused() -> None:
    y, latent, champion = credit_like(10_000, seed=1)
    challenger = _sigmoid(latent - 0.5 + np.random.default_rng(2).normal(0, 0.01, latent.size))
    result = judge(GateSpec(), "binary", y, challenger, champion)
    assert not result.passed
    assert result.test == "delong" and result.confidence == 0.95 and result.rows == 10_000
    assert result.low is not None and result.high is not None and result.low < 0 < result.high
    assert abs(result.improvement) < 0.001
    assert "does not beat champion" in result.reason and "by more than chance" in result.reason
    assert "95% interval [" in result.reason and "(DeLong" in result.reason


def test_a_clearly_better_challenger_passes_with_an_interval_above_zero() -> None:
    y, latent, champion = credit_like(5_000, seed=3)
    challenger = _sigmoid(1.5 * latent + 0.5 * y)
    result = judge(GateSpec(), "binary", y, challenger, champion)
    assert result.passed, result.reason
    assert 0 < result.low < result.improvement < result.high
    assert result.p_value is not None and result.p_value < 0.001
    assert result.reason.startswith(f"challenger roc_auc {result.challenger:.6g} beats champion {result.champion:.6g} by more than chance")


def test_the_reason_shows_enough_digits_to_see_a_tiny_improvement() -> None:
    y, latent, champion = credit_like(10_000, seed=1)
    challenger = _sigmoid(latent - 0.5 + np.random.default_rng(2).normal(0, 0.01, latent.size))
    result = judge(GateSpec(), "binary", y, challenger, champion)
    assert result.improvement != 0
    # the challenger's and champion's values (6 significant digits) and the improvement (2 significant digits)
    shown = f"{result.improvement:+.2g}"
    assert f"{result.challenger:.6g}" in result.reason and f"{result.champion:.6g}" in result.reason
    assert "+0.0000 " not in result.reason and "+0.0000," not in result.reason
    assert float(result.reason.split("improvement ")[1].split(",")[0]) == pytest.approx(float(shown), rel=1e-9)


def test_a_first_model_runs_no_test() -> None:
    y, _, scores = credit_like(500, seed=4)
    result = judge(GateSpec(), "binary", y, scores, None)
    assert result.passed and result.test == "none" and result.low is None and result.champion is None
    assert result.reason.startswith("first model: roc_auc ")


def test_regression_lower_rmse_is_better_and_the_bootstrap_decides() -> None:
    y, better, champion = regression_case(4_000, seed=5)
    forward = judge(GateSpec(), "regression", y, better, champion)
    assert forward.passed and forward.test == "bootstrap" and forward.metric == "rmse"
    assert forward.challenger < forward.champion and forward.improvement > 0 and forward.low > 0
    backward = judge(GateSpec(), "regression", y, champion, better)
    assert not backward.passed and backward.improvement < 0 and backward.high < 0
    assert "1000 rounds" in backward.reason


def test_min_improvement_stays_a_floor_on_top_of_the_test() -> None:
    y, better, champion = regression_case(4_000, seed=5)
    plain = judge(GateSpec(), "regression", y, better, champion)
    floored = judge(GateSpec(min_improvement=plain.improvement * 2), "regression", y, better, champion)
    assert plain.passed and plain.low > 0
    assert not floored.passed and floored.low == plain.low
    assert "beats champion" in floored.reason and "less than gate.min_improvement" in floored.reason


def test_test_none_keeps_the_point_rule() -> None:
    y, latent, champion = credit_like(10_000, seed=1)
    noise = np.random.default_rng(2).normal(0, 0.01, latent.size)
    challenger = _sigmoid(latent - 0.5 + noise)
    point = judge(GateSpec(test="none"), "binary", y, challenger, champion)
    paired = judge(GateSpec(), "binary", y, challenger, champion)
    assert point.improvement == paired.improvement > 0, "the noise happens to help a little on these rows"
    assert point.passed and not paired.passed
    assert point.test == "none" and point.low is None
    assert "required +0" in point.reason


def test_delong_is_refused_for_a_metric_other_than_roc_auc() -> None:
    with pytest.raises(ValidationError, match="delong"):
        GateSpec(test="delong", metric="log_loss")
    y, better, champion = regression_case(200, seed=6)
    with pytest.raises(GateConfigError, match="delong compares roc_auc only") as caught:
        judge(GateSpec(test="delong"), "regression", y, better, champion)
    assert caught.value.exit_code == EXIT_BAD_CONFIG and "gate.test" in caught.value.hint


@pytest.mark.parametrize("bad", [{"confidence": 0.5}, {"confidence": 1.0}, {"bootstrap_rounds": 99}, {"test": "t"}],
                         ids=["confidence-0.5", "confidence-1", "few-rounds", "unknown-test"])
def test_gate_spec_bounds(bad: dict) -> None:
    with pytest.raises(ValidationError):
        GateSpec(**bad)


# ----------------------------------------------------------------------------- the statistics


def test_delong_auc_matches_sklearn_and_its_standard_error_matches_a_large_bootstrap() -> None:
    y, challenger, champion = two_equal_models(2_000, seed=7)
    aucs, _ = delong_covariance(y, np.vstack([challenger, champion]))
    assert aucs == pytest.approx([roc_auc_score(y, challenger), roc_auc_score(y, champion)], abs=1e-12)

    z = norm.ppf(0.95)
    by_delong = delong(y, challenger, champion, 0.95)
    by_bootstrap = bootstrap(y, challenger, champion, "binary", "roc_auc", 0.95, rounds=4_000)
    se_delong = (by_delong.high - by_delong.low) / (2 * z)
    se_bootstrap = (by_bootstrap.high - by_bootstrap.low) / (2 * z)
    assert by_delong.improvement == pytest.approx(by_bootstrap.improvement, abs=1e-12)
    assert se_bootstrap == pytest.approx(se_delong, rel=0.1), "two estimates of the same standard error"
    assert by_bootstrap.low == pytest.approx(by_delong.low, abs=0.1 * se_delong)


@pytest.mark.parametrize("test", ["delong", "bootstrap"])
def test_between_equal_models_the_gate_passes_about_one_time_in_twenty(test: str) -> None:
    """Coverage: with no true difference, the one-sided 95% lower bound is above 0 about 5% of the time."""
    trials, n = (300, 1_000) if test == "delong" else (120, 600)
    spec = GateSpec(test=test, bootstrap_rounds=200)
    passed = []
    for seed in range(trials):
        y, challenger, champion = two_equal_models(n, seed=100 + seed)
        passed.append(judge(spec, "binary", y, challenger, champion).low > 0)
    rate = float(np.mean(passed))
    assert 0.01 <= rate <= 0.10, f"false promotions {rate:.1%} of {trials}"


def test_the_bootstrap_is_deterministic_and_its_seed_matters() -> None:
    y, better, champion = regression_case(1_000, seed=8)
    first = judge(GateSpec(), "regression", y, better, champion)
    again = judge(GateSpec(), "regression", y, better, champion)
    assert first == again
    other = bootstrap(y, better, champion, "regression", "rmse", 0.95, rounds=1000, seed=1)
    assert (other.low, other.high) != (first.low, first.high)
    assert other.low == pytest.approx(first.low, abs=0.02)


def test_the_bootstrap_is_paired() -> None:
    """Models whose errors move together: pairing sees a steady gain that unpaired intervals would drown."""
    rng = np.random.default_rng(9)
    y = rng.normal(0, 1, 2_000)
    shared = rng.normal(0, 2, y.size)
    champion, challenger = y + shared, y + 0.98 * shared
    result = bootstrap(y, challenger, champion, "regression", "rmse", 0.95, rounds=1000)
    assert result.low > 0
    assert result.high - result.low < 0.2 * result.improvement


def test_a_multiclass_challenger_is_judged_on_log_loss() -> None:
    rng = np.random.default_rng(10)
    y = rng.integers(0, 3, 3_000)
    logits = rng.normal(size=(y.size, 3))
    logits[np.arange(y.size), y] += 1.0

    def softmax(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    champion = softmax(logits)
    sharper = softmax(logits + 0.8 * (np.arange(3) == y[:, None]))
    result = judge(GateSpec(), "multiclass", y, sharper, champion)
    assert result.passed and result.metric == "log_loss" and result.test == "bootstrap"
    assert result.challenger < result.champion and result.low > 0
    assert not judge(GateSpec(), "multiclass", y, champion, sharper).passed


@pytest.mark.parametrize("task", ["binary", "regression", "multiclass"])
def test_every_resample_scores_as_the_resampled_rows_do(task: str) -> None:
    """The vectorised path (weights) against compute_metrics on the rows each resample draws."""
    from driftline.config.metrics import task_metrics
    from driftline.models.evaluate import compute_metrics, resampled_metric
    from driftline.registry.gate import resample_counts

    rng = np.random.default_rng(14)
    n = 300
    if task == "binary":
        y = (rng.random(n) < 0.3).astype(float)
        scores = np.round(np.clip(0.3 + 0.3 * (y - 0.3) + rng.normal(0, 0.2, n), 0, 1), 2)  # with ties
    elif task == "regression":
        y = rng.normal(0, 1, n)
        y[:5] = 0.0  # mape skips zero targets
        scores = y + rng.normal(0, 0.5, n)
    else:
        y = rng.integers(0, 3, n)
        raw = rng.random((n, 3)) + 0.5 * (np.arange(3) == y[:, None])
        scores = raw / raw.sum(axis=1, keepdims=True)
    counts = next(resample_counts(n, 5, seed=3))
    rows = np.arange(n)
    for metric in (m.name for m in task_metrics(task) if m.name != "n"):
        values = resampled_metric(y, scores, task, metric, counts)
        for drawn, value in zip(counts, values, strict=True):
            idx = np.repeat(rows, drawn)
            expected = compute_metrics(y[idx], scores[idx], task).get(metric)
            assert value == pytest.approx(expected, abs=1e-6), metric
