"""The report's reference histogram, read off the sorted profile, is the one counting every value gives."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.drift.monitor import HISTOGRAM_BINS, sorted_shares


def counted(values: np.ndarray, edges: np.ndarray) -> list[float]:
    """Each value into its bin; below the first edge in the first bin, at or past the last inner edge in the last."""
    bins = len(edges) - 1
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
    return [round(float(c) / values.size, 6) for c in np.bincount(idx, minlength=bins)]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("kind", ["normal", "ties", "infinities", "on-edges"])
def test_sorted_shares_equal_counting_every_value(kind: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    edges = np.linspace(-2.0, 2.0, HISTOGRAM_BINS + 1)
    values = {
        "normal": rng.normal(size=5_000),
        "ties": rng.choice([-3.0, -1.0, 0.0, 0.0, 2.0, 5.0], size=5_000),
        "infinities": np.concatenate([rng.normal(size=1_000), [np.inf, -np.inf, -np.inf]]),
        "on-edges": rng.choice(edges, size=2_000),  # every value exactly on an edge
    }[kind]
    shares = sorted_shares(np.sort(values), edges)
    assert shares == counted(values, edges)
    assert len(shares) == HISTOGRAM_BINS and abs(sum(shares) - 1.0) < 1e-4


def test_no_values_no_shares() -> None:
    assert sorted_shares(np.array([]), np.linspace(0, 1, HISTOGRAM_BINS + 1)) == [0.0] * HISTOGRAM_BINS
