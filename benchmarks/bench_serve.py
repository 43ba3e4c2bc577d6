"""Latency and throughput of `driftline serve` on loopback, against the model called in-process.

    python benchmarks/bench_serve.py [--rows 50000] [--requests 1000] [--batches 25] [--project PATH]

Builds a throw-away copy of this project (`dvc repro credit-promote` at --rows rows; or serves
--project as it is), starts `driftline serve credit` as a real process — once as one process (the
default) and once with `--workers 2` (one per core) — and measures each with httpx:

- single-record latency, sequential on one keep-alive connection, p50/p99, for explain=none,
  declined (the default) and all — validation, fitted transforms and the durable prediction log
  (synchronous=FULL) are always on;
- batch throughput: batches of 1,000 records without reason codes, from 8, 4, 2 and 1 concurrent
  keep-alive clients (--batches each), in records/s, with the CPU time the server's processes
  and the clients spent per batch; the server's Server-Timing parts of one batch; and, for one
  process and one client, the log at synchronous=NORMAL, to show what an fsync per commit costs;
- the same work in this process without HTTP or the log (check_records + score_frame), and the
  bare booster on a prebuilt matrix — the ratios show what the endpoint costs on top;
- request validation alone, for 1 and 1,000 records: the endpoint's columnar check of the schema
  rules against the validate stage's pandera backend on the same records (the naive baseline);
- the model's input matrix (`driftline.features.model_matrix`, what training and the server
  share), and the same as a pandas frame (`apply_features`, the DataFrame adapter) for scale;
- reason codes separately (LightGBM pred_contrib per row, in-process, on the model matrix).

Every answer must be 200; the count of others is reported. Results: benchmarks/results/serve.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the server does; must precede LightGBM's import

import numpy as np
from _project import ENV, REPO, demo_project

RESULTS = REPO / "benchmarks/results/serve.json"
TARGETS = {"single_p50_ms": 5.0, "single_p99_ms": 15.0, "batch_records_per_s": 100_000}
WORKERS = 2  # one per core of the machine the targets are set for
# Concurrent keep-alive clients in the batch tests. Each keeps one connection, and the kernel
# hands each new connection to whichever worker accepts first: 4 connections split 1:3 between
# two workers about half the time (seen here), 8 rarely so unevenly, so the target is read at 8.
CLIENTS = (8, 4, 2, 1)
TARGET_CLIENTS = 8


def build_project(rows: int) -> Path:
    return demo_project(rows, "serve", then=(["dvc", "repro", "credit-promote"],))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, *options: str, src: Path | None = None) -> tuple[subprocess.Popen, str]:
    """`driftline serve credit` from this checkout, or with `src` from an old checkout's src/ (A/B runs)."""
    import httpx

    port = free_port()
    env = {**ENV, "PYTHONPATH": str(src)} if src else ENV
    cmd = [sys.executable, "-c", "from driftline.cli.main import app; app()", "serve", "credit", "--port", str(port), *options]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"driftline serve exited {proc.returncode}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("driftline serve did not start within 60 s")


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "mean_ms": round(float(ms.mean()), 3), "n": len(ms)}


