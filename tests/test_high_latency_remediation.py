"""The High Latency runbook's scale-up goes through the real gate: a headless run executes it
only where a policy allows it for the alert, and the audit trail says so either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from festsafe_nb import runner
from festsafe_nb.config import load_settings

POLICY = """
[remediation]
actor = "alert-bot"
audit_log = "{audit}"
roles = {{ alert-bot = ["operator"] }}

[[remediation.headless_policies]]
action = "scale"
alert = "HighApiLatency"
runbook = "high-latency"
max_replicas = {cap}
"""


def run_under_provisioned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_text: str
) -> runner.RunResult:
    """A headless High Latency run on the under-provisioned demo, as HighApiLatency starts it."""
    config = tmp_path / "festsafe.toml"
    config.write_text(config_text)
    monkeypatch.setenv("FESTSAFE_CONFIG", str(config))
    monkeypatch.delenv("FESTSAFE_REMEDIATION__AUDIT_LOG", raising=False)
    return runner.run(
        "high-latency",
        {"scenario": "under-provisioned", "alert_labels": {"alertname": "HighApiLatency"}},
        settings=load_settings(),
        reports_dir=tmp_path / "reports",
    )


@pytest.mark.parametrize(
    ("cap", "decision"), [(10, "executed"), (4, "refused")], ids=["allowed", "over-the-cap"]
)
def test_alert_triggered_scale_up(
    cap: int, decision: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = POLICY.format(audit=tmp_path / "audit.jsonl", cap=cap)
    result = run_under_provisioned(tmp_path, monkeypatch, config)
    s = result.summary
    assert result.exit_code == 0, s["error"]
    assert s["diagnosis"]["suspect"] == "capacity"
    (entry,) = s["gate_decisions"]
    assert (entry["action"], entry["target"], entry["decision"]) == (
        "scale",
        "deployment/backend",
        decision,
    )
    if decision == "executed":
        assert entry["verification"]["ok"]
        assert s["executed_actions"] == [entry]
    else:
        assert "caps replicas at 4" in entry["reason"]
        assert s["executed_actions"] == []
    assert "kubectl scale deployment/backend --replicas=" in result.html.read_text()


def test_without_policy_the_proposal_is_refused_and_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = f'[remediation]\naudit_log = "{tmp_path / "audit.jsonl"}"\n'
    result = run_under_provisioned(tmp_path, monkeypatch, config)
    (entry,) = result.summary["gate_decisions"]
    assert entry["decision"] == "refused" and "default deny" in entry["reason"]
    assert result.summary["proposed_actions"][0]["action"] == "scale"
