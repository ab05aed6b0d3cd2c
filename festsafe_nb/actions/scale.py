"""``kubectl scale deployment/<name> --replicas=N``: the High Latency runbook's remedy.

Goes through the ``scale`` subresource, as kubectl does (and as RBAC usually grants to
operators who may not patch Deployments): plan = the same merge patch with ``dryRun=All``,
execute = the patch with the planned resourceVersion as a precondition, verify = every
replica available.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from pydantic import Field

from festsafe_nb.actions._common import as_cluster, build_plan, check_plan, check_version, dry_run
from festsafe_nb.actions.base import Action, Outcome, Plan, Verification
from festsafe_nb.actions.cluster import MERGE_PATCH, path_for
from festsafe_nb.actions.status import require_deployment

__all__ = ["ScaleDeployment"]


class ScaleDeployment(Action):
    """Set a Deployment's replica count."""

    name: ClassVar[str] = "scale"
    deployment: str = Field(min_length=1)
    replicas: int = Field(ge=0, le=1000)

    def target(self) -> str:
        return f"deployment/{self.deployment}"

    def kubectl(self) -> str:
        return (
            f"kubectl scale deployment/{self.deployment} --replicas={self.replicas} "
            f"-n {self.namespace}"
        )

    def target_version(self, cluster: Any) -> str | None:
        dep = require_deployment(as_cluster(cluster), self.namespace, self.deployment)
        rv: str | None = dep["metadata"].get("resourceVersion")
        return rv

    def _scale_path(self) -> str:
        return path_for("deployment", self.namespace, self.deployment, "scale")

    def plan(self, cluster: Any) -> Plan:
        c = as_cluster(cluster)
        dep = require_deployment(c, self.namespace, self.deployment)
        body = {"spec": {"replicas": self.replicas}}
        scale, ok, refusal = dry_run(
            lambda: c.patch(self._scale_path(), body, MERGE_PATCH, dry_run=True)
        )
        after = None
        outcome = refusal
        if scale is not None:
            after = copy.deepcopy(dep)
            after["spec"]["replicas"] = scale.get("spec", {}).get("replicas")
            now = dep.get("spec", {}).get("replicas")
            outcome = f"accepted: replicas {now} -> {after['spec']['replicas']}"
        return build_plan(
            self,
            before=dep,
            after=after,
            ok=ok,
            outcome=outcome,
            resource_version=dep["metadata"].get("resourceVersion"),
        )

    def execute(self, cluster: Any, plan: Plan) -> Outcome:
        c = as_cluster(cluster)
        check_plan(self, plan)
        check_version(require_deployment(c, self.namespace, self.deployment), plan, self.target())
        body: dict[str, Any] = {"spec": {"replicas": self.replicas}}
        if plan.resource_version:
            body["metadata"] = {"resourceVersion": plan.resource_version}
        scale = c.patch(self._scale_path(), body, MERGE_PATCH)
        return Outcome(
            ok=True,
            detail=f"deployment.apps/{self.deployment} scaled to {self.replicas}",
            resource_version=scale.get("metadata", {}).get("resourceVersion"),
            objects=[self.target()],
            expected={"replicas": self.replicas},
        )

    def verify(self, cluster: Any, outcome: Outcome, timeout_s: float) -> Verification:
        c = as_cluster(cluster)
        want = int(outcome.expected.get("replicas", self.replicas))
        path = path_for("deployment", self.namespace, self.deployment)

        def probe() -> tuple[bool, str]:
            dep = c.get(path)
            gen = int(dep["metadata"].get("generation") or 0)
            status = dep.get("status") or {}
            observed = int(status.get("observedGeneration") or 0)
            available = int(status.get("availableReplicas") or 0)
            spec = dep.get("spec", {}).get("replicas")
            if spec != want:
                return True, f"spec.replicas is {spec}, not {want}: changed by someone else"
            if observed < gen:
                return False, "waiting for the scale to be observed"
            if available != want:
                return False, f"{available} of {want} replicas available"
            return True, f"{want} of {want} replicas available"

        done, message, _ = c.poll(probe, timeout_s)
        ok = done and message.startswith(f"{want} of {want}")
        if not done:
            message = f"not within {timeout_s:g}s: {message}"
        return Verification(ok=ok, detail=message)
