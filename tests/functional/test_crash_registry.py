"""`driftline run promote` killed at every kill point it passes, then rerun: the registry, its history and
the audit trail agree, and the better challenger is promoted (issue 14, point 6).

One prepared project per case (the reproduced demo with a retrained credit model and a gate that
passes or refuses it); each kill point gets its own copy of it. Helpers, and which points CI kills,
in crash_registry.py; `registry rollback` and `registry promote` are in test_crash_registry_cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Projects, copy_project, edit_file, run_cli, run_process
from tests.functional.crash_registry import PIPELINE, REGISTRY, champion, crash_and_rerun, history, without_git

PROMOTE = ["run", "promote", PIPELINE]


@pytest.fixture(scope="module")
def beaten(projects: Projects, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reproduced demo (champion v0001, roc_auc 0.7006) with a credit model trained again with
    num_leaves 7 (roc_auc 0.7154), not yet judged; the gate keeps its point rule only, so it passes."""
    root = projects.reproduced(tmp_path_factory.mktemp("beaten") / "proj")
    edit_file(root, "conf/model/lgbm.yaml", "num_leaves: 31", "num_leaves: 7")
    edit_file(root, "conf/gate/default.yaml", "test: auto ", "test: none ")
    run_cli(["compile"], root)
    run_process(["dvc", "repro", f"{PIPELINE}-evaluate"], root)
    return without_git(root)


@pytest.fixture(scope="module")
def refused(beaten: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same challenger, before a gate that asks for +0.5 roc_auc."""
    root = copy_project(beaten, tmp_path_factory.mktemp("refused") / "proj")
    edit_file(root, "conf/gate/default.yaml", "min_improvement: 0.0", "min_improvement: 0.5")
    run_cli(["compile"], root)
    return root


def model_sha(root: Path) -> str:
    from driftline.hashing import sha256_file

    return sha256_file(root / "models" / PIPELINE / "model.txt")


def test_a_promote_killed_anywhere_promotes_the_better_challenger_on_rerun(beaten: Path, tmp_path: Path) -> None:
    trained = model_sha(beaten)

    def promoted_once(root: Path, said: str) -> None:
        assert champion(root) == "v0002", said
        versions = sorted(p.name for p in (root / REGISTRY / "versions").iterdir() if not p.name.startswith("."))
        assert versions == ["v0001", "v0002"], f"registered once: {versions}"
        manifest = json.loads((root / REGISTRY / "versions" / "v0002" / "manifest.json").read_text())
        assert manifest["files"]["model.txt"] == trained, "the champion is the model just trained"
        assert [e["version"] for e in history(root) if e["event"] == "promoted"] == ["v0001", "v0002"]

    assert crash_and_rerun(beaten, PROMOTE, tmp_path, promoted_once) >= 20


def test_a_refusal_killed_anywhere_keeps_the_champion(refused: Path, tmp_path: Path) -> None:
    def kept(root: Path, said: str) -> None:
        assert champion(root) == "v0001", said
        assert not (root / REGISTRY / "versions" / "v0002").exists(), "a refused model is never registered"
        assert "refused" in [e["event"] for e in history(root)], said

    assert crash_and_rerun(refused, PROMOTE, tmp_path, kept, others=False) >= 8
