"""Atomic file writes: every output goes to a temporary file in the same folder, then is renamed.

A crash or a failed check never leaves a half-written file where a finished one is expected.
`file_lock` serialises writers of one file across processes (the audit trail, the registry,
the prediction log).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftline.faults import label, reached

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


@contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive flock(2) on `path` (created if missing; a lock target, not data).

    A waiting process is woken by the kernel the moment the holder lets go, with no polling."""
    import fcntl

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def repair_torn_tail(fd: int) -> bytes:
    """Keep an append-only JSON-lines file one record a line after a crash tore its last write.

    The caller holds the file's lock and opened `fd` for reading and writing. An unterminated last
    line that is not valid JSON is a record whose write never completed (its writer never got an
    answer), so it is cut off, as a database discards a torn log tail. An unterminated line that
    parses (say, edited by hand) is kept and terminated. The common case costs one 1-byte read.
    Returns the bytes cut off (empty when nothing was), so the caller can record the repair.
    """
    size = os.fstat(fd).st_size
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return b""
    data = os.pread(fd, size, 0)
    start = data.rfind(b"\n") + 1
    cut = b""
    try:
        json.loads(data[start:])
    except ValueError:
        os.ftruncate(fd, start)
        cut = data[start:]
    else:
        os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, b"\n")
    os.fsync(fd)
    return cut


def torn_tail(path: str | os.PathLike[str]) -> bytes:
    """Cut a torn last line off a JSON-lines file now (`repair_torn_tail`); the bytes cut. Caller holds its lock."""
    if not os.path.isfile(path):
        return b""
    fd = os.open(path, os.O_RDWR)
    try:
        return repair_torn_tail(fd)
    finally:
        os.close(fd)


TEMP_SUFFIX = ".tmp"


def temp_prefix(name: str, sep: str = ".") -> str:
    """The start of a temporary name for `name` that carries this process's id: `.<name>.pid<pid>.`.

    `sweep_leftovers` uses the id to tell a temporary file of a live writer from one a crash left.
    """
    return f".{name}{sep}pid{os.getpid()}{sep}"


def temp_files_of(target: str | os.PathLike[str]) -> list[Path]:
    """The temporary files atomic writes of `target` left beside it (`.<name>.*.tmp`), the finished file never."""
    from glob import escape

    path = Path(target)
    return [p for p in path.parent.glob(f".{escape(path.name)}.*{TEMP_SUFFIX}") if p.is_file()]


_OWNER = re.compile(r"[.-]pid(\d{1,9})[.-]")


def _owner_alive(entry: str) -> bool:
    """Whether the process named in a temporary name (`temp_prefix`) may still be running."""
    match = _OWNER.search(entry)
    if match is None:
        return True  # no id in the name: only a lock holder may remove it
    pid = int(match.group(1))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_leftovers(folder: str | os.PathLike[str], prefixes: tuple[str, ...] = (), *, lock_held: bool = False) -> list[str]:
    """Remove what killed writers left in `folder`: `.*.tmp` files of atomic writes, and folders whose
    name starts with one of `prefixes` (say `.promote-`). Returns the names removed.

    With `lock_held` (the caller holds the lock every writer of `folder` takes) everything matching
    goes; otherwise only entries whose name carries the id of a process that no longer runs.
    """
    import shutil

    base = Path(folder)
    if not base.is_dir():
        return []
    removed = []
    for entry in base.iterdir():
        name = entry.name
        is_temp_file = name.startswith(".") and name.endswith(TEMP_SUFFIX) and not entry.is_dir()
        is_temp_dir = any(name.startswith(p) for p in prefixes) and entry.is_dir() and not entry.is_symlink()
        if not (is_temp_file or is_temp_dir) or (not lock_held and _owner_alive(name)):
            continue
        try:
            if is_temp_dir:
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:
            continue
        removed.append(name)
    return sorted(removed)


def append_line(path: str | os.PathLike[str], line: bytes) -> int:
    """Append one whole line to a JSON-lines file, durably; the bytes written (short on a full disk).

    The caller holds the file's lock. A torn tail is repaired first (`repair_torn_tail`), then the
    line goes out in one write on an O_APPEND descriptor, then fsync. Kill points (faults.py):
    `append:<file>:before|during|after`; `during` dies with half the line written.
    """
    name = label(path)
    reached(f"append:{name}:before")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        repair_torn_tail(fd)
        reached(f"append:{name}:during", before_kill=lambda: os.write(fd, line[: len(line) // 2]))
        written = os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    reached(f"append:{name}:after")
    return written


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    Kill points (faults.py): `write:<file>:before`, `:during` (the temporary file is complete) and `:after`.
    """
    target = Path(path)
    name = label(target)
    reached(f"write:{name}:before")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(target.name), suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are meant to be read by others (a server)
    try:
        yield tmp
        reached(f"write:{name}:during")
        os.replace(tmp, target)
        reached(f"write:{name}:after")
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def write_text(path: str | os.PathLike[str], text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_parquet(path: str | os.PathLike[str], df: pd.DataFrame | pa.Table) -> None:
    """Write a DataFrame as Parquet; same frame gives the same bytes (no wall-clock metadata).

    A pyarrow Table (a stage that only moves rows, without pandas) is written with the same
    options: a table read from such a file and filtered gives the bytes pandas would have written.
    """
    with atomic_path(path) as tmp:
        if hasattr(df, "to_parquet"):
            df.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")
        else:
            import pyarrow.parquet as pq

            pq.write_table(df, tmp, compression="zstd")


def write_csv(path: str | os.PathLike[str], df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")


def write_with(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
    """Call `writer(tmp_path)` and move the result into place only if it returns normally."""
    with atomic_path(path) as tmp:
        writer(tmp)
