"""DVC experiments as documented: queue a grid with -S, run it with two workers, compare with exp show.

Queued experiments run in temporary git clones, so this also proves that the stages' stale-compile
check (the conf/ fingerprint in params.yaml) holds there: `-S` edits params.yaml values, not conf/.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

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


@pytest.fixture
def committed_repro(built_project: Path) -> Path:
    """A small project after a full `dvc repro`, committed (this test's own copy)."""
    return built_project


def test_queue_a_grid_run_it_with_two_workers_and_show_it(sh, committed_repro: Path) -> None:
    root = committed_repro
    queued = sh(["dvc", "exp", "run", "--queue", "-S", "credit.model.params.num_leaves=15,31,63"], root)
    assert queued.stdout.count("Queued experiment") == 3
    sh(["dvc", "queue", "start", "-j", "2"], root)  # starts detached workers and returns
    status = wait_for_queue(sh, root)
    assert status.count("Success") == 3, status

    found = experiments(json.loads(sh(["dvc", "exp", "show", "--json"], root).stdout))
    assert sorted(e["num_leaves"] for e in found.values()) == [15, 31, 63]
    for exp in found.values():
        assert 0.5 < exp["metrics"]["roc_auc"] <= 1.0
    table = sh(["dvc", "exp", "show", "--csv"], root).stdout  # the table a person reads, as CSV (no terminal width)
    assert "credit.model.params.num_leaves" in table and "roc_auc" in table
    for name in found:
        assert name in table
    # The workspace is untouched: experiments live in refs until applied.
    assert sh(["git", "status", "--porcelain", "--untracked-files=no"], root).stdout == ""
