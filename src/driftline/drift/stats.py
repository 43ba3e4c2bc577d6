"""Drift tests: compare a current column with its reference profile.

Every test is a function ``test(reference, current, **params) -> DriftResult`` registered in
`TESTS` under the name used in YAML. `reference` is a profile from
`driftline.drift.profile`; `current` is the column's raw values (array, list, Series) or a
sample from `prepare` — preparing once lets the numeric tests share one sort and one merge.

Numbers match scipy (checked in tests/unit/test_drift_stats.py):

========================  =====================================================================
``ks``                    D and p-value of ``scipy.stats.ks_2samp`` (two-sided). ``method="auto"``
                          mirrors scipy: exact p when both samples have ≤ 10 000 values, else
                          the asymptotic ``kstwo.sf(D, round(n·m/(n+m)))``.
``wasserstein``           ``scipy.stats.wasserstein_distance``, divided by the reference std
                          (IQR if the std is not finite; unnormalised and flagged if constant).
``psi``                   PSI on deduplicated reference deciles, ε-smoothed empty bins.
``chi2``                  ``scipy.stats.chi2_contingency`` on the 2×K table (Yates for 2×2).
``jensen_shannon``        ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.
``z_binary``              pooled two-proportion z-test (z² equals χ² without Yates).
``missing_share``         rise in the missing share, one-sided two-proportion z-test.
========================  =====================================================================

A sketched reference (`SketchProfile`, ``monitor.sketch: kll``) runs the same numeric tests from
its KLL sketch (`driftline.drift.sketch`): the KS statistic is then within the sketch's rank error
ε of the exact one, and each result's details carry ``sketch``, ``rank_error_bound``,
``statistic_error_bound`` and ``within_error_bound`` (true when the statistic, or for KS the
p-value range over D ± ε, is close enough to the threshold that the exact reference could decide
otherwise).

Data problems never raise: an empty or all-missing column, or a reference without values,
gives a result with ``statistic=None``, ``drifted=False`` and the reason in ``details``
(``missing_share`` then carries the signal). Wiring mistakes — a test on the wrong column
kind, an unknown test name — raise `DriftTestError`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from driftline.drift import sketch as kll
from driftline.drift.ecdf import EcdfDistances, ecdf_distances
from driftline.drift.profile import (
    CategoricalProfile,
    NumericProfile,
    Profile,
    SketchProfile,
    binary_counts,
    category_counts,
    finite_sorted,
    psi_bin_counts,
)
from driftline.errors import DriftlineError
from driftline.jsonable import jsonable

#: scipy's ks_2samp(method="auto") is exact up to this many values per sample.
KS_EXACT_MAX_N = 10_000
#: Evidently's cut-over from p-value tests to distances (see default_test).
SMALL_REFERENCE_MAX_ROWS = 1_000
#: Above this effective sample size the Smirnov tail sum is evaluated vectorised (see
#: kstwo_sf); below it scipy is called directly.
_FAST_SMIRNOV_MIN_N = 10_000
_SCIPY_SMIRNOV_MAX_N = 1_000_000
_MAX_LISTED_CATEGORIES = 20
#: Profiles of numeric columns: every value (or a sample of order statistics), or a KLL sketch.
NUMERIC_PROFILES = (NumericProfile, SketchProfile)


class DriftTestError(DriftlineError, ValueError):
    """A drift test was wired wrongly: unknown name, or the wrong kind of column."""


# ------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class DriftResult:
    """Outcome of one test on one column.

    `threshold` is compared with `p_value` (drift when p < threshold) for the tests whose
    `TESTS[name].decides_on == "p_value"`, and with `statistic` (drift when statistic ≥
    threshold) for the others. `statistic is None` means the test could not run; the reason is
    in ``details["reason"]``.
    """

    test: str
    column: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def computed(self) -> bool:
        return self.statistic is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: sorted detail keys, non-finite floats (overflow) as None."""
        return jsonable(
            {
                "test": self.test,
                "column": self.column,
                "statistic": self.statistic,
                "p_value": self.p_value,
                "threshold": self.threshold,
                "drifted": self.drifted,
                "details": dict(sorted(self.details.items())),
            }
        )


