"""Endpoint metrics in Prometheus' text exposition format (version 0.0.4), written by hand.

Counters and histograms live in one lock-protected object; `render` is called by GET /metrics.
Routes are reported by template (unknown paths as "other") so a scanner cannot blow up the
number of series.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


class ServeMetrics:
    """Request counts by route and status, latency histograms, decisions and model swaps."""

    def __init__(self, pipeline: str) -> None:
        self.pipeline = pipeline
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sum: dict[str, float] = defaultdict(float)
        self._count: dict[str, int] = defaultdict(int)
        self._records: dict[tuple[str, str], int] = defaultdict(int)
        self._explained: dict[str, int] = defaultdict(int)
        self.swaps = 0
        self.reload_errors = 0

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, status)] += 1
            buckets = self._buckets.setdefault(route, [0] * len(LATENCY_BUCKETS))
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            self._sum[route] += seconds
            self._count[route] += 1

    def observe_decisions(self, version: str, predictions: list, explained: int) -> None:
        if all(type(v) is int for v in predictions):  # binary: count in C, 0/1 keys are exact
            counts = [((version, str(value)), n) for value, n in Counter(predictions).items()]
        else:
            counts = [((version, str(value) if isinstance(value, int) else "value"), 1) for value in predictions]
        with self._lock:
            for key, n in counts:
                self._records[key] += n
            self._explained[version] += explained

    def render(self, version: str, swaps: int, reload_failing: bool) -> str:
        """The exposition text."""
        lines: list[str] = []
        with self._lock:
            lines += ["# HELP driftline_http_requests_total HTTP requests by route and status.",
                      "# TYPE driftline_http_requests_total counter"]
            for (method, route, status), n in sorted(self._requests.items()):
                lines.append(f"driftline_http_requests_total{_labels(method=method, route=route, status=str(status))} {n}")
            lines += ["# HELP driftline_http_request_duration_seconds Time from request to response, by route.",
                      "# TYPE driftline_http_request_duration_seconds histogram"]
            for route in sorted(self._buckets):
                for bound, n in zip(LATENCY_BUCKETS, self._buckets[route]):
                    lines.append(f"driftline_http_request_duration_seconds_bucket{_labels(route=route, le=repr(bound))} {n}")
                lines.append(f"driftline_http_request_duration_seconds_bucket{_labels(route=route, le='+Inf')} {self._count[route]}")
                lines.append(f"driftline_http_request_duration_seconds_sum{_labels(route=route)} {self._sum[route]!r}")
                lines.append(f"driftline_http_request_duration_seconds_count{_labels(route=route)} {self._count[route]}")
            lines += ["# HELP driftline_decisions_total Records scored, by model version and prediction.",
                      "# TYPE driftline_decisions_total counter"]
            for (ver, prediction), n in sorted(self._records.items()):
                lines.append(f"driftline_decisions_total{_labels(pipeline=self.pipeline, version=ver, prediction=prediction)} {n}")
            lines += ["# HELP driftline_reason_codes_total Records explained with reason codes, by model version.",
                      "# TYPE driftline_reason_codes_total counter"]
            for ver, n in sorted(self._explained.items()):
                lines.append(f"driftline_reason_codes_total{_labels(pipeline=self.pipeline, version=ver)} {n}")
        lines += ["# HELP driftline_model_info The champion being served (value 1).",
                  "# TYPE driftline_model_info gauge",
                  f"driftline_model_info{_labels(pipeline=self.pipeline, version=version)} 1",
                  "# HELP driftline_model_swaps_total Champion hot swaps since start.",
                  "# TYPE driftline_model_swaps_total counter",
                  f"driftline_model_swaps_total{_labels(pipeline=self.pipeline)} {swaps}",
                  "# HELP driftline_model_reload_failing 1 when the newest champion could not be loaded.",
                  "# TYPE driftline_model_reload_failing gauge",
                  f"driftline_model_reload_failing{_labels(pipeline=self.pipeline)} {int(reload_failing)}"]
        return "\n".join(lines) + "\n"
