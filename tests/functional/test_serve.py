"""`driftline serve`: a real server process on a free loopback port, called over HTTP with httpx.

The module serves its own copy of a small reproduced project. The tests that swap the champion
put v1 back when they finish, and make the v2 they swap to when it is not there yet.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

BIN = Path(sys.executable).parent  # the venv's `driftline`

THRESHOLD = 0.3  # pipelines/credit.yaml: model.threshold


@dataclass
class Server:
    root: Path
    url: str
    proc: subprocess.Popen
    log: Path

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    log = root.parent / f"serve-{port}.log"
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([str(BIN / "driftline"), "serve", "credit", "--port", str(port), *args],
                                cwd=root, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(root, f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"driftline serve exited {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.url}/v1/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise AssertionError("driftline serve did not answer within 60 s")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="module")
def serve_root(projects) -> Path:
    """The module's copy of a small project after a full `dvc repro`: credit v0001 is the champion."""
    return projects.reproduced()


@pytest.fixture(scope="module")
def server(serve_root: Path) -> Iterator[Server]:
    srv = start_server(serve_root, "--poll", "0.2")
    yield srv
    stop_server(srv)


def test_records(root: Path, n: int | None = None) -> list[dict]:
    """Test-split rows as a client would send them: JSON, without the target."""
    test = pd.read_parquet(root / "data/credit/split/test.parquet").drop(columns=["default"])
    if n is not None:
        test = test.head(n)
    return json.loads(test.to_json(orient="records", date_format="iso"))


test_records.__test__ = False  # a helper, not a test


def batch_scores(root: Path) -> pd.Series:
    """The evaluate stage's own predictions for the test split, by application id."""
    return pd.read_parquet(root / "data/credit/predictions/test.parquet").set_index("application_id")["score"]


