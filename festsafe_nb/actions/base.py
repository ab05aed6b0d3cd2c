"""The shape every remediation has: typed parameters, plan -> execute -> verify.

A diagnosis *proposes* (``findings.ProposedAction``: plain data that fits in a report); an
:class:`Action` is the typed object that can act. ``plan()`` asks the API server for a dry run
(``dryRun=All``) and describes what would change (a readable diff, the runbook's equivalent
kubectl command, the target's resourceVersion); ``execute()`` does it; ``verify()`` checks the
effect. Only the gate (``actions.gate``) calls ``execute()``.

Exceptions: :class:`ActionError` for anything the cluster refused or could not answer while
planning, executing or verifying (the gate records it as ``failed``).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from festsafe_nb.errors import FestsafeError

REDACTED = "[REDACTED]"


class ActionError(FestsafeError):
    """The cluster refused or did not answer an action's request."""


class Plan(BaseModel):
    """What an action would do, as the API server's dry run says; shown before any execute."""

    action: str
    target: str
    namespace: str
    parameters: dict[str, Any] = Field(description="secrets already redacted")
    kubectl: str = Field(description="the runbook's equivalent command, secrets redacted")
    diff: str = Field(description="unified diff of the target: now -> after the dry run")
    dry_run_ok: bool
    dry_run: str = Field(description="the dry run's outcome in words (or the API's refusal)")
    resource_version: str | None = Field(description="target's resourceVersion when planned")
    planned_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def digest(self) -> str:
        """sha256 over what was shown: the gate executes only the plan that was reviewed."""
        body = self.model_dump(mode="json", exclude={"planned_at"})
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class Outcome(BaseModel):
    """What ``execute()`` did."""

    ok: bool
    detail: str
    resource_version: str | None = None
    objects: list[str] = Field(default_factory=list, description="kind/name changed or created")
    expected: dict[str, Any] = Field(
        default_factory=dict,
        description="what verify() checks for (replicas, image, template, job); never secrets",
    )


class Verification(BaseModel):
    """Whether the effect is there (replicas ready, image rolled out, job created)."""

    ok: bool
    detail: str
    checked_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Action(BaseModel, ABC):
    """A typed remediation. Subclasses declare their parameters as pydantic fields.

    ``name`` keys the settings (required role, headless policies) and the audit log.
    ``cluster`` is the write-side Kubernetes client of ``actions.cluster``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str]
    namespace: str = "festsafe"

    @abstractmethod
    def target(self) -> str:
        """``kind/name`` of the object acted on, e.g. ``deployment/backend``."""

    @abstractmethod
    def kubectl(self) -> str:
        """The runbook's kubectl command doing the same thing (secrets redacted)."""

    def redacted_parameters(self) -> dict[str, Any]:
        """Parameters for plans and the audit log; subclasses redact their secrets."""
        return self.model_dump(mode="json")

    @abstractmethod
    def target_version(self, cluster: Any) -> str | None:
        """The target's resourceVersion now (the gate refuses if it moved since the plan)."""

    @abstractmethod
    def plan(self, cluster: Any) -> Plan: ...

    @abstractmethod
    def execute(self, cluster: Any, plan: Plan) -> Outcome: ...

    @abstractmethod
    def verify(self, cluster: Any, outcome: Outcome, timeout_s: float) -> Verification: ...
