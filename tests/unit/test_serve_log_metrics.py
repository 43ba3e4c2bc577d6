"""Prediction-log labels and the Prometheus exposition (prometheus_client), without a server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftline.predictions.log import dumps, parse_label
from driftline.serve.metrics import LATENCY_BUCKETS, MetricsError, ServeMetrics


@pytest.mark.parametrize(
    ("task", "value", "expected"),
    [
        pytest.param("binary", 1, 1, id="binary-int"),
        pytest.param("binary", "0", 0, id="binary-text"),
        pytest.param("binary", " true ", 1, id="binary-word"),
        pytest.param("binary", 1.0, 1, id="binary-float"),
        pytest.param("regression", "12.5", 12.5, id="regression"),
        pytest.param("multiclass", "b", "b", id="multiclass"),
    ],
)
def test_labels_are_read_for_the_task(task: str, value: object, expected: object) -> None:
    assert parse_label(value, task, ["a", "b"]) == expected


@pytest.mark.parametrize(
    ("task", "value", "message"),
    [
        pytest.param("binary", 2, "is not 0 or 1", id="binary"),
        pytest.param("binary", "maybe", "is not 0 or 1", id="binary-word"),
        pytest.param("regression", "x", "is not a number", id="regression"),
        pytest.param("regression", "nan", "is not a finite number", id="regression-nan"),
        pytest.param("multiclass", "c", "is not one of the classes a, b", id="multiclass"),
    ],
)
def test_bad_labels_say_what_is_accepted(task: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_label(value, task, ["a", "b"])


def test_log_json_has_no_nan() -> None:
    assert dumps({"income": float("nan"), "age": 30}) == '{"income":null,"age":30}'


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition, parsed by prometheus_client's own parser: {(name, labels): value}."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(parsed: dict, name: str, **labels: str) -> float:
    return parsed[(name, frozenset(labels.items()))]


def test_prometheus_text_has_counters_histogram_and_model_info() -> None:
    metrics = ServeMetrics("credit")
    metrics.model_changed("v0001")
    metrics.observe_request("POST", "/v1/predict", 200, 0.004)
    metrics.observe_request("POST", "/v1/predict", 422, 0.002)
    metrics.observe_decisions("v0001", [1, 0, 0], explained=1)
    body, content_type = metrics.render()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode()
    parsed = samples(text)
    assert value(parsed, "driftline_http_requests_total", method="POST", route="/v1/predict", status="200") == 1
    bucket = "driftline_http_request_duration_seconds_bucket"
    assert value(parsed, bucket, route="/v1/predict", le="0.001") == 0
    assert value(parsed, bucket, route="/v1/predict", le="0.0025") == 1
    assert value(parsed, bucket, route="/v1/predict", le="0.005") == 2
    assert value(parsed, bucket, route="/v1/predict", le="+Inf") == 2
    assert [k for k in parsed if k[0] == bucket] and len([k for k in parsed if k[0] == bucket]) == len(LATENCY_BUCKETS) + 1
    assert value(parsed, "driftline_http_request_duration_seconds_count", route="/v1/predict") == 2
    assert value(parsed, "driftline_http_request_duration_seconds_sum", route="/v1/predict") == pytest.approx(0.006)
    assert value(parsed, "driftline_decisions_total", pipeline="credit", version="v0001", prediction="0") == 2
    assert value(parsed, "driftline_reason_codes_total", pipeline="credit", version="v0001") == 1
    assert value(parsed, "driftline_model_info", pipeline="credit", version="v0001") == 1
    assert value(parsed, "driftline_model_swaps_total", pipeline="credit") == 0
    assert value(parsed, "driftline_model_reload_failing", pipeline="credit") == 0
    assert "_created" not in text  # the same series as with --workers N


def test_a_swap_and_a_refused_champion_show_in_the_model_gauges() -> None:
    metrics = ServeMetrics("credit")
    metrics.model_changed("v0001")
    metrics.model_changed("v0002", swapped=True)
    metrics.model_changed("v0002", reload_failing=True)  # v0003 could not be loaded: v0002 keeps serving
    parsed = samples(metrics.render()[0].decode())
    assert value(parsed, "driftline_model_info", pipeline="credit", version="v0001") == 0
    assert value(parsed, "driftline_model_info", pipeline="credit", version="v0002") == 1
    assert value(parsed, "driftline_model_swaps_total", pipeline="credit") == 1
    assert value(parsed, "driftline_model_reload_failing", pipeline="credit") == 1


def test_openmetrics_is_served_to_a_scraper_that_asks_for_it() -> None:
    metrics = ServeMetrics("credit")
    metrics.observe_request("GET", "/v1/health", 200, 0.001)
    body, content_type = metrics.render("application/openmetrics-text; version=1.0.0; charset=utf-8, text/plain;q=0.5")
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert body.decode().endswith("# EOF\n")


def test_two_apps_in_one_process_count_apart() -> None:
    first, second = ServeMetrics("credit"), ServeMetrics("credit")
    first.observe_request("GET", "/v1/health", 200, 0.001)
    assert ("driftline_http_requests_total", frozenset({"method": "GET", "route": "/v1/health", "status": "200"}.items())) \
        not in samples(second.render()[0].decode())


def test_decisions_are_counted_by_prediction_for_ints_and_other_values() -> None:
    metrics = ServeMetrics("credit")
    metrics.observe_decisions("v1", [0, 1, 1, 0, 1], explained=2)
    metrics.observe_decisions("v1", [1], explained=0)
    metrics.observe_decisions("v2", [0.5, 1.5, "a", True, 1], explained=0)
    parsed = samples(metrics.render()[0].decode())
    assert value(parsed, "driftline_decisions_total", pipeline="credit", version="v1", prediction="1") == 4
    assert value(parsed, "driftline_decisions_total", pipeline="credit", version="v1", prediction="0") == 2
    assert value(parsed, "driftline_decisions_total", pipeline="credit", version="v2", prediction="value") == 3
    assert value(parsed, "driftline_decisions_total", pipeline="credit", version="v2", prediction="True") == 1
    assert value(parsed, "driftline_decisions_total", pipeline="credit", version="v2", prediction="1") == 1
    assert value(parsed, "driftline_reason_codes_total", pipeline="credit", version="v1") == 2


def test_a_multiprocess_folder_without_the_library_in_multiprocess_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MetricsError, match="not in multiprocess mode") as raised:
        ServeMetrics("credit", multiprocess_dir=tmp_path)
    assert "PROMETHEUS_MULTIPROC_DIR" in raised.value.hint


WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from driftline.serve.metrics import ServeMetrics

    folder, version, requests, leave = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4] == "leave"
    metrics = ServeMetrics("credit", multiprocess_dir=folder)
    metrics.model_changed(version)
    for i in range(requests):
        metrics.observe_request("POST", "/v1/predict", 200, 0.004 if i % 2 else 0.02)
    metrics.observe_decisions(version, [1] * requests, explained=requests)
    if leave:
        metrics.close()
    else:
        sys.stdout.write(metrics.render()[0].decode())
""")


