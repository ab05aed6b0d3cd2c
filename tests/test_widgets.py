"""The gate's widgets: the panel's button only asks the gate, and the static block for reports."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest

from festsafe_nb.actions.audit import AuditLog
from festsafe_nb.actions.cluster import Cluster
from festsafe_nb.actions.gate import Gate
from festsafe_nb.actions.scale import ScaleDeployment
from festsafe_nb.config import HeadlessPolicy, Remediation, Settings
from festsafe_nb.sim.kube import KubeEmulator
from festsafe_nb.widgets import PLAN_MIME, gate_panel, static_block

DEPLOYMENTS = "apps/v1/deployments"


@pytest.fixture
def setup(
    kube_emulator: KubeEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[KubeEmulator, Cluster, AuditLog, Settings]:
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    kube_emulator.add_deployment("backend", replicas=2)
    kube_emulator.controller = True
    log = AuditLog(tmp_path / "audit.jsonl")
    settings = Settings(
        remediation=Remediation(
            actor="alice",
            roles={"alice": ["operator"]},
            audit_log=log.path,
            verify_timeout_s=5.0,
            headless_policies=[HeadlessPolicy(action="scale", alert="HighLatency")],
        ),
        maintenance_windows=[],
    )
    return kube_emulator, Cluster(server=kube_emulator.url, timeout_s=5.0), log, settings


def output_html(panel: Any) -> str:
    [out] = panel.output.outputs
    return str(out["data"]["text/html"])


def test_click_on_disabled_button_with_nothing_confirmed_is_refused(setup: Any) -> None:
    kube, cluster, log, settings = setup
    gate = Gate(settings, cluster, log, run_id="r1", mode="interactive")
    panel = gate_panel(gate, ScaleDeployment(deployment="backend", replicas=5))
    before = kube.get(DEPLOYMENTS, "festsafe", "backend")
    assert panel.button.disabled
    panel.button.click()  # fires even though disabled
    assert panel.result is not None and panel.result.decision == "refused"
    assert "not confirmed" in panel.result.reason
    assert "refused" in output_html(panel)
    assert kube.get(DEPLOYMENTS, "festsafe", "backend") == before
    assert [e["decision"] for e in log.entries()] == ["refused"]


def test_disabled_state_follows_the_form_but_the_gate_rechecks(setup: Any) -> None:
    kube, cluster, log, settings = setup
    gate = Gate(settings, cluster, log, run_id="r1", mode="interactive")
    panel = gate_panel(gate, ScaleDeployment(deployment="backend", replicas=5))
    panel.confirm.value = True
    assert panel.button.disabled  # no reason yet
    panel.reason.value = "   "
    assert panel.button.disabled
    panel.reason.value = "P95 900 ms"
    assert not panel.button.disabled
    panel.confirm.value = False  # un-ticked after enabling: the click still must refuse
    panel.button.disabled = False  # as if the front end lagged behind
    before = kube.get(DEPLOYMENTS, "festsafe", "backend")
    panel.button.click()
    assert panel.result is not None and panel.result.decision == "refused"
    assert kube.get(DEPLOYMENTS, "festsafe", "backend") == before


def test_confirmed_click_executes_and_shows_the_result(setup: Any) -> None:
    kube, cluster, log, settings = setup
    gate = Gate(settings, cluster, log, run_id="r1", mode="interactive")
    panel = gate_panel(gate, ScaleDeployment(deployment="backend", replicas=5))
    plan_view = panel.plan_view.value
    assert "kubectl scale deployment/backend --replicas=5 -n festsafe" in plan_view
    assert "succeeded" in plan_view and "replicas" in plan_view
    panel.confirm.value = True
    panel.reason.value = "P95 <900 ms> & CPU saturated"
    panel.button.click()
    assert panel.result is not None and panel.result.decision == "executed"
    shown = output_html(panel)
    assert "executed" in shown and "Verification:" in shown
    assert kube.get(DEPLOYMENTS, "festsafe", "backend")["spec"]["replicas"] == 5
    assert panel.button.disabled and panel.confirm.disabled
    entry = next(iter(log.entries()))
    assert entry["decision"] == "executed"
    assert entry["justification"] == "P95 <900 ms> & CPU saturated"
    panel.button.click()  # a second click on the spent plan is refused by the gate
    second: Any = panel.result
    assert second.decision == "refused" and "already executed" in second.reason
    assert panel.button.disabled  # stays spent


def test_plan_html_is_escaped(setup: Any) -> None:
    _, cluster, log, settings = setup
    gate = Gate(settings, cluster, log, run_id="r1", mode="interactive")
    plan = gate.plan(ScaleDeployment(deployment="backend", replicas=5))
    evil = plan.model_copy(update={"diff": "<script>alert(1)</script>"})
    panel = gate_panel(gate, ScaleDeployment(deployment="backend", replicas=5), evil)
    assert "<script>" not in panel.plan_view.value
    assert html.escape("<script>alert(1)</script>") in panel.plan_view.value
    bundle = static_block(evil)
    assert "<script>" not in bundle["text/html"]


def test_static_block_for_a_proposal(setup: Any) -> None:
    _, cluster, log, settings = setup
    gate = Gate(settings, cluster, log, run_id="r1", mode="headless")
    plan = gate.plan(ScaleDeployment(deployment="backend", replicas=5))
    bundle = static_block(plan)
    assert set(bundle) == {"text/html", "text/plain", PLAN_MIME}
    assert "not executed" in bundle["text/html"] and "not executed" in bundle["text/plain"]
    assert "kubectl scale deployment/backend --replicas=5 -n festsafe" in bundle["text/plain"]
    data = bundle[PLAN_MIME]
    assert data["decision"] == "not executed" and data["digest"] == plan.digest
    assert data["dry_run_ok"] is True
    json.dumps(data)  # JSON-serialisable as a notebook output must be


def test_static_block_with_the_headless_decision(setup: Any) -> None:
    _, cluster, log, settings = setup
    gate = Gate(settings, cluster, log, run_id="r1", mode="headless", alert="HighLatency")
    action = ScaleDeployment(deployment="backend", replicas=5)
    plan = gate.plan(action)
    result = gate.execute(action, plan, confirmed=False, reason="")
    assert result.decision == "executed"
    bundle = static_block(plan, result)
    assert "executed" in bundle["text/plain"] and "not executed" not in bundle["text/plain"]
    assert bundle[PLAN_MIME]["decision"] == "executed"
    assert bundle[PLAN_MIME]["gate"]["verification"]["ok"] is True
    json.dumps(bundle[PLAN_MIME])


def test_only_widgets_imports_ipywidgets() -> None:
    root = Path(__file__).resolve().parents[1] / "festsafe_nb"
    importers = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "import ipywidgets" in p.read_text() or "from ipywidgets" in p.read_text()
    )
    assert importers == ["widgets.py"]