def _skipped(test: str, column: str, threshold: float, reason: str, **details: Any) -> DriftResult:
    return DriftResult(test, column, None, None, threshold, False, {"reason": reason, **details})


# ------------------------------------------------------------------------------- samples


@dataclass(frozen=True, eq=False)
class NumericSample:
    """A current numeric column, sorted once; caches its ECDF comparison per reference."""

    n: int
    n_missing: int
    sorted_values: np.ndarray
    _ecdf_cache: dict[int, tuple[NumericProfile | SketchProfile, EcdfDistances]] = field(
        default_factory=dict, init=False, repr=False
    )

    @property
    def n_values(self) -> int:
        return int(self.sorted_values.size)

    def distances_to(self, reference: NumericProfile | SketchProfile) -> EcdfDistances:
        """KS and Wasserstein against `reference`, computed once per (sample, reference)."""
        cached = self._ecdf_cache.get(id(reference))
        if cached is not None and cached[0] is reference:
            return cached[1]
        if isinstance(reference, SketchProfile):
            result = kll.sketch_distances(reference, self.sorted_values)
        else:
            result = ecdf_distances(reference.sorted_values, self.sorted_values)
        # Keeping `reference` in the value pins its id for as long as the entry lives.
        self._ecdf_cache[id(reference)] = (reference, result)
        return result


@dataclass(frozen=True)
class CategoricalSample:
    """A current categorical column as counts per normalised label."""

    n: int
    n_missing: int
    counts: Mapping[str, int]

    @property
    def n_values(self) -> int:
        return self.n - self.n_missing


Sample = NumericSample | CategoricalSample


def numeric_sample(values: Any) -> NumericSample:
    ordered, n, n_missing = finite_sorted(values)
    return NumericSample(n=n, n_missing=n_missing, sorted_values=ordered)


def categorical_sample(values: Any, *, binary: bool = False) -> CategoricalSample:
    """Current values as counts per label; `binary` puts true/false in any encoding under "1"/"0"."""
    counts, n, n_missing = category_counts(values, binary=binary)
    return CategoricalSample(n=n, n_missing=n_missing, counts=counts)


def absent_sample(reference: Profile, n_rows: int) -> Sample:
    """The sample of a column that is missing from the current frame: all rows missing."""
    if isinstance(reference, NUMERIC_PROFILES):
        return NumericSample(n=n_rows, n_missing=n_rows, sorted_values=np.empty(0))
    return CategoricalSample(n=n_rows, n_missing=n_rows, counts={})


def prepare(reference: Profile, values: Any) -> Sample:
    """Prepare current values for the tests of `reference` (no-op for a prepared sample).

    For a binary reference the current labels take the binary encoding (see `binary_label`), so
    booleans, 0/1 numbers and "True"/"false" strings all count as the same two levels.
    """
    if isinstance(reference, NUMERIC_PROFILES):
        return values if isinstance(values, NumericSample) else numeric_sample(values)
    binary = reference.kind == "binary"
    if isinstance(values, CategoricalSample):
        return replace(values, counts=binary_counts(values.counts)) if binary else values
    return categorical_sample(values, binary=binary)


def _numeric_pair(test: str, reference: Any, current: Any) -> tuple[NumericProfile | SketchProfile, NumericSample]:
    if not isinstance(reference, NUMERIC_PROFILES):
        raise DriftTestError(f"{test} needs a numeric column, {reference.name!r} is {reference.kind}")
    sample = prepare(reference, current)
    if not isinstance(sample, NumericSample):
        raise DriftTestError(f"{test}: current values for {reference.name!r} are not numeric")
    return reference, sample


def _categorical_pair(
    test: str, reference: Any, current: Any
) -> tuple[CategoricalProfile, CategoricalSample]:
    if not isinstance(reference, CategoricalProfile):
        raise DriftTestError(
            f"{test} needs a categorical or binary column, {reference.name!r} is {reference.kind}"
        )
    sample = prepare(reference, current)
    if not isinstance(sample, CategoricalSample):
        raise DriftTestError(f"{test}: current values for {reference.name!r} are not categorical")
    return reference, sample


