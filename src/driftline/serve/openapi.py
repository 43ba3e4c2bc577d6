"""The predict request's record, typed in the OpenAPI document from the pipeline's schema rules.

`record_model(schema)` builds a pydantic model from the same `SchemaRules` the endpoint validates
with (`driftline.schema.rules`): per input field its JSON type, `null` when the column is
nullable, the allowed values as an `enum`, ge/le as `minimum`/`maximum`, a description in the
rules' words (`ColumnRules.describe`) and an example value. The model is documentation only:
requests are still validated by the columnar check (`driftline.serve.validation`), once per
column and with the rules' own messages, never by pydantic record by record.

The example record is made from the rules (a value inside the bounds, the first allowed value),
never taken from data: /openapi.json is open even when a token guards the API, and a training
row is a real person's record.

`install(app, holder)` replaces `app.openapi` (FastAPI's documented hook): the document is
FastAPI's own plus the typed request body, rebuilt when a hot swap brings another champion. A
datetime field carries the ISO 8601 shape the schema reads as a `pattern` (no time zone), and
`records` the server's `maxItems`, so a generator (schemathesis, tests/functional/test_fuzz_endpoint.py)
makes requests that reach the model, not only 422s. With a token, the document declares the
bearer scheme for every operation but /v1/health.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

from driftline.schema.rules import ColumnRules
from driftline.serve.bundle import BundleHolder, RequestSchema

PREDICT_PATH = "/v1/predict"
EXAMPLE_TIME = "2024-05-01T12:30:00"
# What `driftline.schema.read` reads as a datetime: YYYY-MM-DD within datetime64[ns] (1678-2261), then
# maybe a time after "T" or a space, no zone. (Only 02-29 of a year that is not leap matches and is a 422.)
DATETIME_PATTERN = (r"^(167[89]|16[89][0-9]|1[7-9][0-9]{2}|2[01][0-9]{2}|22[0-5][0-9]|226[01])-"
                    r"((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|[12][0-9]))"
                    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?)?$")
INT64 = (-(2**63), 2**63 - 1)  # an int field's range when the schema gives none (the type rule's)
HEALTH_PATH = "/v1/health"
_PYTHON_TYPES: dict[str, Any] = {"float": float, "int": int, "bool": bool, "category": str, "string": str, "datetime": str}
_JSON_EXAMPLES: dict[str, Any] = {"float": 0.0, "int": 0, "bool": True, "category": "a", "string": "text",
                                  "datetime": EXAMPLE_TIME}


def example_value(col: ColumnRules) -> Any:
    """A value that passes every rule of `col`: the first allowed one, or one inside the bounds."""
    if col.allowed:
        return col.allowed[0]
    if col.ge is not None and col.le is not None:
        middle = (col.ge + col.le) / 2
    elif col.ge is not None or col.le is not None:
        middle = col.ge if col.ge is not None else col.le
    else:
        return _JSON_EXAMPLES[col.kind]
    return round(middle) if col.kind == "int" else float(middle)


def example_record(schema: RequestSchema) -> dict[str, Any]:
    return {name: example_value(col) for name, col in schema.rules.columns.items()}


def _field(col: ColumnRules) -> tuple[Any, Any]:
    kind: Any = Literal[tuple(col.allowed)] if col.allowed else _PYTHON_TYPES[col.kind]  # type: ignore[misc]
    if col.nullable:
        kind = Optional[kind]  # noqa: UP045 - a type built at run time
    bounds: dict[str, Any] = {"ge": col.ge, "le": col.le} if not col.allowed else {}
    if col.kind == "int" and not col.allowed:
        bounds = {"ge": INT64[0] if col.ge is None else col.ge, "le": INT64[1] if col.le is None else col.le}
    if col.kind == "datetime" and not col.allowed:
        bounds["pattern"] = DATETIME_PATTERN
    return kind, Field(..., alias=col.name, title=col.name, description=col.describe(),
                       examples=[example_value(col)], **{k: v for k, v in bounds.items() if v is not None})


def component_name(pipeline: str) -> str:
    """`credit` -> `CreditRecord` (an OpenAPI component name: letters and digits)."""
    words = re.findall(r"[A-Za-z0-9]+", pipeline)
    return "".join(w[:1].upper() + w[1:] for w in words) + "Record"


def record_model(pipeline: str, schema: RequestSchema) -> type[BaseModel]:
    """One request record as a pydantic model (for the OpenAPI document only; see the module doc)."""
    fields: dict[str, Any] = {f"field_{i}": _field(col) for i, col in enumerate(schema.rules.columns.values())}
    if schema.id_column:
        fields["record_id"] = (Any, Field(None, alias=schema.id_column, title=schema.id_column,
                                          description="The record's id (optional): echoed back as `id` and kept in the log."))
    extra = "forbid" if schema.extra_columns == "error" else "allow"
    doc = ("A record to score: every field of the schema is required (a nullable one may be null). "
           + ("Other fields are refused." if extra == "forbid" else
              "Other fields are allowed and ignored by the model" + (" (kept in the log)." if schema.extra_columns == "keep" else ".")))
    return create_model(component_name(pipeline), __doc__=doc,
                        __config__=ConfigDict(extra=extra, json_schema_extra={"examples": [example_record(schema)]}),
                        **fields)


def predict_request_schema(pipeline: str, schema: RequestSchema, base: type[BaseModel],
                           max_records: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the request body's JSON schema, the components it refers to): `base` (the API's
    PredictRequest) with its records typed by `record_model`, at most `max_records` of them."""
    record = record_model(pipeline, schema)
    body_field = base.model_fields["records"]
    typed = create_model("PredictRequest", __base__=base,
                         records=(list[record], Field(min_length=1, max_length=max_records,  # type: ignore[valid-type]
                                                      description=body_field.description)))
    full = typed.model_json_schema(ref_template="#/components/schemas/{model}")
    components = full.pop("$defs", {})
    return full, components


def install(app: Any, holder: BundleHolder, base: type[BaseModel], *, bearer: bool = False,
            max_records: int | None = None) -> None:
    """Make `app.openapi()` FastAPI's document plus the typed predict body of the champion served
    (and, with `bearer`, the token every operation but /v1/health needs)."""
    fastapi_openapi: Callable[[], dict[str, Any]] = app.openapi
    lock = threading.Lock()
    built: dict[str, Any] = {"schema": None, "doc": None}

    def openapi() -> dict[str, Any]:
        schema = holder.current.request_schema
        with lock:
            if built["schema"] is not schema:
                app.openapi_schema = None  # FastAPI's cache: rebuild from the routes
                doc = fastapi_openapi()
                body, components = predict_request_schema(holder.pipeline, schema, base, max_records)
                doc.setdefault("components", {}).setdefault("schemas", {}).update(components)
                if bearer:
                    doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer",
                                                                       "description": "DRIFTLINE_API_TOKEN"}}
                    doc["security"] = [{"bearer": []}]
                    doc["paths"][HEALTH_PATH]["get"]["security"] = []
                operation = doc["paths"][PREDICT_PATH]["post"]
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": body,
                                                     "example": {"records": [example_record(schema)], "explain": "declined"}}},
                }
                built["schema"], built["doc"] = schema, doc
                app.openapi_schema = doc
            return built["doc"]

    app.openapi = openapi
