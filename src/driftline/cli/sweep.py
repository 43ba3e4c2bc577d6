"""`driftline sweep`: a Hydra multirun over one pipeline's config, then a leaderboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXIT_FAILED = 1
EXIT_BAD_ARGS = 2


def sweep(
    pipeline: Annotated[str, typer.Argument(help="The pipeline to sweep (a file in pipelines/).")],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Hydra overrides: `model.params.num_leaves=15,31,63`, `hydra/launcher=joblib`, `hydra/sweeper=optuna`, ..."),
    ] = None,
    multirun: Annotated[bool, typer.Option("-m", "--multirun", help="Accepted as in Hydra; a sweep is always a multirun.")] = False,
    apply: Annotated[str | None, typer.Option("--apply", help="`best`: write the winning values into `pipelines/<p>.yaml` and recompile.")] = None,
    dvc_exp: Annotated[bool, typer.Option("--dvc-exp", help="Record each finished job as a DVC experiment on the current commit.")] = False,
    show: Annotated[int, typer.Option(help="Rows of the leaderboard to print (all are in leaderboard.csv).")] = 20,
    project: Annotated[Path, typer.Option(help="Project root (holds conf/ and pipelines/).")] = Path("."),
) -> None:
    """Sweep hyperparameters with Hydra on the split and features `dvc repro` prepared.

    Each job trains on `data/<p>/features/` (refitting features in memory only when the job
    changes the `features` config), writes metrics.json, result.json and its resolved config in
    Hydra's job folder (`multirun/<date>/<time>/<n>/`, or `hydra.sweep.dir=...`), and returns the
    primary metric on the valid split (roc_auc: maximise; rmse, log_loss: minimise). At the end:
    a leaderboard, leaderboard.csv and leaderboard.svg in the sweep folder. With --dvc-exp, each
    finished job is also a DVC experiment (its params in params.yaml, its test metrics and training
    summary in the pipeline's metric files): `dvc exp show`, then `dvc exp apply <name>` and `dvc repro`.

    Exit codes: 0 ok; 1 the features are not prepared or a job failed; 2 bad arguments.
    """
    from datetime import datetime

    from driftline.sweep import leaderboard, runner
    from driftline.sweep.job import prepared
    from driftline.sweep.objective import direction, primary_metric

    overrides = list(overrides or [])
    root = project.resolve()
    if apply not in (None, "best"):
        typer.echo(f"driftline sweep: --apply takes 'best', not {apply!r}", err=True)
        raise typer.Exit(EXIT_BAD_ARGS)
    if not (root / "pipelines" / f"{pipeline}.yaml").is_file():
        typer.echo(f"driftline sweep: no pipeline '{pipeline}' (pipelines/{pipeline}.yaml is missing)", err=True)
        raise typer.Exit(EXIT_BAD_ARGS)
    prep = prepared(root, pipeline)  # SweepError (exit 1) when `dvc repro` has not prepared the features

    hints = runner.missing_plugins(overrides, root)
    if hints:
        for hint in hints:
            typer.echo(f"driftline sweep: {hint}", err=True)
        raise typer.Exit(EXIT_BAD_ARGS)
    from driftline.threads import usable_cpus

    if dvc_exp:
        from driftline.sweep.experiments import baseline

        baseline(root)  # SweepError (exit 1) before any job runs when there is no commit to record on
    warning = runner.oversubscription(overrides, prep.base.to_params()["model"].get("params", {}).get("num_threads"), usable_cpus())
    if warning:
        typer.echo(f"driftline sweep: warning: {warning}", err=True)
    started = datetime.now()
    out = runner.sweep_dir_for(overrides, started, root)  # absolute: launcher workers write where this process reads
    code = runner.run(root, pipeline, runner.hydra_overrides(overrides, out, direction(primary_metric(prep.base))))
    sweep_dir = _shown(out, root)
    rows = leaderboard.rank(leaderboard.collect(out))
    if rows:
        _print_leaderboard(rows, show, sweep_dir)
        leaderboard.write(out, rows, title=f"{pipeline}: {len(rows)} job(s)")
        typer.echo(f"leaderboard: {sweep_dir}/{leaderboard.LEADERBOARD_CSV}, {sweep_dir}/{leaderboard.LEADERBOARD_SVG}")
        if dvc_exp:
            from driftline.sweep.experiments import record

            names = record(root, pipeline, rows, out, f"{started:%Y%m%d-%H%M%S}")
            typer.echo(f"recorded {len(names)} DVC experiment(s): {', '.join(names)}; compare them with `dvc exp show`")
    if code != 0:
        typer.echo(f"driftline sweep {pipeline}: the Hydra multirun failed (exit {code}); see the messages above and {sweep_dir}/", err=True)
        raise typer.Exit(EXIT_FAILED)
    if not rows:
        typer.echo(f"driftline sweep {pipeline}: no job finished under {sweep_dir}/", err=True)
        raise typer.Exit(EXIT_FAILED)
    if apply == "best":
        _apply_best(root, pipeline, rows[0])


def _shown(path: Path, root: Path) -> str:
    """`path` relative to the project when it is inside it (as the user typed it), else absolute."""
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _print_leaderboard(rows: list[dict], show: int, sweep_dir: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from driftline.sweep.leaderboard import table

    header, cells = table(rows)
    best = rows[0]
    grid = Table(title=f"sweep leaderboard ({sweep_dir}): valid {best['metric']}, {best['direction']}, best first")
    for name in header:
        grid.add_column(name, justify="left" if "." in name else "right")
    for i, row in enumerate(cells[:show]):
        grid.add_row(*row, style="bold green" if i == 0 else None)
    widths = [max(len(h), *(len(c[i]) for c in cells)) + 3 for i, h in enumerate(header)]
    Console(width=max(80, sum(widths) + 1)).print(grid)
    if len(cells) > show:
        typer.echo(f"... {len(cells) - show} more in leaderboard.csv")


def _apply_best(root: Path, pipeline: str, best: dict) -> None:
    import difflib

    from driftline.atomic import write_text
    from driftline.compile.writer import render_project, write_project
    from driftline.config.compose import ComposeError, compose_pipeline
    from driftline.config.errors import ConfigError
    from driftline.sweep.apply import ApplyError, apply_values, changes, lookup

    path = root / "pipelines" / f"{pipeline}.yaml"
    before = path.read_text(encoding="utf-8")
    try:
        wanted = changes(best["swept"], compose_pipeline(root, pipeline).data)
        if not wanted:
            typer.echo(f"--apply best: pipelines/{pipeline}.yaml already has the winner's values; nothing to change")
            return
        after = apply_values(before, wanted)
    except (ApplyError, ComposeError) as exc:
        typer.echo(f"driftline sweep --apply best: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    write_text(path, after)
    try:
        composed = compose_pipeline(root, pipeline).data
        ignored = [k for k, v in wanted.items() if lookup(composed, k) != v]
        if ignored:
            raise ApplyError(f"the pipeline file does not override {', '.join(ignored)} (is `_self_` last in its defaults list?)")
        written = write_project(root, render_project(root))
    except (ApplyError, ComposeError, ConfigError) as exc:
        write_text(path, before)  # nothing half-applied
        typer.echo(f"driftline sweep --apply best: {exc}; pipelines/{pipeline}.yaml left unchanged", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    diff = difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/pipelines/{pipeline}.yaml", f"b/pipelines/{pipeline}.yaml")
    typer.echo("".join(diff), nl=False)
    typer.echo(f"applied job {best['job']} ({', '.join(f'{k}={v}' for k, v in wanted.items())}); compiled: {', '.join(written) or 'nothing changed'}")
    typer.echo("next: `dvc repro` trains the winner")
