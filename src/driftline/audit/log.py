"""Append-only, hash-chained audit log at audit/log.jsonl (committed; never a DVC output).

Each line is one record {seq, time, kind, payload, prev_hash, hash}. `hash` is the SHA-256 of the
canonical JSON of the other five fields, and `prev_hash` is the previous record's hash (64 zeros
for the first), so editing, deleting or reordering any record breaks the chain at that point.
Writers take an exclusive flock and append one whole line with a single write, then fsync:
two processes appending at once never interleave or reuse a sequence number.

Inside a DVC experiment (`dvc exp run`) records go to a journal instead of the chain
(`.dvc/tmp/driftline/experiment-journal.jsonl`, git-ignored by DVC): experiments run side by side
from one commit, and each appending to the chain would fork it. The promote stage carries the
journal in its report; when the experiment is applied, the main workspace's promote adopts those
records into the chain, in order, each marked with the experiment it ran in.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftline.atomic import append_line, file_lock, repair_torn_tail, write_json, write_text
from driftline.clock import now_utc
from driftline.errors import DriftlineError
from driftline.experiment import Experiment, current_experiment
from driftline.hashing import canonical_json as canonical

AUDIT_DIR = "audit"
LOG_FILE = "log.jsonl"
LOCK_FILE = ".lock"
HEAD_FILE = "head.json"  # the newest record's seq and hash: deleting records from the end breaks it
JOURNAL = Path(".dvc") / "tmp" / "driftline" / "experiment-journal.jsonl"
GENESIS = "0" * 64
KINDS = ("stage_run", "drift_decision", "retrain", "registered", "promotion", "refusal", "rollback", "baseline",
         "batch_retired")


REGISTRY_KINDS = {"registered": "registered", "promoted": "promotion", "refused": "refusal", "rollback": "rollback",
                  "baseline": "baseline"}
"""Each registry history event and the audit record kind it becomes."""


class AuditError(DriftlineError):
    """The audit trail cannot be read or appended to; the message names the file."""


def record_hash(record: dict[str, Any]) -> str:
    body = {k: record[k] for k in ("seq", "time", "kind", "payload", "prev_hash")}
    return hashlib.sha256(canonical(body)).hexdigest()


def log_path(root: Path) -> Path:
    return root / AUDIT_DIR / LOG_FILE


def _last_line(path: Path) -> bytes | None:
    """The last complete line of a file, read backwards from the end (the log can grow large)."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        chunk, pos = b"", end
        while pos > 0:
            step = min(65536, pos)
            pos -= step
            fh.seek(pos)
            chunk = fh.read(step) + chunk
            lines = chunk.rstrip(b"\n").split(b"\n")
            if len(lines) > 1 or pos == 0:
                return lines[-1]
    return None