def _no_values_reason(reference: Profile, current: Sample) -> str | None:
    if reference.n_values == 0:
        return "the reference column has no non-missing values"
    if current.n == 0:
        return "the current column is empty"
    if current.n_values == 0:
        return "the current column has no non-missing values"
    return None


def kstwo_sf(d: float, n: float) -> float:
    """``scipy.stats.kstwo.sf(d, n)``, fast for large n.

    For large n and p below ≈ 0.02, scipy evaluates 2·smirnov(n, d) with a scalar loop over
    ~n terms (≈ 0.45 s at n = 500 000, i.e. 1M vs 1M rows). Here the same Birnbaum–Tingey sum
    smirnov(n, d) = d·Σ_j C(n, j)(1 − d − j/n)^(n−j)(d + j/n)^(j−1) is evaluated in log space
    over the terms within e^-50 of the largest, sampling every ⌊√n/16⌋-th term: the summand
    is smooth over thousands of j and negligible at both ends, where the sampled sum is
    spectrally accurate. It agrees with scipy to ~1e-9 relative, ≤ 3e-11 absolute (tested
    against scipy). Above n = 10⁶ scipy itself switches to the approximation
    exp(−(6nd + 1)²/18n), reproduced as is. Every other branch calls scipy.
    """
    from scipy import stats

    t = n * d
    if n > _FAST_SMIRNOV_MIN_N and 0.0 < d < 1.0 and 1.0 < t < n - 1.0:
        nx2 = t * d
        if d >= 0.5 or 2.2 <= nx2 < 370.0:
            one_sided = _smirnov_sf_large(n, d) if n > _SCIPY_SMIRNOV_MAX_N else _smirnov_sum(int(n), d)
            return float(np.clip(2.0 * one_sided, 0.0, 1.0))
        if nx2 >= 370.0:
            return 0.0
    return float(stats.kstwo.sf(d, n))


def _smirnov_sf_large(n: float, d: float) -> float:
    """scipy's own shortcut for smirnov(n, d) when n > 10⁶ (xsf cephes kolmogorov.h)."""
    log_p = -((6.0 * n * d + 1.0) ** 2) / 18.0 / n
    return math.exp(log_p) if log_p < -math.log(2.0) else 1.0 + math.expm1(log_p)


def _smirnov_log_terms(n: int, d: float, j: np.ndarray) -> np.ndarray:
    from scipy.special import gammaln

    return (
        gammaln(n + 1.0)
        - gammaln(j + 1.0)
        - gammaln(n - j + 1.0)
        + (n - j) * np.log(1.0 - d - j / n)
        + (j - 1.0) * np.log(d + j / n)
    )


def _smirnov_sum(n: int, d: float) -> float:
    last = math.floor(n * (1.0 - d))
    if 1.0 - d - last / n <= 0.0:  # that term has a zero base: it is 0
        last -= 1
    coarse = np.unique(np.round(np.linspace(0.0, float(last), 2049)))
    log_coarse = _smirnov_log_terms(n, d, coarse)
    inside = np.flatnonzero(log_coarse > log_coarse.max() - 50.0)
    lo = coarse[max(int(inside[0]) - 1, 0)]
    hi = coarse[min(int(inside[-1]) + 1, coarse.size - 1)]
    step = max(1, int(math.sqrt(n) / 16.0))
    log_terms = _smirnov_log_terms(n, d, np.arange(lo, hi + 1.0, step, dtype=np.float64))
    top = float(log_terms.max())
    with np.errstate(under="ignore"):
        return step * d * math.exp(top) * float(np.sum(np.exp(log_terms - top)))


def ks_p_value(statistic: float, n1: int, n2: int) -> float:
    """Asymptotic two-sided p-value exactly as ``ks_2samp(method="asymp")`` computes it."""
    larger, smaller = sorted((float(n1), float(n2)), reverse=True)
    effective_n = float(np.round(larger * smaller / (larger + smaller)))
    return float(np.clip(kstwo_sf(statistic, effective_n), 0.0, 1.0))


# ---------------------------------------------------------------------------- numeric tests


