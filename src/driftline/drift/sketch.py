"""KLL sketches for numeric columns too big to sort (`monitor.sketch: kll`).

A `SketchProfile` summarises a numeric reference column with an Apache DataSketches
``kll_doubles_sketch``: a few thousand weighted items whatever the column's size, mergeable
across partitions. `sketch_numeric` builds one from a partition's values, `merge_sketches`
combines partitions (in list order), and the drift tests (`driftline.drift.stats`) read the
merged sketch through `sorted_view`, vectorised in numpy.

What it trades, and the bound. Each rank the sketch answers, F̂(x), is within `error_bound` (ε,
the library's ``normalized_rank_error(False)``: 1.33% at k=200, with 99% confidence) of the
exact F(x); min and max are exact. Against an exact current sample that gives:

- KS: |D̂ − D| ≤ ε (D is a sup over ranks, each off by at most ε);
- Wasserstein-1: |Ŵ − W| ≤ ∫|F̂ − F| dx ≤ ε·(max − min), divided by the reference std as the
  statistic is — a worst case that is loose for long-tailed columns (observed errors are far
  smaller);
- PSI: the reference bin shares come from sketch ranks at the sketch's deciles; the bound is the
  first-order change of PSI when each cut's rank moves by ε (not a strict bound).

A sketch that has not compacted yet (fewer values than it holds) is exact: its bound is 0.

Exact parts: n, n_missing, min, max, mean and std. Mean and the sum of squared deviations (m2)
are merged with Chan et al.'s pairwise formula in the order of the parts, so one order gives
the same floats every time; a different partitioning can differ from the single-process
profile's ``np.mean``/``np.std`` in the last bits (float addition is not associative).

Not byte-reproducible: the library flips a random coin at each compaction and offers no seed
(apache/datasketches-cpp#361), so two builds of the same column give different bytes, and
statistics that differ within the bound.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftline.drift.ecdf import EcdfDistances
from driftline.drift.profile import (
    COLUMN_KINDS,
    PSI_QUANTILE_LEVELS,
    Profile,
    ProfileError,
    SketchProfile,
    finite_or_none,
    finite_sorted,
    profile_categorical,
)

DEFAULT_K = 200
MIN_K, MAX_K = 8, 65535


def _new_sketch(k: int) -> Any:
    from datasketches import kll_doubles_sketch

    if not MIN_K <= k <= MAX_K:
        raise ProfileError(f"KLL k must be in {MIN_K}..{MAX_K}, got {k}",
                           hint="set monitor.sketch_k between 8 and 65535 (200 gives a 1.33% rank error)")
    return kll_doubles_sketch(k)


def _load(profile: SketchProfile) -> Any:
    from datasketches import kll_doubles_sketch

    return kll_doubles_sketch.deserialize(profile.sketch.tobytes())


# ------------------------------------------------------------------------------- building


def sketch_numeric(values: Any, name: str = "", k: int = DEFAULT_K) -> SketchProfile:
    """Sketch one partition of a numeric column (missing as in `profile.finite_sorted`)."""
    sketch = _new_sketch(k)
    ordered, n, n_missing = finite_sorted(values)
    if ordered.size == 0:
        return _finish(name, n, n_missing, sketch, None, None)
    sketch.update(ordered)
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: inf becomes None
        mean = float(np.mean(ordered))
        m2 = float(np.sum(np.square(ordered - mean)))
    return _finish(name, n, n_missing, sketch, mean, m2)


def merge_sketches(parts: Sequence[SketchProfile]) -> SketchProfile:
    """One profile of a column from its partitions' sketches, merged in list order.

    Raises `ProfileError` when there is nothing to merge, or the parts disagree on the column or k.
    """
    if not parts:
        raise ProfileError("no partition sketches to merge")
    first = parts[0]
    odd = [p for p in parts if p.name != first.name or p.k != first.k]
    if odd:
        raise ProfileError(f"cannot merge sketches of column {first.name!r} (k={first.k}) with "
                           f"{odd[0].name!r} (k={odd[0].k})",
                           hint="merge the partitions of one column, all sketched with the same monitor.sketch_k")
    sketch = _new_sketch(first.k)
    n = n_missing = 0
    count, mean, m2 = 0, None, None
    for part in parts:
        n += part.n
        n_missing += part.n_missing
        if part.n_values == 0:
            continue
        sketch.merge(_load(part))
        count, mean, m2 = _combine(count, mean, m2, part.n_values, part.mean, part.m2)
    return _finish(first.name, n, n_missing, sketch, mean, m2)


def _combine(n_a: int, mean_a: float | None, m2_a: float | None, n_b: int, mean_b: float | None,
             m2_b: float | None) -> tuple[int, float | None, float | None]:
    """Chan et al.'s pairwise update of (count, mean, sum of squared deviations); None stays None (overflow)."""
    if n_a == 0:
        return n_b, mean_b, m2_b
    total = n_a + n_b
    if mean_a is None or mean_b is None or m2_a is None or m2_b is None:
        return total, None, None
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / total)
    m2 = m2_a + m2_b + delta * delta * (n_a * n_b / total)
    return total, finite_or_none(mean), finite_or_none(m2)


