"""New batches of data, and the trigger file that says which of them training has absorbed.

The trigger's bytes are a pure function of the absorbed batches: they change only when the
drift policy fires, so DVC reruns the training chain exactly then (see README, "The drift loop").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

BATCH_PATTERN = "batch-*.parquet"


@dataclass(frozen=True, order=True)
class Batch:
    file: str  # project-relative POSIX path
    sha256: str

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "sha256": self.sha256}


@dataclass
class Trigger:
    absorbed: list[Batch] = field(default_factory=list)
    retrains: int = 0

    def to_text(self) -> str:
        data = {"absorbed": [b.to_json() for b in sorted(self.absorbed)], "retrains": self.retrains}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_text(cls, text: str) -> Trigger:
        data = json.loads(text)
        return cls([Batch(b["file"], b["sha256"]) for b in data.get("absorbed", [])], int(data.get("retrains", 0)))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def incoming_batches(root: Path, incoming: str) -> list[Batch]:
    folder = root / incoming
    if not folder.is_dir():
        return []
    return [Batch(p.relative_to(root).as_posix(), sha256_of(p)) for p in sorted(folder.glob(BATCH_PATTERN))]


def read_trigger(root: Path, trigger: str) -> Trigger:
    path = root / trigger
    return Trigger.from_text(path.read_text(encoding="utf-8")) if path.is_file() else Trigger()


def next_batch_number(root: Path, incoming: str) -> int:
    numbers = [int(p.stem.split("-")[-1]) for p in (root / incoming).glob(BATCH_PATTERN) if p.stem.split("-")[-1].isdigit()]
    return max(numbers, default=0) + 1


def batch_file(incoming: str, number: int) -> str:
    return f"{incoming}/batch-{number:04d}.parquet"