def ks(
    reference: Profile,
    current: Any,
    *,
    alpha: float = 0.05,
    method: Literal["auto", "asymp", "exact"] = "auto",
) -> DriftResult:
    """Two-sample Kolmogorov–Smirnov test; drift when p < alpha.

    D is an effect size worth reporting on its own: at 1M vs 1M rows a D of 0.002 is
    already significant at 5 %.
    """
    ref, cur = _numeric_pair("ks", reference, current)
    reason = _no_values_reason(ref, cur)
    if reason:
        return _skipped("ks", ref.name, alpha, reason)
    gap = cur.distances_to(ref)
    n_ref, n_cur = ref.n_values, cur.n_values
    details: dict[str, Any] = {
        "n_reference": n_ref,
        "n_current": n_cur,
        "statistic_location": gap.ks_location,
        "statistic_sign": gap.ks_sign,
    }
    every_value = _every_value(ref)
    use_exact = method == "exact" or (method == "auto" and max(n_ref, n_cur) <= KS_EXACT_MAX_N)
    if use_exact and every_value is not None:
        p_value, used = _ks_exact_p_value(every_value, cur.sorted_values)
    else:
        p_value, used = ks_p_value(gap.ks_statistic, n_ref, n_cur), "asymp"
    details["method"] = used
    if isinstance(ref, SketchProfile):
        bound = ref.error_bound
        high = ks_p_value(max(gap.ks_statistic - bound, 0.0), n_ref, n_cur) if bound else p_value
        low = ks_p_value(min(gap.ks_statistic + bound, 1.0), n_ref, n_cur) if bound else p_value
        details.update(_sketch_details(ref, bound, low < alpha <= high))
        details["p_value_range"] = [low, high]
    elif ref.approximation is not None:
        details["approximate"] = True
        details["statistic_error_bound"] = ref.approximation["ks"]
    return DriftResult("ks", ref.name, gap.ks_statistic, p_value, alpha, p_value < alpha, details)


def _every_value(ref: NumericProfile | SketchProfile) -> np.ndarray | None:
    """The reference's values, all of them, sorted (None for a sample of order statistics or a compacted sketch)."""
    if isinstance(ref, SketchProfile):
        return kll.exact_values(ref)
    return ref.sorted_values if ref.approximation is None else None


def _sketch_details(ref: SketchProfile, bound: float, within: bool) -> dict[str, Any]:
    return {"sketch": "kll", "sketch_k": ref.k, "rank_error_bound": ref.error_bound,
            "statistic_error_bound": bound, "within_error_bound": bool(within)}


def _ks_exact_p_value(a: np.ndarray, b: np.ndarray) -> tuple[float, str]:
    from scipy import stats

    # scipy warns and falls back to asymp when the exact computation fails; record that
    # instead of letting the warning escape.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        result = stats.ks_2samp(a, b, method="exact")
    fell_back = any(issubclass(w.category, RuntimeWarning) for w in caught)
    return float(result.pvalue), "asymp (exact failed)" if fell_back else "exact"


def wasserstein(reference: Profile, current: Any, *, threshold: float = 0.1) -> DriftResult:
    """Wasserstein-1 distance divided by the reference std; drift when ≥ threshold.

    The scale falls back to the IQR when the std is not finite. A constant reference has no
    scale: the raw distance is reported, ``details["constant_reference"]`` is set and any
    movement (distance > 0) counts as drift.
    """
    ref, cur = _numeric_pair("wasserstein", reference, current)
    reason = _no_values_reason(ref, cur)
    if reason:
        return _skipped("wasserstein", ref.name, threshold, reason)
    distance = cur.distances_to(ref).wasserstein
    details: dict[str, Any] = {"distance": distance, "n_reference": ref.n_values, "n_current": cur.n_values}
    scale, normalised_by = _scale(ref)
    if isinstance(ref, SketchProfile):
        bound = kll.wasserstein_bound(ref) / (scale or 1.0)
        statistic = distance / scale if scale else distance
        near = abs(statistic - threshold) <= bound if scale else distance <= bound
        details.update(_sketch_details(ref, bound, bound > 0.0 and near))
    elif ref.approximation is not None:
        details["approximate"] = True
        bound = ref.approximation["wasserstein"]
        details["statistic_error_bound"] = bound / scale if scale else bound
    if scale is None:
        details.update(normalised_by="none", constant_reference=True)
        return DriftResult("wasserstein", ref.name, distance, None, threshold, distance > 0.0, details)
    statistic = distance / scale
    details.update(normalised_by=normalised_by, scale=scale)
    return DriftResult("wasserstein", ref.name, statistic, None, threshold, statistic >= threshold, details)


