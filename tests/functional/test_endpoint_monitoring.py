"""Endpoint monitoring: what the server decided becomes the monitor's current data, labels included."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from driftline.data.generator import generate_loans


def served(rows: pd.DataFrame) -> list[dict]:
    """Records as a client sends them: JSON scalars, ISO timestamps, no target."""
    records = json.loads(rows.drop(columns=["default"]).to_json(orient="records", date_format="iso"))
    for record in records:
        record["applied_at"] = record["applied_at"].replace("Z", "").split(".")[0]
    return records


def test_served_decisions_become_a_monitored_batch_with_their_labels(sh, built_project: Path) -> None:
    from driftline.predictions.log import LoggedRequest, PredictionLog, log_path

    root = built_project
    rows = generate_loans(rows=600, seed=3, start="2026-01-01", end="2026-02-01", drift="covariate", batch=9)
    log = PredictionLog(log_path(root, "credit"))
    try:
        records = served(rows)
        for batch in range(6):  # six requests of 100 decisions, a second apart
            part = records[batch * 100 : (batch + 1) * 100]
            log.record(LoggedRequest(batch_id=f"req{batch}", time=f"2026-02-01T00:00:{batch:02d}.000+00:00", model_version="v0001",
                                     size=len(part), inputs=json.dumps(part),
                                     outputs=json.dumps([{"score": 0.2, "prediction": 0}] * len(part)),
                                     record_ids=json.dumps([r["application_id"] for r in part])), "credit")
        log.add_labels([(f"req{i // 100}-{i % 100}", int(rows["default"].iloc[i])) for i in range(0, 600, 2)], "test")
    finally:
        log.close()

    out = sh(["dvc", "repro", "credit-monitor"], root).stdout
    batch = pd.read_parquet(root / "data/credit/incoming/batch-0001.parquet")
    assert len(batch) == 600 and batch["default"].notna().sum() == 300
    assert set(batch["application_id"]) == set(rows["application_id"])
    report = json.loads((root / "reports/credit/drift.json").read_text())
    assert report["current"]["rows"] == 600 and report["current"]["labelled_rows"] == 300
    flagged = {c["name"] for c in report["columns"] if c["drifted"]}
    assert {"credit_score", "income"} <= flagged and "age" not in flagged, out

    again = sh(["dvc", "repro", "credit-monitor"], root).stdout
    assert not (root / "data/credit/incoming/batch-0002.parquet").exists(), "each decision is exported once"
    assert "no new batches" in again
