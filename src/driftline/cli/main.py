"""The `driftline` command. Thin: parse, call the library, map errors to messages and exit codes.

Exit codes: 0 ok; 1 a stage failed or `compile --check` found stale files; 2 the config is wrong.
Heavy modules are imported inside commands so `driftline --help` starts instantly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from driftline.cli.handler import command_group

app = command_group(
    name="driftline",
    help="Declare an ML pipeline in YAML, compile it to DVC stages, and keep the model alive after launch.\n\n"
    "Typical loop: edit conf/ or pipelines/, run `driftline compile`, then `dvc repro`.",
)

EXIT_STALE = 1


def _err(message: str) -> None:
    typer.echo(message, err=True)


@app.command()
def compile(
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 listing each changed key (formatting alone passes).")] = False,
    project: Annotated[Path, typer.Option(help="Project root (holds conf/ and pipelines/).")] = Path("."),
) -> None:
    """Render **dvc.yaml** and **params.yaml** from conf/ and pipelines/.

    Every problem in the config is reported at once (pipeline, key path, YAML file), exit code 2,
    and nothing is written.
    """
    from driftline.cli.pipelines import project_folder
    from driftline.compile.writer import render_project, staleness, write_project

    root = project_folder(project)
    result = render_project(root)
    if check:
        found = staleness(root, result)
        if found.changed:
            typer.echo(found.diff, nl=False)
            _err(f"driftline compile --check: {', '.join(found.changed)} stale (on disk -> as compiled); "
                 "run `driftline compile` and commit them (to keep a value set by `dvc exp`, put it in conf/ or pipelines/ first).")
            raise typer.Exit(EXIT_STALE)
        note = (f" ({', '.join(found.reformatted)} formatted differently; `driftline compile` rewrites it)"
                if found.reformatted else "")
        typer.echo(f"up to date{note}: {len(result.pipelines)} pipeline(s), {result.stages} stages")
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

    from driftline.cli.handler import report
    from driftline.errors import DriftlineError
    from driftline.stages.context import run_stage

    started = time.perf_counter()
    try:
        summary = run_stage(step, pipeline)
    except DriftlineError as exc:  # name the stage, as `dvc repro` shows only this output
        report(f"driftline run {step} {pipeline}", exc)
        raise typer.Exit(exc.exit_code) from None
    typer.echo(f"{pipeline}-{step}: {summary} ({time.perf_counter() - started:.1f}s)")


from driftline.cli.registry import app as registry_app  # noqa: E402  (light: typer only; commands import lazily)

app.add_typer(registry_app, name="registry")


from driftline.cli.simulate import simulate  # noqa: E402  (typer only; heavy imports are inside)
from driftline.cli.watch import watch  # noqa: E402

app.command()(simulate)
app.command()(watch)

from driftline.cli.labels import app as labels_app  # noqa: E402
from driftline.cli.serve import serve  # noqa: E402  (typer only; FastAPI, uvicorn and LightGBM load inside)

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

from driftline.cli.batch import app as batch_app  # noqa: E402  (typer only)

app.add_typer(batch_app, name="batch")


def main() -> None:
    """The `driftline` command (its console script): process-wide settings first, then the CLI.

    `driftline run monitor ...` (what dvc.yaml runs) sorts every new column, so on AMD Zen 4 it
    has numpy use its AVX2 sort, before numpy loads (driftline.cpu). Only the process the command
    owns is changed: calling `app` in-process (tests, a Python session) changes no environment.
    """
    import sys

    from driftline.cpu import prefer_fast_sort

    if sys.argv[1:3] == ["run", "monitor"]:
        prefer_fast_sort()
    app(prog_name="driftline")


if __name__ == "__main__":  # pragma: no cover
    main()
