"""The corpus runner itself: a case that went wrong is never classified clear, and the table adds up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.plugin import table
from tests.corpus.runner import Case, all_cases, check, complete_lines, snapshot


def case(**expect) -> Case:
    return Case("config", "x", [], ["compile"], {"exit": 2, "names": ["conf/model/lgbm.yaml"], **expect})


@pytest.mark.parametrize(
    ("code", "output", "problem"),
    [
        (2, "error: bad (conf/model/lgbm.yaml)\nTraceback (most recent call last):\n", "traceback"),
        (1, "error: bad (conf/model/lgbm.yaml)", "exit 1, expected 2"),
        (0, "compiled", "exit 0, expected 2"),
        (2, "error: something is wrong", "does not name ['conf/model/lgbm.yaml']"),
        (-1, "HANG: still running after 60 s", "hang"),
    ],
)
def test_what_a_user_would_notice_is_never_clear(tmp_path: Path, code: int, output: str, problem: str) -> None:
    why = check(case(), tmp_path, code, output, {}, {})
    assert any(problem in w for w in why), why


def test_a_changed_or_lost_file_and_a_lost_line_are_caught(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("a: 1\n")
    (tmp_path / "log.jsonl").write_text("one\ntwo\n")
    before = snapshot(tmp_path, ["params.yaml"])
    lines = {"log.jsonl": complete_lines(tmp_path / "log.jsonl")}
    assert not check(case(unchanged=["params.yaml"], grown=["log.jsonl"]), tmp_path, 2, "conf/model/lgbm.yaml", before, lines)
    (tmp_path / "params.yaml").write_text("a: 2\n")
    (tmp_path / "log.jsonl").write_text("one\nthree\n")
    why = check(case(unchanged=["params.yaml"]), tmp_path, 2, "conf/model/lgbm.yaml", before, lines)
    assert why == ["changed: ['params.yaml']", "log.jsonl: earlier lines changed or were lost"]


def test_rows_must_add_up(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("a\n1\n2\n3\n")
    (tmp_path / "out.csv").write_text("a\n1\n2\n")
    expect = {"exit": 0, "rows": {"in": "in.csv", "out": ["out.csv", "missing.parquet"]}}
    why = check(Case("data", "x", [], [], expect), tmp_path, 0, "", {}, {})
    assert why == ["rows lost: 3 in, {'out.csv': 2, 'missing.parquet': 0} out"]


def test_the_corpus_has_every_case_once_and_the_table_adds_up() -> None:
    cases = all_cases()
    assert len(cases) >= 200
    assert len({(c.category, c.id) for c in cases}) == len(cases)
    seen = {(c.category, c.id): "pending" if c.pending else "clear" for c in cases}
    total = table(seen)[-1].split()
    assert total[0] == "total" and int(total[1]) == len(cases)
    assert int(total[2]) + int(total[5]) == len(cases)
