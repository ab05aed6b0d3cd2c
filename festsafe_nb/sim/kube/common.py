"""Shared vocabulary of the Kubernetes API emulator: object type, API errors, times.

Every other module of ``festsafe_nb.sim.kube`` speaks in these terms, so the emulator's
failures look like a real API server's (``Status`` bodies) and its timestamps like RFC 3339.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


def now_utc() -> datetime:
    return datetime.now(UTC)


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class ApiError(Exception):
    """An API failure answered as a ``Status`` object, like the real server does."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def body(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def not_found(plural: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{plural} "{name}" not found', {"name": name, "kind": plural})


def prune(value: Any) -> Any:
    """Drop ``None`` values and empty objects, recursively.

    Clients serialise the same spec differently (kubectl's typed structs send
    ``creationTimestamp: null`` and ``resources: {}``, the python client omits them); the real
    server's defaulting makes them equal, the emulator makes them equal by pruning.
    """
    if isinstance(value, dict):
        out = {k: prune(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in out.items() if v != {}}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value