def _scale(ref: NumericProfile | SketchProfile) -> tuple[float | None, str]:
    if ref.std is not None and ref.std > 0.0:
        return ref.std, "std"
    if ref.iqr is not None and ref.iqr > 0.0:
        return ref.iqr, "iqr"
    return None, "none"


def psi(
    reference: Profile,
    current: Any,
    *,
    threshold: float = 0.25,
    moderate: float = 0.1,
    epsilon: float = 1e-4,
) -> DriftResult:
    """Population stability index on the reference's decile bins; drift when ≥ threshold.

    Bins are (-inf, q1], (q1, q2], …, (q_last, +inf) with the deduplicated reference deciles
    as cut points. Empty bins get share `epsilon`, then each side is renormalised. Reading:
    < `moderate` stable, < `threshold` moderate, above significant. With no drift PSI is about
    (k − 1)(1/n + 1/m) (``details["expected_without_drift"]``): raise the threshold for small
    batches.
    """
    ref, cur = _numeric_pair("psi", reference, current)
    reason = _no_values_reason(ref, cur)
    if reason:
        return _skipped("psi", ref.name, threshold, reason)
    expected = _smoothed_shares(np.asarray(ref.psi_bin_counts, dtype=np.float64), epsilon)
    actual = _smoothed_shares(
        np.asarray(psi_bin_counts(cur.sorted_values, ref.quantiles), dtype=np.float64), epsilon
    )
    statistic = float(np.sum((actual - expected) * np.log(actual / expected)))
    k = expected.size
    level = "stable" if statistic < moderate else "moderate" if statistic < threshold else "significant"
    details = {
        "bins": k,
        "level": level,
        "epsilon": epsilon,
        "expected_without_drift": (k - 1) * (1.0 / ref.n_values + 1.0 / cur.n_values),
        "reference_shares": [float(x) for x in expected],
        "current_shares": [float(x) for x in actual],
    }
    if isinstance(ref, SketchProfile):
        bound = kll.psi_bound(expected, actual, ref.error_bound)
        details.update(_sketch_details(ref, bound, bound > 0.0 and abs(statistic - threshold) <= bound))
    return DriftResult("psi", ref.name, statistic, None, threshold, statistic >= threshold, details)


def _smoothed_shares(counts: np.ndarray, epsilon: float) -> np.ndarray:
    shares = counts / counts.sum()
    shares[shares == 0.0] = epsilon
    return shares / shares.sum()


# ------------------------------------------------------------------------ categorical tests


def _category_table(
    ref: CategoricalProfile, cur: CategoricalSample
) -> tuple[list[str], np.ndarray, np.ndarray]:
    labels = sorted(
        label
        for label in set(ref.counts) | set(cur.counts)
        if ref.counts.get(label, 0) + cur.counts.get(label, 0) > 0
    )
    expected = np.array([ref.counts.get(label, 0) for label in labels], dtype=np.int64)
    observed = np.array([cur.counts.get(label, 0) for label in labels], dtype=np.int64)
    return labels, expected, observed


def _category_changes(labels: list[str], ref_counts: np.ndarray, cur_counts: np.ndarray) -> dict[str, Any]:
    """Categories seen only now (a signal of their own) and categories that vanished."""
    unseen = [(label, int(c)) for label, r, c in zip(labels, ref_counts, cur_counts) if r == 0]
    vanished = [label for label, r, c in zip(labels, ref_counts, cur_counts) if c == 0]
    unseen.sort(key=lambda item: (-item[1], item[0]))
    total = int(cur_counts.sum())
    return {
        "unseen_categories": dict(unseen[:_MAX_LISTED_CATEGORIES]),
        "n_unseen_categories": len(unseen),
        "unseen_share": (sum(c for _, c in unseen) / total) if total else 0.0,
        "vanished_categories": vanished[:_MAX_LISTED_CATEGORIES],
        "n_vanished_categories": len(vanished),
    }


