"""The simulated platform behind the same source protocols as the real clients.

The demo environment hands these to the runbooks instead of Prometheus, Kubernetes, PostgreSQL
and Redis clients; a runbook cannot tell the difference except through ``simulated = True``,
which the session shows in every report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from festsafe_nb.catalog import Signal
from festsafe_nb.errors import SourceUnavailable
from festsafe_nb.sim.platform import (
    DB_QUERIES_MS,
    MAX_CONNECTIONS,
    PlatformModel,
    Snapshot,
)
from festsafe_nb.sim.scenario import Scenario
from festsafe_nb.sources import SESSION_COLUMNS, CacheStats, Sources

# catalog parameters that filter a label, for the simulator's answer
_FILTERS = {"services": "service", "deployments": "deployment", "service": "service"}


class _Sim:
    system = "simulator"
    simulated = True

    def __init__(self, model: PlatformModel) -> None:
        self.model = model

    def ping(self) -> None:
        if self.system in self.model.scenario.unavailable:
            raise SourceUnavailable(self.system, "connection refused (simulated outage)")

    def _now(self) -> Snapshot:
        self.ping()
        return self.model.at(np.array([self.model.anchor]))


class SimMetrics(_Sim):
    system = "prometheus"

    def signal(
        self, signal: Signal, start: datetime, end: datetime, step_s: float, **params: Any
    ) -> pd.DataFrame:
        self.ping()
        signal.render(**params)  # refuse bad parameters exactly as the real source does
        times = np.arange(start.timestamp(), end.timestamp() + 1e-6, step_s)
        snap = self.model.at(times)
        series = snap.signals.get(signal.name, {})
        filters = {
            _FILTERS[k]: str(v) for k, v in {**_defaults(signal), **params}.items() if k in _FILTERS
        }
        frames = []
        stamp = pd.to_datetime(times, unit="s", utc=True)
        for labels, arr in series.items():
            lab = dict(labels)
            if any(
                name in lab and lab[name] not in pattern.split("|")
                for name, pattern in filters.items()
            ):
                continue
            frame = pd.DataFrame({"time": stamp})
            for name in signal.labels:
                frame[name] = lab.get(name, "")
            frame["value"] = np.asarray(arr, dtype=float)
            frames.append(frame)
        if not frames:
            return pd.DataFrame(columns=["time", *signal.labels, "value"])
        return pd.concat(frames, ignore_index=True)


def _defaults(signal: Signal) -> dict[str, Any]:
    return {k: p.default for k, p in signal.params.items() if p.default is not None}


_HOLDER_PID = 4242


class SimDatabase(_Sim):
    system = "postgresql"

    def connections(self) -> pd.DataFrame:
        total = round(float(self._now().db_connections[0]))
        active = max(1, total // 4)
        rows = [("idle", total - active), ("active", active)]
        if self.model.scenario.faults_of("database_slow"):
            rows.append(("idle in transaction", 1))
        return pd.DataFrame(
            [{"state": s, "connections": n, "max_connections": MAX_CONNECTIONS} for s, n in rows]
        )

    def _lock_sessions(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        faults = self.model.scenario.faults_of("database_slow")
        if not faults:
            return [], []
        age = -faults[0].start_min * 60
        holder = {
            "pid": _HOLDER_PID,
            "usename": "festsafe_migrate",
            "state": "idle in transaction",
            "wait_event_type": "Client",
            "wait_event": "ClientRead",
            "seconds": float(age),
            "blocked_by": [],
            "query": "ALTER TABLE observations ADD COLUMN sensor_battery real",
        }
        waiters = [
            {
                "pid": _HOLDER_PID + i,
                "usename": "festsafe",
                "state": "active",
                "wait_event_type": "Lock",
                "wait_event": "relation",
                "seconds": float(age - 30 * i),
                "blocked_by": [_HOLDER_PID],
                "query": "SELECT zone_id, observed_at, crowd_count FROM observations "
                "WHERE observed_at > $1 ORDER BY observed_at DESC",
            }
            for i in range(1, 6)
        ]
        return [holder], waiters

    def long_running(self, min_seconds: float) -> pd.DataFrame:
        self.ping()
        holders, waiters = self._lock_sessions()
        rows = [r for r in holders + waiters if r["seconds"] >= min_seconds]
        return _activity_frame(rows)

    def blocked(self) -> pd.DataFrame:
        self.ping()
        return _activity_frame(self._lock_sessions()[1])

    def top_statements(self, limit: int = 10) -> pd.DataFrame | None:
        snap = self._now()
        rows: list[dict[str, Any]] = [
            {
                "queryid": int(hashlib.sha1(q.encode()).hexdigest()[:12], 16),
                "calls": 40_000 // (i + 1),
                "mean_ms": float(snap.db_query_ms[q][0]) / 2.2,
                "total_ms": float(snap.db_query_ms[q][0]) / 2.2 * 40_000 / (i + 1),
                "rows": 10 * (i + 1),
                "query": f"/* {q} */ SELECT ...",
            }
            for i, q in enumerate(DB_QUERIES_MS)
        ]
        rows.sort(key=lambda r: -float(r["mean_ms"]))
        return pd.DataFrame(rows[:limit])


def _activity_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SESSION_COLUMNS)


class SimCache(_Sim):
    system = "redis"

    def stats(self) -> CacheStats:
        rate = float(self._now().hit_rate[0])
        hits = round(rate * 100_000)
        return CacheStats(hits=hits, misses=100_000 - hits)


def simulated_sources(
    scenario: Scenario, anchor: datetime
) -> tuple[Sources, Callable[[], Any] | None]:
    """Every source of the demo environment, answering from one platform model, and a factory
    for the cluster the demo's actions act on."""
    from festsafe_nb.actions.cluster import Cluster
    from festsafe_nb.sim.cluster import demo_cluster, image_reader
    from festsafe_nb.sources.kubernetes import KubernetesSource

    emulator = demo_cluster(scenario.name, anchor.timestamp())
    model = PlatformModel(scenario, anchor.timestamp(), image_of=image_reader(emulator))
    # a simulated outage of the API server: nothing listens on the discard port
    server = "http://127.0.0.1:9" if "kubernetes" in scenario.unavailable else emulator.url
    sources = Sources(
        metrics=SimMetrics(model),
        kube=KubernetesSource(server=server, timeout_s=5.0),
        database=SimDatabase(model),
        cache=SimCache(model),
    )
    return sources, lambda: Cluster(server=server, timeout_s=10.0)
