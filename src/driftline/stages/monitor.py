"""monitor: compare new batches with the champion's reference; decide whether to retrain.

Runs on every `dvc repro` (always_changed). Writes reports/<p>/drift.json and drift.html, and
rewrites data/<p>/trigger.json only when the policy fires, so the training chain, which
depends on the trigger, reruns exactly then. It reads the champion from the registry, which is
not a DVC output: that keeps the graph acyclic (see README, "The drift loop").
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from driftline.atomic import write_json, write_text
from driftline.stages.context import StageContext, StageError

DOMAIN_ROWS = 5_000


def read_state(ctx: StageContext) -> dict[str, Any]:
    path = ctx.path(ctx.paths.monitor_state)
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return {"seen": [], "batches_since_retrain": 0}


def _reported_on(ctx: StageContext, version: str) -> bool:
    """Whether the report on disk already compares against this champion."""
    path = ctx.path(ctx.paths.drift_json)
    return path.is_file() and json.loads(path.read_text(encoding="utf-8")).get("reference", {}).get("version") == version


def domain_classifier(reference: pd.DataFrame, current: pd.DataFrame, threshold: float) -> dict[str, Any] | None:
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
    return {"test": "domain_classifier", "auc": round(auc, 6), "threshold": threshold, "drifted": auc >= threshold,
            "rows": {"reference": len(ref), "current": len(cur)}}


def audit_decision(ctx: StageContext, report: dict[str, Any], new: list, pending: list) -> None:
    """A drift decision (and a retrain, when it fires) goes into the audit trail."""
    from driftline.atomic import canonical_sha256
    from driftline.audit.log import append

    decision = report["decision"]
    payload = {
        "pipeline": ctx.pipeline,
        "reference_version": report["reference"].get("version"),
        "batches": [b.to_json() for b in new],
        "retrain": decision["retrain"],
        "reasons": decision["reasons"],
        "drifted_columns": [c["name"] for c in report["columns"] if c["drifted"]],
        "report_sha256": canonical_sha256(report),
    }
    append(ctx.root, "drift_decision", payload)
    if decision["retrain"]:
        append(ctx.root, "retrain", {"pipeline": ctx.pipeline, "absorbing": [b.to_json() for b in pending],
                                     "reasons": decision["reasons"], "report_sha256": payload["report_sha256"]})


def export_served_decisions(ctx: StageContext, state: dict[str, Any]) -> str | None:
    """Endpoint monitoring: decisions logged since the last export become a new incoming batch.

    The batch holds the inputs as served and, as the target, the ground truth known at export
    time (`driftline labels import`, POST /v1/feedback); later labels do not reach it.
    """
    from driftline.atomic import write_parquet
    from driftline.data.batches import batch_file, next_batch_number
    from driftline.predictions.log import PredictionLogError, log_path, read_decisions

    path = log_path(ctx.root, ctx.pipeline)
    if not path.is_file():
        return None
    since = state.get("log_exported_until")
    try:
        frame = read_decisions(path, since=since)
    except PredictionLogError as exc:
        raise StageError(str(exc)) from None
    if since is not None:
        frame = frame[frame["time"] > pd.Timestamp(since)]
    if frame.empty:
        return None
    served = frame.drop(columns=[c for c in ("time", "model_version", "score", "prediction") if c in frame.columns])
    served = served.rename(columns={"label": ctx.cfg.target})
    rel = batch_file(ctx.paths.incoming, next_batch_number(ctx.root, ctx.paths.incoming))
    write_parquet(ctx.path(rel), served.reset_index(drop=True))
    state["log_exported_until"] = frame["time"].max().isoformat()
    return rel


def run(ctx: StageContext) -> str:
    from driftline.data.batches import incoming_batches, read_trigger
    from driftline.drift.html import render_drift_html
    from driftline.drift.monitor import column_report, decide, prediction_report
    from driftline.drift.profile import load_profile
    from driftline.registry.gate import LOWER_IS_BETTER, PRIMARY
    from driftline.registry.store import Registry
    from driftline.stages.promote import monitored_kinds

    p, cfg, spec = ctx.paths, ctx.cfg, ctx.cfg.monitor
    assert spec is not None
    trigger_path = ctx.path(p.trigger)
    trigger = read_trigger(ctx.root, p.trigger)
    if not trigger_path.is_file():
        write_text(trigger_path, trigger.to_text())
    state = read_state(ctx)
    if spec.prediction_log:
        export_served_decisions(ctx, state)
    seen = {(b["file"], b["sha256"]) for b in state["seen"]}
    absorbed = {(b.file, b.sha256) for b in trigger.absorbed}
    pending = [b for b in incoming_batches(ctx.root, p.incoming) if (b.file, b.sha256) not in absorbed]
    new = [b for b in pending if (b.file, b.sha256) not in seen]
    champion = Registry(ctx.root, ctx.pipeline).champion()

    report: dict[str, Any] = {
        "pipeline": ctx.pipeline,
        "generated_for": ", ".join(b.file.rsplit("/", 1)[-1] for b in new) or None,
        "reference": {"version": champion.version if champion else None},
        "current": {"rows": 0, "batches": [b.file for b in new], "labelled_rows": 0, "pending_batches": len(pending)},
        "columns": [], "share_drifted": 0.0, "dataset_drift": False,
        "prediction": None, "multivariate": None, "performance": None,
    }
    if champion is None:
        report["decision"] = {"retrain": False, "reasons": ["no champion yet: the first `dvc repro` trains and promotes one"],
                              "signals": [], "policy": spec.model_dump(mode="json")}
    elif not new and _reported_on(ctx, champion.version):
        return f"no new batches ({len(pending)} pending, {len(trigger.absorbed)} absorbed); report unchanged"
    else:
        current = pd.concat([pd.read_parquet(ctx.path(b.file)) for b in new], ignore_index=True) if new else pd.DataFrame()
        registry = Registry(ctx.root, ctx.pipeline)
        profiles = load_profile(registry.file(champion.version, "profile.json"), registry.file(champion.version, "profile.npz"))
        kinds = monitored_kinds(ctx)
        columns = [c for c in (spec.columns or list(kinds)) if c in profiles
                   and not (spec.overrides.get(c) and spec.overrides[c].ignore)]
        pending_frames = [current] + [pd.read_parquet(ctx.path(b.file)) for b in pending if b not in new]
        labelled_pending = sum(int(f[cfg.target].notna().sum()) for f in pending_frames if cfg.target in f.columns)
        report["reference"]["rows"] = next((profiles[c].n for c in columns), None)
        report["current"].update(rows=len(current), labelled_rows=int(current[cfg.target].notna().sum()) if cfg.target in current else 0)
        if len(current):
            report["columns"] = column_report(profiles, current, columns, spec)
            n_drifted = sum(c["drifted"] for c in report["columns"])
            report["share_drifted"] = round(n_drifted / len(columns), 6) if columns else 0.0
            report["dataset_drift"] = bool(columns) and report["share_drifted"] >= spec.drift_share
            scores, labels = None, None
            if cfg.task in ("binary", "regression"):
                from driftline.stages.promote import score_version

                meta = json.loads(registry.file(champion.version, "model.json").read_text(encoding="utf-8"))
                scored = current if cfg.target in current else current.assign(**{cfg.target: np.nan})
                scores, labels = score_version(registry.file(champion.version, "model.txt"),
                                               registry.file(champion.version, "features.json"), meta, scored, ctx)
            report["prediction"] = prediction_report(profiles, scores, spec)
            labelled = ~np.isnan(labels) if labels is not None else None
            if labelled is not None and labelled.any():
                from driftline.models.evaluate import compute_metrics

                metric = PRIMARY[cfg.task]
                now = compute_metrics(labels[labelled], scores[labelled], cfg.task, threshold=cfg.model.threshold).get(metric)
                before = champion.metrics.get(metric)
                if now is not None and before is not None:
                    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
                    drop = round(sign * (before - now), 6)
                    report["performance"] = {"metric": metric, "reference": before, "current": now, "drop": drop,
                                             "threshold": spec.performance_drop, "rows": int(labelled.sum()),
                                             "drifted": drop >= spec.performance_drop and int(labelled.sum()) >= spec.min_labelled_rows}
            if spec.domain_classifier and columns:
                reference = pd.read_parquet(registry.file(champion.version, "reference_sample.parquet"))
                report["multivariate"] = domain_classifier(reference[columns], current, spec.domain_auc_threshold)
        report["decision"] = decide(report, spec, new_rows=len(current), labelled_rows=labelled_pending,
                                    batches_since_retrain=int(state.get("batches_since_retrain", 0)) + len(new))

    decision = report["decision"]
    audit_decision(ctx, report, new, pending)
    if decision["retrain"]:
        trigger.absorbed = sorted({*trigger.absorbed, *pending})
        trigger.retrains += 1
        write_text(trigger_path, trigger.to_text())
        state["batches_since_retrain"] = 0
    else:
        state["batches_since_retrain"] = int(state.get("batches_since_retrain", 0)) + len(new)
    state["seen"] = sorted([*state["seen"], *(b.to_json() for b in new)], key=lambda b: b["file"])
    write_json(ctx.path(p.monitor_state), state)
    write_json(ctx.path(p.drift_json), report)
    write_text(ctx.path(p.drift_html), render_drift_html(report))
    verdict = "RETRAIN" if decision["retrain"] else "no retrain"
    drifted = [c["name"] for c in report["columns"] if c["drifted"]]
    return f"{verdict}: {'; '.join(decision['reasons'][:2])}" + (f" [drifted: {', '.join(drifted)}]" if drifted else "")
