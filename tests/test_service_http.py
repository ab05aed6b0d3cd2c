"""The service over HTTP on loopback (in a thread), with a stand-in run function so that
these tests exercise the webhook, queue, dedup and notifications without kernels."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from festsafe_nb.service.executor import Outcome
from festsafe_nb.service.harness import RunningService, start_thread
from festsafe_nb.service.queue import Queue, Run
from tests.fixtures.proc import wait_until
from tests.fixtures.service_receivers import HttpReceiver, SmtpReceiver
from tests.test_service_unit import SUNDAY_3AM, alert, webhook

ROUTING_KEY = "rk-very-secret-routing-key"


class FakeRuns:
    """Records each run's parameters; a finding in breach and a diagnosis, like the runbook."""

    def __init__(self) -> None:
        self.params: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self, item: Run, km: Any) -> Outcome:
        self.release.wait(30)
        self.params.append(item.params)
        summary = {
            "diagnosis": {"suspect": "database", "summary": "database queries are slow"},
            "findings": [
                {
                    "check": "db",
                    "title": "DB query P95",
                    "status": "breach",
                    "value": 900.0,
                    "threshold": 100.0,
                    "unit": "ms",
                    "summary": "slow",
                },
            ],
        }
        return Outcome("completed", f"/reports/run-{item.id}", summary)


@pytest.fixture
def fake_runs() -> FakeRuns:
    return FakeRuns()


@pytest.fixture
def svc(
    tmp_path: Path, fake_runs: FakeRuns, hook_receiver: HttpReceiver, mail_receiver: SmtpReceiver
) -> Iterator[RunningService]:
    running = start_thread(
        tmp_path,
        run_fn=fake_runs,
        use_kernels=False,
        env={
            "FESTSAFE_PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
            "FESTSAFE_SLACK_WEBHOOK_URL": f"{hook_receiver.url}/slack",
        },
        pagerduty_url=f"{hook_receiver.url}/pd",
        smtp_port=mail_receiver.port,
        digest_interval_s=0.3,
        dedup_window_s=600,
        max_body_bytes=64_000,
    )
    yield running
    running.stop()


