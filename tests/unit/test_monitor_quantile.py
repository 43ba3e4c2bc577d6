"""Quantiles of the sorted profile are read by index, and are numpy's default ("linear") quantiles bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.drift.monitor import HISTOGRAM_SPAN
from driftline.drift.profile import PSI_QUANTILE_LEVELS, profile_numeric, sorted_quantile

LEVELS = (0.0, *HISTOGRAM_SPAN, *PSI_QUANTILE_LEVELS, 0.25, 0.75, 1 / 3, 0.999999, 1.0)


def samples() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "one value": np.array([3.5]),
        "two values": np.array([-1.0, 2.0]),
        "two equal values": np.array([4.0, 4.0]),
        "three values": np.array([0.1, 0.2, 0.7]),
        "normal": rng.normal(50.0, 10.0, 10_001),
        "ties": rng.integers(0, 4, 2_000).astype(np.float64),
        "rounded": np.round(rng.normal(0.0, 1.0, 5_000), 2),
        "constant": np.full(999, -2.5),
        "tiny and huge": rng.choice([-1e300, -1e-300, 0.0, 1e-300, 1e300], 1_000),
        "near overflow": rng.choice([-1.7e308, 1.7e308, 5.0], 101),  # b - a overflows to inf
    }


@pytest.mark.parametrize("name", list(samples()))
def test_sorted_quantile_is_np_quantile_bit_for_bit(name: str) -> None:
    ordered = np.sort(samples()[name])
    with np.errstate(over="ignore", invalid="ignore"):
        expected = np.quantile(ordered, LEVELS)
        found = sorted_quantile(ordered, LEVELS)
    assert found.dtype == expected.dtype and found.shape == expected.shape
    assert found.tobytes() == expected.tobytes(), list(zip(LEVELS, expected, found))


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 1_000])
def test_every_level_on_a_fine_grid_for_small_sizes(n: int) -> None:
    ordered = np.sort(np.random.default_rng(n).lognormal(0.0, 2.0, n))
    levels = np.linspace(0.0, 1.0, 2_001)
    assert sorted_quantile(ordered, levels).tobytes() == np.quantile(ordered, levels).tobytes()


def test_the_profile_keeps_the_quantiles_np_quantile_gives_the_raw_column() -> None:
    rng = np.random.default_rng(3)
    values = np.r_[np.round(rng.normal(0.0, 1.0, 4_000), 1), [np.nan] * 40, [np.inf, -np.inf]]
    profile = profile_numeric(values)
    finite = values[np.isfinite(values)]
    assert profile.quantiles == tuple(float(q) for q in np.unique(np.quantile(finite, PSI_QUANTILE_LEVELS)))
    q25, q75 = np.quantile(finite, (0.25, 0.75))
    assert profile.iqr == float(q75 - q25)
