"""The demo's Kubernetes: the emulated API server, seeded from a scenario.

The demo environment runs the real ``kubernetes`` client code (the read-side source and the
remediation actions) against an in-process emulator (``festsafe_nb.sim.kube``) holding the
platform of CONTRACT.md: the four deployments with their ReplicaSets and pods, the pods' JSON
access logs, warning events, the ``festsafe-secrets`` secret used by backend and workers, and
the ``model-retrain`` CronJob. Integration tests seed their emulators with the same function.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np

from festsafe_nb.sim.kube import KubeEmulator
from festsafe_nb.sim.platform import IMAGES, REPLICAS, PlatformModel
from festsafe_nb.sim.scenario import Scenario, load_scenario

NAMESPACE = "festsafe"
SECRET_USERS = ("backend", "workers")


def access_log(model: PlatformModel, deployment: str, lines: int = 120) -> list[dict[str, Any]]:
    """The deployment's JSON access-log records over the last 15 minutes of the model."""
    times = model.anchor - np.linspace(900, 0, lines)
    snap = model.at(times)
    routes = [k for k in snap.route_p95_ms if k[0] == deployment]
    errors = snap.error_rate.get(deployment, np.zeros(lines))
    records = []
    for i, ts in enumerate(times):
        record: dict[str, Any] = {
            "ts": datetime.fromtimestamp(float(ts), UTC).isoformat(),
            "level": "info",
            "logger": f"festsafe.{deployment}",
            "msg": "request" if routes else "heartbeat",
        }
        if routes:
            svc_route = routes[i % len(routes)]
            spread = 0.55 + 0.45 * ((i * 7) % 10) / 9
            failed = (i * 37) % 100 < float(errors[i]) * 100
            record.update(
                route=svc_route[1],
                status=503 if failed else 200,
                duration_ms=round(float(snap.route_p95_ms[svc_route][i]) * spread, 1),
                level="error" if failed else "info",
            )
        records.append(record)
    return records


def seed(emulator: KubeEmulator, scenario: Scenario, anchor: datetime) -> None:
    """Put the scenario's cluster into ``emulator`` (empty, controller on)."""
    model = PlatformModel(scenario, anchor.timestamp())
    emulator.add_secret("festsafe-secrets", NAMESPACE, **{"secret-key": "demo-not-a-secret"})
    emulator.add_cronjob("model-retrain", NAMESPACE)
    for name, replicas in REPLICAS.items():
        secret_env = (
            {"SECRET_KEY": ("festsafe-secrets", "secret-key")} if name in SECRET_USERS else None
        )
        emulator.add_deployment(
            name, NAMESPACE, image=IMAGES[name], replicas=replicas, secret_env=secret_env
        )
        sets = [
            rs
            for rs in emulator.list("apps/v1/replicasets", NAMESPACE)
            if rs["metadata"].get("labels", {}).get("app") == name
        ]
        template_hash = sets[0]["metadata"]["labels"].get("pod-template-hash", "0") if sets else "0"
        records = access_log(model, name)
        for i in range(replicas):
            pod = f"{name}-{template_hash}-{i:05d}"[:63]
            lines = "".join(json.dumps(r) + "\n" for r in records[i::replicas])
            emulator.add_pod(
                pod,
                NAMESPACE,
                app=name,
                image=IMAGES[name],
                labels={"pod-template-hash": template_hash},
                started_at=anchor - timedelta(days=1),
                logs=lines,
            )
            if scenario.faults_of("database_slow") and name == "backend":
                emulator.add_event(
                    NAMESPACE,
                    "Pod",
                    pod,
                    "Unhealthy",
                    "Readiness probe failed: context deadline exceeded",
                    type="Warning",
                    count=4,
                    last_seen=anchor - timedelta(minutes=10),
                )


@cache
def demo_cluster(scenario_name: str, anchor_ts: float) -> KubeEmulator:
    """The demo's API server for this scenario and anchor, started once per process."""
    emulator = KubeEmulator().start()
    seed(emulator, load_scenario(scenario_name), datetime.fromtimestamp(anchor_ts, UTC))
    return emulator


def image_reader(emulator: KubeEmulator) -> Any:
    """``image_of(deployment)`` for the platform model: what the demo cluster runs now."""

    def image_of(deployment: str) -> str | None:
        obj = emulator.get("apps/v1/deployments", NAMESPACE, deployment)
        if obj is None:
            return None
        containers = obj["spec"]["template"]["spec"]["containers"]
        return str(containers[0].get("image", "")) if containers else None

    return image_of
