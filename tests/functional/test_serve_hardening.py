"""The endpoint under hostile requests (issue 14, points 7 and 8): no 500, nothing unbounded in the
log, no wrong meaning accepted, a token that guards the docs, a retention that deletes.

The app is built in this process on the module's copy of a reproduced project and called through
httpx's ASGI transport (the fuzzing against a real server is test_fuzz_endpoint.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from driftline.predictions.layout import LoggedRequest
from driftline.predictions.log import open_log
from driftline.serve.app import ServeSettings, create_app
from driftline.serve.loggable import DROPPED
from tests.functional.test_serve import test_records

TOKEN = "s3cret"


def call(app: Any, method: str, path: str, *, token: str | None = None, headers: dict[str, str] | None = None,
         **kwargs: Any) -> httpx.Response:
    headers = {**(headers or {}), **({"authorization": f"Bearer {token}"} if token else {})}

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.request(method, path, headers=headers, **kwargs)

    return asyncio.run(go())


def set_log_options(root: Path, **options: Any) -> None:
    """Edit `credit.serve.log` in params.yaml, as `driftline compile` would write it from the pipeline."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["credit"]["serve"]["log"].update(options)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def root(projects) -> Path:
    return projects.reproduced()


@pytest.fixture(scope="module")
def app(root: Path) -> Any:
    set_log_options(root, max_extra_bytes=200)
    made = create_app(root, "credit", ServeSettings(poll_seconds=0))
    yield made
    made.state.prediction_log.close()


def post(app: Any, body: bytes) -> httpx.Response:
    return call(app, "POST", "/v1/predict", content=body, headers={"content-type": "application/json"})


def logged_inputs(app: Any, response: httpx.Response) -> list[dict]:
    (text,) = app.state.prediction_log.query("SELECT inputs FROM requests WHERE batch_id = ?", (response.json()["batch_id"],))[0]
    return json.loads(text)


def record_json(record: dict) -> str:
    return json.dumps(record)[:-1]  # the record's JSON without its closing brace, to add raw fields to


# ----------------------------------------------------------------------------- 1: no 500s; the log bounded and always JSON


def test_the_three_bodies_that_answered_500_are_answered_and_logged_bounded(app: Any, root: Path) -> None:
    record = test_records(root, 1)[0]
    deep = "[" * 300 + "]" * 300
    nested = post(app, f'{{"records": [{record_json(record)}, "notes": {deep}}}]}}'.encode())
    nan_big = post(app, f'{{"records": [{record_json(record)}, "ratio": NaN, "ref": 1{"0" * 30}}}]}}'.encode())
    surrogate = post(app, f'{{"records": [{record_json(record)}, "note": "\\ud800"}}]}}'.encode())
    surrogate_nan = post(app, f'{{"records": [{record_json(record)}, "n": NaN, "note": "x\\udfff"}}]}}'.encode())

    assert nested.status_code == 200, nested.text
    (logged,) = logged_inputs(app, nested)
    assert {k: logged[k] for k in record} == record  # the schema's fields as sent
    expected: Any = "<nested deeper than 32 levels: not logged>"
    for _ in range(32):
        expected = [expected]
    assert logged["notes"] == expected  # cut at MAX_DEPTH levels, not refused

    assert nan_big.status_code == 200, nan_big.text
    (logged,) = logged_inputs(app, nan_big)
    assert logged["ratio"] is None and logged["ref"] == "1" + "0" * 30  # NaN is missing; the big int kept exactly, as text

    for refused in (surrogate, surrogate_nan):  # a lone surrogate is no character: not JSON text
        assert refused.status_code == 400 and "surrogate" in refused.json()["error"], refused.text


def test_extra_fields_beyond_the_configured_bound_are_left_out_and_the_record_says_so(app: Any, root: Path) -> None:
    record = test_records(root, 1)[0]
    small = {"channel": "web", "campaign": "spring"}
    huge = {"blob": "x" * 100_000, **{f"k{i}": i for i in range(1000)}}
    response = post(app, orjson.dumps({"records": [{**record, **small}, {**record, **small, **huge}]}))
    assert response.status_code == 200, response.text
    kept, cut = logged_inputs(app, response)
    assert kept == {**record, **small}  # within max_extra_bytes (200 here): as sent
    assert {k: cut[k] for k in record} == record and cut["channel"] == "web" and cut["campaign"] == "spring"
    assert "blob" not in cut and "k0" not in cut
    assert cut[DROPPED].startswith("1001 extra field(s) not logged") and "serve.log.max_extra_bytes (200" in cut[DROPPED]
    assert len(json.dumps(cut)) < len(json.dumps(record)) + 400


