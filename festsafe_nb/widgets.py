"""How a proposed action looks in a notebook: the gate's panel, or a static block.

The only module importing ipywidgets. A runbook's remediation section calls
:func:`gate_panel` when ``execution_mode == "interactive"`` and :func:`static_block` when
headless (saved widget state does not render in offline HTML reports, so reports get static
HTML). The panel shows the plan first (diff, kubectl command, dry-run result), then a
confirmation checkbox, a reason box and an Execute button. The button is disabled until both
are filled in, for comfort only: ``Button.click()`` fires even when disabled, so the callback
passes the *current* checkbox and text values to ``Gate.execute``, which checks everything
itself. Everything shown is HTML-escaped (diffs and reasons are cluster- or user-supplied).
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from festsafe_nb.actions.base import Action, Plan
from festsafe_nb.actions.gate import Gate, GateResult

PLAN_MIME = "application/vnd.festsafe.plan+json"

_COLOURS = {"executed": "#1a7f37", "failed": "#cf222e", "refused": "#9a6700"}
_PRE = (
    "<pre style='background:#f6f8fa;border:1px solid #d0d7de;padding:6px;"
    "white-space:pre-wrap;margin:4px 0'>{}</pre>"
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def plan_html(plan: Plan) -> str:
    """The plan as reviewed: what, where, the command, the dry run and the diff."""
    ok = "succeeded" if plan.dry_run_ok else "FAILED"
    colour = "#1a7f37" if plan.dry_run_ok else "#cf222e"
    return (
        "<div class='festsafe-plan'>"
        f"<p><b>Proposed action:</b> <code>{_e(plan.action)}</code> on "
        f"<code>{_e(plan.target)}</code> in namespace <code>{_e(plan.namespace)}</code></p>"
        "<p><b>Equivalent kubectl command:</b></p>"
        + _PRE.format(_e(plan.kubectl))
        + "<p><b>Server-side dry run:</b> "
        f"<span style='color:{colour}'>{ok}</span> &mdash; {_e(plan.dry_run)}</p>"
        "<p><b>What would change:</b></p>"
        + _PRE.format(_e(plan.diff or "(no change)"))
        + f"<p style='font-size:smaller'>plan {_e(plan.digest[:12])}, resourceVersion "
        f"{_e(plan.resource_version)}</p></div>"
    )


def result_html(result: GateResult) -> str:
    colour = _COLOURS.get(result.decision, "#000")
    parts = [
        f"<p><b>Decision:</b> <span style='color:{colour}'><b>{_e(result.decision)}</b>"
        f"</span> &mdash; {_e(result.reason)}</p>"
    ]
    if result.outcome is not None:
        parts.append(f"<p><b>Outcome:</b> {_e(result.outcome.detail)}</p>")
    if result.verification is not None:
        v = result.verification
        parts.append(
            f"<p><b>Verification:</b> {'ok' if v.ok else 'FAILED'} &mdash; {_e(v.detail)}</p>"
        )
    for warning in result.warnings:
        parts.append(f"<p style='color:#9a6700'><b>Warning:</b> {_e(warning)}</p>")
    if result.audit_seq is not None:
        parts.append(f"<p style='font-size:smaller'>audit entry {result.audit_seq}</p>")
    return "<div class='festsafe-gate-result'>" + "".join(parts) + "</div>"


def result_text(result: GateResult) -> str:
    lines = [f"decision: {result.decision} - {result.reason}"]
    if result.outcome is not None:
        lines.append(f"outcome: {result.outcome.detail}")
    if result.verification is not None:
        ok = "ok" if result.verification.ok else "FAILED"
        lines.append(f"verification: {ok} - {result.verification.detail}")
    lines.extend(f"warning: {w}" for w in result.warnings)
    return "\n".join(lines)


class GatePanel(widgets.VBox):  # type: ignore[misc]
    """The interactive gate for one action and one reviewed plan."""

    def __init__(self, gate: Gate, action: Action, plan: Plan | None = None) -> None:
        self.gate = gate
        self.action = action
        self.plan = plan if plan is not None else gate.plan(action)
        self.result: GateResult | None = None
        self.spent = False  # executed or failed: this plan is used up
        self.plan_view = widgets.HTML(value=plan_html(self.plan))
        self.confirm = widgets.Checkbox(
            value=False,
            description="I have read the plan and want to execute it",
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        self.reason = widgets.Textarea(
            value="",
            placeholder="Why is this action needed? (recorded in the audit log)",
            layout=widgets.Layout(width="100%"),
        )
        self.button = widgets.Button(
            description="Execute", button_style="danger", icon="play", disabled=True
        )
        self.output = widgets.Output()
        self.confirm.observe(self._refresh, names="value")
        self.reason.observe(self._refresh, names="value")
        self.button.on_click(self._on_click)
        super().__init__(
            children=[
                self.plan_view,
                self.confirm,
                widgets.Label("Reason:"),
                self.reason,
                self.button,
                self.output,
            ]
        )

    def _refresh(self, _change: Any = None) -> None:
        """UX only: enable the button when the form looks complete (the gate re-checks)."""
        ready = bool(self.confirm.value) and bool(str(self.reason.value).strip())
        self.button.disabled = self.spent or not ready or not self.plan.dry_run_ok

    def _on_click(self, _button: Any = None) -> None:
        try:
            result = self.gate.execute(
                self.action,
                self.plan,
                confirmed=self.confirm.value is True,
                reason=str(self.reason.value),
            )
        except Exception as exc:  # shown, not swallowed into the widget manager's log
            self._show(
                f"<p style='color:#cf222e'><b>Gate error:</b> {_e(type(exc).__name__)}: "
                f"{_e(exc)}</p>",
                f"gate error: {type(exc).__name__}: {exc}",
            )
            return
        self.result = result
        self._show(result_html(result), result_text(result))
        if result.decision != "refused":
            self.spent = True
            self.confirm.disabled = True
            self.reason.disabled = True
        self._refresh()

    def _show(self, html_text: str, plain: str) -> None:
        # Set the outputs directly: ``with output:`` only captures inside a running kernel.
        self.output.outputs = (
            {
                "output_type": "display_data",
                "data": {"text/html": html_text, "text/plain": plain},
                "metadata": {},
            },
        )


def gate_panel(gate: Gate, action: Action, plan: Plan | None = None) -> GatePanel:
    """The interactive panel; plans the action through the gate unless ``plan`` is given."""
    return GatePanel(gate, action, plan)


def static_block(plan: Plan, result: GateResult | None = None) -> dict[str, Any]:
    """A MIME bundle for headless runs and reports: display it with
    ``IPython.display.display(bundle, raw=True)``. Says "not executed" unless ``result``
    (the headless gate decision) says otherwise."""
    if result is None:
        status_html = "<p><b>Status:</b> not executed (proposed only)</p>"
        status_text = "status: not executed (proposed only)"
    else:
        status_html = result_html(result)
        status_text = result_text(result)
    body = (
        "<div class='festsafe-proposed-action' style='border:1px solid #d0d7de;"
        "padding:8px;margin:6px 0'>" + plan_html(plan) + status_html + "</div>"
    )
    text = "\n".join(
        [
            f"proposed action: {plan.action} {plan.target} (namespace {plan.namespace})",
            f"command: {plan.kubectl}",
            f"dry run: {'ok' if plan.dry_run_ok else 'FAILED'} - {plan.dry_run}",
            "diff:",
            plan.diff or "(no change)",
            status_text,
        ]
    )
    data = plan.model_dump(mode="json")
    data["digest"] = plan.digest
    data["decision"] = result.decision if result is not None else "not executed"
    data["gate"] = result.model_dump(mode="json") if result is not None else None
    return {"text/html": body, "text/plain": text, PLAN_MIME: data}
