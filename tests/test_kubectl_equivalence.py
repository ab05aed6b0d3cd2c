"""Each action does what the runbook's kubectl command does.

For every action: two fresh emulators seeded identically; the runbook's exact command (from
RUNBOOK.md, or the issue for ``create job``) runs with the real ``/usr/bin/kubectl`` against
one, the project's action (plan, then execute) against the other; the resulting objects are
compared through the emulator's snapshot (uids, resourceVersions, timestamps, restartedAt
times and pod-template hashes normalised: see ``festsafe_nb.sim.kube.snapshot``).
"""

from __future__ import annotations

import base64
import shlex
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from festsafe_nb.actions import (
    Action,
    Cluster,
    RolloutRestart,
    RolloutUndo,
    RotateSecret,
    ScaleDeployment,
    SetImage,
    StartRetraining,
)
from festsafe_nb.sim.kube import KubeEmulator
from festsafe_nb.sim.kube.server import KUBECTL

Factory = Callable[[], KubeEmulator]
Seed = Callable[[KubeEmulator], None]
KINDS = (
    "apps/v1/deployments",
    "apps/v1/replicasets",
    "v1/secrets",
    "batch/v1/jobs",
    "batch/v1/cronjobs",
)


def run_kubectl(e: KubeEmulator, command: str) -> None:
    """Run a runbook command line as written (pipes included) with the emulator's kubeconfig."""
    assert command.startswith("kubectl ")
    full = command.replace("kubectl ", f"{KUBECTL} --kubeconfig={shlex.quote(str(e.kubeconfig))} ")
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", full],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(e.workdir)},
        check=False,
    )
    assert done.returncode == 0, done.stderr


def snapshot(e: KubeEmulator, *, redact: bool = True) -> dict[str, Any]:
    return e.snapshot(KINDS, redact_secrets=redact)


def compare(
    factory: Factory, seed: Seed, command: str, action: Action, *, redact: bool = True
) -> tuple[KubeEmulator, KubeEmulator]:
    by_kubectl, by_action = factory(), factory()
    seed(by_kubectl)
    seed(by_action)
    assert snapshot(by_kubectl, redact=False) == snapshot(by_action, redact=False)
    run_kubectl(by_kubectl, command)
    cluster = Cluster(server=by_action.url, timeout_s=10)
    action.execute(cluster, action.plan(cluster))
    expected, got = snapshot(by_kubectl, redact=redact), snapshot(by_action, redact=redact)
    assert got == expected
    assert expected != {}
    return by_kubectl, by_action


def seed_platform(e: KubeEmulator) -> None:
    e.add_deployment("backend", image="festsafe/backend:v1.0.0", replicas=3)
    e.add_deployment("workers", image="festsafe/workers:v1.0.0", replicas=2)
    e.add_deployment("ml-service", image="festsafe/ml-service:v2.3.0", replicas=2)
    e.add_deployment("frontend", image="festsafe/frontend:v1.0.0", replicas=2)


def test_scale(kube_emulator_factory: Factory) -> None:
    compare(
        kube_emulator_factory,
        seed_platform,
        "kubectl scale deployment/backend --replicas=5 -n festsafe",
        ScaleDeployment(deployment="backend", replicas=5),
    )


def test_rollout_restart(kube_emulator_factory: Factory) -> None:
    by_kubectl, _ = compare(
        kube_emulator_factory,
        seed_platform,
        "kubectl rollout restart deployment/workers -n festsafe",
        RolloutRestart(deployment="workers"),
    )
    workers = snapshot(by_kubectl)["Deployment/festsafe/workers"]
    assert workers["spec"]["template"]["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/restartedAt": "<time>"
    }


def test_set_image(kube_emulator_factory: Factory) -> None:
    compare(
        kube_emulator_factory,
        seed_platform,
        "kubectl set image deployment/ml-service "
        "ml-service=festsafe/ml-service:previous-version -n festsafe",
        SetImage(
            deployment="ml-service",
            container="ml-service",
            image="festsafe/ml-service:previous-version",
        ),
    )


