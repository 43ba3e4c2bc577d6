"""Endpoint metrics in Prometheus' text exposition format (version 0.0.4), written by hand.

Counters and histograms live in one lock-protected object; `render` is called by GET /metrics.
Routes are reported by template (unknown paths as "other") so a scanner cannot blow up the
number of series.

With several worker processes (`driftline serve --workers N`) a scrape reaches one of them, so
each worker publishes its counts once a second to `<shared_dir>/<pid>.json` (written to a
temporary file and renamed into place), and `render` adds up its own live counts and every
other worker's last published ones — a worker that has exited keeps its counts, so totals never
go down (as prometheus_client's multiprocess mode does). The model gauges and the swap count
are those of the worker that answers.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftline.atomic import write_text

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PUBLISH_SECONDS = 1.0
log = logging.getLogger("driftline.serve")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


@dataclass
class Counts:
    """Everything that is counted, in a form that adds up across processes and round-trips JSON."""

    requests: dict[tuple[str, str, int], int] = field(default_factory=lambda: defaultdict(int))
    buckets: dict[str, list[int]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    count: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    records: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    explained: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, other: Counts) -> None:
        for key, n in other.requests.items():
            self.requests[key] += n
        for route, counts in other.buckets.items():
            mine = self.buckets.setdefault(route, [0] * len(LATENCY_BUCKETS))
            self.buckets[route] = [a + b for a, b in zip(mine, counts)]
        for route, value in other.seconds.items():
            self.seconds[route] += value
        for route, n in other.count.items():
            self.count[route] += n
        for key, n in other.records.items():
            self.records[key] += n
        for version, n in other.explained.items():
            self.explained[version] += n

    def to_json(self) -> dict[str, Any]:
        return {"requests": [[*key, n] for key, n in self.requests.items()], "buckets": self.buckets,
                "seconds": self.seconds, "count": self.count, "records": [[*key, n] for key, n in self.records.items()],
                "explained": self.explained}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Counts:
        counts = cls()
        counts.requests.update({(m, r, int(s)): int(n) for m, r, s, n in data["requests"]})
        counts.buckets.update({route: [int(n) for n in values] for route, values in data["buckets"].items()})
        counts.seconds.update({route: float(v) for route, v in data["seconds"].items()})
        counts.count.update({route: int(n) for route, n in data["count"].items()})
        counts.records.update({(v, p): int(n) for v, p, n in data["records"]})
        counts.explained.update({v: int(n) for v, n in data["explained"].items()})
        return counts


class ServeMetrics:
    """Request counts by route and status, latency histograms, decisions and model swaps."""

    def __init__(self, pipeline: str, shared_dir: Path | None = None) -> None:
        self.pipeline = pipeline
        self.shared_dir = Path(shared_dir) if shared_dir is not None else None
        self._lock = threading.Lock()
        self._counts = Counts()
        self._stop = threading.Event()
        self._publisher: threading.Thread | None = None

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            counts = self._counts
            counts.requests[(method, route, status)] += 1
            buckets = counts.buckets.setdefault(route, [0] * len(LATENCY_BUCKETS))
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            counts.seconds[route] += seconds
            counts.count[route] += 1

    def observe_decisions(self, version: str, predictions: list, explained: int) -> None:
        if all(type(v) is int for v in predictions):  # binary: count in C, 0/1 keys are exact
            counted = [((version, str(value)), n) for value, n in Counter(predictions).items()]
        else:
            counted = [((version, str(value) if isinstance(value, int) else "value"), 1) for value in predictions]
        with self._lock:
            for key, n in counted:
                self._counts.records[key] += n
            self._counts.explained[version] += explained

    # -- several worker processes

    def start_publishing(self) -> None:
        """Publish this process's counts to the shared folder every PUBLISH_SECONDS (no-op without one)."""
        if self.shared_dir is None or self._publisher is not None:
            return
        self._publisher = threading.Thread(target=self._publish_loop, name="driftline-metrics-publish", daemon=True)
        self._publisher.start()

    def stop_publishing(self) -> None:
        if self._publisher is None:
            return
        self._stop.set()
        self._publisher.join(timeout=5)
        self._publish_or_warn()  # the last counts of this worker stay in the totals

    def _publish_loop(self) -> None:
        while not self._stop.wait(PUBLISH_SECONDS):
            self._publish_or_warn()

    def _publish_or_warn(self) -> None:
        """Publish; a folder that cannot be written costs the other workers' view of these
        counts, never a request or the server's shutdown."""
        try:
            self.publish()
        except OSError:
            log.warning("cannot publish metrics to %s", self.shared_dir, exc_info=True)

    def publish(self) -> None:
        assert self.shared_dir is not None
        with self._lock:
            text = json.dumps(self._counts.to_json())
        write_text(self.shared_dir / f"{os.getpid()}.json", text)  # renamed into place: a reader never sees half

    def _totals(self) -> Counts:
        """This process's live counts plus every other worker's last published ones."""
        totals = Counts()
        if self.shared_dir is not None:
            own = f"{os.getpid()}.json"
            for path in sorted(self.shared_dir.glob("*.json")):
                if path.name == own:
                    continue
                try:
                    totals.add(Counts.from_json(json.loads(path.read_text(encoding="utf-8"))))
                except (OSError, ValueError, KeyError, TypeError):
                    log.warning("skipping unreadable metrics file %s", path, exc_info=True)
        with self._lock:
            totals.add(self._counts)
        return totals

    def render(self, version: str, swaps: int, reload_failing: bool) -> str:
        """The exposition text."""
        counts = self._totals()
        lines: list[str] = ["# HELP driftline_http_requests_total HTTP requests by route and status.",
                            "# TYPE driftline_http_requests_total counter"]
        for (method, route, status), n in sorted(counts.requests.items()):
            lines.append(f"driftline_http_requests_total{_labels(method=method, route=route, status=str(status))} {n}")
        lines += ["# HELP driftline_http_request_duration_seconds Time from request to response, by route.",
                  "# TYPE driftline_http_request_duration_seconds histogram"]
        for route in sorted(counts.buckets):
            for bound, n in zip(LATENCY_BUCKETS, counts.buckets[route]):
                lines.append(f"driftline_http_request_duration_seconds_bucket{_labels(route=route, le=repr(bound))} {n}")
            lines.append(f"driftline_http_request_duration_seconds_bucket{_labels(route=route, le='+Inf')} {counts.count[route]}")
            lines.append(f"driftline_http_request_duration_seconds_sum{_labels(route=route)} {counts.seconds[route]!r}")
            lines.append(f"driftline_http_request_duration_seconds_count{_labels(route=route)} {counts.count[route]}")
        lines += ["# HELP driftline_decisions_total Records scored, by model version and prediction.",
                  "# TYPE driftline_decisions_total counter"]
        for (ver, prediction), n in sorted(counts.records.items()):
            lines.append(f"driftline_decisions_total{_labels(pipeline=self.pipeline, version=ver, prediction=prediction)} {n}")
        lines += ["# HELP driftline_reason_codes_total Records explained with reason codes, by model version.",
                  "# TYPE driftline_reason_codes_total counter"]
        for ver, n in sorted(counts.explained.items()):
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
