"""Prometheus metrics, in a registry of the app's own (tests build many apps).

Ledger size and checkpoint age are read from the ledger when scraped, so that every
replica reports the shared ledger, not what it happened to append itself.

Counters and histograms count what this process served. `govsvc serve --workers N`
runs N processes behind one port, and a scrape reaches one of them; so for N > 1
it names a directory of its own in `PROMETHEUS_MULTIPROC_DIR` before starting
them, the client library keeps every process's values in a file there, and a
scrape adds up all the files. The variable must be set before the library is
first imported: it chooses how values are kept then (`SHARED_DIR`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Read once, as the client library does when it is imported (just above).
SHARED_DIR = os.environ.get(MULTIPROC_ENV) or None

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
        # What a scrape reports: this process's values, or every process's.
        self._counted = self.registry
        if SHARED_DIR is not None:
            self._counted = CollectorRegistry()
            MultiProcessCollector(self._counted, path=SHARED_DIR)
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

    def observe_request(
        self, method: str, route: str, status: int, seconds: float
    ) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def observe_decision(self, verdict: str, seconds: float) -> None:
        self.decisions.labels(verdict).inc()
        self.decision_seconds.observe(seconds)

    def render(self, ledger_state: Callable[[], tuple[int, float | None]]) -> bytes:
        ledger = CollectorRegistry()
        ledger.register(_LedgerGauges(*ledger_state()))
        # Two expositions in a row are one: the text format is a list of families.
        return generate_latest(self._counted) + generate_latest(ledger)


class _LedgerGauges(Collector):
    """The shared ledger's size and checkpoint age, as read for one scrape: the same
    from every process, so never kept per process."""

    def __init__(self, size: int, age: float | None) -> None:
        self.size = size
        self.age = age

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "govsvc_ledger_size", "entries in the ledger", value=self.size
        )
        if self.age is not None:
            yield GaugeMetricFamily(
                "govsvc_ledger_checkpoint_age_seconds",
                "seconds since the latest checkpoint was signed",
                value=self.age,
            )
