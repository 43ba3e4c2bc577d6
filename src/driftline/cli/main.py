"""The `driftline` command. Thin: parse, call the library, map errors to messages and exit codes.

Exit codes: 0 ok; 1 a stage failed or `compile --check` found stale files; 2 the config is wrong.
Heavy modules are imported inside commands so `driftline --help` starts instantly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="driftline",
    help="Declare an ML pipeline in YAML, compile it to DVC stages, and keep the model alive after launch.\n\n"
    "Typical loop: edit conf/ or pipelines/, run `driftline compile`, then `dvc repro`.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)

EXIT_STAGE_FAILED = 1
EXIT_STALE = 1
EXIT_BAD_CONFIG = 2


def _err(message: str) -> None:
    typer.echo(message, err=True)


@app.command()
def compile(
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 with a diff if dvc.yaml or params.yaml is stale.")] = False,
    project: Annotated[Path, typer.Option(help="Project root (holds conf/ and pipelines/).")] = Path("."),
) -> None:
    """Render **dvc.yaml** and **params.yaml** from conf/ and pipelines/.

    Every problem in the config is reported at once (pipeline, key path, YAML file), exit code 2,
    and nothing is written.
    """
    from driftline.compile.writer import render_project, stale_diff, write_project
    from driftline.config.errors import ConfigError

    root = project.resolve()
    try:
        result = render_project(root)
    except ConfigError as exc:
        _err(f"driftline compile: {len(exc.problems)} problem(s) in the config; nothing was written.")
        for problem in exc.problems:
            _err(f"  error: {problem}")
        raise typer.Exit(EXIT_BAD_CONFIG) from None
    if check:
        diff = stale_diff(root, result)
        if diff:
            typer.echo(diff, nl=False)
            _err("driftline compile --check: dvc.yaml / params.yaml are stale; run `driftline compile` and commit them.")
            raise typer.Exit(EXIT_STALE)
        typer.echo(f"up to date: {len(result.pipelines)} pipeline(s), {result.stages} stages")
        return
    written = write_project(root, result)
    what = ", ".join(written) if written else "nothing changed"
    typer.echo(f"compiled {len(result.pipelines)} pipeline(s) ({', '.join(result.pipelines)}), {result.stages} stages: {what}")


@app.command()
def run(
    step: Annotated[str, typer.Argument(help="The stage: ingest, validate, label, split, featurize, train, evaluate.")],
    pipeline: Annotated[str, typer.Argument(help="The pipeline name (a file in pipelines/).")],
) -> None:
    """Run one stage of one pipeline. `dvc repro` calls this; you rarely need to."""
    import time

    from driftline.project import ProjectError
    from driftline.stages.context import StageError, run_stage

    started = time.perf_counter()
    try:
        summary = run_stage(step, pipeline)
    except (StageError, ProjectError) as exc:
        _err(f"driftline run {step} {pipeline}: {exc}")
        raise typer.Exit(EXIT_STAGE_FAILED) from None
    typer.echo(f"{pipeline}-{step}: {summary} ({time.perf_counter() - started:.1f}s)")


from driftline.cli.registry import app as registry_app  # noqa: E402  (light: typer only; commands import lazily)

app.add_typer(registry_app, name="registry")


from driftline.cli.simulate import simulate  # noqa: E402  (typer only; heavy imports are inside)

from driftline.cli.watch import watch  # noqa: E402

app.command()(simulate)
app.command()(watch)

from driftline.cli.serve import serve  # noqa: E402  (typer only; FastAPI, uvicorn and LightGBM load inside)
from driftline.cli.labels import app as labels_app  # noqa: E402

app.command()(serve)
app.add_typer(labels_app, name="labels")

from driftline.cli.sweep import sweep  # noqa: E402  (typer only; Hydra and LightGBM load in the sweep's subprocess)

app.command()(sweep)

from driftline.cli.init import init  # noqa: E402  (typer only; pandas loads inside)

app.command()(init)

from driftline.cli.plan import plan  # noqa: E402  (typer only)

app.command()(plan)

from driftline.cli.audit import app as audit_app  # noqa: E402  (typer only)

app.add_typer(audit_app, name="audit")

if __name__ == "__main__":  # pragma: no cover
    app()
