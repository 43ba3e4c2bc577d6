"""Drift statistics: equality with scipy, drift decisions, edge cases, profile storage."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from driftline.drift import ecdf
from driftline.drift import stats as drift
from driftline.drift.profile import (
    ProfileError,
    load_profile,
    profile_categorical,
    profile_frame,
    profile_numeric,
    save_profile,
)

TOL = 1e-9


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _numeric_case(name: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if name == "continuous-equal-sizes":
        return rng.normal(size=5000), rng.normal(0.1, 1.0, size=5000)
    if name == "ties-rounded":
        return np.round(rng.normal(size=20_000), 1), np.round(rng.normal(0.02, 1.1, size=15_000), 1)
    if name == "integers-heavy-ties":
        return rng.poisson(3.0, size=30_000).astype(float), rng.poisson(3.2, size=12_000).astype(float)
    if name == "nans-and-infs":
        ref, cur = rng.normal(size=8000), rng.normal(size=11_000)
        ref[::7], cur[::5], cur[3] = np.nan, np.nan, np.inf
        return ref, cur
    if name == "tiny-vs-large":
        return rng.exponential(size=40), rng.exponential(1.3, size=50_000)
    if name == "disjoint":
        return rng.uniform(0, 1, size=3000), rng.uniform(2, 3, size=2000)
    if name == "identical":
        sample = rng.normal(size=4000)
        return sample, sample.copy()
    if name == "large-scale-values":
        return rng.normal(1e5, 2e4, size=20_000), rng.normal(1.01e5, 2e4, size=25_000)
    raise AssertionError(name)


NUMERIC_CASES = [
    "continuous-equal-sizes",
    "ties-rounded",
    "integers-heavy-ties",
    "nans-and-infs",
    "tiny-vs-large",
    "disjoint",
    "identical",
    "large-scale-values",
]


# ------------------------------------------------------------------ equality with scipy


@pytest.mark.parametrize("case", NUMERIC_CASES)
def test_ks_matches_scipy_asymp(case: str) -> None:
    ref, cur = _numeric_case(case)
    result = drift.ks(profile_numeric(ref, "x"), cur, method="asymp")
    expected = stats.ks_2samp(_finite(ref), _finite(cur), method="asymp")
    assert abs(result.statistic - expected.statistic) <= TOL
    assert abs(result.p_value - expected.pvalue) <= TOL
    assert result.details["method"] == "asymp"


@pytest.mark.parametrize("case", ["continuous-equal-sizes", "ties-rounded", "tiny-vs-large", "disjoint"])
def test_ks_auto_matches_scipy_default(case: str) -> None:
    ref, cur = _numeric_case(case)
    ref, cur = ref[:3000], cur[:2500]  # small enough for scipy's exact branch
    result = drift.ks(profile_numeric(ref, "x"), cur)
    expected = stats.ks_2samp(ref, cur)
    assert result.details["method"] == "exact"
    assert abs(result.statistic - expected.statistic) <= TOL
    assert abs(result.p_value - expected.pvalue) <= TOL


@pytest.mark.parametrize("n", [12_000, 50_000])
@pytest.mark.parametrize("nx2", [0.5, 2.2, 3.0, 8.0, 30.0, 200.0, 400.0])
def test_kstwo_sf_matches_scipy_on_its_slow_branch(n: int, nx2: float) -> None:
    d = float(np.sqrt(nx2 / n))
    assert abs(drift.kstwo_sf(d, float(n)) - stats.kstwo.sf(d, n)) <= 1e-11


@pytest.mark.parametrize("nx2", [0.5, 2.2, 10.0, 300.0])
def test_kstwo_sf_reproduces_scipys_shortcut_above_a_million(nx2: float) -> None:
    n = 2_000_000
    d = float(np.sqrt(nx2 / n))
    assert drift.kstwo_sf(d, float(n)) == pytest.approx(stats.kstwo.sf(d, n), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("seed", range(6))
def test_blocked_merge_matches_scipy_across_many_block_boundaries(monkeypatch, seed: int) -> None:
    """Tiny blocks put ties on block edges and blocks with one side empty."""
    monkeypatch.setattr(ecdf, "_BLOCK", 16)
    rng = np.random.default_rng(seed)
    levels = int(rng.integers(2, 40))
    a = np.sort(rng.integers(0, levels, int(rng.integers(1, 3000))).astype(float))
    b = np.sort(rng.integers(0, levels, int(rng.integers(1, 3000))).astype(float) + rng.choice([0.0, 0.5, 7.0]))
    if seed % 2:
        a, b = np.sort(rng.normal(size=a.size)), np.sort(np.r_[rng.normal(0.3, size=b.size), a[:50]])
    result = ecdf.ecdf_distances(a, b)
    assert abs(result.ks_statistic - stats.ks_2samp(a, b).statistic) <= TOL
    assert abs(result.wasserstein - stats.wasserstein_distance(a, b)) <= TOL


@pytest.mark.parametrize("case", NUMERIC_CASES)
def test_wasserstein_matches_scipy_and_is_normalised_by_reference_std(case: str) -> None:
    ref, cur = _numeric_case(case)
    result = drift.wasserstein(profile_numeric(ref, "x"), cur)
    raw = stats.wasserstein_distance(_finite(ref), _finite(cur))
    assert abs(result.details["distance"] - raw) <= TOL
    assert result.details["normalised_by"] == "std"
    assert result.statistic == pytest.approx(raw / np.std(_finite(ref)), rel=1e-12)


def _categorical_case(name: str) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if name == "five-levels-shifted":
        return (
            pd.Series(rng.choice(list("abcde"), 20_000, p=[0.4, 0.3, 0.15, 0.1, 0.05])),
            pd.Series(rng.choice(list("abcde"), 9000, p=[0.35, 0.3, 0.2, 0.1, 0.05])),
        )
    if name == "two-by-two-yates":
        return pd.Series(rng.choice(["x", "y"], 300)), pd.Series(rng.choice(["x", "y"], 200, p=[0.6, 0.4]))
    if name == "unseen-and-vanished":
        return pd.Series(rng.choice(list("abc"), 5000)), pd.Series(rng.choice(list("bcd"), 4000))
    if name == "unused-category-levels":
        levels = ["a", "b", "c", "never"]
        return (
            pd.Series(pd.Categorical(rng.choice(list("abc"), 3000), categories=levels)),
            pd.Series(pd.Categorical(rng.choice(list("abc"), 1000), categories=levels)),
        )
    if name == "with-missing":
        ref = pd.Series(rng.choice(["a", "b", None], 6000), dtype=object)
        return ref, pd.Series(rng.choice(["a", "b", None], 7000, p=[0.3, 0.3, 0.4]), dtype=object)
    raise AssertionError(name)


CATEGORICAL_CASES = [
    "five-levels-shifted",
    "two-by-two-yates",
    "unseen-and-vanished",
    "unused-category-levels",
    "with-missing",
]


def _scipy_table(ref: pd.Series, cur: pd.Series) -> np.ndarray:
    table = pd.concat(
        [ref.dropna().astype(str).value_counts(), cur.dropna().astype(str).value_counts()], axis=1
    ).fillna(0)
    return table.to_numpy().T


@pytest.mark.parametrize("case", CATEGORICAL_CASES)
def test_chi2_matches_scipy_chi2_contingency(case: str) -> None:
    ref, cur = _categorical_case(case)
    result = drift.chi2(profile_categorical(ref, "c"), cur)
    expected = stats.chi2_contingency(_scipy_table(ref, cur))
    assert abs(result.statistic - expected.statistic) <= TOL
    assert abs(result.p_value - expected.pvalue) <= TOL
    assert result.details["dof"] == expected.dof


@pytest.mark.parametrize("case", CATEGORICAL_CASES)
def test_jensen_shannon_matches_scipy_base_2(case: str) -> None:
    ref, cur = _categorical_case(case)
    result = drift.jensen_shannon(profile_categorical(ref, "c"), cur)
    table = _scipy_table(ref, cur)
    assert abs(result.statistic - jensenshannon(table[0], table[1], base=2)) <= TOL
    assert 0.0 <= result.statistic <= 1.0


def test_z_binary_squared_equals_uncorrected_chi2() -> None:
    rng = np.random.default_rng(7)
    ref, cur = rng.binomial(1, 0.30, 4000), rng.binomial(1, 0.34, 3000)
    result = drift.z_binary(profile_categorical(ref, "b", kind="binary"), cur)
    expected = stats.chi2_contingency(_scipy_table(pd.Series(ref), pd.Series(cur)), correction=False)
    assert result.statistic**2 == pytest.approx(expected.statistic, rel=1e-9)
    assert abs(result.p_value - expected.pvalue) <= TOL
    assert result.details["positive_level"] == "1"
    assert result.statistic > 0  # the share of ones rose


def test_benjamini_hochberg_matches_scipy() -> None:
    pvals = np.random.default_rng(3).uniform(size=40) ** 3
    assert np.allclose(drift.benjamini_hochberg(pvals), stats.false_discovery_control(pvals), atol=TOL, rtol=0)
    assert np.allclose(drift.bonferroni(pvals), np.minimum(pvals * 40, 1.0))
    assert drift.benjamini_hochberg([]).size == 0


def test_adjust_p_values_redecides_only_p_value_tests() -> None:
    results = [
        drift.DriftResult("ks", "a", 0.1, 0.03, 0.05, True),
        drift.DriftResult("ks", "b", 0.1, 0.04, 0.05, True),
        drift.DriftResult("wasserstein", "a", 0.2, None, 0.1, True),
    ]
    adjusted = drift.adjust_p_values(results, "bonferroni")
    assert [r.drifted for r in adjusted] == [False, False, True]
    assert adjusted[0].p_value == pytest.approx(0.06)
    assert adjusted[0].details["p_value_raw"] == 0.03
    assert adjusted[2] is results[2]


# ------------------------------------------------------------------------ drift decisions


@pytest.fixture(scope="module")
def large_reference() -> np.ndarray:
    return np.random.default_rng(11).normal(10.0, 2.0, size=50_000)


def test_distance_tests_stay_quiet_on_a_fresh_sample_of_the_same_distribution(
    large_reference: np.ndarray,
) -> None:
    reference = profile_numeric(large_reference, "x")
    current = drift.numeric_sample(np.random.default_rng(12).normal(10.0, 2.0, size=50_000))
    assert not drift.wasserstein(reference, current).drifted
    assert drift.psi(reference, current).details["level"] == "stable"
    assert not drift.psi(reference, current).drifted


@pytest.mark.parametrize(
    "shift",
    [pytest.param((0.5, 2.0), id="mean-shift-quarter-sd"), pytest.param((0.0, 3.0), id="variance-up-50pct")],
)
def test_distance_tests_flag_a_shifted_sample(large_reference: np.ndarray, shift: tuple[float, float]) -> None:
    loc_shift, scale = shift
    current = np.random.default_rng(13).normal(10.0 + loc_shift, scale, size=50_000)
    reference = profile_numeric(large_reference, "x")
    assert drift.wasserstein(reference, current).drifted
    assert drift.ks(reference, current).drifted
    assert drift.psi(reference, current).statistic > 0.05


def test_jensen_shannon_flags_a_changed_mix_and_not_a_resample() -> None:
    rng = np.random.default_rng(5)
    shares = [0.5, 0.3, 0.2]
    reference = profile_categorical(rng.choice(list("abc"), 50_000, p=shares), "c")
    assert not drift.jensen_shannon(reference, rng.choice(list("abc"), 50_000, p=shares)).drifted
    assert drift.jensen_shannon(reference, rng.choice(list("abc"), 50_000, p=[0.2, 0.3, 0.5])).drifted


def test_unseen_category_is_reported_with_its_share() -> None:
    reference = profile_categorical(["a"] * 50 + ["b"] * 50, "c")
    current = ["a"] * 40 + ["b"] * 40 + ["z"] * 20
    for test in (drift.chi2, drift.jensen_shannon):
        details = test(reference, current).details
        assert details["unseen_categories"] == {"z": 20}
        assert details["unseen_share"] == pytest.approx(0.2)


def test_vanished_category_is_reported() -> None:
    details = drift.chi2(profile_categorical(list("aabbcc"), "c"), list("aabb")).details
    assert details["vanished_categories"] == ["c"]


def test_single_category_gives_chi2_zero_p_one() -> None:
    result = drift.chi2(profile_categorical(["a"] * 10, "c"), ["a"] * 7)
    assert (result.statistic, result.p_value, result.drifted) == (0.0, 1.0, False)


def test_psi_of_identical_samples_is_zero_and_empty_bins_are_smoothed() -> None:
    values = np.arange(1000.0)
    reference = profile_numeric(values, "x")
    assert drift.psi(reference, values).statistic == pytest.approx(0.0, abs=1e-15)
    everything_above = drift.psi(reference, values + 10_000)  # all current mass in the top bin
    assert everything_above.drifted and everything_above.details["level"] == "significant"
    assert min(everything_above.details["current_shares"]) > 0


def test_psi_matches_a_hand_computation() -> None:
    reference = profile_numeric(np.repeat([1.0, 2.0], [45, 55]), "x")  # deciles dedup to [1, 2]
    result = drift.psi(reference, np.repeat([1.0, 2.0], [25, 75]))
    expected_shares = np.array([0.45, 0.55, 1e-4]) / 1.0001  # bin (2, inf) empty: ε, renormalise
    actual_shares = np.array([0.25, 0.75, 1e-4]) / 1.0001
    by_hand = np.sum((actual_shares - expected_shares) * np.log(actual_shares / expected_shares))
    assert reference.quantiles == (1.0, 2.0)
    assert result.statistic == pytest.approx(by_hand, rel=1e-12)


@pytest.mark.parametrize(
    ("current_missing", "drifted"),
    [pytest.param(0.02, False, id="same-share"), pytest.param(0.30, True, id="rise-of-28-points")],
)
def test_missing_share_flags_a_rise(current_missing: float, drifted: bool) -> None:
    rng = np.random.default_rng(9)
    ref = rng.normal(size=10_000)
    ref[rng.uniform(size=ref.size) < 0.02] = np.nan
    cur = rng.normal(size=10_000)
    cur[rng.uniform(size=cur.size) < current_missing] = np.nan
    result = drift.missing_share(profile_numeric(ref, "x"), cur)
    assert result.drifted is drifted
    assert result.statistic == pytest.approx(current_missing - 0.02, abs=0.01)


# ------------------------------------------------------------- degenerate columns, no raise


ALL_NUMERIC_TESTS = ["ks", "wasserstein", "psi"]


@pytest.mark.parametrize("test", ALL_NUMERIC_TESTS)
@pytest.mark.parametrize(
    ("current", "reason"),
    [
        pytest.param([], "the current column is empty", id="empty"),
        pytest.param([np.nan] * 5, "the current column has no non-missing values", id="all-nan"),
        pytest.param(pd.Series([None, None], dtype="Float64"), "no non-missing values", id="all-NA-nullable"),
    ],
)
def test_numeric_tests_report_why_they_could_not_run(test: str, current: object, reason: str) -> None:
    result = drift.TESTS[test](profile_numeric(np.arange(100.0), "x"), current)
    assert result.statistic is None and not result.drifted
    assert reason in result.details["reason"]


def test_all_nan_current_is_a_missing_share_drift() -> None:
    result = drift.missing_share(profile_numeric(np.arange(100.0), "x"), [np.nan] * 50)
    assert result.drifted and result.statistic == 1.0


@pytest.mark.parametrize("test", ["chi2", "jensen_shannon", "missing_share"])
def test_categorical_tests_handle_an_empty_current_column(test: str) -> None:
    result = drift.TESTS[test](profile_categorical(list("abab"), "c"), [])
    assert result.statistic is None and result.details["reason"] == "the current column is empty"


def test_all_missing_reference_is_reported_not_raised() -> None:
    reference = profile_numeric([np.nan, np.nan], "x")
    assert drift.ks(reference, [1.0, 2.0]).details["reason"] == "the reference column has no non-missing values"
    assert drift.wasserstein(reference, [1.0]).statistic is None


def test_constant_reference_is_flagged_and_any_movement_counts() -> None:
    reference = profile_numeric(np.full(500, 3.0), "x")
    same = drift.wasserstein(reference, np.full(200, 3.0))
    moved = drift.wasserstein(reference, np.r_[np.full(190, 3.0), np.full(10, 4.0)])
    assert same.details["constant_reference"] and not same.drifted and same.statistic == 0.0
    assert moved.drifted and moved.statistic == pytest.approx(0.05)
    assert drift.ks(reference, np.full(200, 3.0)).statistic == 0.0


def test_unparseable_numbers_count_as_missing() -> None:
    sample = drift.numeric_sample(pd.Series(["1.5", "oops", None, "2"], dtype=object))
    assert (sample.n, sample.n_missing, sample.sorted_values.tolist()) == (4, 2, [1.5, 2.0])


def test_wrong_column_kind_is_a_wiring_error() -> None:
    with pytest.raises(drift.DriftTestError, match="needs a numeric column"):
        drift.ks(profile_categorical(list("ab"), "c"), [1.0])


# --------------------------------------------------------------------------- frame runner


def _frames() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(21)
    ref = pd.DataFrame(
        {
            "age": rng.normal(40, 10, 4000),
            "city": rng.choice(["paris", "lyon", "nice"], 4000),
            "churn": rng.integers(0, 2, 4000),
        }
    )
    cur = pd.DataFrame({"age": rng.normal(45, 10, 3000), "city": rng.choice(["paris", "lyon"], 3000)})
    return ref, cur, {"age": "numeric", "city": "categorical", "churn": "binary"}


def test_run_tests_gives_the_same_results_threaded_and_reports_an_absent_column() -> None:
    ref, cur, kinds = _frames()
    profiles = profile_frame(ref, kinds)
    serial = drift.run_tests(profiles, cur)
    threaded = drift.run_tests(profiles, cur, n_threads=2)
    assert [r.to_dict() for rs in serial.values() for r in rs] == [
        r.to_dict() for rs in threaded.values() for r in rs
    ]
    assert [r.test for r in serial["age"]] == ["ks", "wasserstein", "psi", "missing_share"]
    churn = {r.test: r for r in serial["churn"]}
    assert churn["missing_share"].drifted and churn["missing_share"].details["column_absent"]
    assert churn["z_binary"].statistic is None


def test_plan_errors_are_collected_in_one_exception() -> None:
    ref, _, kinds = _frames()
    profiles = profile_frame(ref, kinds)
    with pytest.raises(drift.DriftTestError) as caught:
        drift.check_plan(profiles, {"age": ["chi2", "nope"], "ghost": ["ks"]})
    message = str(caught.value)
    assert "chi2 does not apply" in message and "unknown test 'nope'" in message and "'ghost'" in message


@pytest.mark.parametrize(
    ("kind", "n_reference", "expected"),
    [
        ("numeric", 1000, "ks"),
        ("numeric", 1001, "wasserstein"),
        ("categorical", 500, "chi2"),
        ("categorical", 10**6, "jensen_shannon"),
        ("binary", 10, "z_binary"),
        ("binary", 5000, "jensen_shannon"),
    ],
)
def test_default_test_follows_the_field_notes(kind: str, n_reference: int, expected: str) -> None:
    assert drift.default_test(kind, n_reference) == expected
    assert kind in drift.TESTS[expected].kinds


# ------------------------------------------------------------------------ profile storage


def test_category_labels_survive_dtype_changes() -> None:
    as_int = profile_categorical(pd.Series([0, 1, 1]), "b", kind="binary")
    as_float_with_nan = drift.categorical_sample(pd.Series([0.0, 1.0, np.nan]))
    as_bool = drift.categorical_sample(pd.Series([False, True]))
    assert set(as_int.counts) == set(as_float_with_nan.counts) == set(as_bool.counts) == {"0", "1"}
    assert as_float_with_nan.n_missing == 1


def test_profile_round_trips_through_json_and_npz(tmp_path) -> None:
    ref, cur, kinds = _frames()
    ref.loc[::9, "age"] = np.nan
    profiles = profile_frame(ref, kinds)
    save_profile(profiles, tmp_path / "p.json", tmp_path / "p.npz")
    first = ((tmp_path / "p.json").read_bytes(), (tmp_path / "p.npz").read_bytes())
    save_profile(profiles, tmp_path / "p.json", tmp_path / "p.npz")
    assert first == ((tmp_path / "p.json").read_bytes(), (tmp_path / "p.npz").read_bytes())

    loaded = load_profile(tmp_path / "p.json", tmp_path / "p.npz")
    assert np.array_equal(loaded["age"].sorted_values, profiles["age"].sorted_values)
    assert loaded["age"].quantiles == profiles["age"].quantiles
    assert (loaded["age"].n, loaded["age"].n_missing) == (4000, profiles["age"].n_missing)
    assert loaded["churn"].kind == "binary" and loaded["city"].counts == profiles["city"].counts
    before = [r.to_dict() for rs in drift.run_tests(profiles, cur).values() for r in rs]
    after = [r.to_dict() for rs in drift.run_tests(loaded, cur).values() for r in rs]
    assert before == after


def test_load_refuses_an_npz_from_another_run(tmp_path) -> None:
    ref, _, kinds = _frames()
    save_profile(profile_frame(ref, kinds), tmp_path / "a.json", tmp_path / "a.npz")
    save_profile(profile_frame(ref.iloc[::2], kinds), tmp_path / "b.json", tmp_path / "b.npz")
    with pytest.raises(ProfileError, match="different runs|values"):
        load_profile(tmp_path / "a.json", tmp_path / "b.npz")


def test_sketched_profile_stays_within_its_stored_error_bounds() -> None:
    rng = np.random.default_rng(31)
    ref, cur = rng.gamma(2.0, size=50_000), rng.gamma(2.2, size=20_000)
    exact = profile_numeric(ref, "x")
    sketch = profile_numeric(ref, "x", max_values=500)
    assert sketch.sorted_values.size == 500 and sketch.n_values == 50_000
    for test, key in (("ks", "ks"), ("wasserstein", "wasserstein")):
        approx, truth = drift.TESTS[test](sketch, cur), drift.TESTS[test](exact, cur)
        assert approx.details["approximate"]
        bound = approx.details["statistic_error_bound"]
        assert abs(approx.statistic - truth.statistic) <= bound + 1e-12
        assert bound < (0.01 if key == "ks" else 0.02)
    assert drift.psi(sketch, cur).statistic == drift.psi(exact, cur).statistic


# ------------------------------------------------------------------------ one encoding for booleans


def _encodings(flags: np.ndarray) -> dict[str, pd.Series]:
    """The same true/false values as a batch might carry them."""
    return {
        "bool": pd.Series(flags),
        "int": pd.Series(flags.astype(np.int64)),
        "string": pd.Series(np.where(flags, "True", "False")),
        "lower-string-with-nan": pd.Series(list(np.where(flags, "true", "false")) + [None]),
    }


@pytest.mark.parametrize("test", ["z_binary", "jensen_shannon", "chi2"])
def test_a_binary_column_in_another_encoding_gets_the_same_statistic(test: str) -> None:
    rng = np.random.default_rng(11)
    reference = profile_categorical(pd.Series(rng.random(3_000) < 0.4), "has_card", kind="binary")
    flags = rng.random(800) < 0.65
    results = {name: drift.TESTS[test](reference, values) for name, values in _encodings(flags).items()}
    baseline = results["bool"]
    assert baseline.statistic is not None and baseline.drifted, "0.4 -> 0.65 on 800 rows is drift"
    for name, result in results.items():
        assert result.statistic == pytest.approx(baseline.statistic, rel=1e-12), name
        assert result.drifted == baseline.drifted, name
        assert result.details.get("n_unseen_categories", 0) == 0, name
        assert not result.details.get("vanished_categories"), name


def test_a_binary_column_in_any_encoding_has_two_categories() -> None:
    rng = np.random.default_rng(12)
    as_strings = profile_categorical(pd.Series(np.where(rng.random(500) < 0.4, "TRUE", "False")), "flag", kind="binary")
    assert set(as_strings.counts) == {"0", "1"}
    reference = profile_categorical(pd.Series(rng.random(500) < 0.4), "flag", kind="binary")
    for name, values in _encodings(rng.random(200) < 0.5).items():
        counts = drift.prepare(reference, values).counts
        assert set(counts) | set(reference.counts) == {"0", "1"}, name
        assert sum(counts.values()) == 200, name
    # a categorical column keeps its labels as they are, and so does a binary one with other levels
    assert set(drift.prepare(profile_categorical(pd.Series(["True", "False"]), "c"), pd.Series([True])).counts) == {"1"}
    assert set(profile_categorical(pd.Series(["M", "F"]), "sex", kind="binary").counts) == {"F", "M"}
    assert set(profile_categorical(pd.Series(["True", "False"]), "c").counts) == {"False", "True"}


def test_a_stored_binary_profile_with_string_levels_loads_in_the_one_encoding(tmp_path) -> None:
    old = profile_categorical(pd.Series(["True", "False", "True"]), "flag", kind="categorical")
    save_profile({"flag": old}, tmp_path / "p.json", tmp_path / "p.npz")
    document = (tmp_path / "p.json").read_text().replace('"kind": "categorical"', '"kind": "binary"')
    (tmp_path / "p.json").write_text(document)
    loaded = load_profile(tmp_path / "p.json", tmp_path / "p.npz")["flag"]
    assert dict(loaded.counts) == {"0": 1, "1": 2}


def test_the_report_histogram_of_a_binary_column_has_two_bars() -> None:
    from driftline.drift.monitor import histogram

    rng = np.random.default_rng(13)
    reference = profile_categorical(pd.Series(rng.random(500) < 0.4), "flag", kind="binary")
    for values in _encodings(rng.random(200) < 0.5).values():
        assert len(histogram(reference, values).categories) == 2