def logged(root: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(root / "logs/credit/predictions.sqlite") as db:
        return list(db.execute(sql, params))


PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
LATENCY = "driftline_http_request_duration_seconds"


def scrape(client: httpx.Client) -> dict[str, dict[frozenset, float]]:
    """GET /metrics, parsed by prometheus_client's own parser: {sample name: {labels: value}}."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"] == PROMETHEUS_TEXT
    out: dict[str, dict[frozenset, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return out


def sample(parsed: dict, name: str, **labels: str) -> float:
    return parsed.get(name, {}).get(frozenset(labels.items()), 0.0)


def assert_histograms_cumulative(parsed: dict) -> None:
    """Per route: bucket counts never go down as `le` grows, and +Inf equals the count."""
    routes: dict[str, list[tuple[float, float]]] = {}
    for labels, n in parsed[f"{LATENCY}_bucket"].items():
        named = dict(labels)
        routes.setdefault(named["route"], []).append((float(named["le"]), n))
    assert routes
    for route, buckets in routes.items():
        counts = [n for _, n in sorted(buckets)]
        assert counts == sorted(counts), (route, counts)
        assert counts[-1] == sample(parsed, f"{LATENCY}_count", route=route), route


# ----------------------------------------------------------------------------- 1 + 3: predictions


def test_http_predictions_equal_the_evaluate_stage_batch_predictions(server: Server) -> None:
    records = test_records(server.root)
    expected = batch_scores(server.root)
    with server.client() as client:
        batch = client.post("/v1/predict", json={"records": records})
        single = [client.post("/v1/predict", json={"records": [r]}) for r in records[:5]]
    assert batch.status_code == 200, batch.text
    body = batch.json()
    assert body["model_version"] == "v0001"
    decisions = body["predictions"]
    assert [d["index"] for d in decisions] == list(range(len(records)))
    for record, decision in zip(records, decisions, strict=True):
        assert decision["id"] == record["application_id"]
        assert abs(decision["score"] - expected[record["application_id"]]) <= 1e-9
        assert decision["prediction"] == int(decision["score"] >= THRESHOLD)
        assert decision["model_version"] == "v0001"
    for response, record in zip(single, records[:5], strict=True):
        assert response.status_code == 200
        assert abs(response.json()["predictions"][0]["score"] - expected[record["application_id"]]) <= 1e-9
    ids = [d["request_id"] for d in decisions]
    assert len(set(ids)) == len(ids)
    assert all(i == f"{body['batch_id']}-{n}" for n, i in enumerate(ids)) and len(body["batch_id"]) == 32
    assert len({r.json()["batch_id"] for r in single}) == len(single)


def test_reason_codes_by_default_only_for_declined_and_on_request(server: Server) -> None:
    records = test_records(server.root, 200)
    with server.client() as client:
        default = client.post("/v1/predict", json={"records": records}).json()["predictions"]
        everyone = client.post("/v1/predict", json={"records": records, "explain": "all"}).json()["predictions"]
        nobody = client.post("/v1/predict", json={"records": records, "explain": "none"}).json()["predictions"]
    declined = [d for d in default if d["prediction"] == 1]
    assert declined, "the test rows should include some predicted defaults"
    for d in default:
        assert (d["reasons"] is not None) == (d["prediction"] == 1)
    for d in declined:
        assert 1 <= len(d["reasons"]) <= 3
        pushes = [code["contribution"] for code in d["reasons"]]
        assert all(p > 0 for p in pushes) and pushes == sorted(pushes, reverse=True)
    assert all(d["reasons"] is not None for d in everyone)
    assert all(d["reasons"] is None for d in nobody)
    code = next(c for d in everyone for c in d["reasons"] if c["feature"] == "credit_score")
    assert "input" in code  # the value as sent, beside the transformed one


# ----------------------------------------------------------------------------- 2: validation and errors


def test_bad_records_get_422_naming_every_record_and_field(server: Server) -> None:
    good = test_records(server.root, 6)
    missing = {k: v for k, v in good[0].items() if k != "age"}
    wrong_type = {**good[1], "income": "lots"}
    out_of_range = {**good[2], "credit_score": 900, "age": 12}
    not_allowed = {**good[3], "employment": "astronaut"}
    null = {**good[4], "loan_amount": None}
    before = logged(server.root, "SELECT count(*) FROM predictions")[0][0]
    with server.client() as client:
        response = client.post("/v1/predict", json={"records": [missing, wrong_type, out_of_range, not_allowed, null, good[5]]})
    assert response.status_code == 422
    errors = {(e["record"], e["field"]): e["message"] for e in response.json()["errors"]}
    assert errors == {
        (0, "age"): "field required",
        (1, "income"): "not a valid float",
        (2, "age"): "must be >= 18",
        (2, "credit_score"): "must be <= 850",
        (3, "employment"): "must be one of salaried, self_employed, unemployed, retired, student",
        (4, "loan_amount"): "must not be null",
    }
    assert logged(server.root, "SELECT count(*) FROM predictions")[0][0] == before, "nothing is scored or logged"


def test_numbers_sent_as_text_are_read_like_the_validate_stage_reads_them(server: Server) -> None:
    record = test_records(server.root, 1)[0]
    as_text = {**record, "age": str(record["age"]), "income": str(record["income"])}
    with server.client() as client:
        plain = client.post("/v1/predict", json={"records": [record]}).json()["predictions"][0]
        texty = client.post("/v1/predict", json={"records": [as_text]})
    assert texty.status_code == 200, texty.text
    assert texty.json()["predictions"][0]["score"] == plain["score"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b"{not json", 400, id="broken-json"),
        pytest.param(b'"records"', 422, id="not-an-object"),
        pytest.param(b'{"records": "x"}', 422, id="records-not-a-list"),
        pytest.param(b'{"records": []}', 422, id="no-records"),
        pytest.param(b'{"records": [1, 2]}', 422, id="records-not-objects"),
        pytest.param(b'{"records": [{"age": {"nested": 1}}]}', 422, id="nested-value"),
        pytest.param(b'{"records": [{}], "explain": "why"}', 422, id="bad-explain"),
        pytest.param(b'{"records": [{}], "extra": 1}', 422, id="unknown-key"),
        pytest.param(b'{"records": [{"applied_at": "2024-01-01T00:00:00Z"}, {"applied_at": "yesterday"}]}', 422, id="fields-missing"),
        pytest.param(b"\xff\xfe", 400, id="not-utf8"),
    ],
)
def test_malformed_requests_get_4xx_json_without_a_traceback(server: Server, body: bytes, status: int) -> None:
    with server.client() as client:
        response = client.post("/v1/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert "Traceback" not in response.text and "File \"" not in response.text


def test_times_the_validate_stage_cannot_read_are_a_422_not_a_500(server: Server) -> None:
    records = test_records(server.root, 3)
    records[0]["applied_at"] = "2024-03-01T10:00:00+02:00"  # validate_frame's coercion raises on offsets
    records[2]["applied_at"] = "9999-12-31T00:00:00.000"  # beyond datetime64[ns]
    with server.client() as client:
        response = client.post("/v1/predict", json={"records": records})
    assert response.status_code == 422, response.text
    assert [(e["record"], e["field"]) for e in response.json()["errors"]] == [(0, "applied_at"), (2, "applied_at")]
    assert "without a time zone" in response.json()["errors"][0]["message"]


# ----------------------------------------------------------------------------- 4: the prediction log and labels


def test_every_decision_is_in_the_wal_log_when_the_response_arrives(sh, server: Server) -> None:
    records = test_records(server.root, 3)
    with server.client() as client:
        decisions = client.post("/v1/predict", json={"records": records, "explain": "all"}).json()["predictions"]
    rows = {r[0]: r for r in logged(server.root, "SELECT request_id, time, model_version, record_id, inputs, outputs, reasons "
                                                 "FROM predictions WHERE request_id IN (?, ?, ?)",
                                    tuple(d["request_id"] for d in decisions))}
    assert len(rows) == 3
    for record, decision in zip(records, decisions, strict=True):
        _, when, version, record_id, inputs, outputs, reasons = rows[decision["request_id"]]
        assert version == "v0001" and record_id == record["application_id"]
        assert when.endswith("+00:00")
        assert json.loads(inputs) == record
        assert json.loads(outputs) == {"score": decision["score"], "prediction": decision["prediction"]}
        assert json.loads(reasons) == decision["reasons"]
    assert logged(server.root, "PRAGMA journal_mode")[0][0] == "wal"
    assert sh(["git", "check-ignore", "-q", "logs/credit/predictions.sqlite"], server.root, check=False).returncode == 0


def test_feedback_and_label_import_join_ground_truth_by_request_id(cli, server: Server) -> None:
    records = test_records(server.root, 4)
    with server.client() as client:
        ids = [d["request_id"] for d in client.post("/v1/predict", json={"records": records}).json()["predictions"]]
        ok = client.post("/v1/feedback", json={"request_id": ids[0], "label": 1})
        unknown = client.post("/v1/feedback", json={"request_id": "f" * 32, "label": 1})
        bad_label = client.post("/v1/feedback", json={"request_id": ids[1], "label": 7})
    assert ok.status_code == 200 and ok.json()["stored"] is True
    assert unknown.status_code == 404
    assert bad_label.status_code == 422 and "0 or 1" in bad_label.json()["error"]

    csv = server.root / "labels.csv"
    csv.write_text(f"request_id,label\n{ids[1]},0\n{ids[2]},1\n{'e' * 32},1\n")
    imported = cli(["labels", "import", "credit", str(csv)], server.root)
    assert "2 label(s) joined" in imported.stdout and "1 request id(s) not in the prediction log" in imported.stderr
    joined = dict(logged(server.root, "SELECT request_id, label FROM labelled_predictions WHERE request_id IN (?, ?, ?, ?)", tuple(ids)))
    assert joined == {ids[0]: 1, ids[1]: 0, ids[2]: 1}

    bad = server.root / "bad.csv"
    bad.write_text(f"request_id,label\n{ids[3]},1\n,0\n{ids[3]},maybe\n")
    refused = cli(["labels", "import", "credit", str(bad)], server.root, check=False)
    assert refused.returncode == 1
    assert "bad.csv:3: request_id is empty" in refused.stderr and "bad.csv:4: label 'maybe' is not 0 or 1" in refused.stderr
    assert not logged(server.root, "SELECT 1 FROM labels WHERE request_id = ?", (ids[3],)), "nothing half-imported"


# ----------------------------------------------------------------------------- 6: health, model, metrics, docs, auth, limits


def test_health_model_metrics_and_docs(server: Server) -> None:
    with server.client() as client:
        client.post("/v1/predict", json={"records": test_records(server.root, 2)})
        health = client.get("/v1/health").json()
        model = client.get("/v1/model").json()
        metrics = scrape(client)
        docs = client.get("/docs")
        openapi = client.get("/openapi.json").json()
    assert health["status"] == "ok" and health["model_version"] == "v0001"
    assert model["version"] == "v0001" and model["threshold"] == THRESHOLD
    assert 0.5 < model["metrics"]["roc_auc"] < 1
    assert set(model["schema"]["required"]) >= {"age", "income", "applied_at"} and "default" not in model["schema"]["required"]
    assert model["schema"]["id_column"] == "application_id"
    assert len(model["fingerprints"]["data"]) == 64 and "model.txt" in model["fingerprints"]["files"]
    assert sample(metrics, "driftline_http_requests_total", method="POST", route="/v1/predict", status="200") >= 1
    assert sample(metrics, f"{LATENCY}_bucket", route="/v1/predict", le="+Inf") >= 1
    assert sample(metrics, "driftline_model_info", pipeline="credit", version="v0001") == 1
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "/v1/predict" in openapi["paths"]


def test_metrics_count_every_request_once_and_its_decisions(server: Server) -> None:
    records = test_records(server.root, 5)
    with server.client() as client:
        before = scrape(client)
        for _ in range(12):
            assert client.post("/v1/predict", json={"records": records}).status_code == 200
        assert client.post("/v1/predict", json={"records": [{"age": "old"}]}).status_code == 422
        # a real method the app does not route (WebDAV): both of uvicorn's parsers pass it on (httptools refuses made-up ones)
        assert client.request("PROPFIND", "/v1/health").status_code == 405
        after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("driftline_http_requests_total", method="POST", route="/v1/predict", status="200") == 12
    assert grew("driftline_http_requests_total", method="POST", route="/v1/predict", status="422") == 1
    assert grew(f"{LATENCY}_count", route="/v1/predict") == 13
    assert grew("driftline_http_requests_total", method="GET", route="/metrics", status="200") == 1  # the first scrape
    assert grew("driftline_http_requests_total", method="other", route="/v1/health", status="405") == 1
    assert not [labels for labels in after["driftline_http_requests_total"] if dict(labels)["method"] == "PROPFIND"]
    decided = sum(n for labels, n in after["driftline_decisions_total"].items() if dict(labels)["version"] == "v0001") \
        - sum(n for labels, n in before.get("driftline_decisions_total", {}).items() if dict(labels)["version"] == "v0001")
    assert decided == 12 * 5
    assert_histograms_cumulative(after)


def test_predict_reads_its_raw_body_yet_documents_it_and_reports_its_timing(server: Server) -> None:
    records = test_records(server.root, 300)  # large enough for the batch path (two LightGBM threads)
    with server.client() as client:
        openapi = client.get("/openapi.json").json()
        response = client.post("/v1/predict", content=json.dumps({"records": records, "explain": "none"}),
                               headers={"content-type": "application/json; charset=utf-8"})
        nan = client.post("/v1/predict", content=json.dumps({"records": [{**records[0], "income": float("nan")}]}),
                          headers={"content-type": "application/json"})
        text = client.post("/v1/predict", content=json.dumps({"records": records[:1]}), headers={"content-type": "text/plain"})
        empty = client.post("/v1/predict", content=b"", headers={"content-type": "application/json"})
    operation = openapi["paths"]["/v1/predict"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"records", "explain"} and operation["requestBody"]["required"] is True
    assert "PredictResponse" in str(operation["responses"]["200"]) and "422" in operation["responses"]
    assert response.status_code == 200, response.text
    assert [d["reasons"] for d in response.json()["predictions"]] == [None] * len(records)
    expected = batch_scores(server.root)
    for record, decision in zip(records, response.json()["predictions"], strict=True):
        assert abs(decision["score"] - expected[record["application_id"]]) <= 1e-9
    timing = dict(part.split(";dur=") for part in response.headers["server-timing"].split(", "))
    assert set(timing) == {"parse", "validate", "score", "log", "respond"} and all(float(v) >= 0 for v in timing.values())
    assert nan.status_code == 200, nan.text  # NaN, which Python's json writes, is a missing income as before
    assert text.status_code == 422 and empty.status_code == 422


def test_openapi_types_every_record_field_and_validation_stays_the_schema_s(server: Server) -> None:
    """/openapi.json documents each field with the schema's type, bounds and levels; requests are
    still judged by the columnar check, with the same 422 answers as before the typed document."""
    records = test_records(server.root, 2)
    with server.client() as client:
        openapi = client.get("/openapi.json").json()
        required = client.get("/v1/model").json()["schema"]["required"]
        wrong_type = client.post("/v1/predict", json={"records": [records[0], {**records[1], "age": "old", "region": "moon"}]})
        missing = client.post("/v1/predict", json={"records": [{k: v for k, v in records[0].items() if k != "income"}]})
        unknown_key = client.post("/v1/predict", json={"records": records[:1], "extras": 1})
        unknown_field = client.post("/v1/predict", json={"records": [{**records[0], "favourite_color": "red"}]})
    body = openapi["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"]["records"]["items"] == {"$ref": "#/components/schemas/CreditRecord"}
    record = openapi["components"]["schemas"]["CreditRecord"]
    fields = record["properties"]
    assert set(fields) == set(required) | {"application_id"} and set(record["required"]) == set(required)
    assert (fields["age"]["type"], fields["age"]["minimum"], fields["age"]["maximum"]) == ("integer", 18, 100)
    assert fields["income"]["anyOf"] == [{"type": "number", "minimum": 0}, {"type": "null"}]  # nullable
    assert fields["credit_score"]["anyOf"][0] == {"type": "integer", "minimum": 300, "maximum": 850}
    assert fields["region"]["enum"] == required["region"]["isin"] and fields["term_months"]["enum"] == [36, 60]
    assert fields["applied_at"]["type"] == "string" and "ISO 8601" in fields["applied_at"]["description"]
    assert record["additionalProperties"] is True  # loans: extra_columns: drop

    (example,) = body["example"]["records"]
    with server.client() as client:
        tried = client.post("/v1/predict", json=body["example"])  # what Swagger's "Try it out" sends
    assert tried.status_code == 200, tried.text
    assert tried.json()["predictions"][0]["model_version"] == "v0001" and example == record["examples"][0]

    assert wrong_type.status_code == 422
    assert wrong_type.json()["error"] == "1 of 2 record(s) break the schema; nothing was scored"
    assert [(e["record"], e["field"], e["message"]) for e in wrong_type.json()["errors"]] == [
        (1, "age", "not a valid int (a whole number within ±2^63)"),
        (1, "region", "must be one of north, south, east, west, central, coastal, mountain, metro")]
    assert missing.status_code == 422 and missing.json()["errors"] == [{"record": 0, "field": "income", "message": "field required"}]
    assert unknown_key.status_code == 422 and [e["field"] for e in unknown_key.json()["errors"]] == ["extras"]
    assert unknown_field.status_code == 200  # dropped, as the schema's extra_columns says


def test_bearer_token_and_limits(serve_root: Path) -> None:
    srv = start_server(serve_root, "--max-records", "5", "--max-body-bytes", "20000", "--poll", "0",
                       env={"DRIFTLINE_API_TOKEN": "s3cret"})
    try:
        records = test_records(serve_root, 6)
        with srv.client() as anonymous:
            assert anonymous.post("/v1/predict", json={"records": records[:1]}).status_code == 401
            assert anonymous.get("/v1/model").status_code == 401
            assert anonymous.get("/v1/health").status_code == 200  # for load balancers
        with srv.client(headers={"Authorization": "Bearer wrong"}) as wrong:
            assert wrong.post("/v1/predict", json={"records": records[:1]}).status_code == 401
        with srv.client(headers={"Authorization": "Bearer s3cret"}) as client:
            assert client.post("/v1/predict", json={"records": records[:5]}).status_code == 200
            too_many = client.post("/v1/predict", json={"records": records[:6]})
            assert too_many.status_code == 422 and "limit is 5" in too_many.json()["error"]
            huge = client.post("/v1/predict", content=b'{"records": [' + b" " * 30000 + b"]}",
                               headers={"content-type": "application/json"})
            assert huge.status_code == 413 and "limit" in huge.json()["error"]

            def chunks() -> Iterator[bytes]:
                yield b'{"records": ['
                for _ in range(100):
                    yield b" " * 1000
                yield b"]}"

            chunked = client.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"})
            assert chunked.status_code == 413
    finally:
        stop_server(srv)


def test_serve_refuses_to_start_without_a_champion(sh, project: Path) -> None:
    # Nothing was reproduced in a fresh project, so pricing has never been promoted.
    out = sh(["driftline", "serve", "pricing", "--port", str(free_port())], project, check=False)
    assert out.returncode == 1
    assert "pricing has no champion yet" in out.stderr and "Traceback" not in out.stderr


# ----------------------------------------------------------------------------- 5: hot swap (last: it changes the champion)


def register_smaller_model(root: Path) -> str:
    """A genuinely different v2 (the first 10 trees of v1) registered (unless an earlier test did) and promoted."""
    import lightgbm as lgb

    from driftline.registry.store import Registry

    registry = Registry(root, "credit")
    if len(registry.versions()) >= 2:  # the other swap test made it already
        registry.promote("v2", "test: a smaller model")
        return registry.get("v2").version
    v1 = registry.get("v1")
    small = root / "small-model.txt"
    small.write_text(lgb.Booster(model_str=(v1.path / "model.txt").read_text()).model_to_string(num_iteration=10))
    files = {"model.txt": small, **{name: v1.path / name for name in ("features.json", "model.json", "metrics.json")}}
    v2 = registry.register(files, metrics={"note": "first 10 trees"}, data_fingerprint=v1.data_fingerprint,
                           config_fingerprint=v1.config_fingerprint)
    registry.promote(v2.version, "test: a smaller model")
    return v2.version


def wait_for_version(client: httpx.Client, version: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/v1/model").json()["version"] != version:
        assert time.monotonic() < deadline, f"the server did not swap to {version}"
        time.sleep(0.05)


def test_hot_swap_without_restart_and_zero_failures_under_load(cli, server: Server) -> None:
    records = test_records(server.root, 8)
    v1_scores = batch_scores(server.root)
    with server.client() as client:
        assert client.post("/v1/predict", json={"records": records[:1]}).json()["model_version"] == "v0001"
        v2 = register_smaller_model(server.root)
        wait_for_version(client, v2)
        answer = client.post("/v1/predict", json={"records": records}).json()
    assert answer["model_version"] == v2 == "v0002"
    v2_scores = {d["id"]: d["score"] for d in answer["predictions"]}
    assert all(abs(v2_scores[r["application_id"]] - v1_scores[r["application_id"]]) > 1e-6 for r in records)

    failures: list[str] = []
    seen: dict[int, list[tuple[str, str, float]]] = {t: [] for t in range(4)}
    halfway = threading.Event()

    def load(thread: int) -> None:
        with server.client() as client:
            for i in range(200):
                record = records[(thread + i) % len(records)]
                try:
                    response = client.post("/v1/predict", json={"records": [record]})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                    continue
                decision = response.json()["predictions"][0]
                seen[thread].append((decision["model_version"], decision["id"], decision["score"]))
                if i == 60:
                    halfway.set()

    threads = [threading.Thread(target=load, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    halfway.wait(timeout=60)
    rollback = cli(["registry", "rollback", "credit", "--to", "v1"], server.root)
    for t in threads:
        t.join()

    assert not failures, failures[:5]
    assert sum(len(s) for s in seen.values()) == 800
    for answers in seen.values():
        versions = [v for v, _, _ in answers]
        assert versions[0] == "v0002" and versions[-1] == "v0001", "each client saw the swap"
        first_v1 = versions.index("v0001")
        assert set(versions[first_v1:]) == {"v0001"}, "once swapped, never back"
        for version, app_id, score in answers:  # each answer scored wholly by the model it names
            expected = v1_scores[app_id] if version == "v0001" else v2_scores[app_id]
            assert abs(score - expected) <= 1e-9
    assert "v0001" in rollback.stdout
    assert logged(server.root, "SELECT count(DISTINCT model_version) FROM predictions")[0][0] == 2


# ----------------------------------------------------------------------------- worker processes (swaps between v1 and v2)


def test_worker_processes_share_the_port_the_log_the_metrics_and_the_swap(cli, serve_root: Path, tmp_path: Path) -> None:
    from driftline.registry.store import Registry

    registry = Registry(serve_root, "credit")
    if len(registry.versions()) < 2:  # run on its own (-k): make the v2 the hot-swap test makes, keep v1 champion
        register_smaller_model(serve_root)
        registry.rollback("v1", "test: v1 serves first")
    records = test_records(serve_root, 10)
    expected = batch_scores(serve_root)
    temp = tmp_path / "tmp"  # where this server's private metrics folder is made (TMPDIR)
    temp.mkdir()
    server = start_server(serve_root, "--workers", "2", "--poll", "0.2", env={"TMPDIR": str(temp)})
    try:
        before = logged(serve_root, "SELECT count(*) FROM predictions")[0][0]  # the log exists once a server has started
        failures: list[str] = []
        pids: set[str] = set()

        def load() -> None:
            for _ in range(10):
                with server.client() as client:  # a new connection each time: both workers answer
                    response = client.post("/v1/predict", json={"records": records})
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                    continue
                for record, decision in zip(records, response.json()["predictions"], strict=True):
                    if abs(decision["score"] - expected[record["application_id"]]) > 1e-9:
                        failures.append(f"score of {record['application_id']}")

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures, failures[:5]
        assert logged(serve_root, "SELECT count(*) FROM predictions")[0][0] == before + 400
        for _ in range(4):  # any worker's answer holds every worker's counts, with no delay
            with server.client() as client:
                metrics = scrape(client)
            assert sample(metrics, "driftline_http_requests_total", method="POST", route="/v1/predict", status="200") == 40
            assert sample(metrics, f"{LATENCY}_count", route="/v1/predict") == 40
            assert sum(metrics["driftline_decisions_total"].values()) == 400
            assert_histograms_cumulative(metrics)
            assert sample(metrics, "driftline_model_info", pipeline="credit", version="v0001") == 1
        (folder,) = temp.iterdir()  # one private folder for the workers' files
        assert folder.stat().st_mode & 0o777 == 0o700 and any(folder.glob("counter_*.db"))
        for line in server.log.read_text().splitlines():
            if "Started server process" in line:
                pids.add(line.rsplit("[", 1)[1].rstrip("]"))
        assert len(pids) == 2, server.log.read_text()

        cli(["registry", "rollback", "credit", "--to", "v2"], serve_root)
        try:
            deadline = time.monotonic() + 15
            while True:  # every worker swaps: 20 answers in a row on new connections name v2
                versions = {httpx.get(f"{server.url}/v1/model", timeout=10).json()["version"] for _ in range(20)}
                if versions == {"v0002"}:
                    with server.client() as client:
                        metrics = scrape(client)
                    if sample(metrics, "driftline_model_swaps_total", pipeline="credit") == 2:  # one swap in each worker
                        break
                assert time.monotonic() < deadline, f"not every worker swapped: {versions}"
                time.sleep(0.2)
            assert sample(metrics, "driftline_model_info", pipeline="credit", version="v0002") == 1
            assert sample(metrics, "driftline_model_info", pipeline="credit", version="v0001") == 0  # no worker serves it
        finally:
            cli(["registry", "rollback", "credit", "--to", "v1"], serve_root)
    finally:
        stop_server(server)
    assert "Traceback" not in server.log.read_text()
    assert not list(temp.iterdir()), "the metrics folder outlived the server"