def _finish(name: str, n: int, n_missing: int, sketch: Any, mean: float | None, m2: float | None) -> SketchProfile:
    raw = np.frombuffer(sketch.serialize(), dtype=np.uint8).copy()
    k = int(sketch.k)
    if sketch.is_empty():
        return SketchProfile(name=name, n=n, n_missing=n_missing, sketch=raw, k=k, error_bound=0.0, mean=None,
                             std=None, m2=None, minimum=None, maximum=None, quantiles=(), psi_bin_counts=())
    view = _view_of(sketch)
    edges = tuple(float(q) for q in np.unique(sketch.get_quantiles(list(PSI_QUANTILE_LEVELS))))
    below = view.count_at_most(np.asarray(edges))
    counts = np.diff(np.concatenate(([0], below, [view.n])))
    q25, q75 = sketch.get_quantiles([0.25, 0.75])
    n_values = n - n_missing
    std = math.sqrt(m2 / n_values) if m2 is not None and n_values else None
    return SketchProfile(
        name=name, n=n, n_missing=n_missing, sketch=raw, k=k,
        error_bound=float(sketch.normalized_rank_error(False)) if sketch.is_estimation_mode() else 0.0,
        mean=finite_or_none(mean), std=finite_or_none(std), m2=finite_or_none(m2),
        minimum=float(sketch.get_min_value()), maximum=float(sketch.get_max_value()),
        quantiles=edges, psi_bin_counts=tuple(int(c) for c in counts), iqr=finite_or_none(q75 - q25),
    )


def sketch_frame(df: pd.DataFrame, kinds: Mapping[str, str], k: int = DEFAULT_K) -> dict[str, Profile]:
    """`profile.profile_frame` with numeric columns sketched (categories stay exact counts: they are small)."""
    problems = [f"column {c!r} is not in the frame" for c in kinds if c not in df.columns]
    problems += [f"column {c!r}: kind {kind!r} is not one of {', '.join(COLUMN_KINDS)}"
                 for c, kind in kinds.items() if kind not in COLUMN_KINDS]
    if problems:
        raise ProfileError("; ".join(problems))
    return {column: sketch_numeric(df[column], column, k) if kinds[column] == "numeric"
            else profile_categorical(df[column], column, kind=kinds[column]) for column in sorted(kinds)}


# ------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class SortedView:
    """The sketch's distribution: distinct retained items, sorted, with the weight at or below each."""

    items: np.ndarray
    cumulative: np.ndarray
    n: int

    def count_at_most(self, x: np.ndarray) -> np.ndarray:
        """Estimated number of reference values ≤ each x (the sketch's inclusive rank · n)."""
        index = self.items.searchsorted(x, side="right")
        return np.where(index > 0, self.cumulative[np.maximum(index - 1, 0)], 0)

    def count_below(self, x: np.ndarray) -> np.ndarray:
        """Estimated number of reference values < each x (the exclusive rank · n)."""
        index = self.items.searchsorted(x, side="left")
        return np.where(index > 0, self.cumulative[np.maximum(index - 1, 0)], 0)


def _view_of(sketch: Any) -> SortedView:
    # The weights come from the library's own ranks: iterating a merged sketch reports weight 1
    # for every item (datasketches 5.2), while get_cdf is right.
    items = np.unique(np.fromiter((item for item, _ in sketch), dtype=np.float64))
    ranks = np.asarray(sketch.get_cdf(items.tolist(), True)[:-1], dtype=np.float64)
    return SortedView(items=items, cumulative=np.rint(ranks * sketch.n).astype(np.int64), n=int(sketch.n))


