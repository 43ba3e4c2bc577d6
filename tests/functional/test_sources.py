"""Data sources: each kind reads what the config names, stays inside the project, never writes."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from driftline.atomic import write_csv, write_parquet
from driftline.data import sources
from driftline.data.generator import generate_loans
from driftline.data.sources import (
    GENERATORS,
    SOURCES,
    SourceError,
    read_source,
    resolve_inside,
    source_files,
)


@pytest.fixture()
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "amount": [1.5, 2.25, None],
            "count": [1, 2, 3],
            "day": pd.to_datetime(
                ["2024-01-01", "2024-02-15 10:30", "2024-03-31"], format="ISO8601"
            ),
        }
    )


@pytest.fixture()
def loans_db(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "loans.db"
    path.parent.mkdir()
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE loans (id TEXT, region TEXT, amount REAL, applied_at TEXT)")
        conn.executemany(
            "INSERT INTO loans VALUES (?, ?, ?, ?)",
            [
                ("a", "north", 100.0, "2024-01-01 09:00:00"),
                ("b", "south", 250.0, "2024-01-02 10:00:00"),
                ("c", "north", 75.0, "2024-01-03 11:00:00"),
            ],
        )
    conn.close()
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_registry_names_the_four_kinds() -> None:
    assert set(SOURCES) == {"generator", "csv", "parquet", "sql"}
    assert GENERATORS["loans"] is generate_loans


def test_generator_source_matches_generate_loans(tmp_path: Path) -> None:
    spec = {"kind": "generator", "generator": "loans", "rows": 500, "seed": 3,
            "start": "2024-01-01", "end": "2024-06-30", "drift": "covariate", "batch": 2}
    expected = generate_loans(500, seed=3, start="2024-01-01", end="2024-06-30",
                              drift="covariate", strength=1.0, batch=2)
    pd.testing.assert_frame_equal(read_source(spec, tmp_path), expected)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "generator", "generator": "mortgages"}, "mortgages"),
        ({"kind": "generator", "generator": "loans", "rows": 0}, "rows"),
    ],
    ids=["unknown-generator", "bad-rows"],
)
def test_generator_source_errors_are_source_errors(
    spec: dict, message: str, tmp_path: Path
) -> None:
    with pytest.raises(SourceError, match=message):
        read_source(spec, tmp_path)


def test_csv_round_trip_parses_dates(tmp_path: Path, frame: pd.DataFrame) -> None:
    write_csv(tmp_path / "data" / "raw.csv", frame)
    out = read_source({"kind": "csv", "path": "data/raw.csv", "parse_dates": ["day"]}, tmp_path)
    assert pd.api.types.is_datetime64_dtype(out["day"])
    as_ns = {"day": "datetime64[ns]"}  # the time resolution pandas infers may differ
    pd.testing.assert_frame_equal(out.astype(as_ns), frame.astype(as_ns))


def test_csv_with_other_delimiter(tmp_path: Path) -> None:
    (tmp_path / "semi.csv").write_text("a;b\n1;x\n2;y\n")
    out = read_source({"kind": "csv", "path": "semi.csv", "delimiter": ";"}, tmp_path)
    assert list(out.columns) == ["a", "b"]
    assert out["a"].tolist() == [1, 2]


def test_csv_parse_dates_names_a_missing_column(tmp_path: Path, frame: pd.DataFrame) -> None:
    write_csv(tmp_path / "raw.csv", frame)
    with pytest.raises(SourceError, match="'when'"):
        read_source({"kind": "csv", "path": "raw.csv", "parse_dates": ["when"]}, tmp_path)


def test_csv_unparseable_dates_name_the_column(tmp_path: Path) -> None:
    (tmp_path / "raw.csv").write_text("day\nsoon\nlater\n")
    with pytest.raises(SourceError, match="'day'"):
        read_source({"kind": "csv", "path": "raw.csv", "parse_dates": ["day"]}, tmp_path)


def test_parquet_round_trip_keeps_loan_dtypes(tmp_path: Path) -> None:
    loans = generate_loans(300)
    write_parquet(tmp_path / "data" / "loans.parquet", loans)
    out = read_source({"kind": "parquet", "path": "data/loans.parquet"}, tmp_path)
    pd.testing.assert_frame_equal(out, loans)


def test_unreadable_parquet_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(SourceError, match="bad.parquet"):
        read_source({"kind": "parquet", "path": "bad.parquet"}, tmp_path)


def test_sql_on_sqlite_file_with_bound_parameter(tmp_path: Path, loans_db: Path) -> None:
    spec = {
        "kind": "sql",
        "path": "data/loans.db",
        "query": "SELECT id, amount, applied_at FROM loans WHERE region = :region ORDER BY id",
        "params": {"region": "north"},
        "parse_dates": ["applied_at"],
    }
    out = read_source(spec, tmp_path)
    assert out["id"].tolist() == ["a", "c"]
    assert out["amount"].tolist() == [100.0, 75.0]
    assert out["applied_at"].tolist() == [
        pd.Timestamp("2024-01-01 09:00"),
        pd.Timestamp("2024-01-03 11:00"),
    ]


def test_sql_parameter_is_bound_not_formatted(tmp_path: Path, loans_db: Path) -> None:
    spec = {"kind": "sql", "path": "data/loans.db",
            "query": "SELECT id FROM loans WHERE region = :region",
            "params": {"region": "north' OR '1'='1"}}
    assert read_source(spec, tmp_path).empty


def test_sql_by_url(tmp_path: Path, loans_db: Path) -> None:
    query = "SELECT count(*) AS n FROM loans"
    spec = {"kind": "sql", "url": f"sqlite:///{loans_db}", "query": query}
    assert read_source(spec, tmp_path)["n"].tolist() == [3]


def test_sql_keywords_inside_strings_and_comments_are_allowed(
    tmp_path: Path, loans_db: Path
) -> None:
    query = "SELECT id FROM loans -- update this later\nWHERE region <> 'delete; me'"
    out = read_source({"kind": "sql", "path": "data/loans.db", "query": query}, tmp_path)
    assert len(out) == 3


@pytest.mark.parametrize(
    "query",
    [
        "UPDATE loans SET amount = 0",
        "DELETE FROM loans",
        "select 1; DELETE FROM loans",
        "WITH gone AS (DELETE FROM loans RETURNING *) SELECT * FROM gone",
        "SELECT * INTO backup FROM loans",
        "DROP TABLE loans",
        "PRAGMA journal_mode = WAL",
    ],
    ids=["update", "delete", "stacked", "modifying-cte", "select-into", "drop", "pragma"],
)
@pytest.mark.parametrize("target", ["path", "url"])
def test_sql_refuses_writes_and_leaves_database_unchanged(
    query: str, target: str, tmp_path: Path, loans_db: Path
) -> None:
    before = _digest(loans_db)
    where = {"path": "data/loans.db"} if target == "path" else {"url": f"sqlite:///{loans_db}"}
    with pytest.raises(SourceError):
        read_source({"kind": "sql", "query": query, **where}, tmp_path)
    assert _digest(loans_db) == before


@pytest.mark.parametrize("target", ["path", "url"])
def test_sql_connection_is_read_only_even_past_the_query_check(
    target: str, tmp_path: Path, loans_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "check_read_only_query", lambda query, dialect=None: None)
    before = _digest(loans_db)
    where = {"path": "data/loans.db"} if target == "path" else {"url": f"sqlite:///{loans_db}"}
    with pytest.raises(SourceError, match="readonly|read-only|query_only"):
        read_source({"kind": "sql", "query": "DELETE FROM loans", **where}, tmp_path)
    assert _digest(loans_db) == before


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "sql", "query": "SELECT 1"},
        {"kind": "sql", "query": "SELECT 1", "path": "data/loans.db", "url": "sqlite://"},
    ],
    ids=["neither", "both"],
)
def test_sql_needs_exactly_one_of_url_and_path(spec: dict, tmp_path: Path, loans_db: Path) -> None:
    with pytest.raises(SourceError, match="exactly one"):
        read_source(spec, tmp_path)


def test_sql_error_hides_the_password(tmp_path: Path) -> None:
    spec = {"kind": "sql", "url": "sqlite://user:s3cret@host/db", "query": "SELECT 1"}
    with pytest.raises(SourceError) as caught:
        read_source(spec, tmp_path)
    assert "s3cret" not in str(caught.value)


def test_sql_failing_query_is_a_source_error(tmp_path: Path, loans_db: Path) -> None:
    spec = {"kind": "sql", "path": "data/loans.db", "query": "SELECT nope FROM loans"}
    with pytest.raises(SourceError, match="data/loans.db"):
        read_source(spec, tmp_path)


@pytest.mark.parametrize("rel", ["../outside.csv", "data/../../outside.csv"])
def test_relative_path_escaping_root_is_refused(rel: str, tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (tmp_path / "outside.csv").write_text("a\n1\n")
    with pytest.raises(SourceError, match="outside.csv"):
        read_source({"kind": "csv", "path": rel}, root)


def test_absolute_path_outside_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n")
    with pytest.raises(SourceError, match="outside the project"):
        resolve_inside(root, str(outside), "csv source")


def test_absolute_path_inside_root_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "inside.csv").write_text("a\n1\n")
    assert resolve_inside(tmp_path, str(tmp_path / "inside.csv"), "csv") == tmp_path / "inside.csv"


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="data/nowhere.parquet"):
        read_source({"kind": "parquet", "path": "data/nowhere.parquet"}, tmp_path)


def test_source_files_refuses_a_path_leaving_the_project() -> None:
    with pytest.raises(SourceError, match="../raw.csv"):
        source_files({"kind": "csv", "path": "data/../../raw.csv"})


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="'excel'"):
        read_source({"kind": "excel", "path": "x.xlsx"}, tmp_path)
    with pytest.raises(SourceError, match="'excel'"):
        source_files({"kind": "excel", "path": "x.xlsx"})


@pytest.mark.parametrize(
    ("spec", "files"),
    [
        ({"kind": "csv", "path": "data/raw.csv"}, ["data/raw.csv"]),
        ({"kind": "csv", "path": "./data/../data/raw.csv"}, ["data/raw.csv"]),
        ({"kind": "parquet", "path": "data/raw.parquet"}, ["data/raw.parquet"]),
        ({"kind": "sql", "path": "data/loans.db", "query": "SELECT 1"}, ["data/loans.db"]),
        ({"kind": "sql", "url": "postgresql://db.example/loans", "query": "SELECT 1"}, []),
        ({"kind": "generator", "generator": "loans", "rows": 10}, []),
    ],
    ids=["csv", "csv-dot", "parquet", "sqlite-path", "sql-url", "generator"],
)
def test_source_files_lists_what_dvc_should_track(spec: dict, files: list[str]) -> None:
    assert source_files(spec) == files
