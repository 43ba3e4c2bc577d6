"""`driftline labels import <p> labels.csv`: join late ground truth to served decisions by request id.

Thin: finds the project, calls `driftline.serve.labels`, maps errors to a message and exit code 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="labels",
    help="Ground truth for served decisions: import it so the monitor can measure performance.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)

EXIT_FAILED = 1
UNKNOWN_SHOWN = 5


@app.command("import")
def import_(
    pipeline: Annotated[str, typer.Argument(help="The pipeline name (a file in pipelines/).")],
    path: Annotated[Path, typer.Argument(help="CSV with a header row and columns request_id,label.")],
) -> None:
    """Store labels for logged decisions (`logs/<pipeline>/predictions.sqlite`, table `labels`).

    Every row is checked first; one bad label or empty id means nothing is imported (exit 1).
    Ids that are not in the log are reported and skipped.
    """
    from driftline.project import ProjectError, find_root
    from driftline.serve.labels import LabelImportError, import_labels_csv

    try:
        result = import_labels_csv(find_root(), pipeline, path)
    except (ProjectError, LabelImportError) as exc:
        typer.echo(f"driftline labels import: {exc}", err=True)
        for problem in getattr(exc, "problems", []):
            typer.echo(f"  error: {problem}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    typer.echo(f"{pipeline}: {result.stored} label(s) joined to logged decisions")
    if result.unknown:
        shown = ", ".join(result.unknown[:UNKNOWN_SHOWN]) + (" ..." if len(result.unknown) > UNKNOWN_SHOWN else "")
        typer.echo(f"{len(result.unknown)} request id(s) not in the prediction log, skipped: {shown}", err=True)