def test_set_image_rolling_update(kube_emulator_factory: Factory) -> None:
    compare(
        kube_emulator_factory,
        seed_platform,
        "kubectl set image deployment/backend backend=festsafe/backend:v1.1.0 -n festsafe",
        SetImage(deployment="backend", container="backend", image="festsafe/backend:v1.1.0"),
    )


def seed_history(e: KubeEmulator) -> None:
    """backend at revision 3 (v1.0.0 -> v1.1.0 -> v1.2.0), updated with kubectl on both sides."""
    seed_platform(e)
    for tag in ("v1.1.0", "v1.2.0"):
        r = e.kubectl("set", "image", "deployment/backend", f"backend=festsafe/backend:{tag}")
        assert r.returncode == 0, r.stderr


def test_rollout_undo(kube_emulator_factory: Factory) -> None:
    _, by_action = compare(
        kube_emulator_factory,
        seed_history,
        "kubectl rollout undo deployment/backend -n festsafe",
        RolloutUndo(deployment="backend"),
    )
    backend = snapshot(by_action)["Deployment/festsafe/backend"]
    assert backend["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "festsafe/backend:v1.1.0"
    )


def test_rollout_undo_to_revision(kube_emulator_factory: Factory) -> None:
    compare(
        kube_emulator_factory,
        seed_history,
        "kubectl rollout undo deployment/backend --to-revision=1 -n festsafe",
        RolloutUndo(deployment="backend", to_revision=1),
    )


def test_start_retraining(kube_emulator_factory: Factory) -> None:
    def seed(e: KubeEmulator) -> None:
        e.add_cronjob("model-retrain")

    _, by_action = compare(
        kube_emulator_factory,
        seed,
        "kubectl create job model-retrain-manual-1 --from=cronjob/model-retrain -n festsafe",
        StartRetraining(job_name="model-retrain-manual-1"),
    )
    assert "Job/festsafe/model-retrain-manual-1" in snapshot(by_action)


MARKER = "new-key"


def _rotate(restart: list[str]) -> RotateSecret:
    action = RotateSecret(restart=restart)
    action._value_factory = lambda: MARKER  # test-only: the runbook's literal value
    return action


def seed_secret(e: KubeEmulator) -> None:
    e.add_secret("festsafe-secrets", **{"secret-key": "old-key", "database-url": "postgres://db"})
    e.add_deployment(
        "backend", secret_env={"SECRET_KEY": ("festsafe-secrets", "secret-key")}, replicas=2
    )
    e.add_deployment("frontend", image="festsafe/frontend:v1.0.0")


SECRET_PIPELINE = (
    "kubectl create secret generic festsafe-secrets --from-literal=secret-key=new-key "
    "-n festsafe --dry-run=client -o yaml | kubectl apply --validate=false -f -"
)


@pytest.mark.parametrize("present", [True, False], ids=["replace", "create"])
def test_rotate_secret(kube_emulator_factory: Factory, present: bool) -> None:
    def seed(e: KubeEmulator) -> None:
        if present:
            seed_secret(e)
        else:
            e.add_deployment("frontend", image="festsafe/frontend:v1.0.0")

    by_kubectl, _ = compare(
        kube_emulator_factory, seed, SECRET_PIPELINE, _rotate(restart=[]), redact=False
    )
    secret = snapshot(by_kubectl, redact=False)["Secret/festsafe/festsafe-secrets"]
    assert secret["data"]["secret-key"] == base64.b64encode(MARKER.encode()).decode()
    # and the annotation kubectl apply keeps is the one the action writes
    raw_k = by_kubectl.get("v1/secrets", "festsafe", "festsafe-secrets")
    assert raw_k is not None
    annotation = "kubectl.kubernetes.io/last-applied-configuration"
    wanted = raw_k["metadata"]["annotations"][annotation]
    assert _rotate([])._last_applied(MARKER) == wanted


def test_rotate_secret_then_restart_its_readers(kube_emulator_factory: Factory) -> None:
    """The runbook's pipeline followed by restarting the deployments that read the secret."""
    compare(
        kube_emulator_factory,
        seed_secret,
        SECRET_PIPELINE + " && kubectl rollout restart deployment/backend -n festsafe",
        _rotate(restart=["backend", "workers"]),
        redact=False,
    )
