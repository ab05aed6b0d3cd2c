"""From a validated webhook to queue intakes: alertname → runbook, labels → parameters.

Nothing is guessed: an alertname the settings do not map is ``unknown_alert``, a mapped
runbook that is not implemented yet is ``runbook_not_implemented``; both are recorded and
answered. Label values only ever become *values* of declared notebook parameters
(``alert_labels`` and the configured ``label_parameters``), checked by
``festsafe_nb.parameters.validate`` before they are queued, so no label can name a parameter,
become code or pick a path. A parameter refused there is recorded as ``refused``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from festsafe_nb.config import Settings
from festsafe_nb.errors import BadInput
from festsafe_nb.findings import Severity
from festsafe_nb.parameters import Parameter, read_parameters, validate
from festsafe_nb.runbooks import REGISTRY
from festsafe_nb.service.payload import Alert, WebhookPayload
from festsafe_nb.service.queue import Intake
from festsafe_nb.session import check_session_parameters
from festsafe_nb.windows import active_windows

_SEVERITIES = {s.value for s in Severity}


@cache
def _declared(path: Path) -> dict[str, Parameter]:
    return read_parameters(path)


def declared_parameters(runbook: str) -> dict[str, Parameter]:
    """The notebook's parameters, read once per process (a notebook does not change under us)."""
    return _declared(REGISTRY[runbook].path)


def _iso(at: datetime | None) -> str:
    # Alertmanager sends endsAt 0001-01-01 (or a future time) for a firing alert
    if at is None or at.year < 2000:
        return ""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_parameters(alert: Alert, runbook: str, settings: Settings) -> dict[str, Any]:
    """The run's parameters: fixed per runbook, the alert window, and allowlisted labels."""
    svc = settings.service
    declared = declared_parameters(runbook)
    labels = {k: v for k, v in alert.labels.items() if k in set(svc.label_allowlist)}
    candidate: dict[str, Any] = {
        "environment": svc.environment,
        "execution_mode": "headless",
        **svc.runbook_parameters.get(runbook, {}),
        "alert_starts_at": _iso(alert.startsAt),
        "alert_ends_at": _iso(alert.endsAt) if alert.status == "resolved" else "",
        "alert_labels": labels,
    }
    for label, param in svc.label_parameters.items():
        if label in alert.labels:
            candidate[param] = alert.labels[label]
    given = {k: v for k, v in candidate.items() if k in declared}
    params = validate(declared, given, notebook=REGISTRY[runbook].notebook)
    check_session_parameters({**{k: p.default for k, p in declared.items()}, **params})
    return params


def severity_of(alert: Alert) -> str:
    value = alert.labels.get("severity", "").lower()
    return value if value in _SEVERITIES else Severity.WARNING.value


def component_of(alert: Alert, runbook: str | None, settings: Settings) -> str | None:
    for label in settings.service.component_labels:
        if alert.labels.get(label):
            return alert.labels[label]
    return settings.service.runbook_components.get(runbook or "")


def intakes(payload: WebhookPayload, settings: Settings) -> list[Intake]:
    """One intake per alert; firing alerts earliest first so the first one sets the run."""
    svc = settings.service
    out: list[Intake] = []
    ordered = sorted(payload.alerts, key=lambda a: (a.status != "firing", a.startsAt))
    for alert in ordered:
        base: dict[str, Any] = {
            "group_key": payload.groupKey,
            "fingerprint": alert.fingerprint,
            "alertname": alert.alertname,
            "alert_status": alert.status,
        }
        runbook = svc.alert_runbooks.get(alert.alertname)
        if runbook is None:
            reason = "no runbook is mapped to this alertname"
            out.append(Intake(outcome="unknown_alert", reason=reason, **base))
            continue
        if runbook not in REGISTRY:
            reason = f"runbook {runbook!r} is not implemented yet"
            out.append(
                Intake(outcome="runbook_not_implemented", runbook=runbook, reason=reason, **base)
            )
            continue
        if alert.status == "resolved":
            out.append(
                Intake(
                    outcome="resolved",
                    runbook=runbook,
                    resolved_at=_iso(alert.endsAt) or _iso(datetime.now(UTC)),
                    **base,
                )
            )
            continue
        try:
            params = build_parameters(alert, runbook, settings)
        except BadInput as exc:
            out.append(Intake(outcome="refused", runbook=runbook, reason=str(exc), **base))
            continue
        component = component_of(alert, runbook, settings)
        windows = active_windows(settings.maintenance_windows, alert.startsAt, component)
        out.append(
            Intake(
                outcome="run",
                runbook=runbook,
                params=params,
                severity=severity_of(alert),
                component=component,
                maintenance=tuple(w.name for w in windows),
                **base,
            )
        )
    return out