_VIEWS: weakref.WeakKeyDictionary[SketchProfile, SortedView] = weakref.WeakKeyDictionary()


def sorted_view(profile: SketchProfile) -> SortedView:
    """The profile's sketch as a `SortedView` (deserialised once per profile object)."""
    view = _VIEWS.get(profile)
    if view is None:
        view = _VIEWS[profile] = _view_of(_load(profile))
    return view


def exact_values(profile: SketchProfile) -> np.ndarray | None:
    """Every reference value, sorted, when the sketch has not compacted yet (bound 0); else None."""
    if profile.error_bound != 0.0 or profile.n_values == 0:
        return None
    view = sorted_view(profile)
    return np.repeat(view.items, np.diff(np.concatenate(([0], view.cumulative))))


def quantiles(profile: SketchProfile, levels: Sequence[float]) -> np.ndarray:
    """Reference quantiles at `levels` from the sketch."""
    return np.asarray(_load(profile).get_quantiles(list(levels)), dtype=np.float64)


def histogram_shares(profile: SketchProfile, edges: np.ndarray) -> list[float]:
    """Reference shares on the report's bins [e0, e1), …, [e_last-1, e_last]; values outside fall in the outer bins."""
    view = sorted_view(profile)
    inner = view.count_below(np.asarray(edges[1:-1], dtype=np.float64))
    counts = np.diff(np.concatenate(([0], inner, [view.n])))
    return [round(float(c) / view.n, 6) for c in counts]


def sketch_distances(profile: SketchProfile, current_sorted: np.ndarray) -> EcdfDistances:
    """KS D and Wasserstein-1 of the sketch's distribution against an exact, sorted, finite sample.

    The current ECDF is a step at each distinct current value c_i, so the sup of F_cur − F̂ is at
    some c_i (F̂ inclusive there) and the sup of F̂ − F_cur is just below some c_i (F̂ exclusive,
    F_cur of the value before). Wasserstein integrates |F̂ − F_cur| over the union of steps.
    """
    view = sorted_view(profile)
    m = current_sorted.size
    last_of_run = np.concatenate((current_sorted[1:] != current_sorted[:-1], [True]))
    points = current_sorted[last_of_run]
    f_cur = (np.flatnonzero(last_of_run) + 1) / m
    f_ref_at = view.count_at_most(points) / view.n
    f_ref_before = view.count_below(points) / view.n
    above = f_ref_before - np.concatenate(([0.0], f_cur[:-1]))  # F̂ − F_cur just below each point
    under = f_cur - f_ref_at  # F_cur − F̂ at each point
    i_above, i_under = int(np.argmax(above)), int(np.argmax(under))
    largest, below = float(np.clip(above[i_above], 0.0, 1.0)), float(np.clip(under[i_under], 0.0, 1.0))

    grid = np.union1d(view.items, points)
    gap = view.count_at_most(grid[:-1]) / view.n - current_sorted.searchsorted(grid[:-1], side="right") / m
    wasserstein = float(np.sum(np.abs(gap) * np.diff(grid)))
    if below > largest:
        return EcdfDistances(below, float(points[i_under]), -1, wasserstein)
    return EcdfDistances(largest, float(points[i_above]), 1, wasserstein)


# ---------------------------------------------------------------------------------- bounds


def wasserstein_bound(profile: SketchProfile) -> float:
    """Worst-case error of the raw Wasserstein-1 from the sketch: ε·(max − min)."""
    if profile.minimum is None or profile.maximum is None:
        return 0.0
    return profile.error_bound * (profile.maximum - profile.minimum)


def psi_bound(expected: np.ndarray, actual: np.ndarray, error_bound: float) -> float:
    """First-order change of PSI when the reference rank at each interior cut moves by `error_bound`.

    A bin share is the difference of two ranks, e_i = R_i − R_(i-1); ∂PSI/∂e_i = 1 − a_i/e_i −
    ln(a_i/e_i), so moving R_j by ε_j changes PSI by ε_j·(g_j − g_(j+1)).
    """
    gradient = 1.0 - actual / expected - np.log(actual / expected)
    return float(error_bound * np.sum(np.abs(np.diff(gradient))))

