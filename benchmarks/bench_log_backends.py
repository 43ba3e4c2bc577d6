"""Commit cost of the prediction log per 1,000 decisions: SQLite (full and normal sync) against PostgreSQL on loopback.

    python benchmarks/bench_log_backends.py [--batches 30] [--singles 1000] [--rounds 3]

What the endpoint pays to make decisions durable before it answers (`PredictionLog.record` /
`PostgresLog.record`: one transaction per HTTP request), measured in one process with no HTTP:

- batched requests: `--batches` requests of 1,000 decisions each (loan applications from the built-in
  generator, with outputs and record ids, as the endpoint logs them);
- single-record requests: `--singles` requests of one decision each, one after another;
- single-record requests from 4 threads at once (the endpoint's thread pool under load), where
  SQLite serialises the commits and PostgreSQL runs them side by side (its group commit shares fsyncs).

Backends, on the same disk (PostgreSQL's data folder and the SQLite file both under the system temp
folder), alternated for `--rounds` rounds, medians reported:
- `sqlite_full` (the default: WAL, synchronous=FULL, an fsync per commit) and `sqlite_normal`;
- `sqlite_full_main`: main's log.py before this change, loaded from git (the baseline showing that
  the SQLite path kept its speed after the layout moved to one module for both backends);
- `postgresql` (synchronous_commit=on, the default) and `postgresql_async` (`--log-sync normal`:
  synchronous_commit=off), a throw-away server started on 127.0.0.1 as the tests start it
  (tests/functional/postgres.py).
Loopback measures the database's own cost, not a network's: across real hosts add one round trip
per commit. Results: benchmarks/results/log_backends.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from _project import REPO

sys.path.insert(0, str(REPO))  # the PostgreSQL server helper the tests use
from tests.functional.postgres import PostgresServer, postgres_server  # noqa: E402

from driftline.clock import now_utc  # noqa: E402
from driftline.predictions.log import LoggedRequest, open_log  # noqa: E402

RESULTS = REPO / "benchmarks/results/log_backends.json"
MAIN = "5ec9d1f"  # main before the PostgreSQL backend: SQLite only, its queries in log.py
BATCH = 1000
THREADS = 4


def sample_records(n: int) -> list[dict[str, Any]]:
    from driftline.data.generator import generate_loans

    rows = generate_loans(rows=n, seed=11).drop(columns=["default"])
    return json.loads(rows.to_json(orient="records", date_format="iso"))


def entry(records: list[dict[str, Any]], make: type = LoggedRequest) -> Any:
    """One request's log entry as serve/app.py builds it."""
    outputs = [{"score": 0.25, "prediction": 0} for _ in records]
    return make(batch_id=uuid.uuid4().hex, time=now_utc(), model_version="v0001", size=len(records),
                inputs=orjson.dumps(records).decode(), outputs=orjson.dumps(outputs).decode(),
                record_ids=orjson.dumps([r["application_id"] for r in records]).decode())


