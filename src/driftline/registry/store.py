"""The model registry on disk: immutable versions, an atomically swapped champion pointer, history.

Layout, project-relative and committed to git (never a DVC output, because DVC deletes outputs
before a stage reruns and the registry's history must outlive every rerun)::

    registry/<pipeline>/
      versions/v0001/    model files + manifest.json; read-only once written, never overwritten.
                         In a DVC project the binaries (model.txt, profile.npz, ...) are also put
                         in the DVC cache, with a `<name>.dvc` pointer each and a .gitignore, so
                         git holds pointers and documents only (see registry/binaries.py)
      champion.json      {"version", "since", "reason"}; replaced with one atomic rename
      history.jsonl      one JSON event a line: registered, promoted, refused, rollback, baseline
      baseline/          the reference profile of the last challenger the gate refused, with
                         baseline.json; only valid while its champion is the champion
      .lock              flock(2) target that serialises writers (not data; may be git-ignored)

A version appears by renaming a fully written, fsynced temporary folder, so readers see either
no version or a complete one. Every write happens under the lock, so two processes registering
at once get distinct version numbers and history lines never interleave.

One ordered commit, so that a kill at any point leaves a state the next writer completes:
history.jsonl is the commit record. A promotion or rollback appends its history line first (the
commit), then swaps champion.json, then hands the event to the listeners (the audit trail). Every
write starts, under the lock, by recovering what a killed writer left (`_recover`): temp files and
folders are removed; a torn last history line is cut and a `repaired` event says what was cut; a
version renamed into place whose `registered` line never got written is registered from its
manifest; champion.json still naming the champion before the last committed promotion or rollback
is rolled forward; history events the audit trail lacks are sent again. Each repair is itself a
`repaired` event, so the audit trail records it. Running recovery twice does nothing the second time.
Kill points (faults.py): `registry:<op>:...` between the steps, plus the file points of each write.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftline.atomic import append_line, atomic_path, file_lock, sweep_leftovers, torn_tail, write_json
from driftline.clock import now_utc
from driftline.errors import DriftlineError
from driftline.experiment import current_experiment
from driftline.faults import reached
from driftline.hashing import FingerprintError, canonical_json, json_default, sha256_file, sha256_json
from driftline.registry import binaries

REGISTRY_DIR = "registry"
MANIFEST = "manifest.json"
CHAMPION = "champion.json"
HISTORY = "history.jsonl"
LOCK = ".lock"
TEMP_PREFIX = ".tmp-"

BASELINE_DIR = "baseline"
BASELINE_META = "baseline.json"

EVENTS = ("registered", "promoted", "refused", "rollback", "baseline", "repaired")
POINTER_EVENTS = ("promoted", "rollback")  # the events that move the champion, in history order

_VERSION_DIR = re.compile(r"^v(\d{4,})$")
_VERSION_REF = re.compile(r"^[vV]?0*(\d+)$")
_PIPELINE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_HASH_CHUNK = 1 << 20
_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


EventListener = Callable[[str, dict[str, Any]], None]
"""Called with (pipeline, history record) after each event is durably in history.jsonl.

