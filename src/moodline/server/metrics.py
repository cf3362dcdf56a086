"""Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

__all__ = ["Metrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "moodline_http_requests_total", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "moodline_http_request_duration_seconds",
            "HTTP request latency",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram("moodline_batch_size", "Texts per engine batch", buckets=BATCH_BUCKETS, registry=r)
        self.inference = Histogram(
            "moodline_inference_seconds", "Engine time per batch", buckets=LATENCY_BUCKETS, registry=r
        )
        self.queue_depth = Gauge(
            "moodline_queue_depth", "Texts waiting for a batch", registry=r, multiprocess_mode="livesum"
        )
        self.texts = Counter("moodline_texts_total", "Texts scored", registry=r)
        self.cache_hits = Counter("moodline_cache_hits_total", "Cache hits", registry=r)
        self.cache_misses = Counter("moodline_cache_misses_total", "Cache misses", registry=r)
        self.cache_errors = Counter(
            "moodline_cache_errors_total", "Cache backend failures served without cache", registry=r
        )
        self.rejected = Counter("moodline_rejected_total", "Requests refused or expired", ["reason"], registry=r)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        labels = (route, method, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.inference.observe(seconds)
        self.texts.inc(size)

    def render(self) -> bytes:
        # Under Gunicorn every worker writes to PROMETHEUS_MULTIPROC_DIR; a scrape sums them all.
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            combined = CollectorRegistry()
            multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
            return generate_latest(combined)
        return generate_latest(self.registry)
