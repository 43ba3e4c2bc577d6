"""The monitor survives SIGKILL: served decisions are exported exactly once, and a new batch is
judged once, whatever point of the run the process dies at (faults.py; method as in test_crash_stages.py).

Export: the kill points between reading the prediction log and committing `log_exported_until` are
the intent write, the batch write and the commit write (each before/during/after) and the named
steps `monitor:export-intent` / `monitor:export-written`; the sample kills after the intent, at the
batch mid-write, after the batch (the reported bug: 300 decisions exported twice) and at the commit
mid-write, each from the same starting state, each followed by a clean rerun.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from driftline.atomic import write_parquet
from driftline.data.generator import generate_loans
from tests.functional.crash import assert_readable, audit_ok, kill_at, remove, temp_files, trace, with_occurrence

STATE = "data/credit/monitor_state.json"
INCOMING = "data/credit/incoming"
TOUCHED = [INCOMING, STATE, "data/credit/trigger.json", "reports/credit/drift.json", "reports/credit/drift.html",
           "reports/credit/drift_history.csv", "audit"]
OUTPUTS = [STATE, "data/credit/trigger.json", "reports/credit/drift.json", "reports/credit/drift.html", "reports/credit/drift_history.csv"]
MONITOR = ["run", "monitor", "credit"]


def rows(n: int, batch: int) -> pd.DataFrame:
    return generate_loans(rows=n, seed=3, start="2026-01-01", end="2026-02-01", drift="covariate", batch=batch)


def log_decisions(root: Path, n: int = 300) -> set[str]:
    """Three requests of n/3 decisions in the project's prediction log; their request ids."""
    from driftline.predictions.log import LoggedRequest, PredictionLog, log_path

    frame = rows(n, 9)
    records = json.loads(frame.drop(columns=["default"]).to_json(orient="records", date_format="iso"))
    for record in records:
        record["applied_at"] = record["applied_at"].replace("Z", "").split(".")[0]
    log = PredictionLog(log_path(root, "credit"))
    size = n // 3
    try:
        for r in range(3):
            part = records[r * size : (r + 1) * size]
            log.record(LoggedRequest(batch_id=f"req{r}", time=f"2026-02-01T00:00:0{r}.000+00:00", model_version="v0001",
                                     size=len(part), inputs=json.dumps(part),
                                     outputs=json.dumps([{"score": 0.2, "prediction": 0}] * len(part))), "credit")
    finally:
        log.close()
    return {f"req{r}-{i}" for r in range(3) for i in range(size)}


def snapshot(root: Path, dest: Path) -> None:
    for rel in TOUCHED:
        if (root / rel).is_dir():
            shutil.copytree(root / rel, dest / rel)
        elif (root / rel).exists():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, dest / rel)


def restore(root: Path, snap: Path) -> None:
    remove(root, TOUCHED)
    for rel in TOUCHED:
        target = root / rel
        if (snap / rel).is_dir():
            shutil.copytree(snap / rel, target)
        elif (snap / rel).exists():
            shutil.copy2(snap / rel, target)


def exported_ids(root: Path) -> list[str]:
    return [rid for f in sorted((root / INCOMING).glob("batch-*.parquet")) for rid in pd.read_parquet(f)["request_id"]]


def test_served_decisions_are_exported_exactly_once_whenever_the_monitor_dies(cli, built_project: Path, tmp_path: Path) -> None:
    root = built_project
    ids = log_decisions(root)
    snap = tmp_path / "snap"
    snapshot(root, snap)
    points = with_occurrence(trace(cli, MONITOR, root, tmp_path))
    restore(root, snap)
    names = [p for p, _ in points]
    batch = f"{INCOMING}/batch-0001.parquet"
    chosen = [("monitor:export-intent", 1), (f"write:{batch}:during", 1), ("monitor:export-written", 1), (f"write:{STATE}:during", 2)]
    assert all(point in points for point in chosen), names[:15]
    for point, nth in chosen:
        kill_at(MONITOR, root, point, nth)
        assert_readable(root, OUTPUTS)
        cli(MONITOR, root)
        assert temp_files(root) == [], point
        exported = exported_ids(root)
        assert sorted(exported) == sorted(ids), f"killed at {point}@{nth}: {len(exported)} decisions exported for {len(ids)} logged"
        state = json.loads((root / STATE).read_text())
        assert "export_pending" not in state and state["log_exported_until"].startswith("2026-02-01T00:00:02")
        audit_ok(cli, root)
        restore(root, snap)
    kill_at(MONITOR, root, "monitor:export-written")  # the reported case, once more: and then two runs
    cli(MONITOR, root)
    assert "no new batches" in cli(MONITOR, root).stdout
    assert sorted(exported_ids(root)) == sorted(ids)


def test_a_monitor_killed_while_judging_a_batch_judges_it_once_on_rerun(cli, built_project: Path) -> None:
    """Killed after writing its history rows but before its state commit, then (on the rerun) after the
    commit but mid-way through the trigger it decided on; rerun: one history run for the batch, the
    retrain in trigger.json, the batch seen. (A monitor run on a new batch costs seconds: two kills.)"""
    root = built_project
    write_parquet(root / f"{INCOMING}/batch-0001.parquet", rows(600, 1))
    history_before = pd.read_csv(root / "reports/credit/drift_history.csv")
    trigger_before = json.loads((root / "data/credit/trigger.json").read_text())
    for point in ("write:reports/credit/drift_history.csv:after", "write:data/credit/trigger.json:during"):
        kill_at(MONITOR, root, point)
        assert_readable(root, OUTPUTS)
    out = cli(MONITOR, root).stdout
    assert temp_files(root) == []
    assert_readable(root, OUTPUTS)
    history = pd.read_csv(root / "reports/credit/drift_history.csv")
    assert history["run"].nunique() == history_before["run"].nunique() + 1, out
    state = json.loads((root / STATE).read_text())
    assert [b["file"] for b in state["seen"]] == [f"{INCOMING}/batch-0001.parquet"] and "trigger_pending" not in state
    trigger = json.loads((root / "data/credit/trigger.json").read_text())
    assert trigger["retrains"] == trigger_before["retrains"] + 1, out
    assert json.loads((root / "reports/credit/drift.json").read_text())["current"]["rows"] == 600
    assert "no new batches" in cli(MONITOR, root).stdout
    audit_ok(cli, root)
