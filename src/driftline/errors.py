"""One error base for everything driftline refuses to do, and what the user should do next.

Every expected failure (bad config, bad or damaged data, a damaged audit head or prediction log,
a missing champion, an unreadable profile) is a `DriftlineError`. It carries the process exit code
and, where there is one, a "what to do next" line. The CLI has one handler that prints
`<command>: <message>` (and the hint) on stderr and exits with `exit_code`: no traceback. Anything
that is not a `DriftlineError` is a bug in driftline and keeps its traceback.
"""

from __future__ import annotations

EXIT_FAILED = 1
"""A command or stage could not finish (bad data, damaged state, a refused action)."""
EXIT_BAD_CONFIG = 2
"""The config (conf/, pipelines/, params.yaml, a command-line override) is wrong."""


class DriftlineError(Exception):
    """Base of every expected failure. Subclasses set `exit_code`; `hint` says what to do next."""

    exit_code: int = EXIT_FAILED
    hint: str = ""

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def lines(self) -> list[str]:
        """The message as the user sees it: the message's lines, then the hint (if any)."""
        text = str(self) or type(self).__name__
        out = text.splitlines() or [text]
        if self.hint and self.hint not in text:
            out.append(self.hint)
        return out


class UserConfigError(DriftlineError):
    """The config is wrong; exit code 2, as for `driftline compile`."""

    exit_code = EXIT_BAD_CONFIG
