"""Typed remediations: what a runbook may *do*, each with plan -> execute -> verify.

Sits between the runbooks (which propose ``findings.ProposedAction``) and the cluster.
:func:`from_proposal` turns a proposal into its typed action; the gate (``actions.gate``)
plans, authorises, executes, verifies and audits it. :data:`ACTIONS` maps each action's
settings key (``Remediation.required_role``) to its class. ``RolloutStatus`` /
:func:`rollout_status` is a read-only wait, not an action (nothing to gate).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from festsafe_nb.actions.base import REDACTED, Action, ActionError, Outcome, Plan, Verification
from festsafe_nb.actions.cluster import Cluster
from festsafe_nb.actions.restart import RolloutRestart
from festsafe_nb.actions.retrain import StartRetraining
from festsafe_nb.actions.scale import ScaleDeployment
from festsafe_nb.actions.secret import RotateSecret
from festsafe_nb.actions.set_image import SetImage
from festsafe_nb.actions.status import RolloutStatus, StatusReport, rollout_status
from festsafe_nb.actions.undo import RolloutUndo
from festsafe_nb.findings import ProposedAction

__all__ = [
    "ACTIONS",
    "REDACTED",
    "Action",
    "ActionError",
    "Cluster",
    "Outcome",
    "Plan",
    "RolloutRestart",
    "RolloutStatus",
    "RolloutUndo",
    "RotateSecret",
    "ScaleDeployment",
    "SetImage",
    "StartRetraining",
    "StatusReport",
    "Verification",
    "from_proposal",
    "rollout_status",
]

ACTIONS: dict[str, type[Action]] = {
    cls.name: cls
    for cls in (
        ScaleDeployment,
        RolloutRestart,
        SetImage,
        RolloutUndo,
        RotateSecret,
        StartRetraining,
    )
}

# the parameter naming the target object, per action (the proposal's "kind/name")
_TARGET_FIELD = {
    "scale": ("deployment", "deployment"),
    "rollout_restart": ("deployment", "deployment"),
    "set_image": ("deployment", "deployment"),
    "rollout_undo": ("deployment", "deployment"),
    "rotate_secret": ("secret", "secret"),
    "start_retraining": ("cronjob", "cronjob"),
}
# informational parameters a proposal may carry that are not the action's own
_INFORMATIONAL = {"current"}


def from_proposal(p: ProposedAction) -> Action:
    """The typed action for a diagnosis' proposal; ActionError if it names no known action.

    The proposal's ``target`` (``deployment/backend``) fills the target parameter; its
    informational parameters (``current``) are dropped; anything else must validate.
    """
    cls = ACTIONS.get(p.action)
    if cls is None:
        known = ", ".join(sorted(ACTIONS))
        raise ActionError(f"unknown action {p.action!r} proposed; known actions: {known}")
    kind, field = _TARGET_FIELD[p.action]
    params: dict[str, Any] = {k: v for k, v in p.parameters.items() if k not in _INFORMATIONAL}
    if p.target:
        got_kind, _, name = p.target.partition("/")
        if got_kind.lower() not in (kind, f"{kind}s", f"{kind}.apps") or not name:
            raise ActionError(f"{p.action} acts on a {kind}, but the proposal targets {p.target!r}")
        if params.get(field, name) != name:
            raise ActionError(f"proposal names two targets: {p.target!r} and {params[field]!r}")
        params[field] = name
    params["namespace"] = p.namespace
    try:
        return cls.model_validate(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'parameters'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ActionError(f"proposal for {p.action} has bad parameters: {problems}") from None
