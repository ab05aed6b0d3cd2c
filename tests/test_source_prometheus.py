"""PrometheusSource: response conversion, a real backfilled Prometheus, and every way to fail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from festsafe_nb.catalog import load_catalog
from festsafe_nb.errors import CatalogError, SourceUnavailable
from festsafe_nb.sim.openmetrics import OpenMetricsWriter, counter_from_rate, histogram_from_p95
from festsafe_nb.sources import MetricsSource
from festsafe_nb.sources.prometheus import PrometheusSource, parse_matrix, parse_vector
from tests.fixtures.faults import blackhole_server, closed_port, garbage_server
from tests.fixtures.prometheus import PrometheusServer, start_prometheus


def _matrix(result: list[Any], **extra: object) -> bytes:
    doc = {"status": "success", "data": {"resultType": "matrix", "result": result}, **extra}
    # Prometheus' own compact layout (what the fast path reads)
    return json.dumps(doc, separators=(",", ":")).encode()


SERIES: list[Any] = [
    {
        "metric": {"__name__": "up", "job": "api", "route": '/a]],"values":['},
        "values": [[1700000000, "1"], [1700000020.5, "NaN"], [1700000040, "+Inf"]],
    },
    {"metric": {}, "values": [[1700000000, "-Inf"], [1700000020, "1e-05"]]},
    {"metric": {"job": "db"}, "values": []},
    {"metric": {"job": "web", "zone": "é"}, "values": [[1700000060, "2.5"]]},
]


# --- conversion -----------------------------------------------------------------------------


def test_matrix_to_frame() -> None:
    frame = parse_matrix(_matrix(SERIES))
    assert list(frame.columns) == ["time", "__name__", "job", "route", "zone", "value"]
    assert str(frame["time"].dtype) == "datetime64[us, UTC]"
    assert frame["time"].iloc[1] == pd.Timestamp("2023-11-14 22:13:40.5", tz="UTC")
    values = frame["value"].to_numpy()
    assert np.isnan(values[1])
    assert values[[0, 2, 3, 4, 5]].tolist() == [1.0, np.inf, -np.inf, 1e-05, 2.5]
    assert frame["job"].tolist() == ["api", "api", "api", "", "", "web"]
    assert frame["route"].tolist()[:3] == ['/a]],"values":['] * 3
    assert frame["zone"].tolist()[-1] == "é"
    assert isinstance(frame["job"].dtype, pd.CategoricalDtype)


def test_fast_path_and_json_fallback_agree() -> None:
    rng = np.random.default_rng(3)
    result = [
        {
            "metric": {"i": str(i), "odd": "yes"} if i % 2 else {"i": str(i)},
            "values": [[1.7e9 + 20 * k, repr(float(v))] for k, v in enumerate(rng.random(50))],
        }
        for i in range(20)
    ]
    compact = _matrix(result)
    spaced = json.dumps(json.loads(compact), indent=1).encode()  # not Prometheus' layout
    pd.testing.assert_frame_equal(parse_matrix(compact), parse_matrix(spaced))
    pd.testing.assert_frame_equal(
        parse_matrix(_matrix(SERIES)),
        parse_matrix(json.dumps(json.loads(_matrix(SERIES)), indent=2).encode()),
    )


def test_empty_and_labelless_results() -> None:
    empty = parse_matrix(_matrix([]))
    assert list(empty.columns) == ["time", "value"]
    assert len(empty) == 0
    one = parse_matrix(_matrix([{"metric": {}, "values": [[1700000000, "3"]]}]))
    assert list(one.columns) == ["time", "value"]
    assert one["value"].tolist() == [3.0]


def test_warnings_tail_is_accepted() -> None:
    frame = parse_matrix(_matrix(SERIES[:1], warnings=["PromQL info: something"]))
    assert len(frame) == 3


def test_vector_and_scalar() -> None:
    vector = json.dumps(
        {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [
                    {"metric": {"service": "backend"}, "value": [1700000000, "0.25"]},
                    {"metric": {}, "value": [1700000000, "NaN"]},
                ],
            },
        }
    ).encode()
    frame = parse_vector(vector)
    assert list(frame.columns) == ["time", "service", "value"]
    assert frame["service"].tolist() == ["backend", ""]
    scalar = b'{"status":"success","data":{"resultType":"scalar","result":[1700000000,"4"]}}'
    assert parse_vector(scalar)["value"].tolist() == [4.0]


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"<html>hello</html>", "not JSON"),
        (b"", "not JSON"),
        (b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{}', "not JSON"),
        (b'{"status":"error","errorType":"bad_data","error":"parse error at char 5"}', "bad_data"),
        (b'{"status":"success","data":{"resultType":"vector","result":[]}}', "expected a matrix"),
        (
            b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}}',
            "layout",
        ),
        (b"[1, 2]", "not a Prometheus API response"),
    ],
)
def test_garbage_raises_source_unavailable(body: bytes, cause: str) -> None:
    with pytest.raises(SourceUnavailable, match=cause) as info:
        parse_matrix(body)
    assert info.value.system == "prometheus"


# --- a real Prometheus ----------------------------------------------------------------------

T0 = 1_700_000_000.0
STEP = 20.0
HOUR = 3600.0
P95 = {("backend", "/api/forecast"): 0.12, ("backend", "/api/zones"): 0.6, ("frontend", "/"): 3.0}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    ts = T0 + STEP * np.arange(int(2 * HOUR / STEP))
    n = ts.size
    w = OpenMetricsWriter(ts)
    series = []
    for (service, route), p95 in {**P95, ("ml-service", "/predict"): 1.0}.items():
        for method, rate in (("GET", 30.0), ("POST", 5.0)):
            labels = {"service": service, "route": route, "method": method}
            series.append((labels, histogram_from_p95(np.full(n, p95), np.full(n, rate), STEP)))
    w.histogram("http_request_duration_seconds", series)
    w.counter(
        "http_requests",
        [
            ({"service": "backend", "status": "200"}, counter_from_rate(np.full(n, 99.0), STEP)),
            ({"service": "backend", "status": "503"}, counter_from_rate(np.full(n, 1.0), STEP)),
        ],
    )
    w.gauge("weird", [({"a": "x"}, np.where(np.arange(n) % 2, np.nan, np.inf))])
    with start_prometheus(w.data(), tmp_path_factory.mktemp("prom")) as server:
        yield server


@pytest.fixture
def source(prometheus: PrometheusServer) -> Iterator[PrometheusSource]:
    src = PrometheusSource(prometheus.url, timeout_s=10)
    yield src
    src.close()


def _at(hours: float) -> datetime:
    return datetime.fromtimestamp(T0 + hours * HOUR, UTC)


@pytest.mark.integration
def test_is_a_metrics_source(source: PrometheusSource) -> None:
    assert isinstance(source, MetricsSource)
    assert source.system == "prometheus"
    source.ping()


@pytest.mark.integration
def test_api_latency_p95_signal(source: PrometheusSource) -> None:
    signal = load_catalog().signal("api_latency_p95")
    frame = source.signal(signal, _at(0.5), _at(1.5), 60.0)
    assert list(frame.columns) == ["time", "service", "route", "value"]
    assert len(frame) == 3 * 61  # ml-service is filtered out by the default parameter
    for (service, route), group in frame.groupby(["service", "route"]):
        assert group["value"].to_numpy() == pytest.approx(P95[(service, route)] * 1000, rel=0.01)
    assert frame["time"].min() == pd.Timestamp(_at(0.5))
    only = source.signal(signal, _at(0.5), _at(0.6), 60.0, services="frontend")
    assert set(only["service"]) == {"frontend"}
    with pytest.raises(CatalogError):
        source.signal(signal, _at(0.5), _at(0.6), 60.0, services='x"}) or vector(1')


@pytest.mark.integration
def test_signal_without_labels_and_ratio(source: PrometheusSource) -> None:
    signal = load_catalog().signal("api_error_rate")
    frame = source.signal(signal, _at(1), _at(1.1), 60.0, services="backend")
    assert list(frame.columns) == ["time", "service", "value"]
    assert frame["value"].to_numpy() == pytest.approx(0.01, rel=0.01)
    # a label the signal promises but the answer lacks comes back empty
    ratio = load_catalog().signal("db_connections_ratio")
    assert source.signal(ratio, _at(1), _at(1.1), 60.0).empty


@pytest.mark.integration
def test_query_range_and_instant(source: PrometheusSource) -> None:
    frame = source.query_range("weird", _at(0.5), _at(0.5).timestamp() + 40, STEP)
    assert list(frame.columns) == ["time", "__name__", "a", "value"]
    assert len(frame) == 3
    assert np.isinf(frame["value"].to_numpy()).sum() + np.isnan(frame["value"]).sum() == 3
    instant = source.query("sum by (status) (rate(http_requests_total[5m]))", at=_at(1))
    assert sorted(zip(instant["status"], instant["value"], strict=True)) == [
        ("200", pytest.approx(99.0)),
        ("503", pytest.approx(1.0)),
    ]
    assert source.query("1", at=T0)["value"].tolist() == [1.0]


@pytest.mark.integration
def test_promql_error_text_is_the_cause(source: PrometheusSource) -> None:
    with pytest.raises(SourceUnavailable, match="bad_data") as info:
        source.query_range("sum(", _at(0.5), _at(0.6), STEP)
    assert "parse error" in info.value.cause


# --- faults ---------------------------------------------------------------------------------


def _fails(url: str, timeout_s: float = 2.0) -> SourceUnavailable:
    src = PrometheusSource(url, timeout_s=timeout_s)
    with pytest.raises(SourceUnavailable) as info:
        src.query_range("up", T0, T0 + 60, STEP)
    with pytest.raises(SourceUnavailable):
        src.ping()
    src.close()
    assert info.value.system == "prometheus"
    return info.value


def test_closed_port() -> None:
    with closed_port() as port:
        assert "refused" in _fails(f"http://127.0.0.1:{port}").cause


def test_blackhole_times_out() -> None:
    with blackhole_server() as port:
        assert "within 0.5 s" in _fails(f"http://127.0.0.1:{port}", timeout_s=0.5).cause


def test_garbage_with_status_200() -> None:
    payload = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"status":"succ\xff\x00'
    with garbage_server(payload) as port:
        assert "not JSON" in _fails(f"http://127.0.0.1:{port}").cause


def test_not_http_at_all() -> None:
    with garbage_server(b"\x00\x01SSH-2.0-OpenSSH\r\n") as port:
        _fails(f"http://127.0.0.1:{port}")


def test_http_500() -> None:
    body = b"internal error: out of memory"
    payload = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    with garbage_server(payload) as port:
        cause = _fails(f"http://127.0.0.1:{port}").cause
    assert cause.startswith("HTTP 500")
    assert "out of memory" in cause