def test_worker_processes_add_up_in_every_scrape(tmp_path: Path) -> None:
    """--workers N: each process writes its own files in the folder; a scrape in any one of them
    sums the counters and histograms of all, a process that left keeps its counts, and only live
    processes keep their model gauge."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def worker(*args: str) -> str:
        return subprocess.run([sys.executable, "-c", WORKER, str(tmp_path), *args], env=env, check=True,
                              capture_output=True, text=True).stdout

    worker("v0001", "3", "leave")  # an old worker that served v0001 and exited
    parsed = samples(worker("v0002", "4", "scrape"))
    assert value(parsed, "driftline_http_requests_total", method="POST", route="/v1/predict", status="200") == 7
    bucket = "driftline_http_request_duration_seconds_bucket"
    assert value(parsed, bucket, route="/v1/predict", le="0.005") == 1 + 2  # 0.004 every other request
    assert value(parsed, bucket, route="/v1/predict", le="0.025") == 7
    assert value(parsed, "driftline_http_request_duration_seconds_count", route="/v1/predict") == 7
    assert value(parsed, "driftline_decisions_total", pipeline="credit", version="v0001", prediction="1") == 3
    assert value(parsed, "driftline_decisions_total", pipeline="credit", version="v0002", prediction="1") == 4
    assert value(parsed, "driftline_model_info", pipeline="credit", version="v0002") == 1
    assert ("driftline_model_info", frozenset({"pipeline": "credit", "version": "v0001"}.items())) not in parsed
