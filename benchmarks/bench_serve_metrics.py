"""What the endpoint's metrics cost: prometheus_client against the hand-written exposition it replaced, in one run.

    python benchmarks/bench_serve_metrics.py [--old 41e32b8] [--rows 20000] [--requests 500] [--rounds 4] [--project PATH]

--old is the commit whose serving code had the hand-written `serve/metrics.py` (read from git).

- in process, one process per variant: the calls the endpoint makes per single-record request
  (`observe_request` + `observe_decisions` of one binary decision), in µs, and one scrape after
  10,000 requests over 8 routes, in ms — the old code, prometheus_client in one process, and
  prometheus_client in multiprocess mode (PROMETHEUS_MULTIPROC_DIR, what `--workers N` uses);
- the whole app called as ASGI in one process per variant (no sockets, no client; the old code
  from that commit's src/ on PYTHONPATH): server CPU time of a single-record request
  (explain=declined) and of a 1,000-record batch, old, new, and new in multiprocess mode, and
  the time spent inside the metrics calls during a single-record request (their share of it);
- over HTTP: the old code (that commit's src/ first on PYTHONPATH) and this one serve the same
  project, as one process and with `--workers 2`, alternately for --rounds rounds: single-record
  latency (explain=declined, sequential, keep-alive) and batches of 1,000 from 2 clients, each
  with the server processes' CPU time per request. Ratios new/old of the medians over rounds;
  the machine is shared, so rounds alternate to spread its load over both, and CPU time (what
  the metrics add) is the steadier figure than wall time (mostly the machine's load);
- the metrics' share of a single-record request: their in-process cost over the server CPU
  time of one request (old code, two workers).

Results: benchmarks/results/serve_metrics.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from _project import ENV, REPO, demo_project
from bench_serve import batch_throughput, process_cpu_seconds, single_latency, start_server

RESULTS = REPO / "benchmarks/results/serve_metrics.json"
OLD = "41e32b8"  # main before prometheus_client: serve/metrics.py wrote the exposition by hand
ROUTES = ("/v1/predict", "/v1/feedback", "/v1/health", "/v1/model", "/metrics", "/docs", "/openapi.json", "other")

INNER = """
import json, sys, time, tempfile, importlib.util
variant, old_file = sys.argv[1], sys.argv[2]
if variant == "old":
    spec = importlib.util.spec_from_file_location("old_metrics", old_file)
    module = sys.modules["old_metrics"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    metrics = module.ServeMetrics("credit")
    render = lambda: metrics.render("v0001", 0, False)
else:
    import os
    from pathlib import Path
    from driftline.serve.metrics import ServeMetrics
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    metrics = ServeMetrics("credit", Path(folder) if folder else None)
    metrics.model_changed("v0001")
    render = lambda: metrics.render(None)
def request(i):
    metrics.observe_request("POST", "/v1/predict", 200, 0.0021)
    metrics.observe_decisions("v0001", [i & 1], 1)
for i in range(2000):
    request(i)
rounds = []
for _ in range(7):
    start = time.perf_counter()
    for i in range(20000):
        request(i)
    rounds.append((time.perf_counter() - start) / 20000 * 1e6)
for i in range(10000):
    metrics.observe_request("GET", routes[i % len(routes)], 200, i * 1e-5)
scrapes = []
for _ in range(20):
    start = time.perf_counter()
    render()
    scrapes.append((time.perf_counter() - start) * 1e3)
rounds.sort(); scrapes.sort()
print(json.dumps({"per_request_us": round(rounds[3], 3), "scrape_ms": round(scrapes[10], 3)}))
"""


def in_process(old_metrics: Path, rounds: int = 3) -> dict:
    """Each variant in its own process, the variants alternating for `rounds` rounds; medians."""
    code = f"routes = {ROUTES!r}\n{INNER}"
    runs: dict[str, list[dict]] = {}
    for _ in range(rounds):
        for variant in ("old", "new", "new_multiprocess"):
            env = {k: v for k, v in ENV.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            folder = tempfile.mkdtemp(prefix="bench-serve-metrics-") if variant == "new_multiprocess" else None
            if folder:
                env["PROMETHEUS_MULTIPROC_DIR"] = folder
            try:
                proc = subprocess.run([sys.executable, "-c", code, variant, str(old_metrics)], env=env, capture_output=True,
                                      text=True, check=False)
            finally:
                if folder:
                    shutil.rmtree(folder, ignore_errors=True)
            if proc.returncode != 0:
                raise SystemExit(f"in-process {variant} failed:\n{proc.stderr}")
            runs.setdefault(variant, []).append(json.loads(proc.stdout))
    out = {variant: {key: statistics.median(r[key] for r in results) for key in results[0]} for variant, results in runs.items()}
    for variant, figures in out.items():
        print(f"in process, {variant}: {figures}")
    return out


APP = """
import asyncio, json, sys, threading, time
from pathlib import Path
from driftline.serve import metrics as metrics_module
from driftline.serve.app import ServeSettings, create_app

spent, lock = [0.0], threading.Lock()


def timed(method):  # wall time inside the metrics calls the app makes (both versions have these two)
    def call(*args, **kwargs):
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            with lock:
                spent[0] += time.perf_counter() - start
    return call


for name in ("observe_request", "observe_decisions"):
    setattr(metrics_module.ServeMetrics, name, timed(getattr(metrics_module.ServeMetrics, name)))

root, records, folder = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()), sys.argv[3] or None
app = create_app(root, "credit", ServeSettings(poll_seconds=0, log_sync="normal", metrics_dir=folder))
singles = [json.dumps({"records": [r], "explain": "declined"}).encode() for r in records[:200]]
batch = json.dumps({"records": records[:1000], "explain": "none"}).encode()


