"""Build the real sources of a configured (live) environment.

Kept apart from the clients so that importing one client never drags in the others, and so
that an unconfigured system is simply ``None`` (the runbook then reports it as unavailable).
"""

from __future__ import annotations

from festsafe_nb.catalog import Catalog
from festsafe_nb.config import Environment
from festsafe_nb.sources import Sources


def connect(env: Environment, catalog: Catalog) -> Sources:
    """Clients for every system the environment names; nothing is contacted yet."""
    metrics = kube = database = cache = None
    if env.prometheus_url:
        from festsafe_nb.sources.prometheus import PrometheusSource

        metrics = PrometheusSource(env.prometheus_url, timeout_s=env.timeout_s)
    if env.kubeconfig or env.kube_context or env.kube_server:
        from festsafe_nb.sources.kubernetes import KubernetesSource

        kube = KubernetesSource(
            kubeconfig=env.kubeconfig,
            context=env.kube_context,
            server=env.kube_server,
            timeout_s=env.timeout_s,
        )
    if env.postgres_dsn:
        from festsafe_nb.sources.postgres import PostgresSource

        database = PostgresSource(
            env.postgres_dsn,
            password=env.secret(env.postgres_password_env),
            timeout_s=env.timeout_s,
            catalog=catalog,
        )
    if env.redis_url:
        from festsafe_nb.sources.redis import RedisSource

        cache = RedisSource(
            env.redis_url, password=env.secret(env.redis_password_env), timeout_s=env.timeout_s
        )
    return Sources(metrics=metrics, kube=kube, database=database, cache=cache)
