"""The High Latency runbook against real services on loopback, fed by the simulator's scenarios.

Each scenario is exported once to the real systems (Prometheus history backfilled with
promtool, a PostgreSQL really holding connections, a long query and a lock wait, a Redis with
real hits and misses, the Kubernetes emulator with deployments, pods and their JSON logs);
the notebook then runs headless against them and must name the scenario's bottleneck.
Then each source in turn is down, silent or answering garbage: the run still completes,
reports the evidence as unavailable, exits 3 and writes its report.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from festsafe_nb import runner
from festsafe_nb.config import load_settings
from festsafe_nb.report import verify_manifest
from festsafe_nb.sim import load_scenario, scenario_names
from festsafe_nb.sim.cluster import seed
from festsafe_nb.sim.export import (
    cache_plan,
    database_plan,
    openmetrics_history,
)
from festsafe_nb.sim.kube import KubeEmulator
from tests.fixtures.faults import blackhole_server, closed_port, garbage_server
from tests.fixtures.prometheus import PrometheusFactory, PrometheusServer
from tests.fixtures.services import (
    PostgresServer,
    RedisServer,
    cache_state,
    database_state,
)

pytestmark = pytest.mark.integration

# every scenario that describes the platform (not the simulator's own source outages)
EXPECTED = {
    name: load_scenario(name).expect["high-latency"]
    for name in scenario_names()
    if not load_scenario(name).unavailable and not name.startswith("rollout-")
}
# the test server: max_connections=20, 3 of them reserved for superusers; the runbook's own
# PostgreSQL source needs one application slot while it looks
MAX_CONNECTIONS, APP_SLOTS, OWN_SESSIONS = 20, 17, 1


@dataclass
class Platform:
    """A scenario loaded into real services, and the settings file that points at them."""

    end: datetime
    prometheus: PrometheusServer
    config: Path

    def params(self) -> dict[str, Any]:
        return {"environment": "itest", "end": self.end.isoformat(), "window_minutes": 60}


def write_config(
    path: Path, *, prometheus: str, kubeconfig: str, postgres_dsn: str, redis_url: str
) -> Path:
    path.write_text(
        "[environments.itest]\n"
        f'prometheus_url = "{prometheus}"\n'
        f'kubeconfig = "{kubeconfig}"\n'
        'kube_context = "emulator"\n'
        f'postgres_dsn = "{postgres_dsn}"\n'
        f'redis_url = "{redis_url}"\n'
        "timeout_s = 1.0\n"
        # the real sessions were started seconds ago, not the scenario's half hour
        "[thresholds]\nslow_query_seconds = 1.0\n"
    )
    return path


def seed_kube(kube: KubeEmulator, scenario: str, end: datetime) -> None:
    seed(kube, load_scenario(scenario), end)


@contextlib.contextmanager
def loaded(
    scenario: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prometheus_factory: PrometheusFactory,
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    kube: KubeEmulator,
) -> Iterator[Platform]:
    sc = load_scenario(scenario)
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    prom = prometheus_factory(openmetrics_history(sc, end))
    seed_kube(kube, scenario, end)
    plan = database_plan(sc, end)
    busy = OWN_SESSIONS + 3 * plan.lock_wait
    hits, misses = cache_plan(sc, end)
    config = write_config(
        tmp_path / "festsafe.toml",
        prometheus=prom.url,
        kubeconfig=str(kube.kubeconfig),
        postgres_dsn=postgres_server.dsn,
        redis_url=redis_server.url,
    )
    monkeypatch.setenv("FESTSAFE_CONFIG", str(config))
    with (
        database_state(
            postgres_server,
            hold_idle_connections=min(
                plan.idle_connections(MAX_CONNECTIONS, already=busy), APP_SLOTS - busy
            ),
            long_running_query=plan.long_running_query,
            lock_wait=plan.lock_wait,
        ),
        cache_state(redis_server, hits=hits, misses=misses),
    ):
        yield Platform(end, prom, config)


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_runbook_names_the_bottleneck_from_real_services(
    scenario: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prometheus_factory: PrometheusFactory,
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    kube_emulator: KubeEmulator,
) -> None:
    with loaded(
        scenario,
        tmp_path,
        monkeypatch,
        prometheus_factory,
        postgres_server,
        redis_server,
        kube_emulator,
    ) as platform:
        result = runner.run(
            "high-latency",
            platform.params(),
            reports_dir=tmp_path / "reports",
            settings=load_settings(),
        )
    summary = result.summary
    assert result.exit_code == 0, (summary["error"], summary["sources"])
    assert summary["simulated"] is False
    assert set(summary["sources"].values()) == {"ok"}
    assert summary["diagnosis"]["suspect"] == EXPECTED[scenario], summary["diagnosis"]["summary"]
    checks = {f["check"]: f for f in summary["findings"]}
    if scenario == "slow-database":
        assert checks["db_blocked_queries"]["status"] == "breach"
        assert checks["db_slow_queries"]["status"] == "breach"
        assert checks["db_connections"]["status"] == "breach"
    if scenario == "cache-miss-storm":
        assert checks["redis_hit_rate"]["status"] == "breach"
    if scenario == "under-provisioned":
        (action,) = summary["proposed_actions"]
        assert action["kubectl"].startswith("kubectl scale deployment/backend --replicas=")
    assert checks["access_log"]["status"] == "ok"


Fault = Callable[[], contextlib.AbstractContextManager[int]]
FAULTS: dict[str, Fault] = {
    "down": closed_port,
    "silent": blackhole_server,
    "garbage-http": lambda: garbage_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{not json"
    ),
    "garbage-bytes": lambda: garbage_server(bytes(range(256)) * 4),
}
SOURCE_FIELD = {
    "prometheus": "prometheus",
    "kubernetes": "kubeconfig",
    "postgresql": "postgres_dsn",
    "redis": "redis_url",
}


def faulty_endpoint(system: str, port: int, tmp_path: Path) -> str:
    if system == "prometheus":
        return f"http://127.0.0.1:{port}"
    if system == "postgresql":
        return f"host=127.0.0.1 port={port} dbname=festsafe user=festsafe"
    if system == "redis":
        return f"redis://127.0.0.1:{port}/0"
    kubeconfig = tmp_path / "bad-kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: emulator\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: emulator, context: {cluster: c, user: u}}]\n"
        "users: [{name: u, user: {}}]\n"
    )
    return str(kubeconfig)


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("system", sorted(SOURCE_FIELD))
def test_a_failing_source_becomes_unavailable_evidence(
    system: str,
    fault: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prometheus_factory: PrometheusFactory,
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    kube_emulator: KubeEmulator,
) -> None:
    if fault == "garbage-bytes" and system in ("prometheus", "kubernetes"):
        pytest.skip("HTTP sources: covered by garbage-http (raw bytes are a protocol error too)")
    with (
        loaded(
            "slow-ml-inference",
            tmp_path,
            monkeypatch,
            prometheus_factory,
            postgres_server,
            redis_server,
            kube_emulator,
        ) as platform,
        FAULTS[fault]() as port,
    ):
        endpoints = {
            "prometheus": platform.prometheus.url,
            "kubeconfig": str(kube_emulator.kubeconfig),
            "postgres_dsn": postgres_server.dsn,
            "redis_url": redis_server.url,
        }
        endpoints[SOURCE_FIELD[system]] = faulty_endpoint(system, port, tmp_path)
        write_config(platform.config, **endpoints)  # type: ignore[arg-type]
        result = runner.run(
            "high-latency",
            platform.params(),
            reports_dir=tmp_path / "reports",
            settings=load_settings(),
        )
    summary = result.summary
    assert result.exit_code == 3, (summary["status"], summary["error"])
    assert summary["sources"][system] != "ok"
    unavailable = [f for f in summary["findings"] if f["unavailable"]]
    assert unavailable and {f["source"] for f in unavailable} == {system}
    assert all(f["summary"].startswith("Evidence unavailable") for f in unavailable)
    assert verify_manifest(result.report_dir) == []
    assert "EVIDENCE UNAVAILABLE" in result.html.read_text()
    if system != "prometheus":
        assert summary["diagnosis"]["suspect"] == "ml_inference"
    else:
        assert summary["diagnosis"]["suspect"] == "unknown"
