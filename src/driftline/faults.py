"""Kill points: named places where a crash test makes the process die with SIGKILL, as a real crash would.

Every durable write passes named points (`atomic.py` gives each file three for free):

- `write:<file>:before`, `write:<file>:during` (the temporary file is complete, not yet renamed),
  `write:<file>:after` (renamed into place);
- `append:<file>:before`, `append:<file>:during` (half the line is written: a torn tail),
  `append:<file>:after`;

and code with a multi-step commit (promote, rollback, export) names the steps between its writes with
`reached("promote:version-written")` and the like. `<file>` is the path relative to the working
directory (the project root for stages and the CLI).

Two environment variables, both unset in normal runs (a point then costs one dict lookup):

- `DRIFTLINE_KILL_AT=<pattern>[@<n>]`: SIGKILL this process the `n`-th time (default the first) it
  reaches a point matching the shell-style pattern. Nothing is flushed or cleaned up, exactly as
  with `kill -9` or a power cut.
- `DRIFTLINE_KILL_TRACE=<file>`: append the name of every point reached, one a line, so a test can
  list the kill points a command passes through and then kill it at each one.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path

KILL_AT = "DRIFTLINE_KILL_AT"
KILL_TRACE = "DRIFTLINE_KILL_TRACE"

_seen: dict[str, int] = {}


def label(path: str | os.PathLike[str]) -> str:
    """A file's name in a kill point: relative to the working directory when inside it."""
    text = os.fspath(path)
    try:
        rel = os.path.relpath(text)
    except ValueError:
        return Path(text).name
    return Path(text).name if rel.startswith("..") else rel


def reached(point: str, before_kill: Callable[[], object] | None = None) -> None:
    """Mark a kill point; die here if `DRIFTLINE_KILL_AT` names it (after `before_kill`, say a torn write)."""
    trace = os.environ.get(KILL_TRACE)
    if trace:
        with open(trace, "a", encoding="utf-8") as fh:
            fh.write(point + "\n")
    spec = os.environ.get(KILL_AT)
    if not spec:
        return
    pattern, _, nth = spec.rpartition("@") if "@" in spec else (spec, "", "1")
    if not fnmatchcase(point, pattern):
        return
    _seen[pattern] = _seen.get(pattern, 0) + 1
    if _seen[pattern] == int(nth or 1):
        if before_kill is not None:
            before_kill()
        os.kill(os.getpid(), signal.SIGKILL)
