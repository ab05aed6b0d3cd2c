"""Telling the alert's channel what the run found: PagerDuty, Slack, or an email digest.

Severity picks the channel as in RUNBOOK.md "Alert Channels" (critical → PagerDuty Events API
v2, warning → Slack incoming webhook, info → email digest). An alert on a component inside
one of its maintenance windows is still run, but its notification says so and goes one step
down (critical → warning → info).

:func:`messages` builds channel-neutral bodies that the run's ``finish`` transaction stores in
the outbox; :class:`Notifier` formats and sends them later, reading routing keys and webhook
URLs from the environment only at send time, so no secret is ever stored, logged or echoed.
Errors are recorded by type and HTTP status only (a requests error message would carry the
secret webhook URL).
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any

from festsafe_nb.service.queue import Queue, Run
from festsafe_nb.service.settings import ServiceSettings

log = logging.getLogger("festsafe_nb.service.notify")

CHANNELS = {"critical": "pagerduty", "warning": "slack", "info": "email"}
DOWNGRADE = {"critical": "warning", "warning": "info", "info": "info"}
MAX_BREACHES = 10


class NotConfigured(Exception):
    """A channel whose secret variable is unset: recorded, not retried."""


def report_location(report_dir: str | None, reports_root: str, base_url: str | None) -> str:
    if not report_dir:
        return "no report was written"
    html = f"{report_dir.rstrip('/')}/report.html"
    if base_url:
        rel = html[len(reports_root) :].lstrip("/") if html.startswith(reports_root) else html
        return f"{base_url.rstrip('/')}/{rel}"
    return html


def messages(
    run: Run,
    status: str,
    summary: Mapping[str, Any] | None,
    *,
    location: str,
    error: str | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The notification of one finished run, as (channel, body)."""
    severity = run.severity
    if run.maintenance:
        severity = DOWNGRADE.get(severity, "info")
    summary = summary or {}
    diagnosis = summary.get("diagnosis") or {}
    breaches = [
        {
            "check": f.get("check"),
            "title": f.get("title"),
            "value": f.get("value"),
            "threshold": f.get("threshold"),
            "unit": f.get("unit"),
            "summary": f.get("summary"),
            "component": f.get("component"),
        }
        for f in summary.get("findings", [])
        if f.get("status") == "breach"
    ][:MAX_BREACHES]
    title = f"[{severity.upper()}] {run.alertname}: {run.runbook} runbook {status}"
    if diagnosis.get("suspect"):
        title += f", suspect: {diagnosis['suspect']}"
    body: dict[str, Any] = {
        "title": title,
        "run_id": run.id,
        "alertname": run.alertname,
        "runbook": run.runbook,
        "group_key": run.group_key,
        "severity": severity,
        "alert_severity": run.severity,
        "component": run.component,
        "maintenance": run.maintenance,
        "maintenance_note": (
            f"{run.component} is in its maintenance window ({', '.join(run.maintenance)}): "
            f"notification downgraded from {run.severity} to {severity}"
            if run.maintenance
            else None
        ),
        "status": status,
        "diagnosis": diagnosis.get("summary") or error or "no diagnosis",
        "suspect": diagnosis.get("suspect"),
        "next_steps": diagnosis.get("next_steps", []),
        "breaches": breaches,
        "report": location,
        "simulated": bool(summary.get("simulated", False)),
    }
    return [(CHANNELS.get(severity, "slack"), body)]


def _text(body: Mapping[str, Any]) -> str:
    lines = [str(body["title"])]
    if body.get("maintenance_note"):
        lines.append(f"Maintenance: {body['maintenance_note']}")
    if body.get("simulated"):
        lines.append("SIMULATED (demo environment)")
    lines.append(f"Diagnosis: {body['diagnosis']}")
    for b in body.get("breaches", []):
        value = "" if b.get("value") is None else f" ({b['value']:.4g}{b.get('unit') or ''}"
        if value and b.get("threshold") is not None:
            value += f" vs {b['threshold']:.4g})"
        elif value:
            value += ")"
        lines.append(f"- {b.get('title')}{value}: {b.get('summary')}")
    lines.append(f"Report: {body['report']}")
    return "\n".join(lines)


