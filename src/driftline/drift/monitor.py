"""The monitor's core: one pure function, `build_report`, from reference, batch and policy to a report.

Inputs are the champion's stored reference (profile, metrics, a row sample), the new rows with
the champion's scores on them, and the monitor policy; the output is a typed
`driftline.drift.report.DriftReport`. Nothing here reads or writes a file: the monitor stage
(`driftline.stages.monitor`) does that and calls `build_report` once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from driftline.config.groups import ColumnPolicy, MonitorSpec
from driftline.drift import sketch as kll
from driftline.drift.history import batch_stem
from driftline.drift.profile import CategoricalProfile, NumericProfile, Profile, SketchProfile, sorted_quantile
from driftline.drift.report import (
    BatchQuality,
    CategoricalHistogram,
    ChunkColumn,
    ChunkDrift,
    ColumnDrift,
    CurrentInfo,
    Decision,
    DomainRows,
    DriftReport,
    EstimatedPerformance,
    Histogram,
    MissingShare,
    MultivariateDrift,
    NumericHistogram,
    Performance,
    PredictionDrift,
    ReferenceInfo,
    SketchBound,
    TestOutcome,
)
from driftline.drift.stats import (
    TESTS,
    CategoricalSample,
    DriftResult,
    NumericSample,
    Sample,
    adjust_p_values,
    default_test,
    prepare,
    run_tests,
)

SCORE_COLUMN = "__score__"
HISTOGRAM_BINS = 20
#: The reference quantiles the numeric histograms span (values beyond fall in the outer bins).
HISTOGRAM_SPAN = (0.005, 0.995)
INFORMATIVE = {"numeric": ("ks", "wasserstein", "psi"), "categorical": ("chi2", "jensen_shannon"),
               "binary": ("z_binary", "jensen_shannon")}
#: Rows per side the domain classifier trains on (a sample keeps it to about a second).
DOMAIN_ROWS = 5_000
NO_CHAMPION = "no champion yet: the first `dvc repro` trains and promotes one"


# ------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class Reference:
    """The champion's side: what it was trained on and how well it did."""

    version: str
    profiles: Mapping[str, Profile]
    #: The champion's registered metrics (the baseline for the performance signal).
    metrics: Mapping[str, float]
    #: Training rows for the domain classifier; None skips it.
    sample: pd.DataFrame | None = None
    #: Performance without labels (CBPE/DLE) from the champion's stored estimator:
    #: (scores, rows, labels or None) -> estimate; None when the version has no estimator.
    estimate: Callable[[np.ndarray, pd.DataFrame, np.ndarray | None], EstimatedPerformance | None] | None = None
    #: What the profiles describe when not the champion's training data (see `monitor.on_refusal`).
    baseline: str | None = None


@dataclass(frozen=True)
class Batch:
    """The current side: the new rows since the last run, and the stage's bookkeeping."""

    frame: pd.DataFrame
    #: The new batch files, in order (project-relative paths).
    files: Sequence[str]
    #: Batches not yet absorbed into training, these included.
    pending_batches: int
    #: Batches seen since the last retrain, these included (the cooldown counts them).
    batches_since_retrain: int
    #: Rows of the pending batches seen on earlier runs (a retrain would absorb their labels too).
    earlier: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The champion's scores on `frame` and the encoded targets (NaN where unlabelled), if scored.
    scores: np.ndarray | None = None
    labels: np.ndarray | None = None
    #: Each accepted new batch's file and rows, in `frame` order (for per-batch and chunk statistics).
    parts: Sequence[tuple[str, int]] = ()
    #: Every new batch checked against the schema, rejected ones included (`drift.quality`).
    quality: Sequence[BatchQuality] = ()
    #: The last drift retrain's challenger was refused by the gate (see `monitor.on_refusal`).
    after_refusal: bool = False
    #: `frame`'s monitored columns as prepared samples, when computed elsewhere (partitioned batches
    #: profiled on a cluster: `drift.partitioned`); equal to what `frame` gives, so used in its place.
    samples: Mapping[str, Sample] | None = None


@dataclass(frozen=True)
class Policy:
    """The monitor config and the facts about the pipeline it needs."""

    spec: MonitorSpec
    #: Profile kind of every column the monitor may watch (`drift.profile.monitored_kinds`).
    kinds: Mapping[str, str]
    target: str
    task: str
    #: The metric whose drop is the performance signal, and whether lower is better.
    metric: str
    lower_is_better: bool = False
    #: The model's decision threshold (for threshold metrics).
    threshold: float = 0.5
    #: The dataset's timestamp column (for time chunks).
    timestamp: str | None = None