def append(root: Path, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Append one record; returns it (with its seq and hash; in an experiment, the journal entry)."""
    if kind not in KINDS:
        raise AuditError(f"unknown audit record kind '{kind}' (kinds: {', '.join(KINDS)})")
    experiment = current_experiment()
    if experiment is not None:
        return _journal(root, kind, payload, experiment)
    path = log_path(root)
    with file_lock(root / AUDIT_DIR / LOCK_FILE):
        if path.is_file():
            fd = os.open(path, os.O_RDWR)
            try:
                repair_torn_tail(fd)
            finally:
                os.close(fd)
        last = _last_line(path)
        if last:
            try:
                previous = json.loads(last)
                seq, prev_hash = int(previous["seq"]) + 1, previous["hash"]
            except (ValueError, KeyError, TypeError):
                raise AuditError(
                    f"the last record of {AUDIT_DIR}/{LOG_FILE} is damaged, so nothing can be chained to it",
                    hint=f"run `driftline audit verify`, then restore {AUDIT_DIR}/ from git (`git checkout -- {AUDIT_DIR}`)",
                ) from None
        else:
            seq, prev_hash = 1, GENESIS
        record = {
            "seq": seq,
            "time": now_utc("microseconds"),
            "kind": kind,
            "payload": json.loads(canonical(payload)),
            "prev_hash": prev_hash,
        }
        record["hash"] = record_hash(record)
        append_line(path, canonical(record) + b"\n")
        write_json(root / AUDIT_DIR / HEAD_FILE, {"seq": seq, "hash": record["hash"]})
    return record


def _journal(root: Path, kind: str, payload: dict[str, Any], experiment: Experiment) -> dict[str, Any]:
    """Keep a record an experiment made, for the main workspace to adopt if the experiment is applied."""
    entry = {"time": now_utc("microseconds"), "kind": kind, "payload": json.loads(canonical(payload)),
             "experiment": experiment.to_json()}
    path = root / JOURNAL
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path.with_suffix(".lock")):
        append_line(path, canonical(entry) + b"\n")
    return entry


def journal(root: Path, experiment: Experiment, pipeline: str) -> list[dict[str, Any]]:
    """The records this experiment made for `pipeline` so far, oldest first."""
    path = root / JOURNAL
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a torn line from a crashed stage: that stage failed, nothing of it is adopted
        if entry.get("experiment", {}).get("name") == experiment.name and entry.get("payload", {}).get("pipeline") == pipeline:
            entries.append(entry)
    return entries


def adopt(root: Path, entries: list[dict[str, Any]]) -> int:
    """Append an applied experiment's journal entries to the chain, in order; returns how many were new.

    Each record keeps its kind and payload and gains `experiment: {name, baseline_rev, time}` (when it
    ran there). An entry already adopted (same experiment and time) is skipped, so a promote that
    crashed halfway and runs again never adopts twice.
    """
    seen = {(r["payload"]["experiment"].get("name"), r["payload"]["experiment"].get("time"))
            for r in read(root) if isinstance(r.get("payload", {}).get("experiment"), dict)}
    added = 0
    for entry in entries:
        try:
            kind, payload, experiment, time = entry["kind"], dict(entry["payload"]), dict(entry["experiment"]), entry["time"]
        except (KeyError, TypeError, ValueError):
            raise AuditError("an experiment journal entry in the promotion report is damaged",
                             hint="rerun the experiment, or run `dvc repro --force` to retrain in the main workspace") from None
        if (experiment.get("name"), time) in seen:
            continue
        append(root, kind, {**payload, "experiment": {**experiment, "time": time}})
        added += 1
    return added


def forget_journal(root: Path, experiment: Experiment) -> None:
    """Drop an experiment's entries from the journal once its promotion report carries them."""
    path = root / JOURNAL
    if not path.is_file():
        return
    with file_lock(path.with_suffix(".lock")):
        kept = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                if json.loads(line).get("experiment", {}).get("name") != experiment.name:
                    kept.append(line + "\n")
            except (ValueError, AttributeError):
                continue  # a torn line: nothing to keep
        write_text(path, "".join(kept))


def recorder(root: Path) -> Callable[[str, dict[str, Any]], None]:
    """A registry event listener (see `Registry(on_event=...)`) that appends each event to the trail."""

    def record(pipeline: str, event: dict[str, Any]) -> None:
        kind = REGISTRY_KINDS[event["event"]]
        append(root, kind, {"pipeline": pipeline, **{k: v for k, v in event.items() if k != "time"}})

    return record


def read(root: Path) -> list[dict[str, Any]]:
    path = log_path(root)
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AuditError(f"{AUDIT_DIR}/{LOG_FILE}:{number} is not a valid audit record",
                             hint="run `driftline audit verify` to see where the trail is damaged") from None
    return records


@dataclass(frozen=True)
class Verdict:
    ok: bool
    records: int
    line: int | None = None  # 1-based line of the first bad record
    seq: int | None = None
    problem: str = ""


def verify(root: Path) -> Verdict:
    """Walk the chain; report the first record that is not what the chain says it must be."""
    path = log_path(root)
    if not path.is_file():
        return Verdict(True, 0)
    prev_hash, expected_seq = GENESIS, 1
    lines = path.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines = lines[:-1]
    for number, raw in enumerate(lines, start=1):
        try:
            record = json.loads(raw)
            seq = int(record["seq"])
        except (ValueError, KeyError, TypeError):
            return Verdict(False, number - 1, number, None, "not a valid audit record (unreadable JSON or missing fields)")
        if seq != expected_seq:
            return Verdict(False, number - 1, number, seq, f"sequence number {seq}, expected {expected_seq}: a record was deleted, inserted or moved")
        if record.get("prev_hash") != prev_hash:
            return Verdict(False, number - 1, number, seq, "prev_hash does not match the previous record's hash: the chain is broken here")
        try:
            actual = record_hash(record)
        except (KeyError, ValueError, TypeError):
            return Verdict(False, number - 1, number, seq, "a required field is missing")
        if record.get("hash") != actual:
            return Verdict(False, number - 1, number, seq, "the record's content does not match its hash: it was edited")
        prev_hash, expected_seq = record["hash"], seq + 1
    head_path = root / AUDIT_DIR / HEAD_FILE
    if head_path.is_file():
        try:
            head = json.loads(head_path.read_text(encoding="utf-8"))
            if not isinstance(head, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError):
            return Verdict(False, len(lines), len(lines) + 1, None,
                           f"{AUDIT_DIR}/{HEAD_FILE} is damaged (not the JSON object {{seq, hash}}): "
                           "the newest record cannot be checked; restore it from git")
        if head.get("seq") != expected_seq - 1 or head.get("hash") != prev_hash:
            return Verdict(False, len(lines), len(lines) + 1, head.get("seq"),
                           f"{AUDIT_DIR}/{HEAD_FILE} says the newest record is seq {head.get('seq')}, "
                           f"but the log ends at seq {expected_seq - 1}: records were deleted from the end")
    return Verdict(True, len(lines))
