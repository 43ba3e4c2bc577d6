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

    from driftline.atomic import write_parquet
    from driftline.data.batches import batch_file, next_batch_number
    from driftline.data.generator import generate_loans
    from driftline.project import ProjectError
    from driftline.stages.context import load_context

    if drift not in DRIFTS:
        typer.echo(f"--drift must be one of: {', '.join(DRIFTS)}", err=True)
        raise typer.Exit(2)
    try:
        ctx = load_context(pipeline)
    except ProjectError as exc:
        typer.echo(f"driftline simulate: {exc}", err=True)
        raise typer.Exit(1) from None
    source = ctx.cfg.dataset.source
    if source.kind != "generator":
        typer.echo(f"driftline simulate: {pipeline}.dataset.source is '{source.kind}', not the built-in generator; "
                   f"drop your own files as {ctx.paths.incoming}/batch-NNNN.parquet instead", err=True)
        raise typer.Exit(1)
    end = dt.date.fromisoformat(source.end)
    for _ in range(batches):
        number = next_batch_number(ctx.root, ctx.paths.incoming)
        start = end + dt.timedelta(days=30 * (number - 1))
        frame = generate_loans(rows=rows, seed=source.seed, start=start.isoformat(),
                               end=(start + dt.timedelta(days=30)).isoformat(), drift=drift, strength=strength, batch=number)
        path = batch_file(ctx.paths.incoming, number)
        write_parquet(ctx.path(path), frame)
        typer.echo(f"{path}: {len(frame):,} labelled rows, drift={drift}" + (f" (strength {strength})" if drift != "none" else ""))