# ------------------------------------------------------------------------------- the builder


def build_report(pipeline: str, reference: Reference | None, batch: Batch, policy: Policy) -> DriftReport:
    """Compare the batch with the champion's reference and decide, under the policy, whether to retrain."""
    spec = policy.spec
    current = batch.frame
    labelled_rows = _labelled(current, policy.target)
    quality = list(batch.quality)
    info = CurrentInfo(rows=len(current) if reference else 0, batches=list(batch.files),
                       labelled_rows=labelled_rows if reference else 0, pending_batches=batch.pending_batches)
    generated_for = ", ".join(f.rsplit("/", 1)[-1] for f in batch.files) or None
    rejected = [q.reason for q in quality if q.rejected and q.reason]
    if reference is None:
        return DriftReport(
            pipeline=pipeline, generated_for=generated_for, reference=ReferenceInfo(version=None), current=info,
            columns=[], share_drifted=0.0, dataset_drift=False, prediction=None, multivariate=None, performance=None,
            estimated=None, quality=quality, chunks=[],
            decision=Decision(retrain=False, evaluated=False, reasons=[*rejected, NO_CHAMPION], signals=[], policy=spec))

    profiles = reference.profiles
    columns = monitored_columns(profiles, policy)
    drift: list[ColumnDrift] = []
    chunks: list[ChunkDrift] = []
    share_drifted, dataset_drift = 0.0, False
    prediction = multivariate = performance = estimated = None
    if len(current):
        drift = column_report(profiles, current, columns, spec, batch.samples)
        share_drifted = round(sum(c.drifted for c in drift) / len(columns), 6) if columns else 0.0
        dataset_drift = bool(columns) and share_drifted >= spec.drift_share
        prediction = prediction_report(profiles, batch.scores, spec)
        performance = performance_report(reference.metrics, batch.scores, batch.labels, policy)
        if reference.estimate is not None and batch.scores is not None:
            estimated = reference.estimate(batch.scores, current, batch.labels)
        if spec.domain_classifier and columns and reference.sample is not None:
            multivariate = domain_classifier(reference.sample[columns], current, spec.domain_auc_threshold)
        realised = None
        if batch.scores is not None and batch.labels is not None:
            realised = performance.current if performance else _realised(batch.scores, batch.labels, policy)
        chunks = chunk_report(reference, batch, columns, policy,
                              whole_chunk(drift, columns, prediction, estimated, realised, len(current)))
    decision = decide(spec, columns=drift, dataset_drift=dataset_drift, prediction=prediction,
                      performance=performance, multivariate=multivariate, new_rows=len(current),
                      labelled_rows=labelled_rows + _labelled(batch.earlier, policy.target),
                      batches_since_retrain=batch.batches_since_retrain, estimated=estimated,
                      rejected=rejected, after_refusal=batch.after_refusal)
    if reference.baseline:
        decision = decision.model_copy(update={"baseline": reference.baseline})
    return DriftReport(
        pipeline=pipeline, generated_for=generated_for,
        reference=ReferenceInfo(version=reference.version, rows=next((profiles[c].n for c in columns), None)),
        current=info, columns=drift, share_drifted=share_drifted, dataset_drift=dataset_drift,
        prediction=prediction, multivariate=multivariate, performance=performance, estimated=estimated,
        quality=quality, chunks=chunks, decision=decision)


def monitored_columns(profiles: Mapping[str, Profile], policy: Policy) -> list[str]:
    """The columns the monitor compares: the policy's (default: every profiled one), minus ignored ones."""
    spec = policy.spec
    return [c for c in (spec.columns or list(policy.kinds)) if c in profiles
            and not (spec.overrides.get(c) and spec.overrides[c].ignore)]


# ---------------------------------------------------------------------------------- signals


