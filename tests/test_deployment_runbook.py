"""The Deployment runbook end to end on the demo (its emulated Kubernetes API and simulated
metrics): a good rollout passes, a bad one breaches the post-checks and is rolled back through
the gate, and without a policy a headless run changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from festsafe_nb import runner
from festsafe_nb.actions.audit import AuditLog
from festsafe_nb.config import load_settings

POLICIES = """
[remediation]
actor = "ci-bot"
audit_log = "{audit}"
roles = {{ ci-bot = ["deployer"] }}

[[remediation.headless_policies]]
action = "set_image"
alert = "none"
runbook = "deployment"

[[remediation.headless_policies]]
action = "rollout_undo"
alert = "none"
runbook = "deployment"
"""


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: str, policy: bool) -> Any:
    audit = tmp_path / "audit.jsonl"
    config = tmp_path / "festsafe.toml"
    body = POLICIES.format(audit=audit) if policy else f'[remediation]\naudit_log = "{audit}"\n'
    config.write_text(body)
    monkeypatch.setenv("FESTSAFE_CONFIG", str(config))
    monkeypatch.delenv("FESTSAFE_REMEDIATION__AUDIT_LOG", raising=False)
    result = runner.run(
        "deployment",
        {"scenario": scenario},
        settings=load_settings(),
        reports_dir=tmp_path / "reports",
    )
    assert result.exit_code == 0, result.summary["error"]
    return result, AuditLog(audit)


def final_images(summary: dict[str, Any]) -> str:
    return next(f["summary"] for f in summary["findings"] if f["check"] == "final_images")


def decisions(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(e["action"], e["target"], e["decision"]) for e in summary["gate_decisions"]]


def test_good_rollout_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, audit = run(tmp_path, monkeypatch, "rollout-good", policy=True)
    s = result.summary
    assert s["diagnosis"]["suspect"] == "none"
    assert decisions(s) == [
        ("set_image", "deployment/backend", "executed"),
        ("set_image", "deployment/frontend", "executed"),
    ]
    assert "festsafe/backend:v1.5.0" in final_images(s)
    assert "festsafe/frontend:v1.5.0" in final_images(s)
    checks = {f["check"]: f["status"] for f in s["findings"]}
    assert checks["rollout_backend"] == checks["post_error_rate"] == "ok"
    assert audit.verify().ok


def test_bad_rollout_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, audit = run(tmp_path, monkeypatch, "rollout-bad", policy=True)
    s = result.summary
    assert s["diagnosis"]["suspect"] == "release"
    assert {f["check"]: f["status"] for f in s["findings"]}["post_error_rate"] == "breach"
    assert [a["action"] for a in s["proposed_actions"]].count("rollout_undo") == 2
    assert decisions(s)[2:] == [
        ("rollout_undo", "deployment/backend", "executed"),
        ("rollout_undo", "deployment/frontend", "executed"),
    ]
    # the rollback restored the previous images, and said so after verifying
    assert "festsafe/backend:v1.4.2" in final_images(s)
    assert "festsafe/frontend:v1.4.2" in final_images(s)
    assert all(e["verification"]["ok"] for e in s["executed_actions"])
    assert [e["run_id"] for e in audit.entries()] == [result.run_id] * 4
    html = result.html.read_text()
    assert "kubectl rollout undo deployment/backend -n festsafe" in html


def test_without_a_policy_a_headless_run_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, audit = run(tmp_path, monkeypatch, "rollout-bad", policy=False)
    s = result.summary
    assert {d for _, _, d in decisions(s)} == {"refused"}
    assert all("default deny" in e["reason"] for e in s["gate_decisions"])
    assert s["executed_actions"] == []
    assert "festsafe/backend:v1.4.2" in final_images(s)
    assert s["diagnosis"]["suspect"] == "unknown"
    assert len(list(audit.entries())) == 2
    assert json.loads((result.report_dir / "summary.json").read_text())["run_id"] == result.run_id
