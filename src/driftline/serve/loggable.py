"""What the endpoint writes (the prediction log, its answers) is always JSON, and bounded.

A request's records are parsed from JSON, so they nearly always serialise again as they came.
Three things do not, and each once answered a 500 (issue 14): an int beyond 64 bits (orjson's
limit; the json module reads 10^30 when orjson's parse fails on a NaN elsewhere in the body), a
value nested deeper than orjson writes (254 levels), and a lone UTF-16 surrogate (refused when the
body is parsed, `app.parse_predict_body`, and replaced here should one get through). And a
field nobody declared could fill the log with megabytes per decision.

`logged_records` gives the records the log keeps:

- the schema's fields and the id exactly as sent, except an int beyond 64 bits in a float field,
  logged as the float the model saw (an infinity never gets this far: the schema's reading
  rule refuses it, in a request as in a batch; NaN is a missing value, logged as null);
- unknown extra fields (kept by `extra_columns: drop | keep`) as sent while the record's extra
  fields stay within `serve.log.max_extra_bytes` of JSON, nested at most `MAX_DEPTH` levels;
  past the bound the remaining extra fields are left out and one field `$dropped` says how many
  and why.

`plain(value)` is the rule for anything else written back (ids echoed, error bodies): ints beyond
64 bits become their exact digits as text, non-finite floats "Infinity" / "-Infinity" / null,
lone surrogates U+FFFD, anything nested deeper than `MAX_DEPTH` a short note. `dumps` tries
orjson as it is (the usual case, one C call) and falls back to `plain`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from typing import Any

import orjson

MAX_DEPTH = 32  # levels of nesting kept in an extra field (and in anything `plain` rewrites)
DROPPED = "$dropped"  # the field that says which extra fields were left out of the log
_INT_FIRST, _INT_END = -(2**63), 2**64  # orjson writes ints in [-2^63, 2^64)
_SURROGATE = re.compile("[\ud800-\udfff]")
_DEEP = f"<nested deeper than {MAX_DEPTH} levels: not logged>"


def plain(value: Any, depth: int = 0) -> Any:
    """`value` (parsed JSON) as something orjson writes without loss of meaning (see the module doc)."""
    kind = type(value)
    if kind is str:
        return _text(value)
    if kind is int:
        return value if _INT_FIRST <= value < _INT_END else str(value)
    if kind is float:
        return value if math.isfinite(value) or math.isnan(value) else _infinity(value)
    if value is None or kind is bool:
        return value
    if depth >= MAX_DEPTH:
        return _DEEP
    if kind is dict:
        return {_text(str(k)): plain(v, depth + 1) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [plain(v, depth + 1) for v in value]
    return _text(str(value))  # not from JSON; said in words rather than refused


def dumps(obj: Any) -> bytes:
    """JSON bytes of `obj`: orjson's, or, when orjson refuses it, of `plain(obj)`."""
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError:
        return orjson.dumps(plain(obj))


def logged_records(records: Sequence[dict[str, Any]], float_fields: Collection[str], known: Collection[str],
                   max_extra_bytes: int) -> bytes:
    """The JSON array the log keeps for `records` (see the module doc).

    `known`: the schema's input fields and the id; `float_fields`: those the model reads as
    floats. The usual request — only known fields — is one orjson call."""
    known = known if isinstance(known, (set, frozenset)) else set(known)
    if known.issuperset(set().union(*records)):  # every record's keys at once, in C (~0.1 ms a 1,000 records)
        try:
            return orjson.dumps(records)
        except orjson.JSONEncodeError:
            pass
    return orjson.dumps([_logged_record(r, float_fields, known, max_extra_bytes) for r in records])


def _logged_record(record: dict[str, Any], float_fields: Collection[str], known: Collection[str], budget: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    used = 0
    left_out = 0
    for name, value in record.items():
        if name in known:
            out[name] = _as_model_saw(value) if name in float_fields else plain(value)
            continue
        if left_out:
            left_out += 1
            continue
        key, safe = _text(name), plain(value)
        used += len(orjson.dumps(key)) + len(orjson.dumps(safe)) + 2  # "key":value,
        if used > budget:
            left_out = 1
        else:
            out[key] = safe
    if left_out:
        out[DROPPED] = (f"{left_out} extra field(s) not logged: this record's fields outside the schema exceed "
                        f"serve.log.max_extra_bytes ({budget:,} bytes of JSON)")
    return out


def _as_model_saw(value: Any) -> Any:
    """A float field's value as the model read it, in JSON the schema's reading rule reads back the same."""
    if type(value) is int and not _INT_FIRST <= value < _INT_END:
        try:
            return float(value)
        except OverflowError:  # refused by validation (not a float); kept exact should it get here
            return str(value)
    return plain(value)


def _infinity(value: float) -> str:
    return "Infinity" if value > 0 else "-Infinity"


def _text(value: str) -> str:
    """`value`, with any lone surrogate (not a character; no UTF-8 for it) replaced by U+FFFD."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)  # in a str, a surrogate code point is always a lone one
    return value