def _deciding(profiles: Mapping[str, Profile], current: pd.DataFrame, columns: list[str], spec: MonitorSpec,
              *, informative: bool, samples: Mapping[str, Sample] | None = None) -> tuple[dict[str, list[DriftResult]], list[DriftResult]]:
    """Every planned test's results per column, and each column's deciding result (overrides and
    multiple-testing adjustment applied), in `columns` order."""
    plan: dict[str, tuple[str, ...]] = {}
    deciding: dict[str, str] = {}
    for column in columns:
        profile = profiles[column]
        override = spec.overrides.get(column)
        test = (override.test if override and override.test else None) or default_test(profile.kind, profile.n - profile.n_missing)
        deciding[column] = test
        plan[column] = tuple(dict.fromkeys((test, *(INFORMATIVE[profile.kind] if informative else ()), "missing_share")))
    results = run_tests({c: profiles[c] for c in columns}, current, plan, samples=samples)
    chosen = [_with_override(next(r for r in results[c] if r.test == deciding[c]), spec.overrides.get(c)) for c in columns]
    if spec.multiple_testing != "none":
        chosen = adjust_p_values(chosen, "bh" if spec.multiple_testing == "benjamini_hochberg" else "bonferroni")
    return results, chosen


def chunk_report(reference: Reference, batch: Batch, columns: list[str], policy: Policy,
                 whole: ChunkDrift | None = None) -> list[ChunkDrift]:
    """The deciding statistics on each new batch alone, and on each chunk of it (`monitor.chunk`).

    For a p-value test the history's statistic is the p-value (drift below the threshold); for a
    distance it is the distance (drift at or above). The estimate and the realised value are the
    headline metric's. `whole` is the same computed on all new rows: a batch that is all of them
    takes it instead of running the tests again.
    """
    spec, frame = policy.spec, batch.frame
    out: list[ChunkDrift] = []
    start = 0
    for file, rows in batch.parts or [(f, len(frame)) for f in batch.files[-1:]]:
        name = batch_stem(file)
        index = np.arange(start, start + rows)
        start += rows
        covers_all = whole is not None and rows == len(frame)
        out.append(whole.model_copy(update={"batch": name}) if covers_all else _chunk(reference, batch, columns, policy, name, None, index))
        for label, part in _chunks(frame.iloc[index], spec, policy.timestamp):
            out.append(_chunk(reference, batch, columns, policy, name, label, index[part]))
    return out


def whole_chunk(report: Sequence[ColumnDrift], columns: list[str], prediction: PredictionDrift | None,
                estimated: EstimatedPerformance | None, realised: float | None, rows: int) -> ChunkDrift:
    """The batch-level statistics of all new rows, from the report's own columns, prediction and estimate."""
    by_name = {c.name: c for c in report}
    stats = [ChunkColumn(name=c.name, statistic=c.p_value if TESTS[c.test].decides_on == "p_value" else c.statistic,
                         threshold=c.threshold, drifted=c.drifted) for c in (by_name[name] for name in columns)]
    headline = next((m for m in estimated.metrics if m.metric == estimated.headline), None) if estimated else None
    return ChunkDrift(batch="", chunk=None, rows=rows, columns=stats,
                      share_drifted=round(sum(c.drifted for c in stats) / len(stats), 6) if stats else 0.0,
                      prediction_psi=prediction.statistic if prediction else None,
                      estimated=_finite(headline.estimate) if headline else None,
                      realised=_finite(headline.realised if headline and headline.realised is not None else realised))


def _chunks(frame: pd.DataFrame, spec: MonitorSpec, timestamp: str | None) -> list[tuple[str, np.ndarray]]:
    """(label, positions) of each chunk of one batch, in order; none without `monitor.chunk`."""
    chunk = spec.chunk
    if chunk is None or not len(frame):
        return []
    if chunk.rows is not None:
        return [(f"rows {i}-{min(i + chunk.rows, len(frame)) - 1}", np.arange(i, min(i + chunk.rows, len(frame))))
                for i in range(0, len(frame), chunk.rows)]
    if not timestamp or timestamp not in frame.columns:
        return []
    times = pd.to_datetime(frame[timestamp], errors="coerce")
    positions = pd.Series(np.arange(len(frame)), index=times.to_numpy())
    positions = positions[positions.index.notna()].sort_index()
    groups = positions.groupby(pd.Grouper(freq=chunk.period, label="left", closed="left"))
    return [(pd.Timestamp(key).isoformat().removesuffix("T00:00:00"), np.sort(group.to_numpy()))
            for key, group in groups if len(group)]


