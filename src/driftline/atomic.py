"""Atomic file writes: every output goes to a temporary file in the same folder, then is renamed.

A crash or a failed check never leaves a half-written file where a finished one is expected.
`file_lock` serialises writers of one file across processes (the audit trail, the registry,
the prediction log).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftline.faults import label, reached

if TYPE_CHECKING:
    import pandas as pd


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


def repair_torn_tail(fd: int) -> None:
    """Keep an append-only JSON-lines file one record a line after a crash tore its last write.

    The caller holds the file's lock and opened `fd` for reading and writing. An unterminated last
    line that is not valid JSON is a record whose write never completed (its writer never got an
    answer), so it is cut off, as a database discards a torn log tail. An unterminated line that
    parses (say, edited by hand) is kept and terminated. The common case costs one 1-byte read.
    """
    size = os.fstat(fd).st_size
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return
    data = os.pread(fd, size, 0)
    start = data.rfind(b"\n") + 1
    try:
        json.loads(data[start:])
    except ValueError:
        os.ftruncate(fd, start)
    else:
        os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, b"\n")
    os.fsync(fd)


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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
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


def write_parquet(path: str | os.PathLike[str], df: pd.DataFrame) -> None:
    """Write a DataFrame as Parquet; same frame gives the same bytes (no wall-clock metadata)."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")


def write_csv(path: str | os.PathLike[str], df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")


def write_with(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
    """Call `writer(tmp_path)` and move the result into place only if it returns normally."""
    with atomic_path(path) as tmp:
        writer(tmp)
