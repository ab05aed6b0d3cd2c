"""Recording results into the notebook's outputs, and reading them back.

Findings, the diagnosis, proposed actions and the session header are displayed as custom MIME
outputs (``application/vnd.festsafe.<kind>+json``) next to an HTML and a plain-text rendering.
The JSON is the machine-readable evidence: the runner rebuilds ``summary.json`` from an executed
notebook with plain ``nbformat``, so even a run that failed half-way leaves what it found.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from festsafe_nb.findings import (
    CommandBlock,
    Diagnosis,
    Finding,
    ProposedAction,
    Status,
    TableBlock,
    TextBlock,
)

MIME_PREFIX = "application/vnd.festsafe."
MIME_FINDING = MIME_PREFIX + "finding+json"
MIME_DIAGNOSIS = MIME_PREFIX + "diagnosis+json"
MIME_ACTION = MIME_PREFIX + "action+json"
MIME_SESSION = MIME_PREFIX + "session+json"

_STATUS_COLOUR = {Status.OK: "#1a7f37", Status.BREACH: "#cf222e", Status.UNKNOWN: "#9a6700"}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table_html(block: TableBlock) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in block.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in block.rows
    )
    more = f"<p><em>{block.truncated} more rows not shown</em></p>" if block.truncated else ""
    return (
        f"<p><strong>{_e(block.title)}</strong></p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"
    )


def _blocks_html(blocks: Iterable[TableBlock | TextBlock | CommandBlock]) -> str:
    parts = []
    for b in blocks:
        if isinstance(b, TableBlock):
            parts.append(_table_html(b))
        elif isinstance(b, CommandBlock):
            note = f"<p>{_e(b.note)}</p>" if b.note else ""
            parts.append(f"{note}<pre><code>{_e(b.command)}</code></pre>")
        else:
            parts.append(f"<p>{_e(b.text)}</p>")
    return "".join(parts)


def finding_html(f: Finding) -> str:
    colour = _STATUS_COLOUR[f.status]
    label = "EVIDENCE UNAVAILABLE" if f.unavailable else f.status.value.upper()
    measure = ""
    if f.value is not None:
        limit = f" (threshold {f.threshold:g} {_e(f.unit)})" if f.threshold is not None else ""
        measure = f" &middot; {f.value:.4g} {_e(f.unit)}{limit}"
    return (
        f'<div class="festsafe-finding" style="border-left:4px solid {colour};padding:4px 10px;'
        f'margin:6px 0">'
        f'<span style="color:{colour};font-weight:bold">{label}</span> '
        f"<strong>{_e(f.title)}</strong>{measure}<br>{_e(f.summary)}"
        f"{_blocks_html(f.evidence)}</div>"
    )


def finding_text(f: Finding) -> str:
    label = "EVIDENCE UNAVAILABLE" if f.unavailable else f.status.value.upper()
    return f"[{label}] {f.title}: {f.summary}"


def diagnosis_html(d: Diagnosis) -> str:
    steps = "".join(f"<li>{_e(s)}</li>" for s in d.next_steps)
    return (
        '<div class="festsafe-diagnosis" style="border:2px solid #0969da;padding:8px 12px">'
        f"<h3>Diagnosis: suspected bottleneck <code>{_e(d.suspect)}</code></h3>"
        f"<p>{_e(d.summary)}</p>"
        f"<p>Evidence: {_e(', '.join(d.evidence) or 'none')}</p>"
        f"<ol>{steps}</ol></div>"
    )


def action_html(a: ProposedAction, dry_run: str = "") -> str:
    dry = f"<p>Dry run: {_e(dry_run)}</p>" if dry_run else ""
    return (
        '<div class="festsafe-action" style="border:1px dashed #8250df;padding:6px 10px">'
        f"<strong>Proposed action: {_e(a.action)} {_e(a.target)}</strong>"
        f"<p>{_e(a.reason)}</p><pre><code>{_e(a.kubectl)}</code></pre>{dry}"
        "<p><em>Proposed only: executing it goes through the remediation gate.</em></p></div>"
    )


def _bundle(mime: str, model: BaseModel, html_text: str, plain: str) -> dict[str, Any]:
    return {mime: model.model_dump(mode="json"), "text/html": html_text, "text/plain": plain}


def bundle_for(obj: Finding | Diagnosis | ProposedAction) -> dict[str, Any]:
    """The MIME bundle that records ``obj`` in a notebook output."""
    if isinstance(obj, Finding):
        return _bundle(MIME_FINDING, obj, finding_html(obj), finding_text(obj))
    if isinstance(obj, Diagnosis):
        return _bundle(MIME_DIAGNOSIS, obj, diagnosis_html(obj), f"Diagnosis: {obj.suspect}")
    return _bundle(MIME_ACTION, obj, action_html(obj), f"Proposed: {obj.kubectl}")


def display_bundle(bundle: dict[str, Any]) -> None:
    """Display a raw MIME bundle in the running kernel (no-op outside IPython)."""
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    display(bundle, raw=True)


def record(obj: Finding | Diagnosis | ProposedAction) -> None:
    display_bundle(bundle_for(obj))


@dataclass
class RecordedEvidence:
    """Everything a notebook recorded, in output order."""

    session: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    diagnoses: list[Diagnosis] = field(default_factory=list)
    actions: list[ProposedAction] = field(default_factory=list)


def _outputs(nb: Any) -> Iterator[dict[str, Any]]:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") in ("display_data", "execute_result"):
                yield out.get("data", {})


def read_evidence(nb: Any) -> RecordedEvidence:
    """Read back what a notebook recorded (works on any ``nbformat`` notebook or plain dict)."""
    ev = RecordedEvidence()
    for data in _outputs(nb):
        if MIME_SESSION in data:
            ev.session = dict(data[MIME_SESSION])
        if MIME_FINDING in data:
            ev.findings.append(Finding.model_validate(data[MIME_FINDING]))
        if MIME_DIAGNOSIS in data:
            ev.diagnoses.append(Diagnosis.model_validate(data[MIME_DIAGNOSIS]))
        if MIME_ACTION in data:
            ev.actions.append(ProposedAction.model_validate(data[MIME_ACTION]))
    return ev
