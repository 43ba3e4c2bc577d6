"""KLL sketches (`monitor.sketch: kll`): within their stated bound, mergeable, stored, and read by the drift tests.

The sketch flips a random coin at each compaction (datasketches has no seed), so these tests check
bounds, never exact values. Over 60 builds of 1M floats here the worst rank error on the probes
below was 0.57% against the 1.33% bound at k=200.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from driftline.config.groups import MonitorSpec
from driftline.drift import stats as drift
from driftline.drift.ecdf import ecdf_distances
from driftline.drift.html import render_drift_html
from driftline.drift.profile import (
    ProfileError,
    SketchProfile,
    load_profile,
    profile_numeric,
    save_profile,
)
from driftline.drift.sketch import merge_sketches, sketch_frame, sketch_numeric, sorted_view
from tests.drift_samples import numeric_column, sample_report

K200_BOUND = 0.0133  # datasketches' normalized_rank_error(False) at k=200, rounded up


@pytest.fixture(scope="module")
def million() -> np.ndarray:
    return np.random.default_rng(11).lognormal(0.0, 1.0, 1_000_000)


def probes(values: np.ndarray) -> np.ndarray:
    """Every decile and 300 random points of `values`."""
    rng = np.random.default_rng(3)
    return np.concatenate((np.quantile(values, np.arange(1, 10) / 10), rng.choice(values, 300)))


def rank_errors(profile: SketchProfile, values: np.ndarray) -> np.ndarray:
    ordered = np.sort(values)
    points = probes(ordered)
    view = sorted_view(profile)
    exact_at = ordered.searchsorted(points, side="right") / ordered.size
    exact_below = ordered.searchsorted(points, side="left") / ordered.size
    return np.concatenate((np.abs(view.count_at_most(points) / view.n - exact_at),
                           np.abs(view.count_below(points) / view.n - exact_below)))


def test_the_sketch_ranks_stay_within_its_stated_bound_on_a_million_floats(million: np.ndarray) -> None:
    profile = sketch_numeric(million, "x", k=200)
    assert 0.012 < profile.error_bound <= K200_BOUND
    errors = rank_errors(profile, million)
    assert errors.max() <= profile.error_bound
    assert errors.max() > 0  # it did compact: 1M values in a few thousand items
    assert profile.sketch.dtype == np.uint8 and profile.sketch.size < 20_000
    # the stored PSI cuts are the sketch's deciles: each within the bound of its exact rank
    cut_ranks = np.sort(million).searchsorted(profile.quantiles, side="right") / million.size
    assert np.abs(cut_ranks - np.arange(1, 10) / 10).max() <= profile.error_bound


def test_twenty_merged_partition_sketches_stay_within_the_bound(million: np.ndarray) -> None:
    parts = [sketch_numeric(chunk, "x") for chunk in np.array_split(million, 20)]
    merged = merge_sketches(parts)
    assert (merged.n, merged.n_missing) == (1_000_000, 0)
    assert rank_errors(merged, million).max() <= merged.error_bound
    assert (merged.minimum, merged.maximum) == (million.min(), million.max())
    # mean and std are exact (Chan's pairwise merge), up to float rounding
    assert merged.mean == pytest.approx(np.mean(million), rel=1e-12)
    assert merged.std == pytest.approx(np.std(million), rel=1e-12)
    assert sum(merged.psi_bin_counts) == 1_000_000


def test_missing_values_are_counted_and_empty_partitions_merge() -> None:
    part = sketch_numeric(pd.Series([1.0, np.nan, np.inf, "x", 3.0], dtype=object), "a")
    empty = sketch_numeric(pd.Series([np.nan, np.nan]), "a")
    assert (part.n, part.n_missing, part.n_values) == (5, 3, 2)
    assert empty.n_values == 0 and empty.mean is None and empty.quantiles == ()
    merged = merge_sketches([empty, part, empty])
    assert (merged.n, merged.n_missing, merged.mean, merged.std) == (9, 7, 2.0, 1.0)
    assert merged.error_bound == 0.0  # two values: the sketch holds them all


def test_merging_refuses_other_columns_or_another_k() -> None:
    a, b = sketch_numeric([1.0, 2.0], "a"), sketch_numeric([1.0, 2.0], "a", k=100)
    with pytest.raises(ProfileError, match="k=200.*k=100"):
        merge_sketches([a, b])
    with pytest.raises(ProfileError, match="'a'.*'b'"):
        merge_sketches([a, sketch_numeric([1.0], "b")])
    with pytest.raises(ProfileError, match="no partition"):
        merge_sketches([])
    with pytest.raises(ProfileError, match="8..65535"):
        sketch_numeric([1.0], "a", k=4)


def test_a_sketched_profile_round_trips_through_save_and_load(tmp_path, million: np.ndarray) -> None:
    frame = pd.DataFrame({"x": million[:200_000], "region": np.where(million[:200_000] > 1, "n", "s"), "empty": np.nan})
    profiles = sketch_frame(frame, {"x": "numeric", "region": "categorical", "empty": "numeric"})
    save_profile(profiles, tmp_path / "profile.json", tmp_path / "profile.npz")
    loaded = load_profile(tmp_path / "profile.json", tmp_path / "profile.npz")
    x, back = profiles["x"], loaded["x"]
    assert isinstance(back, SketchProfile) and back.kind == "numeric"
    assert np.array_equal(back.sketch, x.sketch)
    for field in ("n", "n_missing", "k", "error_bound", "mean", "std", "m2", "minimum", "maximum",
                  "quantiles", "psi_bin_counts", "iqr"):
        assert getattr(back, field) == getattr(x, field), field
    assert loaded["region"].counts == profiles["region"].counts  # categories stay exact
    assert (loaded["empty"].n_missing, loaded["empty"].mean, loaded["empty"].quantiles) == (200_000, None, ())
    document = (tmp_path / "profile.json").read_text()
    assert '"error_bound"' in document and '"numeric_kll"' in document
    current = pd.DataFrame({"x": million[-5000:] * 1.1})
    assert [r.to_dict() for r in drift.run_tests(loaded, current)["x"]] == \
           [r.to_dict() for r in drift.run_tests(profiles, current)["x"]]


def test_a_profile_whose_sketch_does_not_match_its_json_is_refused(tmp_path) -> None:
    save_profile({"x": sketch_numeric(np.arange(5000.0), "x")}, tmp_path / "p.json", tmp_path / "p.npz")
    other = tmp_path / "other"
    other.mkdir()
    save_profile({"x": sketch_numeric(np.arange(5.0), "x")}, other / "p.json", other / "p.npz")
    with pytest.raises(ProfileError, match="different runs"):
        load_profile(tmp_path / "p.json", other / "p.npz")


@pytest.mark.parametrize("shift", [0.0, 0.03, 0.3])
def test_ks_and_wasserstein_from_the_sketch_are_within_their_bounds(million: np.ndarray, shift: float) -> None:
    reference = million[:300_000]
    current = np.random.default_rng(5).lognormal(shift, 1.0, 20_000)
    sketched, exact = sketch_numeric(reference, "x"), profile_numeric(reference, "x")
    gap = ecdf_distances(np.sort(reference), np.sort(current))
    assert gap.ks_statistic == pytest.approx(stats.ks_2samp(reference, current).statistic, abs=1e-12)
    ks = drift.ks(sketched, current)
    assert abs(ks.statistic - gap.ks_statistic) <= sketched.error_bound
    assert ks.details["statistic_error_bound"] == sketched.error_bound
    low, high = ks.details["p_value_range"]
    assert low <= drift.ks(exact, current).p_value <= high
    w = drift.wasserstein(sketched, current)
    assert abs(w.details["distance"] - gap.wasserstein) <= w.details["statistic_error_bound"] * sketched.std
    psi, psi_exact = drift.psi(sketched, current), drift.psi(exact, current)
    assert abs(psi.statistic - psi_exact.statistic) < 0.02
    assert {r.details["sketch"] for r in (ks, w, psi)} == {"kll"}


def test_the_result_says_when_the_statistic_is_within_the_bound_of_the_threshold(million: np.ndarray) -> None:
    reference = sketch_numeric(million[:300_000], "x")
    current = np.random.default_rng(5).lognormal(0.3, 1.0, 20_000)
    psi = drift.psi(reference, current)
    bound = psi.details["statistic_error_bound"]
    assert bound > 0
    assert drift.psi(reference, current, threshold=psi.statistic + bound / 2).details["within_error_bound"]
    assert not drift.psi(reference, current, threshold=psi.statistic + 2 * bound).details["within_error_bound"]
    assert drift.ks(reference, current, alpha=0.05).details["within_error_bound"] is False  # D ≈ 0.12: far past


def test_a_sketch_holding_every_value_gives_the_exact_tests() -> None:
    rng = np.random.default_rng(8)
    reference, current = rng.normal(size=150), rng.normal(0.3, 1.0, size=400)
    sketched = sketch_numeric(reference, "x")
    assert sketched.error_bound == 0.0
    exact = profile_numeric(reference, "x")
    ks, ks_exact = drift.ks(sketched, current), drift.ks(exact, current)
    assert (ks.statistic, ks.details["method"]) == (ks_exact.statistic, "exact")
    assert ks.p_value == pytest.approx(ks_exact.p_value, rel=1e-12)
    w, w_exact = drift.wasserstein(sketched, current), drift.wasserstein(exact, current)
    assert w.statistic == pytest.approx(w_exact.statistic, rel=1e-12)
    assert not ks.details["within_error_bound"] and not w.details["within_error_bound"]


def test_monitor_sketch_k_is_bounded() -> None:
    assert MonitorSpec().sketch == "exact" and MonitorSpec().sketch_k == 200
    assert MonitorSpec(sketch="kll", sketch_k=1000).sketch_k == 1000
    with pytest.raises(ValidationError):
        MonitorSpec(sketch_k=4)
    with pytest.raises(ValidationError):
        MonitorSpec(sketch="tdigest")


def test_the_page_shows_a_sketched_columns_error_bound() -> None:
    report = sample_report()
    sketch = {"method": "kll", "k": 200, "rank_error": 0.013295, "statistic_error_bound": 0.124,
              "within_error_bound": True}
    report["columns"] = [numeric_column("income", 1.2, True, sketch=sketch), numeric_column("age", 0.2, False)]
    page = render_drift_html(report)
    income = page.split('id="col-income"')[1].split("</details>")[0]
    assert "KLL sketch (k=200), rank error ≤ 1.33%" in income
    assert "wasserstein statistic ± 0.124" in income and "within the error bound" in income
    assert "KLL sketch" not in page.split('id="col-age"')[1].split("</details>")[0]
