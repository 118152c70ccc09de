"""Prometheus metrics, in a registry of the app's own (tests build many apps).

Ledger size and checkpoint age are read from the ledger when scraped, so that every
replica reports the shared ledger, not what it happened to append itself. Counters
and histograms are per process: with `--workers N` each worker counts its own
requests, and a scrape reaches one of them. Prometheus' multiprocess mode would add
them up; it is not wired in.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Decisions take milliseconds; buckets from 0.5 ms to 2.5 s.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "govsvc_http_requests",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "govsvc_http_request_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "govsvc_decisions",
            "decisions recorded, by verdict",
            ["verdict"],
            registry=self.registry,
        )
        self.decision_seconds = Histogram(
            "govsvc_decision_seconds",
            "time to decide and durably record a decision",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ledger_size = Gauge(
            "govsvc_ledger_size", "entries in the ledger", registry=self.registry
        )
        self.checkpoint_age = Gauge(
            "govsvc_ledger_checkpoint_age_seconds",
            "seconds since the latest checkpoint was signed",
            registry=self.registry,
        )

    def observe_request(
        self, method: str, route: str, status: int, seconds: float
    ) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def observe_decision(self, verdict: str, seconds: float) -> None:
        self.decisions.labels(verdict).inc()
        self.decision_seconds.observe(seconds)

    def render(self, ledger_state: Callable[[], tuple[int, float | None]]) -> bytes:
        size, age = ledger_state()
        self.ledger_size.set(size)
        if age is not None:
            self.checkpoint_age.set(age)
        return generate_latest(self.registry)
