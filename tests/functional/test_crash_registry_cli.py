"""`driftline registry rollback` and `registry promote` killed at every kill point they pass, then rerun:
champion.json, history and the audit trail agree on the version asked for (issue 14, point 6).

The reproduced demo gets a second version in-process (v0001's files registered again and promoted),
so no model is trained here. Helpers in crash_registry.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Projects, commit_all
from tests.functional.crash_registry import PIPELINE, champion, crash_and_rerun, history, without_git


@pytest.fixture(scope="module")
def two_champions(projects: Projects, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reproduced demo with v0001, then v0002 (the same files, registered again) champion."""
    from driftline.stages.context import project_registry

    root = projects.reproduced(tmp_path_factory.mktemp("two") / "proj")
    registry = project_registry(root, PIPELINE)
    first = registry.get("v0001")
    files = {name: first.path / name for name in first.files if not name.startswith("model_card")}
    second = registry.register(files, metrics=first.metrics, data_fingerprint=first.data_fingerprint,
                               config_fingerprint=first.config_fingerprint, gate=first.gate)
    registry.promote(second.version, "second champion")
    commit_all(root, "v0002")
    return without_git(root)


@pytest.fixture(scope="module")
def rolled_back(two_champions: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from driftline.stages.context import project_registry
    from tests.conftest import copy_project

    root = copy_project(two_champions, tmp_path_factory.mktemp("rolled") / "proj")
    project_registry(root, PIPELINE).rollback()
    assert champion(root) == "v0001"
    return root


def test_a_rollback_killed_anywhere_ends_on_the_earlier_champion(two_champions: Path, tmp_path: Path) -> None:
    def back(root: Path, said: str) -> None:
        # killed after its history line, the rollback is completed by the rerun's recovery, and the rerun
        # stops there (`completed`); killed after its audit record, it was done, and the rerun finds no
        # champion before v0001 and says so (exit 1, no traceback): never two rollbacks
        assert champion(root) == "v0001", said
        assert [e["event"] for e in history(root)].count("rollback") == 1, said

    assert crash_and_rerun(two_champions, ["registry", "rollback", PIPELINE], tmp_path, back) >= 8


def test_a_hand_promotion_killed_anywhere_ends_on_the_chosen_version(rolled_back: Path, tmp_path: Path) -> None:
    def chosen(root: Path, said: str) -> None:
        assert champion(root) == "v0002", said

    assert crash_and_rerun(rolled_back, ["registry", "promote", PIPELINE, "v0002"], tmp_path, chosen) >= 8


@pytest.mark.parametrize("point", ["registry:rollback:committed", "write:registry/credit/champion.json:after"])
def test_a_rollback_rerun_after_its_commit_finishes_it_and_goes_no_further(two_champions: Path, tmp_path: Path, point: str) -> None:
    """The user reruns the command that died: the interrupted rollback is completed, not repeated."""
    import shutil
    import signal

    from tests.functional.crash_registry import driftline

    root = shutil.copytree(two_champions, tmp_path / "proj", symlinks=True)
    killed = driftline(root, ["registry", "rollback", PIPELINE], DRIFTLINE_KILL_AT=point)
    assert killed.returncode == -signal.SIGKILL
    rerun = driftline(root, ["registry", "rollback", PIPELINE])
    said = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, said
    assert "v0002 -> v0001 (the interrupted rollback is now complete" in said
    assert champion(root) == "v0001"
    assert [e["event"] for e in history(root)].count("rollback") == 1
