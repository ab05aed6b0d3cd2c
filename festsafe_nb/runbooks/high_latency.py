"""High Latency (RUNBOOK.md, "High Latency"): every step of the procedure as a check.

Steps: (1) P95 latency by service and route against 500 ms, and the error rate; (2) identify the
bottleneck across the database (query time, slow and blocked queries), ML inference and each
external API; (3) backend replicas against load, proposing the runbook's scale-up; (4) the
database connection pool against 80 % of max; (5) the Redis cache hit rate. ``diagnose`` weighs
the findings and names the suspected bottleneck with the evidence for it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from festsafe_nb.findings import (
    CommandBlock,
    Diagnosis,
    Finding,
    ProposedAction,
    Severity,
    Status,
    Suspect,
    TableBlock,
)
from festsafe_nb.runbooks.common import Check, judge_signal, measured, table

if TYPE_CHECKING:
    from festsafe_nb.session import RunbookSession

RUNBOOK = "high-latency"
COMPONENTS: tuple[Suspect, ...] = ("database", "ml_inference", "external_api", "cache", "capacity")


def latency_by_route(s: RunbookSession) -> Check:
    """Step 1: P95 latency per service and route against the runbook's 500 ms."""
    return judge_signal(
        s,
        "api_latency_p95",
        check="api_latency_p95",
        title="API P95 latency by route",
        severity=Severity.CRITICAL,
        what="The slowest route's P95 latency",
    )


def error_rate(s: RunbookSession) -> Check:
    """Step 1: the 5xx share per service against the runbook's 1 %."""
    return judge_signal(
        s,
        "api_error_rate",
        check="api_error_rate",
        title="API error rate (5xx share)",
        severity=Severity.WARNING,
        what="The highest 5xx share",
    )


def access_logs(s: RunbookSession, deployment: str = "backend") -> Check:
    """Step 1, from the pods themselves: the slowest and failed requests in the access log."""
    result = Check()
    title = f"{deployment} access log"
    kube = s.sources.kube
    if kube is None:
        from festsafe_nb.errors import SourceUnavailable

        result.add(
            Finding.unavailable_from(
                "access_log", title, SourceUnavailable("kubernetes", "not configured")
            )
        )
        return result
    got = s.attempt(
        "access_log",
        title,
        lambda: kube.logs(s.namespace, deployment, since_seconds=900, tail_lines=500),
    )
    if isinstance(got, Finding):
        result.add(got)
        return result
    logs = got
    result.frames["logs"] = logs
    if logs.empty or "duration_ms" not in logs.columns:
        result.add(
            Finding(
                check="access_log",
                title=title,
                status=Status.UNKNOWN,
                source="kubernetes",
                summary=f"No access-log lines from {deployment} in the last 15 minutes.",
            )
        )
        return result
    timed = logs.dropna(subset=["duration_ms"])
    p95 = float(timed["duration_ms"].quantile(0.95)) if not timed.empty else float("nan")
    errors = int((timed.get("status", 0).fillna(0).astype(float) >= 500).sum())
    cols = [c for c in ("ts", "pod", "route", "status", "duration_ms") if c in timed.columns]
    slowest = timed.sort_values("duration_ms", ascending=False)[cols]
    result.add(
        Finding(
            check="access_log",
            title=title,
            status=Status.OK,
            value=p95,
            unit="ms",
            source="kubernetes",
            summary=(
                f"{len(timed)} requests logged by {deployment} in the last 15 minutes: P95 "
                f"{p95:.0f} ms, {errors} answered 5xx (sample of the pods' own logs)."
            ),
            evidence=[
                table("slowest requests", slowest, limit=10),
                CommandBlock(command=f"kubectl logs deployment/{deployment} -n {s.namespace}"),
            ],
        )
    )
    return result


