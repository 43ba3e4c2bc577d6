"""`driftline batch add|list|retire`: hand the monitor batches of your own, see what the loop did
with each, and take a bad one out of the loop (recorded in the audit trail, never a hand edit).

Thin: reading goes through `driftline.data.sources.read_file` (the dataset's read options), casting
and checking through `driftline.schema.cast.check_batch`, writing and retiring through
`driftline.data.batches`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from driftline.cli.handler import command_group

app = command_group(name="batch", help="Your own batches of new data: add them, list them, retire a bad one.")

SHOWN_REASONS = 3


@app.command()
def add(
    pipeline: Annotated[str, typer.Argument(help="The pipeline name (a file in pipelines/).")],
    files: Annotated[list[Path], typer.Argument(help="CSV or Parquet files, one batch each.")],
) -> None:
    """Add CSV or Parquet files as new batches in `data/<pipeline>/incoming/`, tracked with DVC.

    Each file is read with the dataset's read options, cast to the schema's dtypes and checked
    with the schema. Missing columns or values that cannot be read as their column's type refuse
    it (exit 1, nothing written, for every file given). Rows that break a range or an allowed
    value do not: their share is printed, and the monitor judges the batch.
    """
    from driftline.config.params import load_pipeline
    from driftline.data.batches import add_batches
    from driftline.data.sources import read_file
    from driftline.errors import DriftlineError
    from driftline.paths import PipelinePaths
    from driftline.project import find_root
    from driftline.schema.cast import check_batch
    from driftline.schema.rules import rules_for

    root = find_root()
    cfg = load_pipeline(pipeline, root)
    paths = PipelinePaths(pipeline)
    rules = rules_for(cfg.schema_)
    source = cfg.dataset.source.model_dump()
    checked = []
    for file in files:  # every file is checked before anything is written
        if not file.is_file():
            raise DriftlineError(f"{file}: no such file")
        checked.append(check_batch(read_file(file, source, str(file)), rules, str(file)))
    batches = add_batches(root, paths.incoming, [c.frame for c in checked])

    limit = (cfg.monitor.max_bad_share if cfg.monitor is not None and cfg.monitor.max_bad_share is not None
             else cfg.schema_.max_bad_share)
    for file, check, batch in zip(files, checked, batches):
        typer.echo(f"{batch.file}: {check.rows:,} rows from {file}")
        if check.bad_rows:
            reasons = sorted(check.failures.items(), key=lambda item: -item[1])[:SHOWN_REASONS]
            typer.echo(f"  {check.bad_share:.1%} of rows ({check.bad_rows:,}) fail the schema: "
                       + "; ".join(f"{reason} ({rows:,} rows)" for reason, rows in reasons))
            if cfg.monitor is not None:
                typer.echo(f"  the monitor judges the batch (it rejects one over {limit:.1%} bad rows)")
    if (root / ".dvc").is_dir():
        tracked = " ".join(f"{b.file}.dvc" for b in batches)
        typer.echo(f"tracked with DVC: commit {tracked} and {paths.incoming}/.gitignore; `dvc push` shares the data")
    inside = [str(f) for f in files if f.resolve().parent == (root / paths.incoming).resolve()]
    if inside:
        typer.echo(f"{', '.join(inside)}: added as a batch; delete the original, the monitor never reads it")
    if cfg.monitor is None:
        typer.echo(f"note: {pipeline} has no monitor, so nothing reads new batches: add `- /monitor: default` to "
                   f"the defaults of pipelines/{pipeline}.yaml, then `driftline compile`", err=True)
        return
    typer.echo(f"next: `dvc repro` (or `driftline watch {pipeline} --once`)")


@app.command("list")
def list_(
    pipeline: Annotated[str, typer.Argument(help="The pipeline name (a file in pipelines/).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Incoming and retired batches: rows, and status (pending, seen, rejected, absorbed, retired)."""
    from driftline.config.params import load_pipeline
    from driftline.data.batches import batch_statuses, stray_files
    from driftline.paths import PipelinePaths
    from driftline.project import find_root

    root = find_root()
    load_pipeline(pipeline, root)  # an unknown pipeline is named, as everywhere
    paths = PipelinePaths(pipeline)
    statuses = batch_statuses(root, paths)
    stray = stray_files(root, paths.incoming)
    if as_json:
        typer.echo(json.dumps({"batches": [s.to_json() for s in statuses], "stray": stray}, indent=2))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=max(console.width, 160))
    if not statuses:
        typer.echo(f"no batches in {paths.incoming}/ (add one with `driftline batch add {pipeline} FILE`)")
    else:
        table = Table(title=f"{pipeline}: {len(statuses)} batch(es)", title_justify="left", box=box.SIMPLE_HEAD)
        for column in ("file", "rows", "status", "reason"):
            table.add_column(column, justify="right" if column == "rows" else "left",
                             **({"overflow": "fold"} if column == "reason" else {"no_wrap": True}))
        for s in statuses:
            table.add_row(s.file, "?" if s.rows is None else f"{s.rows:,}", s.status, s.reason)
        console.print(table)
    for rel in stray:
        typer.echo(f"{rel}: not a batch, the monitor ignores it; add it with `driftline batch add {pipeline} {rel}`")


