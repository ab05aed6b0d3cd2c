"""``kubectl rollout restart deployment/<name>``: new pods with the same spec.

Exactly kubectl's mechanism: a strategic-merge patch setting the pod template annotation
``kubectl.kubernetes.io/restartedAt`` to an RFC 3339 time, which changes the template and
so rolls every pod. The time is the plan's ``planned_at`` (to the second, UTC), so execute
sends byte for byte the patch the dry run was asked about; verify waits for kubectl's
"successfully rolled out" and checks the annotation is ours.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field

from festsafe_nb.actions._common import (
    as_cluster,
    build_plan,
    check_plan,
    check_version,
    dry_run,
    rfc3339,
    verify_rollout,
)
from festsafe_nb.actions.base import Action, ActionError, Outcome, Plan, Verification
from festsafe_nb.actions.cluster import STRATEGIC_PATCH, Cluster, Obj, path_for
from festsafe_nb.actions.status import require_deployment

__all__ = ["RESTARTED_AT", "RolloutRestart", "restart_patch"]

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def restart_patch(at: str, resource_version: str | None = None) -> Obj:
    """kubectl's restart patch; with ``resource_version`` the server refuses a moved target."""
    body: Obj = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}}
    if resource_version:
        body["metadata"] = {"resourceVersion": resource_version}
    return body


def refuse_paused(dep: Obj) -> None:
    if dep.get("spec", {}).get("paused"):
        name = dep["metadata"]["name"]
        raise ActionError(
            f'deployments "{name}" can\'t restart paused deployment (run rollout resume first)'
        )


def restarted_at(dep: Obj) -> str | None:
    annotations = dep.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations")
    value = (annotations or {}).get(RESTARTED_AT)
    return str(value) if value is not None else None


def verify_restart(
    cluster: Cluster, namespace: str, deployment: str, at: str | None, timeout_s: float
) -> Verification:
    def check(dep: Obj) -> str | None:
        now = restarted_at(dep)
        if at is not None and now != at:
            return f"the template's restartedAt is {now}, not {at} (changed since)"
        return None

    return verify_rollout(cluster, namespace, deployment, timeout_s, check)


class RolloutRestart(Action):
    """Restart every pod of a Deployment through a rolling update."""

    name: ClassVar[str] = "rollout_restart"
    deployment: str = Field(min_length=1)

    def target(self) -> str:
        return f"deployment/{self.deployment}"

    def kubectl(self) -> str:
        return f"kubectl rollout restart deployment/{self.deployment} -n {self.namespace}"

    def target_version(self, cluster: Any) -> str | None:
        dep = require_deployment(as_cluster(cluster), self.namespace, self.deployment)
        rv: str | None = dep["metadata"].get("resourceVersion")
        return rv

    def plan(self, cluster: Any) -> Plan:
        c = as_cluster(cluster)
        dep = require_deployment(c, self.namespace, self.deployment)
        refuse_paused(dep)
        planned_at = datetime.now(UTC).replace(microsecond=0)
        path = path_for("deployment", self.namespace, self.deployment)
        patch = restart_patch(rfc3339(planned_at))
        after, ok, refusal = dry_run(lambda: c.patch(path, patch, STRATEGIC_PATCH, dry_run=True))
        return build_plan(
            self,
            before=dep,
            after=after,
            ok=ok,
            outcome=f"accepted: pod template restartedAt = {rfc3339(planned_at)}"
            if ok
            else refusal,
            resource_version=dep["metadata"].get("resourceVersion"),
            planned_at=planned_at,
        )

    def execute(self, cluster: Any, plan: Plan) -> Outcome:
        c = as_cluster(cluster)
        check_plan(self, plan)
        dep = require_deployment(c, self.namespace, self.deployment)
        check_version(dep, plan, self.target())
        refuse_paused(dep)
        at = rfc3339(plan.planned_at)
        path = path_for("deployment", self.namespace, self.deployment)
        result = c.patch(path, restart_patch(at, plan.resource_version), STRATEGIC_PATCH)
        return Outcome(
            ok=True,
            detail=f"deployment.apps/{self.deployment} restarted",
            resource_version=result["metadata"].get("resourceVersion"),
            objects=[self.target()],
            expected={"restartedAt": at},
        )

    def verify(self, cluster: Any, outcome: Outcome, timeout_s: float) -> Verification:
        at = outcome.expected.get("restartedAt")
        return verify_restart(
            as_cluster(cluster),
            self.namespace,
            self.deployment,
            str(at) if at is not None else None,
            timeout_s,
        )
