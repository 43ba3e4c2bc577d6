"""What an audit record says about where a result came from: content hashes, git state, packages."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("driftline", "lightgbm", "pandas", "numpy", "pyarrow", "pandera", "scikit-learn", "scipy",
            "dvc", "hydra-core", "omegaconf")


def content_hashes(root: Path, paths: Iterable[str]) -> dict[str, str | None]:
    """SHA-256 of each file, or of a folder's (name, hash) list; None for what does not exist."""
    from driftline.hashing import fingerprint_files, sha256_file

    out: dict[str, str | None] = {}
    for rel in sorted(set(paths)):
        path = root / rel
        out[rel] = sha256_file(path) if path.is_file() else (fingerprint_files([path]) if path.is_dir() else None)
    return out


def git_state(root: Path) -> dict[str, Any]:
    """The commit checked out and whether tracked files differ from it (and which, up to 20)."""
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    changed = [line[3:] for line in (status or "").splitlines() if line.strip()]
    return {"commit": commit.strip() if commit else None,
            "dirty": bool(changed) if status is not None else None,
            "changed": changed[:20]}


@cache
def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