def _chunk(reference: Reference, batch: Batch, columns: list[str], policy: Policy, name: str, label: str | None,
           index: np.ndarray) -> ChunkDrift:
    profiles, spec = reference.profiles, policy.spec
    part = batch.frame.iloc[index]
    results, chosen = _deciding(profiles, part, columns, spec, informative=False) if columns and len(part) else ({}, [])
    stats = [ChunkColumn(name=column, statistic=_finite(r.p_value if TESTS[r.test].decides_on == "p_value" else r.statistic),
                         threshold=r.threshold, drifted=bool(r.drifted or results[column][-1].drifted))
             for column, r in zip(columns, chosen)]
    scores = batch.scores[index] if batch.scores is not None else None
    labels = batch.labels[index] if batch.labels is not None else None
    psi = prediction_psi(profiles, scores, spec) if scores is not None and len(scores) else None
    estimated = realised = None
    if reference.estimate is not None and scores is not None and len(scores):
        found = reference.estimate(scores, part, labels)
        headline = next((m for m in found.metrics if m.metric == found.headline), None) if found else None
        estimated = headline.estimate if headline else None
        realised = headline.realised if headline else None
    if realised is None and scores is not None and labels is not None:
        realised = _realised(scores, labels, policy)
    return ChunkDrift(batch=name, chunk=label, rows=len(part), columns=stats,
                      share_drifted=round(sum(c.drifted for c in stats) / len(stats), 6) if stats else 0.0,
                      prediction_psi=_finite(psi.statistic) if psi else None, estimated=_finite(estimated), realised=_finite(realised))


def _realised(scores: np.ndarray, labels: np.ndarray, policy: Policy) -> float | None:
    """The headline metric on the labelled rows (None when there are none, or it is undefined there)."""
    from driftline.models.evaluate import compute_metrics

    labelled = ~np.isnan(labels)
    if not labelled.any():
        return None
    return compute_metrics(labels[labelled], scores[labelled], policy.task, threshold=policy.threshold).get(policy.metric)


def column_report(profiles: Mapping[str, Profile], current: pd.DataFrame, columns: list[str],
                  spec: MonitorSpec, samples: Mapping[str, Sample] | None = None) -> list[ColumnDrift]:
    """Each column's deciding test (the policy's, or the default for its kind and size), drifted first."""
    # Each column read, sorted or counted once: the tests and the histogram share the sample.
    prepared = {c: prepare(profiles[c], samples[c] if samples and c in samples else current[c])
                for c in columns if c in current}
    results, chosen = _deciding(profiles, current, columns, spec, informative=True, samples=prepared)
    report = []
    for column, result in zip(columns, chosen):
        missing = next(r for r in results[column] if r.test == "missing_share")
        details = dict(result.details)
        profile = profiles[column]
        report.append(ColumnDrift(
            name=column,
            kind=profile.kind,
            test=result.test,
            statistic=_finite(result.statistic),
            p_value=_finite(result.p_value),
            threshold=result.threshold,
            drifted=bool(result.drifted or missing.drifted),
            severity=max(severity(result), severity(missing)),
            missing=MissingShare(
                reference=round(profile.n_missing / max(profile.n, 1), 6),
                current=round(float(current[column].isna().mean()) if column in current and len(current) else 1.0, 6),
                drifted=bool(missing.drifted)),
            unseen_categories=list(details.get("unseen_categories", details.get("new_categories", [])))[:20],
            other_tests={r.test: TestOutcome(statistic=_finite(r.statistic), p_value=_finite(r.p_value), drifted=bool(r.drifted))
                         for r in results[column] if r.test not in (result.test, "missing_share")},
            histogram=histogram(profile, prepared[column]) if column in prepared else None,
            note=str(details.get("reason", "not computed")) if result.statistic is None else None,
            sketch=sketch_bound(profile, details),
        ))
    return sorted(report, key=lambda c: (not c.drifted, -c.severity, c.name))


def sketch_bound(profile: Profile, details: Mapping[str, object]) -> SketchBound | None:
    """The error bound a sketched reference column carries into the report (None for an exact one)."""
    if not isinstance(profile, SketchProfile):
        return None
    bound = details.get("statistic_error_bound")
    return SketchBound(method="kll", k=profile.k, rank_error=round(profile.error_bound, 6),
                       statistic_error_bound=_finite(bound) if isinstance(bound, float) else None,
                       within_error_bound=bool(details.get("within_error_bound", False)))


