"""`driftline labels import <p> labels.csv`: join late ground truth to served decisions by request id.

Thin: finds the project, the task and the champion's classes, and calls `driftline.predictions.labels`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from driftline.cli.handler import command_group

app = command_group(name="labels", help="Ground truth for served decisions: import it so the monitor can measure performance.")

UNKNOWN_SHOWN = 5


@app.command("import")
def import_(
    pipeline: Annotated[str, typer.Argument(help="The pipeline name (a file in pipelines/).")],
    path: Annotated[Path, typer.Argument(help="CSV with a header row and columns request_id,label.")],
) -> None:
    """Store labels for logged decisions (table `labels` of the pipeline's prediction log: `logs/<pipeline>/predictions.sqlite`, or `serve.log.url`).

    Every row is checked first; one bad label or empty id means nothing is imported (exit 1).
    Ids that are not in the log are reported and skipped.
    """
    from driftline.config.params import load_pipeline
    from driftline.predictions.labels import import_labels_csv
    from driftline.predictions.log import log_location
    from driftline.project import find_root
    from driftline.registry.store import Registry

    root = find_root()
    cfg = load_pipeline(pipeline, root)
    task = cfg.task
    champion = Registry(root, pipeline).champion()
    classes = champion.model_meta().get("classes") if champion is not None else None
    result = import_labels_csv(log_location(root, pipeline, cfg.serve.log.url), path, task, classes)
    typer.echo(f"{pipeline}: {result.stored} label(s) joined to logged decisions")
    if result.unknown:
        shown = ", ".join(result.unknown[:UNKNOWN_SHOWN]) + (" ..." if len(result.unknown) > UNKNOWN_SHOWN else "")
        typer.echo(f"{len(result.unknown)} request id(s) not in the prediction log, skipped: {shown}", err=True)