def chi2(reference: Profile, current: Any, *, alpha: float = 0.05, correction: bool = True) -> DriftResult:
    """χ² homogeneity test on the 2×K table of category counts; drift when p < alpha.

    Categories absent on both sides are dropped; one category left gives χ² = 0, p = 1.
    Yates' correction applies to 2×2 tables, as in scipy's default.
    """
    from scipy import stats

    ref, cur = _categorical_pair("chi2", reference, current)
    reason = _no_values_reason(ref, cur)
    if reason:
        return _skipped("chi2", ref.name, alpha, reason)
    labels, ref_counts, cur_counts = _category_table(ref, cur)
    details: dict[str, Any] = {"n_reference": ref.n_values, "n_current": cur.n_values}
    details.update(_category_changes(labels, ref_counts, cur_counts))
    if len(labels) < 2:
        statistic, p_value, dof = 0.0, 1.0, 0
    else:
        outcome = stats.chi2_contingency(np.vstack((ref_counts, cur_counts)), correction=correction)
        statistic, p_value, dof = float(outcome.statistic), float(outcome.pvalue), int(outcome.dof)
    details["dof"] = dof
    return DriftResult("chi2", ref.name, statistic, p_value, alpha, p_value < alpha, details)


def jensen_shannon(reference: Profile, current: Any, *, threshold: float = 0.1) -> DriftResult:
    """Jensen–Shannon distance (base 2, in [0, 1]) of the category shares; drift when ≥ threshold."""
    from scipy.special import rel_entr

    ref, cur = _categorical_pair("jensen_shannon", reference, current)
    reason = _no_values_reason(ref, cur)
    if reason:
        return _skipped("jensen_shannon", ref.name, threshold, reason)
    labels, ref_counts, cur_counts = _category_table(ref, cur)
    # Same operations as scipy.spatial.distance.jensenshannon(p, q, base=2).
    p = ref_counts / np.sum(ref_counts)
    q = cur_counts / np.sum(cur_counts)
    mixture = (p + q) / 2.0
    divergence = np.sum(rel_entr(p, mixture)) + np.sum(rel_entr(q, mixture))
    divergence /= np.log(2.0)
    statistic = float(np.sqrt(max(float(divergence) / 2.0, 0.0)))  # rounding can dip below 0
    details: dict[str, Any] = {"n_reference": ref.n_values, "n_current": cur.n_values}
    details.update(_category_changes(labels, ref_counts, cur_counts))
    return DriftResult("jensen_shannon", ref.name, statistic, None, threshold, statistic >= threshold, details)


def z_binary(reference: Profile, current: Any, *, alpha: float = 0.05) -> DriftResult:
    """Pooled two-proportion z-test on the share of the positive level; drift when p < alpha.

    The positive level is the larger label of the reference's two ("1" for 0/1, booleans and
    true/false strings); with a one-level reference, the larger label seen on either side.
    ``statistic`` is z (positive when the share rose).
    """
    ref, cur = _categorical_pair("z_binary", reference, current)
    reason = _no_values_reason(ref, cur)
    if reason:
        return _skipped("z_binary", ref.name, alpha, reason)
    labels, ref_counts, cur_counts = _category_table(ref, cur)
    reference_levels = [label for label in labels if ref.counts.get(label, 0) > 0]
    positive = max(reference_levels if len(reference_levels) >= 2 else labels)
    x1, n1 = ref.counts.get(positive, 0), ref.n_values
    x2, n2 = cur.counts.get(positive, 0), cur.n_values
    z, p_value = _two_proportion_z(x1, n1, x2, n2)
    details: dict[str, Any] = {
        "positive_level": positive,
        "reference_share": x1 / n1,
        "current_share": x2 / n2,
        "n_reference": n1,
        "n_current": n2,
    }
    if len(reference_levels) > 2:
        details["note"] = f"reference has {len(reference_levels)} levels; tested {positive!r} against the rest"
    details.update(_category_changes(labels, ref_counts, cur_counts))
    return DriftResult("z_binary", ref.name, z, p_value, alpha, p_value < alpha, details)


