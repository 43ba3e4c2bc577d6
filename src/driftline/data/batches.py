"""New batches of data, and the trigger file that says which of them training has absorbed.

The trigger's bytes are a pure function of the absorbed batches: they change only when the
drift policy fires, so DVC reruns the training chain exactly then (see README, "The drift loop").
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from driftline.errors import DriftlineError
from driftline.hashing import sha256_file
from driftline.paths import PipelinePaths

if TYPE_CHECKING:
    import pandas as pd

BATCH_PATTERN = "batch-*.parquet"
BATCH_NAME = re.compile(r"batch-(\d+)\.parquet")
RETIRED_DIR = "retired"  # beside incoming/ (`PipelinePaths.retired`)


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
    """The batches in `incoming`: files `batch-NNNN.parquet`, or folders of that name holding Parquet files
    (a partitioned batch, as Dask or Spark write one)."""
    folder = root / incoming
    if not folder.is_dir():
        return []
    return [Batch(p.relative_to(root).as_posix(), batch_sha256(p)) for p in sorted(folder.glob(BATCH_PATTERN))]


def batch_sha256(path: Path) -> str:
    """A batch's content hash: the file's SHA-256, or one SHA-256 over a folder batch's files (names and bytes)."""
    from driftline.hashing import fingerprint_files

    return fingerprint_files([path]) if path.is_dir() else sha256_file(path)


def batch_parts(path: Path) -> list[Path]:
    """The Parquet files of a batch: itself, or a folder batch's files (see `data.sources.parquet_folder_files`)."""
    from driftline.data.sources import parquet_folder_files

    return parquet_folder_files(path) if path.is_dir() else [path]


def read_batch_frame(path: Path) -> pd.DataFrame:
    """The rows of one batch, a file or a folder (its files in name order). Raises what pyarrow raises for a damaged file."""
    import pandas as pd

    from driftline.data.sources import read_parquet_files

    if path.is_file():
        frame = pd.read_parquet(path, engine="pyarrow")
    else:
        parts = batch_parts(path)
        if not parts:
            raise BatchError(f"{path.name} is a folder with no Parquet file in it")
        frame = read_parquet_files(parts, path.name)
    return naive_utc(frame)


def naive_utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Times with a time zone in UTC, the zone dropped: the form every driftline time takes (as `schema.cast` does)."""
    import pandas as pd

    zoned = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    if not zoned:
        return frame
    return frame.assign(**{c: frame[c].dt.tz_convert("UTC").dt.tz_localize(None) for c in zoned})


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
    """One more than any batch number used in `incoming` or its sibling `retired/`, whether the
    data is in the workspace or only its `.dvc` file is: a batch's name is never reused."""
    numbers = [int(match.group(1)) for folder in (root / incoming, (root / incoming).parent / RETIRED_DIR)
               if folder.is_dir() for p in folder.iterdir()
               if (match := BATCH_NAME.fullmatch(p.name.removesuffix(".dvc")))]
    return max(numbers, default=0) + 1


def batch_file(incoming: str, number: int) -> str:
    return f"{incoming}/batch-{number:04d}.parquet"


# ----------------------------------------------------------------------------------- the write path


TRACKING_FILES = (".gitignore",)  # what DVC writes beside tracked files in incoming/


class BatchError(DriftlineError):
    """A batch cannot be added, found or retired; the message names the file."""


