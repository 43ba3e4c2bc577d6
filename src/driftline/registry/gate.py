"""The promotion gate: may the challenger replace the champion? Pure.

Both models are scored on the same held-out rows, so the gate compares them row by row: a paired
test (DeLong for roc_auc, a paired bootstrap over rows for any other metric) gives an interval for
the improvement, and the challenger passes only when the lower end of that one-sided `confidence`
interval is above zero and the point improvement also clears `gate.min_improvement`. A challenger
that is as good as the champion up to noise is refused.

The rows are fair to both: the test split is disjoint from the challenger's training rows by
construction, and the rows the champion trained on (recorded with its version) are left out. When
fewer than `MIN_FAIR_ROWS` remain (after a change of `split.seed`, say) the gate refuses to compare
and says so; so it does when the metric is undefined on the rows (a test split with one class).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

from driftline.config import metrics
from driftline.config.groups import GateSpec, paired_test
from driftline.errors import DriftlineError, UserConfigError

#: The bootstrap's resamples come from this seed: the same rows and scores give the same verdict.
BOOTSTRAP_SEED = 0
#: Resample counts are drawn in blocks of at most this many cells, to bound memory on big test sets.
_BLOCK_CELLS = 2_000_000
#: A bootstrap needs this share of its rounds to have the metric defined (both classes drawn, ...).
_MIN_DEFINED_SHARE = 0.9
TEST_NAMES = {"delong": "DeLong", "bootstrap": "paired bootstrap"}
#: The gate compares two models on at least this many test rows neither of them trained on.
MIN_FAIR_ROWS = 100


class GateConfigError(UserConfigError):
    """The gate's test cannot be run on its metric (say, DeLong on rmse)."""


class GateError(DriftlineError):
    """The paired test cannot be computed on these rows."""


@dataclass(frozen=True)
class Comparison:
    """The paired test of challenger against champion on the same rows.

    `improvement`, `low` and `high` are in the metric's better direction (positive = the challenger
    is better). `low` and `high` are each a one-sided `confidence` bound: the improvement is above
    `low` (and below `high`) with that confidence, so together they are a two-sided interval at
    2*confidence - 1 (90% for 0.95).
    """

    test: str  # "delong" or "bootstrap"
    confidence: float
    improvement: float
    low: float
    high: float
    p_value: float | None  # one-sided: chance of an improvement this large if there were none
    rows: int
    rounds: int | None = None  # bootstrap rounds with the metric defined


@dataclass(frozen=True)
class GateResult:
    passed: bool
    metric: str
    challenger: float | None  # None: the metric is undefined on the rows, or the gate could not compare fairly
    champion: float | None
    improvement: float | None  # positive = better, whatever the metric's direction
    reason: str
    test: str = "none"  # "delong", "bootstrap", or "none" (point rule only, or no champion)
    confidence: float | None = None
    low: float | None = None  # one-sided `confidence` bounds of the improvement (see Comparison)
    high: float | None = None
    p_value: float | None = None
    rows: int | None = None
    #: test rows left out because the champion trained on them (None: no champion, or not recorded)
    rows_excluded: int | None = None

    def to_json(self) -> dict:
        return asdict(self)


def gate_metric(spec: GateSpec, task: str) -> str:
    """The metric the gate compares: `gate.metric`, else the task's headline.

    Raises `UnknownMetricError`, naming the choices, for a metric the task does not have or one with
    no better direction (say, a `dvc exp run -S` that bypassed `driftline compile`'s checks).
    """
    return metrics.ranking_metric(spec.metric, task).name if spec.metric else metrics.headline(task)


def gate_test(spec: GateSpec, metric: str) -> str:
    """The paired test the gate runs for `metric`: `auto` is DeLong for roc_auc, else the bootstrap."""
    try:
        return paired_test(spec.test, metric)
    except ValueError as exc:
        raise GateConfigError(f"gate.test: {exc}", hint="set gate.test to auto or bootstrap, or gate.metric to roc_auc") from None


# ----------------------------------------------------------------------------- the decision


