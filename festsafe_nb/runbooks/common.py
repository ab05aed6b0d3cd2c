"""Building blocks every runbook shares: judging a signal against its threshold, and showing
a check's figures and findings in the notebook.

A check is a function of the session that returns a :class:`Check`. It never raises for a
missing source: the session's ``attempt`` turns SourceUnavailable into an "evidence unavailable"
finding, so the notebook goes on and the report says what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from festsafe_nb import evidence, plots
from festsafe_nb.findings import Diagnosis, Finding, ProposedAction, Severity, Status, TableBlock

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from festsafe_nb.actions.base import Action
    from festsafe_nb.session import RunbookSession, Window

MAX_ROWS = 20


@dataclass
class Check:
    """What one runbook step produced."""

    findings: list[Finding] = field(default_factory=list)
    figures: list[go.Figure] = field(default_factory=list)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    def add(self, item: Finding | Any) -> None:
        if isinstance(item, Finding):
            self.findings.append(item)


def table(title: str, frame: pd.DataFrame, limit: int = MAX_ROWS) -> TableBlock:
    """A DataFrame as a table block (JSON-safe cells, trimmed to ``limit`` rows)."""
    head = frame.head(limit)
    rows = [
        [v if isinstance(v, int | float | str | bool) or v is None else str(v) for v in row]
        for row in head.itertuples(index=False, name=None)
    ]
    return TableBlock(
        title=title,
        columns=[str(c) for c in frame.columns],
        rows=rows,
        truncated=max(0, len(frame) - limit),
    )


def latest(
    session: RunbookSession, frame: pd.DataFrame, labels: list[str], window: Window | None = None
) -> pd.DataFrame:
    """Mean value per series over the assessment period (the window's last minutes)."""
    import pandas as pd

    w = window or session.window
    recent = frame[frame["time"] >= pd.Timestamp(w.assess_start)]
    if recent.empty and w.assess_from is not None:
        # judged from a change seconds ago: the newest sample of each series is the evidence
        recent = frame.sort_values("time").groupby(labels or ["value"], observed=True).tail(1)
    elif recent.empty:
        recent = frame
    if labels:
        out = recent.groupby(labels, observed=True, sort=True)["value"].mean().reset_index()
    else:
        out = pd.DataFrame({"value": [recent["value"].mean()]})
    return out.dropna(subset=["value"])


def measured(
    *,
    check: str,
    title: str,
    value: float | None,
    threshold: float,
    unit: str,
    summary: str,
    bad_when: Literal["above", "below"] = "above",
    **fields: Any,
) -> Finding:
    """A finding for one value measured now against its threshold (unknown without a value)."""
    if value is None:
        status = Status.UNKNOWN
    elif value < threshold if bad_when == "below" else value > threshold:
        status = Status.BREACH
    else:
        status = Status.OK
    return Finding(
        check=check,
        title=title,
        status=status,
        severity=Severity.WARNING if status is Status.BREACH else Severity.INFO,
        value=value,
        threshold=threshold,
        bad_when=bad_when,
        unit=unit,
        summary=summary,
        **fields,
    )


def judge_signal(
    session: RunbookSession,
    signal_name: str,
    *,
    check: str,
    title: str,
    component: str | None = None,
    severity: Severity = Severity.WARNING,
    what: str = "",
    window: Window | None = None,
    **params: Any,
) -> Check:
    """Fetch a catalog signal, chart it with its threshold, and judge its worst series.

    ``window`` replaces the session's window (post-checks look at the minutes after a change).
    """
    result = Check()
    w = window or session.window
    signal = session.catalog.signal(signal_name)
    got = session.attempt(check, title, lambda: session.signal(signal_name, window=w, **params))
    if isinstance(got, Finding):
        got.component = component
        result.add(got)
        return result
    frame = got
    result.frames[signal_name] = frame
    threshold = signal.threshold_value(session.thresholds)
    unit = signal.unit
    shown_threshold = threshold
    result.figures.append(
        plots.timeseries(
            frame,
            title=title,
            unit=unit,
            threshold=shown_threshold,
            bad_when=signal.bad_when,
            window=w.shaded,
            series_labels=signal.labels,
        )
    )
    now = latest(session, frame, signal.labels, w)
    if now.empty:
        result.add(
            Finding(
                check=check,
                title=title,
                status=Status.UNKNOWN,
                summary=f"No data for {signal_name} in the window: is the metric exported?",
                component=component,
                source="prometheus",
            )
        )
        return result
    period = (
        f"since {w.assess_from:%H:%M:%S} UTC"
        if w.assess_from is not None
        else f"mean of the last {w.assess_minutes} min"
    )
    worst_at = now["value"].idxmin() if signal.bad_when == "below" else now["value"].idxmax()
    worst = now.loc[worst_at]
    value = float(worst["value"])
    where = " ".join(f"{k}={worst[k]}" for k in signal.labels if str(worst[k]))
    where_txt = f" ({where})" if where else ""
    if threshold is None:
        status = Status.OK
        summary = f"{what or title}: {value:.4g} {unit}{where_txt}."
    else:
        bad = value < threshold if signal.bad_when == "below" else value > threshold
        status = Status.BREACH if bad else Status.OK
        relation = (
            ("below" if bad else "at or above")
            if signal.bad_when == "below"
            else ("above" if bad else "within")
        )
        summary = (
            f"{what or title} is {value:.4g} {unit}{where_txt}, {relation} the threshold of "
            f"{threshold:g} {unit} ({period})."
        )
    ordered = now.sort_values("value", ascending=signal.bad_when == "below")
    result.add(
        Finding(
            check=check,
            title=title,
            status=status,
            severity=severity if status is Status.BREACH else Severity.INFO,
            value=value,
            threshold=threshold,
            unit=unit,
            bad_when=signal.bad_when,
            summary=summary,
            component=component,
            source="prometheus",
            evidence=[table(f"{signal_name}, {period}", ordered.round(4))],
        )
    )
    return result


def summarize(session: RunbookSession) -> None:
    """Show every finding of the run in one table, breaches and missing evidence first."""
    from html import escape

    order = {Status.BREACH: 0, Status.UNKNOWN: 1, Status.OK: 2}
    ranked = sorted(session.findings, key=lambda f: (order[f.status], not f.unavailable))
    rows = "".join(
        f"<tr><td>{'unavailable' if f.unavailable else f.status.value}</td>"
        f"<td>{escape(f.title)}</td><td>{escape(f.summary)}</td></tr>"
        for f in ranked
    )
    missing = sorted({f.source or f.check for f in ranked if f.unavailable})
    note = f"<p><strong>Evidence unavailable from:</strong> {escape(', '.join(missing))}</p>"
    evidence.display_bundle(
        {
            "text/html": (note if missing else "")
            + "<table><thead><tr><th>status</th><th>check</th><th>finding</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>",
            "text/plain": "\n".join(evidence.finding_text(f) for f in ranked),
        }
    )


def proposal_for(action: Action, reason: str) -> ProposedAction:
    """The report-friendly record of a typed action (what ``summary.json`` lists as proposed)."""
    return ProposedAction(
        action=action.name,
        target=action.target(),
        namespace=action.namespace,
        parameters=action.redacted_parameters(),
        kubectl=action.kubectl(),
        reason=reason,
    )


def act(session: RunbookSession, action: Action, reason: str) -> Any:
    """Offer ``action`` through the gate: plan it, then a gate panel (interactive) or the
    headless decision (executed only where a policy allows it) shown as a static block.

    Returns the headless GateResult, or None in interactive mode (the button decides later).
    """
    from festsafe_nb.actions import ActionError

    proposed = evidence.bundle_for(proposal_for(action, reason))
    try:
        plan = session.gate.plan(action)
    except ActionError as exc:
        from festsafe_nb.errors import SourceUnavailable

        evidence.display_bundle(proposed)
        finding = Finding.unavailable_from(
            f"plan_{action.name}",
            f"Plan of {action.kubectl()}",
            SourceUnavailable("kubernetes", str(exc)),
        )
        session.findings.append(finding)
        evidence.record(finding)
        return None
    if session.execution_mode == "interactive":
        from IPython.display import display

        from festsafe_nb.widgets import gate_panel

        # the proposal as data (for summary.json); the panel shows the plan itself
        del proposed["text/html"]
        evidence.display_bundle(proposed)
        display(gate_panel(session.gate, action, plan))
        return None
    from festsafe_nb.widgets import static_block

    result = session.gate.execute(action, plan, confirmed=False, reason=f"headless run: {reason}")
    block = static_block(plan, result)
    # one output: the static block, carrying the proposal's data for summary.json
    block[evidence.MIME_ACTION] = proposed[evidence.MIME_ACTION]
    evidence.display_bundle(block)
    return result


def show(session: RunbookSession, item: Check | Diagnosis | ProposedAction) -> None:
    """Display a check (figures, then findings) or a diagnosis, and keep it in the session."""
    if isinstance(item, Check):
        for fig in item.figures:
            plots.show(fig)
        for f in item.findings:
            session.findings.append(f)
            evidence.record(f)
    else:
        evidence.record(item)
