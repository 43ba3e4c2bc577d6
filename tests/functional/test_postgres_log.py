"""The prediction log on PostgreSQL (`serve.log.url`): a real server on 127.0.0.1 (tests/functional/postgres.py).

- The same decisions written to SQLite and to PostgreSQL answer the same queries on the same tables and
  views, and read back the same through `read_decisions`, `read_decision` and `known`.
- Two `driftline serve` processes (two "hosts", each on its own port) write one PostgreSQL log at once
  under load: every decision a client got a 2xx answer for is in the log exactly once.
- Label import, the monitor's export of served decisions and `driftline audit trace` find that log
  through the pipeline's config.
- A URL with a password is refused at compile time, naming the key; DRIFTLINE_LOG_URL overrides the key.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pandas as pd
import pytest

from driftline.predictions.log import (
    LoggedRequest,
    log_location,
    log_path,
    open_log,
    read_decision,
    read_decisions,
)
from tests.conftest import commit_all, run_cli
from tests.functional.postgres import PostgresServer
from tests.functional.test_serve import Server, start_server, stop_server, test_records

HOSTS = 2
THREADS_PER_HOST = 4
REQUESTS_PER_THREAD = 75  # 2 hosts x 4 threads x 75 = 600 requests, 1 to 3 decisions each


def use_log_url(root: Path, url: str) -> None:
    """Point the project's credit pipeline at `url` (serve.log.url), compile and commit, as a user would."""
    path = root / "pipelines/credit.yaml"
    path.write_text(path.read_text() + f"serve:\n  log:\n    url: {url}\n")
    run_cli(["compile"], root)
    commit_all(root, "shared prediction log")


# ----------------------------------------------------------------------------- 1: one layout, two backends


def sample_requests() -> list[LoggedRequest]:
    """Three requests as the endpoint logs them: with and without record ids and reason codes, one multiclass-like."""
    def entry(batch: str, records: list[dict], outputs: list[dict], ids: list | None, reasons: list | None) -> LoggedRequest:
        return LoggedRequest(batch_id=batch, time=f"2026-12-01T10:00:0{int(batch[0] == 'c')}.250+00:00", model_version="v0007", size=len(records),
                             inputs=orjson.dumps(records).decode(), outputs=orjson.dumps(outputs).decode(),
                             record_ids=None if ids is None else orjson.dumps(ids).decode(),
                             reasons=None if reasons is None else orjson.dumps(reasons).decode())

    return [
        entry("a" * 32, [{"income": 52000.5, "region": "north", "age": 41}, {"income": None, "region": "é ü", "age": 19}],
              [{"score": 0.12, "prediction": 0}, {"score": 0.81, "prediction": 1}], ["app-1", 17],
              [None, [{"feature": "age", "value": 19, "input": 19, "contribution": 0.4}]]),
        entry("b" * 32, [{"income": 1.0, "region": "south", "age": 70}], [{"score": 0.5, "prediction": 1}], None, None),
        entry("c" * 32, [{"x": 1}, {"x": 2}, {"x": 3}],
              [{"score": 0.7, "prediction": "B", "scores": {"A": 0.2, "B": 0.7, "C": 0.1}}] * 3, [None, "k", None], None),
    ]


QUERIES = [
    "SELECT request_id, time, pipeline, model_version, record_id, inputs, outputs, reasons, batch_id, position "
    "FROM predictions ORDER BY batch_id, position",
    "SELECT request_id, label, label_time, record_id FROM labelled_predictions ORDER BY request_id",
    "SELECT batch_id, time, pipeline, model_version, size, record_ids, inputs, outputs, reasons FROM requests ORDER BY batch_id",
    "SELECT request_id, label, source FROM labels ORDER BY request_id",
    "SELECT count(*) FROM predictions WHERE reasons IS NULL",
    "SELECT count(*) FROM predictions WHERE record_id IS NULL",
]


def comparable(rows: list[tuple]) -> list[tuple]:
    """Rows with JSON text parsed: SQLite hands back JSON as it was written, PostgreSQL as JSONB prints it."""
    def value(cell: object) -> object:
        if isinstance(cell, str):
            try:
                return orjson.loads(cell)
            except orjson.JSONDecodeError:
                return cell
        return cell

    return [tuple(value(c) for c in row) for row in rows]