def database(s: RunbookSession) -> Check:
    """Step 2, database: query time, slow and blocked queries, the heaviest statements."""
    result = judge_signal(
        s,
        "db_query_p95",
        check="db_query_p95",
        title="Database query P95 by query",
        component="database",
        what="The slowest query's P95",
    )
    db = s.sources.database
    if db is None:
        from festsafe_nb.errors import SourceUnavailable

        result.add(
            Finding.unavailable_from(
                "db_activity",
                "Database activity",
                SourceUnavailable("postgresql", "not configured"),
            )
        )
        return result
    limit = s.thresholds.slow_query_seconds
    slow = s.attempt("db_slow_queries", "Long-running queries", lambda: db.long_running(limit))
    if isinstance(slow, Finding):
        slow.component = "database"
        result.add(slow)
        return result
    blocked = s.attempt("db_blocked_queries", "Blocked queries", db.blocked)
    if isinstance(blocked, Finding):
        blocked.component = "database"
        result.add(blocked)
        return result
    result.frames.update(long_running=slow, blocked=blocked)
    result.add(
        Finding(
            check="db_slow_queries",
            title="Long-running queries",
            status=Status.BREACH if len(slow) else Status.OK,
            severity=Severity.WARNING if len(slow) else Severity.INFO,
            value=float(len(slow)),
            unit="queries",
            summary=(
                f"{len(slow)} statement(s) or open transactions running longer than {limit:g} s"
                + (f"; the oldest for {slow['seconds'].max():.0f} s." if len(slow) else ".")
            ),
            component="database",
            source="postgresql",
            evidence=[table("pg_stat_activity, longest first", slow)] if len(slow) else [],
        )
    )
    blockers = sorted({int(p) for pids in blocked.get("blocked_by", []) for p in pids})
    result.add(
        Finding(
            check="db_blocked_queries",
            title="Blocked queries",
            status=Status.BREACH if len(blocked) else Status.OK,
            severity=Severity.WARNING if len(blocked) else Severity.INFO,
            value=float(len(blocked)),
            unit="queries",
            summary=(
                f"{len(blocked)} session(s) wait on locks held by pid(s) "
                f"{', '.join(map(str, blockers))}."
                if len(blocked)
                else "No session is waiting on a lock."
            ),
            component="database",
            source="postgresql",
            evidence=[table("sessions waiting on locks (pg_blocking_pids)", blocked)]
            if len(blocked)
            else [],
        )
    )
    top = s.attempt("db_top_statements", "Heaviest statements", lambda: db.top_statements(10))
    if isinstance(top, Finding):
        result.add(top)
    elif top is None:
        result.add(
            Finding(
                check="db_top_statements",
                title="Heaviest statements",
                status=Status.UNKNOWN,
                source="postgresql",
                summary="pg_stat_statements is not installed; statement statistics unknown.",
            )
        )
    else:
        result.frames["top_statements"] = top
        result.add(
            Finding(
                check="db_top_statements",
                title="Heaviest statements",
                status=Status.OK,
                source="postgresql",
                summary="Statements by mean execution time (pg_stat_statements), for context.",
                evidence=[table("pg_stat_statements by mean time", top.round(2))],
            )
        )
    return result


def ml_inference(s: RunbookSession) -> Check:
    """Step 2, ML inference: the model service's P95."""
    return judge_signal(
        s,
        "inference_p95",
        check="inference_p95",
        title="ML inference P95",
        component="ml_inference",
        what="Model inference P95",
    )


def external_apis(s: RunbookSession) -> Check:
    """Step 2, external APIs: each provider's P95 response time."""
    result = judge_signal(
        s,
        "external_api_p95",
        check="external_api_p95",
        title="External API P95 by API",
        component="external_api",
        what="The slowest external API's P95",
    )
    errors = judge_signal(
        s,
        "external_api_error_rate",
        check="external_api_errors",
        title="External API failure share",
        what="The highest failure share",
    )
    result.figures += errors.figures
    result.findings += errors.findings
    return result