def add_batches(root: Path, incoming: str, frames: Sequence[pd.DataFrame]) -> list[Batch]:
    """Write each frame as the next `batch-NNNN.parquet` in `incoming`, atomically, and track them
    with DVC (`dvc add`: a `.dvc` file to commit, the data git-ignored, carried by `dvc push`/`pull`).

    The one write path for batches (`driftline batch add`, `driftline simulate`). All or nothing:
    if tracking fails, the files written are removed again. Without a DVC repository (no `.dvc/`)
    the files are written untracked."""
    from contextlib import nullcontext

    from driftline.atomic import file_lock, write_parquet

    tracked = (root / ".dvc").is_dir()
    # Two writers never pick the same number (DVC git-ignores its tmp/ folder, so the lock leaves no trace).
    with file_lock(root / ".dvc" / "tmp" / "driftline-batches.lock") if tracked else nullcontext():
        first = next_batch_number(root, incoming)
        written: list[Path] = []
        try:
            for offset, frame in enumerate(frames):
                path = root / batch_file(incoming, first + offset)
                if path.exists():
                    raise BatchError(f"{path.relative_to(root).as_posix()} already exists; batches are never overwritten")
                write_parquet(path, frame.reset_index(drop=True))
                written.append(path)
            if written and tracked:
                dvc(root, "add", "--quiet", *(p.relative_to(root).as_posix() for p in written))
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
                Path(f"{path}.dvc").unlink(missing_ok=True)
            raise
    return [Batch(p.relative_to(root).as_posix(), sha256_file(p)) for p in written]


def dvc(root: Path, *args: str) -> None:
    """Run a `dvc` command in the project (the CLI, as DVC's Python API is not a stable one)."""
    import subprocess
    import sys

    # --wait-for-lock: a `dvc repro` running (`driftline watch`, say) holds DVC's lock for a while
    proc = subprocess.run([sys.executable, "-m", "dvc", "--wait-for-lock", *args], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        said = " ".join((proc.stderr or proc.stdout).split())[:400]
        raise BatchError(f"`dvc {' '.join(args)}` failed: {said}", hint="fix what DVC reports (`dvc doctor` helps), then rerun")


def stray_files(root: Path, incoming: str) -> list[str]:
    """Files in `incoming` that are not batches (a CSV dropped there by hand, say): the monitor
    never reads them, and says to add them with `driftline batch add`."""
    folder = root / incoming
    if not folder.is_dir():
        return []
    stray = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if name in TRACKING_FILES or (name.startswith(".") and name.endswith(".tmp")):
            continue
        if (path.is_file() or path.is_dir()) and (BATCH_NAME.fullmatch(name) or (name.endswith(".dvc") and BATCH_NAME.fullmatch(name[:-4]))):
            continue
        stray.append(path.relative_to(root).as_posix())
    return stray


# ----------------------------------------------------------------------------------- status and retiring


@dataclass(frozen=True)
class BatchStatus:
    file: str
    status: str
    rows: int | None  # None when the file is not in the workspace (`dvc pull` brings it)
    reason: str = ""  # why it was rejected

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "status": self.status, "rows": self.rows, "reason": self.reason}


