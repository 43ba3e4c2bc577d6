"""Model cards render every section a reviewer looks for, from plain data."""

from __future__ import annotations

import json

from driftline.registry.card import build_card, card_documents


def card(**overrides: object) -> dict:
    base = dict(
        pipeline="credit", version="v0002", parent="v0001", description="Default risk.", intended_use="",
        limitations="Synthetic data only.", task="binary", target="default", features=["age", "income"],
        training={"train_rows": 35_000, "time_window": {"from": "2024-01-01", "to": "2025-12-31"},
                  "absorbed_batches": [{"file": "b1", "sha256": "x"}], "retrains": 1},
        metrics={"roc_auc": 0.81, "n": 7500},
        slices={"employment": {"salaried": {"roc_auc": 0.8, "n": 5000}, "student": {"roc_auc": 0.7, "n": 300}}},
        gate={"passed": True, "reason": "challenger roc_auc 0.81 beats champion 0.80"},
        drift_history=[{"time": "2026-01-01T00:00:00", "reasons": ["7 of 13 columns drifted"]}],
    )
    base.update(overrides)
    return build_card(**base)


def test_markdown_has_every_section_and_json_round_trips() -> None:
    docs = card_documents(card())
    md = docs["model_card.md"]
    assert md.startswith("# Model card: credit v0002")
    assert "**Intended use.** Default risk." in md, "falls back to the pipeline description"
    for part in ("Replaces: v0001", "Training rows: 35,000", "2024-01-01 to 2025-12-31", "| roc_auc | 0.8100 |",
                 "### By `employment`", "| student | 300 | 0.7000 |", "Passed: challenger", "7 of 13 columns drifted"):
        assert part in md, part
    assert json.loads(docs["model_card.json"])["metrics_by_slice"]["employment"]["student"]["n"] == 300


def test_a_first_version_without_drift_says_so() -> None:
    md = card_documents(card(parent=None, drift_history=[], gate={"passed": True, "reason": "first model"}))["model_card.md"]
    assert "Replaces: nothing (first version)" in md and "none: trained on the original data" in md
