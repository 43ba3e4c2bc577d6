"""DVC's run cache: setting a hyperparameter back to a value already trained restores, it does not retrain.

DVC skips its run cache for a stage with a `cache: false` output that is not a metric or a plot,
so every report the train and evaluate stages write is declared under their `metrics:`/`plots:`.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.functional.test_repro import ran_stages

LEAVES = "model:\n  threshold: 0.3"


def stage_runs(root: Path, stage: str) -> int:
    """How many times the audit trail saw `stage` run (a run-cache restore runs no command)."""
    records = [json.loads(line) for line in (root / "audit/log.jsonl").read_text().splitlines()]
    return sum(r["kind"] == "stage_run" and r["payload"]["stage"] == stage for r in records)


def test_setting_a_param_back_restores_train_and_evaluate_from_the_run_cache(cli, sh, edit, built_project: Path) -> None:
    root = built_project
    model, summary, metrics = (root / "models/credit/model.txt", root / "reports/credit/live/metrics.json",
                               root / "reports/credit/metrics.json")
    first = {path: path.read_bytes() for path in (model, summary, metrics)}
    curve = root / "reports/credit/live/plots/metrics/valid/auc.tsv"
    first_curve = curve.read_bytes()

    edit(root, "pipelines/credit.yaml", LEAVES, LEAVES + "\n  params:\n    num_leaves: 15")
    cli(["compile"], root)
    changed = sh(["dvc", "repro"], root)
    assert {"credit-train", "credit-evaluate"} <= ran_stages(changed.stdout)
    assert model.read_bytes() != first[model], "15 leaves train another model"
    trained = stage_runs(root, "credit-train")

    edit(root, "pipelines/credit.yaml", "\n  params:\n    num_leaves: 15", "")
    cli(["compile"], root)
    back = sh(["dvc", "repro"], root)
    assert "Stage 'credit-train' is cached - skipping run, checking out outputs" in back.stdout
    assert "Stage 'credit-evaluate' is cached - skipping run, checking out outputs" in back.stdout
    assert "credit-train" not in ran_stages(back.stdout)
    assert stage_runs(root, "credit-train") == trained, "no training ran: nothing new in the audit trail"
    for path, content in first.items():
        assert path.read_bytes() == content, f"{path.relative_to(root)} is the first run's, byte for byte"
    assert json.loads(summary.read_text())["seconds"] > 0, "the first run's recorded training time, restored"
    assert curve.read_bytes() == first_curve, "DVCLive's curves come back too"
    assert sh(["dvc", "status", "credit-train", "credit-evaluate"], root).stdout.strip().endswith("up to date.")
