"""`driftline registry …`: list a pipeline's model versions, promote one, roll the champion back.

Thin: each command finds the project and calls `driftline.registry`; a RegistryError or
ProjectError reaches the CLI's one handler (a message on stderr, exit code 1).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from driftline.cli.handler import command_group
from driftline.cli.pipelines import known_registry

if TYPE_CHECKING:
    from driftline.registry.store import Registry, VersionInfo

app = command_group(name="registry", help="Model versions of each pipeline: list them, promote one, roll the champion back.")

MAX_METRICS_SHOWN = 4

Pipeline = Annotated[str, typer.Argument(help="The pipeline name (a file in pipelines/).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _open(pipeline: str) -> Registry:
    """The pipeline's registry, its events recorded in the project's audit trail and mirrored as GTO tags;
    an unknown pipeline is refused before anything is written (no lock file left behind)."""
    from driftline.project import find_root
    from driftline.stages.context import project_registry

    return known_registry(project_registry(find_root(), pipeline))


def _metric_cells(metrics: dict[str, Any]) -> str:
    """The top-level numeric metrics, compact; nested sections are left for --json."""
    from driftline.config.metrics import TASKS, headline

    lead = [m for m in dict.fromkeys(headline(task) for task in TASKS) if m in metrics]  # the gate's metrics lead
    ordered = lead + [name for name in metrics if name not in lead]
    shown = [
        f"{name}={metrics[name]:.4g}"
        for name in ordered
        if isinstance(metrics[name], (int, float)) and not isinstance(metrics[name], bool)
    ]
    extra = len(shown) - MAX_METRICS_SHOWN
    return " ".join(shown[:MAX_METRICS_SHOWN]) + (f" (+{extra})" if extra > 0 else "") or "—"


def _gate_cell(gate: dict[str, Any] | None) -> str:
    if not gate:
        return "—"
    for key in ("decision", "result", "verdict"):
        if isinstance(gate.get(key), str):
            return gate[key]
    for key in ("passed", "pass", "promote"):
        if isinstance(gate.get(key), bool):
            return "passed" if gate[key] else "refused"
    return "recorded"


def _table(pipeline: str, versions: list[VersionInfo]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=max(console.width, 160))
    table = Table(title=f"{pipeline}: {len(versions)} model version(s)", title_justify="left", box=box.SIMPLE_HEAD)
    narrow = console.width < 110  # keep room for the metrics: the date alone is enough there
    for column in ("version", "champ", "created", "metrics", "data", "config", "gate"):
        if column == "metrics":
            table.add_column(column, min_width=14, overflow="fold")
        else:
            table.add_column(column, no_wrap=True, justify="center" if column == "champ" else "left")
    for info in versions:
        table.add_row(
            info.version,
            "✓" if info.champion else "",
            info.created[: 10 if narrow else 16].replace("T", " "),
            _metric_cells(info.metrics),
            info.data_fingerprint[:8],
            info.config_fingerprint[:8],
            _gate_cell(info.gate),
        )
    console.print(table)


@app.command("list")
def list_versions(pipeline: Pipeline, as_json: AsJson = False) -> None:
    """List every model version of a pipeline, oldest first; the champion is ticked."""
    versions = _open(pipeline).versions()
    if as_json:
        typer.echo(json.dumps([v.to_dict() for v in versions], indent=2, sort_keys=True))
        return
    if not versions:
        typer.echo(f"{pipeline}: no model versions yet. `dvc repro` trains one; the promote step registers it.")
        return
    _table(pipeline, versions)


@app.command()
def history(pipeline: Pipeline, as_json: AsJson = False) -> None:
    """Show every registered, promoted, refused and rollback event, oldest first."""
    events = _open(pipeline).history()
    if as_json:
        typer.echo(json.dumps(events, indent=2, sort_keys=True))
        return
    if not events:
        typer.echo(f"{pipeline}: no registry events yet.")
        return
    for event in events:
        typer.echo(f"{event.get('time', '?')}  {event.get('event', '?'):<10}  {event.get('version') or '—':<6}  {event.get('reason', '')}")


@app.command()
def promote(
    pipeline: Pipeline,
    version: Annotated[str, typer.Argument(help="The version to make champion: v3, 3 or v0003.")],
    reason: Annotated[str, typer.Option(help="Why, for the history and the audit trail.")] = "promoted by hand",
) -> None:
    """Make a registered version the champion (bypasses the gate; the reason is recorded)."""
    _swap(pipeline, "promoted", version, lambda registry: registry.promote(version, reason))


@app.command()
def rollback(
    pipeline: Pipeline,
    to: Annotated[str | None, typer.Option("--to", help="The version to return to; default: the champion before the current one.")] = None,
    reason: Annotated[str, typer.Option(help="Why, for the history and the audit trail.")] = "rollback",
) -> None:
    """Swap the champion back atomically, to the previous champion or to `--to vN`."""
    _swap(pipeline, "rollback", to, lambda registry: registry.rollback(to, reason))


@app.command()
def repair(pipeline: Pipeline) -> None:
    """Bring champion.json, history.jsonl and the audit trail back in step after a crash or a damaged file.

    history.jsonl is the record: a torn last line is cut, champion.json is rebuilt from the last
    promotion or rollback, a written but unrecorded version is registered, and events the audit trail
    lacks are sent again. Each repair is recorded; running it again changes nothing.
    """
    done = _open(pipeline).recover(rebuild_pointer=True)
    for what in done:
        typer.echo(f"{pipeline}: repaired: {what}")
    if not done:
        typer.echo(f"{pipeline}: nothing to repair")


@app.command()
def verify(pipeline: Pipeline) -> None:
    """Check that the champion is a complete version (every file re-hashed) and that champion.json,
    history.jsonl and the audit trail agree. Exit 1 naming each problem."""
    from driftline.registry.store import RegistryError

    registry = _open(pipeline)
    problems = registry.check()
    if problems:
        raise RegistryError(f"{pipeline}: the registry disagrees with itself:\n  " + "\n  ".join(problems),
                            hint=f"run `driftline registry repair {pipeline}`; restore registry/{pipeline}/ from git "
                                 "if a version's files changed")
    champion = registry.champion()
    events = len(registry.history())
    typer.echo(f"{pipeline}: ok: champion {champion.version if champion else 'none yet'}, {events} history event(s), "
               "pointer, history and audit trail agree")


def _swap(pipeline: str, event: str, version: str | None, change: Callable[[Registry], VersionInfo]) -> None:
    """Run a promotion or rollback; rerun after a crash that stopped this very change past its commit,
    recovery finishes it and nothing more is done (a second rollback would go one version too far)."""
    registry = _open(pipeline)
    for what in registry.recover():
        typer.echo(f"{pipeline}: recovered first: {what}", err=True)
    done = registry.completed
    if done is not None and done.get("event") == event and (version is None or registry.get(version).version == done.get("version")):
        verb = "rollback" if event == "rollback" else "promotion"
        typer.echo(f"{pipeline}: champion {done.get('previous') or 'none'} -> {done['version']} "
                   f"(the interrupted {verb} is now complete; run the command again to change it further)")
        return
    before = registry.champion()
    after = change(registry)
    typer.echo(f"{pipeline}: champion {before.version if before else 'none'} -> {after.version}")
