"""``kubectl rollout undo deployment/<name> [--to-revision=N]``: the Deployment rollback.

kubectl rolls back on the client side, and so does this action, step for step
(kubectl 1.32 ``polymorphichelpers/rollback.go``): refuse a paused Deployment; list the
ReplicaSets the Deployment controls; take the one with the given
``deployment.kubernetes.io/revision`` or, without one, the second newest; drop its
``pod-template-hash`` label; skip when the template already matches; send a JSON patch that
replaces ``/spec/template`` and ``/metadata/annotations`` (the Deployment's own bookkeeping
annotations kept, the rest taken from the ReplicaSet). One addition: a leading
``test /metadata/resourceVersion`` operation, so the server applies the patch only to the
Deployment that was planned.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from festsafe_nb.actions._common import (
    as_cluster,
    build_plan,
    check_plan,
    check_version,
    dry_run,
    owned_replicasets,
    revision,
    template_without_hash,
    verify_rollout,
)
from festsafe_nb.actions.base import Action, ActionError, Outcome, Plan, Verification
from festsafe_nb.actions.cluster import JSON_PATCH, Cluster, Obj, path_for
from festsafe_nb.actions.diff import LAST_APPLIED
from festsafe_nb.actions.status import require_deployment

__all__ = ["RolloutUndo"]

_KEEP_FROM_DEPLOYMENT = (
    LAST_APPLIED,
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
)


def _patch_annotations(dep: Obj, rs: Obj) -> dict[str, str]:
    dep_ann = dep.get("metadata", {}).get("annotations") or {}
    merged = {k: dep_ann[k] for k in _KEEP_FROM_DEPLOYMENT if k in dep_ann}
    for key, value in (rs.get("metadata", {}).get("annotations") or {}).items():
        if key not in _KEEP_FROM_DEPLOYMENT:
            merged[key] = value
    return merged


class RolloutUndo(Action):
    """Roll a Deployment back to its previous (or a given) revision."""

    name: ClassVar[str] = "rollout_undo"
    deployment: str = Field(min_length=1)
    to_revision: int | None = Field(None, gt=0)

    def target(self) -> str:
        return f"deployment/{self.deployment}"

    def kubectl(self) -> str:
        to = f" --to-revision={self.to_revision}" if self.to_revision else ""
        return f"kubectl rollout undo deployment/{self.deployment}{to} -n {self.namespace}"

    def target_version(self, cluster: Any) -> str | None:
        dep = require_deployment(as_cluster(cluster), self.namespace, self.deployment)
        rv: str | None = dep["metadata"].get("resourceVersion")
        return rv

    def _source(self, cluster: Cluster, dep: Obj) -> Obj:
        """The ReplicaSet to roll back to (kubectl's ``deploymentRevision``)."""
        if dep.get("spec", {}).get("paused"):
            raise ActionError(
                "you cannot rollback a paused deployment; resume it first with "
                "'kubectl rollout resume' and try again"
            )
        latest: tuple[int, Obj | None] = (-1, None)
        previous: tuple[int, Obj | None] = (-1, None)
        for rs in owned_replicasets(cluster, dep):
            v = revision(rs)
            if self.to_revision is not None:
                if v == self.to_revision:
                    return rs
            elif v > latest[0]:
                previous, latest = latest, (v, rs)
            elif v > previous[0]:
                previous = (v, rs)
        if self.to_revision is not None:
            raise ActionError(f"unable to find specified revision {self.to_revision} in history")
        if previous[1] is None:
            raise ActionError(f'no rollout history found for deployment "{self.deployment}"')
        return previous[1]

    def _patch(self, dep: Obj, rs: Obj, resource_version: str | None) -> list[Obj]:
        ops: list[Obj] = []
        if resource_version:
            ops.append(
                {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version}
            )
        ops.append(
            {
                "op": "replace",
                "path": "/spec/template",
                "value": template_without_hash(rs["spec"]["template"]),
            }
        )
        ops.append(
            {"op": "replace", "path": "/metadata/annotations", "value": _patch_annotations(dep, rs)}
        )
        return ops

    def _prepare(self, c: Cluster) -> tuple[Obj, Obj, bool]:
        """(deployment, source ReplicaSet, already there?)."""
        dep = require_deployment(c, self.namespace, self.deployment)
        rs = self._source(c, dep)
        same = template_without_hash(rs["spec"]["template"]) == template_without_hash(
            dep["spec"]["template"]
        )
        return dep, rs, same

    def plan(self, cluster: Any) -> Plan:
        c = as_cluster(cluster)
        dep, rs, same = self._prepare(c)
        rv = dep["metadata"].get("resourceVersion")
        path = path_for("deployment", self.namespace, self.deployment)
        after: Obj | None = dep
        ok, outcome = True, ""
        if not same:
            after, ok, outcome = dry_run(
                lambda: c.patch(path, self._patch(dep, rs, rv), JSON_PATCH, dry_run=True)
            )
        if ok:
            outcome = (
                f"skipped rollback (current template already matches revision {revision(rs)})"
                if same
                else f"accepted: roll back to revision {revision(rs)} "
                f"(replicaset {rs['metadata']['name']})"
            )
        return build_plan(
            self, before=dep, after=after, ok=ok, outcome=outcome, resource_version=rv
        )

    def execute(self, cluster: Any, plan: Plan) -> Outcome:
        c = as_cluster(cluster)
        check_plan(self, plan)
        dep, rs, same = self._prepare(c)
        check_version(dep, plan, self.target())
        expected = {
            "revision": revision(rs),
            "template": template_without_hash(rs["spec"]["template"]),
        }
        if same:
            return Outcome(
                ok=True,
                detail=f"deployment.apps/{self.deployment} skipped rollback (current template "
                f"already matches revision {revision(rs)})",
                resource_version=dep["metadata"].get("resourceVersion"),
                expected=expected,
            )
        path = path_for("deployment", self.namespace, self.deployment)
        result = c.patch(path, self._patch(dep, rs, plan.resource_version), JSON_PATCH)
        return Outcome(
            ok=True,
            detail=f"deployment.apps/{self.deployment} rolled back to revision {revision(rs)}",
            resource_version=result["metadata"].get("resourceVersion"),
            objects=[self.target()],
            expected=expected,
        )

    def verify(self, cluster: Any, outcome: Outcome, timeout_s: float) -> Verification:
        want = outcome.expected.get("template")

        def check(dep: Obj) -> str | None:
            now = template_without_hash(dep.get("spec", {}).get("template", {}))
            if want is not None and now != want:
                return "the deployment's template is no longer the rolled-back one"
            return None

        return verify_rollout(
            as_cluster(cluster), self.namespace, self.deployment, timeout_s, check
        )
