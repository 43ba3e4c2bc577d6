"""Endpoint metrics with prometheus_client: request counts and latency by route, decisions, the model served.

`ServeMetrics` owns its own `CollectorRegistry` (never the library's global one, so two apps in
one process do not share counts). GET /metrics renders it with prometheus_client's exposition,
which also answers a scraper that asks for OpenMetrics. Routes are reported by template (unknown
paths as "other") so a scanner cannot blow up the number of series.

With several worker processes (`driftline serve --workers N`) a scrape reaches one of them, so the
metrics use prometheus_client's multiprocess mode: the CLI makes a private temporary folder per
server start (mode 0700, removed at shutdown) and sets PROMETHEUS_MULTIPROC_DIR to it before the
workers start (the library reads it when it is first imported); each worker writes its values to
memory-mapped files there, and a scrape merges every worker's files (`MultiProcessCollector`):
counters and histograms add up, a worker that has exited keeps its counts, so totals never go
down. The model gauges are per live worker (`mark_process_dead` drops a worker's at exit):
`driftline_model_info` is 1 for each version a live worker serves (0 for one no longer served),
`driftline_model_reload_failing` is 1 when any live worker could not load the newest champion.

Label children are looked up once per label set and kept (`_child`): `Metric.labels()` costs a
lock and a tuple of str() calls, paid on every request otherwise.
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, values
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from driftline.errors import DriftlineError

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class MetricsError(DriftlineError):
    """The metrics cannot be set up as asked."""


def multiprocess_ready(folder: Path) -> bool:
    """Whether prometheus_client was loaded in multiprocess mode, writing to `folder`."""
    return bool(getattr(values.ValueClass, "_multiprocess", False)) and os.environ.get(MULTIPROC_ENV) == str(folder)


class ServeMetrics:
    """Request counts by route and status, latency histograms, decisions and the model served."""

    def __init__(self, pipeline: str, multiprocess_dir: Path | None = None) -> None:
        self.pipeline = pipeline
        self.multiprocess_dir = Path(multiprocess_dir) if multiprocess_dir is not None else None
        if self.multiprocess_dir is not None and not multiprocess_ready(self.multiprocess_dir):
            raise MetricsError(f"prometheus_client is not in multiprocess mode on {self.multiprocess_dir}",
                               hint=f"set {MULTIPROC_ENV}={self.multiprocess_dir} before the process imports prometheus_client "
                                    "(`driftline serve --workers N` does)")
        # `_created` series (a start time per label set) are not kept in multiprocess mode: leave
        # them out in one process too, so one and N workers expose the same series.
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        if self.multiprocess_dir is not None:
            MultiProcessCollector(self.registry, path=str(self.multiprocess_dir))
            own: CollectorRegistry | None = None  # the values live in the folder's files; the collector reads them all
        else:
            own = self.registry
        self.requests = Counter("driftline_http_requests", "HTTP requests by route and status.",
                                ("method", "route", "status"), registry=own)
        self.latency = Histogram("driftline_http_request_duration_seconds", "Time from request to response, by route.",
                                 ("route",), buckets=LATENCY_BUCKETS, registry=own)
        self.decisions = Counter("driftline_decisions", "Records scored, by model version and prediction.",
                                 ("pipeline", "version", "prediction"), registry=own)
        self.explained = Counter("driftline_reason_codes", "Records explained with reason codes, by model version.",
                                 ("pipeline", "version"), registry=own)
        self.model_info = Gauge("driftline_model_info", "The champion being served (1; 0 for a version no longer served).",
                                ("pipeline", "version"), registry=own, multiprocess_mode="livemax")
        self.swaps = Counter("driftline_model_swaps", "Champion hot swaps since start (each worker process swaps on its own).",
                             ("pipeline",), registry=own)
        self.reload_failing = Gauge("driftline_model_reload_failing", "1 when the newest champion could not be loaded.",
                                    ("pipeline",), registry=own, multiprocess_mode="livemax")
        self._children: dict[tuple[Any, ...], Any] = {}
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._version: str | None = None
        self.swaps.labels(pipeline)  # the series exist (at 0) from the start
        self.reload_failing.labels(pipeline).set(0)

    def _child(self, metric: Any, *labels: Any) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children.setdefault(key, metric.labels(*labels))
        return child

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        children = self._request_children.get((method, route, status))
        if children is None:
            children = self._request_children.setdefault(
                (method, route, status), (self.requests.labels(method, route, status), self.latency.labels(route)))
        children[0].inc()
        children[1].observe(seconds)

    def observe_decisions(self, version: str, predictions: list, explained: int) -> None:
        if len(predictions) == 1:  # the usual single-record request: no tally to build
            value = predictions[0]
            counted: Any = ((str(value) if isinstance(value, int) else "value", 1),)
        elif all(type(v) is int for v in predictions):  # binary: count in C, then name the few keys
            counted = [(str(value), n) for value, n in Tally(predictions).items()]
        else:  # a number (regression) or a class: "value"; ints and bools by name (True and 1 apart)
            counted = Tally(str(value) if isinstance(value, int) else "value" for value in predictions).items()
        for label, n in counted:
            self._child(self.decisions, self.pipeline, version, label).inc(n)
        if explained:
            self._child(self.explained, self.pipeline, version).inc(explained)

    def model_changed(self, version: str, *, swapped: bool = False, reload_failing: bool = False) -> None:
        """The champion this process serves, and whether its newest one failed to load."""
        if version != self._version:
            if self._version is not None:
                self.model_info.labels(self.pipeline, self._version).set(0)
            self.model_info.labels(self.pipeline, version).set(1)
            self._version = version
        if swapped:
            self.swaps.labels(self.pipeline).inc()
        self.reload_failing.labels(self.pipeline).set(int(reload_failing))

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """(exposition, content type): Prometheus text format, or OpenMetrics when `accept` asks for it."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type

    def close(self) -> None:
        """This worker is leaving: its live gauges leave the totals (its counts stay)."""
        if self.multiprocess_dir is not None:
            mark_process_dead(os.getpid(), str(self.multiprocess_dir))