def capacity(s: RunbookSession, deployment: str = "backend") -> Check:
    """Step 3: backend replicas against load; proposes the scale-up when replicas are short."""
    result = judge_signal(
        s,
        "load_per_replica",
        check="load_per_replica",
        title=f"{deployment} requests per available replica",
        component="capacity",
        what="Load per replica",
        service=deployment,
    )
    kube = s.sources.kube
    if kube is None:
        return result
    got = s.attempt("replicas", "Deployment replicas", lambda: kube.deployments(s.namespace))
    if isinstance(got, Finding):
        got.component = "capacity"
        result.add(got)
        return result
    result.frames["deployments"] = got
    row = got[got["name"] == deployment]
    if row.empty:
        result.add(
            Finding(
                check="replicas",
                title="Deployment replicas",
                status=Status.UNKNOWN,
                source="kubernetes",
                component="capacity",
                summary=f"No deployment {deployment!r} in namespace {s.namespace!r}.",
                evidence=[table("deployments", got)],
            )
        )
        return result
    want, ready = int(row["replicas"].iloc[0]), int(row["available_replicas"].iloc[0])
    short = ready < want
    evidence: list[TableBlock | CommandBlock] = [table("deployments", got)]
    pods = s.attempt("pods", "Pods", lambda: kube.pods(s.namespace, f"app={deployment}"))
    note = ""
    if not isinstance(pods, Finding) and len(pods):
        unhealthy = pods[(~pods["ready"].astype(bool)) | (pods["restarts"] > 0)]
        note = (
            f" {len(unhealthy)} of {len(pods)} pods not ready or restarting."
            if len(unhealthy)
            else f" All {len(pods)} pods ready, none restarting."
        )
        evidence.append(table(f"pods app={deployment}", pods))
    events = s.attempt("events", "Events", lambda: kube.events(s.namespace))
    if not isinstance(events, Finding) and len(events):
        warnings = events[events["type"] == "Warning"]
        if len(warnings):
            evidence.append(table("warning events in the namespace", warnings))
    evidence.append(CommandBlock(command=f"kubectl get pods -l app={deployment} -n {s.namespace}"))
    result.add(
        Finding(
            check="replicas",
            title="Deployment replicas",
            status=Status.BREACH if short else Status.OK,
            severity=Severity.WARNING if short else Severity.INFO,
            value=float(ready),
            threshold=float(want),
            bad_when="below",
            unit="replicas",
            summary=f"{deployment}: {ready} of {want} replicas available.{note}",
            component="capacity",
            source="kubernetes",
            evidence=evidence,
        )
    )
    return result


def connection_pool(s: RunbookSession) -> Check:
    """Step 4: database connections in use against the runbook's 80 % of max_connections."""
    result = judge_signal(
        s,
        "db_connections_ratio",
        check="db_connections_ratio",
        title="Database connections / max_connections",
        component="database",
        what="Connections in use",
    )
    db = s.sources.database
    if db is None:
        return result
    got = s.attempt("db_connections", "Connections now (pg_stat_activity)", db.connections)
    if isinstance(got, Finding):
        got.component = "database"
        result.add(got)
        return result
    result.frames["connections"] = got
    in_use = int(got["connections"].sum()) if len(got) else 0
    limit = int(got["max_connections"].iloc[0]) if len(got) else 0
    ratio = in_use / limit if limit else 0.0
    threshold = s.thresholds.db_connections_ratio
    result.add(
        measured(
            check="db_connections",
            title="Connections now (pg_stat_activity)",
            value=ratio,
            threshold=threshold,
            unit="ratio",
            summary=f"{in_use} of {limit} connections in use ({ratio:.0%}); threshold "
            f"{threshold:.0%}.",
            component="database",
            source="postgresql",
            evidence=[table("client connections by state", got)],
        )
    )
    return result


def cache(s: RunbookSession) -> Check:
    """Step 5: the Redis hit rate, over time (Prometheus) and as Redis counts it now."""
    result = judge_signal(
        s,
        "cache_hit_rate",
        check="cache_hit_rate",
        title="Redis cache hit rate",
        component="cache",
        what="The cache hit rate",
    )
    src = s.sources.cache
    if src is None:
        return result
    got = s.attempt("redis_hit_rate", "Redis keyspace hit rate (INFO stats)", src.stats)
    if isinstance(got, Finding):
        got.component = "cache"
        result.add(got)
        return result
    rate = got.hit_rate
    floor = s.thresholds.cache_hit_rate
    result.add(
        measured(
            check="redis_hit_rate",
            title="Redis keyspace hit rate (INFO stats)",
            value=rate,
            threshold=floor,
            bad_when="below",
            unit="ratio",
            summary=(
                "Redis has served no lookups since its counters were reset."
                if rate is None
                else f"{got.hits} hits, {got.misses} misses since the counters were reset: "
                f"hit rate {rate:.1%} (floor {floor:.0%})."
            ),
            component="cache",
            source="redis",
        )
    )
    return result


def run_all(s: RunbookSession) -> list[Check]:
    """Every step in runbook order (for scripts and tests; the notebook calls them one by one)."""
    return [
        latency_by_route(s),
        error_rate(s),
        access_logs(s),
        database(s),
        ml_inference(s),
        external_apis(s),
        capacity(s),
        connection_pool(s),
        cache(s),
    ]


