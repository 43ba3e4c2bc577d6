"""`driftline serve <p>`: the champion behind an HTTP endpoint (FastAPI on uvicorn).

Thin: parses options, builds the app (`driftline.serve.app.create_app`), runs uvicorn. Binds
127.0.0.1 unless told otherwise. A bearer token is read from DRIFTLINE_API_TOKEN, never from
the command line (it would show in `ps`).
"""

from __future__ import annotations

import math
import os
import socket
from typing import Annotated

import typer

MAX_PORT = 65535
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # as driftline.serve.metrics names it (importing that loads prometheus_client)


def serve(
    pipeline: Annotated[str, typer.Argument(help="The pipeline whose champion to serve.")],
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes the endpoint to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body accepted (413 beyond).")] = 16 * 1024 * 1024,
    max_records: Annotated[int, typer.Option(help="Most records in one predict request (422 beyond).")] = 10_000,
    log_sync: Annotated[str, typer.Option(help="Prediction-log durability: full (fsync every commit; survives power loss) or normal "
                                              "(SQLite synchronous=NORMAL; PostgreSQL synchronous_commit=off).")] = "full",
    poll: Annotated[float, typer.Option(help="Seconds between checks for a new champion (0: never swap).")] = 1.0,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="One log line per request.")] = False,
    workers: Annotated[int, typer.Option(help="Server processes sharing the port (and the prediction log); one per core "
                                               "serves the most records per second.")] = 1,
) -> None:
    """Serve the champion of a pipeline: **POST /v1/predict**, /v1/feedback, /v1/health, /v1/model, /metrics, docs at /docs.

    Requests are validated against the pipeline's schema, scored through the training's fitted
    transforms, explained with reason codes and logged before the answer to
    `logs/<pipeline>/predictions.sqlite`, or to the PostgreSQL database of the pipeline's
    `serve.log.url` (DRIFTLINE_LOG_URL overrides it), which several hosts can share. A newly promoted champion is swapped in without a restart. Set
    DRIFTLINE_API_TOKEN to require `Authorization: Bearer <token>` everywhere but /v1/health (the docs and /openapi.json too). For throughput, run one
    worker process per core (`--workers 2` on two cores): one process is bound to one core.
    """
    import dataclasses
    import logging
    import shutil
    import tempfile

    from driftline.predictions.log import SYNC_MODES
    from driftline.project import find_root

    if log_sync not in SYNC_MODES:
        typer.echo(f"driftline serve: --log-sync must be one of {', '.join(SYNC_MODES)}", err=True)
        raise typer.Exit(2)
    if max_records < 1 or max_body_bytes < 1 or workers < 1:
        typer.echo("driftline serve: --max-records, --max-body-bytes and --workers must be positive", err=True)
        raise typer.Exit(2)
    if not 1 <= port <= MAX_PORT:
        typer.echo(f"driftline serve: --port {port} is not a TCP port: give one from 1 to {MAX_PORT}", err=True)
        raise typer.Exit(2)
    if not (math.isfinite(poll) and poll >= 0):  # a negative wait would never check, and say nothing
        typer.echo(f"driftline serve: --poll {poll}: give the seconds between checks for a new champion (0: never swap)", err=True)
        raise typer.Exit(2)

    # One OpenMP thread per prediction: requests are served concurrently by threads already, and
    # LightGBM's default (all cores) costs milliseconds of thread wake-up on a one-row request.
    # Must be set before LightGBM loads; an explicit OMP_NUM_THREADS wins.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # prometheus_client picks its mode from this variable when first imported: one process keeps
    # its metrics in memory (whatever the caller's environment says); workers get a folder below.
    os.environ.pop(MULTIPROC_ENV, None)
    import uvicorn

    from driftline.serve.app import TOKEN_ENV, ServeSettings, create_app, worker_environment

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = ServeSettings(max_body_bytes=max_body_bytes, max_records=max_records,
                             token=os.environ.get(TOKEN_ENV) or None, poll_seconds=poll, log_sync=log_sync)
    root = find_root()
    app = create_app(root, pipeline, settings)  # a missing champion or a damaged log: the CLI's handler says so
    bundle = app.state.holder.current
    auth = "bearer token required" if settings.token else "no auth (set DRIFTLINE_API_TOKEN to require a token)"
    processes = f"; {workers} worker processes" if workers > 1 else ""
    typer.echo(f"serving {pipeline} {bundle.version} at http://{host}:{port} (docs: /docs; {auth}{processes}); "
               f"decisions logged to {app.state.prediction_log.where}", err=True)
    options = {"host": host, "port": port, "log_level": "info", "access_log": access_log, "timeout_graceful_shutdown": 5}
    if workers == 1:
        uvicorn.run(app, **options)
        return
    # Each worker builds its own app (champion, log connection, metrics) from the environment; the
    # one built above only checked, before any process started, that the champion and log open.
    # They share the cores: one LightGBM thread each. /metrics adds up their counts through
    # prometheus_client's multiprocess mode, in a folder of this start's own (mkdtemp: mode 0700,
    # a new name each time, so no other user and no earlier run can write into it).
    app.state.prediction_log.close()
    sock = listening_socket(host, port)
    metrics_dir = tempfile.mkdtemp(prefix=f"driftline-serve-{pipeline}-metrics-")
    settings = dataclasses.replace(settings, predict_threads=1, metrics_dir=metrics_dir)
    os.environ.update(worker_environment(root, pipeline, settings))  # with PROMETHEUS_MULTIPROC_DIR, for the workers
    try:
        uvicorn.run("driftline.serve.app:app_from_environment", factory=True, workers=workers, fd=sock.fileno(),
                    **{k: v for k, v in options.items() if k not in ("host", "port")})
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def listening_socket(host: str, port: int) -> socket.socket:
    """The TCP socket the worker processes share, with TCP_NODELAY set, which every accepted connection inherits.

    uvicorn's worker processes accept on a socket their parent bound, and their connections keep
    Nagle's algorithm on: every request after the first on a keep-alive connection then waits for
    the client's delayed ACK, about 40 ms (seen with uvicorn 0.54; one process is not affected).
    """
    from driftline.errors import DriftlineError

    sock = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        if sock is not None:
            sock.close()
        raise DriftlineError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                             hint="choose another --port, or stop what is using this one") from None
    sock.set_inheritable(True)
    return sock
