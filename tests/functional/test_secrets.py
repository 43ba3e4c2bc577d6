"""A database password never reaches a committed file: compile refuses one in clear, and keeps `${oc.env:VAR}` unresolved.

The PostgreSQL server (tests/functional/postgres.py) gets a role that must log in with a password
(scram-sha-256 for that role only), so the password really travels from the environment to the server
when the ingest stage reads; params.yaml, dvc.yaml, dvc.lock and the audit log hold only the reference.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftline.data.generator import generate_loans
from tests.functional.postgres import PostgresServer, _run, bin_dir
from tests.functional.test_confinement import DATASET, set_source

ROLE = "dl_reader"
PASSWORD = "Zq7-not-in-any-file-4471"
VARIABLE = "DL_TEST_PG_PASSWORD"
ROWS = 300
COMMITTED = ("params.yaml", "dvc.yaml", "dvc.lock", "audit/log.jsonl")


@pytest.fixture(scope="module")
def loans_url(postgres: PostgresServer) -> str:
    """A database holding `loans`, readable by a role that needs its password; its URL with a reference to it."""
    import sqlalchemy as sa

    admin = postgres.new_database("secret_loans")
    engine = sa.create_engine(admin.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        generate_loans(ROWS, seed=1).to_sql("loans", conn, index=False)
        conn.exec_driver_sql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        conn.exec_driver_sql(f"GRANT SELECT ON loans TO {ROLE}")
    engine.dispose()
    hba = postgres.folder / "data" / "pg_hba.conf"  # first match wins: this role alone must give its password
    hba.write_text(f"host all {ROLE} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    _run([str(bin_dir() / "pg_ctl"), "-D", str(postgres.folder / "data"), "reload"], as_server=True)
    database = admin.rsplit("/", 1)[1]
    return f"postgresql+psycopg://{ROLE}:${{oc.env:{VARIABLE}}}@{postgres.host}:{postgres.port}/{database}"


def use_source(root: Path, url: str) -> None:
    set_source(root, f"kind: sql\nurl: \"{url}\"\nquery: SELECT * FROM loans\nparse_dates: [applied_at]")


def test_a_password_in_clear_is_refused_at_compile_naming_the_key(cli, project: Path) -> None:
    use_source(project, f"postgresql+psycopg://{ROLE}:{PASSWORD}@db.internal:5432/loans")
    before = (project / "params.yaml").read_bytes()
    ran = cli(["compile"], project, check=False)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr
    for words in ("credit.dataset.source.url", "password in clear", "${oc.env:", DATASET):
        assert words in ran.stderr
    assert PASSWORD not in ran.stdout + ran.stderr
    assert (project / "params.yaml").read_bytes() == before


def test_the_password_comes_from_the_environment_and_stays_out_of_every_file(cli, sh, project: Path, loans_url: str) -> None:
    use_source(project, loans_url)
    cli(["compile"], project)  # no password in this environment: compile does not need it
    params = (project / "params.yaml").read_text()
    assert f"${{oc.env:{VARIABLE}}}" in params, "the reference is kept, unresolved"

    sh(["dvc", "repro", "credit-ingest"], project, env={VARIABLE: PASSWORD})
    import pandas as pd

    assert len(pd.read_parquet(project / "data" / "credit" / "raw.parquet")) == ROWS
    for rel in COMMITTED:
        assert PASSWORD not in (project / rel).read_text(), f"the password is in {rel}"
    records = [json.loads(line) for line in (project / "audit" / "log.jsonl").read_text().splitlines()]
    ingest = [r for r in records if r["kind"] == "stage_run" and r["payload"]["stage"] == "credit-ingest"]
    assert ingest[-1]["payload"]["status"] == "ok"
    assert f"${{oc.env:{VARIABLE}}}" in json.dumps(ingest[-1]["payload"]["params"]), "the record holds the reference"


@pytest.mark.parametrize("password", [None, "Wrong-pw-93021"], ids=["unset", "wrong"])
def test_a_missing_or_wrong_password_fails_the_stage_and_is_not_recorded(password: str | None, cli, project: Path,
                                                                         loans_url: str) -> None:
    use_source(project, loans_url)
    cli(["compile"], project)
    ran = cli(["run", "ingest", "credit"], project, check=False, env={VARIABLE: password})
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert (VARIABLE if password is None else "password authentication failed") in ran.stderr
    log = (project / "audit" / "log.jsonl").read_text()
    assert '"status": "failed"' in log or '"status":"failed"' in log
    assert PASSWORD not in log and (password is None or password not in log + ran.stderr)
