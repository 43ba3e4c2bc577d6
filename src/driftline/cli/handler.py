"""The CLI's one error handler: an expected failure is a message and an exit code, never a traceback.

Every command group is built with `DriftlineGroup`. A `DriftlineError` raised anywhere below a
command is printed on stderr as `driftline <command>: <message>` (then its "what to do next" line)
and the process exits with the error's `exit_code`. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import Any

import click
import typer
from typer.core import TyperGroup

from driftline.errors import DriftlineError


def report(command: str, exc: DriftlineError) -> None:
    """Print an expected failure the one way: `<command>: <first line>`, the rest indented below."""
    first, *rest = exc.lines()
    typer.echo(f"{command}: {first}", err=True)
    for line in rest:
        typer.echo(line if line.startswith(" ") else f"  {line}", err=True)


class DriftlineGroup(TyperGroup):
    """A typer command group whose subcommands' `DriftlineError`s become a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DriftlineError as exc:
            command = " ".join(part for part in (ctx.command_path, ctx.invoked_subcommand) if part)
            report(command, exc)
            raise typer.Exit(exc.exit_code) from None


def command_group(**kwargs: Any) -> typer.Typer:
    """A `typer.Typer` with driftline's defaults and its error handler."""
    defaults: dict[str, Any] = {"no_args_is_help": True, "add_completion": False, "rich_markup_mode": "markdown",
                                "pretty_exceptions_enable": False, "cls": DriftlineGroup}
    return typer.Typer(**{**defaults, **kwargs})