async def call(body):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/predict", "raw_path": b"/v1/predict", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    statuses = []

    async def receive():
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    assert statuses == [200], statuses


async def main():
    for body in singles[:50]:
        await call(body)
    spent[0] = 0.0
    start = time.process_time()
    for i in range(1000):
        await call(singles[i % len(singles)])
    single = (time.process_time() - start) / 1000 * 1e6
    in_metrics = spent[0] / 1000 * 1e6
    for _ in range(3):
        await call(batch)
    spent[0] = 0.0
    start = time.process_time()
    for _ in range(30):
        await call(batch)
    batch_in_metrics = spent[0] / 30 * 1e6
    print(json.dumps({"single_cpu_us": round(single, 1), "single_in_metrics_us": round(in_metrics, 1),
                      "single_metrics_share": round(in_metrics / single, 4),
                      "batch_cpu_ms": round((time.process_time() - start) / 30 * 1e3, 2),
                      "batch_in_metrics_us": round(batch_in_metrics, 1)}))


asyncio.run(main())
"""


def app_in_process(root: Path, old_src: Path, records: list[dict], rounds: int) -> dict:
    """The whole app called as ASGI in one process (no sockets, no client): CPU time of a
    single-record request and of a 1,000-record batch, old and new, alternating."""
    data = Path(tempfile.mkdtemp(prefix="bench-serve-metrics-records-"))
    (data / "records.json").write_text(json.dumps(records))
    runs: dict[str, list[dict]] = {}
    try:
        for _ in range(rounds):
            for variant in ("old", "new", "new_multiprocess"):
                env = {k: v for k, v in ENV.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
                folder = ""
                if variant == "old":
                    env["PYTHONPATH"] = str(old_src)
                elif variant == "new_multiprocess":
                    folder = tempfile.mkdtemp(prefix="bench-serve-metrics-")
                    env["PROMETHEUS_MULTIPROC_DIR"] = folder
                try:
                    proc = subprocess.run([sys.executable, "-c", APP, str(root), str(data / "records.json"), folder],
                                          cwd=root, env=env, capture_output=True, text=True, check=False)
                finally:
                    if folder:
                        shutil.rmtree(folder, ignore_errors=True)
                if proc.returncode != 0:
                    raise SystemExit(f"app in process, {variant} failed:\n{proc.stderr}")
                runs.setdefault(variant, []).append(json.loads(proc.stdout.splitlines()[-1]))
                print(f"app in process, {variant}: {runs[variant][-1]}")
    finally:
        shutil.rmtree(data, ignore_errors=True)
    out = {variant: {key: statistics.median(r[key] for r in results) for key in results[0]} | {"rounds": results}
           for variant, results in runs.items()}
    for variant in ("new", "new_multiprocess"):
        out[f"{variant}_over_old"] = {key: round(out[variant][key] / out["old"][key], 3)
                                      for key in ("single_cpu_us", "single_in_metrics_us", "batch_cpu_ms", "batch_in_metrics_us")}
    return out


def over_http(root: Path, old_src: Path, records: list[dict], requests: int, rounds: int) -> dict:
    runs: dict[str, dict[str, list]] = {}
    for label, options in (("one_process", ()), ("two_workers", ("--workers", "2"))):
        for r in range(rounds):
            for variant, src in (("old", old_src), ("new", None)) if r % 2 == 0 else (("new", None), ("old", old_src)):
                proc, url = start_server(root, *options, src=src)
                try:
                    cpu = process_cpu_seconds(proc.pid)
                    single, failed, _ = single_latency(url, records, requests, "declined")
                    cpu_per_request = (process_cpu_seconds(proc.pid) - cpu) / (requests + 50) * 1e6
                    batch = batch_throughput(url, records, 2, 10, proc.pid)
                finally:
                    proc.terminate()
                    proc.wait(timeout=15)
                assert failed == 0 and batch["failures"] == 0
                run = runs.setdefault(f"{label}/{variant}", {"p50_ms": [], "p99_ms": [], "records_per_s": [],
                                                             "server_cpu_us_per_single": [], "server_cpu_ms_per_batch": []})
                run["p50_ms"].append(single["p50_ms"])
                run["p99_ms"].append(single["p99_ms"])
                run["records_per_s"].append(batch["records_per_s"])
                run["server_cpu_us_per_single"].append(round(cpu_per_request, 1))
                run["server_cpu_ms_per_batch"].append(batch["server_cpu_ms_per_batch"])
                print(f"{label}, {variant}, round {r + 1}: p50 {single['p50_ms']} ms, p99 {single['p99_ms']} ms, "
                      f"server CPU {cpu_per_request:.0f} µs a single request; {batch['records_per_s']:,} records/s, "
                      f"server CPU {batch['server_cpu_ms_per_batch']} ms a batch")
    medians = {key: {k: statistics.median(v) for k, v in run.items()} | {"rounds": run} for key, run in runs.items()}
    ratios = {}
    for label in ("one_process", "two_workers"):
        new, old = medians[f"{label}/new"], medians[f"{label}/old"]
        ratios[label] = {"single_p50_new_over_old": round(new["p50_ms"] / old["p50_ms"], 3),
                         "single_p99_new_over_old": round(new["p99_ms"] / old["p99_ms"], 3),
                         "batch_records_per_s_new_over_old": round(new["records_per_s"] / old["records_per_s"], 3),
                         # CPU time is what the metrics add; wall time on a shared machine is mostly its load
                         "server_cpu_single_new_over_old": round(new["server_cpu_us_per_single"] / old["server_cpu_us_per_single"], 3),
                         "server_cpu_batch_new_over_old": round(new["server_cpu_ms_per_batch"] / old["server_cpu_ms_per_batch"], 3)}
    return {"medians": medians, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", default=OLD, help="The commit with the hand-written metrics.")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--project", type=Path, help="Serve this built project instead of building a copy.")
    args = parser.parse_args()

    import pandas as pd

    work = Path(tempfile.mkdtemp(prefix="bench-serve-metrics-old-"))
    try:
        archive = subprocess.run(["git", "archive", args.old, "src"], cwd=REPO, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
        old_src = work / "src"
        direct = in_process(old_src / "driftline/serve/metrics.py")
        root = args.project.resolve() if args.project else demo_project(args.rows, "serve-metrics",
                                                                        then=(["dvc", "repro", "credit-promote"],))
        test = pd.read_parquet(root / "data/credit/split/test.parquet").drop(columns=["default"])
        records = json.loads(test.head(1000).to_json(orient="records", date_format="iso"))
        load_before = os.getloadavg()
        app = app_in_process(root, old_src, records, args.rounds)
        http = over_http(root, old_src, records, args.requests, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "old": args.old,
        "machine": {"cpus": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "in_process": direct,
        "in_process_ratios": {"per_request_new_over_old": round(direct["new"]["per_request_us"] / direct["old"]["per_request_us"], 2),
                              "per_request_multiprocess_over_old": round(direct["new_multiprocess"]["per_request_us"]
                                                                         / direct["old"]["per_request_us"], 2),
                              "scrape_new_over_old": round(direct["new"]["scrape_ms"] / direct["old"]["scrape_ms"], 2)},
        "app_in_process": app,
        "http": http,
    }
    # What the metrics add to one single-record request, against that request's server CPU time.
    single_cpu = http["medians"]["two_workers/old"]["server_cpu_us_per_single"]
    result["metrics_share_of_a_single_request"] = {
        variant: round(direct[variant]["per_request_us"] / single_cpu, 4) for variant in ("old", "new", "new_multiprocess")}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(RESULTS)
    print(json.dumps({"in_process": direct, "in_process_ratios": result["in_process_ratios"],
                      "app_in_process": {k: v for k, v in app.items() if k.endswith("_over_old")}, "http": http["ratios"],
                      "metrics_share_of_a_single_request": result["metrics_share_of_a_single_request"]}, indent=2))
    print(f"-> {RESULTS.relative_to(REPO)}")
    if not args.project:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
