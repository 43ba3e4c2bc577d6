"""Prints the bad-input corpus table at the end of any pytest run that ran corpus cases.

Each corpus test records `("corpus", [category, id, class])` in its `user_properties`
(tests/corpus/runner.py: `verdict`); reports carry them across xdist workers, so the controller
sees every case. Classes: clear, late, worse, pending (a known gap another fix closes: xfail).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.corpus.runner import CLASS_KEY, COPIED, apply_damage, invoke, make_template

CLASSES = ("clear", "late", "worse", "pending")
_seen: dict[tuple[str, str], str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for key, value in report.user_properties:
        if key == CLASS_KEY:
            category, case_id, cls = value
            _seen[(category, case_id)] = cls


def table(seen: dict[tuple[str, str], str]) -> list[str]:
    counts: dict[str, dict[str, int]] = {}
    for (category, _), cls in seen.items():
        row = counts.setdefault(category, dict.fromkeys(CLASSES, 0))
        row[cls] += 1
    header = f"{'category':<10} {'tried':>6} " + " ".join(f"{c:>8}" for c in CLASSES)
    lines = [header, "-" * len(header)]
    total = dict.fromkeys(CLASSES, 0)
    for category in sorted(counts):
        row = counts[category]
        lines.append(f"{category:<10} {sum(row.values()):>6} " + " ".join(f"{row[c]:>8}" for c in CLASSES))
        for c in CLASSES:
            total[c] += row[c]
    lines.append("-" * len(header))
    lines.append(f"{'total':<10} {sum(total.values()):>6} " + " ".join(f"{total[c]:>8}" for c in CLASSES))
    return lines


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _seen:
        return
    terminalreporter.section("bad-input corpus")
    for line in table(_seen):
        terminalreporter.write_line(line)
    for cls in ("worse", "late", "pending"):
        names = sorted(f"{c}/{i}" for (c, i), k in _seen.items() if k == cls)
        if names:
            terminalreporter.write_line(f"{cls}: {', '.join(names)}")


@pytest.fixture(scope="module")
def corpus_template(projects, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """What the module's cases need of a reproduced demo project (its `COPIED` paths), credit only, copied once."""
    source = projects._template("reproduced")  # only read: a full copy of it (git, DVC cache) costs seconds
    template = make_template(source, tmp_path_factory.mktemp("corpus-template") / "proj", getattr(request.module, "COPIED", COPIED))
    # One pipeline is enough for a case, and compile composes each with Hydra (most of its time).
    (template / "pipelines" / "pricing.yaml").unlink()
    previous = Path.cwd()
    os.chdir(template)
    try:
        apply_damage(template, getattr(request.module, "TEMPLATE", ()))  # what every case of the module starts from
        code, output = invoke(["compile"], {})
    finally:
        os.chdir(previous)
    assert code == 0, output
    return template


@pytest.fixture
def corpus_project(corpus_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This case's own copy of the template, as the working directory."""
    root = tmp_path / "project"
    shutil.copytree(corpus_template, root, symlinks=True)
    monkeypatch.chdir(root)
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))  # `serve` sets it in-process
    return root
