"""`driftline run promote` killed at every kill point it passes, then rerun: the registry, its history and
the audit trail agree, and the better challenger is promoted (issue 14, point 6).

One prepared project per case (the reproduced demo with a retrained credit model and a gate that
passes or refuses it); each kill point gets its own copy of it. Helpers in crash_registry.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Projects, edit_file, run_cli, run_process
from tests.functional.crash_registry import PIPELINE, REGISTRY, champion, crash_and_rerun, history

PROMOTE = ["run", "promote", PIPELINE]


def retrained(projects: Projects, dest: Path, gate: str) -> Path:
    """The reproduced demo (champion v0001) with a credit model trained again on other params, not yet judged."""
    root = projects.reproduced(dest)
    edit_file(root, "conf/model/lgbm.yaml", "learning_rate: 0.05", "learning_rate: 0.1")
    edit_file(root, "conf/gate/default.yaml", "min_improvement: 0.0\n", gate)
    run_cli(["compile"], root)
    run_process(["dvc", "repro", f"{PIPELINE}-evaluate"], root)
    return root


def model_sha(root: Path) -> str:
    from driftline.hashing import sha256_file

    return sha256_file(root / "models" / PIPELINE / "model.txt")


@pytest.fixture(scope="module")
def beaten(projects: Projects, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # the point rule alone (no paired test): the retrained model's better AUC passes the gate
    return retrained(projects, tmp_path_factory.mktemp("beaten") / "proj", "min_improvement: 0.0\ntest: none\n")


@pytest.fixture(scope="module")
def refused(projects: Projects, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return retrained(projects, tmp_path_factory.mktemp("refused") / "proj", "min_improvement: 0.5\n")


def test_a_promote_killed_anywhere_promotes_the_better_challenger_on_rerun(beaten: Path, tmp_path: Path) -> None:
    trained = model_sha(beaten)

    def promoted_once(root: Path, said: str) -> None:
        assert champion(root) == "v0002", said
        versions = sorted(p.name for p in (root / REGISTRY / "versions").iterdir() if not p.name.startswith("."))
        assert versions == ["v0001", "v0002"], f"registered once: {versions}"
        manifest = json.loads((root / REGISTRY / "versions" / "v0002" / "manifest.json").read_text())
        assert manifest["files"]["model.txt"] == trained, "the champion is the model just trained"
        assert [e["event"] for e in history(root)].count("promoted") == 2, "v0001, then v0002, promoted once each"

    assert crash_and_rerun(beaten, PROMOTE, tmp_path, promoted_once) > 20


def test_a_refusal_killed_anywhere_keeps_the_champion(refused: Path, tmp_path: Path) -> None:
    def kept(root: Path, said: str) -> None:
        assert champion(root) == "v0001", said
        assert not (root / REGISTRY / "versions" / "v0002").exists(), "a refused model is never registered"
        assert "refused" in [e["event"] for e in history(root)], said

    assert crash_and_rerun(refused, PROMOTE, tmp_path, kept) > 10