def judge(spec: GateSpec, task: str, y: Any, challenger_scores: Any, champion_scores: Any | None,
          threshold: float = 0.5, *, excluded: int | None = None, champion_name: str = "the champion") -> GateResult:
    """Score both models' predictions on the same rows `y`, run the paired test, and decide.

    `excluded`: how many test rows were left out before this because the champion trained on them
    (None when unknown); it is reported in the reason. A metric undefined on the rows refuses.
    """
    import numpy as np

    from driftline.models.evaluate import compute_metrics

    metric = gate_metric(spec, task)
    challenger = compute_metrics(y, challenger_scores, task, threshold=threshold).get(metric)
    champion = None if champion_scores is None else compute_metrics(y, champion_scores, task, threshold=threshold).get(metric)
    if challenger is None or (champion_scores is not None and champion is None):
        classes = np.unique(np.asarray(y)) if task != "regression" else ()
        why = f"; the {len(y):,} rows hold one class only ({_value(float(classes[0]))})" if len(classes) == 1 else ""
        whose = "the challenger" if challenger is None else champion_name
        return GateResult(False, metric, challenger, champion, None,
                          f"not compared: {metric} is undefined for {whose} on the test rows{why}",
                          rows=len(y), rows_excluded=excluded)
    if champion_scores is None:
        return decide(challenger, None, spec, task)
    comparison = compare(spec, task, y, challenger_scores, champion_scores, threshold=threshold)
    result = decide(challenger, champion, spec, task, comparison)
    if excluded is None:
        return result
    note = (f"; on the {len(y):,} test rows {champion_name} did not train on ({excluded:,} it trained on left out)"
            if excluded else f"; none of the {len(y):,} test rows was in {champion_name}'s training data")
    return replace(result, reason=result.reason + note, rows=len(y), rows_excluded=excluded)


def too_few_fair_rows(spec: GateSpec, task: str, remaining: int, total: int, champion_name: str, split: str) -> GateResult:
    """The refusal when the champion trained on nearly all of the test split (a changed split, say)."""
    return GateResult(False, gate_metric(spec, task), None, None, None,
                      f"not compared: only {remaining:,} of the {total:,} rows of the test split ({split}) were not "
                      f"in {champion_name}'s training data, fewer than the {MIN_FAIR_ROWS} a fair comparison needs (did "
                      f"split.seed, split.kind or the shares change since it was trained?); restore the champion's split, "
                      f"add data, or promote by hand with `driftline registry promote`",
                      rows=remaining, rows_excluded=total - remaining)


def cannot_tell_fair_rows(spec: GateSpec, task: str, missing: list[str], champion_name: str, split: str) -> GateResult:
    """The refusal when the test split lacks the columns the champion's training rows were recorded by."""
    return GateResult(False, gate_metric(spec, task), None, None, None,
                      f"not compared: {champion_name}'s training rows are recorded by column(s) "
                      f"{', '.join(missing)}, which the test split ({split}) no longer has, so the rows it trained on "
                      f"cannot be left out; promote by hand with `driftline registry promote` if that is intended")


