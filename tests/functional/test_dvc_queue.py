"""DVC experiments as the README documents them: queue a grid with -S, run it with two workers,
compare with exp show, apply the winner, `dvc repro` to register it, serve it and verify the audit chain.

Queued experiments run in temporary git clones, so this also proves that the stages' stale-compile
check (the conf/ fingerprint in params.yaml) holds there: `-S` edits params.yaml values, not conf/.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

QUEUE_TIMEOUT_S = 600


def wait_for_queue(sh, root: Path) -> str:
    """Poll `dvc queue status` until no task is queued or running; return the last status."""
    deadline = time.monotonic() + QUEUE_TIMEOUT_S
    while True:
        status = sh(["dvc", "queue", "status"], root).stdout
        busy = [line for line in status.splitlines() if line.split()[-1:] in (["Queued"], ["Running"])]
        if not busy:
            return status
        if time.monotonic() > deadline:
            sh(["dvc", "queue", "stop", "--kill"], root, check=False)
            raise AssertionError(f"queue still busy after {QUEUE_TIMEOUT_S}s:\n{status}")
        time.sleep(2)


def experiments(show: list[dict]) -> dict[str, dict]:
    """name -> {num_leaves, metrics} from `dvc exp show --json`."""
    found = {}
    for commit in show:
        for exp in commit.get("experiments") or []:
            data = exp["revs"][0]["data"]
            params = data["params"]["params.yaml"]["data"]["credit"]["model"]["params"]
            metrics = data["metrics"]["reports/credit/metrics.json"]["data"]
            found[exp["name"]] = {"num_leaves": params["num_leaves"], "metrics": metrics}
    return found


def audit_records(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "audit/log.jsonl").read_text().splitlines() if line.strip()]


def test_the_recipe_through_exp_apply_registers_the_winner_in_the_main_workspace(sh, cli, projects) -> None:
    """README recipe: queue a grid, run it, `dvc exp apply` the winner, `dvc repro`, then serve and audit.

    From a project with no champion yet, so the gate promotes the winner whatever the sample says.
    """
    from tests.functional.test_serve import start_server, stop_server, test_records

    root = projects.fresh()
    queued = sh(["dvc", "exp", "run", "--queue", "-S", "credit.model.params.num_leaves=7,63"], root)
    assert queued.stdout.count("Queued experiment") == 2
    sh(["dvc", "queue", "start", "-j", "2"], root)  # starts detached workers and returns
    assert wait_for_queue(sh, root).count("Success") == 2

    found = experiments(json.loads(sh(["dvc", "exp", "show", "--json"], root).stdout))
    assert sorted(e["num_leaves"] for e in found.values()) == [7, 63]
    assert all(0.5 < e["metrics"]["roc_auc"] <= 1.0 for e in found.values())
    table = sh(["dvc", "exp", "show", "--csv"], root).stdout  # the table a person reads, as CSV (no terminal width)
    assert "credit.model.params.num_leaves" in table and "roc_auc" in table and all(name in table for name in found)
    # Experiments live in refs until applied, and two ran promote side by side: neither wrote the
    # registry or the audit chain (each would have forked it).
    assert sh(["git", "status", "--porcelain", "--untracked-files=no"], root).stdout == ""
    assert not (root / "registry").exists() and not (root / "audit").exists()
    winner = max(found, key=lambda name: found[name]["metrics"]["roc_auc"])

    sh(["dvc", "exp", "apply", winner], root)
    candidate = json.loads((root / "reports/credit/promotion.json").read_text())
    assert candidate["decision"] == "candidate" and candidate["would"] == "promote", candidate
    assert candidate["experiment"]["name"] == winner
    journaled = {r["payload"]["stage"] for r in candidate["experiment"]["records"] if r["kind"] == "stage_run"}
    assert "credit-train" in journaled
    assert not (root / "registry").exists()  # applied, not yet registered: no pointer without its version

    sh(["dvc", "repro"], root)
    report = json.loads((root / "reports/credit/promotion.json").read_text())
    assert report["decision"] == "promoted", report
    assert report["applied_experiment"]["name"] == winner and report["applied_experiment"]["adopted_records"] >= 1
    new = report["champion_after"]
    manifest = json.loads((root / "registry/credit/versions" / new / "manifest.json").read_text())
    assert manifest["files"]["model.txt"] == report["model_sha256"]

    verify = cli(["audit", "verify"], root)
    assert "intact" in verify.stdout, verify.stdout
    records = audit_records(root)
    adopted = [r for r in records if r["kind"] == "stage_run" and r["payload"].get("experiment", {}).get("name") == winner]
    assert any(r["payload"]["stage"] == "credit-train"
               and r["payload"]["outputs"]["models/credit/model.txt"] == report["model_sha256"] for r in adopted)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))  # one chain, no fork

    server = start_server(root)
    try:
        with server.client() as client:
            answer = client.post("/v1/predict", json={"records": test_records(root, 3)})
            assert answer.status_code == 200, answer.text
            assert answer.json()["model_version"] == new
            request_id = answer.json()["predictions"][0]["request_id"]
    finally:
        stop_server(server)
    trace = cli(["audit", "trace", request_id], root).stdout  # the decision back to the experiment's train run
    assert f"Model credit {new}" in trace and "Trained by credit-train" in trace and "Audit chain: intact" in trace, trace
