"""Server-side tables (``meta.k8s.io/v1 Table``): what ``kubectl get`` prints as columns.

kubectl asks the server for a Table (``Accept: ...;as=Table``) and prints its cells, so the
columns a person sees in ``kubectl get deployments|replicasets|pods|events`` are computed here,
the way the real server's printers compute them.
"""

from __future__ import annotations

from typing import Any

from festsafe_nb.sim.kube.common import Obj, now_utc, parse_time


def age(ts: str | None) -> str:
    """kubectl's short age (``5m``, ``3h``, ``2d``) as a real server puts in table cells."""
    t = parse_time(ts) if ts else None
    if t is None:
        return "<unknown>"
    s = max(0, int((now_utc() - t).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def _containers(template_spec: Obj) -> tuple[str, str]:
    containers = template_spec.get("containers", [])
    return (
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    )


def _selector(spec: Obj) -> str:
    sel = spec.get("selector", {}).get("matchLabels", {})
    return ",".join(f"{k}={v}" for k, v in sel.items())


def _cells(plural: str, obj: Obj) -> tuple[list[Any], list[Any]]:
    """Table columns for one object: (normal, wide) cells after the name."""
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    created = age(meta.get("creationTimestamp"))
    if plural == "deployments":
        names, images = _containers(spec.get("template", {}).get("spec", {}))
        return (
            [
                f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
                status.get("updatedReplicas", 0),
                status.get("availableReplicas", 0),
                created,
            ],
            [names, images, _selector(spec)],
        )
    if plural == "replicasets":
        names, images = _containers(spec.get("template", {}).get("spec", {}))
        return (
            [
                spec.get("replicas", 0),
                status.get("replicas", 0),
                status.get("readyReplicas", 0),
                created,
            ],
            [names, images, _selector(spec)],
        )
    if plural == "pods":
        cstat = status.get("containerStatuses", [])
        total = len(spec.get("containers", [])) or len(cstat)
        ready = sum(1 for c in cstat if c.get("ready"))
        waiting = [
            c["state"]["waiting"].get("reason", "")
            for c in cstat
            if "waiting" in c.get("state", {})
        ]
        return (
            [
                f"{ready}/{total}",
                waiting[0] if waiting and waiting[0] else status.get("phase", "Unknown"),
                sum(int(c.get("restartCount", 0)) for c in cstat),
                created,
            ],
            [status.get("podIP", "<none>"), spec.get("nodeName", "<none>")],
        )
    if plural == "events":
        inv = obj.get("involvedObject", {})
        return (
            [
                age(obj.get("lastTimestamp") or meta.get("creationTimestamp")),
                obj.get("type", ""),
                obj.get("reason", ""),
                f"{inv.get('kind', '').lower()}/{inv.get('name', '')}",
                obj.get("message", ""),
            ],
            [],
        )
    return [created], []


_COLUMNS: dict[str, tuple[list[str], list[str]]] = {
    "deployments": (
        ["Ready", "Up-to-date", "Available", "Age"],
        ["Containers", "Images", "Selector"],
    ),
    "replicasets": (["Desired", "Current", "Ready", "Age"], ["Containers", "Images", "Selector"]),
    "pods": (["Ready", "Status", "Restarts", "Age"], ["IP", "Node"]),
    "events": (["Last Seen", "Type", "Reason", "Object", "Message"], []),
}


def table(plural: str, items: list[Obj], rv: str) -> Obj:
    """A meta.k8s.io/v1 Table, which is what ``kubectl get`` asks for to print columns."""
    normal, wide = _COLUMNS.get(plural, (["Age"], []))
    columns = [
        {"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0}
    ]
    columns += [
        {"name": c, "type": "string", "format": "", "description": "", "priority": 0}
        for c in normal
    ]
    columns += [
        {"name": c, "type": "string", "format": "", "description": "", "priority": 1} for c in wide
    ]
    rows = []
    for obj in items:
        a, b = _cells(plural, obj)
        rows.append({"cells": [obj["metadata"]["name"], *a, *b], "object": obj})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": columns,
        "rows": rows,
    }