def test_sqlite_and_postgres_answer_the_same_queries(postgres: PostgresServer, tmp_path: Path) -> None:
    url = postgres.new_database("same_answers")
    sqlite_path = tmp_path / "predictions.sqlite"
    logs = {"sqlite": open_log(sqlite_path), "postgresql": open_log(url)}
    try:
        for log in logs.values():
            for entry in sample_requests():
                log.record(entry, "credit")
            log.add_labels([("a" * 32 + "-1", 1), ("c" * 32 + "-2", "B"), ("b" * 32 + "-0", 0)], source="test")
            log.add_labels([("b" * 32 + "-0", 1)], source="later")  # a later label replaces the earlier
        answers = {name: [comparable(log.query(sql)) for sql in QUERIES] for name, log in logs.items()}
        asked = ["a" * 32 + "-0", "a" * 32 + "-2", "c" * 32 + "-2", "nope", "d" * 32 + "-0"]
        known = {name: log.known(asked) for name, log in logs.items()}
        record_ids = {name: [r[0] for r in log.query("SELECT record_id FROM predictions ORDER BY batch_id, position")]
                      for name, log in logs.items()}
    finally:
        for log in logs.values():
            log.close()

    label_time = {name: a[1][0][2] for name, a in answers.items()}  # stamped at import: differs by milliseconds
    for name in answers:
        answers[name][1] = [(rid, label, None, record) for rid, label, _, record in answers[name][1]]
    assert all(label_time.values())
    assert answers["postgresql"] == answers["sqlite"]
    predictions = answers["sqlite"][0]
    assert [p[0] for p in predictions] == [f"{b * 32}-{i}" for b, n in (("a", 2), ("b", 1), ("c", 3)) for i in range(n)]
    assert predictions[1][7][0]["feature"] == "age" and predictions[0][7] is None, "reason codes per decision"
    assert record_ids["postgresql"] == record_ids["sqlite"] == ["app-1", "17", None, None, "k", None], "record ids as text"
    assert answers["sqlite"][3] == [("a" * 32 + "-1", 1, "test"), ("b" * 32 + "-0", 1, "later"), ("c" * 32 + "-2", "B", "test")]
    assert known["postgresql"] == known["sqlite"] == {"a" * 32 + "-0", "c" * 32 + "-2"}

    frames = {name: read_decisions(where) for name, where in (("sqlite", sqlite_path), ("postgresql", url))}
    pd.testing.assert_frame_equal(frames["postgresql"], frames["sqlite"])  # records kept as sent: same columns, same order
    assert len(frames["sqlite"]) == 6 and frames["sqlite"]["label"].notna().sum() == 3
    since = {name: len(read_decisions(where, since="2026-12-01T10:00:01")) for name, where in (("sqlite", sqlite_path), ("postgresql", url))}
    assert since == {"sqlite": 3, "postgresql": 3}
    def decision(where: object, request_id: str) -> dict | None:
        found = read_decision(where, request_id)
        if found is not None and found["label"] is not None:
            found["label"].pop("time")  # stamped at import
        return found

    for request_id in [*asked, "a" * 32 + "-1", "c" * 32 + "-2"]:
        assert decision(url, request_id) == decision(sqlite_path, request_id)
    assert read_decision(url, "a" * 32 + "-1")["label"]["label"] == 1


def test_a_log_url_with_a_password_is_refused_naming_the_key(project: Path) -> None:
    path = project / "pipelines/credit.yaml"
    path.write_text(path.read_text() + "serve:\n  log:\n    url: postgresql://app:s3cret@db.internal:5432/decisions\n")
    before = (project / "params.yaml").read_text()
    ran = run_cli(["compile"], project, check=False)
    assert ran.returncode != 0
    assert "serve.log.url" in ran.stderr and "PGPASSWORD" in ran.stderr and "s3cret" not in ran.stderr
    assert (project / "params.yaml").read_text() == before, "nothing written"


def test_the_environment_overrides_the_configured_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DRIFTLINE_LOG_URL", raising=False)
    assert log_location(tmp_path, "credit", None) == log_path(tmp_path, "credit")
    assert log_location(tmp_path, "credit", "postgresql://a@h/db") == "postgresql://a@h/db"
    monkeypatch.setenv("DRIFTLINE_LOG_URL", "postgresql+psycopg://ops@10.0.0.9:6432/shared")
    assert log_location(tmp_path, "credit", None) == "postgresql+psycopg://ops@10.0.0.9:6432/shared"
    monkeypatch.setenv("DRIFTLINE_LOG_URL", "postgresql://ops:pw@10.0.0.9/shared")
    from driftline.predictions.log import PredictionLogError

    with pytest.raises(PredictionLogError, match="DRIFTLINE_LOG_URL.*PGPASSWORD"):
        log_location(tmp_path, "credit", None)


