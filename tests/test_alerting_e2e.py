"""The alert path end to end on loopback, with real Prometheus and a real Alertmanager.

Prometheus serves the slow-database scenario's last half hour (backfilled, ending a minute
ago) and evaluates the rules generated from the catalog (``for: 0s``: a pending period would
be spent in real time). Its alerts go to Alertmanager running the generated configuration,
pointed at local stand-ins: an HTTP receiver for the PagerDuty Events API v2 and Slack
incoming webhooks, an SMTP server for the email digest, and the runbook service
(``festsafe-nb serve``). The service runs the High Latency runbook headless, writes the report
and notifies the same stand-ins.

Receivers are told apart by path: ``/am/...`` for Alertmanager's own notifications,
``/svc/...`` for the service's. Maintenance windows are switched off on both sides so the test
does not depend on the day it runs (they have their own tests).
"""

from __future__ import annotations

import json
import secrets
import shutil
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from festsafe_nb.alerting.alertmanager import Channels, render_alertmanager_config
from festsafe_nb.alerting.rules import render_rules
from festsafe_nb.sim import load_scenario
from festsafe_nb.sim.export import openmetrics_history
from tests.fixtures.proc import wait_until

if TYPE_CHECKING:  # imported by pytest as a plugin (below), so that its asserts are rewritten
    from tests.fixtures.alerting import (
        AlertmanagerFactory,
        HttpReceiver,
        Mail,
        PrometheusRulesFactory,
        SmtpReceiver,
    )

# until tests/conftest.py lists it (importing it twice is harmless)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (shutil.which("prometheus") and shutil.which("prometheus-alertmanager")),
        reason="prometheus and prometheus-alertmanager are needed",
    ),
]

WAIT_S = 240.0  # upper bound for a wait, never an assertion about speed
SERVICE_FROM = "festsafe-runbooks@localhost"


def history(scenario: str) -> str:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    return openmetrics_history(load_scenario(scenario), end, minutes=30)


def fast_rules() -> str:
    return render_rules(for_override="0s", interval="1s")


def loopback_channels(
    tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver, webhook_url: str, token: str
) -> Channels:
    """The generated configuration's shape, with every receiver on loopback and quick timing."""
    secrets_dir = tmp_path / "am-secrets"
    secrets_dir.mkdir()
    files = {
        "token": token,
        "pagerduty": "am-routing-key-0123456789",
        "slack": f"{http.url}/am/slack",
    }
    for name, value in files.items():
        (secrets_dir / name).write_text(value)
    return Channels(
        webhook_url=webhook_url,
        webhook_credentials_file=str(secrets_dir / "token"),
        pagerduty_url=f"{http.url}/am/pagerduty",
        pagerduty_routing_key_file=str(secrets_dir / "pagerduty"),
        slack_api_url_file=str(secrets_dir / "slack"),
        smtp_smarthost=f"127.0.0.1:{smtp.port}",
        smtp_auth_username=None,
        smtp_auth_password_file=None,
        smtp_require_tls=False,
        group_wait="1s",
        webhook_group_wait="1s",
        digest_group_wait="1s",
        windows=[],
    )


def alertnames(body: Any) -> set[str]:
    """Alert names in an Alertmanager webhook body."""
    if not isinstance(body, dict):
        return set()
    return {a["labels"].get("alertname", "") for a in body.get("alerts", [])}


def test_a_healthy_platform_fires_nothing(
    prometheus_alerting_factory: PrometheusRulesFactory,
) -> None:
    prom = prometheus_alerting_factory(history("healthy"), fast_rules())

    def evaluated() -> bool:
        with urllib.request.urlopen(f"{prom.url}/api/v1/rules", timeout=5) as resp:
            groups = json.loads(resp.read())["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return len(rules) == 8 and all(
            r["health"] == "ok" and not r["lastEvaluation"].startswith("0001") for r in rules
        )

    from tests.fixtures.alerting import firing_alerts

    wait_until(evaluated, WAIT_S, "every rule evaluated", prom.log)
    assert firing_alerts(prom.url) == []


