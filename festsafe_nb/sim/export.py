"""Export a scenario to real systems' terms, for the integration tests.

The same :class:`PlatformModel` that answers the demo in-process is written here as the raw
metrics the FestSafe services and exporters would have exposed (OpenMetrics history for
``promtool`` backfill), and as the state a real PostgreSQL and Redis should be put in; the
Kubernetes emulator is seeded by ``festsafe_nb.sim.cluster.seed``, as in the demo. The
runbook, reading those real systems, must reach the same diagnosis as the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from festsafe_nb.sim.openmetrics import OpenMetricsWriter, counter_from_rate, histogram_from_p95
from festsafe_nb.sim.platform import (
    DB_QUERIES_MS,
    MAX_CONNECTIONS,
    MODEL,
    REPLICAS,
    ROUTE_SHARE,
    PlatformModel,
)
from festsafe_nb.sim.scenario import Scenario

DB_QUERY_RPS = 30.0
INFERENCE_RPS = 12.0
EXTERNAL_RPS = 2.0
CACHE_LOOKUPS_RPS = 50.0


def openmetrics_history(
    scenario: Scenario, end: datetime, *, minutes: int = 90, step_s: int = 30
) -> str:
    """The scenario's last ``minutes`` of raw metrics, ending at ``end``, as OpenMetrics text."""
    anchor = end.timestamp()
    times = anchor - step_s * np.arange(minutes * 60 // step_s, -1, -1, dtype=float)
    snap = PlatformModel(scenario, anchor).at(times)
    om = OpenMetricsWriter(times)

    def hist(p95_ms: np.ndarray, rps: np.ndarray | float) -> Any:
        rate = np.broadcast_to(np.asarray(rps, dtype=float), p95_ms.shape).copy()
        return histogram_from_p95(p95_ms / 1000.0, rate, step_s)

    route_rate = {
        (svc, route): snap.rps[svc] * ROUTE_SHARE[route] for (svc, route) in snap.route_p95_ms
    }
    om.histogram(
        "http_request_duration_seconds",
        [
            ({"service": svc, "route": route, "method": "GET"}, hist(p95, route_rate[svc, route]))
            for (svc, route), p95 in snap.route_p95_ms.items()
        ],
    )
    requests = []
    for (svc, route), rate in route_rate.items():
        err = snap.error_rate[svc]
        for status, share in (("200", 1 - err), ("500", err)):
            labels = {"service": svc, "route": route, "status": status}
            requests.append((labels, counter_from_rate(rate * share, step_s)))
    om.counter("http_requests_total", requests)
    om.histogram(
        "festsafe_db_query_duration_seconds",
        [
            ({"service": "backend", "query": q}, hist(snap.db_query_ms[q], DB_QUERY_RPS))
            for q in DB_QUERIES_MS
        ],
    )
    om.histogram(
        "festsafe_inference_duration_seconds",
        [({"model": MODEL}, hist(snap.inference_ms, INFERENCE_RPS))],
    )
    om.histogram(
        "festsafe_external_api_duration_seconds",
        [({"api": api}, hist(ms, EXTERNAL_RPS)) for api, ms in snap.external_ms.items()],
    )
    outcomes = []
    for api, err in snap.external_error.items():
        for outcome, share in (("success", 1 - err), ("error", err)):
            outcomes.append(
                ({"api": api, "outcome": outcome}, counter_from_rate(EXTERNAL_RPS * share, step_s))
            )
    om.counter("festsafe_external_api_requests_total", outcomes)
    om.counter(
        "redis_keyspace_hits_total",
        [({}, counter_from_rate(CACHE_LOOKUPS_RPS * snap.hit_rate, step_s))],
    )
    om.counter(
        "redis_keyspace_misses_total",
        [({}, counter_from_rate(CACHE_LOOKUPS_RPS * (1 - snap.hit_rate), step_s))],
    )
    active = np.round(snap.db_connections * 0.25)
    om.gauge(
        "pg_stat_activity_count",
        [
            ({"datname": "festsafe", "state": "active"}, active),
            ({"datname": "festsafe", "state": "idle"}, np.round(snap.db_connections) - active),
        ],
    )
    om.gauge("pg_settings_max_connections", [({}, np.full_like(times, MAX_CONNECTIONS))])
    ones = np.ones_like(times)
    for metric in ("kube_deployment_status_replicas_available", "kube_deployment_spec_replicas"):
        om.gauge(metric, [({"deployment": d}, n * ones) for d, n in REPLICAS.items()])
    return om.text()


@dataclass(frozen=True)
class DatabasePlan:
    """The PostgreSQL state a scenario implies, for a server with any max_connections."""

    connections_ratio: float
    long_running_query: bool
    lock_wait: bool

    def idle_connections(self, max_connections: int, already: int = 0) -> int:
        return max(0, round(self.connections_ratio * max_connections) - already)


def database_plan(scenario: Scenario, end: datetime) -> DatabasePlan:
    snap = PlatformModel(scenario, end.timestamp()).at(np.array([end.timestamp()]))
    slow = bool(scenario.faults_of("database_slow"))
    return DatabasePlan(
        connections_ratio=float(snap.db_connections[0]) / MAX_CONNECTIONS,
        long_running_query=slow,
        lock_wait=slow,
    )


def cache_plan(scenario: Scenario, end: datetime, lookups: int = 1000) -> tuple[int, int]:
    """(hits, misses) to replay against a real Redis so INFO shows the scenario's hit rate."""
    snap = PlatformModel(scenario, end.timestamp()).at(np.array([end.timestamp()]))
    hits = round(float(snap.hit_rate[0]) * lookups)
    return hits, lookups - hits
