"""Shared by the benchmarks: a throw-away copy of this project's demo at a chosen size."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    """(wall seconds, stdout) of one command, `env` added to ENV; exits with its output when it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env={**ENV, **(env or {})}, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return seconds, proc.stdout


def demo_project(rows: int, label: str, then: tuple[list[str], ...] = ()) -> Path:
    """conf/, pipelines/ and the DVC config in a temporary git repo, `rows` loan applications, compiled."""
    root = Path(tempfile.mkdtemp(prefix=f"driftline-bench-{label}-{rows}-"))
    for item in ("conf", "pipelines", ".dvc", ".dvcignore"):
        src = REPO / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / item)
    shutil.rmtree(root / ".dvc" / "tmp", ignore_errors=True)
    shutil.rmtree(root / ".dvc" / "cache", ignore_errors=True)
    loans = root / "conf/dataset/loans.yaml"
    loans.write_text(re.sub(r"rows: \d+", f"rows: {rows}", loans.read_text()))
    for cmd in (["git", "init", "-q"], ["driftline", "compile"], *then):
        run(cmd, root)
    return root


def machine(load_before: tuple[float, float, float]) -> dict:
    """What the figures were measured on: CPUs, the 1-minute load before and after, Python, platform."""
    return {"cpus": os.cpu_count(), "load_average_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "python": platform.python_version(), "platform": platform.platform()}


def write_results(name: str, result: dict) -> Path:
    """benchmarks/results/<name>.json, indented, and the same JSON on stdout."""
    out = REPO / "benchmarks" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return out