@pytest.mark.parametrize("url, problem", [
    ("postgresql://app:s3cret@db:5432/decisions", "password"),
    ("postgresql://app@db:5432/decisions?password=s3cret", "password"),
    ("postgresql://app@db:5432/", "names no database"),
    ("mysql://app@db/decisions", "not a PostgreSQL URL"),
    ("sqlite:///logs/x.sqlite", "not a PostgreSQL URL"),
], ids=["userinfo-password", "query-password", "no-database", "mysql", "sqlite-url"])
def test_log_urls_that_are_refused(url: str, problem: str) -> None:
    from pydantic import ValidationError

    from driftline.config.serve import ServeLogSpec

    with pytest.raises(ValidationError, match=problem) as caught:
        ServeLogSpec(url=url)
    assert "s3cret" not in caught.value.errors()[0]["msg"], "the message never repeats a password (compile prints it)"
    assert ServeLogSpec(url=" postgresql+psycopg://app@db:6432/decisions?sslmode=verify-full ").url == \
        "postgresql+psycopg://app@db:6432/decisions?sslmode=verify-full"


# ----------------------------------------------------------------------------- 2: two hosts, one log


@dataclass
class SharedLog:
    root: Path
    url: str
    answered: dict[str, str]  # request_id -> the host that answered it (2xx only)
    failures: list[str]  # non-2xx answers or transport errors, described
    server_logs: list[str]


def hammer(server: Server, records: list[dict], answered: dict[str, str], failures: list[str], lock: threading.Lock,
           thread: int) -> None:
    """REQUESTS_PER_THREAD requests of 1 to 3 records on one keep-alive connection."""
    with server.client() as client:
        for i in range(REQUESTS_PER_THREAD):
            start = (thread * REQUESTS_PER_THREAD + i) % (len(records) - 3)
            sent = [{**record, "application_id": f"{server.url[-5:]}-{thread}-{i}-{k}"}  # unique, as the schema wants
                    for k, record in enumerate(records[start : start + 1 + i % 3])]
            body = {"records": sent, "explain": "declined" if i % 2 else "none"}
            try:
                response = client.post("/v1/predict", json=body)
            except httpx.HTTPError as exc:
                with lock:
                    failures.append(f"{server.url}: {exc!r}")
                continue
            with lock:
                if response.is_success:
                    for decision in response.json()["predictions"]:
                        answered[decision["request_id"]] = server.url
                else:
                    failures.append(f"{server.url}: {response.status_code} {response.text[:200]}")


