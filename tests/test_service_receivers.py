"""The local PagerDuty/Slack (HTTP) and SMTP receivers the service tests use record what
they are sent."""

from __future__ import annotations

import smtplib

import requests

from tests.fixtures.service_receivers import HttpReceiver, SmtpReceiver


def test_http_receiver_records_posts(hook_receiver: HttpReceiver) -> None:
    resp = requests.post(f"{hook_receiver.url}/slack", json={"text": "hi"}, timeout=5)
    assert resp.status_code == 200
    assert hook_receiver.bodies("/slack") == [{"text": "hi"}]


def test_smtp_receiver_records_messages(mail_receiver: SmtpReceiver) -> None:
    with smtplib.SMTP("127.0.0.1", mail_receiver.port, timeout=5) as smtp:
        smtp.sendmail("a@localhost", ["b@localhost"], "Subject: hi\r\n\r\nbody\r\n")
    assert mail_receiver.messages[0]["Subject"] == "hi"
