"""The gate: the only caller of ``Action.execute()``, and the writer of the audit log.

Flow: a runbook's diagnosis proposes an action; the notebook asks the gate for a
:class:`~festsafe_nb.actions.base.Plan` (``gate.plan``), shows it (``widgets.gate_panel``
interactively, ``widgets.static_block`` headless) and calls ``gate.execute(action, plan,
confirmed=..., reason=...)``. Every check happens *inside* ``execute`` on every call, because
UI state proves nothing (a disabled ipywidgets Button still fires ``click()``), in this order:

1. execution mode: interactive needs ``confirmed=True`` and a written reason; headless needs a
   ``HeadlessPolicy`` for this action, alert, runbook and namespace (default deny; a scale
   must stay within the policy's ``max_replicas``);
2. identity and role (``identity.resolve_identity``; ``remediation.required_role``; a missing
   mapping refuses);
3. the plan's server-side dry run succeeded;
4. the plan is one this gate issued for this very action, unchanged (digest) and not executed
   before, and the target's resourceVersion has not moved since;
5. maintenance windows: a warning, recorded, never a refusal.

Then execute, verify, and audit ``executed`` or ``failed``. Each refusal is audited too, with
the reason the caller is shown. No ipywidgets here: headless runs and tests use the gate alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from festsafe_nb.actions.audit import AuditLog, AuditRecord, Decision, secret_values
from festsafe_nb.actions.base import Action, ActionError, Outcome, Plan, Verification
from festsafe_nb.actions.identity import Identity, resolve_identity, roles_of
from festsafe_nb.config import HeadlessPolicy, Settings
from festsafe_nb.windows import active_windows

Mode = Literal["interactive", "headless"]
MODES: tuple[str, ...] = ("interactive", "headless")


class GateResult(BaseModel):
    """What the gate decided and why; the widgets and the report render this."""

    decision: Decision
    reason: str
    plan_digest: str | None
    outcome: Outcome | None = None
    verification: Verification | None = None
    warnings: list[str] = Field(default_factory=list)
    actor: str | None = None
    audit_seq: int | None = None

    @property
    def executed(self) -> bool:
        return self.decision == "executed"


class _Refused(Exception):
    """Internal: one check failed; ``str()`` is the reason shown and audited."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _component(target: str) -> str:
    """``deployment/backend`` -> ``backend``: maintenance windows are per component."""
    return target.rsplit("/", 1)[-1]


