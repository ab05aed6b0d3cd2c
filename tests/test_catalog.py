"""Catalog schema: every signal and query is complete, renders, and refuses bad parameters."""

from __future__ import annotations

import re

import pytest

from festsafe_nb.catalog import load_catalog
from festsafe_nb.config import Thresholds
from festsafe_nb.errors import CatalogError

CATALOG = load_catalog()
CONTRACT_METRICS = {
    "http_request_duration_seconds_bucket",
    "http_requests_total",
    "pg_stat_activity_count",
    "pg_settings_max_connections",
    "festsafe_db_query_duration_seconds_bucket",
    "festsafe_model_mae",
    "festsafe_inference_duration_seconds_bucket",
    "festsafe_external_api_duration_seconds_bucket",
    "festsafe_external_api_requests_total",
    "rabbitmq_queue_messages_ready",
    "festsafe_observations_ingested_total",
    "redis_keyspace_hits_total",
    "redis_keyspace_misses_total",
    "kube_deployment_status_replicas_available",
    "kube_deployment_spec_replicas",
    "festsafe_auth_failures_total",
    "festsafe_api_response_bytes_total",
}
PROMQL_WORDS = {"sum", "by", "rate", "histogram_quantile", "max", "le", "without", "avg"}


@pytest.mark.parametrize("name", sorted(CATALOG.signals))
def test_signal_is_complete_and_renders(name: str) -> None:
    sig = CATALOG.signal(name)
    assert sig.description and sig.unit
    rendered = sig.render()
    assert "$" not in rendered, "every placeholder has a declared parameter"
    if sig.threshold is not None:
        assert sig.threshold in Thresholds.model_fields
    without_grouping = re.sub(r"\b(by|without)\s*\([^)]*\)", "", rendered)
    metrics = {
        m
        for m in re.findall(r"\b([a-z_][a-z0-9_]*)\s*(?:\{|\[|\))", without_grouping)
        if m not in PROMQL_WORDS
    }
    assert metrics, rendered
    assert metrics <= CONTRACT_METRICS, metrics - CONTRACT_METRICS
    for label in sig.labels:
        assert re.match(r"^[a-z_]+$", label)


@pytest.mark.parametrize("name", sorted(CATALOG.queries))
def test_query_placeholders_match_parameters(name: str) -> None:
    q = CATALOG.query(name)
    placeholders = set(re.findall(r"%\((\w+)\)s", q.sql))
    assert placeholders == set(q.params), name
    assert "{" not in q.sql, "no str.format placeholders in SQL"
    assert set(q.bind()) == placeholders


@pytest.mark.parametrize(
    ("signal", "params"),
    [
        ("api_latency_p95", {"rate": "5m) or vector(1"}),
        ("api_latency_p95", {"services": 'backend"} or vector(1) #'}),
        ("load_per_replica", {"service": 'backend"}'}),
        ("api_latency_p95", {"nope": "1"}),
        ("api_latency_p95", {"rate": 5}),
    ],
)
def test_bad_parameters_are_refused(signal: str, params: dict[str, object]) -> None:
    with pytest.raises(CatalogError):
        CATALOG.signal(signal).render(**params)


def test_query_numbers_are_checked() -> None:
    q = CATALOG.query("pg_long_running")
    assert q.bind(min_seconds=2.5)["min_seconds"] == 2.5
    with pytest.raises(CatalogError):
        q.bind(limit=1.5)
    with pytest.raises(CatalogError):
        q.bind(min_seconds="1; DROP TABLE observations")


def test_unknown_names() -> None:
    with pytest.raises(CatalogError):
        CATALOG.signal("nope")
    with pytest.raises(CatalogError):
        CATALOG.query("nope")


def test_overlay_replaces_an_entry(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "site.yaml").write_text(
        "signals:\n  api_error_rate:\n    description: renamed\n"
        "    promql: sum(rate(api_errors_total[5m]))\n    labels: []\n    unit: ratio\n"
    )
    cat = load_catalog(str(tmp_path))
    assert cat.signal("api_error_rate").render() == "sum(rate(api_errors_total[5m]))"
    assert "api_latency_p95" in cat.signals
