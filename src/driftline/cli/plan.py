"""`driftline plan`: which stages the next `dvc repro` runs, and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def plan(
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="List the stages that will be skipped too.")] = False,
    project: Annotated[Path, typer.Option(help="Project root (holds dvc.yaml).")] = Path("."),
) -> None:
    """Show which stages the next `dvc repro` will run and why: the param keys (old -> new)
    and the files that changed since dvc.lock was written, and the stages that follow them.

    Reads dvc.yaml, dvc.lock and params.yaml, and asks `dvc status --json`. Run
    `driftline compile` first if you edited conf/ or pipelines/. Exit codes: 0 ok; 1 DVC failed.
    """
    import os
    import subprocess

    import yaml

    from driftline.cli.pipelines import project_folder
    from driftline.compile.plan import make_plan
    from driftline.errors import DriftlineError

    root = project_folder(project)
    if not (root / "dvc.yaml").is_file():
        raise DriftlineError("no dvc.yaml here", hint="run `driftline compile` first")

    def load(name: str) -> dict:
        path = root / name
        return (yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}) if path.is_file() else {}

    proc = subprocess.run(
        ["dvc", "status", "--json"], cwd=root, check=False, capture_output=True, text=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"}
    )
    if proc.returncode != 0:
        raise DriftlineError(f"`dvc status --json` failed:\n{proc.stderr.strip()}")
    status = json.loads(proc.stdout or "{}")
    from driftline.project import ProjectError, check_compiled, read_params

    try:
        check_compiled(root, read_params(root))
    except ProjectError:
        typer.echo("driftline plan: note: conf/ or pipelines/ changed after the last compile, so this plan does not "
                   "include those edits: run `driftline compile` first", err=True)
    plans = make_plan(load("dvc.yaml"), load("dvc.lock"), load("params.yaml"), status)
    if as_json:
        typer.echo(json.dumps([p.to_json() for p in plans], indent=2, default=str))
        return

    from rich.console import Console
    from rich.table import Table

    running = [p for p in plans if p.runs]
    table = Table(title=f"next `dvc repro`: {len(running)} of {len(plans)} stage(s) run")
    table.add_column("stage", no_wrap=True)
    table.add_column("runs", justify="center")
    table.add_column("why")
    for p in plans if show_all else running:
        table.add_row(p.stage, "yes" if p.runs else "no", "\n".join(p.reasons) or "up to date", style=None if p.runs else "dim")
    Console(width=140).print(table)
    if not running:
        typer.echo("nothing to do: dvc repro would only confirm that everything is up to date")
