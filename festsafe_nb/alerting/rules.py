"""Prometheus alert rules generated from the query catalog.

Sits between the catalog (``festsafe_nb.catalog``: a signal's PromQL, unit, threshold and its
optional ``alert`` block) and the Prometheus that pages: the thresholds an alert fires on are
the same numbers the runbooks draw on their charts and judge findings by, so an alert and the
runbook it triggers cannot disagree about what "breach" means. Each rule carries the labels the
Alertmanager routes on (``severity``, ``component``) and a ``runbook`` annotation naming the
notebook that answers it. ``alerting/festsafe-rules.yml`` is this module's output for the
default thresholds, kept in sync by a test.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from string import Template
from typing import Any

import yaml

from festsafe_nb.catalog import Catalog, Signal, load_catalog
from festsafe_nb.config import Settings, Thresholds
from festsafe_nb.errors import CatalogError

HEADER = (
    "# Prometheus alert rules for FestSafe, generated from festsafe_nb/catalog/signals.yaml\n"
    "# by `festsafe-nb alerting rules` with the default thresholds. Do not edit by hand:\n"
    "# change the catalog (or your festsafe.toml thresholds) and regenerate.\n"
)
_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d))+$")
_LOGICAL = re.compile(r"\b(and|or|unless)\b")


def number(value: float) -> str:
    """A threshold as PromQL and people write it: ``500``, ``0.8``, ``1048576``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def scaled_promql(signal: Signal, params: Mapping[str, Any] | None = None) -> str:
    """The signal's PromQL in its catalog unit (ms, not seconds), so ``$value`` reads as shown."""
    promql = signal.render(**dict(params or {}))
    if signal.scale != 1:
        return f"({promql}) * {number(signal.scale)}"
    return f"({promql})" if _LOGICAL.search(promql) else promql


def limit_of(signal: Signal, thresholds: Thresholds) -> float | None:
    """The number the alert compares with: the runbook threshold, else the alert's own limit."""
    value = signal.threshold_value(thresholds)
    if value is None and signal.alert is not None:
        return signal.alert.limit
    return value


def alert_expr(signal: Signal, thresholds: Thresholds, catalog: Catalog | None = None) -> str:
    """The rule's ``expr``: threshold + ``bad_when``, or the alert's explicit template."""
    alert = signal.alert
    if alert is None:
        raise CatalogError(f"signal {signal.name!r} has no alert")
    own = scaled_promql(signal, alert.params)
    limit = limit_of(signal, thresholds)
    if alert.expr is None:
        if limit is None:  # the catalog validator makes this unreachable; keep mypy honest
            raise CatalogError(f"alert {alert.name}: nothing to compare with")
        return f"{own} {'>' if signal.bad_when == 'above' else '<'} {number(limit)}"
    others = {
        name: f"({scaled_promql(s)})" for name, s in (catalog or load_catalog()).signals.items()
    }
    values = {**others, "signal": own}
    if limit is not None:
        values["threshold"] = values["limit"] = number(limit)
    try:
        return Template(alert.expr).substitute(values)
    except (KeyError, ValueError) as exc:
        raise CatalogError(f"alert {alert.name}: bad expr template ({exc})") from None


def alert_rule(
    signal: Signal,
    thresholds: Thresholds,
    *,
    for_override: str | None = None,
    catalog: Catalog | None = None,
) -> dict[str, Any]:
    """One Prometheus alerting rule as a mapping, in the order promtool and people read it."""
    alert = signal.alert
    if alert is None:
        raise CatalogError(f"signal {signal.name!r} has no alert")
    hold = for_override if for_override is not None else alert.for_
    limit = limit_of(signal, thresholds)
    fill = {"for": hold, "threshold": number(limit) if limit is not None else "?"}
    return {
        "alert": alert.name,
        "expr": alert_expr(signal, thresholds, catalog),
        "for": hold,
        "labels": {"severity": alert.severity, "component": alert.component},
        "annotations": {
            "summary": Template(alert.summary).safe_substitute(fill),
            "description": Template(alert.description).safe_substitute(fill),
            "runbook": alert.runbook,
            "signal": signal.name,
        },
    }


def group_name(runbook: str) -> str:
    """``notebooks/high_latency.ipynb`` -> ``festsafe-high-latency``: one group per runbook."""
    stem = runbook.rsplit("/", 1)[-1].removesuffix(".ipynb")
    return "festsafe-" + stem.replace("_", "-")


def rules_document(
    settings: Settings | None = None,
    *,
    catalog: Catalog | None = None,
    for_override: str | None = None,
    interval: str | None = None,
) -> dict[str, Any]:
    """Every catalog alert as a Prometheus rules document, grouped by runbook, sorted.

    ``for_override`` replaces every rule's ``for`` (tests with backfilled history cannot wait
    in real time for a pending alert); ``interval`` sets each group's evaluation interval.
    """
    for value in (for_override, interval):
        if value is not None and not _DURATION.match(value):
            raise CatalogError(f"not a Prometheus duration: {value!r}")
    catalog = catalog or load_catalog()
    thresholds = settings.thresholds if settings is not None else Thresholds()
    groups: dict[str, list[dict[str, Any]]] = {}
    for signal in catalog.signals.values():
        if signal.alert is not None:
            rule = alert_rule(signal, thresholds, for_override=for_override, catalog=catalog)
            groups.setdefault(group_name(signal.alert.runbook), []).append(rule)
    names = [r["alert"] for rules in groups.values() for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CatalogError(f"alert names used twice: {duplicates}")
    out: list[dict[str, Any]] = []
    for name in sorted(groups):
        group: dict[str, Any] = {"name": name}
        if interval is not None:
            group["interval"] = interval
        group["rules"] = sorted(groups[name], key=lambda r: str(r["alert"]))
        out.append(group)
    return {"groups": out}


def render_rules(
    settings: Settings | None = None,
    *,
    catalog: Catalog | None = None,
    for_override: str | None = None,
    interval: str | None = None,
) -> str:
    """The rules file's text (what ``festsafe-nb alerting rules`` writes)."""
    doc = rules_document(settings, catalog=catalog, for_override=for_override, interval=interval)
    return HEADER + dump_yaml(doc)


def dump_yaml(doc: Mapping[str, Any]) -> str:
    """Block-style YAML with keys in insertion order and no line folding (stable diffs)."""
    return yaml.safe_dump(
        dict(doc), sort_keys=False, default_flow_style=False, width=1_000_000, allow_unicode=True
    )
