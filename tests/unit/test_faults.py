"""Kill points: a process told to die at a point dies there with SIGKILL, leaving what a crash leaves."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

WRITE = "from driftline.atomic import write_text; write_text('out.json', '{}\\n')"
APPEND = "from driftline.atomic import append_line; append_line('log.jsonl', b'{\"seq\": 1, \"kind\": \"x\"}\\n')"


def run(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)


def test_the_trace_lists_every_point_a_write_passes(tmp_path: Path) -> None:
    done = run(WRITE + "; " + APPEND, tmp_path, DRIFTLINE_KILL_TRACE=str(tmp_path / "trace"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "trace").read_text().split() == [
        "write:out.json:before", "write:out.json:during", "write:out.json:after",
        "append:log.jsonl:before", "append:log.jsonl:during", "append:log.jsonl:after"]


def test_killed_during_a_write_the_target_is_untouched(tmp_path: Path) -> None:
    (tmp_path / "out.json").write_text("old\n")
    done = run(WRITE, tmp_path, DRIFTLINE_KILL_AT="write:*.json:during")
    assert done.returncode == -signal.SIGKILL
    assert (tmp_path / "out.json").read_text() == "old\n"
    assert [p.name for p in tmp_path.glob(".out.json.*.tmp")], "the complete temporary file is left, as after a crash"


def test_killed_during_an_append_the_line_is_torn(tmp_path: Path) -> None:
    done = run(APPEND, tmp_path, DRIFTLINE_KILL_AT="append:log.jsonl:during")
    assert done.returncode == -signal.SIGKILL
    torn = (tmp_path / "log.jsonl").read_bytes()
    assert torn and not torn.endswith(b"\n")


@pytest.mark.parametrize(("nth", "survives"), [("@1", 0), ("@2", 1)])
def test_the_nth_time_a_point_is_reached(tmp_path: Path, nth: str, survives: int) -> None:
    code = "from driftline.atomic import write_text\nfor i in range(3): write_text(f'out{i}.json', '{}')"
    done = run(code, tmp_path, DRIFTLINE_KILL_AT="write:out*.json:after" + nth)
    assert done.returncode == -signal.SIGKILL
    assert sorted(p.name for p in tmp_path.glob("out*.json")) == [f"out{i}.json" for i in range(survives + 1)]
