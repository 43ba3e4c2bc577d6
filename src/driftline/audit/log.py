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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftline.atomic import append_line, file_lock, sweep_leftovers, torn_tail, write_json, write_text
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
         "batch_retired", "repair")
CUT_SHOWN = 200  # bytes of a cut torn line kept in the repair record, so a reader sees what was lost


REGISTRY_KINDS = {"registered": "registered", "promoted": "promotion", "refused": "refusal", "rollback": "rollback",
                  "baseline": "baseline", "repaired": "repair"}
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
    """Append one record; returns it (with its seq and hash; in an experiment, the journal entry).

    Under the lock, first what a killed writer left is cleaned: temporary files in audit/, and a torn
    last line (half a record: the crash came before its writer got an answer), which is cut and
    recorded in a `repair` record saying what was cut.
    """
    if kind not in KINDS:
        raise AuditError(f"unknown audit record kind '{kind}' (kinds: {', '.join(KINDS)})")
    experiment = current_experiment()
    if experiment is not None:
        return _journal(root, kind, payload, experiment)
    with file_lock(root / AUDIT_DIR / LOCK_FILE):
        _heal(root)
        return _append_locked(root, kind, payload)


def heal(root: Path) -> list[str]:
    """Under the trail's lock, clean up after a killed writer (see `_heal`); what was repaired."""
    if current_experiment() is not None or not (root / AUDIT_DIR).is_dir():
        return []
    with file_lock(root / AUDIT_DIR / LOCK_FILE):
        return _heal(root)


def _heal(root: Path) -> list[str]:
    """Clean up after a killed writer: temp files, and a torn tail (cut, then recorded). Caller holds the lock."""
    sweep_leftovers(root / AUDIT_DIR, lock_held=True)
    cut = torn_tail(log_path(root))
    if not cut:
        return []
    what = f"cut a torn last line ({len(cut)} bytes) off {AUDIT_DIR}/{LOG_FILE}: a write a crash interrupted"
    _append_locked(root, "repair", {"file": f"{AUDIT_DIR}/{LOG_FILE}", "cut_bytes": len(cut),
                                    "cut": cut[:CUT_SHOWN].decode("utf-8", "replace"), "reason": what})
    return [what]


def _append_locked(root: Path, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Chain one record to the last one and move head.json to it. Caller holds the lock, tail repaired."""
    path = log_path(root)
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


class Recorder:
    """A registry event listener (see `Registry(on_event=...)`) that appends each event to the trail.

    `delivered(pipeline)` says how many of the pipeline's registry events the trail holds: each event
    becomes exactly one record, in order, so the registry re-sends the events after that count when a
    crash came between its history line and the audit record.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, pipeline: str, event: dict[str, Any]) -> None:
        kind = REGISTRY_KINDS[event["event"]]
        append(self.root, kind, {"pipeline": pipeline, **{k: v for k, v in event.items() if k != "time"}})

    def delivered(self, pipeline: str) -> int:
        heal(self.root)  # the registry is recovering: so does the trail, before it is counted
        kinds = set(REGISTRY_KINDS.values())
        return sum(1 for r in read(self.root) if r.get("kind") in kinds and isinstance(r.get("payload"), dict)
                   and r["payload"].get("pipeline") == pipeline and "experiment" not in r["payload"])


def recorder(root: Path) -> Recorder:
    """The registry event listener that records each event in the project's audit trail."""
    return Recorder(root)


def read(root: Path) -> list[dict[str, Any]]:
    path = log_path(root)
    if not path.is_file():
        return []
    records = []
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            if number == len(lines) and not text.endswith("\n"):
                continue  # a torn tail from a crashed append: cut (and recorded) by the next append
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
    notes: tuple[str, ...] = ()  # what is not tampering but worth saying: a torn tail, a lagging head, repairs
    hint: str = ""


REPAIR_COMMAND = "driftline audit verify --repair"


