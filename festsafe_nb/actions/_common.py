"""Pieces every action shares: building a plan from a dry run, refusing a plan that is not
this action's, the resourceVersion precondition, and "the rollout finished" verification.

Private to ``festsafe_nb.actions``; the public surface is the action classes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from festsafe_nb.actions.base import Action, ActionError, Plan, Verification
from festsafe_nb.actions.cluster import Cluster, Obj, path_for
from festsafe_nb.actions.diff import unified_diff
from festsafe_nb.actions.status import RolloutStatus, deployment_status

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"


def rfc3339(t: datetime) -> str:
    """Go's ``time.RFC3339`` for a UTC time, as kubectl writes ``restartedAt``."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_cluster(cluster: Any) -> Cluster:
    if not isinstance(cluster, Cluster):
        raise ActionError(f"expected an actions.cluster.Cluster, got {type(cluster).__name__}")
    return cluster


def dry_run(call: Callable[[], Obj]) -> tuple[Obj | None, bool, str]:
    """Run the server-side dry run; a refusal is reported in the plan, not raised."""
    try:
        return call(), True, ""
    except ActionError as exc:
        return None, False, f"refused by the API server: {exc}"


def build_plan(
    action: Action,
    *,
    before: Obj | None,
    after: Obj | None,
    ok: bool,
    outcome: str,
    resource_version: str | None,
    label: str | None = None,
    kubectl: str | None = None,
    planned_at: datetime | None = None,
) -> Plan:
    diff = unified_diff(before, after, label or action.target()) if ok else "(dry run refused)"
    fields: dict[str, Any] = {}
    if planned_at is not None:
        fields["planned_at"] = planned_at
    return Plan(
        action=action.name,
        target=action.target(),
        namespace=action.namespace,
        parameters=action.redacted_parameters(),
        kubectl=kubectl or action.kubectl(),
        diff=diff,
        dry_run_ok=ok,
        dry_run=outcome,
        resource_version=resource_version,
        **fields,
    )


def check_plan(action: Action, plan: Plan) -> None:
    """Refuse to execute a plan made for another action, target or parameters."""
    mine = (action.name, action.target(), action.namespace, action.redacted_parameters())
    theirs = (plan.action, plan.target, plan.namespace, plan.parameters)
    if mine != theirs:
        raise ActionError(
            f"the plan is for {plan.action} {plan.target} in {plan.namespace} with other "
            "parameters; plan this action again"
        )
    if not plan.dry_run_ok:
        raise ActionError(f"the plan's dry run failed; nothing executed ({plan.dry_run})")


def check_version(current: Obj, plan: Plan, target: str) -> None:
    """Client-side half of the precondition (the server-side half travels in the request)."""
    rv = current.get("metadata", {}).get("resourceVersion")
    if plan.resource_version is not None and rv != plan.resource_version:
        raise ActionError(
            f"{target} changed since it was planned (resourceVersion {plan.resource_version} "
            f"-> {rv}); plan again"
        )


def template_without_hash(template: Obj) -> Obj:
    out = copy.deepcopy(template)
    labels = out.get("metadata", {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return out


def owned_replicasets(cluster: Cluster, dep: Obj) -> list[Obj]:
    """ReplicaSets controlled by ``dep`` (kubectl: list by selector, keep the controller's own)."""
    meta = dep.get("metadata", {})
    ns, uid = meta.get("namespace", ""), meta.get("uid")
    match = dep.get("spec", {}).get("selector", {}).get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
    owned = []
    for rs in cluster.items(path_for("replicaset", ns), label_selector=selector or None):
        for ref in rs.get("metadata", {}).get("ownerReferences") or []:
            if ref.get("controller") and ref.get("uid") == uid:
                owned.append(rs)
                break
    return owned


def revision(obj: Obj) -> int:
    try:
        return int((obj.get("metadata", {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def verify_rollout(
    cluster: Cluster,
    namespace: str,
    deployment: str,
    timeout_s: float,
    check: Callable[[Obj], str | None],
) -> Verification:
    """Wait for kubectl's "successfully rolled out", then check the effect on the result.

    ``check`` gets the final Deployment and returns a problem (or None). When the cluster
    has ReplicaSets for the Deployment, the one with the current template must be the newest
    and hold every available replica.
    """
    report = RolloutStatus(deployment=deployment, namespace=namespace, timeout_s=timeout_s).wait(
        cluster
    )
    if not report.done:
        return Verification(ok=False, detail=" / ".join(report.messages))
    dep = cluster.get(path_for("deployment", namespace, deployment))
    done, _, message = deployment_status(dep)
    problem = None if done else message
    problem = problem or check(dep)
    if problem is None:
        problem = _replicaset_problem(cluster, dep)
    if problem is not None:
        return Verification(ok=False, detail=f"{report.message}, but {problem}")
    return Verification(ok=True, detail=report.message)


def _replicaset_problem(cluster: Cluster, dep: Obj) -> str | None:
    owned = owned_replicasets(cluster, dep)
    if not owned:
        return None
    want = template_without_hash(dep.get("spec", {}).get("template", {}))
    current = [rs for rs in owned if template_without_hash(rs["spec"]["template"]) == want]
    if not current:
        return "no ReplicaSet carries the deployment's current template"
    rs = current[0]
    name = rs["metadata"]["name"]
    if revision(rs) != max(revision(r) for r in owned):
        return f"replicaset {name} is not the newest revision"
    replicas = int(dep.get("spec", {}).get("replicas") or 0)
    available = int((rs.get("status") or {}).get("availableReplicas") or 0)
    if available < replicas:
        return f"replicaset {name} has {available} of {replicas} replicas available"
    return None
