"""Config rules compile applies before anything runs: the generator's time window (shared with the generator),
schema rules no value can pass, a glob over the project root, a SQL url that is no URL, empty group files and
an unterminated interpolation (named by its key and file)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from driftline.config.checks import sql_url_problem
from driftline.config.compose import ComposeError, compose_pipeline
from driftline.config.errors import KeyedErrors
from driftline.config.groups import ColumnSpec, GeneratorSource, glob_searches_root, time_window
from driftline.data.generator import generate_loans


def test_time_window_reads_iso_dates_and_times() -> None:
    assert time_window("2024-01-01", "2024-01-02T06:30") == (datetime(2024, 1, 1), datetime(2024, 1, 2, 6, 30))


@pytest.mark.parametrize(
    ("start", "end", "key", "words"),
    [
        ("the beginning", "2025-01-01", "start", "not a date"),
        ("2024-01-01", "soon", "end", "not a date"),
        ("2027-01-01", "2025-12-31", "start", "must be before end"),
        ("2025-01-01", "2025-01-01", "start", "must be before end"),
        ("2024-01-01T00:00+02:00", "2025-01-01", "start", "time zone"),
    ],
    ids=["start-not-a-date", "end-not-a-date", "start-after-end", "empty-window", "time-zone"],
)
def test_time_window_names_the_key_at_fault(start: str, end: str, key: str, words: str) -> None:
    with pytest.raises(KeyedErrors) as caught:
        time_window(start, end)
    assert [k for k, _ in caught.value.errors] == [key]
    assert words in caught.value.errors[0][1]


def test_generator_source_and_generator_apply_the_same_window_rule() -> None:
    with pytest.raises(ValidationError, match="must be before end"):
        GeneratorSource(kind="generator", start="2027-01-01", end="2025-12-31")
    with pytest.raises(ValueError, match="must be before end"):
        generate_loans(rows=10, start="2027-01-01", end="2025-12-31")
    frame = generate_loans(rows=50, seed=1, start="2024-03-01", end="2024-03-02")
    assert frame["applied_at"].min() >= datetime(2024, 3, 1) and frame["applied_at"].max() < datetime(2024, 3, 2)


@pytest.mark.parametrize(
    ("spec", "key"),
    [({"dtype": "int", "ge": 100, "le": 18}, "ge"), ({"dtype": "category", "isin": []}, "isin")],
    ids=["ge-above-le", "isin-empty"],
)
def test_a_schema_rule_no_value_can_pass_is_refused(spec: dict, key: str) -> None:
    with pytest.raises(ValidationError, match="no value can pass") as caught:
        ColumnSpec(**spec)
    keyed = caught.value.errors()[0]["ctx"]["error"]
    assert [k for k, _ in keyed.errors] == [key]


def test_schema_rules_any_value_can_pass_are_kept() -> None:
    assert ColumnSpec(dtype="int", ge=18, le=18).ge == 18
    assert ColumnSpec(dtype="category", isin=["a"]).isin == ["a"]


@pytest.mark.parametrize(("path", "root"), [("*.parquet", True), ("./*.parquet", True), ("data/*.parquet", False),
                                            ("data/parts", False), ("x.parquet", False)])
def test_glob_searches_root(path: str, root: bool) -> None:
    assert glob_searches_root(path) is root


@pytest.mark.parametrize("url", ["sqlite:///data/x.sqlite", "postgresql+psycopg://u:${oc.env:PW}@db/loans",
                                 "${oc.env:DATABASE_URL}", "${oc.env:DATABASE_URL,sqlite:///x.db}"])
def test_sql_url_accepted(url: str) -> None:
    assert sql_url_problem(url) is None


def test_sql_url_refused_and_a_password_never_shown() -> None:
    assert "not a SQLAlchemy URL: not a url at all" in (sql_url_problem("not a url at all") or "")
    problem = sql_url_problem("db.internal:5432 scorer:s3cr3t@loans") or ""
    assert "not a SQLAlchemy URL" in problem and "s3cr3t" not in problem


def _project(root: Path, pipeline: str, groups: dict[str, str]) -> Path:
    (root / "pipelines").mkdir(parents=True)
    (root / "pipelines" / "p.yaml").write_text(pipeline, encoding="utf-8")
    for rel, text in groups.items():
        (root / "conf" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "conf" / rel).write_text(text, encoding="utf-8")
    return root


PIPELINE = "defaults:\n  - /gate: default\n  - _self_\ntask: binary\n"


@pytest.mark.parametrize("text", ["", "# all defaults\n", "null\n"], ids=["no-bytes", "only-comments", "null"])
def test_an_empty_group_file_is_named(tmp_path: Path, text: str) -> None:
    root = _project(tmp_path, PIPELINE, {"gate/default.yaml": text})
    with pytest.raises(ComposeError) as caught:
        compose_pipeline(root, "p")
    problem = caught.value.problem
    assert (problem.key, problem.file) == ("gate", "conf/gate/default.yaml") and "is empty" in problem.message


def test_a_group_file_of_an_empty_mapping_takes_every_default(tmp_path: Path) -> None:
    root = _project(tmp_path, PIPELINE, {"gate/default.yaml": "{}\n"})
    assert compose_pipeline(root, "p").data == {"gate": {}, "task": "binary"}


@pytest.mark.parametrize(
    ("pipeline", "group", "key", "file"),
    [(PIPELINE + "threshold: ${gate.x\n", "test: auto\n", "threshold", "pipelines/p.yaml"),
     (PIPELINE, "test: ${oops\n", "gate.test", "conf/gate/default.yaml")],
    ids=["in-the-pipeline", "in-a-group-file"],
)
def test_an_unterminated_interpolation_is_named_by_key_and_file(tmp_path: Path, pipeline: str, group: str, key: str, file: str) -> None:
    root = _project(tmp_path, pipeline, {"gate/default.yaml": group})
    with pytest.raises(ComposeError) as caught:
        compose_pipeline(root, "p")
    problem = caught.value.problem
    assert (problem.key, problem.file) == (key, file) and "cannot parse the interpolation" in problem.message
