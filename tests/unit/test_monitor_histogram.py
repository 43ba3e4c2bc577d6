"""The report's histograms come from the tests' own samples (one sort, one count per column) and are the
ones counting every raw value on bins spanning np.quantile of the reference gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftline.config.groups import MonitorSpec
from driftline.drift import sketch as kll
from driftline.drift.monitor import HISTOGRAM_BINS, HISTOGRAM_SPAN, SCORE_COLUMN, column_report, histogram, prediction_report
from driftline.drift.profile import profile_frame, profile_numeric
from driftline.drift.report import CategoricalHistogram, NumericHistogram
from driftline.drift.sketch import sketch_frame
from driftline.drift.stats import prepare

N = 3_000
KINDS = {"income": "numeric", "steps": "numeric", "typed": "numeric", "region": "categorical", "flag": "binary"}


def frame(seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.0 + shift, 0.5, N)
    income[rng.uniform(size=N) < 0.05] = np.nan
    income[:3] = [np.inf, -np.inf, 0.0]
    typed = rng.normal(size=N).round(1).astype(object)
    typed[rng.uniform(size=N) < 0.02] = "n/a"  # unparseable: missing, as in the tests
    return pd.DataFrame({
        "income": income,
        "steps": rng.integers(0, 5, N).astype(float) + shift,  # ties, many values on bin edges
        "typed": typed,
        "region": rng.choice(["north", "south", "east", None], N, p=[0.5, 0.3, 0.15, 0.05]),
        "flag": rng.choice(np.array([True, "false", 1, 0.0, "TRUE"], dtype=object), N),
    })


def counted_numeric(reference: np.ndarray, current: pd.Series) -> tuple[list[float], list[float], list[float]]:
    """Edges, reference and current shares by the plain rule: np.quantile span, each value counted."""
    ref = np.sort(reference[np.isfinite(reference)])
    lo, hi = np.quantile(ref, HISTOGRAM_SPAN)
    if not hi > lo:
        lo, hi = ref[0] - 0.5, ref[-1] + 0.5
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
    cur = pd.to_numeric(current, errors="coerce").to_numpy(dtype=np.float64)
    cur = cur[np.isfinite(cur)]

    def shares(values: np.ndarray) -> list[float]:
        if values.size == 0:
            return [0.0] * HISTOGRAM_BINS
        idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, HISTOGRAM_BINS - 1)
        return [round(float(c) / values.size, 6) for c in np.bincount(idx, minlength=HISTOGRAM_BINS)]

    return [round(float(e), 6) for e in edges], shares(ref), shares(cur)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return frame(0)


@pytest.fixture(scope="module")
def profiles(reference: pd.DataFrame) -> dict:
    return profile_frame(reference, KINDS)


@pytest.mark.parametrize("shift", [0.0, 0.4])
def test_numeric_histograms_in_the_report_are_every_value_counted(reference: pd.DataFrame, profiles: dict, shift: float) -> None:
    current = frame(1, shift)
    by_name = {c.name: c for c in column_report(profiles, current, list(KINDS), MonitorSpec())}
    for name in ("income", "steps", "typed"):
        hist = by_name[name].histogram
        assert isinstance(hist, NumericHistogram)
        ref_values = pd.to_numeric(reference[name], errors="coerce").to_numpy(dtype=np.float64)
        edges, ref_shares, cur_shares = counted_numeric(ref_values, current[name])
        assert (hist.edges, hist.reference, hist.current) == (edges, ref_shares, cur_shares), name
    assert by_name["steps"].drifted == (shift > 0), "the shift shows in the verdict, the check is not vacuous"


def test_categorical_and_binary_histograms_are_the_counts_of_the_raw_column(profiles: dict) -> None:
    current = frame(2)
    current.loc[:99, "region"] = "atlantis"
    by_name = {c.name: c for c in column_report(profiles, current, list(KINDS), MonitorSpec())}
    region = by_name["region"].histogram
    assert isinstance(region, CategoricalHistogram)
    counts = current["region"].value_counts(dropna=True)
    assert dict(zip(region.categories, region.current)) == {
        c: round(counts.get(c, 0) / counts.sum(), 6) for c in region.categories}
    assert region.categories[-1] == "atlantis" and region.reference[-1] == 0.0
    flag = by_name["flag"].histogram
    assert isinstance(flag, CategoricalHistogram) and sorted(flag.categories) == ["0", "1"]
    truthy = current["flag"].map(lambda v: str(v).lower() in ("true", "1")).mean()
    assert flag.current[flag.categories.index("1")] == round(float(truthy), 6)


def test_the_report_is_the_same_from_raw_columns_and_from_prepared_samples(profiles: dict) -> None:
    """Prepared samples (partitioned batches, `Batch.samples`) and the frame give one report."""
    current = frame(3, 0.2)
    samples = {c: prepare(profiles[c], current[c]) for c in KINDS}
    from_frame = column_report(profiles, current, list(KINDS), MonitorSpec())
    from_samples = column_report(profiles, current, list(KINDS), MonitorSpec(), samples)
    assert [c.model_dump() for c in from_frame] == [c.model_dump() for c in from_samples]
    for name in KINDS:
        assert histogram(profiles[name], current[name]) == histogram(profiles[name], samples[name])


def test_a_sketched_reference_counts_the_current_side_the_same_way(reference: pd.DataFrame) -> None:
    sketched = sketch_frame(reference, {"income": "numeric"})
    current = frame(4)["income"]
    hist = histogram(sketched["income"], current)
    assert isinstance(hist, NumericHistogram)
    edges = np.linspace(*kll.quantiles(sketched["income"], HISTOGRAM_SPAN), HISTOGRAM_BINS + 1)
    assert hist.edges == [round(float(e), 6) for e in edges]
    values = current.to_numpy()[np.isfinite(current.to_numpy())]
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, HISTOGRAM_BINS - 1)
    assert hist.current == [round(float(c) / values.size, 6) for c in np.bincount(idx, minlength=HISTOGRAM_BINS)]


def test_the_prediction_histogram_is_every_score_counted() -> None:
    rng = np.random.default_rng(5)
    train_scores, scores = rng.beta(2, 5, N), rng.beta(2.5, 5, N)
    profiles = {SCORE_COLUMN: profile_numeric(train_scores, SCORE_COLUMN)}
    found = prediction_report(profiles, scores, MonitorSpec())
    assert found is not None
    edges, ref_shares, cur_shares = counted_numeric(train_scores, pd.Series(scores))
    assert (found.histogram.edges, found.histogram.reference, found.histogram.current) == (edges, ref_shares, cur_shares)
    assert found.current_mean == pytest.approx(float(scores.mean()))