_NEXT_STEPS: dict[str, list[str]] = {
    "database": [
        "Look at the blocking session(s) above; end them with pg_terminate_backend(pid) only if "
        "you know what they are doing.",
        "Check the slow query log and the statements with the highest mean time; add indexes.",
        "Review the connection pool size against max_connections; consider read replicas.",
    ],
    "ml_inference": [
        "Check ml-service metrics and its current model version (MLflow); a new version may be "
        "slower: roll back ml-service if so.",
        "Consider scaling ml-service or optimising model inference.",
    ],
    "external_api": [
        "Check the provider's status page and response times; the circuit breaker should shed "
        "calls to it.",
        "Serve the last good response from the cache (increase its TTL) while it is slow.",
    ],
    "cache": [
        "Find why the hit rate fell (flush, eviction, key change in a deploy): redis INFO, "
        "evicted_keys, recent deployments.",
        "Warm the cache for the hot forecast keys; increase the cache TTL.",
    ],
    "capacity": [
        "Scale up backend (proposed action below) and watch P95 latency recover.",
        "Check the HorizontalPodAutoscaler limits so it can follow the load next time.",
    ],
    "unknown": [
        "Latency is high but no dependency explains it: check CPU throttling, GC pauses and "
        "recent deployments of backend.",
    ],
    "none": ["Nothing to do: latency and errors are within the runbook's thresholds."],
}


def _scale_proposal(s: RunbookSession, deployment: str = "backend") -> ProposedAction:
    per_replica = next(
        (f.value for f in s.findings if f.check == "load_per_replica" and f.value), None
    )
    replicas = next((f for f in s.findings if f.check == "replicas"), None)
    current = int(replicas.threshold) if replicas and replicas.threshold else 3
    target = 5
    if per_replica:
        total = per_replica * max(current, 1)
        target = max(target, math.ceil(total / (s.thresholds.rps_per_replica * 0.8)))
    target = max(target, current + 1)
    return ProposedAction(
        action="scale",
        target=f"deployment/{deployment}",
        namespace=s.namespace,
        parameters={"replicas": target, "current": current},
        kubectl=f"kubectl scale deployment/{deployment} --replicas={target} -n {s.namespace}",
        reason=f"{deployment} is short of capacity: scale from {current} to {target} replicas "
        f"so each serves under {s.thresholds.rps_per_replica:g} req/s.",
    )


def diagnose(s: RunbookSession) -> Diagnosis:
    """Name the suspected bottleneck from the session's findings, with the evidence for it.

    A component is suspected when one of its findings breaches; among several, the one furthest
    past its threshold wins, with a small bonus per corroborating breach. Latency within its
    threshold means ``none``; latency breached with no component breached means ``unknown``.
    """
    findings = s.findings
    latency = next((f for f in findings if f.check == "api_latency_p95"), None)
    missing = sorted({f.source or f.check for f in findings if f.unavailable})
    scores: dict[str, float] = {}
    support: dict[str, list[str]] = {}
    for f in findings:
        if f.breached and f.component in COMPONENTS:
            scores[f.component] = max(scores.get(f.component, 0.0), f.ratio)
            support.setdefault(f.component, []).append(f.check)
    for comp, checks in support.items():
        scores[comp] += 0.1 * (len(checks) - 1)
    suffix = f" Evidence unavailable from: {', '.join(missing)}." if missing else ""
    suspect: Suspect
    if latency is None or latency.unavailable or latency.status is Status.UNKNOWN:
        suspect = "unknown"
        summary = "API latency could not be measured, so no bottleneck can be named."
        evidence = [latency.check] if latency else []
    elif not latency.breached:
        suspect = "none"
        summary = f"API latency is within the threshold: {latency.summary}"
        evidence = [latency.check]
        if scores:
            summary += f" Elevated, without user impact yet: {', '.join(sorted(scores))}."
    elif not scores:
        suspect = "unknown"
        summary = f"{latency.summary} No dependency check breached its threshold."
        evidence = [latency.check]
    else:
        ranked = sorted(scores, key=lambda c: -scores[c])
        suspect = ranked[0]  # type: ignore[assignment]
        lead = [f for f in findings if f.component == suspect and f.breached]
        summary = (
            f"{latency.summary} Suspected bottleneck: {suspect.replace('_', ' ')}. "
            + " ".join(f.summary for f in lead)
        )
        if len(ranked) > 1:
            summary += f" Also breached (likely secondary): {', '.join(ranked[1:])}."
        evidence = [latency.check, *support[suspect]]
    actions: list[ProposedAction] = []
    if suspect == "capacity":
        actions.append(_scale_proposal(s))
    return Diagnosis(
        runbook=RUNBOOK,
        suspect=suspect,
        summary=summary + suffix,
        evidence=evidence,
        next_steps=_NEXT_STEPS[suspect],
        proposed_actions=actions,
    )
