"""The audit trail after a crash: a torn tail is cut and recorded, a lagging head is not a cut tail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftline.audit.log import AuditError, append, read, repair, verify


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    for n in range(3):
        append(tmp_path, "stage_run", {"stage": f"s{n}"})
    return tmp_path


def log(root: Path) -> Path:
    return root / "audit" / "log.jsonl"


def head(root: Path) -> Path:
    return root / "audit" / "head.json"


def test_a_torn_tail_is_reported_then_cut_and_recorded_by_the_next_append(trail: Path) -> None:
    with open(log(trail), "ab") as fh:
        fh.write(b'{"seq": 4, "kind": "stage_r')  # half a line: the append was killed

    torn = verify(trail)
    assert torn.ok and torn.records == 3
    assert "torn write" in torn.notes[0] and "driftline audit verify --repair" in torn.notes[0]
    assert [r["seq"] for r in read(trail)] == [1, 2, 3], "readers skip the torn tail"

    append(trail, "stage_run", {"stage": "next"})

    records = read(trail)
    assert [r["kind"] for r in records] == ["stage_run"] * 3 + ["repair", "stage_run"]
    assert records[3]["payload"]["cut"] == '{"seq": 4, "kind": "stage_r' and records[3]["payload"]["cut_bytes"] == 27
    after = verify(trail)
    assert after.ok and after.records == 5 and any("seq 4 records a repair" in n for n in after.notes)


def test_a_head_that_lags_is_a_crash_not_a_cut_tail(trail: Path) -> None:
    first_two = log(trail).read_text().splitlines()[:2]
    head(trail).write_text(json.dumps({"seq": 2, "hash": json.loads(first_two[1])["hash"]}))

    lagging = verify(trail)
    assert lagging.ok, lagging.problem
    assert "lags 1 record(s) behind" in lagging.notes[0]

    assert repair(trail) == ["rebuilt audit/head.json from the last record of the log (seq 3)"]
    fixed = verify(trail)
    assert fixed.ok and not [n for n in fixed.notes if "lags" in n]
    assert read(trail)[-1]["kind"] == "repair"
    assert repair(trail) == [], "nothing left to repair"


def test_records_cut_from_the_end_are_broken_and_never_repaired(trail: Path) -> None:
    lines = log(trail).read_text().splitlines(keepends=True)
    log(trail).write_text("".join(lines[:2]))

    cut = verify(trail)
    assert not cut.ok and "records were deleted from the end" in cut.problem
    with pytest.raises(AuditError, match="deleted from the end"):
        repair(trail)


def test_a_damaged_head_names_the_repair_command(trail: Path) -> None:
    head(trail).write_text("{ broken")
    damaged = verify(trail)
    assert not damaged.ok and "audit/head.json is damaged" in damaged.problem
    assert "driftline audit verify --repair" in damaged.problem
    assert repair(trail)
    assert verify(trail).ok


def test_an_edited_record_is_not_repaired(trail: Path) -> None:
    lines = log(trail).read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"s1"', '"s9"')
    log(trail).write_text("".join(lines))
    with pytest.raises(AuditError, match="BROKEN at line 2"):
        repair(trail)
