"""Prometheus metrics of one server process: requests by route and status, latency, database
pools, audit sequencer lag, document workers, throttled logins.

Each app has its own registry (tests build many apps in one process). With several worker
processes each serves its own numbers at `/metrics`: scrape each process (or run one worker per
container), as is usual for Python servers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Requests of this service take 1-100 ms; PDFs up to seconds.
_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Gauges(Collector):
    """Values read when scraped, from whoever knows them."""

    def __init__(self, readings: list[tuple[str, str, Callable[[], Iterable[tuple[dict, float]]]]]):
        self.readings = readings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, documentation, read in self.readings:
            samples = list(read())
            labels = sorted(samples[0][0]) if samples else []
            family = GaugeMetricFamily(name, documentation, labels=labels)
            for label_values, value in samples:
                family.add_metric([label_values[k] for k in labels], value)
            yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "uyquyen_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "uyquyen_http_request_seconds",
            "Time to answer, by route template",
            ["route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.throttled_logins = Counter(
            "uyquyen_throttled_logins",
            "Logins refused with 429 because their client id or address failed too often",
            ["method"],
            registry=self.registry,
        )
        self._readings: list[tuple[str, str, Callable[[], Iterable[tuple[dict, float]]]]] = []
        self.registry.register(_Gauges(self._readings))

    def gauge(
        self, name: str, documentation: str, read: Callable[[], Iterable[tuple[dict, float]]]
    ) -> None:
        """A gauge whose samples (labels, value) are read at scrape time."""
        self._readings.append((name, documentation, read))


class RequestMetrics:
    """Counts and times every HTTP request by its route template (never the raw path: ids in
    paths would make a series per submission)."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(template, scope["method"], str(status)).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - started)
