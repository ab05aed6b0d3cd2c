"""``kubectl rollout status``: has a Deployment finished rolling out, by kubectl's own rules.

Sits under the actions' ``verify()`` (restart, set image, undo, secret rotation) and the
Deployment runbook's "wait for the rollout" step. It is a read-only wait, not an
:class:`~festsafe_nb.actions.base.Action`: it changes nothing, so there is nothing to plan,
gate or audit, and giving it an ``execute()`` would only invite the gate to ask a role for
it. It is a frozen pydantic model (like the actions) so a runbook can still show its kubectl
command and record its parameters.

The rules and messages are kubectl 1.32's ``DeploymentStatusViewer``, checked in its order:
a progress deadline exceeded is a failure; then observedGeneration >= generation, updated
== spec.replicas, status.replicas == updated (no old replicas left), available == updated.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from festsafe_nb.actions.base import ActionError
from festsafe_nb.actions.cluster import Cluster, path_for

__all__ = ["RolloutStatus", "StatusReport", "deployment_status", "rollout_status"]

Obj = dict[str, Any]


class StatusReport(BaseModel):
    """One look (or the end of a wait): done, failed, and kubectl's lines in order."""

    deployment: str
    done: bool
    failed: bool = False
    message: str
    messages: list[str] = Field(default_factory=list)
    generation: int = 0
    observed_generation: int = 0

    @property
    def ok(self) -> bool:
        return self.done

    @property
    def detail(self) -> str:
        """kubectl's lines as it would have printed them, one after the other."""
        return " / ".join(self.messages or [self.message])


def deployment_status(dep: Obj) -> tuple[bool, bool, str]:
    """(done, failed, message) for one Deployment object, exactly as kubectl decides it."""
    name = dep.get("metadata", {}).get("name", "")
    meta, spec, status = dep.get("metadata", {}), dep.get("spec", {}), dep.get("status") or {}
    generation = int(meta.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if generation > observed:
        return False, False, "Waiting for deployment spec update to be observed..."
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return False, True, f'deployment "{name}" exceeded its progress deadline'
    want = spec.get("replicas")
    updated = int(status.get("updatedReplicas") or 0)
    replicas = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if want is not None and updated < int(want):
        return (
            False,
            False,
            f'Waiting for deployment "{name}" rollout to finish: '
            f"{updated} out of {want} new replicas have been updated...",
        )
    if replicas > updated:
        return (
            False,
            False,
            f'Waiting for deployment "{name}" rollout to finish: '
            f"{replicas - updated} old replicas are pending termination...",
        )
    if available < updated:
        return (
            False,
            False,
            f'Waiting for deployment "{name}" rollout to finish: '
            f"{available} of {updated} updated replicas are available...",
        )
    return True, False, f'deployment "{name}" successfully rolled out'


class RolloutStatus(BaseModel):
    """``kubectl rollout status deployment/<name> -n <ns> --timeout=<t>s`` as a typed wait."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deployment: str
    namespace: str = "festsafe"
    timeout_s: float = Field(300.0, gt=0)

    def target(self) -> str:
        return f"deployment/{self.deployment}"

    def kubectl(self) -> str:
        return (
            f"kubectl rollout status deployment/{self.deployment} -n {self.namespace} "
            f"--timeout={self.timeout_s:g}s"
        )

    def check(self, cluster: Cluster) -> StatusReport:
        """One look, no waiting."""
        dep = cluster.get(path_for("deployment", self.namespace, self.deployment))
        done, failed, message = deployment_status(dep)
        return self._report(dep, done, failed, message, [message])

    def wait(self, cluster: Cluster) -> StatusReport:
        """Poll until done, failed or ``timeout_s``; API failures while waiting raise ActionError.

        A status from before a change cannot pass: the change bumped ``generation``, and
        kubectl's first rule waits for ``observedGeneration`` to catch up.
        """
        last: dict[str, Any] = {}

        def probe() -> tuple[bool, str]:
            dep = cluster.get(path_for("deployment", self.namespace, self.deployment))
            done, failed, message = deployment_status(dep)
            last.update(dep=dep, failed=failed)
            return done or failed, message

        finished, message, seen = cluster.poll(probe, self.timeout_s)
        failed = bool(last.get("failed"))
        done = finished and not failed
        if not finished:
            seen.append(f"error: timed out waiting for the condition ({self.timeout_s:g}s)")
        return self._report(last.get("dep", {}), done, failed, message, seen)

    def _report(
        self, dep: Obj, done: bool, failed: bool, message: str, seen: list[str]
    ) -> StatusReport:
        status = dep.get("status") or {}
        return StatusReport(
            deployment=self.deployment,
            done=done,
            failed=failed,
            message=message,
            messages=seen,
            generation=int(dep.get("metadata", {}).get("generation") or 0),
            observed_generation=int(status.get("observedGeneration") or 0),
        )


def require_deployment(cluster: Cluster, namespace: str, name: str) -> Obj:
    """The Deployment, or ActionError saying it is missing."""
    dep = cluster.get_or_none(path_for("deployment", namespace, name))
    if dep is None:
        raise ActionError(f'deployment "{name}" not found in namespace {namespace}')
    return dep


def rollout_status(
    cluster: Cluster, deployment: str, namespace: str = "festsafe", *, timeout_s: float = 300.0
) -> StatusReport:
    """``kubectl rollout status`` as a call: wait, then the report (``ok``, ``detail``)."""
    return RolloutStatus(deployment=deployment, namespace=namespace, timeout_s=timeout_s).wait(
        cluster
    )
