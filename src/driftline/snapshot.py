"""Commits that snapshot HEAD plus a few changed files, without touching the user's branch or index.

DVC keeps experiments this way (a commit whose parent is HEAD, reachable only from a ref), and
driftline does the same twice: for a GTO version tag (HEAD plus the workspace's registry and
pipeline files, registry/tags.py) and for a sweep job recorded as a DVC experiment (HEAD plus the
job's params and metrics, sweep/experiments.py). The commit is built in a private index file, so
the user's staging area, branch and workspace stay exactly as they were.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from driftline.errors import DriftlineError

# used when git has no identity configured (a fresh CI machine): the commit still says who made it
DRIFTLINE_IDENTITY = {"GIT_AUTHOR_NAME": "driftline", "GIT_AUTHOR_EMAIL": "driftline@localhost",
                      "GIT_COMMITTER_NAME": "driftline", "GIT_COMMITTER_EMAIL": "driftline@localhost"}


class GitError(DriftlineError):
    """A git command failed; the message names it and says why."""


def git(root: Path, *args: str, stdin: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """Run one git command in `root`; its stdout, stripped, or GitError."""
    try:
        proc = subprocess.run(["git", *args], cwd=root, input=stdin, capture_output=True, text=True, timeout=120,
                              env={**os.environ, **(env or {})}, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {args[0]}: {exc}", hint="install git, or run outside a git repository") from None
    if proc.returncode != 0:
        command = next((a for a in args if not a.startswith("-") and "=" not in a), "")
        detail = " ".join((proc.stderr.strip() or proc.stdout.strip()).split())
        raise GitError(f"git {command} failed: {detail}")
    return proc.stdout.strip()


def head(root: Path) -> str:
    """HEAD's commit sha; GitError when `root` is not in a git repository or has no commit yet."""
    return git(root, "rev-parse", "--verify", "HEAD^{commit}")


def has_identity(root: Path) -> bool:
    try:
        git(root, "var", "GIT_COMMITTER_IDENT")
        return True
    except GitError:
        return False


def identity(root: Path) -> dict[str, str]:
    """Environment for commands that write commits or tags: git's own identity, or driftline's."""
    return {} if has_identity(root) else dict(DRIFTLINE_IDENTITY)


def snapshot(root: Path, message: str, *, base: str | None = None, paths: Sequence[str] = (),
             texts: Mapping[str, str] | None = None) -> str:
    """A commit of `base` (default HEAD) plus workspace `paths` and in-memory `texts`; its sha.

    `paths` are added as `git add -A` would (deletions too, .gitignore honoured: DVC-tracked
    binaries stay out, their `.dvc` pointers go in); `texts` maps a project-relative path to the
    file's new content. The commit's parent is `base`; no branch or index of the user's moves.
    """
    base = base or head(root)
    with tempfile.TemporaryDirectory(prefix="driftline-index-") as tmp:
        env = {**identity(root), "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(root, "read-tree", base, env=env)
        if paths:  # an ignored path is refused, in one line (no advice): the caller names what to do
            git(root, "-c", "advice.addIgnoredFile=false", "add", "-A", "--", *paths, env=env)
        for rel, text in (texts or {}).items():
            blob = git(root, "hash-object", "-w", "--stdin", stdin=text)
            git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{rel}", env=env)
        tree = git(root, "write-tree", env=env)
        return git(root, "commit-tree", tree, "-p", base, stdin=message, env=env)
