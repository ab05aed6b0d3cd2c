"""The deployment controller: what kube-controller-manager does after a Deployment is written.

Without it ``kubectl rollout status`` never finishes and ``kubectl rollout undo`` finds no
history, so the remediation actions could not be tested or demonstrated. This module is pure:
given a deployment (already carrying its new generation), the ReplicaSets it owns and the pods
matching its selector, :func:`reconcile` says what the cluster looks like once the rollout is
done. The server applies the result in one go, so a rollout is instantaneous.

Kubernetes' rules that are kept: one ReplicaSet per distinct pod template, named
``<deployment>-<pod-template-hash>`` with that hash in its labels and selector and a controller
ownerReference; revisions in ``deployment.kubernetes.io/revision`` (a template equal to an old
ReplicaSet's re-uses it with the next revision: what ``rollout undo`` relies on); old
ReplicaSets scaled to 0, the new one to ``spec.replicas``; status fields and conditions that
``kubectl rollout status`` reads.

Simplifications: no surge / unavailability budget (old pods go at once, even when the new
ones never become ready); pods whose image is in ``unavailable_images`` stay not ready (an
image that cannot be pulled), so such a rollout never completes. Pods that were seeded
directly (selector labels but no ``pod-template-hash``) count as pods of the ReplicaSet that was
current before the write: scaling keeps them, a new template replaces them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from festsafe_nb.sim.kube.common import Obj, now_utc, prune, rfc3339

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"
# Kubernetes' SafeEncodeString alphabet: no vowels, no look-alike characters
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
NODE = "festsafe-node-1"


def _encode(digest: bytes, n: int) -> str:
    return "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:n])


def template_hash(template: Obj) -> str:
    """A stable hash of a pod template (ignoring its own hash label), 10 characters."""
    clean = prune(copy.deepcopy(template))
    labels = clean.get("metadata", {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    raw = json.dumps(clean, sort_keys=True, separators=(",", ":")).encode()
    return _encode(hashlib.sha256(raw).digest(), 10)


def revision(obj: Obj) -> int:
    try:
        return int(obj.get("metadata", {}).get("annotations", {}).get(REVISION, 0))
    except (TypeError, ValueError):
        return 0


def owned_by(obj: Obj, owner: Obj) -> bool:
    uid = owner["metadata"].get("uid")
    return any(
        ref.get("controller") and ref.get("uid") == uid
        for ref in obj.get("metadata", {}).get("ownerReferences", [])
    )


def _controller_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _pod_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def new_replica_set(dep: Obj, pod_hash: str, rev: int) -> Obj:
    template = copy.deepcopy(dep["spec"].get("template", {}))
    tmeta = template.setdefault("metadata", {})
    tmeta["labels"] = {**tmeta.get("labels", {}), HASH_LABEL: pod_hash}
    match = dict(dep["spec"].get("selector", {}).get("matchLabels", {}))
    name = f"{dep['metadata']['name']}-{pod_hash}"
    replicas = int(dep["spec"].get("replicas", 1))
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": dep["metadata"].get("namespace"),
            "uid": str(uuid.uuid4()),  # its pods' ownerReferences need it before it is stored
            "labels": dict(tmeta["labels"]),
            "annotations": {REVISION: str(rev), DESIRED: str(replicas), MAX: str(replicas + 1)},
            "ownerReferences": [_controller_ref(dep)],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {**match, HASH_LABEL: pod_hash}},
            "template": template,
        },
        "status": {"replicas": 0},
    }


def new_pod(rs: Obj, ready: bool) -> Obj:
    """A pod of ``rs`` as the kubelet would report it: running and ready, or stuck pulling."""
    template = rs["spec"]["template"]
    tmeta = template.get("metadata", {})
    now = rfc3339(now_utc())
    containers = template.get("spec", {}).get("containers", [])
    suffix = "".join(secrets.choice(ALPHABET) for _ in range(5))
    statuses = []
    for c in containers:
        image = c.get("image", "")
        statuses.append(
            {
                "name": c.get("name", ""),
                "image": image,
                "imageID": f"docker.io/{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"
                if ready
                else "",
                "containerID": f"containerd://{secrets.token_hex(32)}" if ready else "",
                "ready": ready,
                "restartCount": 0,
                "started": ready,
                "state": {"running": {"startedAt": now}}
                if ready
                else {
                    "waiting": {
                        "reason": "ImagePullBackOff",
                        "message": f'Back-off pulling image "{image}"',
                    }
                },
            }
        )
    meta: Obj = {
        "name": f"{rs['metadata']['name']}-{suffix}",
        "namespace": rs["metadata"].get("namespace"),
        "labels": dict(tmeta.get("labels", {})),
        "ownerReferences": [_controller_ref(rs)],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {**copy.deepcopy(template.get("spec", {})), "nodeName": NODE},
        "status": {
            "phase": "Running" if ready else "Pending",
            "startTime": now,
            "podIP": "10.42.0.10",
            "hostIP": "10.0.0.1",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": statuses,
        },
    }


@dataclass
class Rollout:
    """What the controller writes: ReplicaSets (full objects), pods to create and to delete."""

    replica_sets: list[Obj] = field(default_factory=list)
    create_pods: list[Obj] = field(default_factory=list)
    delete_pods: list[str] = field(default_factory=list)


def _images(template: Obj) -> set[str]:
    return {c.get("image", "") for c in template.get("spec", {}).get("containers", [])}


def _rs_status(rs: Obj, pods: list[Obj]) -> None:
    ready = sum(1 for p in pods if _pod_ready(p))
    rs["status"] = {
        "replicas": len(pods),
        "fullyLabeledReplicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
    }


def _conditions(dep: Obj, current: Obj, available: int, updated_ready: bool) -> list[Obj]:
    now = rfc3339(now_utc())
    want = int(dep["spec"].get("replicas", 1))
    rs_name = current["metadata"]["name"]
    ok = available >= want
    return [
        {
            "type": "Available",
            "status": "True" if ok else "False",
            "reason": "MinimumReplicasAvailable" if ok else "MinimumReplicasUnavailable",
            "message": "Deployment has minimum availability."
            if ok
            else "Deployment does not have minimum availability.",
            "lastUpdateTime": now,
            "lastTransitionTime": now,
        },
        {
            "type": "Progressing",
            "status": "True",
            "reason": "NewReplicaSetAvailable" if updated_ready else "ReplicaSetUpdated",
            "message": f'ReplicaSet "{rs_name}" has successfully progressed.'
            if updated_ready
            else f'ReplicaSet "{rs_name}" is progressing.',
            "lastUpdateTime": now,
            "lastTransitionTime": now,
        },
    ]


def adopt(dep: Obj, owned: list[Obj]) -> list[Obj]:
    """For a seeded deployment: its current ReplicaSet, mirroring the seeded status.

    Seeding stores a deployment as a cluster would hold it, so it needs the ReplicaSet of its
    current template (``rollout history`` and ``undo`` start from it) but no new pods and no
    new status: those are the test's or the demo's to seed.
    """
    pod_hash = template_hash(dep["spec"].get("template", {}))
    if any(rs["metadata"].get("labels", {}).get(HASH_LABEL) == pod_hash for rs in owned):
        return []
    rev = revision(dep) or max((revision(rs) for rs in owned), default=0) + 1
    dep.setdefault("metadata", {}).setdefault("annotations", {})[REVISION] = str(rev)
    rs = new_replica_set(dep, pod_hash, rev)
    status = dep.get("status", {})
    rs["status"] = {
        "replicas": status.get("replicas", 0),
        "fullyLabeledReplicas": status.get("replicas", 0),
        "readyReplicas": status.get("readyReplicas", 0),
        "availableReplicas": status.get("availableReplicas", 0),
    }
    return [rs]


def reconcile(
    dep: Obj,
    owned: list[Obj],
    pods: list[Obj],
    unavailable_images: Collection[str] = (),
    previous_revision: int | None = None,
) -> Rollout:
    """Roll ``dep`` out at once; sets its status and revision annotation in place.

    ``owned`` are the ReplicaSets it controls, ``pods`` the pods matching its selector.
    """
    out = Rollout()
    spec = dep["spec"]
    want = int(spec.get("replicas", 1))
    template = spec.get("template", {})
    pod_hash = template_hash(template)
    by_hash = {rs["metadata"].get("labels", {}).get(HASH_LABEL): rs for rs in owned}
    before = max(owned, key=revision, default=None)
    top = max((revision(rs) for rs in owned), default=previous_revision or 0)

    current = copy.deepcopy(by_hash[pod_hash]) if pod_hash in by_hash else None
    if current is None:
        current = new_replica_set(dep, pod_hash, top + 1)
    elif before is not None and current["metadata"]["name"] != before["metadata"]["name"]:
        current["metadata"].setdefault("annotations", {})[REVISION] = str(top + 1)
    cur_name = current["metadata"]["name"]
    rev = revision(current)

    # pods of each ReplicaSet; seeded orphans belong to the one current before this write
    pods_of: dict[str, list[Obj]] = {rs["metadata"]["name"]: [] for rs in owned}
    pods_of.setdefault(cur_name, [])
    hash_to_name = {h: rs["metadata"]["name"] for h, rs in by_hash.items()}
    for pod in pods:
        labels = pod.get("metadata", {}).get("labels", {})
        if HASH_LABEL in labels:
            if labels[HASH_LABEL] in hash_to_name:
                pods_of[hash_to_name[labels[HASH_LABEL]]].append(pod)
        elif not pod["metadata"].get("ownerReferences") and before is not None:
            pods_of[before["metadata"]["name"]].append(pod)

    ready_ok = not (_images(template) & set(unavailable_images))
    mine = sorted(pods_of[cur_name], key=lambda p: (_pod_ready(p), p["metadata"]["name"]))
    while len(mine) > want:  # scale down: not-ready pods go first
        out.delete_pods.append(mine.pop(0)["metadata"]["name"])
    current["spec"]["replicas"] = want
    current["metadata"].setdefault("annotations", {}).update(
        {DESIRED: str(want), MAX: str(want + 1)}
    )
    while len(mine) < want:
        pod = new_pod(current, ready_ok)
        out.create_pods.append(pod)
        mine.append(pod)
    _rs_status(current, mine)
    out.replica_sets.append(current)

    for rs in owned:
        if rs["metadata"]["name"] == cur_name:
            continue
        old = copy.deepcopy(rs)
        out.delete_pods += [p["metadata"]["name"] for p in pods_of[rs["metadata"]["name"]]]
        if old["spec"].get("replicas") != 0 or old.get("status", {}).get("replicas"):
            old["spec"]["replicas"] = 0
            _rs_status(old, [])
            out.replica_sets.append(old)

    ready = sum(1 for p in mine if _pod_ready(p))
    meta = dep["metadata"]
    meta.setdefault("annotations", {})[REVISION] = str(rev)
    status: dict[str, Any] = {
        "observedGeneration": meta.get("generation", 1),
        "replicas": len(mine),
        "updatedReplicas": len(mine),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": _conditions(dep, current, ready, ready >= want),
    }
    if len(mine) - ready > 0:
        status["unavailableReplicas"] = len(mine) - ready
    dep["status"] = status
    return out
