"""The one results model every surface renders: notebook, ``summary.json``, notifications.

A check returns a :class:`Finding`; a runbook combines findings into a :class:`Diagnosis`
that names a suspect and proposes :class:`ProposedAction` s. Evidence travels as typed
blocks (a table, a note, a command) so that each surface can render it its own way.
Nothing here talks to a system or draws anything.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from festsafe_nb.errors import SourceUnavailable

SCHEMA_VERSION = 1


class Status(StrEnum):
    OK = "ok"
    BREACH = "breach"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class TableBlock(BaseModel):
    """Rows of evidence (a DataFrame's records, trimmed)."""

    kind: Literal["table"] = "table"
    title: str
    columns: list[str]
    rows: list[list[Any]]
    truncated: int = 0


class TextBlock(BaseModel):
    kind: Literal["text"] = "text"
    text: str


class CommandBlock(BaseModel):
    """A command an engineer could run to see or do the same thing by hand."""

    kind: Literal["command"] = "command"
    command: str
    note: str = ""


Block = Annotated[TableBlock | TextBlock | CommandBlock, Field(discriminator="kind")]


class Finding(BaseModel):
    """The result of one check.

    ``unavailable`` marks a finding whose evidence could not be fetched; such a run completes
    with exit status 3 so an alert-triggered caller knows the diagnosis is incomplete.
    """

    check: str
    title: str
    status: Status
    severity: Severity = Severity.INFO
    value: float | None = None
    threshold: float | None = None
    unit: str = ""
    bad_when: Literal["above", "below"] = "above"
    summary: str
    component: str | None = None
    unavailable: bool = False
    source: str | None = None
    evidence: list[Block] = Field(default_factory=list)

    @classmethod
    def unavailable_from(cls, check: str, title: str, exc: SourceUnavailable) -> Finding:
        """The "evidence unavailable" finding a runbook records instead of crashing."""
        return cls(
            check=check,
            title=title,
            status=Status.UNKNOWN,
            severity=Severity.WARNING,
            summary=f"Evidence unavailable: {exc.system} ({exc.cause})",
            unavailable=True,
            source=exc.system,
        )

    @property
    def breached(self) -> bool:
        return self.status is Status.BREACH

    @property
    def ratio(self) -> float:
        """How far past its threshold the value is (1.0 at the threshold; 1.0 if not measurable)."""
        if self.value is None or not self.threshold:
            return 1.0
        if self.bad_when == "below":
            return self.threshold / self.value if self.value > 0 else float("inf")
        return self.value / self.threshold


class ProposedAction(BaseModel):
    """A remediation the diagnosis suggests; executing it is the gate's business."""

    action: str
    target: str
    namespace: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    kubectl: str
    reason: str


Suspect = Literal[
    "database", "ml_inference", "external_api", "cache", "capacity", "release", "none", "unknown"
]


class Diagnosis(BaseModel):
    """The runbook's conclusion: the suspected cause, why, and what to do next."""

    runbook: str
    suspect: Suspect
    summary: str
    evidence: list[str] = Field(default_factory=list, description="check ids supporting it")
    next_steps: list[str] = Field(default_factory=list)
    proposed_actions: list[ProposedAction] = Field(default_factory=list)
