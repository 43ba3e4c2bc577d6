"""Trace one served decision back to its model version, training data, config, code and drift.

Joins four records that were written independently: the prediction log (the decision and its
model version), the registry (the version's manifest, metrics, gate and training summary), and
the audit trail (the train stage run that produced exactly that model file, the promotion, and
the retrain decision that led to it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from driftline.errors import DriftlineError


class TraceError(DriftlineError):
    pass


def find_decision(root: Path, request_id: str) -> dict[str, Any]:
    """The logged decision with this request id, from any pipeline's prediction log: the SQLite files
    under logs/ and the PostgreSQL databases the pipelines' `serve.log.url` name."""
    from driftline.predictions.log import LOG_FILE, LOGS_DIR, is_server, log_locations, read_decision

    searched = log_locations(root)
    for db in searched:
        decision = read_decision(db, request_id)
        if decision is not None:
            decision["log"] = str(db) if is_server(db) else Path(db).relative_to(root).as_posix()
            return decision
    where = ", ".join([f"{LOGS_DIR}/*/{LOG_FILE}", *(str(db) for db in searched if is_server(db))])
    raise TraceError(f"no decision with request id '{request_id}' in {where}")


def trace(root: Path, request_id: str) -> dict[str, Any]:
    from driftline.audit.log import read, verify
    from driftline.registry.store import Registry

    decision = find_decision(root, request_id)
    pipeline, version = decision["pipeline"], decision["model_version"]
    info = Registry(root, pipeline).get(version)
    training_file = info.path / "training.json"
    training = json.loads(training_file.read_text(encoding="utf-8")) if training_file.is_file() else None
    model_sha = info.files.get("model.txt")
    records = read(root)
    train_runs = [r for r in records if r["kind"] == "stage_run" and r["payload"].get("stage") == f"{pipeline}-train"
                  and r["payload"].get("outputs", {}).get(f"models/{pipeline}/model.txt") == model_sha]
    produced_by = train_runs[-1] if train_runs else None
    events = [r for r in records if r["payload"].get("pipeline") == pipeline and r["payload"].get("version") == version
              and r["kind"] in ("registered", "promotion", "rollback")]
    registered_seq = next((r["seq"] for r in events if r["kind"] == "registered"), None)
    retrains = [r for r in records if r["kind"] == "retrain" and r["payload"].get("pipeline") == pipeline
                and (registered_seq is None or r["seq"] < registered_seq)]
    trigger = retrains[-1] if retrains else None
    if trigger is not None and info.parent is not None:
        # only a retrain after the parent's registration led to this version
        parent_seq = next((r["seq"] for r in records if r["kind"] == "registered"
                           and r["payload"].get("pipeline") == pipeline and r["payload"].get("version") == info.parent), None)
        if parent_seq is not None and trigger["seq"] < parent_seq:
            trigger = None
    drift = None
    if trigger is not None:
        decisions = [r for r in records if r["kind"] == "drift_decision" and r["payload"].get("report_sha256") == trigger["payload"].get("report_sha256")]
        drift = {"retrain_record": trigger["seq"], "time": trigger["time"], "reasons": trigger["payload"]["reasons"],
                 "absorbed_batches": trigger["payload"].get("absorbing", []),
                 "drifted_columns": decisions[-1]["payload"].get("drifted_columns", []) if decisions else [],
                 "report_sha256": trigger["payload"].get("report_sha256")}
    verdict = verify(root)
    return {
        "request_id": request_id,
        "decision": decision,
        "model": {
            "pipeline": pipeline, "version": version, "created": info.created, "parent": info.parent,
            "champion_now": info.champion, "metrics": info.metrics, "gate": info.gate,
            "data_fingerprint": info.data_fingerprint, "config_fingerprint": info.config_fingerprint,
            "model_sha256": model_sha, "training": training,
            "model_card": (info.path / "model_card.md").relative_to(root).as_posix() if (info.path / "model_card.md").is_file() else None,
        },
        "produced_by": None if produced_by is None else {
            "audit_record": produced_by["seq"], "time": produced_by["time"], "stage": produced_by["payload"]["stage"],
            "params": produced_by["payload"]["params"], "inputs": produced_by["payload"]["inputs"],
            "git": produced_by["payload"]["git"], "packages": produced_by["payload"]["packages"],
        },
        "registry_events": [{"audit_record": r["seq"], "time": r["time"], "kind": r["kind"], "reason": r["payload"].get("reason")} for r in events],
        "triggered_by_drift": drift,
        "audit_chain": {"intact": verdict.ok, "records": verdict.records, "problem": verdict.problem or None},
    }


