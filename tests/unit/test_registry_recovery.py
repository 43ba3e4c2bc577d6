"""What a killed registry writer leaves, completed by the next write: one story in champion.json, history and audit.

Each test builds the state a SIGKILL between two steps leaves (tests/functional/test_crash_registry.py
kills real processes at every point; these pin the rules one by one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from driftline.atomic import sweep_leftovers
from driftline.audit.log import read, recorder
from driftline.registry import Registry, RegistryError
from driftline.registry.store import listeners
from tests.unit.test_registry import PIPELINE, register


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "project"


@pytest.fixture
def audited(root: Path) -> Registry:
    return Registry(root, PIPELINE, on_event=listeners(recorder(root)))


def told(root: Path) -> list[tuple[str, str | None]]:
    """The registry records the audit trail holds for the pipeline: (kind, version)."""
    return [(r["kind"], r["payload"].get("version")) for r in read(root) if r["payload"].get("pipeline") == PIPELINE]


def two_versions(registry: Registry, tmp_path: Path) -> None:
    registry.promote(register(registry, tmp_path / "src", "a"), reason="first")
    register(registry, tmp_path / "src", "b")


def test_a_promotion_committed_before_the_swap_is_rolled_forward_by_the_next_write(audited: Registry, root: Path, tmp_path: Path) -> None:
    two_versions(audited, tmp_path)
    with audited._writing():  # killed after the history line: champion.json and the audit trail never heard of it
        audited._append("promoted", "v0002", "gate passed", previous="v0001")
    assert audited.champion().version == "v0001"

    repaired = audited.recover()

    assert audited.champion().version == "v0002"
    assert any("set to v0002" in what for what in repaired), repaired
    assert [e["event"] for e in audited.history()][-2:] == ["promoted", "repaired"]
    assert told(root)[-2:] == [("promotion", "v0002"), ("repair", "v0002")], "the audit trail catches up, and records the repair"
    assert audited.recover() == [], "recovering again changes nothing"
    assert audited.check() == []


def test_a_version_written_without_its_history_line_is_registered_from_its_manifest(audited: Registry, root: Path, tmp_path: Path) -> None:
    two_versions(audited, tmp_path)
    lines = audited.history_file.read_text().splitlines(keepends=True)
    audited.history_file.write_text("".join(lines[:-1]))  # the kill came between the rename and the history line
    assert audited.check(), "verify sees the unrecorded version"

    repaired = audited.recover()

    last = audited.history()[-1]
    assert last["event"] == "registered" and last["version"] == "v0002" and "recovered" in last
    assert any("registered v0002" in what for what in repaired)
    assert audited.undecided("v0002"), "the promote rerun judges it, instead of leaving it behind"
    assert audited.check() == []


def test_audit_records_a_crash_kept_back_are_sent_once(audited: Registry, root: Path, tmp_path: Path) -> None:
    audited.promote(register(audited, tmp_path / "src", "a"), reason="first")
    with audited._writing():
        audited._append("refused", None, "worse", champion="v0001", details={})  # killed before the audit record
    assert told(root) == [("registered", "v0001"), ("promotion", "v0001")]
    assert "audit trail lacks the last 1" in " ".join(audited.check())

    audited.recover()
    audited.recover()

    assert told(root) == [("registered", "v0001"), ("promotion", "v0001"), ("refusal", None)]


def test_a_damaged_champion_pointer_names_the_command_that_rebuilds_it(audited: Registry, root: Path, tmp_path: Path) -> None:
    two_versions(audited, tmp_path)
    audited.promote("v0002", reason="second")
    audited.champion_file.write_text("")

    with pytest.raises(RegistryError) as raised:
        audited.champion()
    shown = "\n".join(raised.value.lines())
    assert "registry/credit/champion.json is damaged (empty)" in shown and "driftline registry repair credit" in shown
    with pytest.raises(RegistryError, match="champion.json is damaged"):
        audited.promote("v0001", reason="a write refuses too")

    repaired = audited.recover(rebuild_pointer=True)

    assert audited.champion().version == "v0002" and "rebuilt from history" in repaired[0]
    assert told(root)[-1] == ("repair", "v0002")


def test_a_pointer_changed_by_hand_to_another_version_is_left_alone(audited: Registry, tmp_path: Path) -> None:
    for tag in ("a", "b", "c"):
        audited.promote(register(audited, tmp_path / "src", tag), reason=tag)
    audited.champion_file.write_text(json.dumps({"version": "v0001", "since": "x", "reason": "checkout"}))
    assert audited.recover() == []  # not the one-step lag a crash leaves: champion.json is the truth about now
    assert audited.champion().version == "v0001"
    assert "champion.json names v0001" in audited.check()[0]


def test_leftovers_of_dead_writers_go_and_a_live_writer_keeps_its_temp(audited: Registry, tmp_path: Path) -> None:
    audited.promote(register(audited, tmp_path / "src", "a"), reason="first")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    (audited.dir / f".champion.json.pid{dead}.abc.tmp").write_text("{}")
    (audited.versions_dir / ".tmp-killed").mkdir()
    models = tmp_path / "models"
    models.mkdir()
    (models / f".promote-pid{dead}-x").mkdir()
    (models / f".promote-pid{os.getpid()}-y").mkdir()
    (models / f".model.txt.pid{dead}.z.tmp").write_text("half")

    assert sorted(sweep_leftovers(models, (".promote-",))) == [f".model.txt.pid{dead}.z.tmp", f".promote-pid{dead}-x"]
    assert (models / f".promote-pid{os.getpid()}-y").is_dir(), "a running process's temp folder stays"
    audited.recover()
    assert not [p for p in audited.dir.iterdir() if p.name.endswith(".tmp")]
    assert not (audited.versions_dir / ".tmp-killed").exists()


def test_the_cli_names_the_damage_then_repairs_and_verifies(root: Path, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    (root / "pipelines").mkdir(parents=True)
    registry = Registry(root, PIPELINE, on_event=listeners(recorder(root)))
    registry.promote(register(registry, tmp_path / "src", "a"), reason="first")
    registry.champion_file.write_text("{ nope")

    listed = run_cli(["registry", "list", PIPELINE], root, check=False)
    assert listed.returncode == 1 and "Traceback" not in listed.stderr
    assert "registry/credit/champion.json is damaged" in listed.stderr and "driftline registry repair credit" in listed.stderr

    repaired = run_cli(["registry", "repair", PIPELINE], root)
    assert "repaired: champion.json set to v0001" in repaired.stdout
    assert "nothing to repair" in run_cli(["registry", "repair", PIPELINE], root).stdout
    assert "pointer, history and audit trail agree" in run_cli(["registry", "verify", PIPELINE], root).stdout
    assert "intact" in run_cli(["audit", "verify"], root).stdout