@app.command()
def retire(
    pipeline: Annotated[str, typer.Argument(help="The pipeline name (a file in pipelines/).")],
    batch: Annotated[str, typer.Argument(help="The batch: batch-0003, batch-0003.parquet, its path or its number.")],
    reason: Annotated[str, typer.Option(help="Why it leaves the loop (kept in the audit trail).")],
) -> None:
    """Take a bad batch out of the loop: move it (and its .dvc file) to `data/<pipeline>/retired/`.

    It leaves the trigger's absorbed list (the next `dvc repro` retrains without its rows) and the
    monitor's seen and rejected lists; neither the monitor nor ingest reads it again. The
    retirement is recorded in the audit trail (`batch_retired`, with the file's SHA-256).
    """
    from driftline.audit.log import append
    from driftline.config.params import load_pipeline
    from driftline.data.batches import retire_batch
    from driftline.errors import DriftlineError
    from driftline.paths import PipelinePaths
    from driftline.project import find_root

    if not reason.strip():
        raise DriftlineError("--reason is empty", hint="say why the batch leaves the loop; the audit trail keeps it")
    root = find_root()
    load_pipeline(pipeline, root)
    paths = PipelinePaths(pipeline)
    retired = retire_batch(root, paths, batch)
    append(root, "batch_retired", {"pipeline": pipeline, "file": retired.batch.file, "retired_to": retired.to,
                                   "sha256": retired.batch.sha256, "reason": reason.strip(), "was_absorbed": retired.was_absorbed})
    typer.echo(f"{retired.batch.file} -> {retired.to}: retired ({reason.strip()})")
    if retired.was_absorbed:
        typer.echo(f"it was absorbed into training: the next `dvc repro` reruns {pipeline}-ingest and retrains without it")
    else:
        typer.echo("the monitor will not read it again")
    trained_with = _champion_trained_with(root, pipeline, retired.batch.file)
    if trained_with is not None:
        champion, clean = trained_with
        typer.echo(f"the champion {champion} was trained with its rows, and the gate compares the retrained model with it: "
                   + (f"to stop serving it, `driftline registry rollback {pipeline} --to {clean}`" if clean
                      else "no earlier version was trained without it"))


def _champion_trained_with(root: Path, pipeline: str, file: str) -> tuple[str, str | None] | None:
    """(champion, the newest version trained without `file`) when the champion's training absorbed `file`."""
    from driftline.registry.store import Registry, VersionInfo

    def absorbed(info: VersionInfo) -> set[str]:
        if "training.json" not in info.files:
            return set()
        training = json.loads((info.path / "training.json").read_text(encoding="utf-8"))
        return {b.get("file") for b in training.get("absorbed_batches", [])}

    registry = Registry(root, pipeline)
    champion = registry.champion()
    if champion is None or file not in absorbed(champion):
        return None
    clean = [v.version for v in registry.versions() if file not in absorbed(v)]
    return champion.version, clean[-1] if clean else None