def prediction_psi(profiles: Mapping[str, Profile], scores: np.ndarray | Sample | None, spec: MonitorSpec) -> DriftResult | None:
    """PSI of the champion's scores (raw, or prepared) against its scores on the training rows
    (None without scores or a score profile)."""
    if scores is None or SCORE_COLUMN not in profiles:
        return None
    return TESTS["psi"](profiles[SCORE_COLUMN], scores, threshold=spec.prediction_threshold)


def prediction_report(profiles: Mapping[str, Profile], scores: np.ndarray | None, spec: MonitorSpec) -> PredictionDrift | None:
    """PSI of the champion's scores, with the histogram the report draws (one sort for both)."""
    if scores is None or SCORE_COLUMN not in profiles:
        return None
    profile = profiles[SCORE_COLUMN]
    assert isinstance(profile, (NumericProfile, SketchProfile))
    sample = prepare(profile, scores)
    result = prediction_psi(profiles, sample, spec)
    assert result is not None
    return PredictionDrift(test="psi", statistic=_finite(result.statistic), threshold=spec.prediction_threshold,
                           drifted=bool(result.drifted), histogram=histogram(profile, sample),
                           reference_mean=_finite(profile.mean),
                           current_mean=_finite(float(np.mean(scores))) if len(scores) else None)


def performance_report(champion_metrics: Mapping[str, float], scores: np.ndarray | None, labels: np.ndarray | None,
                       policy: Policy) -> Performance | None:
    """The champion's metric on the labelled new rows against its registered value."""
    if scores is None or labels is None:
        return None
    now = _realised(scores, labels, policy)
    before = champion_metrics.get(policy.metric)
    if now is None or before is None:
        return None
    sign = -1.0 if policy.lower_is_better else 1.0
    drop = round(sign * (before - now), 6)
    rows = int((~np.isnan(labels)).sum())
    return Performance(metric=policy.metric, reference=before, current=now, drop=drop,
                       threshold=policy.spec.performance_drop, rows=rows,
                       drifted=drop >= policy.spec.performance_drop and rows >= policy.spec.min_labelled_rows)


def domain_classifier(reference: pd.DataFrame, current: pd.DataFrame, threshold: float) -> MultivariateDrift | None:
    """Multivariate drift: out-of-fold AUC of LightGBM telling reference rows from current rows."""
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    cur = current[reference.columns].sample(n=min(len(current), DOMAIN_ROWS), random_state=0)
    ref = reference.sample(n=min(len(reference), DOMAIN_ROWS), random_state=0)
    if len(cur) < 50 or len(ref) < 50:
        return None
    X = pd.concat([ref, cur], ignore_index=True)
    for column in X.columns:
        if not pd.api.types.is_numeric_dtype(X[column]) or isinstance(X[column].dtype, pd.CategoricalDtype):
            X[column] = X[column].astype("string").astype("category")
        else:
            X[column] = X[column].astype("float64")
    y = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    fold = np.random.default_rng(0).integers(0, 2, len(X))
    scores = np.zeros(len(X))
    params = {"objective": "binary", "num_leaves": 15, "learning_rate": 0.1, "verbosity": -1,
              "deterministic": True, "force_row_wise": True, "seed": 0, "min_data_in_leaf": 20}
    for k in (0, 1):
        train, test = fold != k, fold == k
        booster = lgb.train(params, lgb.Dataset(X[train], y[train]), num_boost_round=100)
        scores[test] = booster.predict(X[test])
    auc = float(roc_auc_score(y, scores))
    return MultivariateDrift(test="domain_classifier", auc=round(auc, 6), threshold=threshold, drifted=auc >= threshold,
                             rows=DomainRows(reference=len(ref), current=len(cur)))


# --------------------------------------------------------------------------------- decision


