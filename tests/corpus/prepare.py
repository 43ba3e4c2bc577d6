"""The few named preparations of the corpus: damage that has to be built, not written as text.

A case names one as a damage step: `- prepare: [name, arg, ...]`; each takes the project root first.
Everything else a case does is a plain step (write, replace, remove, symlink, copy, run).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from tests.corpus.runner import invoke

RAW = "data/credit/raw.parquet"  # the reproduced demo's ingested rows (3,000, every schema column and the target)


def _frame(root: Path, rows: int | None = 200):
    import pandas as pd

    frame = pd.read_parquet(root / RAW)
    return frame.head(rows).copy() if rows else frame


def _use_dataset(root: Path, name: str, source: str) -> None:
    """A dataset group `name` with this source, chosen by pipelines/credit.yaml."""
    (root / "conf/dataset" / f"{name}.yaml").write_text(f"source: {source}\ntimestamp: applied_at\nid: application_id\n")
    path = root / "pipelines/credit.yaml"
    text = path.read_text()
    path.write_text(text.replace(text[text.index("/dataset: "):].split("\n", 1)[0], f"/dataset: {name}", 1))


def _compile() -> None:
    code, out = invoke(["compile"], {})
    assert code == 0, f"setup compile failed:\n{out}"


# ----------------------------------------------------------------------------- hostile YAML


def alias_bomb(root: Path, rel: str) -> None:
    """The "billion laughs": each line repeats the one before ten times: 10^7 values from 300 bytes."""
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6))
    (root / rel).write_text(text)


def deep_flow_lists(root: Path, rel: str, depth: int = 20_000) -> None:
    (root / rel).write_text("params: " + "[" * depth + "]" * depth + "\n")


def deep_block_mappings(root: Path, rel: str, depth: int = 200) -> None:
    (root / rel).write_text("".join(f"{'  ' * i}k{i}:\n" for i in range(depth)) + "  " * depth + "v: 1\n")


def oversized(root: Path, rel: str) -> None:
    (root / rel).write_text("# " + "x" * (1 << 20) + "\nparams: {}\n")


# ----------------------------------------------------------------------------- data sources


def csv_source(root: Path, column: str | None = None, value: str | None = None, rows: int = 1, compile_: bool = True) -> None:
    """data/applications.csv (200 demo rows) as the credit source; `column` set to the text `value` in the first `rows` rows."""
    frame = _frame(root)
    frame["applied_at"] = frame["applied_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    if column is not None:
        frame[column] = frame[column].astype("object")
        frame.loc[frame.index[:rows], column] = value
    frame.to_csv(root / "data/applications.csv", index=False)
    if (root / "conf/dataset/applications.yaml").exists():  # the module's template already reads it (compiled)
        return
    _use_dataset(root, "applications", "{kind: csv, path: data/applications.csv, parse_dates: [applied_at]}")
    if compile_:
        _compile()


def csv_source_raw(root: Path, text: str) -> None:
    """data/applications.csv with exactly this text, as the credit source (compiled)."""
    (root / "data").mkdir(exist_ok=True)
    (root / "data/applications.csv").write_text(text)
    if not (root / "conf/dataset/applications.yaml").exists():
        _use_dataset(root, "applications", "{kind: csv, path: data/applications.csv, parse_dates: [applied_at]}")
        _compile()


def parquet_source(root: Path, how: str) -> None:
    """data/applications.parquet as the credit source, built `how`: tz-aware, single-class, huge-int, ok."""
    import pandas as pd

    frame = _frame(root)
    if how == "tz-aware":
        frame["applied_at"] = frame["applied_at"].dt.tz_localize("Europe/Berlin", ambiguous="NaT", nonexistent="NaT")
    elif how == "single-class":
        frame = _frame(root, None)
        frame["default"] = 0
    elif how == "huge-int":
        frame["age"] = frame["age"].astype("object")
        frame.loc[frame.index[0], "age"] = 10**23
        frame["age"] = frame["age"].astype(str)
    elif how == "no-rows":
        frame = frame.head(0)
    elif how != "ok":
        raise AssertionError(how)
    pd.DataFrame(frame).to_parquet(root / "data/applications.parquet", index=False)
    _use_dataset(root, "frame", "{kind: parquet, path: data/applications.parquet}")
    _compile()


def sqlite_source(root: Path, query: str, url: str | None = None) -> None:
    """data/loans.sqlite (a `loans` table of 200 demo rows) as the credit source with this query; not compiled."""
    frame = _frame(root)
    frame["applied_at"] = frame["applied_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    with sqlite3.connect(root / "data/loans.sqlite") as db:
        frame.astype({c: "object" for c in frame.columns}).to_sql("loans", db, index=False)
    where = f"url: {json.dumps(url)}" if url else "path: data/loans.sqlite"
    _use_dataset(root, "db", f"{{kind: sql, {where}, query: {json.dumps(query)}, parse_dates: [applied_at]}}")


def symlink_source_outside(root: Path) -> None:
    """A CSV source that compiled fine, then swapped for a link to a file outside the project."""
    csv_source(root)
    source = root / "data/applications.csv"
    outside = root.parent / "outside.csv"
    source.rename(outside)
    os.symlink(outside, source)


# ----------------------------------------------------------------------------- batches and state


def champion_version(root: Path) -> str:
    return json.loads((root / "registry/credit/champion.json").read_text())["version"]


def batch(root: Path, how: str = "ok", name: str = "batch-0001.parquet") -> None:
    """An incoming batch built `how` from the champion's reference sample."""
    import pandas as pd

    frame = pd.read_parquet(root / "registry/credit/versions" / champion_version(root) / "reference_sample.parquet")
    if how == "missing-column":
        frame = frame.drop(columns=["income", "age"])
    elif how == "wrong-types":
        frame["age"] = "old"
        frame["income"] = "lots"
    elif how == "extra-column":
        frame["surprise"] = 1
    elif how == "no-rows":
        frame = frame.head(0)
    elif how == "tz-aware":
        frame["applied_at"] = pd.Timestamp("2026-01-01T10:00:00", tz="Europe/Berlin")
    elif how == "all-null":
        frame["income"] = None
    elif how == "renamed":
        frame = frame.rename(columns={c: c.upper() for c in frame.columns})
    elif how == "huge-int":
        frame["age"] = [10**23] + [30] * (len(frame) - 1)
        frame["age"] = frame["age"].astype(str)
    elif how != "ok":
        raise AssertionError(how)
    folder = root / "data/credit/incoming"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / name, index=False)


def truncated_batch(root: Path, keep: float = 0.5) -> None:
    """A well-formed batch cut short, as a copy interrupted halfway leaves it."""
    batch(root)
    path = root / "data/credit/incoming/batch-0001.parquet"
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def damage_profile(root: Path) -> None:
    batch(root)
    (root / f"registry/credit/versions/{champion_version(root)}/profile.json").write_text("{ not json")


def damaged_version_file(root: Path, name: str, text: str = "{ not json") -> None:
    path = root / f"registry/credit/versions/{champion_version(root)}/{name}"
    path.chmod(0o644)
    path.write_text(text)


def tear_history_tail(root: Path) -> None:
    path = root / "registry/credit/history.jsonl"
    path.write_bytes(path.read_bytes() + b'{"event": "promo')


def audit_lines(root: Path, how: str) -> None:
    """audit/log.jsonl damaged `how`: a line deleted, two swapped, the last one cut."""
    path = root / "audit/log.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    if how == "delete-middle":
        del lines[1]
    elif how == "swap":
        lines[0], lines[1] = lines[1], lines[0]
    elif how == "cut-last":
        lines = lines[:-1]
    else:
        raise AssertionError(how)
    path.write_bytes(b"".join(lines))

