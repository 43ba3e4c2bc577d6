"""Content fingerprints, written once: canonical JSON, file and folder digests, the config sources.

Every SHA-256 driftline records (audit chain, registry versions, drift reports, batches, the
compile fingerprint) comes from here, so two equal things always get the same hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from driftline.errors import DriftlineError

_CHUNK = 1 << 20


class FingerprintError(DriftlineError):
    """Something cannot be fingerprinted: a missing file, or data that is not plain JSON."""


def json_default(value: Any) -> Any:
    # YAML safe-load yields dates for values like 2024-01-01 (time-split cutoffs, for one).
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: equal data, equal bytes."""
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=json_default)
    except (TypeError, ValueError) as exc:
        raise FingerprintError(f"cannot fingerprint {type(obj).__name__}: {exc}; pass plain data (dicts, lists, str, numbers)") from exc
    return text.encode("utf-8")


def sha256_json(obj: Any) -> str:
    """Hex SHA-256 of an object's canonical JSON."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _walk_files(path: Path) -> Iterator[tuple[str, Path]]:
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            yield f"{path.name}/{child.relative_to(path).as_posix()}", child
    elif path.is_file():
        yield path.name, path
    else:
        raise FingerprintError(f"cannot fingerprint {path}: no such file or folder")


def fingerprint_files(paths: Iterable[str | os.PathLike[str]]) -> str:
    """One SHA-256 for a set of data files (folders are walked).

    Built from each file's name and content hash, sorted, so it does not depend on where the
    project lives or on the order the paths are given; renaming or editing a file changes it.
    """
    entries = sorted(entry for p in paths for entry in ((name, sha256_file(f)) for name, f in _walk_files(Path(p))))
    return sha256_json(entries)


def fingerprint_tree(root: Path, folders: Iterable[str], patterns: Iterable[str]) -> str:
    """SHA-256 over the files matching `patterns` under `folders` of `root`: paths and bytes (CRLF as LF)."""
    digest = hashlib.sha256()
    patterns = tuple(patterns)
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        for file in [f for pattern in patterns for f in sorted(base.rglob(pattern))]:
            digest.update(file.relative_to(root).as_posix().encode())
            digest.update(b"\0")
            digest.update(file.read_bytes().replace(b"\r\n", b"\n"))
            digest.update(b"\0")
    return digest.hexdigest()
