"""Shared fixtures: throw-away git + DVC projects copied from templates built once per session.

Building a project (git init, dvc init, dvc config, compile, commit) takes about 25 s of
subprocesses, and a full `dvc repro` much longer, so each is done once per session into
`tmp_path_factory` and every test gets its own `shutil.copytree` of the result, as DVC's own
fixtures do (dvc/testing/fixtures.py). A copy is independent: a test may change it freely.

`driftline` commands run in-process through typer's CliRunner (`cli`) unless a real process is
the point of the test (`sh`): `dvc repro`, `dvc exp`, a server over HTTP, worker processes.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.drift_samples import EVIL, categorical_column, numeric_column, sample_report

pytest_plugins = ["tests.corpus.plugin"]  # the bad-input corpus: its fixtures and the table at the end of a run

REPO = Path(__file__).resolve().parents[1]

# Trainings on one machine share the CPUs (driftline.threads), and LightGBM sums a metric's losses per
# thread, so a training beside another pytest worker's logs a logloss curve that differs in the 14th
# digit. Each worker registers its trainings in its own folder: a test's two runs of one stage agree.
if "DRIFTLINE_TRAININGS_DIR" not in os.environ:
    os.environ["DRIFTLINE_TRAININGS_DIR"] = tempfile.mkdtemp(prefix="driftline-trainings-")
    atexit.register(shutil.rmtree, os.environ["DRIFTLINE_TRAININGS_DIR"], True)
BIN = Path(sys.executable).parent
TEMPLATE_ROWS = 3000  # rows of the demo dataset in every project copy (the repo's own is 50,000)


# ----------------------------------------------------------------------------- running commands


@dataclass(frozen=True)
class Ran:
    """What a command did, the same shape for a subprocess and an in-process CLI call."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def run_process(cmd: Sequence[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None) -> Ran:
    """Run a command as a user would; on failure show what it printed."""
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1", **(env or {})}
    proc = subprocess.run(list(cmd), cwd=cwd, env=full_env, capture_output=True, text=True)
    ran = Ran(list(cmd), proc.returncode, proc.stdout, proc.stderr)
    if check and ran.returncode != 0:
        raise AssertionError(_failure(ran))
    return ran


def run_cli(args: Sequence[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None) -> Ran:
    """`driftline ARGS` in this process, from `cwd`, as typer's CliRunner runs it.

    An exception the CLI let escape is shown in stderr as the `Traceback` a user would see, with
    exit code 1, so that "no traceback" assertions mean the same as for a subprocess.
    """
    from typer.testing import CliRunner

    from driftline.cli.main import app

    previous = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, list(args), env=env, prog_name="driftline")
    finally:
        os.chdir(previous)
    stderr = result.stderr
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(*result.exc_info))  # type: ignore[misc]
        code = code or 1
    ran = Ran(["driftline", *args], code, result.stdout, stderr)
    if check and ran.returncode != 0:
        raise AssertionError(_failure(ran))
    return ran


def _failure(ran: Ran) -> str:
    return f"{' '.join(ran.args)} exited {ran.returncode}\n--- stdout\n{ran.stdout}\n--- stderr\n{ran.stderr}"


# Set once by a library when it is first imported, not by a command: pandera (for its optional pyspark
# backend) and scikit-learn (for its OpenMP runtime).
SET_ON_IMPORT = {"PYTEST_CURRENT_TEST", "PYARROW_IGNORE_TIMEZONE", "SPARK_LOCAL_IP", "KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK"}


@pytest.fixture(autouse=True)
def _no_leaked_process_state():
    """In-process CLI runs share this process: each test must leave the cwd and the environment as it found them."""
    cwd, env = Path.cwd(), dict(os.environ)
    yield
    assert Path.cwd() == cwd, f"the test left the working directory at {Path.cwd()}"
    changed = {k for k in env.keys() | os.environ.keys() if env.get(k) != os.environ.get(k)} - SET_ON_IMPORT
    assert not changed, f"the test changed environment variables: {sorted(changed)}"


@pytest.fixture(scope="session")
def sh():
    """`sh(cmd, cwd, check=True)`: a real subprocess, for when the process is the point (dvc, serve)."""
    return run_process


@pytest.fixture(scope="session")
def cli():
    """`cli(args, cwd, check=True)`: `driftline ARGS` in-process (typer's CliRunner)."""
    return run_cli


# ----------------------------------------------------------------------------- projects


def edit_file(root: Path, rel: str, old: str, new: str) -> None:
    """Replace the first `old` in `root/rel` with `new`; the text must be there."""
    path = root / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


def commit_all(root: Path, message: str) -> None:
    run_process(["git", "add", "-A"], root)
    run_process(["git", "commit", "-q", "--allow-empty", "-m", message], root)


def set_rows(root: Path, rows: int, current: int = TEMPLATE_ROWS) -> None:
    """Resize the generated demo dataset (both pipelines), then recompile."""
    edit_file(root, "conf/dataset/loans.yaml", f"rows: {current}", f"rows: {rows}")
    edit_file(root, "pipelines/pricing.yaml", f"rows: {current}", f"rows: {rows}")
    run_cli(["compile"], root)


