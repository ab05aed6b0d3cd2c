"""``/metrics``: queue depth and runs by status read from the queue database at scrape time
(true across restarts), plus process-local run duration and webhook outcome counters.

Each service instance has its own registry so that several can live in one test process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from festsafe_nb.service.kernels import KernelPool
    from festsafe_nb.service.queue import Queue

RUN_BUCKETS = (0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 300, 600)


class _QueueCollector(Collector):
    def __init__(self, queue: Queue, pool: KernelPool | None) -> None:
        self.queue = queue
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "festsafe_service_queue_depth", "Runs waiting to execute", value=self.queue.depth()
        )
        runs = GaugeMetricFamily("festsafe_service_runs", "Runs by status", labels=["status"])
        for status, n in sorted(self.queue.counts("runs", "status").items()):
            runs.add_metric([status], n)
        yield runs
        notes = GaugeMetricFamily(
            "festsafe_service_notifications", "Notifications by status", labels=["status"]
        )
        for status, n in sorted(self.queue.counts("notifications", "status").items()):
            notes.add_metric([status], n)
        yield notes
        if self.pool is not None:
            yield GaugeMetricFamily(
                "festsafe_service_kernels_ready", "Pre-started kernels", value=self.pool.ready
            )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.run_duration = Histogram(
            "festsafe_service_run_duration_seconds",
            "Wall time of a run, kernel ready to report written",
            ["runbook", "status"],
            buckets=RUN_BUCKETS,
            registry=self.registry,
        )
        self.alerts = Counter(
            "festsafe_service_alerts",
            "Alerts received, by what was done with them",
            ["outcome"],
            registry=self.registry,
        )
        self.requests = Counter(
            "festsafe_service_webhook_requests",
            "Webhook requests by HTTP status",
            ["code"],
            registry=self.registry,
        )

    def watch(self, queue: Queue, pool: KernelPool | None) -> None:
        self.registry.register(_QueueCollector(queue, pool))
