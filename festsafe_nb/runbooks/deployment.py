"""Deployment (RUNBOOK.md "Deployment Procedures"): rolling update, checks, and rollback.

Steps: (1) the images running now; (2) pre-checks: error rate and P95 latency as the baseline;
(3) the rolling update of each deployment to the new tag (``kubectl set image``) through the
remediation gate; (4) rollout status, with kubectl's completion rules; (5) post-checks after a
bake time, against the thresholds and the baseline; (6) when a post-check breaches, the
rollback (``kubectl rollout undo``) is proposed through the gate.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from festsafe_nb.errors import ParameterError, SourceUnavailable
from festsafe_nb.findings import (
    CommandBlock,
    Diagnosis,
    Finding,
    Severity,
    Status,
)
from festsafe_nb.runbooks.common import Check, judge_signal, proposal_for, table

if TYPE_CHECKING:
    from festsafe_nb.actions.base import Action
    from festsafe_nb.session import RunbookSession

RUNBOOK = "deployment"
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
ROLLOUT_DEPLOYMENTS = ("backend", "frontend")


def check_inputs(tag: str, deployments: list[str]) -> None:
    """Refuse a tag or deployment list that could not be a Kubernetes image tag / name."""
    if not _TAG.match(tag):
        raise ParameterError(f"tag={tag!r} is not a valid image tag")
    if not deployments or any(
        not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", d) for d in deployments
    ):
        raise ParameterError(f"deployments={deployments!r} must be Kubernetes deployment names")


def deployed_images(
    s: RunbookSession,
    deployments: list[str],
    check: str = "current_images",
    title: str = "Images running now",
) -> Check:
    """Step 1 (and the last step): what runs, so the report records what a rollback returns
    to, and what it did return to."""
    result = Check()
    kube = s.sources.kube
    if kube is None:
        result.add(
            Finding.unavailable_from(
                "current_images",
                "Images running now",
                SourceUnavailable("kubernetes", "not configured"),
            )
        )
        return result
    got = s.attempt(check, title, lambda: kube.deployments(s.namespace))
    if isinstance(got, Finding):
        result.add(got)
        return result
    mine = got[got["name"].isin(deployments)]
    result.frames["deployments"] = mine
    missing = sorted(set(deployments) - set(mine["name"]))
    result.add(
        Finding(
            check=check,
            title=title,
            status=Status.UNKNOWN if missing else Status.OK,
            summary=(
                f"Not found in {s.namespace}: {', '.join(missing)}."
                if missing
                else "; ".join(f"{r['name']}: {r['images']}" for _, r in mine.iterrows())
            ),
            source="kubernetes",
            evidence=[table("deployments", mine)],
        )
    )
    return result


def _errors_and_latency(
    s: RunbookSession,
    deployments: list[str],
    *,
    prefix: str,
    titles: tuple[str, str],
    when: str,
    **judge: Any,
) -> Check:
    """Error rate and P95 of the deployments' services, the pair both check steps judge."""
    services = "|".join(deployments)
    result = judge_signal(
        s,
        "api_error_rate",
        check=f"{prefix}_error_rate",
        title=titles[0],
        what=f"The highest 5xx share {when} the update",
        services=services,
        **judge,
    )
    latency = judge_signal(
        s,
        "api_latency_p95",
        check=f"{prefix}_latency_p95",
        title=titles[1],
        what=f"The slowest route's P95 {when} the update",
        services=services,
        **judge,
    )
    result.figures += latency.figures
    result.findings += latency.findings
    return result


def baseline(s: RunbookSession, deployments: list[str]) -> Check:
    """Step 2: error rate and P95 before the update, the yardstick for the post-checks."""
    return _errors_and_latency(
        s,
        deployments,
        prefix="baseline",
        titles=("Baseline error rate", "Baseline P95 latency"),
        when="before",
    )


def updates(s: RunbookSession, tag: str, deployments: list[str]) -> list[Action]:
    """Step 3: one ``kubectl set image`` per deployment (container named like the deployment)."""
    from festsafe_nb.actions import SetImage

    return [
        SetImage(deployment=d, container=d, image=f"festsafe/{d}:{tag}", namespace=s.namespace)
        for d in deployments
    ]


def _nothing_updated(check: str, title: str) -> Finding:
    return Finding(
        check=check,
        title=title,
        status=Status.UNKNOWN,
        summary="No update was executed in this run (refused, not confirmed, or no policy "
        "allows it headless): nothing to check.",
    )