def decide(challenger: float, champion: float | None, spec: GateSpec, task: str,
           comparison: Comparison | None = None) -> GateResult:
    """The verdict from the two metric values and, when a paired test ran, its `comparison`.

    Without a comparison (`gate.test: none`) the point rule alone decides: the improvement must
    reach `min_improvement`. A first model (no champion) only has to clear `gate.minimum`.
    """
    metric = gate_metric(spec, task)
    sign = metrics.METRICS[metric].sign
    if spec.minimum is not None and sign * challenger < sign * spec.minimum:
        bar = "at most" if sign < 0 else "at least"
        return GateResult(False, metric, challenger, champion, None,
                          f"{metric} {_value(challenger)} misses the bar: gate.minimum asks {bar} {spec.minimum}")
    if champion is None:
        return GateResult(True, metric, challenger, None, None, f"first model: {metric} {_value(challenger)}")
    improvement = round(sign * (challenger - champion), 12)
    floor = spec.min_improvement
    values = f"challenger {metric} {_value(challenger)}", f"champion {_value(champion)}"
    if comparison is None:
        passed = improvement >= floor
        verb = "beats" if improvement > 0 else ("ties" if improvement == 0 else "trails")
        reason = (f"{values[0]} {verb} {values[1]} (improvement {_signed(improvement)}, "
                  f"required {_signed(floor)})")
        return GateResult(passed, metric, challenger, champion, improvement, reason)

    beyond_chance = comparison.low > 0
    enough = improvement >= floor
    interval = (f"{comparison.confidence * 100:g}% interval [{_signed(comparison.low)}, "
                f"{_signed(comparison.high)}] ({_test_label(comparison)})")
    if not beyond_chance:
        reason = f"{values[0]} does not beat {values[1]} by more than chance: improvement {_signed(improvement)}, {interval}"
    elif not enough:
        reason = (f"{values[0]} beats {values[1]} by more than chance, but by less than gate.min_improvement "
                  f"{_signed(floor)}: improvement {_signed(improvement)}, {interval}")
    else:
        reason = f"{values[0]} beats {values[1]} by more than chance: improvement {_signed(improvement)}, {interval}"
    return GateResult(beyond_chance and enough, metric, challenger, champion, improvement, reason,
                      test=comparison.test, confidence=comparison.confidence, low=_rounded(comparison.low),
                      high=_rounded(comparison.high),
                      p_value=None if comparison.p_value is None else _rounded(comparison.p_value),
                      rows=comparison.rows)


def compare(spec: GateSpec, task: str, y: Any, challenger_scores: Any, champion_scores: Any,
            threshold: float = 0.5) -> Comparison | None:
    """The paired test `spec` asks for on these rows, or None for `gate.test: none`."""
    metric = gate_metric(spec, task)
    test = gate_test(spec, metric)
    if test == "none":
        return None
    if test == "delong":
        return delong(y, challenger_scores, champion_scores, spec.confidence)
    return bootstrap(y, challenger_scores, champion_scores, task, metric, spec.confidence,
                     rounds=spec.bootstrap_rounds, threshold=threshold)


# ----------------------------------------------------------------------------- DeLong


def delong(y: Any, challenger_scores: Any, champion_scores: Any, confidence: float) -> Comparison:
    """DeLong's test of two correlated ROC AUCs on the same rows, in O(n log n) (Sun & Xu, 2014).

    Each model's AUC is split into per-positive and per-negative placement values (from midranks);
    their covariances across the two models give the variance of the AUC difference.
    """
    import numpy as np
    from scipy.stats import norm

    labels = np.asarray(y, dtype=np.float64)
    scores = np.vstack([np.asarray(challenger_scores, dtype=np.float64), np.asarray(champion_scores, dtype=np.float64)])
    aucs, covariance = delong_covariance(labels, scores)
    improvement = float(aucs[0] - aucs[1])
    variance = float(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])
    se = math.sqrt(max(variance, 0.0))
    z = float(norm.ppf(confidence))
    if se > 0:
        p_value = float(norm.sf(improvement / se))
    else:  # identical rankings: no evidence either way
        p_value = 1.0 if improvement <= 0 else 0.0
    return Comparison("delong", confidence, improvement, improvement - z * se, improvement + z * se,
                      p_value, rows=int(labels.size))


def delong_covariance(y: Any, scores: Any) -> tuple[Any, Any]:
    """(AUC of each row of `scores`, their covariance matrix) by fast DeLong.

    `scores` is (models, rows); `y` holds 0/1 labels. Raises GateError when a class is missing.
    """
    import numpy as np
    from scipy.stats import rankdata

    labels = np.asarray(y) == 1
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    m, n = int(labels.sum()), int((~labels).sum())
    if m < 2 or n < 2:
        raise GateError(f"DeLong's test needs at least two rows of each class; the test split has {m} positive and {n} negative",
                        hint="make the test split larger, or set gate.test to none")
    positives, negatives = scores[:, labels], scores[:, ~labels]
    tx = rankdata(positives, axis=1)  # midranks among the positives
    ty = rankdata(negatives, axis=1)  # midranks among the negatives
    tz = rankdata(np.hstack([positives, negatives]), axis=1)  # midranks among all rows
    aucs = tz[:, :m].sum(axis=1) / m / n - (m + 1.0) / (2.0 * n)
    v01 = (tz[:, :m] - tx) / n  # per positive: share of negatives it outranks
    v10 = 1.0 - (tz[:, m:] - ty) / m  # per negative: share of positives that outrank it
    covariance = np.atleast_2d(np.cov(v01)) / m + np.atleast_2d(np.cov(v10)) / n
    return aucs, covariance


