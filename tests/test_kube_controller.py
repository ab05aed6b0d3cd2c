"""The emulator's deployment controller and the runbook's kubectl flows, with the real kubectl.

Pins what the remediation actions and the Deployment runbook rely on: one ReplicaSet per
template with revisions (``rollout history`` / ``undo``), status that ``rollout status`` reads,
pods following the current ReplicaSet, stuck rollouts, ``create job --from=cronjob``, the
secret rotation pipe, several emulators at once and normalised snapshots.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from festsafe_nb.sim.kube import KubeEmulator

NS = "festsafe"
DEPLOYMENTS, REPLICASETS, PODS = "apps/v1/deployments", "apps/v1/replicasets", "v1/pods"
Factory = Callable[[], KubeEmulator]


def ok(out: Any) -> str:
    assert out.returncode == 0, out.stderr
    return str(out.stdout)


def deployment(name: str, image: str, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


@pytest.fixture
def apps(kube_emulator: KubeEmulator) -> Iterator[client.AppsV1Api]:
    cfg = client.Configuration()
    cfg.host = kube_emulator.url
    cfg.retries = False
    with client.ApiClient(cfg) as api:
        yield client.AppsV1Api(api)


def replica_sets(emu: KubeEmulator, app: str) -> dict[str, dict[str, Any]]:
    return {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs
        for rs in emu.list(REPLICASETS, NS)
        if rs["metadata"]["labels"].get("app") == app
    }


def pod_names(emu: KubeEmulator, app: str) -> list[str]:
    return [
        p["metadata"]["name"] for p in emu.list(PODS, NS) if p["metadata"]["labels"]["app"] == app
    ]


# ---- life cycle ----


def test_starts_on_loopback_and_stops_cleanly() -> None:
    t0 = time.perf_counter()
    emu = KubeEmulator().start()
    started = time.perf_counter() - t0
    try:
        assert emu.url.startswith("http://127.0.0.1:")
        assert json.loads(emu.kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == emu.url
        ok(emu.kubectl("version", "-o", "json"))
    finally:
        emu.stop()
    assert not emu._thread.is_alive()
    assert emu._loop.is_closed()
    assert not emu.workdir.exists()  # its own temporary directory is removed
    emu.stop()  # idempotent
    print(f"emulator start: {started * 1000:.0f} ms")


def test_factory_gives_independent_emulators(kube_emulator_factory: Factory) -> None:
    a, b = kube_emulator_factory(), kube_emulator_factory()
    assert a.url != b.url
    a.add_deployment("backend")
    assert b.get(DEPLOYMENTS, NS, "backend") is None


# ---- the controller ----


def test_create_makes_a_replicaset_pods_and_status(
    kube_emulator: KubeEmulator, apps: client.AppsV1Api
) -> None:
    made = apps.create_namespaced_deployment(NS, deployment("backend", "festsafe/backend:v1", 3))
    assert made.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert (made.status.replicas, made.status.ready_replicas) == (3, 3)
    (rs,) = kube_emulator.list(REPLICASETS, NS)
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"backend-{pod_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {
        "app": "backend",
        "pod-template-hash": pod_hash,
    }
    (owner,) = rs["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Deployment",
        "backend",
        made.metadata.uid,
        True,
    )
    pods = kube_emulator.list(PODS, NS)
    assert len(pods) == 3
    for pod in pods:
        assert pod["metadata"]["name"].startswith(f"backend-{pod_hash}-")
        assert len(pod["metadata"]["name"]) == len(f"backend-{pod_hash}-") + 5
        assert pod["metadata"]["labels"] == {"app": "backend", "pod-template-hash": pod_hash}
    dep = apps.read_namespaced_deployment("backend", NS)
    assert dep.status.observed_generation == dep.metadata.generation
    assert {c.type: c.reason for c in dep.status.conditions} == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }
    assert "successfully rolled out" in ok(
        kube_emulator.kubectl("rollout", "status", "deployment/backend", "--timeout=10s")
    )
    rows = ok(kube_emulator.kubectl("get", "rs")).splitlines()
    assert rows[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert rows[1].split()[:4] == [f"backend-{pod_hash}", "3", "3", "3"]


def test_set_image_history_undo_and_to_revision(kube_emulator: KubeEmulator) -> None:
    emu = kube_emulator
    emu.add_deployment("ml-service", NS, "festsafe/ml-service:v1", 2)
    assert list(replica_sets(emu, "ml-service")) == ["1"]  # the seeded template's ReplicaSet
    ok(emu.kubectl("set", "image", "deployment/ml-service", "ml-service=festsafe/ml-service:v2"))
    ok(emu.kubectl("rollout", "status", "deployment/ml-service", "--timeout=10s"))
    rs = replica_sets(emu, "ml-service")
    assert (rs["1"]["spec"]["replicas"], rs["2"]["spec"]["replicas"]) == (0, 2)
    assert all(n.startswith(rs["2"]["metadata"]["name"]) for n in pod_names(emu, "ml-service"))
    history = ok(emu.kubectl("rollout", "history", "deployment/ml-service"))
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]

    ok(emu.kubectl("rollout", "undo", "deployment/ml-service"))
    dep = emu.get(DEPLOYMENTS, NS, "ml-service")
    assert dep is not None
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "festsafe/ml-service:v1"
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    rs = replica_sets(emu, "ml-service")
    assert sorted(rs) == ["2", "3"]  # the old ReplicaSet is re-used with the next revision
    assert rs["3"]["spec"]["template"]["spec"]["containers"][0]["image"] == "festsafe/ml-service:v1"
    assert len(emu.list(REPLICASETS, NS)) == 2
    ok(emu.kubectl("rollout", "status", "deployment/ml-service", "--timeout=10s"))

    ok(emu.kubectl("rollout", "undo", "deployment/ml-service", "--to-revision=2"))
    dep = emu.get(DEPLOYMENTS, NS, "ml-service")
    assert dep is not None
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "festsafe/ml-service:v2"
    assert sorted(replica_sets(emu, "ml-service")) == ["3", "4"]


def test_rollout_restart_creates_a_revision(kube_emulator: KubeEmulator) -> None:
    kube_emulator.add_deployment("workers", NS, "festsafe/workers:v1", 2)
    ok(kube_emulator.kubectl("rollout", "restart", "deployment/workers"))
    rs = replica_sets(kube_emulator, "workers")
    assert sorted(rs) == ["1", "2"]
    template = rs["2"]["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    pods = [p for p in kube_emulator.list(PODS, NS)]
    assert len(pods) == 2
    assert all("kubectl.kubernetes.io/restartedAt" in p["metadata"]["annotations"] for p in pods)
    ok(kube_emulator.kubectl("rollout", "status", "deployment/workers", "--timeout=10s"))


def test_scale_keeps_seeded_pods_and_updates_status(kube_emulator: KubeEmulator) -> None:
    emu = kube_emulator
    emu.add_deployment("backend", NS, "festsafe/backend:v1", 3)
    for name in ("backend-a", "backend-b", "backend-c"):
        emu.add_pod(name, NS, "backend")
    ok(emu.kubectl("scale", "deployment/backend", "--replicas=5"))
    names = pod_names(emu, "backend")
    assert len(names) == 5
    assert {"backend-a", "backend-b", "backend-c"} <= set(names)  # scaling keeps pods
    dep = emu.get(DEPLOYMENTS, NS, "backend")
    assert dep is not None
    assert dep["status"]["replicas"] == dep["status"]["availableReplicas"] == 5
    assert dep["status"]["observedGeneration"] == dep["metadata"]["generation"] == 2
    ok(emu.kubectl("rollout", "status", "deployment/backend", "--timeout=10s"))
    rows = ok(emu.kubectl("get", "deploy", "backend")).splitlines()
    assert rows[1].split()[:4] == ["backend", "5/5", "5", "5"]
    ok(emu.kubectl("scale", "deployment/backend", "--replicas=2"))
    assert len(pod_names(emu, "backend")) == 2
    # a new template replaces the seeded pods too
    ok(emu.kubectl("set", "image", "deployment/backend", "backend=festsafe/backend:v2"))
    assert not {"backend-a", "backend-b", "backend-c"} & set(pod_names(emu, "backend"))


def test_an_unavailable_image_never_finishes_rolling_out(kube_emulator: KubeEmulator) -> None:
    emu = kube_emulator
    emu.unavailable_images = {"festsafe/backend:broken"}
    emu.add_deployment("backend", NS, "festsafe/backend:v1", 3)
    ok(emu.kubectl("set", "image", "deployment/backend", "backend=festsafe/backend:broken"))
    out = emu.kubectl("rollout", "status", "deployment/backend", "--timeout=2s")
    assert out.returncode != 0
    assert "0 of 3 updated replicas are available" in out.stdout
    dep = emu.get(DEPLOYMENTS, NS, "backend")
    assert dep is not None
    status = dep["status"]
    assert (status["updatedReplicas"], status["availableReplicas"]) == (3, 0)
    assert {c["type"]: c["status"] for c in status["conditions"]}["Available"] == "False"
    pods = ok(emu.kubectl("get", "pods", "-l", "app=backend")).splitlines()[1:]
    assert all(line.split()[1:3] == ["0/1", "ImagePullBackOff"] for line in pods)
    # the rollback restores the previous image, and that one becomes available
    ok(emu.kubectl("rollout", "undo", "deployment/backend"))
    ok(emu.kubectl("rollout", "status", "deployment/backend", "--timeout=10s"))


def test_status_and_metadata_writes_do_not_roll_out(
    kube_emulator: KubeEmulator, apps: client.AppsV1Api
) -> None:
    kube_emulator.add_deployment("backend", NS, "festsafe/backend:v1", 3, ready_replicas=2)
    apps.patch_namespaced_deployment("backend", NS, {"metadata": {"labels": {"x": "1"}}})
    dep = kube_emulator.get(DEPLOYMENTS, NS, "backend")
    assert dep is not None
    assert dep["status"]["readyReplicas"] == 2  # the seeded status stands
    assert kube_emulator.list(PODS, NS) == []


def test_controller_can_be_switched_off(
    kube_emulator: KubeEmulator, apps: client.AppsV1Api
) -> None:
    kube_emulator.controller = False
    apps.create_namespaced_deployment(NS, deployment("backend", "festsafe/backend:v1"))
    assert kube_emulator.list(REPLICASETS, NS) == []
    assert kube_emulator.list(PODS, NS) == []
    kube_emulator.reset()
    assert kube_emulator.controller  # back to the default


def test_deleting_a_deployment_deletes_its_replicasets_and_pods(
    kube_emulator: KubeEmulator,
) -> None:
    kube_emulator.add_deployment("backend", NS, "festsafe/backend:v1", 2)
    ok(kube_emulator.kubectl("rollout", "restart", "deployment/backend"))
    ok(kube_emulator.kubectl("delete", "deployment", "backend"))
    assert kube_emulator.list(REPLICASETS, NS) == []
    assert kube_emulator.list(PODS, NS) == []


def test_dry_run_does_not_roll_out(kube_emulator: KubeEmulator) -> None:
    kube_emulator.add_deployment("backend", NS, "festsafe/backend:v1", 2)
    before = kube_emulator.snapshot()
    ok(
        kube_emulator.kubectl(
            "set", "image", "deployment/backend", "backend=festsafe/backend:v2", "--dry-run=server"
        )
    )
    assert kube_emulator.snapshot() == before


# ---- other runbook flows ----


def test_create_job_from_cronjob(kube_emulator: KubeEmulator) -> None:
    cron = kube_emulator.add_cronjob("model-retrain", NS, "festsafe/ml-service:v2.3.0")
    out = kube_emulator.kubectl(
        "create", "job", "--from=cronjob/model-retrain", "-n", NS, "model-retrain-manual-1"
    )
    assert "job.batch/model-retrain-manual-1 created" in ok(out)
    job = kube_emulator.get("batch/v1/jobs", NS, "model-retrain-manual-1")
    assert job is not None
    assert job["spec"] == cron["spec"]["jobTemplate"]["spec"]
    assert job["metadata"]["annotations"] == {"cronjob.kubernetes.io/instantiate": "manual"}
    assert job["metadata"]["labels"] == {"app": "model-retrain"}
    (owner,) = job["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "CronJob",
        "model-retrain",
        cron["metadata"]["uid"],
        True,
    )
    listed = ok(kube_emulator.kubectl("get", "jobs"))
    assert "model-retrain-manual-1" in listed


def test_create_job_from_a_missing_cronjob_fails(kube_emulator: KubeEmulator) -> None:
    out = kube_emulator.kubectl("create", "job", "--from=cronjob/nope", "-n", NS, "x")
    assert out.returncode != 0
    assert "not found" in out.stderr


@pytest.mark.parametrize("exists", [False, True], ids=["create", "update"])
def test_secret_rotation_pipe(kube_emulator: KubeEmulator, exists: bool) -> None:
    if exists:
        kube_emulator.add_secret("festsafe-secrets", NS, **{"secret-key": "old", "other": "keep"})
    manifest = ok(
        kube_emulator.kubectl(
            "create", "secret", "generic", "festsafe-secrets", "--from-literal=secret-key=n3w",
            "-n", NS, "--dry-run=client", "-o", "yaml",
        )
    )  # fmt: skip
    out = ok(kube_emulator.kubectl("apply", "--validate=false", "-f", "-", input=manifest))
    assert ("configured" if exists else "created") in out
    secret = kube_emulator.get("v1/secrets", NS, "festsafe-secrets")
    assert secret is not None
    assert base64.b64decode(secret["data"]["secret-key"]) == b"n3w"
    assert secret["type"] == "Opaque"
    annotations = secret["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in annotations
    if exists:  # client-side apply merges: keys it never managed stay
        assert base64.b64decode(secret["data"]["other"]) == b"keep"
    patches = [r for r in kube_emulator.requests if r.method.value.upper() == "PATCH"]
    assert bool(patches) == exists


# ---- several emulators and snapshots ----


def test_kubectl_and_client_reach_equal_snapshots(kube_emulator_factory: Factory) -> None:
    by_kubectl, by_client = kube_emulator_factory(), kube_emulator_factory()
    for emu in (by_kubectl, by_client):
        emu.add_deployment("backend", NS, "festsafe/backend:v1", 3)
        emu.add_deployment("workers", NS, "festsafe/workers:v1", 2)
        emu.add_secret("festsafe-secrets", NS, **{"secret-key": "s3cr3t"})
    ok(by_kubectl.kubectl("scale", "deployment/backend", "--replicas=5"))
    ok(by_kubectl.kubectl("set", "image", "deployment/backend", "backend=festsafe/backend:v2"))
    ok(by_kubectl.kubectl("rollout", "restart", "deployment/workers"))

    cfg = client.Configuration()
    cfg.host = by_client.url
    with client.ApiClient(cfg) as api:
        apps = client.AppsV1Api(api)
        apps.patch_namespaced_deployment_scale("backend", NS, {"spec": {"replicas": 5}})
        dep = apps.read_namespaced_deployment("backend", NS)
        dep.spec.template.spec.containers[0].image = "festsafe/backend:v2"
        apps.replace_namespaced_deployment("backend", NS, dep)
        stamp = "2030-01-01T00:00:00Z"
        apps.patch_namespaced_deployment(
            "workers",
            NS,
            {
                "spec": {
                    "template": {
                        "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}
                    }
                }
            },
        )
    kinds = ("apps/v1/deployments", "apps/v1/replicasets", "v1/pods", "v1/secrets")
    left, right = by_kubectl.snapshot(kinds), by_client.snapshot(kinds)
    assert left == right
    assert set(left) >= {
        "Deployment/festsafe/backend",
        "ReplicaSet/festsafe/backend-<rev 2>",
        "Pod/festsafe/backend-<rev 2>-4",
        "ReplicaSet/festsafe/workers-<rev 2>",
        "Secret/festsafe/festsafe-secrets",
    }
    assert left["Secret/festsafe/festsafe-secrets"]["data"] == {"secret-key": "<redacted>"}
    assert "s3cr3t" not in json.dumps(by_kubectl.snapshot(kinds))
    # ... and a real difference shows
    ok(by_kubectl.kubectl("scale", "deployment/backend", "--replicas=4"))
    assert by_kubectl.snapshot() != by_client.snapshot()
