"""`driftline simulate`: write new labelled batches from the built-in generator, with or without drift."""

from __future__ import annotations

from typing import Annotated

import typer

DRIFTS = ("none", "covariate", "concept")


def simulate(
    pipeline: Annotated[str, typer.Argument(help="A pipeline whose dataset uses the built-in generator.")],
    batches: Annotated[int, typer.Option(min=1, help="How many batches to write.")] = 1,
    drift: Annotated[str, typer.Option(help="none | covariate (inputs shift) | concept (the label mechanism changes).")] = "none",
    rows: Annotated[int, typer.Option(min=1, help="Rows per batch.")] = 5_000,
    strength: Annotated[float, typer.Option(min=0.0, help="How strong the drift is (1.0 = the documented shift).")] = 1.0,
) -> None:
    """Write new labelled batches into `data/<pipeline>/incoming/` for the monitor to find.

    Each batch covers the 30 days after the previous one. Then run `dvc repro`: the monitor
    compares the batch with the champion's reference and decides whether to retrain.
    """
    import datetime as dt

    from driftline.config.params import load_pipeline
    from driftline.data.batches import add_batches, next_batch_number
    from driftline.data.generator import generate_loans
    from driftline.errors import DriftlineError
    from driftline.paths import PipelinePaths
    from driftline.project import find_root

    if drift not in DRIFTS:
        raise typer.BadParameter(f"must be one of: {', '.join(DRIFTS)}", param_hint="--drift")
    root = find_root()
    paths = PipelinePaths(pipeline)
    source = load_pipeline(pipeline, root).dataset.source
    if source.kind != "generator":
        raise DriftlineError(f"{pipeline}.dataset.source is '{source.kind}', not the built-in generator",
                             hint=f"add your own files with `driftline batch add {pipeline} FILE...` instead")
    end = dt.date.fromisoformat(source.end)
    first = next_batch_number(root, paths.incoming)
    frames = []
    for number in range(first, first + batches):
        start = end + dt.timedelta(days=30 * (number - 1))
        frames.append(generate_loans(rows=rows, seed=source.seed, start=start.isoformat(),
                                     end=(start + dt.timedelta(days=30)).isoformat(), drift=drift, strength=strength, batch=number))
    for batch, frame in zip(add_batches(root, paths.incoming, frames), frames):  # the one write path: atomic, tracked with DVC
        typer.echo(f"{batch.file}: {len(frame):,} labelled rows, drift={drift}" + (f" (strength {strength})" if drift != "none" else ""))