def test_breach_history_reaches_every_channel_through_alertmanager(
    tmp_path: Path,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
    alertmanager_factory: AlertmanagerFactory,
    prometheus_alerting_factory: PrometheusRulesFactory,
) -> None:
    """Prometheus rules -> Alertmanager -> webhook (with its bearer token), PagerDuty, Slack,
    email; the service is a recording stand-in here (the next test uses the real one)."""
    token = secrets.token_urlsafe(24)
    channels = loopback_channels(
        tmp_path, http_receiver, smtp_receiver, f"{http_receiver.url}/hook", token
    )
    am = alertmanager_factory(render_alertmanager_config(channels))
    prom = prometheus_alerting_factory(history("slow-database"), fast_rules(), alertmanager=am.url)

    hook = http_receiver.wait_for(
        "/hook", lambda b: "HighApiLatency" in alertnames(b), timeout=WAIT_S
    )
    assert hook.headers["Authorization"] == f"Bearer {token}"
    assert hook.body["version"] == "4"
    alert = hook.body["alerts"][0]
    assert alert["status"] == "firing"
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["component"] == "backend"
    assert alert["labels"]["route"] == "/api/observations"
    assert alert["annotations"]["runbook"] == "notebooks/high_latency.ipynb"
    assert alert["generatorURL"].startswith(prom.url)
    # the webhook route takes every severity
    for name in ("DatabaseConnectionsHigh", "DatabaseSlowQueries"):

        def names(body: Any, name: str = name) -> bool:
            return name in alertnames(body)

        http_receiver.wait_for("/hook", names, timeout=WAIT_S)

    page = http_receiver.wait_for("/am/pagerduty", timeout=WAIT_S)
    assert page.body["routing_key"] == "am-routing-key-0123456789"
    assert page.body["event_action"] == "trigger"
    assert page.body["payload"]["summary"].startswith("HighApiLatency: P95 latency")
    slack = http_receiver.wait_for("/am/slack", timeout=WAIT_S)
    assert slack.body["channel"] == "#alerts"
    assert "DatabaseConnectionsHigh" in json.dumps(slack.body)
    assert "notebooks/database_issues.ipynb" in json.dumps(slack.body)
    mail = smtp_receiver.wait_for(lambda m: "DatabaseSlowQueries" in m.text, timeout=WAIT_S)
    assert mail.rcpt_to == ["engineering@festsafe.ai"]
    # each severity reached its own channel only
    assert all("HighApiLatency" not in json.dumps(r.body) for r in http_receiver.at("/am/slack"))
    assert all("Database" not in json.dumps(r.body) for r in http_receiver.at("/am/pagerduty"))


@pytest.fixture
def runbook_service(
    tmp_path: Path, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> Iterator[Any]:
    """The real service in its own process, notifying the local stand-ins."""
    harness = pytest.importorskip("festsafe_nb.service.harness")
    svc = harness.start_process(
        tmp_path / "service",
        env={
            "FESTSAFE_PAGERDUTY_ROUTING_KEY": "svc-routing-key-0123456789",
            "FESTSAFE_SLACK_WEBHOOK_URL": f"{http_receiver.url}/svc/slack",
            "FESTSAFE_MAINTENANCE_WINDOWS": "[]",
        },
        environment="demo",
        runbook_parameters={"high-latency": {"scenario": "slow-database"}},
        # until the Database Issues runbook exists, its alerts run the High Latency runbook
        # here so that the service's Slack (warning) and email (info) channels are exercised
        alert_runbooks={
            "HighApiLatency": "high-latency",
            "DatabaseConnectionsHigh": "high-latency",
            "DatabaseSlowQueries": "high-latency",
        },
        pagerduty_url=f"{http_receiver.url}/svc/pagerduty",
        smtp_host="127.0.0.1",
        smtp_port=smtp_receiver.port,
        digest_interval_s=1.0,
    )
    try:
        yield svc
    finally:
        svc.stop()


def test_alert_runs_the_runbook_and_the_service_notifies(
    tmp_path: Path,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
    alertmanager_factory: AlertmanagerFactory,
    prometheus_alerting_factory: PrometheusRulesFactory,
    runbook_service: Any,
) -> None:
    """Prometheus -> Alertmanager -> service -> High Latency runbook -> report -> channels."""
    channels = loopback_channels(
        tmp_path,
        http_receiver,
        smtp_receiver,
        f"{runbook_service.url}/alerts",
        runbook_service.token,
    )
    am = alertmanager_factory(render_alertmanager_config(channels))
    prometheus_alerting_factory(history("slow-database"), fast_rules(), alertmanager=am.url)

    # critical -> PagerDuty Events API v2, with the diagnosis and the report
    page = http_receiver.wait_for(
        "/svc/pagerduty", lambda b: "HighApiLatency" in b["payload"]["summary"], timeout=WAIT_S
    )
    event = page.body
    assert event["routing_key"] == "svc-routing-key-0123456789"
    assert event["event_action"] == "trigger"
    assert event["payload"]["severity"] == "critical"
    details = event["payload"]["custom_details"]
    assert details["breaches"], details
    report_html = Path(details["report"])
    assert report_html.name == "report.html" and report_html.exists()
    summary = json.loads((report_html.parent / "summary.json").read_text())
    assert summary["runbook"] == "high-latency"
    assert summary["diagnosis"]["suspect"] == "database"
    params = summary["parameters"]
    assert params["execution_mode"] == "headless"
    assert params["alert_labels"]["alertname"] == "HighApiLatency"
    assert params["alert_labels"]["route"] == "/api/observations"
    assert params["alert_starts_at"]
    assert (report_html.parent / "report.ipynb").exists()

    # warning -> Slack; info -> the email digest (SMTP)
    slack = http_receiver.wait_for(
        "/svc/slack", lambda b: "DatabaseConnectionsHigh" in b.get("text", ""), timeout=WAIT_S
    )
    assert "report.html" in slack.body["text"]

    def from_service(m: Mail) -> bool:
        return SERVICE_FROM in m.mail_from and "DatabaseSlowQueries" in m.text

    mail = smtp_receiver.wait_for(from_service, timeout=WAIT_S)
    assert "report.html" in mail.text

    # and Alertmanager paged directly as well, without waiting for the run
    http_receiver.wait_for("/am/pagerduty", timeout=WAIT_S)