def decide(spec: MonitorSpec, *, columns: Sequence[ColumnDrift], dataset_drift: bool,
           prediction: PredictionDrift | None, performance: Performance | None,
           multivariate: MultivariateDrift | None, new_rows: int, labelled_rows: int,
           batches_since_retrain: int, estimated: EstimatedPerformance | None = None,
           rejected: Sequence[str] = (), after_refusal: bool = False) -> Decision:
    """Retrain or not, with the reasons, from the report's signals and the policy.

    `rejected` holds one reason per new batch the quality check refused: they come first, and the
    decision is about the batches that remain.
    """
    rejected = list(rejected)
    if new_rows == 0:
        why = "no new batch left to compare: every new batch was rejected" if rejected else "no new data since the last run"
        return Decision(retrain=False, evaluated=False, reasons=[*rejected, why], signals=[], policy=spec)
    if new_rows < spec.min_batch_rows:
        return Decision(retrain=False, evaluated=False,
                        reasons=[*rejected, f"{new_rows} new rows < min_batch_rows {spec.min_batch_rows}: "
                                            "waiting for more data"], signals=[], policy=spec)
    signals: dict[str, str] = {}
    drifted = [c.name for c in columns if c.drifted]
    if columns and dataset_drift:
        signals["dataset_drift"] = (f"{len(drifted)} of {len(columns)} columns drifted "
                                    f"({len(drifted) / len(columns):.0%} >= {spec.drift_share:.0%}): {', '.join(drifted)}")
    if prediction and prediction.drifted:
        signals["prediction_drift"] = f"prediction drift: PSI {prediction.statistic:.3f} >= {prediction.threshold}"
    if performance and performance.drifted:
        signals["performance"] = (f"{performance.metric} fell from {performance.reference:.4f} to "
                                  f"{performance.current:.4f} (drop {performance.drop:.4f} >= {performance.threshold})")
    if multivariate and multivariate.drifted:
        signals["multivariate"] = f"a classifier tells reference from current: AUC {multivariate.auc:.3f} >= {multivariate.threshold}"
    if estimated and estimated.drifted and estimated.drop is not None:
        headline = next(m for m in estimated.metrics if m.metric == estimated.headline)
        signals["estimated_performance"] = (
            f"estimated {estimated.headline} ({estimated.method.upper()}, no labels needed) fell from {headline.reference:.4f} to "
            f"{headline.estimate:.4f} (drop {estimated.drop:.4f} >= {estimated.threshold})")
    fired = [s for s in spec.retrain_on if s in signals]
    noted = [signals[s] + " (not a retrain signal in this policy)" for s in signals if s not in spec.retrain_on]
    if spec.ignore_harmless_drift and fired:
        harmless = _harmless(fired, performance, estimated)
        if harmless:
            fired = [s for s in fired if s not in harmless]
            noted += [f"{signals[s]}, but {harmless[s]}: ignored (monitor.ignore_harmless_drift)" for s in harmless]
    if not fired:
        return Decision(retrain=False, evaluated=True, reasons=[*rejected, "no retrain signal fired", *noted],
                        signals=sorted(signals), policy=spec)
    reasons = [*rejected, *(signals[s] for s in fired), *noted]
    if labelled_rows < spec.min_labelled_rows:
        return Decision(retrain=False, evaluated=True, reasons=[*reasons, f"but only {labelled_rows} labelled new rows < min_labelled_rows "
                                                                          f"{spec.min_labelled_rows}: waiting for labels"],
                        signals=sorted(signals), policy=spec)
    if after_refusal and spec.on_refusal == "cooldown" and batches_since_retrain < spec.refusal_cooldown_batches:
        return Decision(retrain=False, evaluated=True,
                        reasons=[*reasons, f"but the gate refused the last retrain's challenger: cooling down, "
                                           f"{batches_since_retrain} batch(es) since < refusal_cooldown_batches "
                                           f"{spec.refusal_cooldown_batches} (monitor.on_refusal: cooldown)"],
                        signals=sorted(signals), policy=spec)
    if batches_since_retrain < spec.cooldown_batches:
        return Decision(retrain=False, evaluated=True, reasons=[*reasons, f"but in cooldown: {batches_since_retrain} batch(es) since the last retrain "
                                                                          f"< cooldown_batches {spec.cooldown_batches}"],
                        signals=sorted(signals), policy=spec)
    return Decision(retrain=True, evaluated=True, reasons=reasons, signals=sorted(signals), policy=spec)


DRIFT_SIGNALS = ("dataset_drift", "prediction_drift", "multivariate")


def _harmless(fired: Sequence[str], performance: Performance | None, estimated: EstimatedPerformance | None) -> dict[str, str]:
    """The fired drift signals that do not hurt: performance, estimated or realised, holds.

    Nothing is harmless when neither can be judged (no labels and no estimator), or when one drops.
    """
    if (performance and performance.drifted) or (estimated and estimated.drifted):
        return {}
    if estimated is not None and estimated.drop is not None:
        why = f"estimated {estimated.headline} holds (drop {estimated.drop:+.4f} < {estimated.threshold})"
    elif performance is not None:
        why = f"{performance.metric} on labelled rows holds (drop {performance.drop:+.4f} < {performance.threshold})"
    else:
        return {}
    return {s: why for s in fired if s in DRIFT_SIGNALS}