def read_monitor_lists(root: Path, state: str) -> dict[str, list[dict[str, Any]]]:
    """The monitor state's `seen` and `rejected` lists ({file, sha256[, reason]} each); empty when absent."""
    path = root / state
    if not path.is_file():
        return {"seen": [], "rejected": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BatchError(f"{state} is damaged ({exc})", hint=f"restore it with `git checkout -- {state}`") from None
    return {key: [b for b in data.get(key, []) if isinstance(b, dict) and "file" in b] for key in ("seen", "rejected")}


def batch_statuses(root: Path, paths: PipelinePaths) -> list[BatchStatus]:
    """Every batch in incoming/ and retired/, with what the loop did with it."""
    absorbed = {(b.file, b.sha256) for b in read_trigger(root, paths.trigger).absorbed}
    lists = read_monitor_lists(root, paths.monitor_state)
    seen = {(b["file"], b.get("sha256")) for b in lists["seen"]}
    rejected = {(b["file"], b.get("sha256")): str(b.get("reason", "")) for b in lists["rejected"]}
    out = []
    for folder in (paths.incoming, paths.retired):
        names = {p.name.removesuffix(".dvc") for p in (root / folder).glob("batch-*.parquet*")} if (root / folder).is_dir() else set()
        for name in sorted(n for n in names if BATCH_NAME.fullmatch(n)):
            rel = f"{folder}/{name}"
            path = root / rel
            key = (rel, batch_sha256(path)) if path.exists() else (rel, None)
            if folder == paths.retired:
                status = "retired"
            elif key in absorbed:
                status = "absorbed"
            elif key in rejected:
                status = "rejected"
            elif key in seen:
                status = "seen"
            else:
                status = "pending"
            out.append(BatchStatus(rel, status, _rows(path), rejected.get(key, "")))
    return out


def _rows(path: Path) -> int | None:
    import pyarrow.parquet as pq

    if not path.exists():
        return None
    try:
        return sum(int(pq.ParquetFile(part).metadata.num_rows) for part in batch_parts(path))
    except Exception:  # noqa: BLE001 - pyarrow raises several unrelated types for a damaged file
        return None


def find_batch(root: Path, paths: PipelinePaths, name: str) -> str:
    """The project-relative path of the incoming batch `name` (`batch-0003`, `batch-0003.parquet`,
    its path, or its number)."""
    base = PurePosixPath(name.replace("\\", "/")).name
    if base.isdigit():
        base = f"batch-{int(base):04d}"
    if not base.endswith(".parquet"):
        base += ".parquet"
    rel = f"{paths.incoming}/{base}"
    if not BATCH_NAME.fullmatch(base) or not ((root / rel).exists() or (root / f"{rel}.dvc").is_file()):
        known = [s.file.rsplit("/", 1)[-1] for s in batch_statuses(root, paths) if s.status != "retired"]
        if (root / paths.retired / base).exists() or (root / paths.retired / f"{base}.dvc").exists():
            raise BatchError(f"{name!r} is already retired: {paths.retired}/{base}", hint=f"see `driftline batch list {paths.pipeline}`")
        raise BatchError(f"{name!r} is not a batch in {paths.incoming}/" + (f" (batches: {', '.join(known)})" if known else ""),
                         hint=f"list them with `driftline batch list {paths.pipeline}`")
    return rel


@dataclass(frozen=True)
class Retired:
    batch: Batch  # where it was, and its hash
    to: str  # where it is now
    was_absorbed: bool  # whether training had absorbed it (the next `dvc repro` retrains without it)


def retire_batch(root: Path, paths: PipelinePaths, name: str) -> Retired:
    """Take an incoming batch out of the loop: move it (and its `.dvc` file, with `dvc move`) into
    `retired/`, and drop it from the trigger's absorbed list and the monitor's seen/rejected lists,
    so neither the monitor nor ingest reads it again."""
    from driftline.atomic import write_json, write_text

    rel = find_batch(root, paths, name)
    path = root / rel
    if not path.exists():
        raise BatchError(f"{rel} is tracked but not in the workspace", hint=f"bring it back with `dvc pull {rel}.dvc`, then retire it")
    batch = Batch(rel, batch_sha256(path))
    target = f"{paths.retired}/{path.name}"
    if (root / target).exists():
        raise BatchError(f"{target} already exists", hint="move it aside first: a retired batch is never overwritten")
    (root / paths.retired).mkdir(parents=True, exist_ok=True)
    if (root / f"{rel}.dvc").is_file() and (root / ".dvc").is_dir():
        dvc(root, "move", rel, target)
    else:
        os.replace(path, root / target)

    trigger = read_trigger(root, paths.trigger)
    kept = [b for b in trigger.absorbed if b.file != rel]
    was_absorbed = len(kept) != len(trigger.absorbed)
    if was_absorbed:
        trigger.absorbed = kept
        write_text(root / paths.trigger, trigger.to_text())
    state_path = root / paths.monitor_state
    if state_path.is_file():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        changed = False
        for key in ("seen", "rejected"):
            entries = state.get(key)
            if isinstance(entries, list):
                left = [b for b in entries if not (isinstance(b, dict) and b.get("file") == rel)]
                changed |= len(left) != len(entries)
                state[key] = left
        if changed:
            write_json(state_path, state)
    return Retired(batch, target, was_absorbed)