def _two_proportion_z(x1: int, n1: int, x2: int, n2: int, *, one_sided: bool = False) -> tuple[float, float]:
    """Pooled z for p2 − p1 and its p-value (two-sided, or for "p2 > p1")."""
    from scipy import stats

    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if variance <= 0.0:  # both sides all in one level: no evidence of change
        return 0.0, 1.0
    z = (x2 / n2 - x1 / n1) / math.sqrt(variance)
    p_value = float(stats.norm.sf(z)) if one_sided else float(2.0 * stats.norm.sf(abs(z)))
    return z, p_value


# ------------------------------------------------------------------------- any column kind


def missing_share(
    reference: Profile, current: Any, *, threshold: float = 0.05, alpha: float = 0.05
) -> DriftResult:
    """Rise in the share of missing values; drift when the rise ≥ threshold and p < alpha.

    ``statistic`` is the absolute rise (current share − reference share); the p-value is a
    one-sided pooled two-proportion z-test, so a small batch needs a clear rise.
    """
    cur = prepare(reference, current)
    if reference.n == 0:
        return _skipped("missing_share", reference.name, threshold, "the reference column is empty")
    if cur.n == 0:
        return _skipped("missing_share", reference.name, threshold, "the current column is empty")
    ref_share = reference.n_missing / reference.n
    cur_share = cur.n_missing / cur.n
    z, p_value = _two_proportion_z(reference.n_missing, reference.n, cur.n_missing, cur.n, one_sided=True)
    rise = cur_share - ref_share
    details = {
        "reference_share": ref_share,
        "current_share": cur_share,
        "z": z,
        "alpha": alpha,
        "n_reference": reference.n,
        "n_current": cur.n,
    }
    drifted = rise >= threshold and p_value < alpha
    return DriftResult("missing_share", reference.name, rise, p_value, threshold, drifted, details)


# -------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class DriftTest:
    """A registered test: call it like the function it wraps."""

    name: str
    function: Callable[..., DriftResult]
    kinds: tuple[str, ...]
    decides_on: Literal["p_value", "statistic"]

    def __call__(self, reference: Profile, current: Any, **params: Any) -> DriftResult:
        return self.function(reference, current, **params)


_CATEGORY_KINDS = ("categorical", "binary")
TESTS: dict[str, DriftTest] = {
    test.name: test
    for test in (
        DriftTest("ks", ks, ("numeric",), "p_value"),
        DriftTest("wasserstein", wasserstein, ("numeric",), "statistic"),
        DriftTest("psi", psi, ("numeric",), "statistic"),
        DriftTest("chi2", chi2, _CATEGORY_KINDS, "p_value"),
        DriftTest("jensen_shannon", jensen_shannon, _CATEGORY_KINDS, "statistic"),
        DriftTest("z_binary", z_binary, ("binary",), "p_value"),
        DriftTest("missing_share", missing_share, ("numeric", *_CATEGORY_KINDS), "statistic"),
    )
}

#: Tests run per column kind when no plan is given.
DEFAULT_PLAN: dict[str, tuple[str, ...]] = {
    "numeric": ("ks", "wasserstein", "psi", "missing_share"),
    "categorical": ("chi2", "jensen_shannon", "missing_share"),
    "binary": ("z_binary", "jensen_shannon", "missing_share"),
}


def default_test(kind: str, n_reference: int) -> str:
    """The test that decides drift for a column, after Evidently's defaults.

    Up to 1000 reference rows: p-value tests (ks / chi2 / z_binary). Above: distances
    (normalised wasserstein / jensen_shannon), because p-values flag negligible shifts on
    large samples.
    """
    small = n_reference <= SMALL_REFERENCE_MAX_ROWS
    if kind == "numeric":
        return "ks" if small else "wasserstein"
    if kind == "categorical":
        return "chi2" if small else "jensen_shannon"
    if kind == "binary":
        return "z_binary" if small else "jensen_shannon"
    raise DriftTestError(f"unknown column kind {kind!r}")


def default_plan(profiles: Mapping[str, Profile]) -> dict[str, tuple[str, ...]]:
    return {name: DEFAULT_PLAN[profile.kind] for name, profile in sorted(profiles.items())}


