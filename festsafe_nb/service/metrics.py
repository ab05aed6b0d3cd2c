"""``/metrics``: everything about runs is read from the queue database at scrape time (queue
depth, runs by status, run duration from each row's claim and close times), so it is true
whichever process executed the run and across restarts; webhook outcome counters and the
ready-kernel gauge (from the run worker's heartbeat) are process-local.

Each service instance has its own registry so that several can live in one test process.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from festsafe_nb.service.queue import Queue

RUN_BUCKETS = (0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 300, 600)


def run_duration_family(durations: list[tuple[str, str, float]]) -> HistogramMetricFamily:
    """Cumulative buckets per (runbook, status), as a Histogram would have observed them."""
    family = HistogramMetricFamily(
        "festsafe_service_run_duration_seconds",
        "Wall time of a run, kernel ready to report written",
        labels=["runbook", "status"],
    )
    series: dict[tuple[str, str], list[float]] = {}
    for runbook, status, seconds in durations:
        series.setdefault((runbook, status), []).append(seconds)
    for (runbook, status), values in sorted(series.items()):
        buckets = [(str(float(b)), float(sum(v <= b for v in values))) for b in RUN_BUCKETS]
        buckets.append(("+Inf", float(len(values))))
        family.add_metric([runbook, status], buckets, sum_value=math.fsum(values))
    return family


class _QueueCollector(Collector):
    def __init__(self, queue: Queue, kernels_ready: Callable[[], int | None]) -> None:
        self.queue = queue
        self.kernels_ready = kernels_ready

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "festsafe_service_queue_depth", "Runs waiting to execute", value=self.queue.depth()
        )
        runs = GaugeMetricFamily("festsafe_service_runs", "Runs by status", labels=["status"])
        for status, n in sorted(self.queue.counts("runs", "status").items()):
            runs.add_metric([status], n)
        yield runs
        yield run_duration_family(self.queue.durations())
        notes = GaugeMetricFamily(
            "festsafe_service_notifications", "Notifications by status", labels=["status"]
        )
        for status, n in sorted(self.queue.counts("notifications", "status").items()):
            notes.add_metric([status], n)
        yield notes
        ready = self.kernels_ready()
        if ready is not None:
            yield GaugeMetricFamily(
                "festsafe_service_kernels_ready", "Pre-started kernels", value=ready
            )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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

    def watch(self, queue: Queue, kernels_ready: Callable[[], int | None]) -> None:
        self.registry.register(_QueueCollector(queue, kernels_ready))
