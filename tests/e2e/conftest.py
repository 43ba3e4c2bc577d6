"""The e2e tier's shared start: one 4,000-row project after its first `dvc repro`, built once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

BASE_ROWS = 4000  # enough rows for the drift tests to see the generator's drift against sampling noise


@dataclass(frozen=True)
class FirstRepro:
    """A committed project after its first full `dvc repro`, and what that repro printed; copy it, never change it."""

    root: Path
    stdout: str


@pytest.fixture(scope="session")
def first_repro(projects, sh) -> FirstRepro:
    root = projects.fresh(rows=BASE_ROWS)
    out = sh(["dvc", "repro"], root)
    sh(["git", "add", "-A"], root)
    sh(["git", "commit", "-q", "-m", "first repro"], root)
    return FirstRepro(root, out.stdout)
