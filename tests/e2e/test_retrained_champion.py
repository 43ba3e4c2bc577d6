"""A champion retrained because of drift, as a user inspects it: `driftline audit trace` follows a
served decision back to the drift; `gto show` and `dvc artifacts get` see the same versions and champion."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retrained(first_repro, cli, edit, sh, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose champion v0002 was retrained because of concept drift."""
    root = shutil.copytree(first_repro.root, tmp_path_factory.mktemp("trace") / "proj", symlinks=True)
    # a small demo model: retrain on a smaller metric drop
    edit(root, "conf/monitor/default.yaml", "performance_drop: 0.03", "performance_drop: 0.01")
    cli(["compile"], root)
    # concept drift (the label mechanism changes) is what a retrained model can actually do better on
    cli(["simulate", "credit", "--drift", "concept", "--strength", "2", "--rows", "4000"], root)
    sh(["dvc", "repro"], root)
    return root


def log_decision(root: Path, version: str, request_id: str) -> None:
    """A decision as the endpoint logs it (the serving tests cover the HTTP path)."""
    from driftline.predictions.log import LoggedRequest, PredictionLog, log_path, split_decision_id

    batch_id, index = split_decision_id(request_id)
    log = PredictionLog(log_path(root, "credit"))
    try:
        inputs = [{"age": 41, "income": 52000.0, "credit_score": 610}] * (index + 1)
        outputs = [{"score": 0.42, "prediction": 1}] * (index + 1)
        reasons = [[{"feature": "credit_score", "value": 610, "input": 610, "contribution": 0.31}]] * (index + 1)
        log.record(LoggedRequest(batch_id=batch_id, time="2026-11-25T10:00:00+00:00", model_version=version, size=index + 1,
                                 inputs=json.dumps(inputs), outputs=json.dumps(outputs), record_ids=json.dumps(["A9"] * (index + 1)),
                                 reasons=json.dumps(reasons)), "credit")
    finally:
        log.close()


def test_trace_of_a_drift_retrained_decision(cli, retrained: Path) -> None:
    champion = json.loads((retrained / "registry/credit/champion.json").read_text())["version"]
    promotion = json.loads((retrained / "reports/credit/promotion.json").read_text())
    assert promotion["decision"] == "promoted" and champion == "v0002", promotion
    log_decision(retrained, champion, "req-drift-1")
    text = cli(["audit", "trace", "req-drift-1"], retrained).stdout
    for part in ("Decision req-drift-1", "credit_score = 610", "Model credit v0002", "replaced v0001",
                 "Trained by credit-train", "git ", "Retrained because", "roc_auc fell", "batch-0001.parquet",
                 "Audit chain: intact"):
        assert part in text, f"{part!r} missing from:\n{text}"
    data = json.loads(cli(["audit", "trace", "req-drift-1", "--json"], retrained).stdout)
    assert data["model"]["version"] == "v0002" and data["model"]["gate"]["passed"]
    assert data["produced_by"]["params"]["credit.model.params"]["num_leaves"] == 31
    assert data["model"]["training"]["absorbed_batches"][0]["file"].endswith("batch-0001.parquet")
    assert any("roc_auc fell" in r for r in data["triggered_by_drift"]["reasons"])


def test_trace_of_the_first_model_says_it_was_not_a_drift_retrain(cli, retrained: Path) -> None:
    log_decision(retrained, "v0001", "req-first-1")
    data = json.loads(cli(["audit", "trace", "req-first-1", "--json"], retrained).stdout)
    assert data["model"]["version"] == "v0001" and data["model"]["parent"] is None
    assert data["triggered_by_drift"] is None and data["produced_by"]["stage"] == "credit-train"


def test_unknown_request_id_exits_1_with_a_message(cli, retrained: Path) -> None:
    proc = cli(["audit", "trace", "no-such-request"], retrained, check=False)
    assert proc.returncode == 1 and "no decision with request id 'no-such-request'" in proc.stderr


def gto_show(root: Path) -> dict:
    """`gto show --json`: {artifact: {version: {stages}}} as GTO reads it from the git tags."""
    out = subprocess.run([str(Path(sys.executable).parent / "gto"), "show", "--json"], cwd=root,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def fetched(sh, root: Path, dest: Path, *selector: str) -> bytes:
    sh(["dvc", "artifacts", "get", str(root), "credit", *selector, "-o", str(dest)], dest.parent)
    return dest.read_bytes()


def test_gto_and_dvc_artifacts_see_the_versions_and_the_champion(sh, cli, retrained: Path, tmp_path: Path) -> None:
    root = shutil.copytree(retrained, tmp_path / "proj", symlinks=True)  # this test rolls back: its own copy
    sh(["git", "add", "-A"], root)
    sh(["git", "commit", "-q", "-m", "retrained"], root)
    shown = gto_show(root)
    assert set(shown) >= {"credit", "pricing"}
    assert shown["credit"]["version"] == "v0.0.2" and shown["credit"]["stage"]["prod"] == "v0.0.2", shown
    tags = sh(["git", "tag", "-l", "credit*"], root).stdout.split()
    assert {"credit@v0.0.1", "credit@v0.0.2"} <= set(tags)

    versions = root / "registry/credit/versions"
    v1, v2 = (versions / "v0001/model.txt").read_bytes(), (versions / "v0002/model.txt").read_bytes()
    assert v1 != v2
    # the model binaries are in the DVC cache; git holds a pointer per file
    assert sh(["git", "ls-files", "registry/credit/versions/v0002/model.txt"], root).stdout == ""
    assert sh(["git", "ls-files", "registry/credit/versions/v0002/model.txt.dvc"], root).stdout.strip()
    assert fetched(sh, root, tmp_path / "v1.txt", "--rev", "v0.0.1") == v1
    assert fetched(sh, root, tmp_path / "prod.txt", "--stage", "prod") == v2

    cli(["registry", "rollback", "credit"], root)  # the champion goes back to v0001, and so does GTO's prod
    assert gto_show(root)["credit"]["stage"]["prod"] == "v0.0.1"
    assert fetched(sh, root, tmp_path / "prod-after.txt", "--stage", "prod") == v1