The shells pass the audit trail's recorder here, so every registry event also lands in the
hash-chained audit log, without the registry and the audit trail importing each other."""


class Listeners:
    """One listener calling each given one in order: the audit trail, then GTO tags.

    A listener may also have `delivered(pipeline) -> int`, how many of the pipeline's history events
    it holds (the audit trail's recorder does); the registry then re-sends what a crash kept from it.
    """

    def __init__(self, *each: EventListener | None) -> None:
        self.chosen = [fn for fn in each if fn is not None]

    def __call__(self, pipeline: str, record: dict[str, Any]) -> None:
        for fn in self.chosen:
            fn(pipeline, record)

    def delivered(self, pipeline: str) -> int | None:
        counts = [count(pipeline) for fn in self.chosen if (count := getattr(fn, "delivered", None)) is not None]
        return min(counts) if counts else None


def listeners(*each: EventListener | None) -> Listeners:
    """One listener calling each given one in order (None skipped): the audit trail, then GTO tags."""
    return Listeners(*each)


class RegistryError(DriftlineError):
    """A registry operation that cannot go ahead; the message says what to do next."""


@dataclass(frozen=True)
class VersionInfo:
    """One registered model version, as recorded in its manifest."""

    version: str
    pipeline: str
    created: str
    metrics: dict[str, Any]
    data_fingerprint: str
    config_fingerprint: str
    files: dict[str, str]
    parent: str | None
    gate: dict[str, Any] | None
    champion: bool
    path: Path

    def model_meta(self) -> dict[str, Any]:
        """The version's model.json (task, classes, features), or {} when it has none."""
        if "model.json" not in self.files:
            return {}
        return json.loads((self.path / "model.json").read_text(encoding="utf-8"))

    def to_dict(self) -> dict[str, Any]:
        """The JSON view used by `driftline registry list --json` (no local paths)."""
        return {
            "version": self.version,
            "pipeline": self.pipeline,
            "champion": self.champion,
            "created": self.created,
            "metrics": self.metrics,
            "data_fingerprint": self.data_fingerprint,
            "config_fingerprint": self.config_fingerprint,
            "files": self.files,
            "parent": self.parent,
            "gate": self.gate,
        }


@dataclass(frozen=True)
class Baseline:
    """What the monitor compares new data with after a refusal: the refused challenger's profile.

    `meta` holds champion (the version it was measured against), trigger_retrains, reason, time,
    data_fingerprint and files (name -> sha256).
    """

    folder: Path
    meta: dict[str, Any]

    @property
    def champion(self) -> str:
        return str(self.meta["champion"])

    def file(self, name: str) -> Path:
        """The path of one baseline file (profile.json, profile.npz, reference_sample.parquet)."""
        if name not in self.meta.get("files", {}):
            known = ", ".join(sorted(self.meta.get("files", {}))) or "none"
            raise RegistryError(f"{self.folder} has no file {name!r}; it holds: {known}")
        return self.folder / name


# ----------------------------------------------------------------------------- fingerprints


def fingerprint_config(obj: Any) -> str:
    """sha256 of canonical JSON (sorted keys, no whitespace, UTF-8): equal configs, equal hashes."""
    try:
        return sha256_json(obj)
    except FingerprintError as exc:
        raise RegistryError(f"cannot fingerprint the config: {exc}") from None


# ----------------------------------------------------------------------------- helpers


def format_version(number: int) -> str:
    return f"v{number:04d}"


def parse_version(ref: str) -> int:
    """Accept "v3", "3", "v0003" (and "V3"); the version number, or RegistryError."""
    match = _VERSION_REF.match(str(ref).strip())
    if not match or int(match.group(1)) == 0:
        raise RegistryError(f"{ref!r} is not a version: write it as v3, 3 or v0003")
    return int(match.group(1))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_durably(src: Path, dst: Path) -> str:
    """Copy src to dst, fsync it, make it read-only; return the sha256 of the bytes written."""
    digest = hashlib.sha256()
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        while chunk := fin.read(_HASH_CHUNK):
            digest.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    os.chmod(dst, _READ_ONLY)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- the registry


@contextmanager
def _staging(parent: Path, what: str, outcome: str) -> Iterator[Path]:
    """A temporary folder in `parent` to build a version or baseline in before it is renamed into place.

    If building fails the folder is removed; an OSError becomes the RegistryError
    "could not write <what> (<error>); <outcome>".
    """
    tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=parent))
    try:
        yield tmp
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RegistryError(f"could not write {what} ({exc}); {outcome}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class Registry:
    """The versions, champion and history of one pipeline, under `<root>/registry/<pipeline>/`.

    `root` is the project root (the folder holding pipelines/).
    """

    def __init__(self, root: Path, pipeline: str, on_event: EventListener | None = None) -> None:
        if not _PIPELINE_NAME.match(pipeline):
            raise RegistryError(f"{pipeline!r} is not a pipeline name: use letters, digits, '_' and '-'")
        self.root = Path(root)
        self.pipeline = pipeline
        self.dir = self.root / REGISTRY_DIR / pipeline
        self.versions_dir = self.dir / "versions"
        self.champion_file = self.dir / CHAMPION
        self.history_file = self.dir / HISTORY
        self.lock_file = self.dir / LOCK
        self.baseline_dir = self.dir / BASELINE_DIR
        self.on_event = on_event

    completed: dict[str, Any] | None = None
    """The promotion or rollback the last recovery finished for a writer a crash stopped after its commit (else None)."""

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r}, {self.pipeline!r})"

    # ------------------------------------------------------------------ reading

    def _version_numbers(self) -> list[int]:
        if not self.versions_dir.is_dir():
            return []
        numbers = []
        for entry in self.versions_dir.iterdir():
            match = _VERSION_DIR.match(entry.name)
            if match and entry.is_dir():
                numbers.append(int(match.group(1)))
        return sorted(numbers)

    def _champion_version(self) -> str | None:
        if not self.champion_file.is_file():
            return None
        try:
            data = json.loads(self.champion_file.read_text(encoding="utf-8"))
            version = format_version(parse_version(data["version"]))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RegistryError) as exc:
            detail = "empty" if not self.champion_file.stat().st_size else f"{type(exc).__name__}: {exc}"
            raise RegistryError(
                f"{REGISTRY_DIR}/{self.pipeline}/{CHAMPION} is damaged ({detail}), so the champion is unknown",
                hint=f"run `driftline registry repair {self.pipeline}` to rebuild it from {HISTORY}",
            ) from None
        return version

    def _read(self, number: int, champion: str | None) -> VersionInfo:
        version = format_version(number)
        folder = self.versions_dir / version
        manifest_path = folder / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RegistryError(f"{manifest_path} is missing: {version} was not written by driftline; restore it from git") from None
        except ValueError as exc:
            raise RegistryError(f"{manifest_path} is not valid JSON ({exc}); restore it from git") from exc
        try:
            return VersionInfo(
                version=version,
                pipeline=manifest.get("pipeline", self.pipeline),
                created=manifest["created"],
                metrics=dict(manifest.get("metrics") or {}),
                data_fingerprint=manifest["data_fingerprint"],
                config_fingerprint=manifest["config_fingerprint"],
                files=dict(manifest["files"]),
                parent=manifest.get("parent"),
                gate=manifest.get("gate"),
                champion=version == champion,
                path=folder,
            )
        except (KeyError, TypeError) as exc:
            raise RegistryError(f"{manifest_path} lacks {exc}; restore it from git") from exc

    def versions(self) -> list[VersionInfo]:
        """Every version, oldest first, with the champion flagged."""
        champion = self._champion_version()
        return [self._read(n, champion) for n in self._version_numbers()]

    def get(self, version: str) -> VersionInfo:
        """One version by reference ("v3", "3" or "v0003")."""
        number = parse_version(version)
        numbers = self._version_numbers()
        if number not in numbers:
            known = ", ".join(format_version(n) for n in numbers) or "none yet"
            raise RegistryError(f"{self.pipeline} has no version {format_version(number)}; known versions: {known}")
        return self._read(number, self._champion_version())

    def champion(self) -> VersionInfo | None:
        """The current champion, or None before the first promotion."""
        current = self._champion_version()
        return None if current is None else self.get(current)

    def file(self, version: str, name: str) -> Path:
        """The path of one file of a version (read-only; do not edit it)."""
        info = self.get(version)
        if name not in info.files:
            known = ", ".join(sorted(info.files)) or "none"
            raise RegistryError(f"{self.pipeline} {info.version} has no file {name!r}; it holds: {known}")
        if (hint := binaries.missing_hint(info.path / name)) is not None:
            raise RegistryError(f"{self.pipeline} {info.version}: {hint}")
        return info.path / name

    def verify(self, version: str) -> list[str]:
        """Problems found re-hashing a version's files against its manifest (empty when intact)."""
        info = self.get(version)
        problems = []
        for name, expected in sorted(info.files.items()):
            path = info.path / name
            if not path.is_file():
                problems.append(f"{info.version}/{name}: {binaries.missing_hint(path) or 'missing'}")
            elif sha256_file(path) != expected:
                problems.append(f"{info.version}/{name}: contents changed since registration")
        return problems

    def history(self) -> list[dict[str, Any]]:
        """Every event, oldest first."""
        if not self.history_file.is_file():
            return []
        lines = self.history_file.read_text(encoding="utf-8").split("\n")
        events = []
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except ValueError as exc:
                # Only an unterminated last line can be a torn write from a crash; skip it.
                if lineno == len(lines):
                    continue
                raise RegistryError(f"{self.history_file}:{lineno} is not valid JSON ({exc}); restore the file from git") from exc
        return events

    def undecided(self, version: str) -> bool:
        """Whether `version` was registered and nothing was decided about it since: never champion, never
        refused. The promote stage registers only what its gate passed, so such a version is a promotion
        a crash stopped between the two steps; the rerun judges it again instead of leaving it behind."""
        ref = format_version(parse_version(version))
        return not any(e.get("version") == ref and e.get("event") in ("promoted", "rollback", "refused") for e in self.history())

    def check(self) -> list[str]:
        """What disagrees between champion.json, history.jsonl, the versions and the listeners (the audit trail)."""
        problems = []
        repair = f"run `driftline registry repair {self.pipeline}`"
        if self.history_file.is_file() and self.history_file.stat().st_size and not self.history_file.read_bytes().endswith(b"\n"):
            problems.append(f"{HISTORY} ends in a torn line (a crash mid-write); {repair}")
        events = self.history()
        last = next((e for e in reversed(events) if e.get("event") in POINTER_EVENTS and e.get("version")), None)
        current = self._champion_version()
        derived = None if last is None else format_version(parse_version(last["version"]))
        if current != derived:
            problems.append(f"{CHAMPION} names {current or 'no champion'}, but the last promotion or rollback in {HISTORY} "
                            f"names {derived or 'none'}; {repair}")
        numbers = self._version_numbers()
        registered = {e.get("version") for e in events if e.get("event") == "registered"}
        problems += [f"{format_version(n)} is in versions/ but {HISTORY} has no registered event for it; {repair}"
                     for n in numbers if format_version(n) not in registered]
        if current is not None:
            problems += self.verify(current)
        count = getattr(self.on_event, "delivered", None)
        done = count(self.pipeline) if count is not None else None
        if done is not None and done < len(events):
            problems.append(f"the audit trail lacks the last {len(events) - done} of {len(events)} {HISTORY} event(s); {repair}")
        return problems

    def baseline(self) -> Baseline | None:
        """The refused challenger's baseline, or None when there is none or it is stale.

        A baseline is stale once its champion is no longer the champion (a promotion or rollback
        since): the monitor then compares with the champion's own reference again.
        """
        meta_file = self.baseline_dir / BASELINE_META
        if not meta_file.is_file():
            return None
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            champion = meta["champion"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(f"{meta_file} is damaged ({exc}); delete {self.baseline_dir} "
                                "(the monitor then compares with the champion's own data)") from exc
        if champion != self._champion_version():
            return None
        return Baseline(self.baseline_dir, meta)

    # ------------------------------------------------------------------ writing

    @contextmanager
    def _writing(self, rebuild_pointer: bool = False) -> Iterator[list[str]]:
        """Hold the registry's lock for one write, after recovering from any killed writer (the list of
        repairs made is yielded); never inside a DVC experiment (see driftline.experiment)."""
        experiment = current_experiment()
        if experiment is not None:
            raise RegistryError(
                f"{self.pipeline}: the registry is not written inside DVC experiment {experiment.name!r}; "
                "apply the experiment (`dvc exp apply <name>`), then run `dvc repro` in the main workspace to register it")
        with file_lock(self.lock_file):
            yield self._recover(rebuild_pointer)

    def recover(self, rebuild_pointer: bool = False) -> list[str]:
        """Complete what a killed writer left half-done (see the module docstring); what was repaired.

        With `rebuild_pointer` (`driftline registry repair`), a damaged or out-of-step champion.json
        is rewritten from history.jsonl, whatever it says.
        """
        with self._writing(rebuild_pointer) as repaired:
            return repaired

    def _recover(self, rebuild_pointer: bool = False) -> list[str]:
        """The recovery every write starts with. Caller holds the lock."""
        self.completed = None
        repaired: list[str] = []
        for folder in (self.dir, self.versions_dir):
            sweep_leftovers(folder, (TEMP_PREFIX,), lock_held=True)
        cut = torn_tail(self.history_file)
        if cut:
            what = f"cut a torn last line ({len(cut)} bytes) off {HISTORY}: a write a crash interrupted"
            self._append("repaired", None, what, file=HISTORY, cut_bytes=len(cut), cut=cut[:200].decode("utf-8", "replace"))
            repaired.append(what)
        events = self.history()
        registered = {e.get("version") for e in events if e.get("event") == "registered"}
        # a crash can only leave the newest version unrecorded; `registry repair` records any
        for number in self._version_numbers()[None if rebuild_pointer else -1:]:
            version = format_version(number)
            if version not in registered:
                info = self._read(number, None)
                what = f"registered {version} from its manifest: it was written, but its history line never was"
                self._append("registered", version, "registered", parent=info.parent, metrics=info.metrics,
                             data_fingerprint=info.data_fingerprint, config_fingerprint=info.config_fingerprint,
                             recovered=what)
                repaired.append(what)
        repaired += self._recover_pointer(rebuild_pointer)
        sent = self._catch_up()
        if sent:
            repaired.append(f"sent {len(sent)} history event(s) the audit trail lacked")
            swaps = [e for e in sent if e.get("event") in POINTER_EVENTS]
            if swaps and not rebuild_pointer and self._champion_version() == swaps[-1].get("version"):
                self.completed = swaps[-1]  # the swap was done, its audit record was not: the writer died just before
        return repaired

    def _recover_pointer(self, rebuild: bool) -> list[str]:
        """Roll champion.json forward to history's last promotion or rollback when a crash kept it one step behind."""
        last = next((e for e in reversed(self.history()) if e.get("event") in POINTER_EVENTS and e.get("version")), None)
        if rebuild:
            try:
                current: str | None = self._champion_version()
            except RegistryError:
                current = "damaged"
            if last is None:
                if current == "damaged":
                    raise RegistryError(f"{REGISTRY_DIR}/{self.pipeline}/{CHAMPION} is damaged and {HISTORY} records no "
                                        "promotion to rebuild it from",
                                        hint=f"pick the champion by hand: `driftline registry promote {self.pipeline} <version>`")
                return []
        else:
            if last is None:
                return []
            current = self._champion_version()
        target = format_version(parse_version(last["version"]))
        if current == target or (not rebuild and current != last.get("previous")):
            return []  # in step, or changed by hand since (a checkout): champion.json is the truth about now
        if parse_version(target) not in self._version_numbers():
            raise RegistryError(f"{HISTORY} of {self.pipeline} names {target} as the champion, but versions/{target} is missing",
                                hint=f"restore {REGISTRY_DIR}/{self.pipeline}/ from git")
        self._swap_champion(target, str(last.get("reason", "")))
        self._remove_baseline()
        if not rebuild:
            self.completed = last
        what = (f"{CHAMPION} set to {target} (it said {current or 'nothing'}): "
                + ("rebuilt from history" if rebuild else f"the {last['event']} to {target} was committed when a crash stopped it"))
        self._append("repaired", target, what, file=CHAMPION, previous=current)
        return [what]

    def _catch_up(self) -> list[dict[str, Any]]:
        """Send the listeners the history events they lack (a crash between the two); those events. Caller holds the lock."""
        count = getattr(self.on_event, "delivered", None)
        done = count(self.pipeline) if count is not None else None
        if self.on_event is None or done is None:
            return []
        late = self.history()[done:]
        for event in late:
            self.on_event(self.pipeline, event)
        return late

    def _publish(self, record: dict[str, Any]) -> None:
        """Hand a committed event to the listeners (and any a crash kept from them). Caller holds the lock."""
        if self.on_event is None:
            return
        if getattr(self.on_event, "delivered", None) is None:
            self.on_event(self.pipeline, record)
        else:
            self._catch_up()

    def _append(self, event: str, version: str | None, reason: str, **extra: Any) -> dict[str, Any]:
        """Append one event line (atomic.append_line): the commit record. Caller holds the lock; `_publish` next."""
        record = {"time": now_utc(), "event": event, "version": version, "reason": reason, **extra}
        try:
            text = json.dumps(record, sort_keys=True, ensure_ascii=False, allow_nan=False, default=json_default)
        except (TypeError, ValueError) as exc:
            raise RegistryError(f"cannot record the {event} event: {exc}; pass plain JSON data (no NaN)") from exc
        line = (text + "\n").encode("utf-8")
        written = append_line(self.history_file, line)
        if written != len(line):
            raise RegistryError(f"short write to {self.history_file} ({written} of {len(line)} bytes); check free disk space")
        return record

    def register(
        self,
        files: Mapping[str, Path],
        *,
        metrics: dict[str, Any],
        data_fingerprint: str,
        config_fingerprint: str,
        gate: dict[str, Any] | None = None,
        documents: Callable[[str, str | None], Mapping[str, str]] | None = None,
    ) -> VersionInfo:
        """Copy `files` ({name in the version: source path}) into the next version, atomically.

        The new version's parent is the champion at registration time. Registering does not
        promote: call `promote` when the gate says so. `documents(version, parent)` may return
        extra text files (a model card) that need the version's own name; they are written into
        the version before it appears, and hashed like the rest.
        """
        sources = self._check_sources(files)
        manifest_extra = {"metrics": metrics, "gate": gate}
        try:
            canonical_json(manifest_extra)
        except FingerprintError as exc:
            raise RegistryError(f"metrics and gate must be plain JSON data (no NaN): {exc}") from exc

        with self._writing():
            self.versions_dir.mkdir(parents=True, exist_ok=True)
            numbers = self._version_numbers()
            version = format_version((numbers[-1] if numbers else 0) + 1)
            target = self.versions_dir / version
            if target.exists():  # cannot happen under the lock, but never overwrite
                raise RegistryError(f"{target} already exists; the registry is inconsistent, inspect it before registering")
            parent = self._champion_version()
            with _staging(self.versions_dir, f"{version} of {self.pipeline}", "nothing was registered") as tmp:
                hashes = {name: _copy_durably(src, tmp / name) for name, src in sources.items()}
                for name, text in (documents(version, parent) if documents else {}).items():
                    if not _FILE_NAME.match(name) or name in hashes or name == MANIFEST:
                        raise RegistryError(f"document name {name!r} is not allowed or clashes with a file")
                    (tmp / f".{name}").write_text(text, encoding="utf-8")
                    hashes[name] = _copy_durably(tmp / f".{name}", tmp / name)
                    (tmp / f".{name}").unlink()
                if binaries.is_dvc_project(self.root):  # the bytes to the DVC cache, a pointer each to git
                    for name, text in binaries.store(self.root, tmp, hashes).items():
                        (tmp / name).write_text(text, encoding="utf-8")
                        os.chmod(tmp / name, _READ_ONLY)
                manifest = {
                    "version": version,
                    "pipeline": self.pipeline,
                    "created": now_utc(),
                    "metrics": metrics,
                    "data_fingerprint": data_fingerprint,
                    "config_fingerprint": config_fingerprint,
                    "files": hashes,
                    "parent": parent,
                }
                if gate is not None:
                    manifest["gate"] = gate
                write_json(tmp / MANIFEST, manifest)
                os.chmod(tmp / MANIFEST, _READ_ONLY)
                os.chmod(tmp, 0o755)  # mkdtemp makes 0700; versions are meant to be shared
                _fsync_dir(tmp)
                os.rename(tmp, target)
            _fsync_dir(self.versions_dir)
            reached("registry:register:version-written")
            record = self._append(
                "registered",
                version,
                "registered",
                parent=parent,
                metrics=metrics,
                data_fingerprint=data_fingerprint,
                config_fingerprint=config_fingerprint,
            )
            reached("registry:register:committed")
            self._publish(record)
            return self._read(int(version[1:]), parent)

    def _check_sources(self, files: Mapping[str, Path]) -> dict[str, Path]:
        if not files:
            raise RegistryError("nothing to register: pass at least the model file")
        problems = []
        sources: dict[str, Path] = {}
        for name, src in files.items():
            if not _FILE_NAME.match(name) or name == MANIFEST:
                problems.append(f"{name!r} is not allowed as a file name in a version (plain names only, not {MANIFEST})")
                continue
            path = Path(src)
            if not path.is_file():
                problems.append(f"{name}: source file {path} does not exist; run the stage that writes it first")
                continue
            sources[name] = path
        if problems:
            raise RegistryError("cannot register:\n  " + "\n  ".join(problems))
        return sources

    def promote(self, version: str, reason: str) -> VersionInfo:
        """Make `version` the champion: one atomic swap of champion.json, one history event."""
        with self._writing():
            info = self.get(version)
            previous = self._champion_version()
            record = self._append("promoted", info.version, reason, previous=previous)  # the commit
            reached("registry:promote:committed")
            self._swap_champion(info.version, reason)
            reached("registry:promote:pointer-swapped")
            self._remove_baseline()  # measured against the old champion: stale now
            self._publish(record)
            return self._read(int(info.version[1:]), info.version)

    def record_refusal(self, version: str | None, reason: str, details: dict[str, Any]) -> None:
        """Record that the gate refused a challenger (registered or not); the champion stays."""
        with self._writing():
            ref = None if version is None else self.get(version).version
            self._publish(self._append("refused", ref, reason, champion=self._champion_version(), details=details))

    def set_baseline(self, files: Mapping[str, Path], meta: Mapping[str, Any]) -> Baseline:
        """Store `files` as the baseline/ folder, replacing any earlier one, and record a `baseline` event.

        `meta` must name the `champion` it was measured against (the current champion); `time` and
        the files' hashes are added. The new folder is written and fsynced under a temporary name,
        then renamed into place: readers see the old baseline, none, or the new one, never a part.
        """
        sources = self._check_sources(files)
        if BASELINE_META in sources:
            raise RegistryError(f"{BASELINE_META} is written by the registry; do not pass it as a baseline file")
        with self._writing():
            champion = self._champion_version()
            if champion is None or meta.get("champion") != champion:
                raise RegistryError(
                    f"{self.pipeline}: a baseline must be measured against the champion "
                    f"({champion or 'none yet'}), not {meta.get('champion')!r}")
            with _staging(self.dir, f"the baseline of {self.pipeline}", "none was stored") as tmp:
                hashes = {name: _copy_durably(src, tmp / name) for name, src in sources.items()}
                record = {**meta, "time": now_utc(), "files": hashes}
                try:
                    write_json(tmp / BASELINE_META, record)
                except (TypeError, ValueError) as exc:
                    raise RegistryError(f"baseline meta must be plain JSON data (no NaN): {exc}") from exc
                os.chmod(tmp, 0o755)
                _fsync_dir(tmp)
                self._remove_baseline()
                os.rename(tmp, self.baseline_dir)
                _fsync_dir(self.dir)
            reached("registry:baseline:written")
            self._publish(self._append("baseline", None, str(meta.get("reason", "baseline after a refusal")),
                                       **{k: v for k, v in record.items() if k not in ("time", "reason", "files")}))
            return Baseline(self.baseline_dir, record)

    def _remove_baseline(self) -> None:
        """Move the baseline folder aside, then delete it. Caller holds the lock."""
        if not self.baseline_dir.exists():
            return
        doomed = self.dir / f"{TEMP_PREFIX}old-baseline"
        shutil.rmtree(doomed, ignore_errors=True)
        os.rename(self.baseline_dir, doomed)  # one rename: readers never see half a baseline
        shutil.rmtree(doomed, ignore_errors=True)

    def rollback(self, to: str | None = None, reason: str = "rollback") -> VersionInfo:
        """Swap the champion back: to `to`, or by default to the champion before the current one."""
        with self._writing():
            current = self._champion_version()
            if to is not None:
                target = self.get(to).version
                if target == current:
                    raise RegistryError(f"{self.pipeline}: {target} is already the champion; nothing to roll back")
            else:
                if current is None:
                    raise RegistryError(f"{self.pipeline} has no champion yet, so there is nothing to roll back")
                earlier = [v for v in self._champion_stack(current) if v != current]
                if not earlier:
                    raise RegistryError(
                        f"{self.pipeline}: no champion before {current} to roll back to; "
                        f"pick one with `--to <version>` (known: {', '.join(v.version for v in self.versions())})"
                    )
                target = earlier[-1]
                self.get(target)  # it must still exist
            record = self._append("rollback", target, reason, previous=current)  # the commit
            reached("registry:rollback:committed")
            self._swap_champion(target, reason)
            reached("registry:rollback:pointer-swapped")
            self._remove_baseline()  # measured against the old champion: stale now
            self._publish(record)
            return self._read(int(target[1:]), target)

    def _swap_champion(self, version: str, reason: str) -> None:
        pointer = {"version": version, "since": now_utc(), "reason": reason}
        with atomic_path(self.champion_file) as tmp:
            write_json(tmp, pointer)  # itself atomic; the outer rename is the swap readers see
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; a server running as another user must read it

    def _champion_stack(self, current: str | None) -> list[str]:
        """The chain of champions, replayed from history, that default rollbacks walk back along.

        A promotion pushes; a rollback to a version in the chain cuts the chain back to it (so a
        second rollback goes one further back); a rollback to anything else pushes it.
        """
        stack: list[str] = []
        for event in self.history():
            kind, version = event.get("event"), event.get("version")
            if not version:
                continue
            if kind == "promoted":
                if not stack or stack[-1] != version:
                    stack.append(version)
            elif kind == "rollback":
                if version in stack:
                    del stack[len(stack) - 1 - stack[::-1].index(version) + 1 :]
                else:
                    stack.append(version)
        # champion.json is the truth about now; if an edit put it out of step, start from it.
        if current is not None and (not stack or stack[-1] != current):
            stack.append(current)
        return stack
