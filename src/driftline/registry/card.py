"""Model cards: what a registered version is for, what it learned from, and how well it does. Pure."""

from __future__ import annotations

import json
from typing import Any

from driftline.config.metrics import SLICES, shown


def slice_metrics(frame: Any, scores: Any, labels: Any, columns: list[str], task: str, threshold: float,
                  min_rows: int) -> dict[str, dict[str, dict[str, float]]]:
    """Metrics per value of each slice column, on the held-out rows; tiny slices are left out."""
    import numpy as np

    from driftline.models.evaluate import compute_metrics

    out: dict[str, dict[str, dict[str, float]]] = {}
    for column in columns:
        values = frame[column].astype("string").fillna("(missing)").to_numpy()
        out[column] = {}
        for value in sorted(set(values)):
            mask = values == value
            if int(mask.sum()) >= min_rows:
                out[column][str(value)] = compute_metrics(np.asarray(labels)[mask], np.asarray(scores)[mask], task, threshold=threshold)
    return out


def build_card(*, pipeline: str, version: str, parent: str | None, description: str, intended_use: str,
               limitations: str, task: str, target: str, features: list[str], training: dict[str, Any],
               metrics: dict[str, Any], slices: dict[str, Any], gate: dict[str, Any],
               drift_history: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "pipeline": pipeline, "version": version, "parent": parent,
        "intended_use": intended_use or description, "limitations": limitations,
        "task": task, "target": target, "features": features,
        "training_data": training, "metrics": metrics, "metrics_by_slice": slices,
        "gate": gate, "drift_history": drift_history,
    }


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def card_markdown(card: dict[str, Any]) -> str:
    t = card["training_data"]
    window = t.get("time_window") or {}
    lines = [
        f"# Model card: {card['pipeline']} {card['version']}",
        "",
        f"**Intended use.** {card['intended_use'] or '(not stated: set card.intended_use)'}",
        "",
        f"**Limitations.** {card['limitations'] or '(not stated: set card.limitations)'}",
        "",
        f"- Task: {card['task']}, target `{card['target']}`",
        f"- Replaces: {card['parent'] or 'nothing (first version)'}",
        f"- Training rows: {t.get('train_rows', '?'):,}" if isinstance(t.get("train_rows"), int) else "- Training rows: ?",
        f"- Data window: {window.get('from', '?')} to {window.get('to', '?')}",
        f"- Absorbed new batches: {len(t.get('absorbed_batches', []))} (retrains so far: {t.get('retrains', 0)})",
        "",
        "## Metrics (held-out test split)",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {k} | {_fmt(v)} |" for k, v in sorted(card["metrics"].items())),
        "",
    ]
    for column, values in card["metrics_by_slice"].items():
        keys = [k for k in shown(card["task"], SLICES) if any(k in m for m in values.values())]
        lines += [f"### By `{column}`", "", "| value | n | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
        for value, m in values.items():
            lines.append(f"| {value} | {m.get('n', '')} | " + " | ".join(_fmt(m.get(k, '')) for k in keys) + " |")
        lines.append("")
    gate = card["gate"]
    lines += ["## Gate", "", f"{'Passed' if gate.get('passed') else 'Refused'}: {gate.get('reason', '')}", "",
              "## Drift history", ""]
    if card["drift_history"]:
        lines += [f"- {h.get('time', '')[:19]}: {'; '.join(h.get('reasons', []))}" for h in card["drift_history"]]
    else:
        lines.append("- none: trained on the original data")
    lines += ["", f"## Features ({len(card['features'])})", "", ", ".join(f"`{f}`" for f in card["features"]), ""]
    return "\n".join(lines)


def card_documents(card: dict[str, Any]) -> dict[str, str]:
    return {"model_card.json": json.dumps(card, indent=2, sort_keys=True) + "\n", "model_card.md": card_markdown(card)}
