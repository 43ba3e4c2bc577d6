"""`driftline serve` under SIGKILL: every decision a client was answered with (2xx) is in the prediction
log after a restart, the log opens, and the restarted server is healthy.

Three crashes on one project, one after another, with clients sending requests from four threads:
the server kills itself inside the log's transaction (`log:record:before`, the row inserted but not
committed) and just after the commit (`log:record:committed`, the answer not sent yet), and then it
is SIGKILLed from outside mid-stream. The kill points are in predictions/log.py (faults.py).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from tests.functional.test_serve import Server, start_server, stop_server
from tests.functional.test_serve import test_records as served_records

THREADS = 4


def load(server: Server, records: list[dict], acked: list[str], stop: threading.Event) -> list[threading.Thread]:
    """Client threads posting until the server stops answering (or `stop`); ids of 2xx answers go into `acked`."""
    def client() -> None:
        with server.client() as http:
            while not stop.is_set():
                try:
                    response = http.post("/v1/predict", json={"records": records})
                except httpx.TransportError:
                    return
                if 200 <= response.status_code < 300:
                    acked.extend(d["request_id"] for d in response.json()["predictions"])  # list.extend is atomic

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    return threads


def logged_ids(root: Path) -> set[str]:
    with sqlite3.connect(root / "logs/credit/predictions.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {row[0] for row in db.execute("SELECT request_id FROM predictions")}


def test_every_acknowledged_decision_survives_a_killed_server(cli, built_project: Path) -> None:
    root = built_project
    records = served_records(root, 3)
    acked: list[str] = []
    kills = 0
    for point in ("log:record:before@6", "log:record:committed@6"):
        server = start_server(root, env={"DRIFTLINE_KILL_AT": point})
        stop = threading.Event()
        for thread in load(server, records, acked, stop):
            thread.join(timeout=60)
        assert server.proc.wait(timeout=30) == -signal.SIGKILL, point
        kills += 1

    server = start_server(root)
    stop = threading.Event()
    before = len(acked)
    threads = load(server, records, acked, stop)
    try:
        deadline = time.monotonic() + 120
        while len(acked) < before + 20 * len(records) and server.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(server.proc.pid, signal.SIGKILL)  # mid-stream: requests in flight on every thread
        kills += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        server.proc.wait(timeout=30)
    assert len(acked) >= before + 20 * len(records)

    missing = set(acked) - logged_ids(root)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged decisions are not in the log after {kills} kills"
    server = start_server(root)
    try:
        with server.client() as http:
            assert http.get("/v1/health").json()["status"] == "ok"
            fresh = http.post("/v1/predict", json={"records": records})
            assert fresh.status_code == 200
        assert {d["request_id"] for d in fresh.json()["predictions"]} <= logged_ids(root)
    finally:
        stop_server(server)
    for request_id in (acked[0], acked[before], acked[-1]):  # one from each server's life
        out = cli(["audit", "trace", request_id], root).stdout
        assert request_id in out and "v0001" in out
