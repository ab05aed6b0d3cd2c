"""A runbook session: what one notebook run knows about where it is and what it found.

The notebook's setup cell turns its parameters into a :class:`RunbookSession`: settings loaded,
environment chosen (the simulator for ``demo``), sources connected, the time window fixed and
the alert window marked. Checks read evidence through the session and the session keeps every
finding, so the diagnosis sees the whole run and the report lists sources that did not answer.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from festsafe_nb import evidence
from festsafe_nb.catalog import Catalog, load_catalog
from festsafe_nb.config import DEMO, Environment, Settings, Thresholds, load_settings
from festsafe_nb.errors import ParameterError, SourceUnavailable
from festsafe_nb.findings import Finding
from festsafe_nb.sources import Sources

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
Mode = Literal["interactive", "headless"]


@dataclass(frozen=True)
class Window:
    """The evidence window, and the alert window inside it (shaded in every chart)."""

    start: datetime
    end: datetime
    step_s: int
    alert_start: datetime | None = None
    alert_end: datetime | None = None
    assess_minutes: int = 5
    assess_from: datetime | None = None

    @property
    def shaded(self) -> tuple[datetime, datetime] | None:
        if self.alert_start is None:
            return None
        return (self.alert_start, self.alert_end or self.end)

    @property
    def assess_start(self) -> datetime:
        """Start of the period a check judges: the last few minutes of the window, or from a
        given instant (post-checks judge only what came after the change)."""
        if self.assess_from is not None:
            return self.assess_from
        return self.end - timedelta(minutes=self.assess_minutes)


def parse_time(value: str, name: str) -> datetime | None:
    """An ISO-8601 instant (``Z`` allowed) as aware UTC, ``None`` for an empty string."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ParameterError(f"{name}={value!r} is not an ISO-8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def make_window(
    *,
    end: str,
    window_minutes: int,
    alert_starts_at: str,
    alert_ends_at: str,
    now: datetime | None = None,
) -> Window:
    if not 5 <= int(window_minutes) <= 7 * 24 * 60:
        raise ParameterError("window_minutes must be between 5 and 10080")
    now = now or datetime.now(UTC)
    alert_start = parse_time(alert_starts_at, "alert_starts_at")
    alert_end = parse_time(alert_ends_at, "alert_ends_at")
    # Alertmanager sends endsAt in the future (or 0001-01-01) for a firing alert
    if alert_end is not None and (alert_end > now or alert_end.year < 2000):
        alert_end = None
    stop = parse_time(end, "end") or alert_end or now
    stop = stop.replace(second=0, microsecond=0)
    start = stop - timedelta(minutes=int(window_minutes))
    step = max(15, int(window_minutes) * 60 // 240)
    return Window(start=start, end=stop, step_s=step, alert_start=alert_start, alert_end=alert_end)


def check_session_parameters(params: dict[str, Any]) -> None:
    """Refuse bad window and mode parameters before a run starts (the runner calls this)."""
    if "execution_mode" in params and params["execution_mode"] not in ("interactive", "headless"):
        raise ParameterError("execution_mode must be 'interactive' or 'headless'")
    if "run_id" in params and not re.match(r"^[A-Za-z0-9-]{0,64}$", str(params["run_id"])):
        raise ParameterError("run_id must be letters, digits and dashes")
    if "namespace" in params and not _NAMESPACE.match(str(params["namespace"])):
        raise ParameterError(
            f"namespace={params['namespace']!r} is not a Kubernetes namespace name"
        )
    if "window_minutes" in params:
        make_window(
            end=str(params.get("end", "")),
            window_minutes=int(params["window_minutes"]),
            alert_starts_at=str(params.get("alert_starts_at", "")),
            alert_ends_at=str(params.get("alert_ends_at", "")),
        )


@dataclass
class RunbookSession:
    runbook: str
    settings: Settings
    environment_name: str
    environment: Environment
    catalog: Catalog
    sources: Sources
    window: Window
    namespace: str
    execution_mode: Mode
    scenario: str | None = None
    alert_labels: dict[str, str] = field(default_factory=dict)
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    findings: list[Finding] = field(default_factory=list)
    reachability: dict[str, str] = field(default_factory=dict)
    run_id: str = ""
    cluster_factory: Callable[[], Any] | None = None
    _cluster: Any = None
    _gate: Any = None

    @property
    def cluster(self) -> Any:
        """The write-side Kubernetes client actions use (the demo's emulated API in demo)."""
        if self._cluster is None:
            if self.cluster_factory is not None:
                self._cluster = self.cluster_factory()
            else:
                from festsafe_nb.actions.cluster import Cluster

                self._cluster = Cluster.from_environment(self.environment)
        return self._cluster

    @property
    def gate(self) -> Any:
        """The remediation gate of this run: every attempt goes through it and is audited."""
        if self._gate is None:
            from festsafe_nb.actions.gate import Gate

            self._gate = Gate(
                self.settings,
                self.cluster,
                str(self.settings.remediation.audit_log),
                run_id=self.run_id or self.session_id,
                mode=self.execution_mode,
                alert=self.alert_labels.get("alertname"),
                runbook=self.runbook,
            )
        return self._gate

    def audited(
        self, action: str | None = None, decision: str | None = None
    ) -> list[dict[str, Any]]:
        """This run's audit entries (e.g. the updates that were really executed)."""
        from pathlib import Path

        from festsafe_nb.actions.audit import AuditLog

        path = Path(self.settings.remediation.audit_log)
        if not path.exists():
            return []
        entries = AuditLog(path).list(run_id=self.run_id or self.session_id, action=action)
        return [e for e in entries if decision is None or e.get("decision") == decision]

    @property
    def simulated(self) -> bool:
        return self.environment.kind == "demo"

    @property
    def thresholds(self) -> Thresholds:
        return self.settings.thresholds

    # -- evidence access ------------------------------------------------------------------
    def signal(self, name: str, window: Window | None = None, **params: Any) -> pd.DataFrame:
        """A catalog signal over the session window (or ``window``), or SourceUnavailable."""
        if self.sources.metrics is None:
            raise SourceUnavailable("prometheus", "not configured for this environment")
        w = window or self.window
        return self.sources.metrics.signal(
            self.catalog.signal(name), w.start, w.end, w.step_s, **params
        )

    def window_until_now(self, minutes: int, since: datetime) -> Window:
        """A window ending now that judges only what came after ``since`` (post-checks); the
        shaded band is the time since the change."""
        end = datetime.now(UTC)
        step = 5 if self.simulated else 15
        span = max(timedelta(minutes=minutes), end - since + timedelta(minutes=minutes))
        # a grid that ends exactly at ``end``: the newest sample is always after the change
        steps = int(span.total_seconds() // step) + 1
        return Window(
            start=end - timedelta(seconds=step * steps),
            end=end,
            step_s=step,
            alert_start=since,
            alert_end=end,
            assess_from=since,
        )

    def attempt(self, check: str, title: str, fetch: Callable[[], T]) -> T | Finding:
        """Run ``fetch``; a SourceUnavailable becomes an "evidence unavailable" finding."""
        try:
            return fetch()
        except SourceUnavailable as exc:
            return Finding.unavailable_from(check, title, exc)

    def header(self) -> None:
        """Show (and record) where this run looks, and which sources answer."""
        self.reachability = self.sources.reachability()
        info = {
            "session_id": self.session_id,
            "runbook": self.runbook,
            "environment": self.environment_name,
            "simulated": self.simulated,
            "scenario": self.scenario if self.simulated else None,
            "namespace": self.namespace,
            "execution_mode": self.execution_mode,
            "window": {
                "start": self.window.start.isoformat(),
                "end": self.window.end.isoformat(),
                "step_s": self.window.step_s,
                "alert_start": self.window.alert_start.isoformat()
                if self.window.alert_start
                else None,
                "alert_end": self.window.alert_end.isoformat() if self.window.alert_end else None,
            },
            "alert_labels": self.alert_labels,
            "sources": self.reachability,
        }
        evidence.display_bundle(
            {
                evidence.MIME_SESSION: info,
                "text/html": _header_html(info),
                "text/plain": _header_text(info),
            }
        )


def _header_text(info: dict[str, Any]) -> str:
    lines = []
    if info["simulated"]:
        lines.append(f"SIMULATED DATA - demo environment, scenario {info['scenario']!r}")
    lines.append(f"environment {info['environment']}, namespace {info['namespace']}")
    w = info["window"]
    lines.append(f"window {w['start']} .. {w['end']} (step {w['step_s']} s)")
    lines += [f"  {k}: {v}" for k, v in info["sources"].items()]
    return "\n".join(lines)


def _header_html(info: dict[str, Any]) -> str:
    e = html.escape
    banner = ""
    if info["simulated"]:
        banner = (
            '<div style="background:#fff8c5;border:2px solid #bf8700;padding:8px;'
            'font-weight:bold">SIMULATED DATA: this run used the embedded demo environment '
            f"(scenario <code>{e(str(info['scenario']))}</code>), not a real cluster.</div>"
        )
    rows = "".join(
        f"<tr><td>{e(k)}</td><td>{'reachable' if v == 'ok' else e(v)}</td></tr>"
        for k, v in info["sources"].items()
    )
    w = info["window"]
    return (
        f"{banner}<p>Environment <code>{e(info['environment'])}</code>, namespace "
        f"<code>{e(info['namespace'])}</code>, window {e(w['start'])} to {e(w['end'])}.</p>"
        f"<table><thead><tr><th>source</th><th>status</th></tr></thead><tbody>{rows}"
        "</tbody></table>"
    )


def open_session(
    runbook: str,
    *,
    environment: str = DEMO,
    scenario: str = "healthy",
    namespace: str = "festsafe",
    end: str = "",
    window_minutes: int = 60,
    alert_starts_at: str = "",
    alert_ends_at: str = "",
    alert_labels: dict[str, str] | None = None,
    execution_mode: str = "interactive",
    run_id: str = "",
    settings: Settings | None = None,
    now: datetime | None = None,
) -> RunbookSession:
    """Everything a notebook's setup cell needs, from its parameters."""
    check_session_parameters({"execution_mode": execution_mode, "namespace": namespace})
    settings = settings or load_settings()
    env = settings.environment(environment)
    catalog = load_catalog()
    window = make_window(
        end=end,
        window_minutes=window_minutes,
        alert_starts_at=alert_starts_at,
        alert_ends_at=alert_ends_at,
        now=now,
    )
    cluster_factory = None
    if env.kind == "demo":
        from festsafe_nb.sim import load_scenario, simulated_sources

        sources, cluster_factory = simulated_sources(load_scenario(scenario), window.end)
    else:
        from festsafe_nb.sources.connect import connect

        sources = connect(env, catalog)
    return RunbookSession(
        runbook=runbook,
        settings=settings,
        environment_name=environment,
        environment=env,
        catalog=catalog,
        sources=sources,
        window=window,
        namespace=namespace,
        execution_mode=execution_mode,  # type: ignore[arg-type]
        scenario=scenario if env.kind == "demo" else None,
        alert_labels={str(k): str(v) for k, v in (alert_labels or {}).items()},
        run_id=run_id,
        cluster_factory=cluster_factory,
    )