def single_latency(url: str, records: list[dict], n: int, explain: str) -> tuple[dict, int, int]:
    import httpx

    failures, explained = 0, 0
    times = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(n + 50):
            body = {"records": [records[i % len(records)]], "explain": explain}
            start = time.perf_counter()
            response = client.post("/v1/predict", json=body)
            elapsed = time.perf_counter() - start
            if response.status_code != 200:
                failures += 1
                continue
            if i >= 50:  # warm-up excluded
                times.append(elapsed)
                explained += response.json()["predictions"][0]["reasons"] is not None
    return percentiles(times), failures, explained


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its live descendants (the worker processes
    of `--workers N`) (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(process_cpu_seconds(child) for child in children)


def batch_throughput(url: str, records: list[dict], clients: int, batches_each: int, server_pid: int | None = None) -> dict:
    import httpx

    batch = [records[i % len(records)] for i in range(1000)]
    payload = json.dumps({"records": batch, "explain": "none"}).encode()
    failures = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def run() -> None:
        with httpx.Client(base_url=url, timeout=120, headers={"content-type": "application/json"}) as client:
            client.post("/v1/predict", content=payload)  # warm-up
            barrier.wait()
            for _ in range(batches_each):
                if client.post("/v1/predict", content=payload).status_code != 200:
                    with lock:
                        failures[0] += 1

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    server_cpu = process_cpu_seconds(server_pid) if server_pid else 0.0
    client_cpu = time.process_time()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    client_cpu = time.process_time() - client_cpu
    total = clients * batches_each * 1000
    out = {"clients": clients, "batch_size": 1000, "records": total, "seconds": round(elapsed, 3),
           "records_per_s": round(total / elapsed), "failures": failures[0],
           # Where the CPU went (2 cores shared by server, clients and anything else running):
           "client_cpu_ms_per_batch": round(client_cpu / (clients * batches_each) * 1e3, 2)}
    if server_pid:
        out["server_cpu_ms_per_batch"] = round((process_cpu_seconds(server_pid) - server_cpu) / (clients * batches_each) * 1e3, 2)
    return out


def server_timing(url: str, records: list[dict], n: int = 30) -> dict[str, float]:
    """Median Server-Timing parts of a 1,000-record batch (explain=none), one request at a time."""
    import httpx

    payload = json.dumps({"records": [records[i % len(records)] for i in range(1000)], "explain": "none"}).encode()
    parts: dict[str, list[float]] = {}
    walls = []
    with httpx.Client(base_url=url, timeout=60, headers={"content-type": "application/json"}) as client:
        for i in range(n + 5):
            start = time.perf_counter()
            response = client.post("/v1/predict", content=payload)
            wall = time.perf_counter() - start
            if i < 5 or response.status_code != 200:
                continue
            walls.append(wall * 1e3)
            for part in response.headers.get("server-timing", "").split(", "):
                name, _, value = part.partition(";dur=")
                if value:
                    parts.setdefault(name, []).append(float(value))
    out = {name: round(statistics.median(values), 2) for name, values in parts.items()}
    out["client_wall"] = round(statistics.median(walls), 2) if walls else None
    return out


def timed(fn, repeat: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def in_process(root: Path, records: list[dict]) -> dict:
    """The same work without HTTP and without the log, and the bare booster, in this process."""
    import pandas as pd

    from driftline.features.pipeline import apply_features
    from driftline.schema.validate import validate_frame
    from driftline.serve.bundle import load_bundle
    from driftline.serve.scoring import explain_matrix, model_matrix, score_frame
    from driftline.serve.validation import check_records

    bundle = load_bundle(root, "credit")
    rules = bundle.request_schema.rules
    one = records[:1]
    thousand = [records[i % len(records)] for i in range(1000)]

    def pipeline(rows: list[dict], explain: str) -> None:
        frame, errors = check_records(rows, bundle.request_schema)
        assert not errors
        score_frame(bundle, frame, explain)

    frame1, _ = check_records(one, bundle.request_schema)
    frame1k, _ = check_records(thousand, bundle.request_schema)
    A1, A1k = model_matrix(bundle, frame1), model_matrix(bundle, frame1k)
    steps_1 = {
        "validate": percentiles(timed(lambda: check_records(one, bundle.request_schema), 300)),
        "model_matrix": percentiles(timed(lambda: model_matrix(bundle, frame1), 300)),
        "apply_features_pandas_adapter": percentiles(timed(lambda: apply_features(frame1, bundle.fitted), 300)),
        "booster_predict": percentiles(timed(lambda: bundle.booster.predict(A1), 300)),
        "reason_codes": percentiles(timed(lambda: explain_matrix(bundle, A1), 300)),
    }
    full_1 = {explain: percentiles(timed(lambda explain=explain: pipeline(one, explain), 300)) for explain in ("none", "declined", "all")}
    full_1k = timed(lambda: pipeline(thousand, "none"), 20)
    validate_1k = timed(lambda: check_records(thousand, bundle.request_schema), 20)
    as_frame = {n: pd.DataFrame({name: pd.Series([r[name] for r in rows], dtype=object) for name in rules.columns})
                for n, rows in (("1", one), ("1000", thousand))}
    pandera = {n: percentiles(timed(lambda frame=frame: validate_frame(frame, rules), 20)) for n, frame in as_frame.items()}
    bare_1k = timed(lambda: bundle.booster.predict(A1k), 20)
    matrix_1k = timed(lambda: model_matrix(bundle, frame1k), 20)
    pandas_1k = timed(lambda: apply_features(frame1k, bundle.fitted), 20)
    contrib_1k = timed(lambda: explain_matrix(bundle, A1k), 5)
    return {
        "model": {"version": bundle.version, "trees": bundle.booster.num_trees(), "features": len(bundle.feature_columns)},
        "single_record_steps": steps_1,
        "single_record_pipeline": full_1["none"],
        "single_record_pipeline_by_explain": full_1,
        "batch_1000_pipeline_records_per_s": round(1000 / statistics.median(full_1k)),
        "batch_1000_validate_ms": round(statistics.median(validate_1k) * 1e3, 3),
        "validate_pandera_backend": pandera,
        "batch_1000_bare_booster_records_per_s": round(1000 / statistics.median(bare_1k)),
        "batch_1000_model_matrix_ms": round(statistics.median(matrix_1k) * 1e3, 3),
        "batch_1000_apply_features_pandas_adapter_ms": round(statistics.median(pandas_1k) * 1e3, 3),
        "reason_codes_ms_per_row_in_batch_of_1000": round(statistics.median(contrib_1k) * 1e3 / 1000, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000, help="Rows of the throw-away project's data.")
    parser.add_argument("--requests", type=int, default=1000, help="Sequential single-record requests per explain mode.")
    parser.add_argument("--batches", type=int, default=25, help="Batches of 1,000 per client.")
    parser.add_argument("--project", type=Path, help="Serve this built project instead of building a copy.")
    args = parser.parse_args()

    import pandas as pd

    root = args.project.resolve() if args.project else build_project(args.rows)
    test = pd.read_parquet(root / "data/credit/split/test.parquet").drop(columns=["default"])
    records = json.loads(test.head(2000).to_json(orient="records", date_format="iso"))
    load_before = os.getloadavg()
    failures = 0
    single: dict[str, dict] = {}
    batch: dict[str, dict] = {}
    # One server process (the default), then one worker per core (`--workers 2`, what the README
    # recommends for throughput): the same single-record and batch loads against each.
    for label, options in (("one_process", ()), ("two_workers", ("--workers", str(WORKERS)))):
        proc, url = start_server(root, *options)
        try:
            single[label] = {}
            for explain in ("none", "declined", "all"):
                stats, failed, explained = single_latency(url, records, args.requests, explain)
                single[label][explain] = {**stats, "explained": explained}
                failures += failed
                print(f"{label}: single record, explain={explain}: p50 {stats['p50_ms']} ms, p99 {stats['p99_ms']} ms")
            runs = {f"clients_{n}": batch_throughput(url, records, n, args.batches, proc.pid) for n in CLIENTS}
            failures += sum(run["failures"] for run in runs.values())
            runs["server_timing_ms"] = server_timing(url, records)
            batch[label] = runs
            print(f"{label}: batches of 1,000: " + ", ".join(f"{runs[f'clients_{n}']['records_per_s']:,} records/s with {n} clients"
                                                              for n in CLIENTS))
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    # What fsync-per-commit costs: the same batches with the log at synchronous=NORMAL.
    proc, url = start_server(root, "--log-sync", "normal")
    try:
        batch["one_process_one_client_log_sync_normal"] = batch_throughput(url, records, 1, args.batches, proc.pid)
        failures += batch["one_process_one_client_log_sync_normal"]["failures"]
        print(f"batches of 1,000, log synchronous=NORMAL: {batch['one_process_one_client_log_sync_normal']['records_per_s']:,} "
              "records/s with one client")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    direct = in_process(root, records)
    http_p50 = single["one_process"]["declined"]["p50_ms"]
    result = {
        "machine": {"cpus": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version(),
                    "omp_num_threads": os.environ.get("OMP_NUM_THREADS")},
        "project": {"rows": None if args.project else args.rows, "model": direct["model"]},
        "http": {"single_record": single, "batch": batch, "failures": failures},
        "in_process": direct,
        "ratios": {
            "single_http_p50_over_in_process_pipeline_p50": round(http_p50 / direct["single_record_pipeline"]["p50_ms"], 2),
            "single_http_p50_over_bare_booster_p50": round(http_p50 / direct["single_record_steps"]["booster_predict"]["p50_ms"], 1),
            "single_in_process_pipeline_p50_over_bare_booster_p50": round(direct["single_record_pipeline"]["p50_ms"]
                                                                          / direct["single_record_steps"]["booster_predict"]["p50_ms"], 1),
            "batch_bare_booster_over_http_two_workers": round(direct["batch_1000_bare_booster_records_per_s"]
                                                             / batch["two_workers"][f"clients_{TARGET_CLIENTS}"]["records_per_s"], 2),
            "pandas_adapter_over_model_matrix_single": round(direct["single_record_steps"]["apply_features_pandas_adapter"]["p50_ms"]
                                                             / direct["single_record_steps"]["model_matrix"]["p50_ms"], 1),
            "batch_in_process_over_http": round(direct["batch_1000_pipeline_records_per_s"] / batch["one_process"]["clients_1"]["records_per_s"], 2),
            "validate_pandera_over_columnar_single": round(direct["validate_pandera_backend"]["1"]["p50_ms"]
                                                            / direct["single_record_steps"]["validate"]["p50_ms"], 1),
            "validate_pandera_over_columnar_batch_1000": round(direct["validate_pandera_backend"]["1000"]["p50_ms"]
                                                               / direct["batch_1000_validate_ms"], 1),
            "reason_codes_over_booster_predict_single": round(direct["single_record_steps"]["reason_codes"]["p50_ms"]
                                                              / direct["single_record_steps"]["booster_predict"]["p50_ms"], 1),
        },
        "targets": TARGETS,
        "met": {
            "single_p50": all(single[label]["declined"]["p50_ms"] <= TARGETS["single_p50_ms"] for label in single),
            "single_p99": all(single[label]["declined"]["p99_ms"] <= TARGETS["single_p99_ms"] for label in single),
            "batch_throughput_two_workers": batch["two_workers"][f"clients_{TARGET_CLIENTS}"]["records_per_s"] >= TARGETS["batch_records_per_s"],
            "batch_throughput_one_process": batch["one_process"][f"clients_{TARGET_CLIENTS}"]["records_per_s"] >= TARGETS["batch_records_per_s"],
            "zero_errors": failures == 0,
        },
    }
    try:  # hand-written notes on experiments (kept from the previous results, if any)
        notes = json.loads(RESULTS.read_text()).get("notes")
    except (OSError, ValueError):
        notes = None
    if notes:
        result["notes"] = notes
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(RESULTS)
    print(json.dumps(result["in_process"], indent=2))
    print(json.dumps(result["ratios"], indent=2))
    print(f"-> {RESULTS.relative_to(REPO)}")
    if not args.project:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
