"""Helpers for the crash tests (test_crash_*.py): run a command that SIGKILLs itself at a kill point
(`driftline.faults`), list the points a command passes, and check what a crash may leave behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pandas as pd

from tests.conftest import BIN

KILLED = -signal.SIGKILL


def driftline(args: list[str], root: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1", **(env or {})}
    return subprocess.run([str(BIN / "driftline"), *args], cwd=root, env=full_env, capture_output=True, text=True)


def trace(cli, args: list[str], root: Path, tmp: Path) -> list[str]:
    """The kill points `driftline ARGS` passes, in order (run in this process, to its end)."""
    out = tmp / f"trace-{len(list(tmp.glob('trace-*')))}.txt"
    cli(args, root, env={"DRIFTLINE_KILL_TRACE": str(out)})
    return out.read_text().splitlines() if out.exists() else []


def kill_at(args: list[str], root: Path, point: str, nth: int = 1) -> None:
    """Run `driftline ARGS`, which must die by SIGKILL at the `nth` time it reaches `point`."""
    ran = driftline(args, root, {"DRIFTLINE_KILL_AT": f"{point}@{nth}"})
    assert ran.returncode == KILLED, f"{' '.join(args)} was not killed at {point}@{nth} (exit {ran.returncode})\n{ran.stderr}"


def with_occurrence(points: list[str]) -> list[tuple[str, int]]:
    """Each point with how many times it was reached so far (a file written twice has two `during`s)."""
    seen: dict[str, int] = {}
    out = []
    for point in points:
        seen[point] = seen.get(point, 0) + 1
        out.append((point, seen[point]))
    return out


def remove(root: Path, rels: list[str]) -> None:
    """Delete these project-relative files or folders, where they exist."""
    import shutil

    for rel in rels:
        path = root / rel
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def temp_files(root: Path) -> list[str]:
    """Temporary files of atomic writes left anywhere in the project (git's and DVC's own folders aside)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob(".*.tmp")
                  if not {".git", ".dvc"} & set(p.relative_to(root).parts))


def assert_readable(root: Path, rels: list[str]) -> None:
    """Every output that exists opens: Parquet, JSON, CSV, a LightGBM model; a folder's files each."""
    for rel in rels:
        path = root / rel
        files = sorted(f for f in path.rglob("*") if f.is_file() and not f.name.startswith(".")) if path.is_dir() else [path]
        for file in files:
            if not file.exists():
                continue
            where = file.relative_to(root).as_posix()
            if file.suffix == ".parquet":
                pd.read_parquet(file)
            elif file.suffix == ".json":
                json.loads(file.read_text())
            elif file.suffix == ".csv":
                pd.read_csv(file)
            elif file.name == "model.txt":
                import lightgbm

                assert lightgbm.Booster(model_file=str(file)).num_trees() > 0, where
            else:
                assert file.read_bytes(), f"{where} is empty"


def audit_ok(cli, root: Path) -> None:
    out = cli(["audit", "verify"], root, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
