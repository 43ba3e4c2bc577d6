"""Shared by the registry crash tests: kill a command at every point its trace lists, rerun it, check the state.

Each case is one prepared project (a copy of the reproduced demo) and one command. The command runs
once with DRIFTLINE_KILL_TRACE to list its kill points; then, for each point, a fresh copy of the
prepared project runs the command with DRIFTLINE_KILL_AT=<point>@<n> (SIGKILL there), then runs it
again without, and `check_agrees` asserts what a user relies on after a crash.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.conftest import run_process

PIPELINE = "credit"
REGISTRY = Path("registry") / PIPELINE
# temporary names carry a process id and random letters: the same point has another name on each run
_VARIABLE = [(re.compile(r"\.promote-pid\d+-[^/:]+"), ".promote-*"), (re.compile(r"\.baseline-pid\d+-[^/:]+"), ".baseline-*"),
             (re.compile(r"\.tmp-[^/:]+"), ".tmp-*")]
REGISTRY_KINDS = {"registered": "registered", "promoted": "promotion", "refused": "refusal", "rollback": "rollback",
                  "baseline": "baseline", "repaired": "repair"}


def driftline(root: Path, args: list[str], **env: str):
    return run_process(["driftline", *args], root, check=False, env=env)


def kill_points(root: Path, args: list[str], scratch: Path) -> list[str]:
    """The points a clean run of `args` passes, each as `<pattern>@<n>` (the n-th time that pattern is reached)."""
    trace = scratch / "trace.txt"
    copy = shutil.copytree(root, scratch / "traced", symlinks=True)
    done = driftline(copy, args, DRIFTLINE_KILL_TRACE=str(trace))
    assert done.returncode == 0, done.stderr
    seen: Counter[str] = Counter()
    points = []
    for line in trace.read_text().split():
        for pattern, replacement in _VARIABLE:
            line = pattern.sub(replacement, line)
        seen[line] += 1
        points.append(f"{line}@{seen[line]}")
    shutil.rmtree(copy)
    return points


def history(root: Path) -> list[dict]:
    text = (root / REGISTRY / "history.jsonl").read_text()
    assert text.endswith("\n"), "history.jsonl ends in a whole line"
    return [json.loads(line) for line in text.splitlines()]


def audit_records(root: Path) -> list[dict]:
    text = (root / "audit" / "log.jsonl").read_text()
    assert text.endswith("\n"), "the audit log ends in a whole line"
    return [json.loads(line) for line in text.splitlines()]


def champion(root: Path) -> str:
    return json.loads((root / REGISTRY / "champion.json").read_text())["version"]


def check_agrees(root: Path) -> None:
    """What must hold after any kill and one rerun: one story told by the pointer, history, audit trail and files."""
    verified = driftline(root, ["registry", "verify", PIPELINE])
    assert verified.returncode == 0, verified.stdout + verified.stderr
    audit = driftline(root, ["audit", "verify"])
    assert audit.returncode == 0 and "intact" in audit.stdout, audit.stdout + audit.stderr
    events = history(root)
    records = [r for r in audit_records(root) if r["kind"] in REGISTRY_KINDS.values() and r["payload"].get("pipeline") == PIPELINE]
    assert [(REGISTRY_KINDS[e["event"]], e["version"]) for e in events] == \
        [(r["kind"], r["payload"]["version"]) for r in records], "every history event is in the audit trail, once, in order"
    pointer = [e for e in events if e["event"] in ("promoted", "rollback")][-1]
    assert champion(root) == pointer["version"], "champion.json says what the history's last promotion or rollback says"
    version = root / REGISTRY / "versions" / champion(root)
    json.loads((version / "manifest.json").read_text())
    import lightgbm

    assert lightgbm.Booster(model_file=str(version / "model.txt")).num_trees() > 0, "the champion's model loads"
    report = root / "reports" / PIPELINE / "promotion.json"
    if report.exists():
        json.loads(report.read_text())
    left = [p.name for folder in (root / REGISTRY, root / REGISTRY / "versions", root / "audit", root / "models" / PIPELINE)
            for p in folder.iterdir() if p.name.endswith(".tmp") or p.name.startswith((".promote-", ".tmp-"))]
    assert not left, f"leftovers of the killed run were not cleaned: {left}"


def crash_and_rerun(prepared: Path, args: list[str], scratch: Path, expect: Callable[[Path, str], None]) -> int:
    """Kill `driftline ARGS` at each of its points in a copy of `prepared`, rerun it, check; the number of points."""
    points = kill_points(prepared, args, scratch)
    assert points, "the command passes no kill point"
    for number, point in enumerate(points):
        root = shutil.copytree(prepared, scratch / f"kill-{number}", symlinks=True)
        killed = driftline(root, args, DRIFTLINE_KILL_AT=point)
        assert killed.returncode == -signal.SIGKILL, f"{point}: not killed ({killed.returncode})\n{killed.stderr}"
        rerun = driftline(root, args)
        assert "Traceback" not in rerun.stderr, f"{point}:\n{rerun.stderr}"
        try:
            expect(root, rerun.stderr + rerun.stdout)
            check_agrees(root)
        except AssertionError as exc:
            raise AssertionError(f"after a kill at {point} and a rerun (exit {rerun.returncode}: {rerun.stderr.strip()[-400:]}): {exc}") from None
        shutil.rmtree(root)
    print(f"{' '.join(args)}: survived {len(points)} kill points")
    return len(points)
