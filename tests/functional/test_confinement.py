"""Configured paths stay inside the project, at compile and again when a stage reads them; SQL is checked at compile.

A path outside (by `..`, an absolute path or a symlink) is reported as outside the project, never as missing;
a file swapped for a symlink to elsewhere after compile is refused when the stage reads it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from driftline.atomic import write_csv, write_parquet
from driftline.data.generator import generate_loans
from driftline.data.sources import SourceError, read_source

DATASET = "conf/dataset/loans.yaml"


def set_source(root: Path, source: str) -> None:
    """Replace the dataset's source block (the demo's generator) with `source` (YAML lines under `source:`).

    The pricing pipeline, which sets the generator's rows, is removed: the credit pipeline is enough here.
    """
    (root / "pipelines" / "pricing.yaml").unlink(missing_ok=True)
    path = root / DATASET
    lines = path.read_text().splitlines()
    start = lines.index("source:")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" "))
    path.write_text("\n".join([*lines[:start], "source:", *(f"  {line}" for line in source.strip().splitlines()),
                               *lines[end:]]) + "\n")


def loans_csv(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(path, generate_loans(300, seed=1))
    return path


def loans_db(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        generate_loans(300, seed=1).to_sql("loans", conn, index=False)
    conn.close()
    return path


def refused_at_compile(cli, root: Path, *words: str) -> str:
    before = (root / "params.yaml").read_bytes()
    ran = cli(["compile"], root, check=False)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    for word in words:
        assert word in ran.stderr, f"{word!r} not in:\n{ran.stderr}"
    assert (root / "params.yaml").read_bytes() == before, "a refused compile writes nothing"
    return ran.stderr


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink", "symlinked-folder"])
def test_a_source_outside_the_project_is_named_outside_at_compile(how: str, cli, project: Path, tmp_path: Path) -> None:
    outside = loans_csv(tmp_path / "elsewhere" / "loans.csv")
    rel = {"dotdot": os.path.relpath(outside, project), "absolute": str(outside),
           "symlink": "data/loans.csv", "symlinked-folder": "data/linked/loans.csv"}[how]
    if how == "symlink":
        (project / "data").mkdir(exist_ok=True)
        (project / rel).symlink_to(outside)
    if how == "symlinked-folder":
        (project / "data").mkdir(exist_ok=True)
        (project / "data" / "linked").symlink_to(outside.parent, target_is_directory=True)
    set_source(project, f"kind: csv\npath: {rel}\nparse_dates: [applied_at]")
    stderr = refused_at_compile(cli, project, "credit.dataset.source.path", "outside the project", DATASET)
    assert "does not exist" not in stderr


def test_a_source_swapped_for_a_symlink_after_compile_is_refused_when_read(cli, project: Path, tmp_path: Path) -> None:
    source = loans_csv(project / "data" / "loans.csv")
    set_source(project, "kind: csv\npath: data/loans.csv\nparse_dates: [applied_at]")
    cli(["compile"], project)
    source.unlink()
    source.symlink_to(loans_csv(tmp_path / "elsewhere" / "loans.csv"))
    ran = cli(["run", "ingest", "credit"], project, check=False)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert "outside the project" in ran.stderr and "data/loans.csv" in ran.stderr
    assert not (project / "data" / "credit" / "raw.parquet").exists()


def link_a_part_out(root: Path, outside: Path) -> None:
    parts = root / "data" / "parts"
    parts.mkdir(parents=True)
    frame = generate_loans(100, seed=2)
    write_parquet(parts / "a.parquet", frame)
    write_parquet(outside / "b.parquet", frame)
    (parts / "b.parquet").symlink_to(outside / "b.parquet")


@pytest.mark.parametrize("layout", ["folder", "glob"])
def test_a_parquet_part_linked_out_of_the_project_is_refused_when_read(layout: str, tmp_path: Path) -> None:
    root = tmp_path / "project"
    link_a_part_out(root, tmp_path)
    path = "data/parts" if layout == "folder" else "data/parts/*.parquet"
    with pytest.raises(SourceError, match="outside the project"):
        read_source({"kind": "parquet", "path": path}, root)


def test_a_parquet_part_linked_out_of_the_project_is_refused_at_compile(cli, project: Path, tmp_path: Path) -> None:
    link_a_part_out(project, tmp_path)
    set_source(project, "kind: parquet\npath: data/parts/*.parquet")
    refused_at_compile(cli, project, "credit.dataset.source.path", "b.parquet", "outside the project")


def test_a_sqlite_file_outside_the_project_is_named_outside(cli, project: Path, tmp_path: Path) -> None:
    database = loans_db(tmp_path / "elsewhere" / "loans.db")
    (project / "data").mkdir(exist_ok=True)
    (project / "data" / "loans.db").symlink_to(database)
    set_source(project, "kind: sql\npath: data/loans.db\nquery: SELECT * FROM loans\nparse_dates: [applied_at]")
    refused_at_compile(cli, project, "credit.dataset.source.path", "outside the project")
    with pytest.raises(SourceError, match="outside the project"):
        read_source({"kind": "sql", "path": "data/loans.db", "query": "SELECT * FROM loans"}, project)


@pytest.mark.parametrize(("query", "words"), [
    ("DELETE FROM loans", ["DELETE"]),
    ("SELECT 1; DROP TABLE loans", ["2 statements"]),
    ("WITH x AS (DELETE FROM loans RETURNING *) SELECT * FROM x", ["DELETE"]),
    ("SELECT * FROM laons", ["laons", "tables: loans"]),
], ids=["delete", "second-statement", "writing-cte", "missing-table"])
def test_a_bad_query_is_refused_at_compile_naming_the_key_and_file(query: str, words: list[str], cli, project: Path) -> None:
    database = loans_db(project / "data" / "loans.db")
    before = database.read_bytes()
    set_source(project, f"kind: sql\npath: data/loans.db\nquery: \"{query}\"\nparse_dates: [applied_at]")
    refused_at_compile(cli, project, "credit.dataset.source.query", DATASET, *words)
    assert database.read_bytes() == before


def test_a_good_query_compiles_and_reads(cli, project: Path) -> None:
    loans_db(project / "data" / "loans.db")
    set_source(project, "kind: sql\npath: data/loans.db\nquery: \"SELECT * FROM loans WHERE region != 'a;b' -- all\"\n"
                        "parse_dates: [applied_at]")
    cli(["compile"], project)
    ran = cli(["run", "ingest", "credit"], project)
    assert "300" in ran.stdout
