"""Shared by the registry crash tests: kill a command at every point its trace lists, rerun it, check the state.

Each case is one prepared project (a copy of the reproduced demo) and one command. The command runs
once with DRIFTLINE_KILL_TRACE to list its kill points; then, for each point, a fresh copy of the
prepared project runs the command with DRIFTLINE_KILL_AT=<point>@<n> (SIGKILL there), then runs it
again without, and `check_agrees` asserts what a user relies on after a crash.

Every run is its own process, killed with a real SIGKILL. To keep a hundred runs affordable they are
forked from a small fork server (`serve`) that imported driftline, pandas and LightGBM once: a run then
costs its work, not 2 s of imports. The server is a fresh interpreter that never ran LightGBM (whose
OpenMP threads do not survive a fork), so its children are safe to fork.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.conftest import BIN, REPO, Ran, run_cli

PIPELINE = "credit"
REGISTRY = Path("registry") / PIPELINE
# temporary names carry a process id and random letters: the same point has another name on each run
_VARIABLE = [(re.compile(r"\.promote-pid\d+-[^/:]+"), ".promote-*"), (re.compile(r"\.baseline-pid\d+-[^/:]+"), ".baseline-*"),
             (re.compile(r"\.tmp-[^/:]+"), ".tmp-*"), (re.compile(r"\.pid\d+\.[^/:]+\.tmp"), ".*.tmp")]
# the folders a version or baseline is built in before it is renamed into place: a kill at any point in
# one leaves the same state (nothing committed, a leftover folder), so one point of each is enough
STAGING = re.compile(r"/\.(promote|baseline)-\*/|/\.tmp-\*/")
PRELOAD = ["driftline.cli.main", "driftline.stages.promote", "driftline.registry.tags", "driftline.audit.log",
           "pandas", "pyarrow.parquet", "lightgbm", "sklearn", "tests.functional.crash_registry"]
REGISTRY_KINDS = {"registered": "registered", "promoted": "promotion", "refused": "refusal", "rollback": "rollback",
                  "baseline": "baseline", "repaired": "repair"}


def _run_in_child(cwd: str, args: list[str], env: dict[str, str], out: str, err: str) -> None:
    """In the forked child: `driftline ARGS` from `cwd`, its output to files, the exit code as the process's."""
    os.chdir(cwd)
    os.environ.pop("DRIFTLINE_KILL_AT", None)
    os.environ.pop("DRIFTLINE_KILL_TRACE", None)
    os.environ.update(env)
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    sys.stdin = open(os.devnull)  # noqa: SIM115
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    from driftline.cli.main import app

    code = 0
    try:
        app(args=args, prog_name="driftline")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # what a user would see as a traceback
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    """The fork server: import the heavy modules once, then fork one child per request read from stdin."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    requests, answers = sys.stdin, sys.stdout
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _run_in_child(**request)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        answers.write(json.dumps({"code": code}) + "\n")
        answers.flush()


_server: subprocess.Popen[str] | None = None


def driftline(root: Path, args: list[str], **env: str) -> Ran:
    """`driftline ARGS` in its own process, forked from the fork server; a SIGKILL shows as returncode -9."""
    global _server
    if _server is None or _server.poll() is not None:
        _server = subprocess.Popen([sys.executable, "-c", "from tests.functional.crash_registry import serve; serve()"],
                                   cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                   env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                                        "DVC_NO_ANALYTICS": "1"})
    out, err = root.parent / f".{root.name}.out", root.parent / f".{root.name}.err"
    assert _server.stdin is not None and _server.stdout is not None
    _server.stdin.write(json.dumps({"cwd": str(root), "args": args, "env": env, "out": str(out), "err": str(err)}) + "\n")
    _server.stdin.flush()
    answer = _server.stdout.readline()
    assert answer, "the fork server died"
    ran = Ran(["driftline", *args], json.loads(answer)["code"], out.read_text(), err.read_text())
    out.unlink()
    err.unlink()
    return ran


def without_git(root: Path) -> Path:
    """The project as a DVC project with no git (`core.no_scm`): the GTO tags that mirror registry events
    are then skipped with a warning (they cost a second a run, and are not what a crash can make disagree),
    and each copy is smaller. The registry, history, audit trail and DVC cache behave as with git."""
    from tests.conftest import run_process

    shutil.rmtree(root / ".git")
    run_process(["dvc", "config", "core.no_scm", "true"], root)
    return root


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


EVERY_POINT = "DRIFTLINE_CRASH_EVERY_POINT"
# Which points CI kills, to stay inside the suite's time budget (DRIFTLINE_CRASH_EVERY_POINT=1 kills
# every point of the trace): every point of the registry's commit record and pointer and the named
# steps between them; of a staging folder's writes, the first `during` (any kill there leaves nothing
# committed and a leftover folder); with `others`, the `during` of every other write (the audit log,
# head.json, the report). A `before` or `after` of those leaves the state of a neighbouring point, and
# the atomic write of champion.json's own temporary file is a point inside the pointer's `during`.
COMMIT_POINTS = re.compile(r"^registry:|^[a-z]+:registry/[^/]+/(history\.jsonl|champion\.json):")


def representative(points: list[str], others: bool = True) -> list[str]:
    """The points CI kills at (see COMMIT_POINTS); all of them with DRIFTLINE_CRASH_EVERY_POINT=1."""
    if os.environ.get(EVERY_POINT) == "1":
        return points
    kept, folders = [], set()
    for point in points:
        staged = STAGING.search(point)
        if staged is not None:
            if ":during@" in point and staged.group(0) not in folders:
                folders.add(staged.group(0))
                kept.append(point)
        elif COMMIT_POINTS.search(point) or (others and ":during@" in point and ".champion.json" not in point):
            kept.append(point)
    return kept


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
    verified = run_cli(["registry", "verify", PIPELINE], root, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    audit = run_cli(["audit", "verify"], root, check=False)
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


def crash_and_rerun(prepared: Path, args: list[str], scratch: Path, expect: Callable[[Path, str], None],
                    others: bool = True) -> int:
    """Kill `driftline ARGS` at its points (`representative`) in a copy of `prepared`, rerun it, check; how many."""
    every = kill_points(prepared, args, scratch)
    points = representative(every, others)
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
    print(f"driftline {' '.join(args)}: survived {len(points)} kill points ({len(every)} in its trace)")
    return len(points)
