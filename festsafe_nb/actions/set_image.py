"""``kubectl set image deployment/<name> <container>=<image>``: the rolling update / rollback.

kubectl sends a strategic-merge patch naming the container (containers merge by name); so
does this action, plus the planned resourceVersion as a precondition. Verify: kubectl's
rollout rules, the container really runs the image, and the newest ReplicaSet holds it.
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
    verify_rollout,
)
from festsafe_nb.actions.base import Action, ActionError, Outcome, Plan, Verification
from festsafe_nb.actions.cluster import STRATEGIC_PATCH, Obj, path_for
from festsafe_nb.actions.status import require_deployment

__all__ = ["SetImage"]


def container_image(dep: Obj, container: str) -> str | None:
    for c in dep.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []:
        if c.get("name") == container:
            image = c.get("image")
            return str(image) if image is not None else None
    return None


class SetImage(Action):
    """Point one container of a Deployment at another image."""

    name: ClassVar[str] = "set_image"
    deployment: str = Field(min_length=1)
    container: str = Field(min_length=1)
    image: str = Field(min_length=1, pattern=r"^\S+$")

    def target(self) -> str:
        return f"deployment/{self.deployment}"

    def kubectl(self) -> str:
        return (
            f"kubectl set image deployment/{self.deployment} {self.container}={self.image} "
            f"-n {self.namespace}"
        )

    def target_version(self, cluster: Any) -> str | None:
        dep = require_deployment(as_cluster(cluster), self.namespace, self.deployment)
        rv: str | None = dep["metadata"].get("resourceVersion")
        return rv

    def _patch(self, resource_version: str | None = None) -> Obj:
        body: Obj = {
            "spec": {
                "template": {
                    "spec": {"containers": [{"image": self.image, "name": self.container}]}
                }
            }
        }
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        return body

    def _require_container(self, dep: Obj) -> str:
        image = container_image(dep, self.container)
        if image is None:
            raise ActionError(f'unable to find container named "{self.container}"')
        return image

    def plan(self, cluster: Any) -> Plan:
        c = as_cluster(cluster)
        dep = require_deployment(c, self.namespace, self.deployment)
        now = self._require_container(dep)
        path = path_for("deployment", self.namespace, self.deployment)
        after, ok, refusal = dry_run(
            lambda: c.patch(path, self._patch(), STRATEGIC_PATCH, dry_run=True)
        )
        if after is not None and container_image(after, self.container) != self.image:
            ok, refusal = False, "the dry run did not change the image"
        return build_plan(
            self,
            before=dep,
            after=after,
            ok=ok,
            outcome=f"accepted: {self.container} {now} -> {self.image}" if ok else refusal,
            resource_version=dep["metadata"].get("resourceVersion"),
        )

    def execute(self, cluster: Any, plan: Plan) -> Outcome:
        c = as_cluster(cluster)
        check_plan(self, plan)
        dep = require_deployment(c, self.namespace, self.deployment)
        check_version(dep, plan, self.target())
        self._require_container(dep)
        path = path_for("deployment", self.namespace, self.deployment)
        result = c.patch(path, self._patch(plan.resource_version), STRATEGIC_PATCH)
        return Outcome(
            ok=True,
            detail=f"deployment.apps/{self.deployment} image updated",
            resource_version=result["metadata"].get("resourceVersion"),
            objects=[self.target()],
            expected={"container": self.container, "image": self.image},
        )

    def verify(self, cluster: Any, outcome: Outcome, timeout_s: float) -> Verification:
        def check(dep: Obj) -> str | None:
            image = container_image(dep, self.container)
            return None if image == self.image else f"{self.container} runs {image}"

        return verify_rollout(
            as_cluster(cluster), self.namespace, self.deployment, timeout_s, check
        )
