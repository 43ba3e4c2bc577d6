"""The bad-input corpus runner: load the cases (YAML), damage a project copy, run the command, classify.

A case file (tests/corpus/<category>*.yaml) holds `category`, optional `defaults` (merged under
each case, `expect` key by key) and `cases`. A case:

    - id: unknown-key
      damage:                               # steps, applied in order to this case's project copy
        - write: {path: P, text: T}          #   or bytes_hex: "fffe", or append: true to add to the end
        - replace: {path: P, old: O, new: N} #   O must be there (the case is stale otherwise)
        - remove: P
        - symlink: {path: P, to: T}          #   T relative to the project (may leave it: ../outside.csv)
        - copy: {path: P, to: T}
        - run: [compile]                     #   a driftline command that must succeed (a setup step)
        - prepare: [name, arg...]            #   one of the few named preparations in prepare.py
      env: {VAR: value}                      # environment for the command
      command: [compile]                     # driftline CLI args, run in-process (typer's CliRunner)
      late: [run, ingest, credit]            # config cases: the stage that tells `late` from `worse`
      expect:
        exit: 2
        names: [credit.taks, pipelines/credit.yaml]   # substrings the output must contain
        unchanged: [params.yaml, dvc.yaml]   # files or folders whose bytes must not change
        grown: [audit/log.jsonl]             # may only gain lines: every complete line before stays first
        contains: {params.yaml: ["${oc.env:X}"]}      # after the command, these files hold these strings
        absent: {params.yaml: [s3cr3t]}      # ... and never these
        rows: {in: data/x.csv, out: [data/credit/validated.parquet, data/credit/quarantine.parquet]}
      pending: compile-checks                # another helper's unfinished fix: reported as xfail

Every run also asserts "no traceback". The class of a case: `clear` (all of the above held),
`late` (a config case compile accepted, but the `late` stage then refused it clearly), `worse`
(anything else: traceback, wrong exit, a message naming nothing, a file changed, a row lost, a hang).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

CORPUS = Path(__file__).resolve().parent
TIMEOUT = 60  # seconds one command may take before the case counts as a hang
CLASS_KEY = "corpus"  # user_properties key: (category, id, class)

# What a case's project copy holds, unless the case file says otherwise (`copy:` at the top).
COPIED = ("conf", "pipelines", "params.yaml", "dvc.yaml", "registry", "audit",
          "data/credit/trigger.json", "data/credit/monitor_state.json")


@dataclass(frozen=True)
class Case:
    category: str
    id: str
    damage: list[Any]
    command: list[Any]  # driftline args, or a list of them run in turn (stopping at the first failure)
    expect: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    late: list[str] | None = None
    pending: str | None = None
    request: dict[str, Any] | None = None  # http cases


@dataclass
class Outcome:
    cls: str  # clear | late | worse
    why: list[str]
    output: str


# ----------------------------------------------------------------------------- loading


def load(pattern: str) -> tuple[list[Case], dict[str, Any]]:
    """The cases of the files matching `pattern` (e.g. "config*.yaml"), and the first file's top-level settings."""
    cases: list[Case] = []
    settings: dict[str, Any] = {}
    files = sorted(CORPUS.glob(pattern))
    assert files, f"no corpus file matches {pattern}"
    for path in files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        settings = settings or {k: v for k, v in doc.items() if k != "cases"}
        defaults = doc.get("defaults") or {}
        for raw in doc["cases"]:
            expect = {**(defaults.get("expect") or {}), **(raw.get("expect") or {})}
            cases.append(Case(
                category=doc["category"], id=raw["id"], damage=list(raw.get("damage") or []),
                command=_args(raw.get("command", defaults.get("command", []))), expect=expect,
                env={k: str(v) for k, v in {**(defaults.get("env") or {}), **(raw.get("env") or {})}.items()},
                late=raw.get("late", defaults.get("late")), pending=raw.get("pending"), request=raw.get("request"),
            ))
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), f"duplicate case ids in {pattern}: {sorted({i for i in ids if ids.count(i) > 1})}"
    return cases, settings


