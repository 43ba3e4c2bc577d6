"""The HTTP endpoint: `create_app(root, pipeline, settings)` returns a FastAPI application.

Routes (OpenAPI docs at /docs and /redoc, their scripts and styles served by the app itself from
`/docs/assets/`, so the pages work with no network):

    POST /v1/predict   {"records": [...], "explain": "none" | "declined" | "all"}  -> one decision a record
    POST /v1/feedback  {"request_id", "label"}                                    -> ground truth joins the log
    GET  /v1/health    liveness, the version served, whether a new champion failed to load (no file names)
    GET  /v1/model     version, metrics, request schema, fingerprints, why the last reload failed
    GET  /metrics      Prometheus text format

Every decision gets its own `request_id`, `<uuid4 hex of the HTTP request>-<record index>`: a
decision is the unit that is logged, labelled later and traced, and one HTTP request may hold
many; the log keeps a request's decisions in one row under the uuid (`predictions.log`), so the id
also says where a decision is stored. Decisions are committed to the prediction log before the
response is sent. Errors are JSON `{"error": ..., "errors": [...]}`:
400 unreadable JSON, 401 missing or wrong bearer token (when DRIFTLINE_API_TOKEN is set), 413
body too large, 422 a request or record that breaks the contract (each bad record index and
field named). Anything unexpected is logged on the server and answered with a bare 500, never
a traceback. Every answer and every logged row is written through `loggable` (always valid JSON;
extra fields bounded by `serve.log.max_extra_bytes`).

With DRIFTLINE_API_TOKEN set, every route needs the token except GET /v1/health (for load
balancers; it names no file): the docs pages, their assets and /openapi.json too, since the
document describes the schema's fields. The document declares the bearer scheme, so Swagger UI's
"Authorize" sends the token with "Try it out". `serve.log.retention_days` deletes old decisions
when the app starts and every `prune_seconds` (an hour) after.

POST /v1/predict reads its raw body and parses it with orjson, in a worker thread
(`parse_predict_body`); `PredictRequest` documents the body (OpenAPI) and still decides, with
pydantic's own messages, whenever the body is anything but the plain shape. Server-Timing on its
answer splits the server's time into parse, validate, score, log and respond.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

from driftline.predictions.log import DecisionLog, LoggedRequest, decision_id, log_location, open_log, parse_label
from driftline.serve.bundle import DEFAULT_POLL_SECONDS, BundleHolder, ModelBundle, RequestSchema
from driftline.serve.loggable import dumps, logged_records, plain
from driftline.serve.metrics import MULTIPROC_ENV, ServeMetrics
from driftline.serve.openapi import install as install_openapi
from driftline.serve.scoring import BATCH_THREADS, score_frame
from driftline.serve.validation import check_records

log = logging.getLogger("driftline.serve")

TOKEN_ENV = "DRIFTLINE_API_TOKEN"
OPEN_PATHS = frozenset({"/v1/health"})  # the only route open when a token is set
DOCS_ASSETS = "/docs/assets"  # Swagger UI's and ReDoc's files (fastapi-offline ships them)
PRUNE_SECONDS = 3600.0  # how often a server with `serve.log.retention_days` deletes old decisions
# What /metrics labels requests by: anything else is "other", so a scanner cannot add series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ROUTES = frozenset({"/v1/predict", "/v1/feedback", "/v1/health", "/v1/model", "/metrics", "/docs", "/redoc", "/openapi.json"})


@dataclass(frozen=True)
class ServeSettings:
    """Limits and options of one server."""

    max_body_bytes: int = 16 * 1024 * 1024
    max_records: int = 10_000
    token: str | None = None  # bearer token; None = no auth
    poll_seconds: float = DEFAULT_POLL_SECONDS
    log_sync: str = "full"
    predict_threads: int = BATCH_THREADS  # LightGBM threads for a large batch (1 when workers share the cores)
    metrics_dir: str | None = None  # PROMETHEUS_MULTIPROC_DIR of `--workers N` (None: one process)
    prune_seconds: float = PRUNE_SECONDS  # between retention runs (only with serve.log.retention_days)


# ----------------------------------------------------------------------------- request / response models


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Any]] = Field(
        min_length=1,
        description="Applications to score: one object per record, with the schema's input fields "
        "(GET /v1/model lists them). The id field is optional and echoed back.",
    )
    explain: Literal["none", "declined", "all"] = Field(
        "declined",
        description="Which records get reason codes: none; declined (binary tasks: records predicted 1, "
        "the positive/high-risk class; other tasks: all); all.",
    )


class ReasonCode(BaseModel):
    feature: str = Field(description="A model feature (an input field, or one derived from it by the fitted transforms).")
    value: Any = Field(None, description="The feature's value as the model saw it (after transforms).")
    input: Any = Field(None, description="The field's value as sent, when the feature is an input field.")
    contribution: float = Field(description="Its push on the raw score (log-odds for binary); positive = toward 1.")


class Decision(BaseModel):
    request_id: str = Field(description="`<batch_id>-<index>`: one per decision (a uuid4 hex per HTTP request, plus the "
                            "record's position); use it for feedback, label import and audit.")
    index: int = Field(description="Position of the record in the request.")
    id: Any = Field(None, description="The record's id field, when it was sent.")
    prediction: Any = Field(description="Binary: 1 when score >= threshold, else 0. Regression: the value. Multiclass: the class.")
    score: float
    scores: dict[str, float] | None = Field(None, description="Multiclass only: probability per class.")
    model_version: str
    reasons: list[ReasonCode] | None = Field(None, description="Top features pushing the score up; null when not asked for.")


class PredictResponse(BaseModel):
    batch_id: str = Field(description="uuid4 hex of this HTTP request; each decision's request_id is `<batch_id>-<index>`.")
    pipeline: str
    model_version: str
    threshold: float | None
    predictions: list[Decision]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=80)
    label: int | float | str | bool


class ErrorResponse(BaseModel):
    error: str
    errors: list[dict[str, Any]] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Unreadable JSON"},
    401: {"model": ErrorResponse, "description": "Missing or wrong bearer token"},
    413: {"model": ErrorResponse, "description": "Body too large"},
    422: {"model": ErrorResponse, "description": "The request or a record breaks the contract"},
}


EXPLAIN_MODES = frozenset({"none", "declined", "all"})
PREDICT_KEYS = frozenset({"records", "explain"})


def parse_predict_body(raw: bytes, content_type: str | None) -> tuple[list[dict[str, Any]], str] | JSONResponse:
    """(records, explain), or the 400/422 answer FastAPI would give for a PredictRequest body.

    orjson reads the body; json.loads gets a second try (it reads what orjson refuses but
    Python's json accepts, e.g. NaN and Infinity, as FastAPI did). The common shape is checked
    here; anything else goes through `PredictRequest` itself, so errors keep pydantic's words.
    """
    if not raw:
        return _error(422, "the request does not match the API (see /docs)", [{"field": None, "message": "Field required"}])
    if content_type is not None and not _is_json(content_type):
        data: Any = raw  # FastAPI hands a non-JSON body to the model as bytes: a 422
    else:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            try:
                data = json.loads(raw)
            except Exception:  # noqa: BLE001 - undecodable bytes or text: either way not JSON
                return _error(400, "the body is not valid JSON")
            refused = _not_unicode(data)
            if refused:
                return _error(400, refused)
    if type(data) is dict and data.keys() <= PREDICT_KEYS:
        records = data.get("records")
        explain = data.get("explain", "declined")
        if (type(records) is list and records and type(explain) is str and explain in EXPLAIN_MODES
                and all(type(r) is dict for r in records)):
            return records, explain
    try:
        body = PredictRequest.model_validate(data)
    except ValidationError as exc:
        return _api_mismatch(exc.errors())
    return body.records, body.explain


def _not_unicode(data: Any) -> str | None:
    """Why a body json.loads read (orjson having refused it) is still not JSON text, or None.

    json.loads reads NaN and Infinity, which is why it gets a second try, but also a lone
    surrogate escape ("\\ud800"), which is no character: orjson, the log and every JSON reader
    downstream refuse it, so the request is refused here, once."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "the body is not valid JSON: a \\uD800-\\uDFFF escape that is not half of a surrogate pair is no character"
    except (RecursionError, ValueError):
        return "the body is not valid JSON: nested too deeply"
    return None


def _is_json(content_type: str) -> bool:
    """FastAPI's rule: application/json or application/*+json (parameters ignored)."""
    main = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = main.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _api_mismatch(errors: Any) -> JSONResponse:
    out = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        item: dict[str, Any] = {"field": ".".join(loc) or None, "message": e.get("msg", "invalid")}
        if len(loc) >= 2 and loc[0] == "records" and loc[1].isdigit():
            item["record"] = int(loc[1])
        out.append(item)
    return _error(422, "the request does not match the API (see /docs)", out)


class _JSON(JSONResponse):
    """A JSON answer that is always written (orjson, or `loggable.plain` when orjson refuses):
    a field name or value echoed from a hostile request cannot turn a 4xx into a 500."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


def _error(status: int, message: str, errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if errors is not None:
        body["errors"] = errors
    return _JSON(body, status_code=status, headers=headers)


# ----------------------------------------------------------------------------- the guard (auth, limits, metrics, last-resort errors)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Guard:
    """Pure ASGI middleware: bearer auth, body-size limit, request metrics, and a generic 500."""

    def __init__(self, app: Any, settings: ServeSettings, metrics: ServeMetrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self._token = settings.token.encode("utf-8") if settings.token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope.get("path", "")
        status = {"code": 500, "started": False, "counted": False}

        def count() -> None:
            status["counted"] = True
            route = path if path in ROUTES else "other"
            method = scope.get("method", "")
            self.metrics.observe_request(method if method in METHODS else "other", route, int(status["code"]),
                                         time.perf_counter() - started)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False) and not status["counted"]:
                count()  # before the last byte leaves: a client that has its answer finds it counted
            await send(message)

        try:
            early = self._refuse(scope, path)
            if early is None and scope.get("method") in ("POST", "PUT", "PATCH"):
                early, receive = await self._limit_body(scope, receive)
            if early is not None:
                await early(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unexpected error serving %s %s", scope.get("method"), path)
            if not status["started"]:
                await _error(500, "internal error; the server log has the details")(scope, receive, send_wrapper)
        finally:
            if not status["counted"]:  # no complete answer (a disconnect, an error mid-stream)
                count()

    def _refuse(self, scope: Scope, path: str) -> JSONResponse | None:
        if self._token is None or path in OPEN_PATHS:
            return None
        given = b""
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                given = value
                break
        if hmac.compare_digest(given, b"Bearer " + self._token):
            return None
        return _error(401, "missing or wrong bearer token (Authorization: Bearer <token>)", headers={"WWW-Authenticate": "Bearer"})

    async def _limit_body(self, scope: Scope, receive: Receive) -> tuple[JSONResponse | None, Receive]:
        limit = self.settings.max_body_bytes
        declared = None
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return _error(400, "Content-Length is not a number"), receive
        if declared is not None:
            if declared > limit:
                return _error(413, f"body of {declared:,} bytes exceeds the limit of {limit:,} bytes; send fewer records per request"), receive
            return None, receive
        # No length declared (chunked): read up to the limit, then replay what was read.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None, receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return _error(413, f"body exceeds the limit of {limit:,} bytes; send fewer records per request"), receive
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return None, replay


# ----------------------------------------------------------------------------- the application


def create_app(root: Path, pipeline: str, settings: ServeSettings | None = None) -> FastAPI:
    """Load the champion and open the prediction log; raises BundleError / PredictionLogError."""
    settings = settings or ServeSettings()
    metrics = ServeMetrics(pipeline, Path(settings.metrics_dir) if settings.metrics_dir else None)

    def model_changed(changed: BundleHolder, swapped: bool) -> None:
        metrics.model_changed(changed.current.version, swapped=swapped, reload_failing=changed.last_error is not None)

    holder = BundleHolder(root, pipeline, settings.poll_seconds, on_change=model_changed)
    metrics.model_changed(holder.current.version)
    from driftline.config.params import load_pipeline

    log_spec = load_pipeline(pipeline, root).serve.log  # url null: the SQLite file under logs/
    prediction_log = open_log(log_location(root, pipeline, log_spec.url), settings.log_sync)
    retention = Retention(prediction_log, pipeline, log_spec.retention_days, settings.prune_seconds)
    retention.prune()  # before the first request: a log past its retention is never served from

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        holder.start()
        retention.start()
        try:
            yield
        finally:
            holder.stop()
            retention.stop()
            metrics.close()
            prediction_log.close()

    # FastAPI's recipe for self-hosted docs, as fastapi-offline packages it: the CDN pages off,
    # Swagger UI and ReDoc served from the package's files mounted at DOCS_ASSETS.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        title=f"driftline — {pipeline}",
        summary="Scores records with the pipeline's champion model; validates, explains and logs every decision.",
        version="1",
        lifespan=lifespan,
    )
    app.state.holder = holder
    app.state.prediction_log = prediction_log
    app.state.settings = settings
    app.state.retention = retention
    app.add_middleware(Guard, settings=settings, metrics=metrics)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "the body is not valid JSON")
        return _api_mismatch(errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    # The body is read raw and parsed with orjson (FastAPI's json.loads plus a pydantic pass over
    # every record cost about 5 ms a 1,000-record batch); PredictRequest still decides — with
    # pydantic's own messages — whenever the body is not the plain {"records": [{...}, ...],
    # "explain": ...} shape. The OpenAPI document shows it with typed records (`openapi.install`).
    @app.post("/v1/predict", response_model=PredictResponse, responses=ERROR_RESPONSES,
              summary="Score records with the champion")
    async def predict(request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(_predict, body, request.headers.get("content-type"))

    def _predict(raw: bytes, content_type: str | None) -> Response:
        bundle = holder.current  # this request's model, start to finish, even if a swap happens now
        received = time.perf_counter()
        parsed = parse_predict_body(raw, content_type)
        if isinstance(parsed, Response):
            return parsed
        records, explain = parsed
        if len(records) > settings.max_records:
            return _error(422, f"{len(records):,} records in one request; the limit is {settings.max_records:,}")
        started = time.perf_counter()
        frame, errors = check_records(records, bundle.request_schema)
        if errors:
            return _error(422, f"{len({e.record for e in errors})} of {len(records)} record(s) break the schema; nothing was scored",
                          [e.to_json() for e in errors])
        validated = time.perf_counter()
        scored = score_frame(bundle, frame, explain, settings.predict_threads)
        scored_at = time.perf_counter()
        response = _decide(bundle, records, scored, prediction_log, metrics, log_spec.max_extra_bytes)
        done = time.perf_counter()
        # Where the time went, for browsers' dev tools and load tests (W3C Server-Timing): parse
        # (JSON body), validate, score, log (the durable commit), respond (decisions, log rows and
        # the JSON answer, without the commit).
        response.headers["Server-Timing"] = (f"parse;dur={(started - received) * 1e3:.2f}, "
                                             f"validate;dur={(validated - started) * 1e3:.2f}, "
                                             f"score;dur={scored.seconds * 1e3:.2f}, log;dur={response.log_seconds * 1e3:.2f}, "
                                             f"respond;dur={(done - scored_at - response.log_seconds) * 1e3:.2f}")
        return response

    @app.post("/v1/feedback", responses={**ERROR_RESPONSES, 404: {"model": ErrorResponse, "description": "Unknown request_id"}},
              summary="Attach ground truth to a logged decision")
    def feedback(body: FeedbackRequest) -> dict[str, Any]:
        bundle = holder.current
        try:
            label = parse_label(body.label, bundle.task, bundle.classes)
        except ValueError as exc:
            return _error(422, str(exc), [{"field": "label", "message": str(exc)}])  # type: ignore[return-value]
        if not prediction_log.known([body.request_id]):
            return _error(404, f"no decision with request_id {body.request_id!r} in the prediction log")  # type: ignore[return-value]
        prediction_log.add_labels([(body.request_id, label)], source="api")
        return {"request_id": body.request_id, "label": label, "stored": True}

    # Open to anyone, even with a token: versions and times only. Why a reload failed names files
    # (the registry's paths), so it is in /v1/model, behind the token, and in the server's log.
    @app.get("/v1/health", summary="Liveness and the version served")
    def health() -> dict[str, Any]:
        bundle = holder.current
        return {"status": "ok", "pipeline": pipeline, "model_version": bundle.version, "loaded_at": bundle.loaded_at,
                "swaps": holder.swaps, "reload_failing": holder.last_error is not None}

    @app.get("/v1/model", summary="The champion: version, metrics, request schema, fingerprints")
    def model() -> dict[str, Any]:
        bundle = holder.current
        info = bundle.info
        return {
            "pipeline": pipeline,
            "version": bundle.version,
            "task": bundle.task,
            "threshold": bundle.threshold if bundle.task == "binary" else None,
            "classes": bundle.classes,
            "created": info.get("created"),
            "loaded_at": bundle.loaded_at,
            "parent": info.get("parent"),
            "metrics": info.get("metrics"),
            "gate": info.get("gate"),
            "schema": bundle.request_schema.to_json(),
            "feature_columns": bundle.feature_columns,
            "fingerprints": {"data": info.get("data_fingerprint"), "config": info.get("config_fingerprint"),
                             "files": info.get("files")},
            "last_reload_error": holder.last_error,
        }

    install_openapi(app, holder, PredictRequest, bearer=settings.token is not None, max_records=settings.max_records)

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def prometheus(request: Request) -> Response:
        body, content_type = metrics.render(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    return app


WORKER_ENV = "DRIFTLINE_SERVE_WORKER"  # what each worker process of `driftline serve --workers N` builds


def worker_environment(root: Path, pipeline: str, settings: ServeSettings) -> dict[str, str]:
    """The environment variables that tell `app_from_environment` what to serve (the token is not
    in them: workers read DRIFTLINE_API_TOKEN themselves), and prometheus_client where the workers'
    metrics go (it reads that when the worker, a spawned process, first imports it)."""
    spec = {"root": str(root), "pipeline": pipeline,
            "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k != "token"}}
    return {WORKER_ENV: json.dumps(spec), **({MULTIPROC_ENV: settings.metrics_dir} if settings.metrics_dir else {})}


def app_from_environment() -> FastAPI:
    """uvicorn's factory for each worker process of `driftline serve --workers N`."""
    import os

    spec = json.loads(os.environ[WORKER_ENV])
    settings = ServeSettings(**spec["settings"], token=os.environ.get(TOKEN_ENV) or None)
    return create_app(Path(spec["root"]), spec["pipeline"], settings)


def _decide(bundle: ModelBundle, records: list[dict[str, Any]], scored: Any, prediction_log: DecisionLog,
            metrics: ServeMetrics, max_extra_bytes: int) -> Response:
    """Build the decisions, commit them to the log, then answer.

    Column by column rather than record by record: the log takes one row per request (JSON
    arrays of inputs, outputs, ids and reason codes, each made by one orjson call), and the
    answer's decisions are built with one comprehension."""
    from driftline.clock import now_utc

    schema = bundle.request_schema
    id_column = schema.id_column
    version = bundle.version
    n = len(records)
    batch_id = uuid.uuid4().hex
    request_ids = [decision_id(batch_id, i) for i in range(n)]
    record_ids = [record.get(id_column) for record in records] if id_column else [None] * n
    if id_column and any(type(r) is float for r in record_ids):
        record_ids = [plain(r) for r in record_ids]  # an infinite id is said as "Infinity", not null
    float_fields, known = _fields(schema)
    scores, predictions, reasons = scored.scores, scored.predictions, scored.reasons
    explained = 0
    for record, codes in zip(records, reasons):
        if codes is not None:
            explained += 1
            for code in codes:  # the value the client sent, beside the model's (transformed) one
                if code["feature"] in record:
                    code["input"] = record[code["feature"]]
    if scored.class_scores is None:
        outputs: list[dict[str, Any]] = [{"score": s, "prediction": p} for s, p in zip(scores, predictions)]
    else:
        outputs = [{"score": s, "prediction": p, "scores": c} for s, p, c in zip(scores, predictions, scored.class_scores)]
    entry = LoggedRequest(
        batch_id=batch_id, time=now_utc(), model_version=version, size=n,
        inputs=logged_records(records, float_fields, known, max_extra_bytes).decode(),
        outputs=orjson.dumps(outputs).decode(),
        record_ids=dumps(record_ids).decode() if any(r is not None for r in record_ids) else None,
        reasons=dumps(reasons).decode() if explained else None,
    )
    logging_started = time.perf_counter()
    prediction_log.record(entry, bundle.pipeline)  # durable before the client hears of it
    log_seconds = time.perf_counter() - logging_started
    metrics.observe_decisions(version, predictions, explained)
    decisions = [{"request_id": rid, "index": i, "id": record_id, "prediction": output["prediction"], "score": output["score"],
                  **({"scores": output["scores"]} if "scores" in output else {}), "model_version": version, "reasons": codes}
                 for i, (rid, record_id, output, codes) in enumerate(zip(request_ids, record_ids, outputs, reasons))]
    body = {"batch_id": batch_id, "pipeline": bundle.pipeline, "model_version": version,
            "threshold": bundle.threshold if bundle.task == "binary" else None, "predictions": decisions}
    response = Response(dumps(body), media_type="application/json")
    response.log_seconds = log_seconds  # type: ignore[attr-defined]
    return response


def _fields(schema: RequestSchema) -> tuple[frozenset[str], frozenset[str]]:
    """(the schema's float fields, every field the schema knows: inputs and the id) of a request schema."""
    columns = schema.rules.columns
    known = set(columns) | ({schema.id_column} if schema.id_column else set())
    return frozenset(name for name, col in columns.items() if col.kind == "float"), frozenset(known)


class Retention:
    """`serve.log.retention_days`: deletes the pipeline's decisions older than that, now and then."""

    def __init__(self, prediction_log: DecisionLog, pipeline: str, days: int | None, every_seconds: float) -> None:
        self.log = prediction_log
        self.pipeline = pipeline
        self.days = days
        self.every_seconds = every_seconds
        self.pruned = 0  # requests deleted since the start (for tests and the curious)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def prune(self) -> int:
        """Delete what is past retention now; the number of requests deleted (0 without retention)."""
        if self.days is None:
            return 0
        import datetime as dt

        before = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=self.days)).isoformat(timespec="milliseconds")
        deleted = self.log.prune(self.pipeline, before)
        self.pruned += deleted
        if deleted:
            log.info("%s: deleted %d logged request(s) older than %d day(s) (serve.log.retention_days)",
                     self.pipeline, deleted, self.days)
        return deleted

    def start(self) -> None:
        if self.days is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="prediction-log-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_seconds):
            try:
                self.prune()
            except Exception:  # a busy or unreachable database: the next round tries again
                log.warning("%s: deleting old decisions failed; will retry", self.pipeline, exc_info=True)
