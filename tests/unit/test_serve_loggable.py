"""What the endpoint writes is always JSON and bounded (driftline.serve.loggable), without a server."""

from __future__ import annotations

import json

import orjson
import pytest

from driftline.serve.app import parse_predict_body
from driftline.serve.loggable import DROPPED, MAX_DEPTH, dumps, logged_records, plain

FLOATS = frozenset({"income"})
KNOWN = frozenset({"income", "age", "id"})


def deep(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(10**30, "1" + "0" * 30, id="int-beyond-64-bits-exact-as-text"),
        pytest.param(-(2**63), -(2**63), id="int64-min-kept"),
        pytest.param(2**64 - 1, 2**64 - 1, id="uint64-max-kept"),
        pytest.param(float("inf"), "Infinity", id="infinity"),
        pytest.param(float("-inf"), "-Infinity", id="minus-infinity"),
        pytest.param("a\ud800b", "a\ufffdb", id="lone-surrogate"),
        pytest.param({"\udfff": 1}, {"\ufffd": 1}, id="surrogate-in-a-key"),
        pytest.param([1, "x", None, True, 2.5], [1, "x", None, True, 2.5], id="plain-json-unchanged"),
    ],
)
def test_plain_keeps_the_meaning_in_what_orjson_writes(value: object, expected: object) -> None:
    assert plain(value) == expected
    orjson.dumps(plain(value))


def test_nesting_is_cut_at_max_depth_whatever_the_depth_sent() -> None:
    cut = plain(deep(5000))  # deeper than Python's recursion limit: never recursed into
    depth = 0
    while isinstance(cut, list):
        cut, depth = cut[0], depth + 1
    assert depth == MAX_DEPTH and "nested deeper" in cut


@pytest.mark.parametrize("hostile", [deep(300), {"x": 10**30, "y": float("nan")}, "\ud800"],
                         ids=["300-deep", "big-int-and-nan", "surrogate"])
def test_dumps_writes_json_where_orjson_refuses(hostile: object) -> None:
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(hostile)  # each of these answered a 500 once
    json.loads(dumps(hostile))


def test_the_usual_records_are_written_as_sent() -> None:
    records = [{"income": 52000.5, "age": 35, "id": "A1"}, {"income": None, "age": 41, "id": 7}]
    assert logged_records(records, FLOATS, KNOWN, 100) == orjson.dumps(records)


def test_huge_numbers_are_logged_as_the_model_read_them_and_ids_exactly() -> None:
    records = [{"income": 1.5, "age": 1, "id": 10**25}, {"income": 10**30, "age": 2, "id": float("nan")}]
    logged = json.loads(logged_records(records, FLOATS, KNOWN, 100))
    assert logged == [{"income": 1.5, "age": 1, "id": "1" + "0" * 25}, {"income": 1e30, "age": 2, "id": None}]


def test_extra_fields_are_kept_within_the_bound_and_the_rest_is_counted() -> None:
    record = {"income": 1.0, "age": 30, "id": "x", "small": "ok", "big": "y" * 500, "after": 1, "later": 2}
    (logged,) = json.loads(logged_records([record], FLOATS, KNOWN, 100))
    assert {k: logged[k] for k in ("income", "age", "id", "small")} == {"income": 1.0, "age": 30, "id": "x", "small": "ok"}
    assert "big" not in logged and "after" not in logged and "later" not in logged
    assert logged[DROPPED].startswith("3 extra field(s) not logged") and "max_extra_bytes (100" in logged[DROPPED]
    (nothing,) = json.loads(logged_records([record], FLOATS, KNOWN, 0))
    assert set(nothing) == {"income", "age", "id", DROPPED} and nothing[DROPPED].startswith("4 extra")


def test_a_lone_surrogate_is_refused_when_the_body_is_read() -> None:
    answer = parse_predict_body(b'{"records": [{"a": "\\ud800", "b": NaN}]}', "application/json")
    assert answer.status_code == 400 and b"surrogate" in answer.body  # type: ignore[union-attr]
    pair = parse_predict_body(b'{"records": [{"a": "\\ud83d\\ude00", "b": NaN}]}', "application/json")
    assert pair[0][0]["a"] == "\U0001f600"  # type: ignore[index]  # a surrogate pair is one character