class Gate:
    """Checks, executes and audits actions for one run (``run_id``) in one ``mode``.

    ``alert`` and ``runbook`` select headless policies; ``secrets`` are extra known values to
    scrub from audit entries (the environments' passwords are added automatically).
    """

    def __init__(
        self,
        settings: Settings,
        cluster: Any,
        audit_log: AuditLog | Path | str,
        *,
        run_id: str,
        mode: str,
        alert: str | None = None,
        runbook: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
        secrets: Iterable[str] = (),
    ) -> None:
        self.settings = settings
        self.cluster = cluster
        self.audit = audit_log if isinstance(audit_log, AuditLog) else AuditLog(audit_log)
        self.run_id = run_id
        self.mode = mode
        self.alert = alert
        self.runbook = runbook
        self.clock = clock
        self._secrets = [*secrets, *self._environment_secrets()]
        self._issued: dict[tuple[str, str], Plan] = {}
        self._consumed: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.results: list[GateResult] = []

    def _environment_secrets(self) -> list[str]:
        out = []
        for env in self.settings.environments.values():
            for var in (env.postgres_password_env, env.redis_password_env):
                value = env.secret(var)
                if value:
                    out.append(value)
        return out

    @staticmethod
    def _key(plan: Plan) -> tuple[str, str]:
        return plan.digest, plan.planned_at.isoformat()

    # ---- planning ----

    def plan(self, action: Action) -> Plan:
        """Ask the action for its dry-run plan and remember it as reviewable.

        A plan that the cluster refused still comes back (``dry_run_ok=False``) so it can be
        shown; ``execute`` refuses it."""
        try:
            plan = action.plan(self.cluster)
        except ActionError as exc:
            plan = Plan(
                action=action.name,
                target=action.target(),
                namespace=action.namespace,
                parameters=action.redacted_parameters(),
                kubectl=action.kubectl(),
                diff="",
                dry_run_ok=False,
                dry_run=f"dry run refused: {exc}",
                resource_version=None,
            )
        with self._lock:
            self._issued[self._key(plan)] = plan
        return plan

    # ---- executing ----

    def execute(self, action: Action, plan: Plan, *, confirmed: bool, reason: str) -> GateResult:
        """Check everything, then act; every call writes exactly one audit entry."""
        with self._lock:
            return self._execute(action, plan, confirmed=confirmed, reason=reason)

    def _execute(self, action: Action, plan: Plan, *, confirmed: bool, reason: str) -> GateResult:
        identity = resolve_identity(self.settings.remediation)
        written = reason.strip() if isinstance(reason, str) else ""

        def record(decision: Decision, why: str, justification: str, **kw: Any) -> GateResult:
            return self._record(
                action, plan, identity, decision, why, justification, warnings, **kw
            )

        warnings = self._maintenance_warnings(action)
        try:
            policy_note = self._check_mode(action, confirmed=confirmed, reason=reason)
            justification = "; ".join(x for x in (policy_note, written) if x)
            self._check_identity(action, identity)
            self._check_plan(action, plan)
            self.audit.head()  # an action whose entry cannot be chained must not run
        except _Refused as exc:
            return record("refused", str(exc), written)
        self._consumed.add(self._key(plan))
        outcome: Outcome | None = None
        try:
            outcome = action.execute(self.cluster, plan)
            if not outcome.ok:
                raise ActionError(outcome.detail)
        except Exception as exc:  # any failure while acting is recorded, never lost
            why = f"execute failed: {type(exc).__name__}: {exc}"
            return record("failed", why, justification, outcome=outcome)
        try:
            verification = action.verify(
                self.cluster, outcome, self.settings.remediation.verify_timeout_s
            )
        except Exception as exc:
            verification = Verification(
                ok=False, detail=f"verify failed: {type(exc).__name__}: {exc}"
            )
        if not verification.ok:
            why = f"executed but verification failed: {verification.detail}"
            return record("failed", why, justification, outcome=outcome, verification=verification)
        why = f"executed by {identity.label()}: {outcome.detail}"
        return record("executed", why, justification, outcome=outcome, verification=verification)

    # ---- checks (each raises _Refused with the reason) ----

    def _check_mode(self, action: Action, *, confirmed: bool, reason: str) -> str:
        if self.mode not in MODES:
            raise _Refused(f"unknown execution mode {self.mode!r} (interactive or headless)")
        if self.mode == "interactive":
            if confirmed is not True:
                raise _Refused("not confirmed: tick the confirmation box after reading the plan")
            if not isinstance(reason, str) or not reason.strip():
                raise _Refused("no reason given: write why this action is needed")
            return ""
        return self._check_policy(action)

    def _check_policy(self, action: Action) -> str:
        matching = [
            p for p in self.settings.remediation.headless_policies if self._matches(p, action)
        ]
        if not matching:
            raise _Refused(
                f"no headless policy allows {action.name!r} for "
                + (f"alert {self.alert!r} " if self.alert else "a run without an alert ")
                + f"(runbook {self.runbook or '-'}, namespace {action.namespace}): default deny"
            )
        replicas = getattr(action, "replicas", None)
        for policy in matching:
            limit = policy.max_replicas
            if limit is None or not isinstance(replicas, int) or replicas <= limit:
                return (
                    f"headless policy: {policy.action} for alert {policy.alert}, runbook "
                    f"{policy.runbook}, namespace {policy.namespace}"
                    + (f", max_replicas {limit}" if limit is not None else "")
                )
        limits = ", ".join(str(p.max_replicas) for p in matching)
        raise _Refused(
            f"headless policy caps replicas at {limits}; this action asks for {replicas}"
        )

    def _matches(self, policy: HeadlessPolicy, action: Action) -> bool:
        # "*": any alert-triggered run; "none": a run no alert started (e.g. a CD pipeline)
        if self.alert is None:
            alert_ok = policy.alert == "none"
        else:
            alert_ok = policy.alert in ("*", self.alert)
        return (
            policy.action == action.name
            and alert_ok
            and policy.runbook in ("*", self.runbook)
            and policy.namespace in ("*", action.namespace)
        )

    def _check_identity(self, action: Action, identity: Identity) -> None:
        remediation = self.settings.remediation
        if identity.name is None:
            raise _Refused(
                "unknown identity: no JUPYTERHUB_USER, no configured actor and no OS user"
            )
        roles = roles_of(identity, remediation)
        if roles is None:
            raise _Refused(f"unknown identity: {identity.label()} has no roles in the settings")
        required = remediation.required_role.get(action.name)
        if required is None:
            raise _Refused(f"no role is configured for action {action.name!r}: refused")
        if required not in roles:
            have = ", ".join(roles) or "none"
            raise _Refused(
                f"wrong role: {action.name} needs role {required!r}; {identity.label()} has {have}"
            )

    def _check_plan(self, action: Action, plan: Plan) -> None:
        if not plan.dry_run_ok:
            raise _Refused(f"the plan's dry run did not succeed: {plan.dry_run}")
        key = self._key(plan)
        if key not in self._issued:
            raise _Refused("plan digest does not match any plan this gate issued for review")
        if key in self._consumed:
            raise _Refused("this plan was already executed; plan again")
        if (
            plan.action != action.name
            or plan.target != action.target()
            or plan.namespace != action.namespace
            or plan.parameters != action.redacted_parameters()
        ):
            raise _Refused("the plan was made for a different action or parameters")
        try:
            now = action.target_version(self.cluster)
        except ActionError as exc:
            raise _Refused(f"cannot read the target to check it is unchanged: {exc}") from exc
        if now != plan.resource_version:
            raise _Refused(
                f"target changed since the plan: resourceVersion {plan.resource_version} -> "
                f"{now}; plan again and review"
            )

    def _maintenance_warnings(self, action: Action) -> list[str]:
        at = self.clock()
        component = _component(action.target())
        return [
            f"inside maintenance window {w.name!r} ({w.start:%H:%M}-{w.end:%H:%M} UTC) "
            f"for {component}"
            for w in active_windows(self.settings.maintenance_windows, at, component)
        ]

    # ---- audit ----

    def _record(
        self,
        action: Action,
        plan: Plan,
        identity: Identity,
        decision: Decision,
        why: str,
        justification: str,
        warnings: list[str],
        *,
        outcome: Outcome | None = None,
        verification: Verification | None = None,
    ) -> GateResult:
        roles = roles_of(identity, self.settings.remediation) or []
        record = AuditRecord(
            time=self.clock(),
            actor=identity.name,
            actor_source=identity.source,
            roles=roles,
            run_id=self.run_id,
            mode=self.mode,
            runbook=self.runbook,
            alert=self.alert,
            action=action.name,
            parameters=action.redacted_parameters(),
            target=action.target(),
            namespace=action.namespace,
            kubectl=plan.kubectl,
            plan_digest=plan.digest,
            resource_version=plan.resource_version,
            decision=decision,
            reason=why,
            justification=justification,
            result=outcome.model_dump(mode="json") if outcome is not None else None,
            verification=(
                verification.model_dump(mode="json") if verification is not None else None
            ),
            warnings=warnings,
        )
        entry = self.audit.append(record, secrets=[*self._secrets, *secret_values(action)])
        result = GateResult(
            decision=decision,
            reason=entry["reason"],
            plan_digest=plan.digest,
            # from the stored (scrubbed) entry: what is shown never holds more than the log
            outcome=Outcome.model_validate(entry["result"]) if entry["result"] else None,
            verification=(
                Verification.model_validate(entry["verification"])
                if entry["verification"]
                else None
            ),
            warnings=entry["warnings"],
            actor=identity.name,
            audit_seq=entry["seq"],
        )
        self.results.append(result)
        return result

    def audit_entries(self) -> list[dict[str, Any]]:
        """This run's entries, for ``summary.json``."""
        return self.audit.list(run_id=self.run_id)