def verify(root: Path, check_head: bool = True) -> Verdict:
    """Walk the chain; report the first record that is not what the chain says it must be.

    A torn last line (a crash mid-append) and a head.json one or more records behind (a crash between
    the record and head.json) are what crashes leave, not tampering: the chain is intact, and the
    verdict says so in `notes`. A head.json ahead of the log, or not matching it, means records were
    cut from the end: BROKEN.
    """
    path = log_path(root)
    if not path.is_file():
        return Verdict(True, 0)
    prev_hash, expected_seq = GENESIS, 1
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines = lines[:-1]
    notes: list[str] = []
    hashes: dict[int, str] = {}
    for number, raw in enumerate(lines, start=1):
        try:
            record = json.loads(raw)
            seq = int(record["seq"])
        except (ValueError, KeyError, TypeError):
            if number == len(lines) and not data.endswith(b"\n"):
                notes.append(f"line {number} is a torn write ({len(raw)} bytes, a crash mid-append), not a record; "
                             f"the next append cuts it and records the cut, or run `{REPAIR_COMMAND}`")
                lines = lines[:-1]
                break
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
        if record.get("kind") == "repair":
            payload = record.get("payload") or {}
            notes.append(f"seq {seq} records a repair: {payload.get('reason') or payload.get('repaired') or 'see the record'}")
        hashes[seq] = record["hash"]
        prev_hash, expected_seq = record["hash"], seq + 1
    last = expected_seq - 1
    if check_head:
        head_path = root / AUDIT_DIR / HEAD_FILE
        head_verdict = _check_head(head_path, last, hashes, len(lines))
        if isinstance(head_verdict, Verdict):
            return head_verdict
        notes.extend(head_verdict)
    return Verdict(True, len(lines), notes=tuple(notes))


def _check_head(head_path: Path, last: int, hashes: dict[int, str], count: int) -> Verdict | list[str]:
    """head.json against the chain: a BROKEN verdict, or notes (a head that lags is a crash, not a cut)."""
    if not head_path.is_file():
        return []
    try:
        head = json.loads(head_path.read_text(encoding="utf-8"))
        if not isinstance(head, dict):
            raise ValueError("not a JSON object")
        seq = head.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(head.get("hash"), str):
            raise ValueError("no integer seq and string hash")
    except (ValueError, UnicodeDecodeError) as exc:
        return Verdict(False, count, count + 1, None,
                       f"{AUDIT_DIR}/{HEAD_FILE} is damaged ({exc}; it must be the JSON object {{seq, hash}}): "
                       f"the newest record cannot be checked; run `{REPAIR_COMMAND}` to rebuild it from the log "
                       "if you trust the log's end, or restore it from git",
                       hint=f"run `{REPAIR_COMMAND}`")
    if seq == last and head["hash"] == hashes.get(last, GENESIS if last == 0 else None):
        return []
    if 0 < seq < last and head["hash"] == hashes.get(seq):
        return [f"{AUDIT_DIR}/{HEAD_FILE} lags {last - seq} record(s) behind the log (seq {seq} of {last}): a crash between "
                f"writing a record and {HEAD_FILE}; the chain is intact, and the next append or `{REPAIR_COMMAND}` "
                "brings it up to date"]
    if seq > last:
        problem = (f"{AUDIT_DIR}/{HEAD_FILE} says the newest record is seq {seq}, "
                   f"but the log ends at seq {last}: records were deleted from the end")
    else:
        problem = (f"{AUDIT_DIR}/{HEAD_FILE} names seq {seq} with a hash that record does not have: "
                   "the log or its head was rewritten")
    return Verdict(False, count, count + 1, seq, problem, hint=f"restore {AUDIT_DIR}/ from git (`git checkout -- {AUDIT_DIR}`)")


def repair(root: Path) -> list[str]:
    """`audit verify --repair`: cut a torn tail and bring head.json up to date, recording what was done.

    Only what a crash leaves is repaired. A chain broken inside, or records cut from the end (a head
    ahead of the log), is refused: that needs the copy in git, not a repair.
    """
    if current_experiment() is not None:
        raise AuditError("the audit trail is not repaired inside a DVC experiment", hint="run it in the main workspace")
    with file_lock(root / AUDIT_DIR / LOCK_FILE):
        done = _heal(root)
        chain = verify(root, check_head=False)
        if not chain.ok:
            raise AuditError(f"{AUDIT_DIR}/{LOG_FILE} is BROKEN at line {chain.line}: {chain.problem}; a repair cannot "
                             "make an edited chain true", hint=f"restore {AUDIT_DIR}/ from git (`git checkout -- {AUDIT_DIR}`)")
        head = verify(root)
        if not head.ok and "damaged" not in head.problem:
            raise AuditError(head.problem, hint=head.hint or None)
        if not head.ok or any(HEAD_FILE in note and "lags" in note for note in head.notes):
            what = f"rebuilt {AUDIT_DIR}/{HEAD_FILE} from the last record of the log (seq {chain.records})"
            _append_locked(root, "repair", {"file": f"{AUDIT_DIR}/{HEAD_FILE}", "reason": what})
            done.append(what)
        return done
