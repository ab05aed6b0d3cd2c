"""Unit tests of the alert service's pieces: payload, intake, queue (dedup, recovery),
notification bodies. No servers, no kernels."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from festsafe_nb.config import load_settings
from festsafe_nb.service import notify, payload
from festsafe_nb.service.intake import intakes
from festsafe_nb.service.queue import Queue
from festsafe_nb.service.settings import DEFAULT_ALERT_RUNBOOKS

SUNDAY_3AM = "2026-12-06T03:00:00Z"  # inside the weekly database maintenance window
MONDAY = "2026-12-07T10:00:00Z"


def alert(
    name: str = "HighApiLatency",
    *,
    status: str = "firing",
    starts: str = MONDAY,
    ends: str = "0001-01-01T00:00:00Z",
    fp: str = "fp1",
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, **labels},
        "annotations": {},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus/graph",
        "fingerprint": fp,
    }


def webhook(*alerts: dict[str, Any], group: str = '{}:{alertname="HighApiLatency"}') -> bytes:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return json.dumps(
        {
            "version": "4",
            "groupKey": group,
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "festsafe",
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager",
            "alerts": list(alerts),
        }
    ).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "Invalid JSON"),
        (b'{"version": "3"}', "version"),
        (webhook(alert()).replace(b'"alertname"', b'"name"'), "alertname"),
        (webhook(alert(**{"bad-label": "x"})), "not a Prometheus label name"),
        (webhook(alert(starts="yesterday")), "startsAt"),
    ],
)
def test_malformed_payloads_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        payload.parse(body)


def test_contract_mapping_is_the_default() -> None:
    settings = load_settings()
    assert settings.service.alert_runbooks == DEFAULT_ALERT_RUNBOOKS
    assert settings.service.host == "127.0.0.1"


def test_intake_maps_known_unknown_and_unimplemented_alerts() -> None:
    settings = load_settings()
    got = intakes(
        payload.parse(
            webhook(
                alert(severity="critical", route="/api", secret_label="x"),
                alert("NoSuchAlert", fp="fp2"),
                alert("ModelDrift", fp="fp3"),
            )
        ),
        settings,
    )
    by_name = {i.alertname: i for i in got}
    run = by_name["HighApiLatency"]
    assert run.outcome == "run" and run.runbook == "high-latency"
    assert run.params is not None
    assert run.params["alert_labels"] == {
        "alertname": "HighApiLatency",
        "severity": "critical",
        "route": "/api",
    }  # allowlist: secret_label is not passed
    assert run.params["alert_starts_at"] == MONDAY and run.params["alert_ends_at"] == ""
    assert run.params["execution_mode"] == "headless"
    assert run.severity == "critical" and run.maintenance == ()
    assert by_name["NoSuchAlert"].outcome == "unknown_alert"
    assert by_name["ModelDrift"].outcome == "runbook_not_implemented"


def test_a_label_that_would_be_a_bad_parameter_is_refused_not_queued() -> None:
    got = intakes(payload.parse(webhook(alert(namespace="../../etc; rm -rf /"))), load_settings())
    assert got[0].outcome == "refused" and "namespace" in (got[0].reason or "")


def test_maintenance_window_is_noted_and_downgrades_the_notification(tmp_path: Path) -> None:
    settings = load_settings()
    got = intakes(
        payload.parse(webhook(alert(starts=SUNDAY_3AM, severity="critical", component="postgres"))),
        settings,
    )
    assert got[0].maintenance == ("weekly database maintenance",)
    q = Queue(tmp_path / "q.sqlite3")
    q.record(got, 60)
    run = q.claim()
    assert run is not None
    [(channel, body)] = notify.messages(run, "completed", {}, location="x")
    assert channel == "slack" and body["severity"] == "warning"
    assert "maintenance window" in body["maintenance_note"]


def test_queue_dedups_by_group_and_attaches_the_resolution(tmp_path: Path) -> None:
    settings = load_settings()
    q = Queue(tmp_path / "q.sqlite3")
    firing = intakes(payload.parse(webhook(alert())), settings)
    first = q.record(firing, 60, now=1000.0)
    again = q.record(firing, 60, now=1010.0)
    other = intakes(payload.parse(webhook(alert(), group="other")), settings)
    third = q.record(other, 60, now=1010.0)
    assert first[0]["outcome"] == "queued" and again[0]["outcome"] == "duplicate"
    assert again[0]["run_id"] == first[0]["run_id"] != third[0]["run_id"]
    resolved = intakes(
        payload.parse(webhook(alert(status="resolved", ends="2026-12-07T10:30:00Z"))), settings
    )
    out = q.record(resolved, 60, now=1020.0)
    assert out[0] == {**out[0], "outcome": "resolved_attached", "run_id": first[0]["run_id"]}
    run = q.get_run(first[0]["run_id"])
    assert run is not None and run.resolved_at == "2026-12-07T10:30:00Z"
    # after the window, and once the first run is done, the group runs again
    claimed = q.claim()
    assert claimed is not None
    q.finish(claimed.id, "completed", report_dir=None, result=None)
    assert q.record(firing, 60, now=2000.0)[0]["outcome"] == "queued"


def test_recovery_requeues_once_then_marks_interrupted(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.sqlite3")
    q.record(intakes(payload.parse(webhook(alert())), load_settings()), 60)
    assert q.claim() is not None  # attempt 1, then the process "dies"
    q.close()
    q = Queue(tmp_path / "q.sqlite3")
    requeued, marked = q.recover(max_attempts=2)
    assert requeued and not marked
    assert q.claim() is not None  # attempt 2 dies too
    requeued, marked = q.recover(max_attempts=2)
    assert marked and not requeued
    assert q.counts("runs", "status") == {"interrupted": 1}


def test_run_duration_metric_is_read_from_the_queue_rows(tmp_path: Path) -> None:
    """Whichever process ran them: durations come from started_at/ended_at of the rows."""
    from prometheus_client import generate_latest

    from festsafe_nb.service.metrics import Metrics

    q = Queue(tmp_path / "q.sqlite3")
    settings = load_settings()
    for group in ("a", "b", "c"):
        q.record(intakes(payload.parse(webhook(alert(), group=group)), settings), 60)
    for status in ("completed", "failed"):
        claimed = q.claim()
        assert claimed is not None
        q.finish(claimed.id, status, report_dir=None, result=None)
    assert q.claim() is not None  # still running: not in the histogram
    metrics = Metrics()
    metrics.watch(q, lambda: None)
    text = generate_latest(metrics.registry).decode()
    series = 'festsafe_service_run_duration_seconds_count{runbook="high-latency",status='
    assert f'{series}"completed"}} 1.0' in text and f'{series}"failed"}} 1.0' in text
    durations = [ln for ln in text.splitlines() if ln.startswith("festsafe_service_run_dur")]
    assert not any('status="running"' in ln for ln in durations)
    assert "festsafe_service_kernels_ready" not in text


def test_notification_bodies_carry_diagnosis_breaches_and_report(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.sqlite3")
    q.record(intakes(payload.parse(webhook(alert(severity="critical"))), load_settings()), 60)
    run = q.claim()
    assert run is not None
    summary = {
        "diagnosis": {"suspect": "database", "summary": "slow queries", "next_steps": []},
        "findings": [
            {
                "check": "a",
                "title": "P95",
                "status": "breach",
                "value": 900.0,
                "threshold": 500.0,
                "unit": "ms",
                "summary": "too slow",
            },
            {"check": "b", "title": "ok one", "status": "ok", "summary": "fine"},
        ],
    }
    [(channel, body)] = notify.messages(run, "completed", summary, location="/r/report.html")
    assert channel == "pagerduty"
    event = notify.pagerduty_event(body, "rk")
    assert event["payload"]["custom_details"]["diagnosis"] == "slow queries"
    assert [b["check"] for b in event["payload"]["custom_details"]["breaches"]] == ["a"]
    assert event["links"][0]["href"] == "/r/report.html"
    text = notify.slack_message(body)["text"]
    assert "slow queries" in text and "P95" in text and "/r/report.html" in text
    assert datetime.now(UTC)  # bodies hold no secret: the routing key is added at send time
    assert "rk" not in json.dumps(body)


def test_serve_refuses_to_start_without_a_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from festsafe_nb.service.cli import main

    monkeypatch.delenv("FESTSAFE_WEBHOOK_TOKEN", raising=False)
    assert main(["serve", "--port", "0", "--queue", str(tmp_path / "q.sqlite3")]) == 2
    assert "FESTSAFE_WEBHOOK_TOKEN" in capsys.readouterr().err
