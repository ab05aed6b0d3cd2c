"""Objects normalised for comparison: the "kubectl equivalence" tests compare these.

Two emulators that went through the same change (one by the runbook's kubectl command, one by
the project's action) hold the same objects up to what the server, the clock or randomness
decide. Dropped or replaced, and why:

- ``metadata.uid``, ``resourceVersion``, ``creationTimestamp``, ``managedFields``,
  ``selfLink`` and ownerReferences' ``uid``: assigned by the server, differ between emulators.
- ``metadata.generation``: counts writes, and an action may reach the same object with a
  different (equally valid) number of writes than kubectl, e.g. read-modify-replace vs patch.
- ``kubectl.kubernetes.io/last-applied-configuration``: kubectl apply's client-side
  bookkeeping, not cluster state an action must reproduce (it also embeds secret values).
- ``kubectl.kubernetes.io/restartedAt`` values become ``<time>``: each client's own clock.
- pod-template hashes become ``<rev N>`` (N: the ReplicaSet's revision) in every name, label,
  selector and message: the hash covers the template, which differs by the restartedAt time.
- controller-made pods are renamed ``<replicaset>-<i>``: their suffix is random.
- status times (``lastUpdateTime``, ``lastTransitionTime``, ``lastProbeTime``, ``startTime``,
  ``startedAt``) and ``containerID``: when / which container, not what.
- Secret ``data`` / ``stringData`` values become ``<redacted>`` (keys kept) unless asked not
  to: a rotated secret's value is random by design and must not land in test output.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from festsafe_nb.sim.kube.common import Obj
from festsafe_nb.sim.kube.controller import HASH_LABEL, revision

DROP_META = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink")
DROP_ANYWHERE = frozenset(
    {
        "lastUpdateTime",
        "lastTransitionTime",
        "lastProbeTime",
        "startTime",
        "startedAt",
        "containerID",
    }
)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in DROP_ANYWHERE:
                continue
            if k == RESTARTED_AT:
                out[k] = "<time>"
            elif k != LAST_APPLIED:
                out[k] = _scrub(v)
        return out
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _normalise(obj: Obj, redact_secrets: bool) -> Obj:
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    for key in (*DROP_META, "generation"):
        meta.pop(key, None)
    for ref in meta.get("ownerReferences", []):
        ref.pop("uid", None)
    if redact_secrets and obj.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(obj.get(key), dict):
                obj[key] = {k: "<redacted>" for k in obj[key]}
    out: Obj = _scrub(obj)
    if not out["metadata"].get("annotations", True):
        out["metadata"].pop("annotations")
    return out


def _key(obj: Obj) -> str:
    meta = obj["metadata"]
    ns = meta.get("namespace") or ""
    return f"{obj.get('kind')}/{ns}/{meta['name']}" if ns else f"{obj.get('kind')}/{meta['name']}"


def normalise(objects: Iterable[Obj], replica_sets: Iterable[Obj], redact_secrets: bool) -> Obj:
    """``{"Kind/namespace/name": object}`` with server-, clock- and chance-made parts removed.

    ``replica_sets`` (all of them, whether or not they are in ``objects``) give each
    pod-template hash its revision.
    """
    hashes = {
        rs["metadata"].get("labels", {}).get(HASH_LABEL, ""): f"<rev {revision(rs)}>"
        for rs in replica_sets
    }
    hashes.pop("", None)
    items = [_normalise(o, redact_secrets) for o in objects]
    # controller-made pods: <rs>-<random> -> <rs>-<i>, in name order within their ReplicaSet
    renames: dict[str, str] = {}
    by_rs: dict[str, list[str]] = {}
    for obj in items:
        owners = obj["metadata"].get("ownerReferences", [])
        if obj.get("kind") == "Pod" and owners and owners[0].get("kind") == "ReplicaSet":
            by_rs.setdefault(owners[0]["name"], []).append(obj["metadata"]["name"])
    for rs_name, pods in by_rs.items():
        for i, name in enumerate(sorted(pods)):
            renames[name] = f"{rs_name}-{i}"
    text = json.dumps(items, sort_keys=True)
    for old, new in sorted(renames.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(json.dumps(old), json.dumps(new))
    for h, placeholder in hashes.items():
        text = text.replace(h, placeholder)
    result: list[Obj] = json.loads(text)
    return {_key(o): o for o in sorted(result, key=_key)}