def main_log_module() -> Any:
    """main's predictions/log.py (before this change), imported from git under another name."""
    source = subprocess.run(["git", "show", f"{MAIN}:src/driftline/predictions/log.py"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout
    path = Path(tempfile.mkdtemp(prefix="bench-log-main-")) / "main_log.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("main_log", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["main_log"] = module
    spec.loader.exec_module(module)
    return module


def backends(server: PostgresServer, folder: Path, old: Any) -> dict[str, Callable[[str], tuple[Any, type]]]:
    """name -> open(tag): a fresh, empty log (and the entry class it takes)."""
    def database(tag: str) -> str:
        return server.new_database(f"bench_{tag}_{uuid.uuid4().hex[:8]}")

    return {
        "sqlite_full": lambda tag: (open_log(folder / f"{tag}-{uuid.uuid4().hex}.sqlite", "full"), LoggedRequest),
        "sqlite_full_main": lambda tag: (old.PredictionLog(folder / f"{tag}-{uuid.uuid4().hex}.sqlite", "full"), old.LoggedRequest),
        "sqlite_normal": lambda tag: (open_log(folder / f"{tag}-{uuid.uuid4().hex}.sqlite", "normal"), LoggedRequest),
        "postgresql": lambda tag: (open_log(database(tag), "full"), LoggedRequest),
        "postgresql_async": lambda tag: (open_log(database(tag), "normal"), LoggedRequest),
    }


def timed_commits(log: Any, entries: list[Any]) -> list[float]:
    seconds = []
    for item in entries:
        start = time.perf_counter()
        log.record(item, "credit")
        seconds.append(time.perf_counter() - start)
    return seconds


def concurrent_singles(log: Any, entries: list[Any]) -> float:
    """Wall seconds for THREADS threads to commit `entries` between them."""
    shares = [entries[i::THREADS] for i in range(THREADS)]
    threads = [threading.Thread(target=timed_commits, args=(log, share)) for share in shares]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def measure(open_backend: Callable[[str], tuple[Any, type]], records: list[dict], batches: int, singles: int) -> dict[str, float]:
    log, make = open_backend("batched")
    try:
        timed_commits(log, [entry(records[:BATCH], make) for _ in range(3)])  # warm up: connections, pages
        batch_entries = [entry(records[i * BATCH % len(records):][:BATCH], make) for i in range(batches)]
        batched = timed_commits(log, batch_entries)
    finally:
        log.close()
    log, make = open_backend("singles")
    try:
        timed_commits(log, [entry(records[:1], make) for _ in range(20)])
        single = timed_commits(log, [entry(records[i % len(records) : i % len(records) + 1], make) for i in range(singles)])
        together = concurrent_singles(log, [entry(records[i % len(records) : i % len(records) + 1], make) for i in range(singles)])
    finally:
        log.close()
    batched.sort()
    single.sort()
    return {
        "batched_ms_per_1000_records": round(statistics.median(batched) * 1e3 * 1000 / BATCH, 3),
        "batched_p90_ms": round(batched[int(0.9 * (len(batched) - 1))] * 1e3, 3),
        "single_ms_per_commit_p50": round(statistics.median(single) * 1e3, 3),
        "single_ms_per_commit_p99": round(single[int(0.99 * (len(single) - 1))] * 1e3, 3),
        "single_seconds_per_1000_records": round(sum(single) * 1000 / singles, 3),
        f"single_{THREADS}_threads_seconds_per_1000_records": round(together * 1000 / singles, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--singles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    records = sample_records(5 * BATCH)
    load_before = os.getloadavg()
    old = main_log_module()
    runs: dict[str, list[dict[str, float]]] = {}
    with postgres_server() as server, tempfile.TemporaryDirectory(prefix="bench-log-") as folder:
        options = backends(server, Path(folder), old)
        for round_ in range(args.rounds):
            for name, open_backend in options.items():
                figures = measure(open_backend, records, args.batches, args.singles)
                runs.setdefault(name, []).append(figures)
                print(f"round {round_ + 1} {name}: {figures}", flush=True)
    medians = {name: {key: round(statistics.median(r[key] for r in results), 3) for key in results[0]}
               for name, results in runs.items()}
    base = medians["sqlite_full"]
    ratios = {name: {key: round(value / base[key], 2) for key, value in figures.items() if base[key]}
              for name, figures in medians.items() if name != "sqlite_full"}
    result = {
        "benchmark": "bench_log_backends",
        "what": "prediction-log commit cost: one transaction per request, batches of 1,000 decisions and single decisions",
        "main": MAIN,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "disk": "the same ext4 volume for both",
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "postgresql": "Debian PostgreSQL on 127.0.0.1 (loopback), fsync=on; synchronous_commit as named",
        "args": vars(args),
        "medians": medians,
        "ratios_to_sqlite_full": ratios,
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for name, figures in medians.items():
        print(f"{name:18s} {figures}")
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