# ---------------------------------------------------------------------------------- helpers


def _labelled(frame: pd.DataFrame, target: str) -> int:
    """Rows whose ground truth is known (a batch without the target column has none)."""
    return int(frame[target].notna().sum()) if target in frame.columns else 0


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def severity(result: DriftResult) -> float:
    """How far past its threshold a result is: 1.0 at the threshold, larger is worse."""
    if result.statistic is None:
        return 0.0
    if TESTS[result.test].decides_on == "p_value":
        p = max(result.p_value if result.p_value is not None else 1.0, 1e-300)
        return round(-math.log10(p) / -math.log10(result.threshold), 6) if result.threshold < 1 else 0.0
    return round(result.statistic / result.threshold, 6) if result.threshold > 0 else 0.0


def histogram(profile: Profile, current: pd.Series | np.ndarray | Sample) -> Histogram | None:
    """Reference and current shares on shared bins, for the report's plots.

    `current` is the column's values or its prepared sample (`drift.stats.prepare`): the tests'
    sample is passed in, so the numeric shares come from the one sort the tests did, by binary
    search per edge, and the categorical ones from the one count.
    """
    sample = prepare(profile, current)
    if isinstance(profile, (NumericProfile, SketchProfile)):
        assert isinstance(sample, NumericSample)
        if profile.n_values == 0:
            return None
        if isinstance(profile, SketchProfile):
            lo, hi = kll.quantiles(profile, HISTOGRAM_SPAN)
            first, last = profile.minimum, profile.maximum
        else:
            ref = profile.sorted_values
            lo, hi = sorted_quantile(ref, HISTOGRAM_SPAN)
            first, last = float(ref[0]), float(ref[-1])
        if not hi > lo:
            lo, hi = first - 0.5, last + 0.5
        edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
        reference = kll.histogram_shares(profile, edges) if isinstance(profile, SketchProfile) else sorted_shares(profile.sorted_values, edges)
        return NumericHistogram(edges=[round(float(e), 6) for e in edges], reference=reference,
                                current=sorted_shares(sample.sorted_values, edges))
    assert isinstance(profile, CategoricalProfile)
    ref_counts = dict(profile.counts)
    assert isinstance(sample, CategoricalSample)
    cur_counts = dict(sample.counts)  # the reference's labels (one encoding for binaries)
    categories = sorted(set(ref_counts) | set(cur_counts), key=lambda c: (-ref_counts.get(c, 0), c))
    ref_total = sum(ref_counts.values()) or 1
    cur_total = sum(cur_counts.values()) or 1
    return CategoricalHistogram(categories=categories,
                                reference=[round(ref_counts.get(c, 0) / ref_total, 6) for c in categories],
                                current=[round(cur_counts.get(c, 0) / cur_total, 6) for c in categories])


def sorted_shares(sorted_values: np.ndarray, edges: np.ndarray) -> list[float]:
    """The bin shares of values counted one by one (below the first edge in the first bin, at or
    above the last inner edge in the last), read off sorted values with one binary search per edge:
    O(bins · log n), never touching each of the n values. Both sides of a numeric histogram use it:
    the reference's stored sorted values and the current sample the tests sorted."""
    n = sorted_values.size
    if n == 0:
        return [0.0] * (len(edges) - 1)
    below = np.searchsorted(sorted_values, edges[1:-1], side="left")  # values < each inner edge
    counts = np.diff(np.concatenate(([0], below, [n])))
    return [round(float(c) / n, 6) for c in counts]


def _with_override(result: DriftResult, override: ColumnPolicy | None) -> DriftResult:
    """Re-decide a result against a per-column threshold from the policy."""
    if override is None or override.threshold is None or result.statistic is None:
        return result
    if TESTS[result.test].decides_on == "p_value":
        drifted = result.p_value is not None and result.p_value < override.threshold
    else:
        drifted = result.statistic >= override.threshold
    return DriftResult(result.test, result.column, result.statistic, result.p_value, override.threshold, drifted, result.details)
