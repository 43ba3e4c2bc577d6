"""Shared fixtures: a throw-away git + DVC project built from this repo's conf/ and pipelines/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def sh(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command as a user would; on failure show what it printed."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc


def make_project(dest: Path, rows: int = 3000) -> Path:
    """Copy the demo project (conf/, pipelines/, .dvc config) at a small size, as a git + DVC repo."""
    dest.mkdir(parents=True, exist_ok=True)
    for folder in ("conf", "pipelines"):
        shutil.copytree(REPO / folder, dest / folder)
    loans = dest / "conf" / "dataset" / "loans.yaml"
    loans.write_text(loans.read_text().replace("rows: 50000", f"rows: {rows}"))
    pricing = dest / "pipelines" / "pricing.yaml"
    pricing.write_text(pricing.read_text().replace("rows: 20000", f"rows: {rows}"))
    sh(["git", "init", "-q"], dest)
    sh(["git", "config", "user.email", "test@example.com"], dest)
    sh(["git", "config", "user.name", "driftline tests"], dest)
    sh(["dvc", "init", "-q"], dest)
    sh(["dvc", "config", "core.analytics", "false"], dest)
    sh(["dvc", "config", "core.autostage", "true"], dest)
    (dest / ".gitignore").write_text("dvc_plots/\n")
    sh(["driftline", "compile"], dest)
    sh(["git", "add", "-A"], dest)
    sh(["git", "commit", "-q", "-m", "project"], dest)
    return dest


@pytest.fixture(scope="session")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small project after one full `dvc repro`, shared by read-only tests."""
    root = make_project(tmp_path_factory.mktemp("built"))
    sh(["dvc", "repro"], root)
    sh(["git", "add", "-A"], root)
    sh(["git", "commit", "-q", "-m", "repro"], root)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh small project, compiled and committed, nothing run yet."""
    return make_project(tmp_path / "proj")