def _args(command: list[Any]) -> list[Any]:
    if command and isinstance(command[0], list):
        return [[str(a) for a in step] for step in command]
    return [str(a) for a in command]


def all_cases() -> list[Case]:
    return [case for path in sorted(CORPUS.glob("*.yaml")) for case in load(path.name)[0]]


def params(pattern: str) -> list[Any]:
    cases, _ = load(pattern)
    return [pytest.param(case, id=case.id) for case in cases]


# ----------------------------------------------------------------------------- the project


def make_template(source: Path, dest: Path, copied: Sequence[str] = COPIED) -> Path:
    """The parts of a reproduced project a category needs (no git, no DVC cache), writable."""
    for rel in copied:
        src, dst = source / rel, dest / rel
        if not src.exists():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst, **({"symlinks": True} if src.is_dir() else {}))
    for path in dest.rglob("*"):  # registry versions are read-only; cases damage copies
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    return dest


# ----------------------------------------------------------------------------- damage


def apply_damage(root: Path, steps: Sequence[Any]) -> None:
    from tests.corpus import prepare

    for step in steps:
        if isinstance(step, Mapping):
            ((kind, arg),) = step.items()
        else:
            kind, arg = "prepare", [step]
        if kind == "write":
            data = bytes.fromhex(arg["bytes_hex"]) if "bytes_hex" in arg else str(arg.get("text", "")).encode()
            _write(root / arg["path"], data, append=bool(arg.get("append")))
        elif kind == "append":
            _write(root / arg["path"], str(arg["text"]).encode(), append=True)
        elif kind == "replace":
            path = root / arg["path"]
            text = path.read_text(encoding="utf-8")
            assert arg["old"] in text, f"{arg['path']} no longer contains {arg['old']!r}: update the case"
            path.chmod(0o644)
            path.write_text(text.replace(arg["old"], arg["new"], 1), encoding="utf-8")
        elif kind == "remove":
            path = root / arg
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        elif kind == "symlink":
            path = root / arg["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() or path.is_symlink():
                path.unlink()
            os.symlink(root / arg["to"], path)
        elif kind == "copy":
            src, dst = root / arg["path"], root / arg["to"]
            dst.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
        elif kind == "run":
            code, out = invoke([str(a) for a in arg], {})
            assert code == 0, f"setup step `driftline {' '.join(arg)}` failed ({code}):\n{out}"
        elif kind == "prepare":
            name, *args = arg if isinstance(arg, list) else [arg]
            getattr(prepare, name)(root, *args)
        else:
            raise AssertionError(f"unknown damage step {kind!r}")


def _write(path: Path, data: bytes, append: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.chmod(0o644)
    with open(path, "ab" if append else "wb") as fh:
        fh.write(data)


# ----------------------------------------------------------------------------- running


class Hang(BaseException):  # noqa: N818 - not an Exception: CliRunner must not swallow it
    """The command ran past TIMEOUT."""


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def invoke(args: list[str], env: Mapping[str, str]) -> tuple[int, str]:
    """`driftline ARGS` in-process from the working directory: (exit code, everything it printed).

    An exception that escaped the CLI is shown as the traceback a user would see; a hang as "HANG".
    """
    from typer.testing import CliRunner

    from driftline.cli.main import app

    saved = {k: os.environ.get(k) for k in env}
    try:
        with deadline(TIMEOUT):
            result = CliRunner().invoke(app, args, env=dict(env), prog_name="driftline")
    except Hang as exc:
        return -1, f"HANG: {exc}"
    finally:
        for k, v in saved.items():  # CliRunner restores them; a Hang may leave it mid-way
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    output = result.stdout + (result.stderr if result.stderr_bytes is not None else "")
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += "\nTraceback (most recent call last):\n" + "".join(traceback.format_exception(*result.exc_info))  # type: ignore[misc]
        code = code or 1
    return code, output


def snapshot(root: Path, rels: Sequence[str]) -> dict[str, str | None]:
    """{file: sha256 or None if absent} of every file under the given paths."""
    out: dict[str, str | None] = {}
    for rel in rels:
        base = root / rel.rstrip("/")
        files = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else [base]
        if base.is_dir() and not files:
            out[rel] = "empty folder"
        for path in files:
            key = path.relative_to(root).as_posix()
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    return out


def complete_lines(path: Path) -> list[bytes]:
    if not path.is_file():
        return []
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].splitlines(keepends=True) if b"\n" in data else []


def count_rows(path: Path) -> int:
    import pandas as pd

    if path.suffix == ".csv":
        return len(pd.read_csv(path))
    if path.suffix == ".jsonl":
        return sum(1 for line in path.read_text().splitlines() if line.strip())
    return len(pd.read_parquet(path)) if path.exists() else 0


def _allowed(expect: Mapping[str, Any]) -> list[int]:
    wanted = expect.get("exit", 1)
    return list(wanted) if isinstance(wanted, list) else [wanted]


def check(case: Case, root: Path, code: int, output: str, before: dict, grown: dict) -> list[str]:
    """What went wrong (empty: the case is clear)."""
    e = case.expect
    why = []
    if "Traceback (most recent call last)" in output or output.startswith("HANG"):
        why.append("traceback" if "Traceback" in output else "hang")
    allowed = _allowed(e)
    if code not in allowed:
        why.append(f"exit {code}, expected {' or '.join(map(str, allowed))}")
    missing = [n for n in e.get("names") or [] if n not in output] if code != 0 or 0 not in allowed or len(allowed) == 1 else []
    if missing:
        why.append(f"the message does not name {missing}")
    after = snapshot(root, list(e.get("unchanged") or []))
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        why.append(f"changed: {changed}")
    for rel, lines in grown.items():
        now = complete_lines(root / rel)
        if now[: len(lines)] != lines:
            why.append(f"{rel}: earlier lines changed or were lost")
    for rel, words in (e.get("contains") or {}).items():
        text = (root / rel).read_text(errors="replace") if (root / rel).exists() else ""
        why += [f"{rel} does not hold {w!r}" for w in words if w not in text]
    for rel, words in (e.get("absent") or {}).items():
        for path in [root / rel] if not (root / rel).is_dir() else (root / rel).rglob("*"):
            if path.is_file():
                text = path.read_text(errors="replace")
                why += [f"{path.relative_to(root)} holds {w!r}" for w in words if w in text]
    if "rows" in e and not why:
        spec = e["rows"]
        rows_in = count_rows(root / spec["in"]) if isinstance(spec["in"], str) else int(spec["in"])
        parts = {rel: count_rows(root / rel) for rel in spec["out"]}
        if rows_in != sum(parts.values()):
            why.append(f"rows lost: {rows_in} in, {parts} out")
    return why


def run_case(case: Case, root: Path) -> Outcome:
    """Damage `root` (the cwd), run the command, classify."""
    apply_damage(root, case.damage)
    before = snapshot(root, list(case.expect.get("unchanged") or []))
    grown = {rel: complete_lines(root / rel) for rel in case.expect.get("grown") or []}
    steps = case.command if case.command and isinstance(case.command[0], list) else [case.command]
    outputs = []
    for step in steps:
        code, output = invoke(step, case.env)
        outputs.append(f"$ driftline {' '.join(step)}\n{output}" if len(steps) > 1 else output)
        if code != 0:
            break
    output = "\n".join(outputs)
    why = check(case, root, code, output, before, grown)
    if not why:
        return Outcome("clear", [], output)
    if case.late and code == 0 and 0 not in _allowed(case.expect):
        late_code, late_output = invoke(case.late, case.env)
        late_case = Case(case.category, case.id, [], case.late, {"exit": 1, "names": case.expect.get("names")})
        if late_code != 0 and not check(late_case, root, late_code if late_code != 0 else -1, late_output, {}, {}):
            return Outcome("late", [f"compile accepted it; `driftline {' '.join(case.late)}` refused it clearly"],
                           output + "\n--- late stage\n" + late_output)
        if late_code == 0:  # the stage did not refuse it either: one more clue in the failure message
            why.append(f"`driftline {' '.join(case.late)}` accepted it too")
    return Outcome("worse", why, output)


def verdict(case: Case, outcome: Outcome, record: Any) -> None:
    """Record the class for the table, then pass, fail or xfail the test."""
    pending = case.pending and outcome.cls != "clear"
    record(CLASS_KEY, [case.category, case.id, "pending" if pending else outcome.cls])
    if outcome.cls == "clear":
        return
    message = (f"{case.category}/{case.id}: {outcome.cls.upper()}: {'; '.join(outcome.why)}\n"
               f"`{case.request or case.command}` printed:\n"
               f"{outcome.output[-3000:]}")
    if pending:  # one line: the -ra summary lists every pending case
        pytest.xfail(f"pending {case.pending}: {outcome.cls}: {'; '.join(outcome.why)}"[:300].replace("\n", " "))
    pytest.fail(message, pytrace=False)


# ----------------------------------------------------------------------------- http


def http_body(request: Mapping[str, Any], record: Mapping[str, Any]) -> bytes | None:
    """The request body a case describes: `body`/`body_hex` as given, `size` bytes of padding, or
    the good `record` with `set` fields replaced by raw JSON text (`{nested: N}`: lists N deep)."""
    import json

    if "body_hex" in request:
        return bytes.fromhex(request["body_hex"])
    if "body" in request:
        return str(request["body"]).encode()
    if "size" in request:
        return b'{"records": [' + b" " * int(request["size"]) + b"]}"
    if "set" not in request and "json" not in request:
        return None
    if "json" in request:
        return json.dumps(request["json"]).encode()
    fields = dict(record)
    raw = {}
    for i, (name, value) in enumerate((request.get("set") or {}).items()):
        if isinstance(value, Mapping) and "nested" in value:
            value = "[" * int(value["nested"]) + "1" + "]" * int(value["nested"])
        elif isinstance(value, Mapping) and "repeat" in value:
            value = json.dumps(str(value["repeat"]) * int(value["times"]))
        placeholder = f"__corpus_raw_{i}__"
        fields[name] = placeholder
        raw[f'"{placeholder}"'] = str(value)
    text = json.dumps({"records": [fields], **(request.get("top") or {})})
    for placeholder, value in raw.items():
        text = text.replace(placeholder, value)
    return text.encode()


def run_http(case: Case, url: str, log: Path, record: Mapping[str, Any], token: str | None = None) -> Outcome:
    """Send the case's request to the live server; classify its answer."""
    import sqlite3

    import httpx

    request = case.request or {}
    headers = {"content-type": "application/json", **(request.get("headers") or {})}
    if token and request.get("token", True):
        headers["authorization"] = f"Bearer {token}"
    body = http_body(request, record)
    try:
        response = httpx.request(request.get("method", "POST"), url + request.get("path", "/v1/predict"),
                                 content=body, headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return Outcome("worse", [f"no answer: {exc!r}"], "")
    e = case.expect
    text = response.text
    allowed = _allowed(e)
    why = []
    if response.status_code >= 500:
        why.append(f"status {response.status_code}")
    elif response.status_code not in allowed:
        why.append(f"status {response.status_code}, expected {' or '.join(map(str, allowed))}")
    if "Traceback" in text or 'File "' in text:
        why.append("traceback in the response")
    if response.status_code >= 400:
        missing = [n for n in e.get("names") or [] if n not in text]
        if missing:
            why.append(f"the answer does not name {missing}")
    why += [f"the answer reveals {w!r}" for w in e.get("absent") or [] if w in text]
    if 200 <= response.status_code < 300 and request.get("path", "/v1/predict") == "/v1/predict":
        ids = [p.get("request_id") for p in response.json().get("predictions", [])]
        with sqlite3.connect(log) as db:
            found = {r[0] for r in db.execute(
                f"SELECT request_id FROM predictions WHERE request_id IN ({', '.join('?' * len(ids))})", ids)}
        if not ids or set(ids) - found:
            why.append(f"acknowledged decisions missing from the prediction log: {sorted(set(ids) - found) or 'no ids'}")
    return Outcome("worse" if why else "clear", why, f"HTTP {response.status_code}\n{text[:3000]}")