def post(svc: RunningService, body: bytes, token: str | None = None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token != "":
        headers["Authorization"] = f"Bearer {token or svc.token}"
    return requests.post(f"{svc.url}/alerts", data=body, headers=headers, timeout=10)


def nothing_recorded(svc: RunningService) -> bool:
    q = Queue(svc.queue_path)
    try:
        return not q.counts("runs", "status") and not q.counts("alerts", "outcome")
    finally:
        q.close()


def test_unauthenticated_oversized_and_malformed_are_refused_and_nothing_queued(
    svc: RunningService,
) -> None:
    good = webhook(alert())
    assert post(svc, good, token="").status_code == 401
    assert post(svc, good, token="wrong-token-of-some-length").status_code == 401
    resp = requests.post(
        f"{svc.url}/alerts", data=good, headers={"Authorization": svc.token}, timeout=5
    )
    assert resp.status_code == 401  # not a Bearer header
    big = webhook(alert(route="x" * 70_000))
    resp = post(svc, big)
    assert resp.status_code == 413 and "larger than" in resp.json()["error"]
    resp = post(svc, b'{"version": "4", "alerts": []}')
    assert resp.status_code == 422 and "groupKey" in resp.json()["error"]
    for r in (resp,):
        assert svc.token not in r.text
    assert nothing_recorded(svc)


def test_unknown_and_unimplemented_alerts_are_recorded_and_answered(svc: RunningService) -> None:
    resp = post(svc, webhook(alert("SomethingNew"), alert("ModelDrift", fp="2")))
    assert resp.status_code == 200
    outcomes = {a["alertname"]: a["outcome"] for a in resp.json()["alerts"]}
    assert outcomes == {"SomethingNew": "unknown_alert", "ModelDrift": "runbook_not_implemented"}
    q = Queue(svc.queue_path)
    assert q.counts("alerts", "outcome") == {"unknown_alert": 1, "runbook_not_implemented": 1}
    assert not q.counts("runs", "status")
    q.close()


def test_repeats_of_a_group_start_one_run_and_the_resolution_is_attached(
    svc: RunningService, fake_runs: FakeRuns
) -> None:
    fake_runs.release.clear()  # hold the run while the repeats arrive
    ids = {post(svc, webhook(alert())).json()["alerts"][0]["run_id"] for _ in range(5)}
    assert len(ids) == 1
    fake_runs.release.set()
    (run_id,) = ids
    resolved = post(svc, webhook(alert(status="resolved", ends="2026-12-07T11:00:00Z")))
    assert resolved.json()["alerts"][0] == {
        "alertname": "HighApiLatency",
        "fingerprint": "fp1",
        "outcome": "resolved_attached",
        "run_id": run_id,
        "runbook": "high-latency",
    }
    wait_until(
        lambda: (
            requests.get(f"{svc.url}/runs/{run_id}", headers=svc.headers, timeout=5).json()[
                "status"
            ]
            == "completed"
        ),
        30,
        "run completed",
    )
    run = requests.get(f"{svc.url}/runs/{run_id}", headers=svc.headers, timeout=5).json()
    assert run["resolved_at"] == "2026-12-07T11:00:00Z"
    assert len(fake_runs.params) == 1


def test_notifications_go_to_the_severity_channel_with_findings_and_report(
    svc: RunningService,
    hook_receiver: HttpReceiver,
    mail_receiver: SmtpReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    post(svc, webhook(alert(severity="critical"), group="g-critical"))
    post(svc, webhook(alert(severity="warning"), group="g-warning"))
    post(svc, webhook(alert(severity="info", fp="i1"), group="g-info-1"))
    post(svc, webhook(alert(severity="info", fp="i2"), group="g-info-2"))
    # critical inside the database maintenance window: still runs, goes to Slack, says why
    post(
        svc,
        webhook(
            alert(severity="critical", component="database", starts=SUNDAY_3AM),
            group="g-maintenance",
        ),
    )
    wait_until(
        lambda: len(hook_receiver.posts) >= 3 and len(mail_receiver.messages) >= 1,
        30,
        "notifications",
    )
    [pd] = hook_receiver.bodies("/pd")
    assert pd["routing_key"] == ROUTING_KEY and pd["event_action"] == "trigger"
    assert pd["payload"]["severity"] == "critical"
    assert pd["payload"]["custom_details"]["diagnosis"] == "database queries are slow"
    assert pd["payload"]["custom_details"]["breaches"][0]["title"] == "DB query P95"
    assert pd["links"][0]["href"].endswith("report.html")
    slack = [b["text"] for b in hook_receiver.bodies("/slack")]
    assert len(slack) == 2
    assert any("maintenance window" in t and "downgraded from critical" in t for t in slack)
    assert all("DB query P95" in t and "report.html" in t for t in slack)
    wait_until(
        lambda: sum(m.get_payload().count("Diagnosis:") for m in mail_receiver.messages) == 2,
        30,
        "digest",
    )
    assert "digest" in mail_receiver.messages[0]["Subject"]
    everything = (
        caplog.text
        + json.dumps(requests.get(f"{svc.url}/runs", headers=svc.headers, timeout=5).json())
        + requests.get(f"{svc.url}/metrics", timeout=5).text
    )
    assert ROUTING_KEY not in everything and svc.token not in everything
    assert hook_receiver.url + "/slack" not in everything


def test_healthz_and_metrics(svc: RunningService) -> None:
    post(svc, webhook(alert()))
    assert requests.get(f"{svc.url}/healthz", timeout=5).json()["status"] == "ok"
    wait_until(
        lambda: (
            'festsafe_service_runs{status="completed"} 1.0'
            in requests.get(f"{svc.url}/metrics", timeout=5).text
        ),
        30,
        "metrics",
    )
    text = requests.get(f"{svc.url}/metrics", timeout=5).text
    assert "festsafe_service_queue_depth 0.0" in text
    assert "festsafe_service_run_duration_seconds_count" in text
    assert requests.get(f"{svc.url}/runs", timeout=5).status_code == 401


label_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60
) | st.sampled_from(
    [
        "'; import os; os.system('touch /tmp/pwned') #",
        '"""\nprint(1)\n"""',
        "../../../etc/passwd",
        "{{ alert_labels }} ${HOME} $(id) `id`",
        "\\x00\\n\" + __import__('os').getcwd() + \"",
        "\x00\x1b[31m",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(label_text, min_size=3, max_size=3))
def test_label_values_reach_the_run_exactly_as_sent(
    svc: RunningService, fake_runs: FakeRuns, values: list[str]
) -> None:
    labels = {"route": values[0], "service": values[1], "zone": values[2]}
    resp = post(svc, webhook(alert(**labels), group=json.dumps(values)))
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["alerts"][0]["run_id"]
    wait_until(
        lambda: (
            requests.get(f"{svc.url}/runs/{run_id}", headers=svc.headers, timeout=5).json()[
                "status"
            ]
            == "completed"
        ),
        30,
        "run",
    )
    sent = {"alertname": "HighApiLatency", **labels}
    assert any(p["alert_labels"] == sent for p in fake_runs.params)
