"""Rotate a secret key, then restart what reads it: the Security Incident runbook's step 5.

The runbook's command is ``kubectl create secret generic <s> --from-literal=<k>=... -n <ns>
--dry-run=client -o yaml | kubectl apply -f -``. This action sends what that pipeline sends:
a create (POST) when the Secret is absent, otherwise kubectl apply's strategic-merge patch of
``data.<k>`` plus the ``kubectl.kubernetes.io/last-applied-configuration`` annotation (so a
later ``kubectl apply`` by hand still computes the right three-way merge; like kubectl, the
annotation holds the new data). Then each Deployment whose pod template reads the Secret
(env ``secretKeyRef``/``envFrom``, ``secret`` or projected volumes) and is in ``restart`` is
restarted the way ``kubectl rollout restart`` does it.

The new value is made inside ``execute()`` with ``secrets.token_urlsafe(48)``, sent once and
forgotten: it is never a field, never in the plan, outcome, diff, kubectl text, exceptions or
logs. The plan's dry run uses a throwaway value. Tests fix the value through the private
``_value_factory`` attribute, which no parameter, plan or ``model_validate`` can set.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field, PrivateAttr

from festsafe_nb.actions._common import (
    as_cluster,
    build_plan,
    check_plan,
    check_version,
    dry_run,
    rfc3339,
)
from festsafe_nb.actions.base import REDACTED, Action, ActionError, Outcome, Plan, Verification
from festsafe_nb.actions.cluster import STRATEGIC_PATCH, Cluster, Obj, path_for
from festsafe_nb.actions.diff import LAST_APPLIED, unified_diff
from festsafe_nb.actions.restart import refuse_paused, restart_patch, verify_restart

__all__ = ["RotateSecret", "secret_users"]

_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


def _template_uses(template: Obj, secret: str) -> bool:
    spec = template.get("spec", {})
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for env in c.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name") == secret:
                return True
        for src in c.get("envFrom") or []:
            if (src.get("secretRef") or {}).get("name") == secret:
                return True
    for vol in spec.get("volumes") or []:
        if (vol.get("secret") or {}).get("secretName") == secret:
            return True
        for src in (vol.get("projected") or {}).get("sources") or []:
            if (src.get("secret") or {}).get("name") == secret:
                return True
    return False


def secret_users(cluster: Cluster, namespace: str, secret: str) -> list[str]:
    """Deployments whose pod template reads ``secret`` (sorted by name)."""
    return sorted(
        d["metadata"]["name"]
        for d in cluster.items(path_for("deployment", namespace))
        if _template_uses(d.get("spec", {}).get("template", {}), secret)
    )


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


class RotateSecret(Action):
    """Replace one key of a Secret with a fresh random value; restart its readers."""

    name: ClassVar[str] = "rotate_secret"
    secret: str = Field("festsafe-secrets", pattern=_NAME, max_length=253)
    key: str = Field("secret-key", pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)
    restart: list[str] = Field(default_factory=lambda: ["backend", "workers"])
    _value_factory: Callable[[], str] | None = PrivateAttr(default=None)

    def target(self) -> str:
        return f"secret/{self.secret}"

    def _restart_cmds(self, deployments: list[str]) -> str:
        return "".join(
            f"\nkubectl rollout restart deployment/{d} -n {self.namespace}" for d in deployments
        )

    def kubectl(self) -> str:
        return (
            f"kubectl create secret generic {self.secret} --from-literal={self.key}={REDACTED} "
            f"-n {self.namespace} --dry-run=client -o yaml | kubectl apply -f -"
            + self._restart_cmds(self.restart)
        )

    def target_version(self, cluster: Any) -> str | None:
        found = as_cluster(cluster).get_or_none(path_for("secret", self.namespace, self.secret))
        if found is None:
            return None
        rv: str | None = found["metadata"].get("resourceVersion")
        return rv

    # ---- what kubectl's pipeline sends ----

    def _applied(self, value: str) -> Obj:
        """The object ``kubectl create secret ... -o yaml`` prints (what apply applies)."""
        return {
            "apiVersion": "v1",
            "data": {self.key: _b64(value)},
            "kind": "Secret",
            "metadata": {
                "creationTimestamp": None,
                "name": self.secret,
                "namespace": self.namespace,
            },
        }

    def _last_applied(self, value: str) -> str:
        obj = self._applied(value)
        obj["metadata"]["annotations"] = {}
        return json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n"

    def _request(self, current: Obj | None, value: str) -> tuple[str, Any]:
        """("create", body) or ("patch", strategic-merge patch), as kubectl apply decides."""
        if current is None:
            body = self._applied(value)
            body["metadata"]["annotations"] = {LAST_APPLIED: self._last_applied(value)}
            return "create", body
        data: dict[str, Any] = {self.key: _b64(value)}
        old = (current.get("metadata", {}).get("annotations") or {}).get(LAST_APPLIED)
        try:
            previous = json.loads(old) if old else {}
        except ValueError:
            previous = {}
        for gone in (previous.get("data") or {}) if isinstance(previous, dict) else {}:
            if gone != self.key:
                data[gone] = None  # applied before, not any more: kubectl deletes it
        patch = {
            "data": data,
            "metadata": {"annotations": {LAST_APPLIED: self._last_applied(value)}},
        }
        return "patch", patch

    def _send(self, c: Cluster, current: Obj | None, value: str, *, dry: bool) -> Obj:
        verb, body = self._request(current, value)
        if verb == "create":
            return c.create(path_for("secret", self.namespace), body, dry_run=dry)
        if not dry and current is not None:
            body["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
        path = path_for("secret", self.namespace, self.secret)
        return c.patch(path, body, STRATEGIC_PATCH, dry_run=dry)

    def _deployments(self, c: Cluster) -> tuple[list[str], list[str]]:
        """(to restart, readers left alone): readers ∩ ``restart``, else ``restart``."""
        users = secret_users(c, self.namespace, self.secret)
        if users:
            return [d for d in users if d in self.restart], [
                d for d in users if d not in self.restart
            ]
        existing = {d["metadata"]["name"] for d in c.items(path_for("deployment", self.namespace))}
        return [d for d in self.restart if d in existing], []

    # ---- plan / execute / verify ----

    def plan(self, cluster: Any) -> Plan:
        c = as_cluster(cluster)
        throwaway = secrets.token_urlsafe(48)
        current = c.get_or_none(path_for("secret", self.namespace, self.secret))
        planned_at = datetime.now(UTC).replace(microsecond=0)
        after, ok, refusal = dry_run(lambda: self._send(c, current, throwaway, dry=True))
        restart, left = self._deployments(c)
        diffs = [unified_diff(current, after, self.target()) if ok else "(dry run refused)"]
        lines = [
            f"accepted: {self.secret}.{self.key} {'replaced' if current else 'created'} "
            "(value: generated at execution)"
            if ok
            else refusal
        ]
        for d in restart:
            path = path_for("deployment", self.namespace, d)
            dep = c.get(path)
            refuse_paused(dep)
            patch = restart_patch(rfc3339(planned_at))
            res, d_ok, d_refusal = dry_run(_dry_patch(c, path, patch))
            ok = ok and d_ok
            diffs.append(unified_diff(dep, res, f"deployment/{d}") if d_ok else "(dry run refused)")
            lines.append(f"restart deployment/{d}: " + ("accepted" if d_ok else d_refusal))
        if left:
            lines.append(
                "also reading the secret, not restarted (not in restart): " + ", ".join(left)
            )
        if not restart:
            lines.append("no deployment to restart")
        plan = build_plan(
            self,
            before=None,
            after=None,
            ok=ok,
            outcome="; ".join(lines),
            resource_version=(current or {}).get("metadata", {}).get("resourceVersion"),
            kubectl=(
                f"kubectl create secret generic {self.secret} --from-literal={self.key}="
                f"{REDACTED} -n {self.namespace} --dry-run=client -o yaml | kubectl apply -f -"
                + self._restart_cmds(restart)
            ),
            planned_at=planned_at,
        )
        return plan.model_copy(update={"diff": "\n".join(diffs)})

    def execute(self, cluster: Any, plan: Plan) -> Outcome:
        c = as_cluster(cluster)
        check_plan(self, plan)
        factory = self._value_factory or (lambda: secrets.token_urlsafe(48))
        value = factory()
        try:
            return self._execute(c, plan, value)
        except ActionError as exc:
            raise ActionError(_scrub(str(exc), value)) from None
        except Exception as exc:  # never let a traceback carry the value
            raise ActionError(_scrub(f"{type(exc).__name__}: {exc}", value)) from None
        finally:
            del value

    def _execute(self, c: Cluster, plan: Plan, value: str) -> Outcome:
        path = path_for("secret", self.namespace, self.secret)
        current = c.get_or_none(path)
        if current is None and plan.resource_version is not None:
            raise ActionError(f"{self.target()} was deleted since it was planned; plan again")
        if current is not None:
            if plan.resource_version is None:
                raise ActionError(f"{self.target()} was created since it was planned; plan again")
            check_version(current, plan, self.target())
        written = self._send(c, current, value, dry=False)
        restart, _ = self._deployments(c)
        at = rfc3339(plan.planned_at)
        done = []
        for d in restart:
            c.patch(path_for("deployment", self.namespace, d), restart_patch(at), STRATEGIC_PATCH)
            done.append(f"deployment/{d}")
        return Outcome(
            ok=True,
            detail=f"secret/{self.secret} {'configured' if current else 'created'}"
            + "".join(f"; {d} restarted" for d in done),
            resource_version=written.get("metadata", {}).get("resourceVersion"),
            objects=[self.target(), *done],
            expected={"restartedAt": at, "deployments": restart, "key": self.key},
        )

    def verify(self, cluster: Any, outcome: Outcome, timeout_s: float) -> Verification:
        c = as_cluster(cluster)
        found = c.get_or_none(path_for("secret", self.namespace, self.secret))
        if found is None or self.key not in (found.get("data") or {}):
            return Verification(ok=False, detail=f"{self.target()} has no key {self.key}")
        details = [f"{self.target()} holds a new {self.key}"]
        ok = True
        at = outcome.expected.get("restartedAt")
        for d in outcome.expected.get("deployments") or []:
            v = verify_restart(c, self.namespace, str(d), str(at) if at else None, timeout_s)
            ok = ok and v.ok
            details.append(v.detail)
        return Verification(ok=ok, detail="; ".join(details))


def _dry_patch(c: Cluster, path: str, patch: Obj) -> Callable[[], Obj]:
    return lambda: c.patch(path, patch, STRATEGIC_PATCH, dry_run=True)


def _scrub(text: str, value: str) -> str:
    for form in (value, _b64(value)):
        text = text.replace(form, REDACTED)
    return text
