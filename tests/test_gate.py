"""The gate against the Kubernetes emulator with the real ScaleDeployment action.

Every refusal must leave the Deployment exactly as it was and write one ``refused`` entry;
allowed executions change the cluster, verify, and write ``executed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest

from festsafe_nb.actions import identity as identity_mod
from festsafe_nb.actions.audit import AuditLog
from festsafe_nb.actions.base import Plan
from festsafe_nb.actions.cluster import Cluster
from festsafe_nb.actions.gate import Gate, GateResult
from festsafe_nb.actions.scale import ScaleDeployment
from festsafe_nb.config import HeadlessPolicy, Remediation, Settings
from festsafe_nb.sim.kube import KubeEmulator
from festsafe_nb.windows import MaintenanceWindow

DEPLOYMENTS = "apps/v1/deployments"
# A Tuesday noon: inside none of the default windows.
NOON = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


@dataclass
class Env:
    kube: KubeEmulator
    cluster: Cluster
    log: AuditLog
    tmp: Path

    def settings(self, **remediation: Any) -> Settings:
        fields: dict[str, Any] = {
            "actor": "alice",
            "roles": {"alice": ["operator"], "bob": ["viewer"], "dora": ["deployer"]},
            "audit_log": self.log.path,
            "verify_timeout_s": 5.0,
        }
        fields.update(remediation)
        windows = fields.pop("windows", [])
        return Settings(remediation=Remediation(**fields), maintenance_windows=windows)

    def gate(self, settings: Settings | None = None, **kw: Any) -> Gate:
        opts: dict[str, Any] = {
            "run_id": "run-42",
            "mode": "interactive",
            "runbook": "high-latency",
            "clock": lambda: NOON,
        }
        opts.update(kw)
        return Gate(settings or self.settings(), self.cluster, self.log, **opts)

    def backend(self) -> dict[str, Any]:
        dep = self.kube.get(DEPLOYMENTS, "festsafe", "backend")
        assert dep is not None
        return dep

    def entries(self) -> list[dict[str, Any]]:
        return list(self.log.entries())


@pytest.fixture
def env(kube_emulator: KubeEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    kube_emulator.add_deployment("backend", replicas=2, image="festsafe/backend:v1")
    kube_emulator.controller = True
    cluster = Cluster(server=kube_emulator.url, timeout_s=5.0)
    return Env(kube_emulator, cluster, AuditLog(tmp_path / "audit" / "audit.jsonl"), tmp_path)


def scale5() -> ScaleDeployment:
    return ScaleDeployment(deployment="backend", replicas=5, namespace="festsafe")


def assert_refused(env: Env, before: dict[str, Any], result: GateResult, match: str) -> None:
    """Refused, said why, cluster untouched, exactly one audit entry saying so."""
    assert result.decision == "refused", result
    assert match in result.reason, result.reason
    assert result.outcome is None and result.verification is None
    assert env.backend() == before
    entries = env.entries()
    assert len(entries) == 1
    entry = entries[0]
    assert entry["decision"] == "refused"
    assert entry["reason"] == result.reason
    assert entry["action"] == "scale" and entry["target"] == "deployment/backend"
    assert entry["run_id"] == "run-42"
    assert env.log.verify().ok


def plan_and_execute(env: Env, gate: Gate, **kw: Any) -> tuple[dict[str, Any], GateResult]:
    action = scale5()
    plan = gate.plan(action)
    before = env.backend()
    opts: dict[str, Any] = {"confirmed": True, "reason": "P95 at 900 ms, CPU saturated"}
    opts.update(kw)
    return before, gate.execute(action, plan, **opts)


# ---- refusals ----


def test_headless_without_policy(env: Env) -> None:
    gate = env.gate(mode="headless", alert="HighLatency")
    before, result = plan_and_execute(env, gate)
    assert_refused(env, before, result, "no headless policy allows 'scale'")


@pytest.mark.parametrize(
    "policy",
    [
        HeadlessPolicy(action="scale", alert="DatabaseDown"),
        HeadlessPolicy(action="rollout_restart", alert="HighLatency"),
        HeadlessPolicy(action="scale", alert="HighLatency", runbook="deployment"),
        HeadlessPolicy(action="scale", alert="HighLatency", namespace="staging"),
    ],
    ids=["other-alert", "other-action", "other-runbook", "other-namespace"],
)
def test_headless_with_a_policy_for_something_else(env: Env, policy: HeadlessPolicy) -> None:
    gate = env.gate(env.settings(headless_policies=[policy]), mode="headless", alert="HighLatency")
    before, result = plan_and_execute(env, gate)
    assert_refused(env, before, result, "default deny")


def test_headless_without_an_alert(env: Env) -> None:
    policy = HeadlessPolicy(action="scale", alert="*")
    gate = env.gate(env.settings(headless_policies=[policy]), mode="headless", alert=None)
    before, result = plan_and_execute(env, gate)
    assert_refused(env, before, result, "without an alert")


def test_headless_above_max_replicas(env: Env) -> None:
    policy = HeadlessPolicy(action="scale", alert="HighLatency", max_replicas=4)
    gate = env.gate(env.settings(headless_policies=[policy]), mode="headless", alert="HighLatency")
    before, result = plan_and_execute(env, gate)
    assert_refused(env, before, result, "caps replicas at 4")


def test_unknown_mode(env: Env) -> None:
    before, result = plan_and_execute(env, env.gate(mode="batch"))
    assert_refused(env, before, result, "unknown execution mode")


def test_interactive_without_confirmation(env: Env) -> None:
    before, result = plan_and_execute(env, env.gate(), confirmed=False)
    assert_refused(env, before, result, "not confirmed")


@pytest.mark.parametrize("reason", ["", "   \n\t "], ids=["empty", "whitespace"])
def test_interactive_without_reason(env: Env, reason: str) -> None:
    before, result = plan_and_execute(env, env.gate(), reason=reason)
    assert_refused(env, before, result, "no reason given")


def test_wrong_role(env: Env) -> None:
    before, result = plan_and_execute(env, env.gate(env.settings(actor="bob")))
    assert_refused(env, before, result, "wrong role: scale needs role 'operator'")
    assert env.entries()[0]["actor"] == "bob"
    assert env.entries()[0]["actor_source"] == "settings"


def test_unknown_identity_from_jupyterhub(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_USER", "mallory")
    before, result = plan_and_execute(env, env.gate())
    assert_refused(env, before, result, "unknown identity: mallory (jupyterhub)")
    assert env.entries()[0]["actor"] == "mallory"


def test_no_identity_at_all(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity_mod, "_os_user", lambda: None)
    before, result = plan_and_execute(env, env.gate(env.settings(actor=None)))
    assert_refused(env, before, result, "unknown identity: no JUPYTERHUB_USER")
    assert env.entries()[0]["actor"] is None
    assert env.entries()[0]["actor_source"] == "unknown"


def test_action_without_a_role_mapping(env: Env) -> None:
    before, result = plan_and_execute(env, env.gate(env.settings(required_role={})))
    assert_refused(env, before, result, "no role is configured for action 'scale'")


def test_changed_target(env: Env) -> None:
    gate = env.gate()
    action = scale5()
    plan = gate.plan(action)
    bumped = env.kube.kubectl("annotate", "deployment/backend", "festsafe/touched=yes")
    assert bumped.returncode == 0, bumped.stderr
    before = env.backend()
    assert before["metadata"]["resourceVersion"] != plan.resource_version
    result = gate.execute(action, plan, confirmed=True, reason="scale up")
    assert_refused(env, before, result, "target changed since the plan")


def test_failed_dry_run(env: Env) -> None:
    gate = env.gate()
    action = ScaleDeployment(deployment="no-such", replicas=5, namespace="festsafe")
    plan = gate.plan(action)
    assert not plan.dry_run_ok
    before = env.backend()
    result = gate.execute(action, plan, confirmed=True, reason="scale up")
    assert result.decision == "refused" and "dry run did not succeed" in result.reason
    assert env.backend() == before
    assert env.kube.get(DEPLOYMENTS, "festsafe", "no-such") is None
    assert [e["decision"] for e in env.entries()] == ["refused"]


def test_plan_not_issued_or_edited(env: Env) -> None:
    gate = env.gate()
    action = scale5()
    plan = gate.plan(action)
    forged = Plan(**{**plan.model_dump(), "diff": "nothing to see"})
    before = env.backend()
    result = gate.execute(action, forged, confirmed=True, reason="scale up")
    assert_refused(env, before, result, "does not match any plan this gate issued")


def test_plan_for_another_action(env: Env) -> None:
    gate = env.gate()
    plan = gate.plan(ScaleDeployment(deployment="backend", replicas=3, namespace="festsafe"))
    before = env.backend()
    result = gate.execute(scale5(), plan, confirmed=True, reason="scale up")
    assert_refused(env, before, result, "different action or parameters")


# ---- executions ----


def test_confirmed_interactive_execute(env: Env) -> None:
    gate = env.gate()
    before, result = plan_and_execute(env, gate)
    assert result.decision == "executed", result.reason
    assert result.verification is not None and result.verification.ok
    after = env.backend()
    assert before["spec"]["replicas"] == 2 and after["spec"]["replicas"] == 5
    assert after["status"]["availableReplicas"] == 5
    [entry] = env.entries()
    assert entry["decision"] == "executed"
    assert entry["actor"] == "alice" and entry["roles"] == ["operator"]
    assert entry["justification"] == "P95 at 900 ms, CPU saturated"
    assert entry["verification"]["ok"] is True
    assert entry["result"]["ok"] is True
    assert entry["plan_digest"] == result.plan_digest
    assert entry["parameters"] == {"namespace": "festsafe", "deployment": "backend", "replicas": 5}
    assert entry["kubectl"] == "kubectl scale deployment/backend --replicas=5 -n festsafe"
    assert entry["warnings"] == []
    assert gate.audit_entries() == [entry]


def test_a_plan_executes_at_most_once(env: Env) -> None:
    gate = env.gate()
    action = scale5()
    plan = gate.plan(action)
    assert gate.execute(action, plan, confirmed=True, reason="scale up").executed
    after = env.backend()
    again = gate.execute(action, plan, confirmed=True, reason="scale up")
    assert again.decision == "refused" and "already executed" in again.reason
    assert env.backend() == after
    assert [e["decision"] for e in env.entries()] == ["executed", "refused"]


def test_policy_allowed_headless_execute(env: Env) -> None:
    policy = HeadlessPolicy(action="scale", alert="HighLatency", max_replicas=6)
    gate = env.gate(env.settings(headless_policies=[policy]), mode="headless", alert="HighLatency")
    _, result = plan_and_execute(env, gate, confirmed=False, reason="")
    assert result.decision == "executed", result.reason
    assert env.backend()["spec"]["replicas"] == 5
    [entry] = env.entries()
    assert entry["decision"] == "executed" and entry["mode"] == "headless"
    assert entry["alert"] == "HighLatency"
    assert "headless policy: scale for alert HighLatency" in entry["justification"]
    assert entry["verification"]["ok"] is True


def test_maintenance_window_warns_but_does_not_refuse(env: Env) -> None:
    window = MaintenanceWindow(
        name="backend patching", components=["backend"], weekday=1, start=time(11), end=time(13)
    )
    gate = env.gate(env.settings(windows=[window]))
    _, result = plan_and_execute(env, gate)
    assert result.decision == "executed"
    assert len(result.warnings) == 1 and "backend patching" in result.warnings[0]
    assert env.entries()[0]["warnings"] == result.warnings


def test_verification_failure_is_audited_failed(env: Env) -> None:
    env.kube.controller = False  # nothing rolls out: replicas never become available
    gate = env.gate(env.settings(verify_timeout_s=0.5))
    _, result = plan_and_execute(env, gate)
    assert result.decision == "failed"
    assert result.verification is not None and not result.verification.ok
    assert env.backend()["spec"]["replicas"] == 5  # it did act; the effect is not there
    [entry] = env.entries()
    assert entry["decision"] == "failed" and entry["verification"]["ok"] is False


def test_execute_error_is_audited_failed(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from festsafe_nb.actions.base import ActionError

    gate = env.gate()
    action = scale5()
    plan = gate.plan(action)

    def boom(*_: Any) -> Any:
        raise ActionError("the API server said no")

    monkeypatch.setattr(ScaleDeployment, "execute", boom)
    result = gate.execute(action, plan, confirmed=True, reason="scale up")
    assert result.decision == "failed" and "the API server said no" in result.reason
    assert env.entries()[0]["decision"] == "failed"
    again = gate.execute(action, plan, confirmed=True, reason="scale up")
    assert "already executed" in again.reason


def test_identity_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    from festsafe_nb.actions.identity import resolve_identity

    rem = Remediation(actor="svc-runbooks")
    assert resolve_identity(rem, {"JUPYTERHUB_USER": "hub-user"}).source == "jupyterhub"
    got = resolve_identity(rem, {"JUPYTERHUB_USER": "  "})
    assert (got.name, got.source) == ("svc-runbooks", "settings")
    monkeypatch.setattr(identity_mod, "_os_user", lambda: "root")
    got = resolve_identity(Remediation(), {})
    assert (got.name, got.source) == ("root", "os")


def test_known_secrets_are_scrubbed_from_the_audit(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from festsafe_nb.actions.base import Outcome

    monkeypatch.setenv("PGPASSWORD", "pg-very-secret")
    gate = env.gate(secrets=["extra-secret-token"])
    action = scale5()
    plan = gate.plan(action)

    def leaky(*_: Any) -> Outcome:
        return Outcome(ok=False, detail="server said pg-very-secret / extra-secret-token")

    monkeypatch.setattr(ScaleDeployment, "execute", leaky)
    result = gate.execute(action, plan, confirmed=True, reason="pw is pg-very-secret")
    assert result.decision == "failed"
    text = env.log.path.read_text()
    assert "pg-very-secret" not in text and "extra-secret-token" not in text
    assert "pg-very-secret" not in result.reason
    assert env.log.verify().ok
    assert result.outcome is not None and "pg-very-secret" not in result.outcome.detail
