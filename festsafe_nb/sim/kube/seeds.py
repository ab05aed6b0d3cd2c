"""Objects as a cluster would hold them (status included), for seeding the emulator.

Tests and the demo describe the FestSafe namespace with these builders rather than raw dicts,
so that every seeded Deployment, Pod, Event and CronJob has the fields clients and kubectl read.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from festsafe_nb.sim.kube.common import Obj, now_utc, parse_time, rfc3339


def deployment(
    name: str,
    namespace: str = "festsafe",
    image: str = "festsafe/backend:v1",
    replicas: int = 1,
    ready_replicas: int | None = None,
    labels: Mapping[str, str] | None = None,
    *,
    generation: int = 1,
    observed_generation: int | None = None,
    updated_replicas: int | None = None,
    available_replicas: int | None = None,
    env: Mapping[str, str] | None = None,
    secret_env: Mapping[str, tuple[str, str]] | None = None,
) -> Obj:
    """``secret_env`` maps an env var to ``(secret name, key)`` (``secretKeyRef``)."""
    ready = replicas if ready_replicas is None else ready_replicas
    match = {"app": name}
    container: Obj = {"name": name, "image": image}
    variables: list[Obj] = [{"name": k, "value": v} for k, v in (env or {}).items()]
    variables += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": s, "key": key}}}
        for k, (s, key) in (secret_env or {}).items()
    ]
    if variables:
        container["env"] = variables
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels) if labels is not None else dict(match),
            "generation": generation,
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": match},
            "template": {
                "metadata": {"labels": dict(match)},
                "spec": {"containers": [container]},
            },
        },
        "status": {
            "observedGeneration": (
                generation if observed_generation is None else observed_generation
            ),
            "replicas": replicas,
            "updatedReplicas": replicas if updated_replicas is None else updated_replicas,
            "readyReplicas": ready,
            "availableReplicas": ready if available_replicas is None else available_replicas,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True" if ready >= replicas else "False",
                    "reason": "MinimumReplicasAvailable",
                },
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        },
    }


def pod(
    name: str,
    namespace: str = "festsafe",
    app: str = "backend",
    ready: bool = True,
    restarts: int = 0,
    phase: str = "Running",
    *,
    node: str = "festsafe-node-1",
    image: str | None = None,
    started_at: datetime | None = None,
    labels: Mapping[str, str] | None = None,
) -> Obj:
    started = rfc3339(started_at or now_utc() - timedelta(hours=1))
    image = image or f"festsafe/{app}:v1"
    running = phase == "Running"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": app, **(labels or {})},
            "creationTimestamp": started,
        },
        "spec": {"nodeName": node, "containers": [{"name": app, "image": image}]},
        "status": {
            "phase": phase,
            "startTime": started,
            "podIP": "10.42.0.10",
            "hostIP": "10.0.0.1",
            "conditions": [{"type": "Ready", "status": "True" if ready and running else "False"}],
            "containerStatuses": [
                {
                    "name": app,
                    "image": image,
                    "imageID": f"docker.io/{image}@sha256:{'0' * 64}",
                    "containerID": f"containerd://{uuid.uuid4().hex}",
                    "ready": ready and running,
                    "restartCount": restarts,
                    "started": running,
                    "state": {"running": {"startedAt": started}}
                    if running
                    else {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
        },
    }


def event(
    namespace: str,
    involved_kind: str,
    involved_name: str,
    reason: str,
    message: str,
    type: str = "Normal",
    count: int = 1,
    *,
    last_seen: datetime | None = None,
) -> Obj:
    seen = rfc3339(last_seen or now_utc())
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{involved_name}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
        "involvedObject": {
            "kind": involved_kind,
            "name": involved_name,
            "namespace": namespace,
            "apiVersion": "apps/v1" if involved_kind == "Deployment" else "v1",
        },
        "reason": reason,
        "message": message,
        "type": type,
        "count": count,
        "firstTimestamp": seen,
        "lastTimestamp": seen,
        "source": {"component": "emulator"},
    }


def cronjob(
    name: str = "model-retrain",
    namespace: str = "festsafe",
    image: str = "festsafe/ml-service:v2.3.0",
    schedule: str = "0 3 * * *",
    command: list[str] | None = None,
) -> Obj:
    """A CronJob with a full jobTemplate, as ``kubectl create job --from=cronjob/x`` needs."""
    labels = {"app": name}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "suspend": False,
            "jobTemplate": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "backoffLimit": 2,
                    "template": {
                        "metadata": {"labels": dict(labels)},
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": name,
                                    "image": image,
                                    "command": command or ["python", "-m", "festsafe.retrain"],
                                }
                            ],
                        },
                    },
                },
            },
        },
    }


def log_entries(text: str, stamp: datetime) -> list[tuple[datetime, str]]:
    """Log lines with their times: a JSON line's ``ts`` is its time, others are ``stamp``."""
    entries: list[tuple[datetime, str]] = []
    for line in text.splitlines():
        t = stamp
        if line.startswith("{"):
            try:
                ts: Any = json.loads(line).get("ts")
            except (ValueError, AttributeError):
                ts = None
            t = (parse_time(ts) if isinstance(ts, str) else None) or stamp
        entries.append((t, line))
    return entries
