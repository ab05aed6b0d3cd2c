"""``kubectl create job <name> --from=cronjob/model-retrain``: start the retraining pipeline now.

The Job is built exactly as kubectl 1.32 builds it (``createJobFromCronJob``): the CronJob's
job template spec, its labels, its annotations plus ``cronjob.kubernetes.io/instantiate:
manual``, and a controller ownerReference to the CronJob without ``blockOwnerDeletion``.

kubectl needs a name; ours is ``<cronjob>-manual-<UTC yyyymmddhhmmss of the plan>`` (cut to
Kubernetes' 63 characters), unless ``job_name`` is given: deterministic for one plan, so the
kubectl command and diff shown are what execute creates, and unique enough for a manual run
(two plans in the same second collide and the second create is refused, AlreadyExists).
The target is the CronJob: its resourceVersion is the precondition, checked on the client
side just before the create (a create cannot carry a precondition on another object).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field

from festsafe_nb.actions._common import as_cluster, build_plan, check_plan, check_version, dry_run
from festsafe_nb.actions.base import Action, ActionError, Outcome, Plan, Verification
from festsafe_nb.actions.cluster import Cluster, Obj, path_for

__all__ = ["StartRetraining", "job_from_cronjob"]

_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def job_from_cronjob(cronjob: Obj, name: str, namespace: str) -> Obj:
    """kubectl's ``createJobFromCronJob``."""
    template = cronjob.get("spec", {}).get("jobTemplate", {})
    tmeta = template.get("metadata") or {}
    annotations = {
        "cronjob.kubernetes.io/instantiate": "manual",
        **(tmeta.get("annotations") or {}),
    }
    meta: Obj = {"name": name, "namespace": namespace, "annotations": annotations}
    if tmeta.get("labels"):
        meta["labels"] = copy.deepcopy(tmeta["labels"])
    meta["ownerReferences"] = [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": cronjob["metadata"]["name"],
            "uid": cronjob["metadata"].get("uid"),
            "controller": True,
        }
    ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


class StartRetraining(Action):
    """Run the model retraining CronJob once, now."""

    name: ClassVar[str] = "start_retraining"
    cronjob: str = Field("model-retrain", pattern=_NAME, max_length=52)
    job_name: str | None = Field(None, pattern=_NAME, max_length=63)

    def target(self) -> str:
        return f"cronjob/{self.cronjob}"

    def job_name_at(self, at: datetime) -> str:
        if self.job_name:
            return self.job_name
        suffix = f"-manual-{at.astimezone(UTC):%Y%m%d%H%M%S}"
        return self.cronjob[: 63 - len(suffix)].rstrip("-") + suffix

    def _command(self, job: str) -> str:
        return f"kubectl create job {job} --from=cronjob/{self.cronjob} -n {self.namespace}"

    def kubectl(self) -> str:
        return self._command(self.job_name or f"{self.cronjob}-manual-<yyyymmddhhmmss>")

    def _cronjob(self, c: Cluster) -> Obj:
        found = c.get_or_none(path_for("cronjob", self.namespace, self.cronjob))
        if found is None:
            raise ActionError(f'cronjobs.batch "{self.cronjob}" not found in {self.namespace}')
        return found

    def target_version(self, cluster: Any) -> str | None:
        rv: str | None = self._cronjob(as_cluster(cluster))["metadata"].get("resourceVersion")
        return rv

    def plan(self, cluster: Any) -> Plan:
        c = as_cluster(cluster)
        cron = self._cronjob(c)
        planned_at = datetime.now(UTC).replace(microsecond=0)
        name = self.job_name_at(planned_at)
        job = job_from_cronjob(cron, name, self.namespace)
        after, ok, refusal = dry_run(
            lambda: c.create(path_for("job", self.namespace), job, dry_run=True)
        )
        return build_plan(
            self,
            before=None,
            after=after,
            ok=ok,
            outcome=f"accepted: job.batch/{name} would be created" if ok else refusal,
            resource_version=cron["metadata"].get("resourceVersion"),
            label=f"job/{name}",
            kubectl=self._command(name),
            planned_at=planned_at,
        )

    def execute(self, cluster: Any, plan: Plan) -> Outcome:
        c = as_cluster(cluster)
        check_plan(self, plan)
        cron = self._cronjob(c)
        check_version(cron, plan, self.target())
        name = self.job_name_at(plan.planned_at)
        created = c.create(
            path_for("job", self.namespace), job_from_cronjob(cron, name, self.namespace)
        )
        return Outcome(
            ok=True,
            detail=f"job.batch/{name} created",
            resource_version=created.get("metadata", {}).get("resourceVersion"),
            objects=[f"job/{name}"],
            expected={"job": name, "owner_uid": cron["metadata"].get("uid")},
        )

    def verify(self, cluster: Any, outcome: Outcome, timeout_s: float) -> Verification:
        c = as_cluster(cluster)
        name = str(outcome.expected.get("job", ""))
        uid = outcome.expected.get("owner_uid")

        def probe() -> tuple[bool, str]:
            job = c.get_or_none(path_for("job", self.namespace, name))
            if job is None:
                return False, f"job.batch/{name} not found"
            refs = job.get("metadata", {}).get("ownerReferences") or []
            if not any(r.get("kind") == "CronJob" and r.get("uid") == uid for r in refs):
                return True, f"job.batch/{name} exists but is not owned by cronjob/{self.cronjob}"
            return True, f"job.batch/{name} exists, owned by cronjob/{self.cronjob}"

        done, message, _ = c.poll(probe, timeout_s)
        return Verification(ok=done and "exists, owned" in message, detail=message)
