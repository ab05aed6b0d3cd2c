"""The Kubernetes API emulator behaves like a server for both the python client and kubectl.

Everything the project's tests later rely on is pinned here against the real ``kubectl``
binary and the official client: lists with selectors, pod logs, discovery, resourceVersion
and generation bookkeeping, dry runs, PUT with optimistic concurrency, patches and scale.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from kubernetes import client

from festsafe_nb.sim.kube import KubeEmulator, now_utc, rfc3339

NS = "festsafe"


@pytest.fixture
def api(kube_emulator: KubeEmulator) -> Iterator[client.ApiClient]:
    cfg = client.Configuration()
    cfg.host = kube_emulator.url
    cfg.retries = False
    with client.ApiClient(cfg) as api_client:
        yield api_client


@pytest.fixture
def platform(kube_emulator: KubeEmulator) -> KubeEmulator:
    """Two deployments with pods, as the FestSafe namespace looks."""
    kube_emulator.add_deployment("backend", NS, "festsafe/backend:v1.4.2", 3, ready_replicas=2)
    kube_emulator.add_deployment("frontend", NS, "festsafe/frontend:v1.4.2", 1)
    kube_emulator.add_pod("backend-a", NS, "backend", logs="line 1\nline 2\nline 3")
    kube_emulator.add_pod("backend-b", NS, "backend", ready=False, restarts=4)
    kube_emulator.add_pod("frontend-a", NS, "frontend", logs="frontend up")
    kube_emulator.add_pod("workers-a", NS, "workers")
    return kube_emulator


def names(listing: dict[str, Any]) -> list[str]:
    return [i["metadata"]["name"] for i in listing["items"]]


def kubectl_json(emu: KubeEmulator, *args: str) -> dict[str, Any]:
    out = emu.kubectl(*args, "-o", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


# ---- kubectl ----


def test_kubectl_get_pods_by_label_as_json(platform: KubeEmulator) -> None:
    listing = kubectl_json(platform, "get", "pods", "-l", "app=backend")
    assert names(listing) == ["backend-a", "backend-b"]
    assert all(i["kind"] == "Pod" for i in listing["items"])


def test_kubectl_set_based_selectors(platform: KubeEmulator) -> None:
    assert names(kubectl_json(platform, "get", "pods", "-l", "app in (frontend, workers)")) == [
        "frontend-a",
        "workers-a",
    ]
    assert names(kubectl_json(platform, "get", "pods", "-l", "app notin (backend)")) == [
        "frontend-a",
        "workers-a",
    ]
    assert names(kubectl_json(platform, "get", "pods", "-l", "app!=backend,app")) == [
        "frontend-a",
        "workers-a",
    ]
    assert names(kubectl_json(platform, "get", "pods", "-l", "!app")) == []


def test_kubectl_get_deployments_prints_columns(platform: KubeEmulator) -> None:
    out = platform.kubectl("get", "deployments")
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows[0].split()[:4] == ["backend", "2/3", "3", "2"]
    assert rows[1].split()[:4] == ["frontend", "1/1", "1", "1"]
    wide = platform.kubectl("get", "deploy", "backend", "-o", "wide")
    assert "festsafe/backend:v1.4.2" in wide.stdout


def test_kubectl_get_pods_prints_readiness_and_restarts(platform: KubeEmulator) -> None:
    out = platform.kubectl("get", "pods", "-l", "app=backend")
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()[1:]]
    assert [r[:4] for r in rows] == [
        ["backend-a", "1/1", "Running", "0"],
        ["backend-b", "0/1", "Running", "4"],
    ]


def test_kubectl_logs(platform: KubeEmulator) -> None:
    out = platform.kubectl("logs", "pod/backend-a")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "line 1\nline 2\nline 3\n"
    assert platform.kubectl("logs", "backend-a", "--tail=1").stdout == "line 3\n"
    # resolves the deployment's selector to one of its pods
    assert platform.kubectl("logs", "deployment/frontend").stdout == "frontend up\n"
    missing = platform.kubectl("logs", "pod/nope")
    assert missing.returncode != 0
    assert 'pods "nope" not found' in missing.stderr


@pytest.mark.parametrize(
    ("kind_path", "obj", "resource"),
    [
        (
            "v1/secrets",
            {"apiVersion": "v1", "kind": "Secret", "data": {"secret-key": "czNjcjN0"}},
            "secrets",
        ),
        ("v1/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}, "cm"),
        (
            "apps/v1/replicasets",
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": {"replicas": 1}},
            "rs",
        ),
        ("batch/v1/jobs", {"apiVersion": "batch/v1", "kind": "Job", "spec": {}}, "jobs"),
        (
            "batch/v1/cronjobs",
            {"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"schedule": "0 3 * * *"}},
            "cronjobs",
        ),
    ],
)
def test_kubectl_lists_other_kinds(
    kube_emulator: KubeEmulator, kind_path: str, obj: dict[str, Any], resource: str
) -> None:
    kube_emulator.add({**obj, "metadata": {"name": "x1", "namespace": NS}})
    assert names(kubectl_json(kube_emulator, "get", resource)) == ["x1"]
    stored = kube_emulator.get(kind_path, NS, "x1")
    assert stored is not None
    assert stored["metadata"]["uid"]


def test_kubectl_get_events(kube_emulator: KubeEmulator) -> None:
    kube_emulator.add_event(NS, "Pod", "backend-a", "BackOff", "Back-off restarting", "Warning")
    out = kube_emulator.kubectl("get", "events")
    assert out.returncode == 0, out.stderr
    assert "BackOff" in out.stdout
    assert "pod/backend-a" in out.stdout


def test_kubectl_scale_goes_through_the_scale_subresource(platform: KubeEmulator) -> None:
    out = platform.kubectl("scale", "deployment/backend", "--replicas=5")
    assert out.returncode == 0, out.stderr
    dep = platform.get("apps/v1/deployments", NS, "backend")
    assert dep is not None
    assert dep["spec"]["replicas"] == 5
    assert dep["metadata"]["generation"] == 2


def test_kubectl_set_image_and_rollout_restart_patch(platform: KubeEmulator) -> None:
    out = platform.kubectl("set", "image", "deployment/backend", "backend=festsafe/backend:v1.4.3")
    assert out.returncode == 0, out.stderr
    out = platform.kubectl("rollout", "restart", "deployment/backend")
    assert out.returncode == 0, out.stderr
    dep = platform.get("apps/v1/deployments", NS, "backend")
    assert dep is not None
    template = dep["spec"]["template"]
    assert template["spec"]["containers"] == [
        {"name": "backend", "image": "festsafe/backend:v1.4.3"}
    ]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    assert dep["metadata"]["generation"] == 3


def test_kubectl_server_dry_run_saves_nothing(platform: KubeEmulator) -> None:
    before = platform.get("apps/v1/deployments", NS, "backend")
    out = platform.kubectl("scale", "deployment/backend", "--replicas=9", "--dry-run=server")
    assert out.returncode == 0, out.stderr
    assert platform.get("apps/v1/deployments", NS, "backend") == before


# ---- HTTP / python client ----


def test_core_discovery_reports_v1(kube_emulator: KubeEmulator) -> None:
    body = requests.get(f"{kube_emulator.url}/api/v1", timeout=5).json()
    assert body["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in body["resources"]}
    assert by_name["pods"]["kind"] == "Pod"
    assert by_name["pods"]["namespaced"] is True
    assert by_name["pods/log"]["verbs"] == ["get"]
    apps = requests.get(f"{kube_emulator.url}/apis/apps/v1", timeout=5).json()
    assert apps["groupVersion"] == "apps/v1"
    assert {r["name"]: r["kind"] for r in apps["resources"]}["deployments/scale"] == "Scale"


def test_label_selector_on_the_client(platform: KubeEmulator, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    pods = core.list_namespaced_pod(NS, label_selector="app in (backend,frontend),app!=frontend")
    assert [p.metadata.name for p in pods.items] == ["backend-a", "backend-b"]
    assert [p.metadata.name for p in core.list_namespaced_pod("elsewhere").items] == []
    bad = requests.get(
        f"{platform.url}/api/v1/namespaces/{NS}/pods", params={"labelSelector": "a in"}, timeout=5
    )
    assert bad.status_code == 400


def test_field_selector(platform: KubeEmulator, api: client.ApiClient) -> None:
    pods = client.CoreV1Api(api).list_namespaced_pod(NS, field_selector="metadata.name=workers-a")
    assert [p.metadata.name for p in pods.items] == ["workers-a"]


def test_typed_reads_of_every_kind(kube_emulator: KubeEmulator, api: client.ApiClient) -> None:
    kube_emulator.add_deployment("backend", NS, "festsafe/backend:v1", 2)
    kube_emulator.add(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "festsafe-secrets", "namespace": NS},
            "data": {"secret-key": "czNjcjN0"},
        }
    )
    kube_emulator.add(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "model-retrain", "namespace": NS},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}},
            },
        }
    )
    dep = client.AppsV1Api(api).read_namespaced_deployment("backend", NS)
    assert dep.spec.replicas == 2
    assert dep.spec.template.spec.containers[0].image == "festsafe/backend:v1"
    secret = client.CoreV1Api(api).read_namespaced_secret("festsafe-secrets", NS)
    assert secret.data == {"secret-key": "czNjcjN0"}
    cron = client.BatchV1Api(api).read_namespaced_cron_job("model-retrain", NS)
    assert cron.spec.schedule == "0 3 * * *"
    with pytest.raises(client.ApiException) as err:
        client.CoreV1Api(api).read_namespaced_config_map("nope", NS)
    assert err.value.status == 404


def test_resource_version_and_generation(
    kube_emulator: KubeEmulator, api: client.ApiClient
) -> None:
    apps = client.AppsV1Api(api)
    created = kube_emulator.add_deployment("backend", NS, "festsafe/backend:v1", 2)
    rv0 = created["metadata"]["resourceVersion"]

    labelled = apps.patch_namespaced_deployment("backend", NS, {"metadata": {"labels": {"x": "1"}}})
    assert labelled.metadata.resource_version != rv0
    assert labelled.metadata.generation == 1  # metadata only: no new generation

    scaled = apps.patch_namespaced_deployment("backend", NS, {"spec": {"replicas": 4}})
    assert int(scaled.metadata.resource_version) > int(labelled.metadata.resource_version)
    assert scaled.metadata.generation == 2
    assert scaled.metadata.labels["x"] == "1"
    # the list's resourceVersion moves with the writes
    listing = requests.get(f"{kube_emulator.url}/apis/apps/v1/deployments", timeout=5).json()
    assert listing["metadata"]["resourceVersion"] == scaled.metadata.resource_version
    history = kube_emulator.history("apps/v1/deployments", NS, "backend")
    assert [v["spec"]["replicas"] for v in history if v] == [2, 2, 4]


def test_put_replaces_and_refuses_stale_versions(
    kube_emulator: KubeEmulator, api: client.ApiClient
) -> None:
    core = client.CoreV1Api(api)
    kube_emulator.add(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": NS},
            "data": {"a": "1", "b": "2"},
        }
    )
    cm = core.read_namespaced_config_map("cfg", NS)
    cm.data = {"a": "3"}
    replaced = core.replace_namespaced_config_map("cfg", NS, cm)
    assert replaced.data == {"a": "3"}  # replaced, not merged
    assert replaced.metadata.resource_version != cm.metadata.resource_version
    cm.data = {"a": "stale"}  # still carries the old resourceVersion
    with pytest.raises(client.ApiException) as err:
        core.replace_namespaced_config_map("cfg", NS, cm)
    assert err.value.status == 409
    stored = kube_emulator.get("v1/configmaps", NS, "cfg")
    assert stored is not None
    assert stored["data"] == {"a": "3"}


def test_dry_run_all_saves_nothing(kube_emulator: KubeEmulator, api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    kube_emulator.add_deployment("backend", NS, "festsafe/backend:v1", 2)
    before = kube_emulator.history("apps/v1/deployments", NS, "backend")

    preview = apps.patch_namespaced_deployment(
        "backend", NS, {"spec": {"replicas": 7}}, dry_run="All"
    )
    assert preview.spec.replicas == 7  # the answer shows the result ...
    dep = apps.read_namespaced_deployment("backend", NS)
    dep.spec.replicas = 8
    apps.replace_namespaced_deployment("backend", NS, dep, dry_run="All")
    apps.delete_namespaced_deployment("backend", NS, dry_run="All")
    body = {"metadata": {"name": "cfg"}, "data": {"a": "1"}}
    assert core.create_namespaced_config_map(NS, body, dry_run="All").metadata.name == "cfg"

    assert kube_emulator.history("apps/v1/deployments", NS, "backend") == before  # ... not saved
    assert kube_emulator.get("v1/configmaps", NS, "cfg") is None


def test_create_and_delete(kube_emulator: KubeEmulator, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    made = core.create_namespaced_config_map(NS, {"metadata": {"name": "cfg"}, "data": {}})
    assert made.metadata.generation == 1
    assert made.metadata.uid
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map(NS, {"metadata": {"name": "cfg"}, "data": {}})
    assert err.value.status == 409
    core.delete_namespaced_config_map("cfg", NS)
    assert kube_emulator.get("v1/configmaps", NS, "cfg") is None


def test_json_patch(kube_emulator: KubeEmulator) -> None:
    kube_emulator.add_deployment("backend", NS, "festsafe/backend:v1", 2)
    out = requests.patch(
        f"{kube_emulator.url}/apis/apps/v1/namespaces/{NS}/deployments/backend",
        data=json.dumps([{"op": "replace", "path": "/spec/replicas", "value": 6}]),
        headers={"Content-Type": "application/json-patch+json"},
        timeout=5,
    )
    assert out.status_code == 200, out.text
    assert out.json()["spec"]["replicas"] == 6


def test_pod_log_parameters(kube_emulator: KubeEmulator, api: client.ApiClient) -> None:
    kube_emulator.add_pod("backend-a", NS, "backend")
    old = now_utc() - timedelta(hours=2)
    kube_emulator.append_logs(NS, "backend-a", "old 1\nold 2", at=old)
    fresh = json.dumps({"ts": rfc3339(now_utc()), "level": "info", "msg": "fresh"})
    kube_emulator.append_logs(NS, "backend-a", f"new 1\n{fresh}")
    core = client.CoreV1Api(api)

    def log(**kw: Any) -> str:
        resp = core.read_namespaced_pod_log("backend-a", NS, _preload_content=False, **kw)
        assert resp.headers["Content-Type"].startswith("text/plain")
        return resp.data.decode()  # type: ignore[no-any-return]

    assert log() == f"old 1\nold 2\nnew 1\n{fresh}\n"
    assert log(tail_lines=2) == f"new 1\n{fresh}\n"
    assert log(since_seconds=600) == f"new 1\n{fresh}\n"
    assert log(container="backend", tail_lines=1) == f"{fresh}\n"
    stamped = log(timestamps=True, tail_lines=1)
    assert stamped.endswith(f"Z {fresh}\n")
    with pytest.raises(client.ApiException) as err:
        log(container="sidecar")
    assert err.value.status == 400


def test_watch_honours_the_label_selector(platform: KubeEmulator) -> None:
    with requests.get(
        f"{platform.url}/api/v1/namespaces/{NS}/pods",
        params={"watch": "true", "labelSelector": "app=frontend"},
        stream=True,
        timeout=5,
    ) as resp:
        first = json.loads(next(line for line in resp.iter_lines() if line))
    assert first["type"] == "ADDED"
    assert first["object"]["metadata"]["name"] == "frontend-a"


def test_reset_between_tests_leaves_nothing(kube_emulator: KubeEmulator) -> None:
    assert kube_emulator.list("v1/pods") == []
    assert kube_emulator.list("apps/v1/deployments") == []


def test_namespaces_exist_with_their_objects(platform: KubeEmulator) -> None:
    listed = names(kubectl_json(platform, "get", "namespaces"))
    assert listed == ["default", "festsafe", "kube-system"]
    assert platform.kubectl("get", "namespace", "festsafe").returncode == 0