def check_plan(profiles: Mapping[str, Profile], plan: Mapping[str, Sequence[str]]) -> None:
    """Raise one `DriftTestError` listing every unknown column, unknown test or kind mismatch."""
    problems: list[str] = []
    for column, names in sorted(plan.items()):
        profile = profiles.get(column)
        if profile is None:
            problems.append(f"column {column!r} has no reference profile")
            continue
        for name in names:
            test = TESTS.get(name)
            if test is None:
                problems.append(f"column {column!r}: unknown test {name!r} (known: {', '.join(sorted(TESTS))})")
            elif profile.kind not in test.kinds:
                problems.append(f"column {column!r}: {name} does not apply to a {profile.kind} column")
    if problems:
        raise DriftTestError("; ".join(problems))


def run_tests(
    profiles: Mapping[str, Profile],
    frame: pd.DataFrame,
    plan: Mapping[str, Sequence[str]] | None = None,
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    n_threads: int = 1,
    samples: Mapping[str, Sample] | None = None,
) -> dict[str, list[DriftResult]]:
    """Run the planned tests of every column of `frame` against its profile.

    `plan` maps column → test names (default: `default_plan`); `params` maps test name →
    keyword arguments (thresholds). A column absent from `frame` is tested as all-missing and
    its results carry ``details["column_absent"] = True``. numpy releases the GIL in the
    sorts and merges, so `n_threads` > 1 runs columns in parallel. `samples` holds columns already
    prepared elsewhere (partitioned data, profiled on a cluster); they stand in for `frame`'s.
    """
    plan = default_plan(profiles) if plan is None else plan
    check_plan(profiles, plan)
    params = params or {}

    def run_column(column: str) -> list[DriftResult]:
        profile = profiles[column]
        absent = column not in frame.columns
        values = samples[column] if samples and column in samples else None if absent else frame[column]
        sample = absent_sample(profile, len(frame)) if absent else prepare(profile, values)
        results = [TESTS[name](profile, sample, **params.get(name, {})) for name in plan[column]]
        if absent:
            results = [replace(r, details={**r.details, "column_absent": True}) for r in results]
        return results

    columns = sorted(plan)
    if n_threads <= 1:
        return {column: run_column(column) for column in columns}
    # Longest first (numeric merges dwarf category counts), so no thread idles at the end.
    by_cost = sorted(columns, key=lambda c: (profiles[c].kind != "numeric", -profiles[c].n, c))
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        futures = {column: pool.submit(run_column, column) for column in by_cost}
        return {column: futures[column].result() for column in columns}


# ---------------------------------------------------------------- multiple-testing helpers


def bonferroni(pvals: Iterable[float]) -> np.ndarray:
    """Bonferroni-adjusted p-values: min(1, m·p)."""
    p = np.asarray(list(pvals), dtype=np.float64)
    return np.minimum(p * p.size, 1.0)


def benjamini_hochberg(pvals: Iterable[float]) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values, as ``scipy.stats.false_discovery_control``."""
    p = np.asarray(list(pvals), dtype=np.float64)
    m = p.size
    if m <= 1:
        return p
    order = np.argsort(p)
    ranked = p[order] * (m / np.arange(1, m + 1, dtype=np.float64))
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty_like(ranked)
    adjusted[order] = ranked
    return np.clip(adjusted, 0.0, 1.0)


def adjust_p_values(
    results: Sequence[DriftResult], method: Literal["bh", "bonferroni"] = "bh"
) -> list[DriftResult]:
    """Correct the p-values of the p-value-deciding results as one family; re-decide drift.

    The raw p-value is kept in ``details["p_value_raw"]``; other results pass unchanged.
    """
    adjust = benjamini_hochberg if method == "bh" else bonferroni
    positions = [
        i
        for i, r in enumerate(results)
        if r.p_value is not None and TESTS[r.test].decides_on == "p_value"
    ]
    adjusted = adjust(results[i].p_value for i in positions)  # type: ignore[misc]
    out = list(results)
    for i, p in zip(positions, adjusted, strict=True):
        r = results[i]
        details = {**r.details, "p_value_raw": r.p_value, "p_value_adjustment": method}
        out[i] = replace(r, p_value=float(p), drifted=bool(p < r.threshold), details=details)
    return out