def test_hostile_field_names_and_ids_get_4xx_or_2xx_never_500(app: Any, root: Path) -> None:
    record = test_records(root, 1)[0]
    cases = [
        '{"records": [{}], "\\ud800": 1, "x": NaN}',  # an unknown key with a surrogate in a 422's field name
        f'{{"records": [{record_json({**record, "income": "abc"})}, "x": NaN}}]}}',
        f'{{"records": [{record_json({k: v for k, v in record.items() if k != "application_id"})}, '
        f'"application_id": 1{"0" * 40}, "z": NaN}}]}}',  # an id beyond 64 bits, echoed back
        f'{{"records": [{record_json({k: v for k, v in record.items() if k != "application_id"})}, "application_id": Infinity}}]}}',
        '{"records": [' + "[" * 5000 + "]" * 5000 + "]}",
        '{"records": [{"a": ' + "[" * 900 + "]" * 900 + ', "b": NaN}]}',
    ]
    for body in cases:
        response = post(app, body.encode())
        assert response.status_code < 500 and response.headers["content-type"] == "application/json", (body[:80], response.text)
        json.loads(response.content)  # valid JSON (no lone surrogate, no NaN)
    feedback = call(app, "POST", "/v1/feedback", content='{"request_id": "\\ud800-0", "label": 1}',
                    headers={"content-type": "application/json"})
    assert feedback.status_code == 422 and [e["field"] for e in json.loads(feedback.content)["errors"]] == ["request_id"]
    big_id = post(app, cases[2].encode()).json()["predictions"][0]
    assert big_id["id"] == "1" + "0" * 40  # exact, as text: orjson cannot write it as a number
    infinite_id = post(app, cases[3].encode()).json()["predictions"][0]
    assert infinite_id["id"] == "Infinity"


# ----------------------------------------------------------------------------- 3: no wrong meaning accepted


def test_a_number_where_a_datetime_is_declared_is_a_422_naming_the_field(app: Any, root: Path) -> None:
    record = test_records(root, 1)[0]
    response = call(app, "POST", "/v1/predict", json={"records": [{**record, "applied_at": 1704067200}]})
    assert response.status_code == 422
    assert [(e["record"], e["field"]) for e in response.json()["errors"]] == [(0, "applied_at")]
    assert "ISO 8601" in response.json()["errors"][0]["message"]


def test_infinity_in_a_numeric_field_is_a_422_naming_it_as_the_validate_stage_quarantines_it(app: Any, root: Path) -> None:
    """One reading rule (schema.read) for both paths: a float field holds finite numbers; NaN is a missing value."""
    record = test_records(root, 1)[0]
    without = {k: v for k, v in record.items() if k not in ("income", "debt_to_income")}
    for value in ("Infinity", "-Infinity", '"inf"'):
        body = record_json(without) + f', "income": {value}, "debt_to_income": 0.3}}'
        response = post(app, f'{{"records": [{body}]}}'.encode())
        assert response.status_code == 422, (value, response.text)
        assert [(e["record"], e["field"], e["message"]) for e in response.json()["errors"]] == [(0, "income", "not a valid float")]
    nan = post(app, f'{{"records": [{record_json(without)}, "income": NaN, "debt_to_income": 0.3}}]}}'.encode())
    assert nan.status_code == 200 and logged_inputs(app, nan)[0]["income"] is None  # missing, as in a batch

    import pandas as pd

    from driftline.schema.validate import validate_frame  # the validate stage's check of a batch

    spec = app.state.holder.current.request_schema.spec
    batch = pd.DataFrame([{**record, "income": float("inf")}, {**record, "income": 1000.0}])
    outcome = validate_frame(batch, spec)
    assert (len(outcome.valid), len(outcome.quarantine)) == (1, 1) and outcome.failures == {"income: not a valid float": 1}


# ----------------------------------------------------------------------------- 2: the token guards the docs; health names no file

PATHLIKE = re.compile(r"(^|[\s'\"(])(/[\w.-]+){2,}|[A-Za-z]:\\\\|\.(sqlite|json|txt|parquet|py)\b")


def assert_names_no_file(value: Any, root: Path) -> None:
    for text in _strings(value):
        assert str(root) not in text and not PATHLIKE.search(text), text


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [str(value)]


def test_with_a_token_only_health_is_open_and_no_open_answer_names_a_file(root: Path) -> None:
    app = create_app(root, "credit", ServeSettings(poll_seconds=0, token=TOKEN))
    try:
        guarded = ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/docs/assets/swagger-ui-bundle.js",
                   "/v1/model", "/metrics", "/nowhere"]
        for path in guarded:
            anonymous = call(app, "GET", path)
            assert anonymous.status_code == 401, path
            assert_names_no_file(anonymous.json(), root)
            assert call(app, "GET", path, token="wrong").status_code == 401
        assert call(app, "POST", "/v1/predict", json={"records": [{}]}).status_code == 401
        for path in ["/docs", "/redoc", "/openapi.json", "/docs/assets/swagger-ui-bundle.js"]:
            assert call(app, "GET", path, token=TOKEN).status_code == 200, path
        document = call(app, "GET", "/openapi.json", token=TOKEN).json()
        assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer",
                                                                        "description": "DRIFTLINE_API_TOKEN"}
        assert document["security"] == [{"bearer": []}] and document["paths"]["/v1/health"]["get"]["security"] == []

        health = call(app, "GET", "/v1/health")
        assert health.status_code == 200
        assert set(health.json()) == {"status", "pipeline", "model_version", "loaded_at", "swaps", "reload_failing"}
        assert_names_no_file(health.json(), root)
        app.state.holder.last_error = f"2026-01-01T00:00:00Z: {root}/registry/credit/v0002/model.txt does not match"
        assert call(app, "GET", "/v1/health").json()["reload_failing"] is True
        assert_names_no_file(call(app, "GET", "/v1/health").json(), root)
        assert str(root) in call(app, "GET", "/v1/model", token=TOKEN).json()["last_reload_error"]  # behind the token
    finally:
        app.state.prediction_log.close()


