"""The audit trail: append-only, hash-chained, verifiable; tampering is caught at the first bad record."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from driftline.audit.log import append, log_path, read, verify


def filled(root: Path, n: int = 5) -> Path:
    (root / "pipelines").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        append(root, "stage_run", {"stage": f"credit-step{i}", "i": i})
    return log_path(root)


def test_records_chain_by_hash_and_sequence(cli, tmp_path: Path) -> None:
    filled(tmp_path)
    records = read(tmp_path)
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(records, records[1:], strict=False))
    assert verify(tmp_path).ok and verify(tmp_path).records == 5
    proc = cli(["audit", "verify"], tmp_path)
    assert "intact, 5 record(s)" in proc.stdout


def edit(lines: list[str]) -> list[str]:
    record = json.loads(lines[2])
    record["payload"]["i"] = 99
    lines[2] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return lines


TAMPERING = [
    pytest.param(edit, 3, "edited", id="edit-a-record"),
    pytest.param(lambda lines: lines[:2] + lines[3:], 3, "deleted", id="delete-a-record"),
    pytest.param(lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], 2, "moved", id="reorder-two-records"),
    pytest.param(lambda lines: lines[:-1], 5, "deleted from the end", id="delete-the-newest-record"),
]


@pytest.mark.parametrize(("tamper", "bad_line", "word"), TAMPERING)
def test_tampering_is_caught_at_the_first_bad_record(cli, tmp_path: Path, tamper, bad_line: int, word: str) -> None:
    path = filled(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(tamper(lines)) + "\n")
    verdict = verify(tmp_path)
    assert not verdict.ok and verdict.line == bad_line
    proc = cli(["audit", "verify"], tmp_path, check=False)
    assert proc.returncode == 1
    assert f"BROKEN at line {bad_line}" in proc.stderr and word in proc.stderr


def _writer(root: str, tag: str, n: int) -> None:
    for i in range(n):
        append(Path(root), "stage_run", {"writer": tag, "i": i})


def test_two_processes_appending_at_once_keep_the_chain_intact(tmp_path: Path) -> None:
    (tmp_path / "pipelines").mkdir()
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(str(tmp_path), tag, 60)) for tag in ("a", "b")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    records = read(tmp_path)
    assert len(records) == 120 and [r["seq"] for r in records] == list(range(1, 121))
    assert {r["payload"]["writer"] for r in records} == {"a", "b"}
    assert verify(tmp_path).ok


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    from driftline.audit.log import AuditError

    with pytest.raises(AuditError, match="unknown audit record kind"):
        append(tmp_path, "coffee_break", {})
    assert not log_path(tmp_path).exists()