def _build_template(dest: Path) -> Path:
    """The demo project (conf/, pipelines/) at TEMPLATE_ROWS, compiled and committed in a git + DVC repo."""
    dest.mkdir(parents=True)
    for folder in ("conf", "pipelines"):
        shutil.copytree(REPO / folder, dest / folder)
    edit_file(dest, "conf/dataset/loans.yaml", "rows: 50000", f"rows: {TEMPLATE_ROWS}")
    edit_file(dest, "pipelines/pricing.yaml", "rows: 20000", f"rows: {TEMPLATE_ROWS}")
    run_process(["git", "init", "-q"], dest)
    run_process(["git", "config", "user.email", "test@example.com"], dest)
    run_process(["git", "config", "user.name", "driftline tests"], dest)
    run_process(["dvc", "init", "-q"], dest)
    run_process(["dvc", "config", "core.analytics", "false"], dest)
    run_process(["dvc", "config", "core.autostage", "true"], dest)
    (dest / ".gitignore").write_text("dvc_plots/\n")
    run_cli(["compile"], dest)
    commit_all(dest, "project")
    return dest


def copy_project(source: Path, dest: Path) -> Path:
    """An independent copy of a project (its git repo, DVC cache and workspace included)."""
    shutil.copytree(source, dest, symlinks=True)
    return dest


@dataclass
class Projects:
    """Project templates, each built on first use and then copied; never handed out themselves."""

    factory: pytest.TempPathFactory
    _templates: dict[str, Path] = field(default_factory=dict)
    first_repro: Ran | None = None  # what the reproduced template's `dvc repro` printed

    def _template(self, name: str) -> Path:
        if name not in self._templates:
            root = self.factory.mktemp(f"template-{name}") / "proj"
            if name == "fresh":
                _build_template(root)
            elif name == "reproduced":
                copy_project(self._template("fresh"), root)
                self.first_repro = run_process(["dvc", "repro"], root)
                commit_all(root, "repro")
            else:  # pragma: no cover
                raise KeyError(name)
            self._templates[name] = root
        return self._templates[name]

    def _dest(self, dest: Path | None) -> Path:
        return dest if dest is not None else self.factory.mktemp("proj") / "proj"

    def fresh(self, dest: Path | None = None, rows: int = TEMPLATE_ROWS) -> Path:
        """A compiled, committed project where nothing has run yet."""
        root = copy_project(self._template("fresh"), self._dest(dest))
        if rows != TEMPLATE_ROWS:
            set_rows(root, rows)
            commit_all(root, f"{rows} rows")
        return root

    def reproduced(self, dest: Path | None = None) -> Path:
        """A project after one full `dvc repro`, committed (`first_repro` holds what that repro printed)."""
        return copy_project(self._template("reproduced"), self._dest(dest))


@pytest.fixture(scope="session")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Projects:
    return Projects(tmp_path_factory)


@pytest.fixture
def project(projects: Projects, tmp_path: Path) -> Path:
    """A fresh small project, compiled and committed, nothing run yet (this test's own copy)."""
    return projects.fresh(tmp_path / "proj")


@pytest.fixture
def built_project(projects: Projects, tmp_path: Path) -> Path:
    """A small project after one full `dvc repro`, committed (this test's own copy)."""
    return projects.reproduced(tmp_path / "built")


@pytest.fixture(scope="session")
def edit():
    """`edit(root, rel, old, new)`: replace text in a project file, failing if it is not there."""
    return edit_file


# ----------------------------------------------------------------------------- the browser


CHROMIUM = Path("/usr/bin/chromium")


class DomSummary(HTMLParser):
    """What the tests look for in a drift report's rendered DOM: the verdict, cards and any script."""

    def __init__(self) -> None:
        super().__init__()
        self.verdict: dict[str, str | None] | None = None
        self.cards: list[dict[str, str | None]] = []
        self.svgs = 0
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id") == "verdict":
            self.verdict = attributes
        if tag == "details" and "card" in (attributes.get("class") or "").split():
            self.cards.append(attributes)
        self.svgs += tag == "svg"
        self.scripts += tag == "script"


@dataclass(frozen=True)
class Browser:
    """Headless Chromium with everything that could reach the network or a user profile turned off."""

    executable: str

    def run(self, args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
        cmd = [self.executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            raise AssertionError(f"chromium exited {proc.returncode}\n--- stderr\n{proc.stderr[-4000:]}")
        return proc

    def dom(self, page: Path, profile: Path) -> tuple[DomSummary, str]:
        """The page's DOM after Chromium ran it, summarised; and the DOM text for messages."""
        text = self.run(["--dump-dom", page.as_uri()], profile).stdout
        summary = DomSummary()
        summary.feed(text)
        return summary, text


@pytest.fixture(scope="session")
def browser() -> Browser:
    """Needs /usr/bin/chromium (Debian: `apt-get install -y chromium`); without it the tests fail, on purpose."""
    found = shutil.which("chromium") or (str(CHROMIUM) if CHROMIUM.exists() else None)
    if found is None:
        pytest.fail("headless Chromium is needed for the drift report browser tests but /usr/bin/chromium is "
                    "missing. Install it with `apt-get install -y chromium` (Debian package; CI does this in .ci/run).")
    return Browser(found)


# ----------------------------------------------------------------------------- a drift report

@dataclass(frozen=True)
class DriftReports:
    """Reports in the drift.json contract, built by hand so every field is known (tests/drift_samples.py)."""

    evil: str = EVIL

    def sample(self, retrain: bool = True) -> dict[str, Any]:
        return sample_report(retrain)

    def numeric(self, name: str, severity: float, drifted: bool, **extra: Any) -> dict[str, Any]:
        return numeric_column(name, severity, drifted, **extra)

    def categorical(self, name: str, severity: float, drifted: bool, **extra: Any) -> dict[str, Any]:
        return categorical_column(name, severity, drifted, **extra)


@pytest.fixture(scope="session")
def drift_reports() -> DriftReports:
    return DriftReports()
