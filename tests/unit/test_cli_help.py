"""Every `--help` page shows the placeholders its text was written with.

The CLI renders help as markdown (rich_markup_mode="markdown"), where a bare `<p>` is an HTML tag
and vanishes: `data/<p>/features/` printed as `data//features/`. A placeholder survives inside
backticks.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from driftline.cli.main import app

PLACEHOLDER = re.compile(r"<[A-Za-z_][\w.-]*>")
EMPTY_SEGMENT = re.compile(r"(?<![:/])//")  # `a//b`, not the `//` of a URL


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def _source_text(command: Any) -> str:
    """The help as written in the code: the command's docstring and every parameter's help."""
    return "\n".join([command.help or "", *(getattr(p, "help", None) or "" for p in command.params)])


def test_every_command_is_checked() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"", "sweep", "init", "serve", "registry promote", "batch add", "labels import"} <= names


def test_the_placeholder_texts_are_really_checked() -> None:
    """The commands that once lost their placeholders still have some to check."""
    written = {" ".join(path): set(PLACEHOLDER.findall(_source_text(command))) for path, command in COMMANDS}
    assert {"<p>", "<date>", "<time>", "<n>"} <= written["sweep"]
    assert "<name>" in written["init"]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(path) or "driftline" for path, _ in COMMANDS])
def test_help_keeps_placeholders(path: tuple[str, ...], command: Any) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert not EMPTY_SEGMENT.findall(result.output), f"an empty path segment (a placeholder eaten?):\n{result.output}"
    missing = sorted(set(PLACEHOLDER.findall(_source_text(command))) - set(PLACEHOLDER.findall(result.output)))
    assert not missing, f"placeholders written in the help but not shown: {missing}\n{result.output}"
