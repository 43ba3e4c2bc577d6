"""The predict route's own body parsing and response building, without a server."""

from __future__ import annotations

import json

import orjson
import pytest

from driftline.serve.app import PREDICT_REQUEST_BODY, parse_predict_body


def answer(result: object) -> tuple[int, dict]:
    assert not isinstance(result, tuple), result
    return result.status_code, json.loads(result.body)  # type: ignore[attr-defined]


def test_the_usual_body_is_read_with_orjson() -> None:
    records = [{"age": 30, "income": None}, {"age": 41, "income": 5.5}]
    assert parse_predict_body(orjson.dumps({"records": records, "explain": "none"}), "application/json") == (records, "none")
    assert parse_predict_body(orjson.dumps({"records": records}), None) == (records, "declined")
    assert parse_predict_body(orjson.dumps({"records": records}), "application/json; charset=utf-8")[1] == "declined"


def test_nan_and_infinity_are_read_as_python_json_reads_them() -> None:
    records, _ = parse_predict_body(b'{"records": [{"income": NaN, "age": Infinity}]}', "application/json")
    assert records[0]["income"] != records[0]["income"] and records[0]["age"] == float("inf")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        pytest.param(b"{not json", 400, None, id="not-json"),
        pytest.param(b"\xff\xfe", 400, None, id="not-utf8"),
        pytest.param(b"", 422, None, id="empty"),
        pytest.param(b'"records"', 422, None, id="not-an-object"),
        pytest.param(b'{"records": "x"}', 422, "records", id="records-not-a-list"),
        pytest.param(b'{"records": []}', 422, "records", id="no-records"),
        pytest.param(b'{"records": [1, 2]}', 422, "records.0", id="records-not-objects"),
        pytest.param(b'{"records": [{}], "explain": "why"}', 422, "explain", id="bad-explain"),
        pytest.param(b'{"records": [{}], "explain": null}', 422, "explain", id="null-explain"),
        pytest.param(b'{"records": [{}], "extra": 1}', 422, "extra", id="unknown-key"),
    ],
)
def test_other_bodies_get_pydantic_s_verdict(body: bytes, status: int, field: str | None) -> None:
    code, payload = answer(parse_predict_body(body, "application/json"))
    assert code == status
    assert "error" in payload
    if status == 422 and field is not None:
        assert payload["error"] == "the request does not match the API (see /docs)"
        assert field in [e["field"] for e in payload["errors"]]
    if field == "records.0":
        assert payload["errors"][0]["record"] == 0


def test_a_body_that_is_not_json_by_content_type_is_a_422() -> None:
    code, payload = answer(parse_predict_body(b'{"records": [{}]}', "text/plain"))
    assert code == 422 and payload["errors"]


def test_the_request_body_is_still_documented() -> None:
    schema = PREDICT_REQUEST_BODY["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"records", "explain"} and schema["required"] == ["records"]
    assert schema["properties"]["explain"]["enum"] == ["none", "declined", "all"]


def test_only_large_batches_are_predicted_on_more_than_one_thread() -> None:
    from driftline.serve.scoring import (
        BATCH_THREADS,
        BATCH_THREADS_FROM_ROWS,
        predict_threads,
    )

    assert predict_threads(1) == 1 and predict_threads(BATCH_THREADS_FROM_ROWS - 1) == 1
    assert predict_threads(BATCH_THREADS_FROM_ROWS) == predict_threads(10_000) == BATCH_THREADS
    assert 1 <= BATCH_THREADS <= 2
