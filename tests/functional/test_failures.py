"""What a failure leaves behind: a torn audit tail repaired, a failed stage's audit record.

The table of bad inputs that used to live here (one clear message, a non-zero exit, no traceback)
is now data: tests/corpus/*.yaml, run by tests/functional/test_corpus_*.py (tests/corpus/runner.py).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from driftline.cli.main import app

COPIED = ("conf", "pipelines", "params.yaml", "dvc.yaml", "registry", "audit",
          "data/credit/trigger.json", "data/credit/monitor_state.json")


@pytest.fixture(scope="module")
def template(projects, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reproduced demo project's config, registry and audit trail (no git, no DVC: no command here needs them)."""
    source = projects.reproduced()  # the repository does not commit the demo's registry (its binaries live in a DVC cache)
    root = tmp_path_factory.mktemp("template")
    for rel in COPIED:
        src, dst = source / rel, root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    for path in (root / "registry").rglob("*"):  # registry versions are read-only; cases damage copies
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


@pytest.fixture
def project(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    shutil.copytree(template, root)
    monkeypatch.chdir(root)
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))  # `serve` sets it in-process
    return root


def write(rel: str, data: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        (root / rel).write_text(data)
    return damage


def tear_audit_tail(root: Path) -> None:
    path = root / "audit" / "log.jsonl"
    path.write_bytes(path.read_bytes() + b'{"seq": 99, "kind": "stage_r')


def test_a_torn_audit_tail_is_repaired_on_the_next_append(project: Path) -> None:
    """A crash mid-append leaves half a line; the next stage run cuts it and the chain stays intact."""
    tear_audit_tail(project)
    result = CliRunner().invoke(app, ["run", "ingest", "credit"])
    assert result.exit_code == 0, result.output
    verified = CliRunner().invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0 and "intact" in verified.output, verified.output


def test_a_failed_stage_writes_its_failed_audit_record(project: Path) -> None:
    write("data/credit/trigger.json", "{ not json")(project)
    CliRunner().invoke(app, ["run", "ingest", "credit"])
    last = json.loads((project / "audit" / "log.jsonl").read_text().splitlines()[-1])
    assert last["kind"] == "stage_run"
    assert last["payload"]["stage"] == "credit-ingest" and last["payload"]["status"] == "failed"
    assert "trigger.json" in last["payload"]["summary"]
