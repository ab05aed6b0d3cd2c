"""PATCH bodies as the API server applies them: JSON patch, merge patch, strategic merge patch.

kubectl sends strategic merge patches (``set image``, ``rollout restart``, ``apply``) and JSON
patches (``rollout undo``); the python client sends merge or strategic patches. The strategic
merge is simplified: lists of named dicts merge by ``name``, which covers what kubectl sends
(containers, env, ports); ``$`` directives other than ``$patch: delete`` on a list item are
dropped.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch

from festsafe_nb.sim.kube.common import ApiError, Obj

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


def strategic_merge(old: Any, patch: Any) -> Any:
    if isinstance(patch, Mapping) and isinstance(old, Mapping):
        out = dict(old)
        for key, value in patch.items():
            if key.startswith("$"):
                continue
            if value is None:
                out.pop(key, None)
            else:
                out[key] = strategic_merge(old.get(key), value)
        return out
    if (
        isinstance(patch, list)
        and isinstance(old, list)
        and all(isinstance(i, Mapping) and "name" in i for i in [*old, *patch])
    ):
        merged = [dict(i) for i in old]
        for item in patch:
            idx = next((n for n, o in enumerate(merged) if o["name"] == item["name"]), None)
            if item.get("$patch") == "delete":
                if idx is not None:
                    merged.pop(idx)
            elif idx is None:
                merged.append(strategic_merge({}, item))
            else:
                merged[idx] = strategic_merge(merged[idx], item)
        return merged
    if isinstance(patch, Mapping):
        return strategic_merge({}, patch)
    return copy.deepcopy(patch)


def merge_patch(old: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(old) if isinstance(old, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def apply_patch(old: Obj, ctype: str, patch: Any) -> Obj:
    """The patched copy of ``old``; :class:`ApiError` (400/415/422) as the server answers."""
    try:
        if ctype == JSON_PATCH:
            if not isinstance(patch, list):
                raise ApiError(400, "BadRequest", "a JSON patch must be a list of operations")
            result = jsonpatch.apply_patch(copy.deepcopy(old), patch)
        elif ctype == MERGE_PATCH:
            result = merge_patch(old, patch)
        elif ctype == STRATEGIC_PATCH:
            result = strategic_merge(old, patch)
        else:
            raise ApiError(
                415, "UnsupportedMediaType", f"the patch type {ctype!r} is not supported"
            )
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise ApiError(422, "Invalid", f"the patch could not be applied: {exc}") from exc
    if not isinstance(result, dict):
        raise ApiError(422, "Invalid", "the patch did not produce an object")
    return copy.deepcopy(result)