# ----------------------------------------------------------------------------- 2: retention


def old_request(batch_id: str, time: str, pipeline: str = "credit") -> LoggedRequest:
    return LoggedRequest(batch_id=batch_id, time=time, model_version="v0001", size=2,
                         inputs='[{"age": 30}, {"age": 40}]', outputs='[{"score": 0.1, "prediction": 0}, {"score": 0.9, "prediction": 1}]')


def test_retention_deletes_old_decisions_and_their_labels_at_start_and_then_periodically(projects, tmp_path: Path) -> None:
    root = projects.reproduced(tmp_path / "proj")
    set_log_options(root, retention_days=30)
    log = open_log(root / "logs/credit/predictions.sqlite")
    log.record(old_request("a" * 32, "2020-01-01T00:00:00.000+00:00"), "credit")
    log.record(old_request("b" * 32, "2099-01-01T00:00:00.000+00:00"), "credit")  # "new": inside any retention
    log.record(old_request("c" * 32, "2020-01-01T00:00:00.000+00:00"), "pricing")  # another pipeline's: not ours to delete
    log.add_labels([("a" * 32 + "-0", 1), ("a" * 32 + "-1", 0), ("b" * 32 + "-1", 1), ("c" * 32 + "-0", 1)], source="test")
    log.close()

    app = create_app(root, "credit", ServeSettings(poll_seconds=0, prune_seconds=0.05))
    try:
        served = app.state.prediction_log
        assert sorted(b for (b,) in served.query("SELECT batch_id FROM requests")) == ["b" * 32, "c" * 32]
        assert sorted(r for (r,) in served.query("SELECT request_id FROM labels")) == ["b" * 32 + "-1", "c" * 32 + "-0"]
        assert app.state.retention.pruned == 1

        app.state.retention.start()  # what the app's lifespan does when uvicorn starts it
        served.record(old_request("d" * 32, "2021-06-01T00:00:00.000+00:00"), "credit")
        for _ in range(200):
            if not served.query("SELECT 1 FROM requests WHERE batch_id = ?", ("d" * 32,)):
                break
            asyncio.run(asyncio.sleep(0.02))
        assert not served.query("SELECT 1 FROM requests WHERE batch_id = ?", ("d" * 32,)), "not pruned while running"
        record = test_records(root, 1)[0]
        fresh = call(app, "POST", "/v1/predict", json={"records": [record]})
        assert fresh.status_code == 200 and served.known([fresh.json()["predictions"][0]["request_id"]])
    finally:
        app.state.retention.stop()
        app.state.prediction_log.close()
    with sqlite3.connect(root / "logs/credit/predictions.sqlite") as db:
        assert db.execute("SELECT count(*) FROM requests").fetchone()[0] == 3  # b, c and the fresh request


def test_retention_is_validated_where_it_is_declared(projects, tmp_path: Path, cli) -> None:
    root = projects.fresh(tmp_path / "proj")
    path = root / "pipelines/credit.yaml"
    path.write_text(path.read_text() + "serve:\n  log:\n    retention_days: 0\n    max_extra_bytes: -1\n")
    out = cli(["compile"], root, check=False)
    said = out.stdout + out.stderr
    assert out.returncode != 0 and "retention_days" in said and "max_extra_bytes" in said and "Traceback" not in said, said


def test_retention_on_a_shared_postgresql_log_deletes_only_this_pipeline_s_old_decisions(postgres) -> None:
    log = open_log(postgres.new_database("retention"))
    try:
        log.record(old_request("a" * 32, "2020-01-01T00:00:00.000+00:00"), "credit")
        log.record(old_request("b" * 32, "2099-01-01T00:00:00.000+00:00"), "credit")
        log.record(old_request("c" * 32, "2020-01-01T00:00:00.000+00:00"), "pricing")
        log.add_labels([("a" * 32 + "-1", 1), ("b" * 32 + "-0", 0), ("c" * 32 + "-0", 1)], source="test")
        assert log.prune("credit", "2026-01-01T00:00:00.000+00:00") == 1
        assert sorted(b for (b,) in log.query("SELECT batch_id FROM requests")) == ["b" * 32, "c" * 32]
        assert sorted(r for (r,) in log.query("SELECT request_id FROM labels")) == ["b" * 32 + "-0", "c" * 32 + "-0"]
        assert log.prune("credit", "2026-01-01T00:00:00.000+00:00") == 0
    finally:
        log.close()
