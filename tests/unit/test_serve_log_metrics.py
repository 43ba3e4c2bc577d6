"""Prediction-log labels and the Prometheus exposition, without a server."""

from __future__ import annotations

import pytest

from driftline.predictions.log import dumps, parse_label
from driftline.serve.metrics import ServeMetrics


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


def test_prometheus_text_has_counters_histogram_and_model_info() -> None:
    metrics = ServeMetrics("credit")
    metrics.observe_request("POST", "/v1/predict", 200, 0.004)
    metrics.observe_request("POST", "/v1/predict", 422, 0.002)
    metrics.observe_decisions("v0001", [1, 0, 0], explained=1)
    text = metrics.render("v0001", swaps=2, reload_failing=False)
    assert 'driftline_http_requests_total{method="POST",route="/v1/predict",status="200"} 1' in text
    assert 'driftline_http_request_duration_seconds_bucket{route="/v1/predict",le="0.0025"} 1' in text
    assert 'driftline_http_request_duration_seconds_bucket{route="/v1/predict",le="0.005"} 2' in text
    assert 'driftline_http_request_duration_seconds_count{route="/v1/predict"} 2' in text
    assert 'driftline_decisions_total{pipeline="credit",version="v0001",prediction="0"} 2' in text
    assert 'driftline_model_info{pipeline="credit",version="v0001"} 1' in text
    assert 'driftline_model_swaps_total{pipeline="credit"} 2' in text
    for line in text.splitlines():  # every sample line is `name{labels} value`
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])



def test_decisions_are_counted_by_prediction_for_ints_and_other_values() -> None:
    metrics = ServeMetrics("credit")
    metrics.observe_decisions("v1", [0, 1, 1, 0, 1], explained=2)
    metrics.observe_decisions("v1", [1], explained=0)
    metrics.observe_decisions("v2", [0.5, 1.5, "a", True], explained=0)
    text = metrics.render("v1", 0, False)
    assert 'driftline_decisions_total{pipeline="credit",version="v1",prediction="1"} 4' in text
    assert 'driftline_decisions_total{pipeline="credit",version="v1",prediction="0"} 2' in text
    assert 'driftline_decisions_total{pipeline="credit",version="v2",prediction="value"} 3' in text
    assert 'driftline_decisions_total{pipeline="credit",version="v2",prediction="True"} 1' in text
    assert 'driftline_reason_codes_total{pipeline="credit",version="v1"} 2' in text


def test_worker_processes_add_up_in_every_scrape(tmp_path) -> None:
    """With --workers N a scrape reaches one worker: it reports its own counts plus the others' last published ones."""
    import os

    other = ServeMetrics("credit", shared_dir=tmp_path)
    other.observe_request("POST", "/v1/predict", 200, 0.004)
    other.observe_decisions("v0001", [1, 0, 0], explained=1)
    other.publish()
    (tmp_path / f"{os.getpid()}.json").rename(tmp_path / "1.json")  # as if published by worker process 1
    (tmp_path / "2.json").write_text("{not json")  # a torn or foreign file is skipped, not fatal
    answering = ServeMetrics("credit", shared_dir=tmp_path)
    answering.observe_request("POST", "/v1/predict", 200, 0.02)
    answering.publish()  # its own published file is not counted twice: its live counts stand for it
    text = answering.render("v0001", swaps=0, reload_failing=False)
    assert 'driftline_http_requests_total{method="POST",route="/v1/predict",status="200"} 2' in text
    assert 'driftline_decisions_total{pipeline="credit",version="v0001",prediction="0"} 2' in text
    assert 'driftline_http_request_duration_seconds_bucket{route="/v1/predict",le="0.005"} 1' in text
    assert 'driftline_http_request_duration_seconds_bucket{route="/v1/predict",le="0.025"} 2' in text
    assert 'driftline_reason_codes_total{pipeline="credit",version="v0001"} 1' in text


def test_a_metrics_folder_that_cannot_be_written_never_stops_a_worker_shutting_down(tmp_path, caplog) -> None:
    blocked = tmp_path / "metrics"
    blocked.write_text("a file where the folder should be")
    metrics = ServeMetrics("credit", shared_dir=blocked)
    metrics.start_publishing()
    metrics.observe_request("GET", "/v1/health", 200, 0.001)
    metrics.stop_publishing()  # the last publish fails: warned about, not raised (the log still gets closed)
    assert "cannot publish metrics" in caplog.text
    assert 'route="/v1/health",status="200"} 1' in metrics.render("v0001", 0, False)