def updated(s: RunbookSession) -> list[str]:
    """The deployments whose update this run really executed (from the audit trail), so the
    status and post-checks look at what changed, whether a button or a policy executed it."""
    done = []
    for entry in s.audited(action="set_image", decision="executed"):
        name = str(entry.get("target", "")).removeprefix("deployment/")
        if name and name not in done:
            done.append(name)
    return done


def _updated_at(s: RunbookSession) -> datetime:
    """When the last update of this run was executed (post-checks judge what came after)."""
    times = [
        datetime.fromisoformat(str(e["time"]).replace("Z", "+00:00"))
        for e in s.audited(action="set_image", decision="executed")
        if e.get("time")
    ]
    return max(times) if times else datetime.now(UTC)


def rollout_status(s: RunbookSession, deployments: list[str], timeout_s: float) -> Check:
    """Step 4: wait for each rollout with kubectl's completion rules."""
    from festsafe_nb.actions import ActionError
    from festsafe_nb.actions import rollout_status as wait

    result = Check()
    for d in deployments:
        title = f"Rollout status of {d}"
        try:
            status = wait(s.cluster, d, s.namespace, timeout_s=timeout_s)
        except ActionError as exc:
            result.add(
                Finding.unavailable_from(
                    f"rollout_{d}", title, SourceUnavailable("kubernetes", str(exc))
                )
            )
            continue
        result.add(
            Finding(
                check=f"rollout_{d}",
                title=title,
                status=Status.OK if status.ok else Status.BREACH,
                severity=Severity.INFO if status.ok else Severity.CRITICAL,
                summary=status.detail,
                component="release",
                source="kubernetes",
                evidence=[
                    CommandBlock(command=f"kubectl rollout status deployment/{d} -n {s.namespace}")
                ],
            )
        )
    return result


def post_checks(s: RunbookSession, deployments: list[str], bake_minutes: float) -> Check:
    """Step 5: after the bake time, error rate and P95 against the thresholds and the baseline."""
    if not deployments:
        result = Check()
        result.add(_nothing_updated("post_checks", "Post-checks"))
        return result
    if not s.simulated and bake_minutes > 0:
        import time

        time.sleep(bake_minutes * 60)
    window = s.window_until_now(minutes=10, since=_updated_at(s))
    result = _errors_and_latency(
        s,
        deployments,
        prefix="post",
        titles=("Error rate after the update", "P95 latency after the update"),
        when="after",
        component="release",
        severity=Severity.CRITICAL,
        window=window,
    )
    before = {
        f.check.removeprefix("baseline_"): f for f in s.findings if f.check.startswith("baseline_")
    }
    for f in result.findings:
        base = before.get(f.check.removeprefix("post_"))
        if base is not None and base.value is not None and f.value is not None:
            f.summary += f" Before the update: {base.value:.4g} {base.unit}."
    if s.simulated and result.findings:
        result.findings[
            0
        ].summary += (
            " (Demo: the simulator answers for the new release at once; no bake time is waited.)"
        )
    return result


def decide(s: RunbookSession, deployments: list[str]) -> Diagnosis:
    """Step 6: a post-check breach makes the release the suspect and proposes the rollback."""
    post = [f for f in s.findings if f.check.startswith("post_") and f.check != "post_checks"]
    rollouts = [f for f in s.findings if f.check.startswith("rollout_")]
    breached = [f for f in post + rollouts if f.breached]
    unavailable = [f for f in post if f.unavailable]
    if breached:
        from festsafe_nb.actions import RolloutUndo

        undo = [RolloutUndo(deployment=d, namespace=s.namespace) for d in deployments]
        return Diagnosis(
            runbook=RUNBOOK,
            suspect="release",
            summary="The update breaches the runbook's thresholds: "
            + " ".join(f.summary for f in breached)
            + " Roll back.",
            evidence=[f.check for f in breached],
            next_steps=[
                "Roll back the updated deployments (proposed below, through the gate).",
                "Keep this report for the postmortem; find the regression before retrying.",
            ],
            proposed_actions=[proposal_for(a, "post-check breach after the update") for a in undo],
        )
    if unavailable or not post:
        return Diagnosis(
            runbook=RUNBOOK,
            suspect="unknown",
            summary="The update could not be checked: post-check evidence is unavailable."
            if post
            else "No post-checks ran (the update was not executed).",
            evidence=[f.check for f in unavailable],
            next_steps=["Check error rate and latency by hand before declaring the release good."],
        )
    return Diagnosis(
        runbook=RUNBOOK,
        suspect="none",
        summary="The update is rolled out and every post-check is within the thresholds.",
        evidence=[f.check for f in post],
        next_steps=["Nothing to do. Watch the dashboards for the next hour."],
    )