@pytest.fixture(scope="module")
def shared_log(projects, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedLog]:
    """Two serving processes on one project, both logging to one PostgreSQL database, after 600 concurrent requests."""
    root = projects.reproduced(tmp_path_factory.mktemp("shared") / "proj")
    url = postgres.new_database("two_hosts")
    use_log_url(root, url)
    servers = [start_server(root, "--poll", "0") for _ in range(HOSTS)]
    answered: dict[str, str] = {}
    failures: list[str] = []
    lock = threading.Lock()
    try:
        records = test_records(root, 200)
        threads = [threading.Thread(target=hammer, args=(server, records, answered, failures, lock, t))
                   for server in servers for t in range(THREADS_PER_HOST)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for server in servers:
            stop_server(server)
    yield SharedLog(root, url, answered, failures, [server.log.read_text() for server in servers])


def test_two_hosts_writing_one_log_lose_no_decision(shared_log: SharedLog) -> None:
    assert not shared_log.failures, shared_log.failures[:5]
    hosts = set(shared_log.answered.values())
    assert len(hosts) == HOSTS, "both hosts answered"
    assert len(shared_log.answered) > HOSTS * THREADS_PER_HOST * REQUESTS_PER_THREAD  # batches of 1-3 records
    for text in shared_log.server_logs:
        assert f"decisions logged to {shared_log.url}" in text
    assert not log_path(shared_log.root, "credit").exists(), "nothing went to the SQLite file"

    log = open_log(shared_log.url)
    try:
        rows = log.query("SELECT request_id, count(*) FROM predictions GROUP BY request_id")
        requests = log.query("SELECT count(*), count(DISTINCT batch_id), sum(size) FROM requests")[0]
        sync = log.query("SHOW synchronous_commit")[0][0]
        compression = log.query("SELECT attcompression FROM pg_attribute WHERE attrelid = 'requests'::regclass "
                                "AND attname = 'inputs'")[0][0]
    finally:
        log.close()
    counts = dict(rows)
    assert set(counts) == set(shared_log.answered), "every answered decision is logged, and nothing else"
    assert set(counts.values()) == {1}, "each exactly once"
    assert requests[0] == requests[1] == HOSTS * THREADS_PER_HOST * REQUESTS_PER_THREAD and requests[2] == len(counts)
    assert sync == "on", "a commit returns once the WAL is on disk"
    assert compression == "l", "Debian's server has lz4, and the log uses it"


def test_label_import_monitor_export_and_trace_use_the_shared_log(shared_log: SharedLog, tmp_path: Path) -> None:
    root, url = shared_log.root, shared_log.url
    labelled = sorted(shared_log.answered)[::2]
    csv = tmp_path / "labels.csv"
    csv.write_text("request_id,label\n" + "".join(f"{rid},{i % 2}\n" for i, rid in enumerate(labelled)) + f"{'e' * 32}-0,1\n")
    imported = run_cli(["labels", "import", "credit", str(csv)], root)
    assert f"{len(labelled)} label(s) joined" in imported.stdout and "1 request id(s) not in the prediction log" in imported.stderr
    frame = read_decisions(url, pipeline="credit")
    assert len(frame) == len(shared_log.answered) and frame["label"].notna().sum() == len(labelled)

    monitored = run_cli(["run", "monitor", "credit"], root)
    batch = pd.read_parquet(root / "data/credit/incoming/batch-0001.parquet")
    assert len(batch) == len(shared_log.answered), monitored.stdout
    assert batch["default"].notna().sum() == len(labelled)
    report = json.loads((root / "reports/credit/drift.json").read_text())
    assert report["current"]["rows"] == len(shared_log.answered) and report["current"]["labelled_rows"] == len(labelled)

    request_id = labelled[1]  # labelled 1
    trace = run_cli(["audit", "trace", request_id, "--json"], root).stdout
    traced = json.loads(trace)
    assert traced["decision"]["log"] == url and traced["decision"]["request_id"] == request_id
    assert traced["decision"]["label"]["label"] == 1 and traced["decision"]["label"]["source"] == "import:labels.csv"
    assert traced["model"]["version"] == traced["decision"]["model_version"] == "v0001"
    text = run_cli(["audit", "trace", request_id], root).stdout
    assert f"Decision {request_id}" in text and "ground truth: 1 (from import:labels.csv" in text
    missing = run_cli(["audit", "trace", "f" * 32 + "-0"], root, check=False)
    assert missing.returncode == 1 and url in missing.stderr


def test_a_decision_whose_commit_fails_is_never_answered(projects, postgres: PostgresServer, tmp_path: Path) -> None:
    import psycopg

    root = projects.reproduced(tmp_path / "proj")
    url = postgres.new_database("failing_commit")
    use_log_url(root, url)
    server = start_server(root, "--poll", "0")
    admin = psycopg.connect(host=postgres.host, port=postgres.port, user=postgres.user, dbname="failing_commit", autocommit=True)
    try:
        records = test_records(root, 2)
        with server.client() as client:
            before = client.post("/v1/predict", json={"records": records})
            admin.execute("ALTER TABLE requests ADD CONSTRAINT refuse_all CHECK (size < 0) NOT VALID")
            refused = client.post("/v1/predict", json={"records": records})
            admin.execute("ALTER TABLE requests DROP CONSTRAINT refuse_all")
            after = client.post("/v1/predict", json={"records": records})
        logged = {row[0] for row in admin.execute("SELECT request_id FROM predictions")}
    finally:
        admin.close()
        stop_server(server)
    assert before.status_code == 200 and after.status_code == 200
    assert refused.status_code == 500 and "predictions" not in refused.json()
    answered = {d["request_id"] for response in (before, after) for d in response.json()["predictions"]}
    assert logged == answered
    assert "refuse_all" in server.log.read_text(), "the server's log says why"