def pagerduty_event(body: Mapping[str, Any], routing_key: str) -> dict[str, Any]:
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": f"festsafe-run-{body['run_id']}",
        "payload": {
            "summary": str(body["title"])[:1024],
            "source": "festsafe-runbooks",
            "severity": body["severity"],
            "component": body.get("component") or "",
            "class": body["runbook"],
            "custom_details": {
                "diagnosis": body["diagnosis"],
                "breaches": body["breaches"],
                "report": body["report"],
                "maintenance": body.get("maintenance_note"),
                "next_steps": body.get("next_steps", []),
            },
        },
        "links": [{"href": body["report"], "text": "runbook report"}],
    }


def slack_message(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"text": _text(body)}


def email_digest(bodies: Sequence[Mapping[str, Any]], sender: str, to: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"FestSafe runbook digest: {len(bodies)} alert run(s)"
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg.set_content("\n\n".join(_text(b) for b in bodies) + "\n")
    return msg


class Notifier:
    """Drains the outbox: chat/paging at once, email batched every ``digest_interval_s``."""

    def __init__(self, queue: Queue, settings: ServiceSettings, environ: Mapping[str, str]) -> None:
        self.queue = queue
        self.settings = settings
        self.environ = environ
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._not_before: dict[int, float] = {}
        self._thread = threading.Thread(target=self._loop, name="notifier", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain()
            except Exception as exc:  # keep the loop alive; the outbox keeps the items
                log.error("notifier: %s", type(exc).__name__)
            self._wake.wait(0.2)
            self._wake.clear()

    def _secret(self, variable: str) -> str:
        value = self.environ.get(variable, "")
        if not value:
            raise NotConfigured(f"{variable} is not set")
        return value

    def drain(self) -> None:
        now = time.time()
        pending = [n for n in self.queue.pending_notifications() if self._due(n.id, now)]
        emails = [n for n in pending if n.channel == "email"]
        for n in pending:
            if n.channel != "email":
                self._deliver([n.id], n.attempts, lambda n=n: self._send_one(n.channel, n.body))
        if emails and min(n.created_at for n in emails) + self.settings.digest_interval_s <= now:
            bodies = [n.body for n in emails]
            self._deliver([n.id for n in emails], emails[0].attempts, lambda: self._mail(bodies))

    def _due(self, nid: int, now: float) -> bool:
        return self._not_before.get(nid, 0.0) <= now

    def _deliver(self, ids: list[int], attempts: int, send: Any) -> None:
        try:
            send()
        except NotConfigured as exc:
            self.queue.mark_failed(ids, str(exc), max_attempts=1)
            log.warning("notification not sent: %s", exc)
            return
        except Exception as exc:
            reason = _reason(exc)
            self.queue.mark_failed(ids, reason, self.settings.notify_max_attempts)
            for nid in ids:
                self._not_before[nid] = time.time() + min(60.0, 0.5 * 2**attempts)
            log.warning("notification failed (%s), will retry", reason)
            return
        self.queue.mark_sent(ids)

    def _send_one(self, channel: str, body: Mapping[str, Any]) -> None:
        import requests

        timeout = self.settings.notify_timeout_s
        if channel == "pagerduty":
            key = self._secret(self.settings.pagerduty_routing_key_env)
            resp = requests.post(
                self.settings.pagerduty_url, json=pagerduty_event(body, key), timeout=timeout
            )
        elif channel == "slack":
            url = self._secret(self.settings.slack_webhook_url_env)
            resp = requests.post(url, json=slack_message(body), timeout=timeout)
        else:
            raise NotConfigured(f"unknown channel {channel}")
        if resp.status_code >= 300:
            raise RuntimeError(f"HTTP {resp.status_code}")

    def _mail(self, bodies: Sequence[Mapping[str, Any]]) -> None:
        s = self.settings
        msg = email_digest(bodies, s.smtp_from, s.smtp_to)
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.notify_timeout_s) as smtp:
            password = self.environ.get(s.smtp_password_env)
            if password:
                smtp.starttls()
                smtp.login(s.smtp_from, password)
            smtp.send_message(msg)


def _reason(exc: Exception) -> str:
    """A failure without its message: requests errors spell out the (secret) webhook URL."""
    if isinstance(exc, RuntimeError) and str(exc).startswith("HTTP "):
        return str(exc)
    return type(exc).__name__
