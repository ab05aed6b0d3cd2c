"""Evidence sources: one module per external system, each returning pandas DataFrames.

Every client takes its connection settings explicitly, puts a timeout on every call and
raises exactly one error, :class:`~festsafe_nb.errors.SourceUnavailable`, whatever went wrong
(refused, timed out, garbage). The runbooks depend only on the protocols below, so the
simulated platform (``festsafe_nb.sim``) and the real clients are interchangeable.

DataFrame shapes (column order as listed; times are tz-aware UTC ``datetime64``):

- metrics ``signal()`` / ``query_range()``: ``time``, one column per label, ``value`` (float)
- ``deployments()``: ``name, replicas, ready_replicas, available_replicas, updated_replicas,
  images, generation, observed_generation``
- ``pods()``: ``name, app, phase, ready, restarts, node, started_at``
- ``events()``: ``time, type, reason, object, message, count``
- ``logs()``: ``pod, ts, level, logger, msg`` and any further JSON keys (``route, status,
  duration_ms, ...``); lines that are not JSON keep their text in ``msg`` with level ``raw``
- ``connections()``: ``state, connections, max_connections``
- ``long_running()`` / ``blocked()``: ``pid, usename, state, wait_event_type, wait_event,
  seconds, blocked_by, query``
- ``top_statements()``: ``queryid, calls, mean_ms, total_ms, rows, query`` or ``None`` when
  pg_stat_statements is not installed
- cache ``stats()``: a ``CacheStats``
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from festsafe_nb.errors import SourceUnavailable

if TYPE_CHECKING:
    import pandas as pd

    from festsafe_nb.catalog import Signal

# the column contracts the docstring above describes, shared by real and simulated sources
SESSION_COLUMNS = [
    "pid",
    "usename",
    "state",
    "wait_event_type",
    "wait_event",
    "seconds",
    "blocked_by",
    "query",
]
CONNECTION_COLUMNS = ["state", "connections", "max_connections"]
STATEMENT_COLUMNS = ["queryid", "calls", "mean_ms", "total_ms", "rows", "query"]

__all__ = [
    "CacheSource",
    "CacheStats",
    "DatabaseSource",
    "KubeSource",
    "MetricsSource",
    "SourceUnavailable",
    "Sources",
]


@runtime_checkable
class MetricsSource(Protocol):
    system: str

    def ping(self) -> None: ...

    def signal(
        self,
        signal: Signal,
        start: datetime,
        end: datetime,
        step_s: float,
        **params: Any,
    ) -> pd.DataFrame: ...


@runtime_checkable
class KubeSource(Protocol):
    system: str

    def ping(self) -> None: ...

    def deployments(self, namespace: str) -> pd.DataFrame: ...

    def pods(self, namespace: str, selector: str | None = None) -> pd.DataFrame: ...

    def events(self, namespace: str) -> pd.DataFrame: ...

    def logs(
        self, namespace: str, deployment: str, since_seconds: int = 3600, tail_lines: int = 500
    ) -> pd.DataFrame: ...


@runtime_checkable
class DatabaseSource(Protocol):
    system: str

    def ping(self) -> None: ...

    def connections(self) -> pd.DataFrame: ...

    def long_running(self, min_seconds: float) -> pd.DataFrame: ...

    def blocked(self) -> pd.DataFrame: ...

    def top_statements(self, limit: int = 10) -> pd.DataFrame | None: ...


@dataclass(frozen=True)
class CacheStats:
    """Keyspace counters since the server started (or since CONFIG RESETSTAT)."""

    hits: int
    misses: int

    @property
    def hit_rate(self) -> float | None:
        total = self.hits + self.misses
        return None if total == 0 else self.hits / total


@runtime_checkable
class CacheSource(Protocol):
    system: str

    def ping(self) -> None: ...

    def stats(self) -> CacheStats: ...


@dataclass
class Sources:
    """The evidence sources of one environment; ``None`` where none is configured."""

    metrics: MetricsSource | None
    kube: KubeSource | None
    database: DatabaseSource | None
    cache: CacheSource | None

    def reachability(self) -> dict[str, str]:
        """Ping every configured source: ``{"prometheus": "ok" | "<cause>" | "not configured"}``."""
        out: dict[str, str] = {}
        for role, src in (
            ("metrics", self.metrics),
            ("kube", self.kube),
            ("database", self.database),
            ("cache", self.cache),
        ):
            if src is None:
                out[role] = "not configured"
                continue
            try:
                src.ping()
                out[src.system] = "ok"
            except SourceUnavailable as exc:
                out[src.system] = exc.cause
        return out