def trace_text(t: dict[str, Any]) -> str:
    d, m, p = t["decision"], t["model"], t["produced_by"]
    lines = [
        f"Decision {t['request_id']}  ({d['pipeline']}, {d['time']})",
        f"  input:   {json.dumps(d['inputs'], sort_keys=True)}",
        f"  output:  {json.dumps(d['outputs'], sort_keys=True)}",
    ]
    for code in d.get("reasons") or []:
        shown = code.get("input", code.get("value"))
        lines.append(f"  reason:  {code.get('feature')} = {shown!r} (pushed the score by {code.get('contribution', 0):+.4f})")
    if d.get("label"):
        lines.append(f"  ground truth: {d['label']['label']} (from {d['label']['source']}, {d['label']['time']})")
    training = m.get("training") or {}
    window = training.get("time_window") or {}
    lines += [
        "",
        f"Model {m['pipeline']} {m['version']}  (registered {m['created']}; replaced {m['parent'] or 'nothing'}; "
        f"champion now: {'yes' if m['champion_now'] else 'no'})",
        "  metrics: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(m["metrics"].items()) if isinstance(v, float)),
        f"  gate:    {(m.get('gate') or {}).get('reason', '—')}",
        f"  training data: {training.get('train_rows', '?')} rows, {window.get('from', '?')} .. {window.get('to', '?')}, "
        f"fingerprint {m['data_fingerprint'][:16]}…",
        f"  config fingerprint {m['config_fingerprint'][:16]}…, model.txt sha256 {m['model_sha256'][:16]}…",
        f"  model card: {m['model_card'] or '—'}",
    ]
    if p:
        git = p["git"]
        lines += [
            "",
            f"Trained by {p['stage']} (audit record #{p['audit_record']}, {p['time']})",
            f"  code:    git {str(git.get('commit'))[:12]}{' (dirty: ' + ', '.join(git.get('changed', [])[:5]) + ')' if git.get('dirty') else ' (clean)'}",
            f"  params:  {json.dumps(p['params'], sort_keys=True)}",
            "  packages: " + ", ".join(f"{k} {v}" for k, v in sorted(p["packages"].items()) if v),
        ]
    else:
        lines += ["", "Trained by: no train stage record with this model's hash in the audit trail"]
    for event in t["registry_events"]:
        why = "" if event["kind"] == "registered" else f": {event['reason']}"
        lines.append(f"  {event['kind']}{why} (audit record #{event['audit_record']}, {event['time']})")
    drift = t["triggered_by_drift"]
    lines.append("")
    if drift:
        lines += [f"Retrained because (audit record #{drift['retrain_record']}, {drift['time']}):",
                  *(f"  - {r}" for r in drift["reasons"]),
                  f"  drifted columns: {', '.join(drift['drifted_columns']) or '—'}",
                  f"  absorbed batches: {', '.join(b['file'] for b in drift['absorbed_batches']) or '—'}"]
    else:
        lines.append("Not a drift retrain: trained on the pipeline's source data (or after a config change).")
    chain = t["audit_chain"]
    lines.append(f"\nAudit chain: {'intact' if chain['intact'] else 'BROKEN: ' + str(chain['problem'])} ({chain['records']} records)")
    return "\n".join(lines)
