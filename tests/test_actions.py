"""The typed remediation actions against the Kubernetes API emulator: plan (a real server-side
dry run that changes nothing), execute (exactly the planned change, refused when the target
moved), verify (kubectl's rollout rules; a rollout to an image that never becomes ready
fails), API refusals as ActionError, and a rotated secret's value appearing nowhere."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

from festsafe_nb.actions import (
    ACTIONS,
    REDACTED,
    ActionError,
    Cluster,
    RolloutRestart,
    RolloutStatus,
    RolloutUndo,
    RotateSecret,
    ScaleDeployment,
    SetImage,
    StartRetraining,
    from_proposal,
    rollout_status,
)
from festsafe_nb.actions.status import deployment_status
from festsafe_nb.config import Environment, Remediation
from festsafe_nb.findings import ProposedAction
from festsafe_nb.sim.kube import KubeEmulator
from tests.fixtures.proc import free_port

DEPLOYMENTS = "apps/v1/deployments"
NS = "festsafe"


def dep(e: KubeEmulator, name: str) -> dict[str, Any]:
    found = e.get(DEPLOYMENTS, NS, name)
    assert found is not None
    return found


def image(e: KubeEmulator, name: str) -> str:
    return str(dep(e, name)["spec"]["template"]["spec"]["containers"][0]["image"])


@pytest.fixture
def cluster(kube_emulator: KubeEmulator) -> Cluster:
    return Cluster(server=kube_emulator.url, timeout_s=5)


# ---- registry and proposals ----


def test_registry_keys_are_the_settings_roles() -> None:
    assert set(ACTIONS) == set(Remediation().required_role)


def test_from_proposal_turns_the_high_latency_scale_into_the_typed_action() -> None:
    p = ProposedAction(
        action="scale",
        target="deployment/backend",
        namespace="festsafe",
        parameters={"replicas": 6, "current": 3},
        kubectl="kubectl scale deployment/backend --replicas=6 -n festsafe",
        reason="short of capacity",
    )
    action = from_proposal(p)
    assert action == ScaleDeployment(deployment="backend", replicas=6, namespace="festsafe")
    assert action.kubectl() == p.kubectl


@pytest.mark.parametrize(
    ("action", "target", "params", "message"),
    [
        ("reboot_cluster", "deployment/backend", {}, "unknown action 'reboot_cluster'"),
        ("scale", "secret/backend", {"replicas": 2}, "acts on a deployment"),
        ("scale", "deployment/backend", {"replicas": -1}, "replicas"),
        ("scale", "deployment/backend", {"replicas": 2, "force": True}, "force"),
    ],
)
def test_from_proposal_refuses_clearly(
    action: str, target: str, params: dict[str, Any], message: str
) -> None:
    p = ProposedAction(
        action=action, target=target, namespace="festsafe", parameters=params, kubectl="", reason=""
    )
    with pytest.raises(ActionError, match=message):
        from_proposal(p)


def test_cluster_from_environment() -> None:
    c = Cluster.from_environment(Environment(kube_server="http://127.0.0.1:1", timeout_s=2))
    assert c.server == "http://127.0.0.1:1" and c.timeout_s == 2
    with pytest.raises(ActionError, match="demo"):
        Cluster.from_environment(Environment(kind="demo"))


# ---- scale ----


def test_scale_plan_is_a_dry_run_then_execute_and_verify(
    kube_emulator: KubeEmulator, cluster: Cluster
) -> None:
    kube_emulator.add_deployment("backend", replicas=3)
    before = dep(kube_emulator, "backend")
    action = ScaleDeployment(deployment="backend", replicas=5)

    plan = action.plan(cluster)
    assert plan.dry_run_ok, plan.dry_run
    assert plan.kubectl == "kubectl scale deployment/backend --replicas=5 -n festsafe"
    assert "-  replicas: 3" in plan.diff and "+  replicas: 5" in plan.diff
    assert plan.resource_version == before["metadata"]["resourceVersion"]
    assert dep(kube_emulator, "backend") == before  # the dry run changed nothing
    assert any(r.params.get("dryRun") == "All" for r in kube_emulator.requests)

    outcome = action.execute(cluster, plan)
    assert outcome.ok and dep(kube_emulator, "backend")["spec"]["replicas"] == 5
    verification = action.verify(cluster, outcome, timeout_s=10)
    assert verification.ok, verification.detail


def test_scale_verify_fails_when_replicas_never_become_available(
    kube_emulator: KubeEmulator, cluster: Cluster
) -> None:
    kube_emulator.unavailable_images = {"festsafe/backend:v1"}
    kube_emulator.add_deployment("backend", replicas=1)
    action = ScaleDeployment(deployment="backend", replicas=2)
    outcome = action.execute(cluster, action.plan(cluster))
    verification = action.verify(cluster, outcome, timeout_s=0.5)
    assert not verification.ok
    assert "not within" in verification.detail


def test_execute_refuses_when_the_target_moved_since_the_plan(
    kube_emulator: KubeEmulator, cluster: Cluster
) -> None:
    kube_emulator.add_deployment("backend", replicas=3)
    action = ScaleDeployment(deployment="backend", replicas=5)
    plan = action.plan(cluster)
    assert kube_emulator.kubectl("scale", "deployment/backend", "--replicas=4").returncode == 0
    with pytest.raises(ActionError, match="changed since it was planned"):
        action.execute(cluster, plan)
    assert dep(kube_emulator, "backend")["spec"]["replicas"] == 4


def test_execute_refuses_another_actions_plan(
    kube_emulator: KubeEmulator, cluster: Cluster
) -> None:
    kube_emulator.add_deployment("backend", replicas=3)
    plan = ScaleDeployment(deployment="backend", replicas=5).plan(cluster)
    with pytest.raises(ActionError, match="plan this action again"):
        ScaleDeployment(deployment="backend", replicas=50).execute(cluster, plan)
    assert dep(kube_emulator, "backend")["spec"]["replicas"] == 3


# ---- API refusals and unreachable clusters ----


def test_missing_target_and_dead_server_become_action_errors(cluster: Cluster) -> None:
    with pytest.raises(ActionError, match='deployment "nope" not found'):
        ScaleDeployment(deployment="nope", replicas=1).plan(cluster)
    dead = Cluster(server=f"http://127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(ActionError, match="connection refused"):
        RolloutRestart(deployment="backend").plan(dead)


def test_a_server_refusal_is_an_action_error_with_the_servers_reason(
    kube_emulator: KubeEmulator, cluster: Cluster
) -> None:
    kube_emulator.add_cronjob("model-retrain")
    action = StartRetraining(job_name="retrain-once")
    action.execute(cluster, action.plan(cluster))
    again = action.plan(cluster)  # the job exists now: the dry run is refused, and says so
    assert not again.dry_run_ok
    assert "already exists" in again.dry_run
    with pytest.raises(ActionError, match="dry run failed"):
        action.execute(cluster, again)


# ---- restart, set image, status ----


def test_rollout_restart(kube_emulator: KubeEmulator, cluster: Cluster) -> None:
    kube_emulator.add_deployment("workers", image="festsafe/workers:v1", replicas=2)
    action = RolloutRestart(deployment="workers")
    plan = action.plan(cluster)
    assert plan.dry_run_ok and "kubectl.kubernetes.io/restartedAt" in plan.diff
    assert "restartedAt" not in str(dep(kube_emulator, "workers")["spec"]["template"])
    outcome = action.execute(cluster, plan)
    annotations = dep(kube_emulator, "workers")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["kubectl.kubernetes.io/restartedAt"] == outcome.expected["restartedAt"]
    assert plan.planned_at.strftime("%Y-%m-%dT%H:%M:%SZ") == outcome.expected["restartedAt"]
    verification = action.verify(cluster, outcome, timeout_s=10)
    assert verification.ok and "successfully rolled out" in verification.detail


def test_set_image_rolls_out_the_new_image(kube_emulator: KubeEmulator, cluster: Cluster) -> None:
    kube_emulator.add_deployment("ml-service", image="festsafe/ml-service:v2", replicas=2)
    action = SetImage(
        deployment="ml-service", container="ml-service", image="festsafe/ml-service:v3"
    )
    plan = action.plan(cluster)
    assert "-      - image: festsafe/ml-service:v2" in plan.diff
    assert "+      - image: festsafe/ml-service:v3" in plan.diff
    assert image(kube_emulator, "ml-service") == "festsafe/ml-service:v2"
    outcome = action.execute(cluster, plan)
    assert image(kube_emulator, "ml-service") == "festsafe/ml-service:v3"
    assert action.verify(cluster, outcome, timeout_s=10).ok


def test_set_image_verify_detects_a_rollout_that_never_becomes_available(
    kube_emulator: KubeEmulator, cluster: Cluster
) -> None:
    kube_emulator.unavailable_images = {"festsafe/backend:broken"}
    kube_emulator.add_deployment("backend", replicas=2)
    action = SetImage(deployment="backend", container="backend", image="festsafe/backend:broken")
    outcome = action.execute(cluster, action.plan(cluster))
    verification = action.verify(cluster, outcome, timeout_s=0.5)
    assert not verification.ok
    assert 'Waiting for deployment "backend" rollout to finish' in verification.detail
    assert "timed out" in verification.detail


def test_set_image_unknown_container(kube_emulator: KubeEmulator, cluster: Cluster) -> None:
    kube_emulator.add_deployment("backend")
    with pytest.raises(ActionError, match='unable to find container named "api"'):
        SetImage(deployment="backend", container="api", image="x:1").plan(cluster)


@pytest.mark.parametrize(
    ("meta", "spec", "status", "done", "message"),
    [
        (
            {"generation": 2},
            {"replicas": 3},
            {"observedGeneration": 1},
            False,
            "Waiting for deployment spec update to be observed...",
        ),
        (
            {"generation": 2},
            {"replicas": 3},
            {"observedGeneration": 2, "updatedReplicas": 1, "replicas": 3},
            False,
            "rollout to finish: 1 out of 3 new replicas have been updated...",
        ),
        (
            {"generation": 2},
            {"replicas": 3},
            {"observedGeneration": 2, "updatedReplicas": 3, "replicas": 4},
            False,
            "rollout to finish: 1 old replicas are pending termination...",
        ),
        (
            {"generation": 2},
            {"replicas": 3},
            {"observedGeneration": 2, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 2},
            False,
            "rollout to finish: 2 of 3 updated replicas are available...",
        ),
        (
            {"generation": 2},
            {"replicas": 3},
            {"observedGeneration": 2, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 3},
            True,
            'deployment "backend" successfully rolled out',
        ),
    ],
)
def test_rollout_status_rules_and_messages_are_kubectls(
    meta: dict[str, Any], spec: dict[str, Any], status: dict[str, Any], done: bool, message: str
) -> None:
    obj = {"metadata": {"name": "backend", **meta}, "spec": spec, "status": status}
    got_done, failed, got = deployment_status(obj)
    assert (got_done, failed) == (done, False)
    assert got.endswith(message)


def test_rollout_status_progress_deadline_is_a_failure() -> None:
    obj = {
        "metadata": {"name": "backend", "generation": 1},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 1,
            "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}],
        },
    }
    assert deployment_status(obj) == (
        False,
        True,
        'deployment "backend" exceeded its progress deadline',
    )


def test_rollout_status_wait_matches_kubectl(kube_emulator: KubeEmulator, cluster: Cluster) -> None:
    kube_emulator.add_deployment("backend", replicas=2)
    report = rollout_status(cluster, "backend", "festsafe", timeout_s=5)
    kubectl = kube_emulator.kubectl("rollout", "status", "deployment/backend", "-n", NS)
    assert report.ok and report.message in kubectl.stdout
    waiting = RolloutStatus(deployment="backend", timeout_s=0.3)
    kube_emulator.unavailable_images = {"festsafe/backend:v9"}
    kube_emulator.kubectl("set", "image", "deployment/backend", "backend=festsafe/backend:v9")
    report = waiting.wait(cluster)
    assert not report.ok and report.messages[-1].startswith("error: timed out")


# ---- undo ----


def test_rollout_undo_to_previous_and_given_revision(
    kube_emulator: KubeEmulator, cluster: Cluster
) -> None:
    kube_emulator.add_deployment("backend", image="festsafe/backend:v1", replicas=2)
    for tag in ("v2", "v3"):
        action = SetImage(
            deployment="backend", container="backend", image=f"festsafe/backend:{tag}"
        )
        action.execute(cluster, action.plan(cluster))
    undo = RolloutUndo(deployment="backend")
    plan = undo.plan(cluster)
    assert plan.dry_run_ok and "accepted: roll back to revision 2" in plan.dry_run
    assert "+      - image: festsafe/backend:v2" in plan.diff
    assert image(kube_emulator, "backend") == "festsafe/backend:v3"
    outcome = undo.execute(cluster, plan)
    assert image(kube_emulator, "backend") == "festsafe/backend:v2"
    assert undo.verify(cluster, outcome, timeout_s=10).ok

    to_one = RolloutUndo(deployment="backend", to_revision=1)
    to_one.execute(cluster, to_one.plan(cluster))
    assert image(kube_emulator, "backend") == "festsafe/backend:v1"
    assert "pod-template-hash" not in str(dep(kube_emulator, "backend")["spec"]["template"])

    with pytest.raises(ActionError, match="unable to find specified revision 42 in history"):
        RolloutUndo(deployment="backend", to_revision=42).plan(cluster)


def test_rollout_undo_without_history(kube_emulator: KubeEmulator, cluster: Cluster) -> None:
    kube_emulator.add_deployment("frontend", image="festsafe/frontend:v1")
    with pytest.raises(ActionError, match='no rollout history found for deployment "frontend"'):
        RolloutUndo(deployment="frontend").plan(cluster)


def test_rollout_undo_is_refused_when_the_deployment_moved(
    kube_emulator: KubeEmulator, cluster: Cluster
) -> None:
    kube_emulator.add_deployment("backend", image="festsafe/backend:v1")
    kube_emulator.kubectl("set", "image", "deployment/backend", "backend=festsafe/backend:v2")
    undo = RolloutUndo(deployment="backend")
    plan = undo.plan(cluster)
    kube_emulator.kubectl("scale", "deployment/backend", "--replicas=3")
    with pytest.raises(ActionError, match="changed since it was planned"):
        undo.execute(cluster, plan)
    assert image(kube_emulator, "backend") == "festsafe/backend:v2"


# ---- retraining ----


def test_start_retraining_creates_a_job_owned_by_the_cronjob(
    kube_emulator: KubeEmulator, cluster: Cluster
) -> None:
    cron = kube_emulator.add_cronjob("model-retrain")
    action = StartRetraining()
    plan = action.plan(cluster)
    assert plan.dry_run_ok, plan.dry_run
    name = plan.kubectl.split()[3]
    assert name.startswith("model-retrain-manual-") and len(name) <= 63
    assert plan.kubectl == f"kubectl create job {name} --from=cronjob/model-retrain -n festsafe"
    assert kube_emulator.list("batch/v1/jobs", NS) == []
    outcome = action.execute(cluster, plan)
    job = kube_emulator.get("batch/v1/jobs", NS, name)
    assert job is not None
    assert job["metadata"]["ownerReferences"][0]["uid"] == cron["metadata"]["uid"]
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert action.verify(cluster, outcome, timeout_s=5).ok


def test_start_retraining_without_the_cronjob(cluster: Cluster) -> None:
    with pytest.raises(ActionError, match='"model-retrain" not found'):
        StartRetraining().plan(cluster)


# ---- secret rotation: the value appears nowhere ----


def _seed_secret_scene(e: KubeEmulator) -> None:
    e.add_secret("festsafe-secrets", **{"secret-key": "old-key", "database-url": "postgres://db"})
    e.add_deployment(
        "backend", secret_env={"SECRET_KEY": ("festsafe-secrets", "secret-key")}, replicas=2
    )
    e.add_deployment(
        "workers", image="festsafe/workers:v1", secret_env={"K": ("festsafe-secrets", "secret-key")}
    )
    e.add_deployment(
        "ml-service", image="festsafe/ml:v1", secret_env={"K": ("festsafe-secrets", "secret-key")}
    )
    e.add_deployment("frontend", image="festsafe/frontend:v1")


def _forms(value: str) -> list[str]:
    return [value, base64.b64encode(value.encode()).decode()]


def test_rotate_secret_value_never_appears_in_any_output(
    kube_emulator: KubeEmulator,
    cluster: Cluster,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    _seed_secret_scene(kube_emulator)
    action = RotateSecret()
    plan = action.plan(cluster)
    assert plan.dry_run_ok, plan.dry_run
    assert "value: generated at execution" in plan.dry_run
    assert f"+  secret-key: '{REDACTED} (changed)'" in plan.diff
    assert f"   database-url: '{REDACTED}'" in plan.diff
    assert "deployment/ml-service" not in plan.kubectl  # not in restart=[backend, workers]
    assert "not restarted (not in restart): ml-service" in plan.dry_run

    outcome = action.execute(cluster, plan)
    verification = action.verify(cluster, outcome, timeout_s=10)
    assert verification.ok, verification.detail

    secret = kube_emulator.get("v1/secrets", NS, "festsafe-secrets")
    assert secret is not None
    value = base64.b64decode(secret["data"]["secret-key"]).decode()
    assert len(value) >= 64 and value != "old-key"
    assert secret["data"]["database-url"] == base64.b64encode(b"postgres://db").decode()
    restarted = {
        d["metadata"]["name"]
        for d in kube_emulator.list(DEPLOYMENTS, NS)
        if "restartedAt" in str(d["spec"]["template"])
    }
    assert restarted == {"backend", "workers"}

    outputs = [
        plan.model_dump_json(),
        plan.diff,
        plan.kubectl,
        outcome.model_dump_json(),
        verification.model_dump_json(),
        action.kubectl(),
        repr(action),
        str(action),
        action.model_dump_json(),
        str(action.redacted_parameters()),
        caplog.text,
        *capsys.readouterr(),
    ]
    for text in outputs:
        for form in _forms(value):
            assert form not in text


def test_rotate_secret_failure_messages_never_carry_the_value(
    kube_emulator: KubeEmulator, cluster: Cluster
) -> None:
    _seed_secret_scene(kube_emulator)
    action = RotateSecret(restart=[])
    plan = action.plan(cluster)
    value = "fixed-test-value-" + "x" * 40
    action._value_factory = lambda: value

    class Echoing(Cluster):
        def patch(self, path: str, body: Any, patch_type: str, *, dry_run: bool = False) -> Any:
            raise ActionError(f"PATCH {path}: HTTP 422: invalid body {body}")

    with pytest.raises(ActionError) as info:
        action.execute(Echoing(server=kube_emulator.url), plan)
    for form in _forms(value):
        assert form not in str(info.value)
    assert REDACTED in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_rotate_secret_value_factory_cannot_be_set_from_parameters() -> None:
    with pytest.raises(ValueError):
        RotateSecret.model_validate({"_value_factory": "x"})
    with pytest.raises(ValueError):
        RotateSecret(value="chosen")  # type: ignore[call-arg]
    assert "_value_factory" not in RotateSecret().model_dump()


def test_rotate_secret_creates_an_absent_secret(
    kube_emulator: KubeEmulator, cluster: Cluster
) -> None:
    kube_emulator.add_deployment("backend")
    action = RotateSecret(restart=["backend", "workers"])
    plan = action.plan(cluster)
    assert plan.resource_version is None and plan.dry_run_ok
    assert "restart deployment/backend" in plan.dry_run  # no reader found: defaults to restart
    outcome = action.execute(cluster, plan)
    assert kube_emulator.get("v1/secrets", NS, "festsafe-secrets") is not None
    assert outcome.expected["deployments"] == ["backend"]