# ----------------------------------------------------------------------------- paired bootstrap


def resample_counts(rows: int, rounds: int, seed: int = BOOTSTRAP_SEED) -> Iterator[Any]:
    """Bootstrap resamples of `rows` rows as draw counts, in blocks of (some rounds, rows).

    Every block comes from one seeded generator, so the same (rows, rounds, seed) gives the same
    resamples; both models are always scored on the same ones (that is what makes it paired).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    block = max(1, min(rounds, _BLOCK_CELLS // max(rows, 1)))
    done = 0
    while done < rounds:
        k = min(block, rounds - done)
        drawn = rng.integers(0, rows, size=(k, rows))
        flat = (drawn + np.arange(k)[:, None] * rows).ravel()
        yield np.bincount(flat, minlength=k * rows).reshape(k, rows)
        done += k


def bootstrap(y: Any, challenger_scores: Any, champion_scores: Any, task: str, metric: str, confidence: float,
              *, rounds: int, threshold: float = 0.5, seed: int = BOOTSTRAP_SEED) -> Comparison:
    """Paired bootstrap over rows: both models on the same resamples; percentile bounds of the difference."""
    import numpy as np

    from driftline.models.evaluate import resampled_metric

    sign = metrics.METRICS[metric].sign
    labels = np.asarray(y)
    differences = []
    for counts in resample_counts(labels.size, rounds, seed):
        a = resampled_metric(labels, challenger_scores, task, metric, counts, threshold=threshold)
        b = resampled_metric(labels, champion_scores, task, metric, counts, threshold=threshold)
        differences.append(sign * (a - b))
    diffs = np.concatenate(differences)
    diffs = diffs[np.isfinite(diffs)]
    if diffs.size < _MIN_DEFINED_SHARE * rounds:
        raise GateError(f"gate: {metric} is undefined on {rounds - diffs.size} of {rounds} bootstrap resamples of the "
                        f"{labels.size} test rows", hint="make the test split larger, or set gate.test to none")
    # the point improvement from the unrounded metrics, as the bounds are
    everyone = np.ones((1, labels.size), dtype=np.int64)
    point = [float(resampled_metric(labels, s, task, metric, everyone, threshold=threshold)[0])
             for s in (challenger_scores, champion_scores)]
    low, high = np.quantile(diffs, [1 - confidence, confidence])
    p_value = (1 + int(np.sum(diffs <= 0))) / (1 + diffs.size)
    return Comparison("bootstrap", confidence, float(sign * (point[0] - point[1])), float(low), float(high),
                      float(p_value), rows=int(labels.size), rounds=int(diffs.size))


# ----------------------------------------------------------------------------- formatting


def _test_label(comparison: Comparison) -> str:
    name = TEST_NAMES[comparison.test]
    if comparison.rounds is not None:
        name += f", {comparison.rounds} rounds"
    if comparison.p_value is not None:
        name += ", p < 0.001" if comparison.p_value < 0.001 else f", p = {comparison.p_value:.2g}"
    return name


def _value(x: float) -> str:
    """A metric value with six significant digits: 0.781234, 1234.57."""
    return f"{x:.6g}"


def _signed(x: float, digits: int = 2) -> str:
    """A signed difference with `digits` significant digits in fixed point: +0.000039, -0.0011, +12."""
    if x == 0 or not math.isfinite(x):
        return "+0" if x == 0 else f"{x:+}"
    decimals = max(0, min(12, digits - 1 - math.floor(math.log10(abs(x)))))
    return f"{x:+.{decimals}f}"


def _rounded(x: float) -> float:
    return round(float(x), 9)
