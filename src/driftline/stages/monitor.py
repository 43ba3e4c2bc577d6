"""monitor: compare new batches with the champion's reference; decide whether to retrain.

Runs on every `dvc repro` (always_changed). Writes reports/<p>/drift.json and drift.html, and
rewrites data/<p>/trigger.json only when the policy fires, so the training chain, which
depends on the trigger, reruns exactly then. It reads the champion from the registry, which is
not a DVC output: that keeps the graph acyclic (see README, "The drift loop").

This module only does I/O: it reads the batches, the champion's profile and the state, scores
the new rows with the champion, calls `driftline.drift.monitor.build_report` once, and writes
drift.json, drift.html, the state and the trigger atomically, with an audit record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from driftline.atomic import write_json, write_text
from driftline.stages.context import StageContext, StageError, remove_temp_files

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from driftline.config.groups import MonitorSpec
    from driftline.data.batches import Batch
    from driftline.drift.monitor import Policy, Reference
    from driftline.drift.report import BatchQuality, DriftReport
    from driftline.registry.store import VersionInfo


def read_state(ctx: StageContext) -> dict[str, Any]:
    rel = ctx.paths.monitor_state
    path = ctx.path(rel)
    if not path.is_file():
        return {"seen": [], "batches_since_retrain": 0}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        seen = state.get("seen", []) if isinstance(state, dict) else None
        if not isinstance(seen, list) or not all(isinstance(b, dict) and {"file", "sha256"} <= b.keys() for b in seen):
            raise ValueError("not the JSON object {seen: [{file, sha256}], batches_since_retrain}")
        int(state.get("batches_since_retrain", 0))
    except (ValueError, KeyError, TypeError) as exc:
        raise StageError(f"{rel} is damaged ({exc})",
                         hint=f"restore it with `git checkout -- {rel}`; deleting it makes the monitor look at every batch again") from None
    state.setdefault("seen", [])
    return state


def _reported_on(ctx: StageContext, version: str) -> bool:
    """Whether the report on disk already compares against this champion."""
    path = ctx.path(ctx.paths.drift_json)
    try:
        document = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError):  # damaged by hand: this run writes it again
        return False
    return isinstance(document, dict) and isinstance(document.get("reference"), dict) and document["reference"].get("version") == version


def audit_decision(ctx: StageContext, report: DriftReport, document: dict[str, Any], new: list[Batch],
                   pending: list[Batch], rejected: list[Batch]) -> None:
    """A drift decision (and a retrain, when it fires) goes into the audit trail."""
    from driftline.audit.log import append
    from driftline.hashing import sha256_json

    decision = report.decision
    payload = {
        "pipeline": ctx.pipeline,
        "reference_version": report.reference.version,
        "batches": [b.to_json() for b in new],
        "rejected": [{**b.to_json(), "reason": q.reason} for b in rejected
                     for q in report.quality if q.file == b.file],
        "retrain": decision.retrain,
        "evaluated": decision.evaluated,
        "baseline": decision.baseline,
        "reasons": decision.reasons,
        "drifted_columns": report.drifted_columns,
        "report_sha256": sha256_json(document),
    }
    append(ctx.root, "drift_decision", payload)
    if decision.retrain:
        append(ctx.root, "retrain", {"pipeline": ctx.pipeline, "absorbing": [b.to_json() for b in pending],
                                     "reasons": decision.reasons, "report_sha256": payload["report_sha256"]})


def export_served_decisions(ctx: StageContext, state: dict[str, Any]) -> str | None:
    """Endpoint monitoring: decisions logged since the last export become a new incoming batch.

    The batch holds the inputs as served and, as the target, the ground truth known at export
    time (`driftline labels import`, POST /v1/feedback); later labels do not reach it.

    Exactly once, whenever the process dies: the state first records the intent (`export_pending`:
    the batch's name and the time range), then the batch is written (atomically), then the state
    moves `log_exported_until` on and drops the intent. A run that finds an intent finishes it: the
    batch already there is kept, a missing one is written from the same range under the same name.
    Returns the batch written (or completed), None when there was nothing to export.
    """
    from contextlib import nullcontext
    from pathlib import Path

    from driftline.atomic import file_lock
    from driftline.data.batches import batch_file, next_batch_number
    from driftline.faults import reached
    from driftline.predictions.log import is_server, log_location

    location = log_location(ctx.root, ctx.pipeline, ctx.cfg.serve.log.url)
    pending = state.get("export_pending")
    if pending is not None:
        if not (isinstance(pending, dict) and isinstance(pending.get("file"), str) and isinstance(pending.get("until"), str)):
            raise StageError(f"{ctx.paths.monitor_state} is damaged (export_pending is not {{file, since, until}})",
                             hint=f"restore it with `git checkout -- {ctx.paths.monitor_state}`")
        rel = pending["file"]
        if not ctx.path(rel).exists():
            frame = _decisions(ctx, location, pending.get("since"), pending["until"])
            _write_export(ctx, rel, frame)
        _commit_export(ctx, state, pending["until"])
        return rel
    if not is_server(location) and not Path(location).is_file():
        return None
    since = state.get("log_exported_until")
    frame = _decisions(ctx, location, since, None)
    if frame.empty:
        return None
    until = frame["time"].max().isoformat()
    tracked = (ctx.root / ".dvc").is_dir()
    # the lock `driftline batch add` takes: the number chosen here is not taken by another writer meanwhile
    with file_lock(ctx.root / ".dvc" / "tmp" / "driftline-batches.lock") if tracked else nullcontext():
        rel = batch_file(ctx.paths.incoming, next_batch_number(ctx.root, ctx.paths.incoming))
        state["export_pending"] = {"file": rel, "since": since, "until": until}
        write_json(ctx.path(ctx.paths.monitor_state), state)
        reached("monitor:export-intent")
        _write_export(ctx, rel, frame)
    reached("monitor:export-written")
    _commit_export(ctx, state, until)
    return rel


def _decisions(ctx: StageContext, location: Any, since: str | None, until: str | None) -> pd.DataFrame:
    """The pipeline's logged decisions with since < time <= until."""
    import pandas as pd

    from driftline.predictions.log import PredictionLogError, read_decisions

    try:
        frame = read_decisions(location, since=since, pipeline=ctx.pipeline)
    except PredictionLogError as exc:
        raise StageError(str(exc)) from None
    if since is not None:
        frame = frame[frame["time"] > pd.Timestamp(since)]
    if until is not None:
        frame = frame[frame["time"] <= pd.Timestamp(until)]
    return frame


def _write_export(ctx: StageContext, rel: str, frame: pd.DataFrame) -> None:
    from driftline.atomic import write_parquet

    served = frame.drop(columns=[c for c in ("time", "model_version", "score", "prediction") if c in frame.columns])
    served = served.rename(columns={"label": ctx.cfg.target})
    remove_temp_files(ctx.root, [rel])  # what a run killed while writing it left
    write_parquet(ctx.path(rel), served.reset_index(drop=True))


def _commit_export(ctx: StageContext, state: dict[str, Any], until: str) -> None:
    state["log_exported_until"] = until
    state.pop("export_pending", None)
    write_json(ctx.path(ctx.paths.monitor_state), state)


def read_batch(ctx: StageContext, rel: str) -> pd.DataFrame | str:
    """One incoming batch (a file, or a folder of files), or why it cannot be read (a damaged file is rejected, never fatal)."""
    from driftline.data.batches import read_batch_frame

    try:
        return read_batch_frame(ctx.path(rel))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several unrelated types for a damaged file
        return f"not a readable Parquet file ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"


def check_batches(ctx: StageContext, batches: list[Batch]) -> tuple[dict[Batch, pd.DataFrame], list[BatchQuality]]:
    """Read each new batch and check it against the schema: the accepted frames, and every batch's quality."""
    from driftline.drift.quality import judge_batch, unreadable_batch
    from driftline.schema.rules import rules_for

    cfg = ctx.cfg
    assert cfg.monitor is not None
    rules = rules_for(cfg.schema_)
    limit = cfg.monitor.max_bad_share if cfg.monitor.max_bad_share is not None else cfg.schema_.max_bad_share
    accepted: dict[Batch, pd.DataFrame] = {}
    quality: list[BatchQuality] = []
    for batch in batches:
        frame = read_batch(ctx, batch.file)
        if isinstance(frame, str):
            quality.append(unreadable_batch(batch.file, frame, limit))
            continue
        checked, good = judge_batch(batch.file, frame, rules, limit, optional=frozenset({cfg.target}))
        quality.append(checked)
        if not checked.rejected:
            accepted[batch] = good  # the rows counted bad are not compared
    return accepted, quality


def read_batches(ctx: StageContext, batches: list[Batch]) -> pd.DataFrame:
    """The rows of batches accepted on earlier runs, in order (an empty frame for none)."""
    import pandas as pd

    frames = [frame for frame in (read_batch(ctx, b.file) for b in batches) if not isinstance(frame, str)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def current_samples(ctx: StageContext, accepted: list[Batch], profiles: Mapping[str, Any]) -> dict[str, Any] | None:
    """The new rows' statistics per monitored column, built on the Dask cluster (`monitor.cluster`)
    one task per Parquet file, when a new batch is a folder of files; None (in process) otherwise.

    The exact merge gives the samples the in-memory frame would, so the report is the same either way.
    """
    from driftline.data.batches import batch_parts
    from driftline.drift.partitioned import file_partitions, profile_partitions
    from driftline.drift.profile import NumericProfile
    from driftline.drift.stats import CategoricalSample, NumericSample

    cfg = ctx.cfg
    assert cfg.monitor is not None
    paths = [ctx.path(b.file) for b in accepted]
    if not any(path.is_dir() for path in paths):
        return None
    kinds = {c: profiles[c].kind for c in policy_of(ctx).kinds if c in profiles}
    if not kinds:
        return None
    merged = profile_partitions(file_partitions([part for path in paths for part in batch_parts(path)]), kinds, cluster=cfg.monitor.cluster)
    return {c: NumericSample(n=p.n, n_missing=p.n_missing, sorted_values=p.sorted_values) if isinstance(p, NumericProfile)
            else CategoricalSample(n=p.n, n_missing=p.n_missing, counts=p.counts) for c, p in merged.items()}


def stray_note(ctx: StageContext) -> str:
    """A note naming files in incoming/ that are not batches (a CSV dropped there is never read)."""
    from driftline.data.batches import stray_files

    strays = stray_files(ctx.root, ctx.paths.incoming)
    if not strays:
        return ""
    shown = " ".join(strays[:3]) + (" ..." if len(strays) > 3 else "")
    return (f"; note: {len(strays)} file(s) in {ctx.paths.incoming}/ are not batches and were not read: {shown} "
            f"(add them with `driftline batch add {ctx.pipeline} FILE`)")


def read_history_text(ctx: StageContext) -> str:
    """reports/<p>/drift_history.csv as it is ("" before the first run)."""
    path = ctx.path(ctx.paths.drift_history)
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def refused_last(ctx: StageContext) -> bool:
    """Whether the gate refused the challenger of the last retrain (the registry's latest verdict is a refusal)."""
    from driftline.registry.store import Registry

    verdicts = [e["event"] for e in Registry(ctx.root, ctx.pipeline).history() if e["event"] in ("promoted", "refused", "rollback")]
    return bool(verdicts) and verdicts[-1] == "refused"


def read_reference(ctx: StageContext, champion: VersionInfo, spec: MonitorSpec) -> Reference:
    """The champion's stored profile and metrics, and its training sample when the policy wants it.

    After the gate refused a challenger (`monitor.on_refusal: rebaseline`, the default), the data
    the challenger was trained on instead, with the champion's own scores and metrics on it.
    """
    import pandas as pd

    from driftline.drift.monitor import Reference
    from driftline.drift.profile import load_profile
    from driftline.registry.store import Registry

    registry = Registry(ctx.root, ctx.pipeline)
    baseline = registry.baseline() if spec.on_refusal == "rebaseline" else None
    file = baseline.file if baseline is not None else (lambda name: registry.file(champion.version, name))
    profiles = load_profile(file("profile.json"), file("profile.npz"))
    sample = pd.read_parquet(file("reference_sample.parquet")) if spec.domain_classifier else None
    metrics = champion.metrics
    note = None
    if baseline is not None:
        metrics = {**champion.metrics, **baseline.meta.get("champion_metrics", {})}
        note = (f"{baseline.meta.get('source', 'the refused challenger data')}: the gate refused that challenger at "
                f"{str(baseline.meta.get('time', ''))[:16]} and kept {champion.version} (monitor.on_refusal: rebaseline), "
                f"so drift is measured against the data it was kept for, not {champion.version}'s training data")
    return Reference(version=champion.version, profiles=profiles, metrics=metrics, sample=sample,
                     estimate=estimator_of(ctx, champion, metrics), baseline=note)


def estimator_of(ctx: StageContext, champion: VersionInfo, metrics: Mapping[str, float]) -> Callable[..., Any] | None:
    """The champion's performance estimator (CBPE/DLE) as `(scores, rows, labels) -> estimate`; None without one."""
    from driftline.drift.estimate import estimate_performance
    from driftline.registry.store import Registry
    from driftline.stages.promote import load_estimator

    cfg = ctx.cfg
    assert cfg.monitor is not None
    registry = Registry(ctx.root, ctx.pipeline)
    estimator = load_estimator(registry.file(champion.version, "model.json").parent)
    if estimator is None:
        return None
    fitted = None
    if estimator.method == "dle":
        from driftline.features.pipeline import FittedFeatures

        fitted = FittedFeatures.from_json(json.loads(registry.file(champion.version, "features.json").read_text(encoding="utf-8")))
    spec = cfg.monitor

    def estimate(scores: np.ndarray, rows: pd.DataFrame, labels: np.ndarray | None) -> Any:
        from driftline.features.pipeline import model_matrix

        return estimate_performance(estimator, scores, matrix=model_matrix(rows, fitted) if fitted is not None else None,
                                    threshold=cfg.model.threshold, reference_metrics=metrics,
                                    drop_threshold=spec.performance_drop, labels=labels)

    return estimate


def score_champion(ctx: StageContext, champion: VersionInfo, current: pd.DataFrame) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The champion's scores on the new rows and their labels (NaN where unlabelled); none for multiclass."""
    import numpy as np

    from driftline.registry.score import score_version
    from driftline.registry.store import Registry

    cfg = ctx.cfg
    if not len(current) or cfg.task not in ("binary", "regression"):
        return None, None
    registry = Registry(ctx.root, ctx.pipeline)
    scored = current if cfg.target in current else current.assign(**{cfg.target: np.nan})
    return score_version(registry.file(champion.version, "model.txt"), registry.file(champion.version, "features.json"),
                         champion.model_meta(), scored, task=cfg.task, target=cfg.target)


def policy_of(ctx: StageContext) -> Policy:
    """The monitor config, with the columns it may watch and the metric whose drop counts."""
    from driftline.config.metrics import LOWER, METRICS, headline
    from driftline.drift.monitor import Policy
    from driftline.drift.profile import monitored_kinds

    cfg = ctx.cfg
    assert cfg.monitor is not None
    metric = headline(cfg.task)
    return Policy(spec=cfg.monitor, kinds=monitored_kinds(cfg), target=cfg.target, task=cfg.task, metric=metric,
                  lower_is_better=METRICS[metric].direction == LOWER, threshold=cfg.model.threshold,
                  timestamp=cfg.dataset.timestamp)


def finish_trigger(ctx: StageContext, state: dict[str, Any]) -> None:
    """Write the trigger a committed run decided on (`trigger_pending` in the state), then drop the note."""
    text = state.get("trigger_pending")
    if not isinstance(text, str):
        return
    write_text(ctx.path(ctx.paths.trigger), text)
    del state["trigger_pending"]
    write_json(ctx.path(ctx.paths.monitor_state), state)


def uncommitted_run_dropped(text: str, history: list[Any], files: list[str]) -> tuple[str, list[Any]]:
    """The history without a last run over exactly these batches: a run killed before its state commit
    wrote those rows, and this run, redoing it, writes them again."""
    from driftline.drift.history import batch_stem

    if not history or not files:
        return text, history
    last = history[-1].run
    rows = [row for row in history if row.run == last]
    lines = text.splitlines(keepends=True)
    stems = {row.batch for row in rows if row.batch}
    if stems != {batch_stem(f) for f in files} or len(lines) != len(history) + 1 or history[-len(rows):] != rows:
        return text, history
    return "".join(lines[: -len(rows)]), history[: -len(rows)]


def run(ctx: StageContext) -> str:
    from driftline.data.batches import incoming_batches, read_trigger
    from driftline.drift.history import HEADER
    from driftline.registry.store import Registry

    p = ctx.paths
    assert ctx.cfg.monitor is not None
    trigger_path = ctx.path(p.trigger)
    trigger = read_trigger(ctx.root, p.trigger)
    if not trigger_path.is_file():
        write_text(trigger_path, trigger.to_text())
    state = read_state(ctx)
    finish_trigger(ctx, state)
    trigger = read_trigger(ctx.root, p.trigger)
    if ctx.cfg.monitor.prediction_log:
        export_served_decisions(ctx, state)
    seen = {(b["file"], b["sha256"]) for b in state["seen"]}
    refused = {(b["file"], b["sha256"]) for b in state.get("rejected", [])}
    absorbed = {(b.file, b.sha256) for b in trigger.absorbed}
    pending = [b for b in incoming_batches(ctx.root, p.incoming) if (b.file, b.sha256) not in absorbed | refused]
    new = [b for b in pending if (b.file, b.sha256) not in seen]
    champion = Registry(ctx.root, ctx.pipeline).champion()
    history_text = read_history_text(ctx)
    if not history_text:  # a declared output: it exists from the first run on, if only as its header
        write_text(ctx.path(p.drift_history), HEADER)
    strays = stray_note(ctx)
    if champion is not None and not new and _reported_on(ctx, champion.version):
        return f"no new batches ({len(pending)} pending, {len(trigger.absorbed)} absorbed); report unchanged{strays}"
    # Past this point there is a report to build: the common run above (nothing new) never loads pandas
    import pandas as pd

    from driftline.clock import now_utc
    from driftline.drift.history import append_history, next_run, read_history, report_rows
    from driftline.drift.html import render_drift_html
    from driftline.drift.monitor import Batch as Current
    from driftline.drift.monitor import build_report

    policy = policy_of(ctx)

    frames, quality = check_batches(ctx, new)
    accepted = [b for b in new if b in frames]
    rejected = [(b, q) for b, q in zip(new, quality) if q.rejected]
    pending = [b for b in pending if b in accepted or b not in new]
    since_retrain = int(state.get("batches_since_retrain", 0)) + len(accepted)
    bookkeeping = {"files": [b.file for b in accepted], "pending_batches": len(pending),
                   "batches_since_retrain": since_retrain, "quality": quality}
    if champion is None:
        reference, batch = None, Current(frame=pd.DataFrame(), **bookkeeping)
    else:
        reference = read_reference(ctx, champion, policy.spec)
        current = pd.concat([frames[b] for b in accepted], ignore_index=True) if accepted else pd.DataFrame()
        scores, labels = score_champion(ctx, champion, current)
        batch = Current(frame=current, scores=scores, labels=labels, parts=[(b.file, len(frames[b])) for b in accepted],
                        earlier=read_batches(ctx, [b for b in pending if b not in new]),
                        after_refusal=refused_last(ctx), samples=current_samples(ctx, accepted, reference.profiles), **bookkeeping)
    report = build_report(ctx.pipeline, reference, batch, policy)

    document = report.to_json()
    audit_decision(ctx, report, document, accepted, pending, [b for b, _ in rejected])
    if report.decision.retrain:
        trigger.absorbed = sorted({*trigger.absorbed, *pending})
        trigger.retrains += 1
        state["batches_since_retrain"] = 0
        state["trigger_pending"] = trigger.to_text()
    else:
        state["batches_since_retrain"] = since_retrain
    state["seen"] = sorted([*state["seen"], *(b.to_json() for b in accepted)], key=lambda b: b["file"])
    if rejected:
        state["rejected"] = sorted([*state.get("rejected", []), *({**b.to_json(), "reason": q.reason} for b, q in rejected)],
                                   key=lambda b: b["file"])
    history_text, history = uncommitted_run_dropped(history_text, read_history(history_text, p.drift_history),
                                                    [b.file for b in new])
    if new:  # a run with nothing new (the first repro, a new champion) adds no history
        rows = report_rows(report, next_run(history), now_utc("seconds"))
        history_text, history = append_history(history_text, rows, p.drift_history), [*history, *rows]
        write_text(ctx.path(p.drift_history), history_text)
    write_json(ctx.path(p.drift_json), document)
    write_text(ctx.path(p.drift_html), render_drift_html(report, history))
    # The commit: the state records the batches as seen. A run killed before it is redone whole (its
    # report and history rows are replaced); one killed after it finishes the trigger it decided on.
    write_json(ctx.path(p.monitor_state), state)
    if report.decision.retrain:
        finish_trigger(ctx, state)
    verdict = "RETRAIN" if report.decision.retrain else "no retrain" if report.decision.evaluated else "not evaluated"
    drifted = report.drifted_columns
    return (f"{verdict}: {'; '.join(report.decision.reasons[:2 + len(rejected)])}"
            + (f" [drifted: {', '.join(drifted)}]" if drifted else "") + strays)
