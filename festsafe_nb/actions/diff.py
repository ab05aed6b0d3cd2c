"""Readable diffs for plans: the object now vs what the server's dry run says it would be.

Sits under every action's ``plan()``. Server-side noise (managedFields, resourceVersion,
generation, uid, timestamps, status, which a dry run cannot predict anyway) is dropped so
that the diff shows only the change a reviewer must judge. Secret values never reach a
diff: every ``data``/``stringData`` value of a Secret, and kubectl's last-applied
annotation (which holds a copy of them), become ``[REDACTED]``; a changed value is marked
``[REDACTED] (changed)`` so the reviewer still sees *that* it changes.
"""

from __future__ import annotations

import copy
import difflib
from typing import Any

import yaml

from festsafe_nb.actions.base import REDACTED

__all__ = ["LAST_APPLIED", "clean", "redact_secret", "unified_diff"]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_META_NOISE = (
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "selfLink",
)
Obj = dict[str, Any]


def clean(obj: Obj | None) -> Obj | None:
    """A copy without server bookkeeping: what a reviewer compares."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for key in _META_NOISE:
            meta.pop(key, None)
        if not meta.get("annotations"):
            meta.pop("annotations", None)
    return out


def redact_secret(obj: Obj | None, other: Obj | None = None) -> Obj | None:
    """``obj`` with every secret value redacted; values differing from ``other`` say so."""
    if obj is None or obj.get("kind") != "Secret":
        return obj
    out = copy.deepcopy(obj)
    for field in ("data", "stringData"):
        values = out.get(field)
        if not isinstance(values, dict):
            continue
        before = (other or {}).get(field) or {}
        for key in values:
            changed = other is not None and before.get(key) != values[key]
            values[key] = f"{REDACTED} (changed)" if changed else REDACTED
    annotations = out.get("metadata", {}).get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = REDACTED
    return out


def _yaml(obj: Obj | None) -> list[str]:
    if obj is None:
        return []
    text = yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, width=1000)
    return text.splitlines(keepends=True)


def unified_diff(before: Obj | None, after: Obj | None, label: str) -> str:
    """YAML unified diff of ``before`` -> ``after`` (None = absent), secrets redacted."""
    old, new = clean(before), clean(after)
    old_r = redact_secret(old)
    new_r = redact_secret(new, old)
    lines = difflib.unified_diff(
        _yaml(old_r),
        _yaml(new_r),
        fromfile=f"{label} (now)" if before is not None else "/dev/null",
        tofile=f"{label} (after, server dry run)",
    )
    text = "".join(lines)
    return text or "(no change)"
