"""New batches of data, and the trigger file that says which of them training has absorbed.

The trigger's bytes are a pure function of the absorbed batches: they change only when the
drift policy fires, so DVC reruns the training chain exactly then (see README, "The drift loop").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from driftline.errors import DriftlineError
from driftline.hashing import sha256_file

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


def incoming_batches(root: Path, incoming: str) -> list[Batch]:
    folder = root / incoming
    if not folder.is_dir():
        return []
    return [Batch(p.relative_to(root).as_posix(), sha256_file(p)) for p in sorted(folder.glob(BATCH_PATTERN))]


class TriggerError(DriftlineError):
    """The trigger file is damaged."""


def read_trigger(root: Path, trigger: str) -> Trigger:
    path = root / trigger
    if not path.is_file():
        return Trigger()
    try:
        return Trigger.from_text(path.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TriggerError(
            f"{trigger} is damaged ({type(exc).__name__}: {exc})",
            hint=f"restore it with `git checkout -- {trigger}` (or delete it to absorb no batches), then rerun",
        ) from None


def next_batch_number(root: Path, incoming: str) -> int:
    numbers = [int(p.stem.split("-")[-1]) for p in (root / incoming).glob(BATCH_PATTERN) if p.stem.split("-")[-1].isdigit()]
    return max(numbers, default=0) + 1


def batch_file(incoming: str, number: int) -> str:
    return f"{incoming}/batch-{number:04d}.parquet"
