"""The rules compile and the stages share: one read-only SQL query (sqlglot), no password in clear, LightGBM ranges."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from driftline.config.checks import literal_secrets, query_tables, read_only_query_problem, sql_dialect
from driftline.config.model import LightGBMParams, lightgbm_param_aliases, lightgbm_param_ranges
from driftline.config.params import ParamsError, resolve_env

DIALECTS = ["sqlite", "postgres", "mysql", None]  # None: a URL from the environment, dialect unknown at compile

REFUSED = {
    "dollar-quoted-second-statement": "SELECT $$'$$; DELETE FROM loans; --'",
    "e-string-second-statement": "SELECT E'\\''; DELETE FROM loans",
    "mysql-executable-comment": "SELECT 1 /*! ; delete from loans */",
    "mysql-versioned-executable-comment": "SELECT 1 /*!50000 ; DROP TABLE loans */",
    "data-modifying-cte": "WITH x AS (DELETE FROM loans RETURNING *) SELECT * FROM x",
    "delete": "DELETE FROM loans",
    "insert-select": "INSERT INTO t SELECT * FROM loans",
    "update": "UPDATE loans SET amount = 0",
    "drop": "DROP TABLE loans",
    "second-statement": "SELECT 1; SELECT 2",
    "select-into": "SELECT * INTO copy FROM loans",
    "into-outfile": "SELECT * FROM loans INTO OUTFILE '/tmp/x'",
    "for-update": "SELECT * FROM loans FOR UPDATE",
    "pragma": "PRAGMA writable_schema = 1",
    "attach": "ATTACH DATABASE 'other.db' AS other",
    "empty": "",
    "only-a-comment": "-- nothing here",
}

ACCEPTED = {
    "semicolon-in-string": "SELECT 'a;b' AS s, amount FROM loans WHERE region = 'north; DELETE FROM loans'",
    "comments": "/* regions; all */ SELECT region -- the region; really\nFROM loans",
    "cte-join": "WITH big AS (SELECT * FROM loans WHERE amount > 100) SELECT b.id, r.name FROM big b JOIN regions r ON b.region = r.id",
    "union": "SELECT id FROM loans UNION ALL SELECT id FROM archive",
    "trailing-semicolon": "SELECT * FROM loans;",
    "bound-parameter": "SELECT * FROM loans WHERE region = :region",
    "quoted-keyword-column": 'SELECT "into", "delete" FROM loans',
}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("query", REFUSED.values(), ids=REFUSED.keys())
def test_anything_but_one_read_query_is_refused(query: str, dialect: str | None) -> None:
    assert read_only_query_problem(query, dialect) is not None


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("query", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_ordinary_read_queries_are_accepted(query: str, dialect: str | None) -> None:
    assert read_only_query_problem(query, dialect) is None


def test_the_message_says_what_was_found() -> None:
    assert "2 statements" in read_only_query_problem("SELECT $$'$$; DELETE FROM loans; --'", "postgres")
    assert "DELETE" in read_only_query_problem("WITH x AS (DELETE FROM loans RETURNING *) SELECT * FROM x", "postgres")
    assert "executable comment" in read_only_query_problem("SELECT 1 /*! ; delete from loans */", "mysql")
    assert "SELECT ... INTO" in read_only_query_problem("SELECT * INTO copy FROM loans", "sqlite")


@pytest.mark.parametrize(("url", "dialect"), [
    (None, "sqlite"), ("sqlite:///data/x.db", "sqlite"), ("postgresql+psycopg://u@h/db", "postgres"),
    ("postgresql://u@h/db", "postgres"), ("mysql+pymysql://u@h/db", "mysql"), ("${oc.env:DATABASE_URL}", None),
])
def test_the_dialect_comes_from_the_url_scheme(url: str | None, dialect: str | None) -> None:
    assert sql_dialect(url) == dialect


def test_query_tables_leave_out_cte_names() -> None:
    assert query_tables(ACCEPTED["cte-join"], "sqlite") == {"loans", "regions"}


@pytest.mark.parametrize("url", [
    "postgresql://reader:s3cret@db.internal:5432/loans",
    "mysql+pymysql://reader:s3cret@db/loans",
    "postgresql://reader:s3cret${oc.env:REST}@db/loans",
])
def test_a_password_in_clear_is_found_wherever_the_url_is(url: str) -> None:
    data = {"dataset": {"source": {"url": url}}, "notes": ["no url here"], "extra": {"urls": [url]}}
    problems = literal_secrets(data)
    assert [path for path, _ in problems] == [("dataset", "source", "url"), ("extra", "urls", 0)]
    assert all("${oc.env:" in message and "s3cret" not in message for _, message in problems)


@pytest.mark.parametrize("url", [
    "postgresql://reader:${oc.env:DB_PASSWORD}@db.internal:5432/loans",
    "${oc.env:DATABASE_URL}",
    "postgresql://reader@db/loans",
    "sqlite:///data/loans.db",
    "https://example.org/a:b@c",  # an '@' after the path is no userinfo
])
def test_references_and_urls_without_password_pass(url: str) -> None:
    assert literal_secrets({"dataset": {"source": {"url": url}}}) == []


def test_env_references_resolve_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DL_TEST_PASSWORD", "pa55")
    assert resolve_env("postgresql://u:${oc.env:DL_TEST_PASSWORD}@h/db", "k") == "postgresql://u:pa55@h/db"
    assert resolve_env("sqlite:///x.db", "k") == "sqlite:///x.db"
    monkeypatch.delenv("DL_TEST_PASSWORD")
    with pytest.raises(ParamsError, match="dataset.source.url.*DL_TEST_PASSWORD"):
        resolve_env("postgresql://u:${oc.env:DL_TEST_PASSWORD}@h/db", "dataset.source.url")


OUT_OF_RANGE = {
    "learning_rate": 0, "feature_fraction": 1.5, "bagging_fraction": 0, "lambda_l1": -1, "lambda_l2": -0.5,
    "min_gain_to_split": -1, "min_sum_hessian_in_leaf": -1, "num_leaves": 1, "max_bin": 1, "drop_rate": 2,
    "tweedie_variance_power": 2, "seed": 2**31, "top_rate": "1.5",
}


@pytest.mark.parametrize(("name", "value"), OUT_OF_RANGE.items(), ids=OUT_OF_RANGE.keys())
def test_lightgbm_values_outside_the_documented_range_are_refused(name: str, value: object) -> None:
    with pytest.raises(ValidationError, match=f"{name}.*must be"):
        LightGBMParams.model_validate({name: value})


@pytest.mark.parametrize(("alias", "value", "param"), [("subsample", 0, "bagging_fraction"), ("reg_alpha", -1, "lambda_l1"),
                                                        ("min_split_gain", -2, "min_gain_to_split"), ("eta", 0, "learning_rate")])
def test_aliases_are_checked_like_their_main_name(alias: str, value: object, param: str) -> None:
    with pytest.raises(ValidationError, match=f"{alias}: LightGBM parameter '{param}' must be .*an alias of '{param}'"):
        LightGBMParams.model_validate({alias: value})


def test_values_at_the_edges_of_the_ranges_pass() -> None:
    edges = {"learning_rate": 1e-9, "feature_fraction": 1, "bagging_fraction": 1, "lambda_l1": 0, "min_gain_to_split": 0,
             "num_leaves": 2, "drop_rate": 0, "tweedie_variance_power": 1, "max_depth": -1}
    assert LightGBMParams.model_validate(edges).to_lightgbm()["num_leaves"] == 2


def test_every_range_names_a_lightgbm_parameter() -> None:
    assert set(lightgbm_param_ranges()) <= set(lightgbm_param_aliases())
    assert len(lightgbm_param_ranges()) >= 40
