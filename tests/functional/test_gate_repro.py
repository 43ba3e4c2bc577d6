"""The paired gate in a real `dvc repro`: a retrain that only changes the random seed is noise, not improvement."""

from __future__ import annotations

import json
from pathlib import Path

from driftline.registry import Registry


def test_a_reseeded_retrain_is_refused_with_its_interval_and_leaves_a_baseline(cli, sh, edit, built_project: Path) -> None:
    root = built_project
    # LightGBM's bagging seed 3 happens to score a little higher on the test rows: noise the point rule promoted
    edit(root, "pipelines/credit.yaml", "model:\n  threshold: 0.3", "model:\n  threshold: 0.3\n  params:\n    seed: 3")
    cli(["compile"], root)
    sh(["dvc", "repro", "credit-promote"], root)

    promotion = json.loads((root / "reports/credit/promotion.json").read_text())
    gate = promotion["gate"]
    assert promotion["decision"] == "refused", promotion["reason"]
    assert promotion["champion_before"] == promotion["champion_after"] == "v0001"
    assert gate["test"] == "delong" and gate["confidence"] == 0.95 and gate["rows"] > 100
    assert gate["improvement"] > 0 and gate["low"] <= 0 < gate["high"], "a small gain whose interval straddles zero"
    assert "by more than chance" in gate["reason"] and "95% interval [" in gate["reason"]

    registry = Registry(root, "credit")
    refusal = [e for e in registry.history() if e["event"] == "refused"][-1]
    assert refusal["details"]["gate"]["low"] == gate["low"]
    baseline = registry.baseline()
    assert baseline is not None and baseline.champion == "v0001"
    assert baseline.meta["reason"] == gate["reason"]
    profile = json.loads(baseline.file("profile.json").read_text())
    champion_profile = json.loads(registry.file("v0001", "profile.json").read_text())
    assert set(profile["columns"]) == set(champion_profile["columns"])
    audit = [json.loads(line) for line in (root / "audit/log.jsonl").read_text().splitlines()]
    assert {"refusal", "baseline"} <= {r["kind"] for r in audit}

    # the old point rule (`gate.test: none`) promotes the same challenger, and the baseline goes stale
    edit(root, "conf/gate/default.yaml", "test: auto", "test: none")
    cli(["compile"], root)
    sh(["dvc", "repro", "credit-promote"], root)
    promotion = json.loads((root / "reports/credit/promotion.json").read_text())
    assert promotion["decision"] == "promoted" and promotion["gate"]["test"] == "none"
    assert promotion["gate"]["improvement"] == gate["improvement"]
    assert registry.champion().version == "v0002" and registry.baseline() is None
