"""KubernetesSource against the API emulator, and against servers that fail in each way."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from festsafe_nb.errors import SourceUnavailable
from festsafe_nb.sim.kube import KubeEmulator, now_utc, rfc3339
from festsafe_nb.sources import KubeSource
from festsafe_nb.sources.kubernetes import (
    DEPLOYMENT_COLUMNS,
    EVENT_COLUMNS,
    LOG_COLUMNS,
    POD_COLUMNS,
    KubernetesSource,
    parse_logs,
)
from tests.fixtures.faults import blackhole_server, closed_port, garbage_server

NS = "festsafe"


def access(ts: str, route: str, status: int, ms: float, level: str = "info") -> str:
    return json.dumps(
        {
            "ts": ts,
            "level": level,
            "logger": "festsafe.access",
            "msg": "request",
            "route": route,
            "status": status,
            "duration_ms": ms,
            "token_id": "tok-1",
            "client_ip": "10.0.0.7",
        }
    )


@pytest.fixture
def cluster(kube_emulator: KubeEmulator) -> KubeEmulator:
    e = kube_emulator
    e.add_deployment("backend", NS, "festsafe/backend:v1.4.2", 3, ready_replicas=2)
    e.add_deployment("ml-service", NS, "festsafe/ml-service:v2.3.0", 1, generation=4)
    t0 = now_utc() - timedelta(minutes=5)
    e.add_pod(
        "backend-a",
        NS,
        "backend",
        logs="\n".join(
            [
                access(rfc3339(t0), "/api/forecast", 200, 41.5),
                "Traceback (most recent call last):",
                access(rfc3339(t0 + timedelta(seconds=2)), "/api/zones", 503, 2100.0, "error"),
                '{"ts": "broken json',
            ]
        ),
    )
    e.add_pod(
        "backend-b",
        NS,
        "backend",
        ready=False,
        restarts=5,
        logs=access(rfc3339(t0 + timedelta(seconds=1)), "/api/forecast", 200, 38.0),
    )
    e.add_pod("ml-service-a", NS, "ml-service", phase="Pending", ready=False)
    e.add_event(
        NS, "Pod", "backend-b", "BackOff", "Back-off restarting failed container", "Warning", 7
    )
    e.add_event(NS, "Deployment", "backend", "ScalingReplicaSet", "Scaled up to 3", last_seen=t0)
    return e


@pytest.fixture
def source(cluster: KubeEmulator) -> KubernetesSource:
    return KubernetesSource(server=cluster.url, timeout_s=5.0)


def test_is_a_kube_source(source: KubernetesSource) -> None:
    assert isinstance(source, KubeSource)
    assert source.system == "kubernetes"
    source.ping()


def test_deployments(source: KubernetesSource) -> None:
    df = source.deployments(NS)
    assert list(df.columns) == DEPLOYMENT_COLUMNS
    backend = df.set_index("name").loc["backend"]
    assert (backend["replicas"], backend["ready_replicas"], backend["available_replicas"]) == (
        3,
        2,
        2,
    )
    assert backend["images"] == "festsafe/backend:v1.4.2"
    ml = df.set_index("name").loc["ml-service"]
    assert (ml["generation"], ml["observed_generation"]) == (4, 4)
    assert source.deployments("elsewhere").empty


def test_pods_with_readiness_and_restarts(source: KubernetesSource) -> None:
    df = source.pods(NS)
    assert list(df.columns) == POD_COLUMNS
    by_name = df.set_index("name")
    assert by_name.loc["backend-a", "ready"]
    assert not by_name.loc["backend-b", "ready"]
    assert by_name.loc["backend-b", "restarts"] == 5
    assert by_name.loc["ml-service-a", "phase"] == "Pending"
    assert by_name.loc["backend-a", "app"] == "backend"
    assert by_name.loc["backend-a", "node"] == "festsafe-node-1"
    assert str(df["started_at"].dt.tz) == "UTC"
    assert list(source.pods(NS, selector="app=backend")["name"]) == ["backend-a", "backend-b"]
    assert list(source.pods(NS, selector="app in (ml-service)")["name"]) == ["ml-service-a"]


def test_events(source: KubernetesSource) -> None:
    df = source.events(NS)
    assert list(df.columns) == EVENT_COLUMNS
    assert list(df["object"]) == ["Deployment/backend", "Pod/backend-b"]  # oldest first
    warning = df.iloc[1]
    assert (warning["type"], warning["reason"], warning["count"]) == ("Warning", "BackOff", 7)
    assert str(df["time"].dt.tz) == "UTC"


def test_logs_parsed_with_raw_lines_kept(source: KubernetesSource) -> None:
    df = source.logs(NS, "backend")
    assert list(df.columns[:5]) == LOG_COLUMNS
    assert {"route", "status", "duration_ms", "token_id", "client_ip"} <= set(df.columns)
    assert str(df["ts"].dt.tz) == "UTC"
    assert df["ts"].notna().all()
    assert df["ts"].is_monotonic_increasing
    parsed = df[df["level"] != "raw"]
    assert list(parsed["pod"]) == ["backend-a", "backend-b", "backend-a"]
    assert list(parsed["route"]) == ["/api/forecast", "/api/forecast", "/api/zones"]
    assert list(parsed["status"]) == [200, 200, 503]
    assert parsed["duration_ms"].tolist() == [41.5, 38.0, 2100.0]
    raw = df[df["level"] == "raw"]
    assert sorted(raw["msg"]) == ["Traceback (most recent call last):", '{"ts": "broken json']
    assert set(raw["pod"]) == {"backend-a"}


def test_logs_tail_and_nothing_there(source: KubernetesSource) -> None:
    assert len(source.logs(NS, "backend", tail_lines=1)) == 2  # one line per pod
    empty = source.logs(NS, "frontend")
    assert empty.empty
    assert list(empty.columns) == LOG_COLUMNS


def test_parse_logs_without_kubelet_timestamps() -> None:
    text = access("2025-06-01T12:00:00Z", "/api/x", 200, 5.0) + "\nplain\n"
    df = parse_logs([("p", text)])
    assert list(df["level"]) == ["info", "raw"]
    assert df["ts"].iloc[0] == pd.Timestamp("2025-06-01T12:00:00Z")
    assert pd.isna(df["ts"].iloc[1])


def test_kubeconfig_and_context(cluster: KubeEmulator) -> None:
    src = KubernetesSource(kubeconfig=str(cluster.kubeconfig), context="emulator")
    assert set(src.deployments(NS)["name"]) == {"backend", "ml-service"}


def test_global_client_configuration_untouched(source: KubernetesSource) -> None:
    from kubernetes import client

    before = client.Configuration.get_default_copy().host
    source.ping()
    assert client.Configuration.get_default_copy().host == before


def test_missing_kubeconfig_is_unavailable(tmp_path: Path) -> None:
    src = KubernetesSource(kubeconfig=str(tmp_path / "none"), timeout_s=0.5)
    with pytest.raises(SourceUnavailable) as err:
        src.ping()
    assert err.value.system == "kubernetes"


def test_http_error_is_unavailable(source: KubernetesSource, cluster: KubeEmulator) -> None:
    src = KubernetesSource(server=f"{cluster.url}/not-an-api", timeout_s=0.5)
    with pytest.raises(SourceUnavailable) as err:
        src.deployments(NS)
    assert "HTTP 404" in err.value.cause


@pytest.fixture
def dead_port() -> Iterator[int]:
    with closed_port() as port:
        yield port


@pytest.mark.parametrize("method", ["ping", "deployments", "pods", "events", "logs"])
def test_closed_port(dead_port: int, method: str) -> None:
    src = KubernetesSource(server=f"http://127.0.0.1:{dead_port}", timeout_s=0.5)
    with pytest.raises(SourceUnavailable) as err:
        call(src, method)
    assert err.value.cause == "connection refused"


def test_blackhole_times_out() -> None:
    with blackhole_server() as port:
        src = KubernetesSource(server=f"http://127.0.0.1:{port}", timeout_s=0.5)
        with pytest.raises(SourceUnavailable) as err:
            src.pods(NS)
    assert err.value.cause == "no answer within 0.5s"


@pytest.mark.parametrize(
    ("payload", "cause"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!", "unparseable answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", "unexpected answer"),
        (b'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{"items": 3}', "unexpected answer"),
        (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops", "HTTP 500"),
        (b"\x00\x01garbage that is not HTTP\r\n\r\n", ""),
    ],
)
def test_garbage(payload: bytes, cause: str) -> None:
    with garbage_server(payload) as port:
        src = KubernetesSource(server=f"http://127.0.0.1:{port}", timeout_s=0.5)
        with pytest.raises(SourceUnavailable) as err:
            src.deployments(NS)
    assert err.value.cause.startswith(cause)


def test_logs_garbage_pod_list() -> None:
    with garbage_server(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{oops") as port:
        src = KubernetesSource(server=f"http://127.0.0.1:{port}", timeout_s=0.5)
        with pytest.raises(SourceUnavailable):
            src.logs(NS, "backend")


def call(src: KubernetesSource, method: str) -> object:
    if method == "ping":
        return src.ping()
    if method == "logs":
        return src.logs(NS, "backend")
    return getattr(src, method)(NS)


def test_import_does_not_load_the_client() -> None:
    code = (
        "import sys, festsafe_nb.sources.kubernetes as k; "
        "k.KubernetesSource(server='http://127.0.0.1:1'); "
        "print('kubernetes' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"
