"""The predict route's own body parsing and response building, without a server."""

from __future__ import annotations

import json

import orjson
import pytest

from driftline.config.groups import SchemaSpec
from driftline.serve.app import PredictRequest, parse_predict_body
from driftline.serve.bundle import request_schema
from driftline.serve.openapi import example_record, predict_request_schema
from driftline.serve.validation import check_records


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


COLUMNS = {
    "id": {"dtype": "string", "unique": True},
    "score": {"dtype": "float", "nullable": True, "ge": 0, "le": 1},
    "age": {"dtype": "int", "ge": 18},
    "term": {"dtype": "int", "isin": [36, 60]},
    "flag": {"dtype": "binary"},
    "member": {"dtype": "bool"},
    "color": {"dtype": "category", "isin": ["red", "blue"]},
    "note": {"dtype": "string", "nullable": True},
    "seen_at": {"dtype": "datetime"},
    "target": {"dtype": "binary"},
}


def documented(extra_columns: str = "drop") -> tuple[dict, dict, object]:
    spec = SchemaSpec(columns=COLUMNS, extra_columns=extra_columns)
    schema = request_schema(spec, target="target", label_column=None, id_column="id")
    body, components = predict_request_schema("credit risk", schema, PredictRequest)
    return body, components, schema


def test_the_request_body_types_every_record_field_from_the_schema() -> None:
    body, components, _ = documented()
    assert set(body["properties"]) == {"records", "explain"} and body["required"] == ["records"]
    assert body["properties"]["explain"]["enum"] == ["none", "declined", "all"]
    assert body["properties"]["records"]["items"] == {"$ref": "#/components/schemas/CreditRiskRecord"}
    record = components["CreditRiskRecord"]
    fields = record["properties"]
    assert set(fields) == set(COLUMNS) - {"target"}  # every input field and the id; never the target
    assert set(record["required"]) == set(COLUMNS) - {"target", "id"}  # a nullable field is required too
    assert fields["score"]["anyOf"] == [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "null"}]
    assert (fields["age"]["type"], fields["age"]["minimum"], fields["age"]["maximum"]) == ("integer", 18, 2**63 - 1)  # the type rule's
    assert fields["term"]["enum"] == [36, 60] and fields["term"]["type"] == "integer"
    assert fields["flag"]["enum"] == [0, 1]
    assert fields["member"]["type"] == "boolean"
    assert fields["color"]["enum"] == ["red", "blue"] and fields["color"]["type"] == "string"
    assert fields["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert fields["seen_at"]["type"] == "string" and "ISO 8601" in fields["seen_at"]["description"]
    assert fields["score"]["description"] == "float; >= 0; <= 1; may be null"
    assert "optional" in fields["id"]["description"] and "type" not in fields["id"]
    assert record["additionalProperties"] is True  # extra_columns: drop


def test_a_schema_that_refuses_extra_fields_says_so() -> None:
    _, components, _ = documented("error")
    assert components["CreditRiskRecord"]["additionalProperties"] is False


@pytest.mark.parametrize("extra_columns", ["drop", "keep", "error"])
def test_the_example_record_passes_the_endpoint_s_own_check(extra_columns: str) -> None:
    _, components, schema = documented(extra_columns)
    (example,) = components["CreditRiskRecord"]["examples"]
    assert example == example_record(schema)
    frame, errors = check_records([example], schema)
    assert errors == [] and len(frame) == 1
    for name, field in components["CreditRiskRecord"]["properties"].items():
        if name != "id":
            assert field["examples"] == [example[name]]


def test_only_large_batches_are_predicted_on_more_than_one_thread() -> None:
    from driftline.serve.scoring import (
        BATCH_THREADS,
        BATCH_THREADS_FROM_ROWS,
        predict_threads,
    )

    assert predict_threads(1) == 1 and predict_threads(BATCH_THREADS_FROM_ROWS - 1) == 1
    assert predict_threads(BATCH_THREADS_FROM_ROWS) == predict_threads(10_000) == BATCH_THREADS
    assert 1 <= BATCH_THREADS <= 2
