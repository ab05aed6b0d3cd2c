"""The OpenMetrics writer and the synthesis helpers, alone and through a real Prometheus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from festsafe_nb.sim.openmetrics import (
    DEFAULT_BOUNDS,
    HistogramSeries,
    OpenMetricsWriter,
    counter_from_rate,
    histogram_from_p95,
)
from tests.fixtures import prometheus as prometheus_fixtures
from tests.fixtures.prometheus import PrometheusFactory, PrometheusServer, start_prometheus

# until tests/conftest.py lists tests.fixtures.prometheus as a plugin
prometheus_factory = prometheus_fixtures.prometheus_factory

T0 = 1_700_000_000.0
STEP = 20.0


def _quantile(q: float, bounds: np.ndarray, cumulative: np.ndarray) -> float:
    """Prometheus' histogram_quantile (bucketQuantile) on one vector of cumulative rates."""
    rank = q * cumulative[-1]
    i = int(np.searchsorted(cumulative[:-1], rank, side="left"))
    if i == len(bounds) - 1:
        return float(bounds[-2])
    lo = 0.0 if i == 0 else float(bounds[i - 1])
    below = 0.0 if i == 0 else float(cumulative[i - 1])
    return float(lo + (float(bounds[i]) - lo) * (rank - below) / (float(cumulative[i]) - below))


# --- writer ---------------------------------------------------------------------------------


def test_families_are_contiguous_typed_and_end_with_eof() -> None:
    ts = T0 + STEP * np.arange(3)
    w = OpenMetricsWriter(ts)
    w.gauge("festsafe_model_mae", [({"model": "m", "zone": "a"}, [1.5, 2.0, 2.5])])
    w.counter(
        "http_requests_total", [({"status": "200"}, [1, 2, 3]), ({"status": "500"}, [0, 0, 1])]
    )
    hist = histogram_from_p95(np.full(3, 0.3), np.full(3, 10.0), STEP)
    w.histogram("lat_seconds", [({"route": "/x"}, hist)])
    lines = w.text().splitlines()

    assert lines[-1] == "# EOF"
    assert lines[0] == "# TYPE festsafe_model_mae gauge"
    assert lines[1] == 'festsafe_model_mae{model="m",zone="a"} 1.5 1700000000.000'
    assert "# TYPE http_requests counter" in lines
    samples = [ln for ln in lines if ln.startswith("http_requests")]
    assert all(ln.startswith("http_requests_total{") for ln in samples)
    assert len(samples) == 6
    # one family after the other: the TYPE lines come in order and no sample is out of place
    families = [ln.split()[2] for ln in lines if ln.startswith("# TYPE")]
    assert families == ["festsafe_model_mae", "http_requests", "lat_seconds"]
    hist_lines = lines[lines.index("# TYPE lat_seconds histogram") + 1 : -1]
    assert len(hist_lines) == 3 * (len(DEFAULT_BOUNDS) + 2)
    first_point = hist_lines[: len(DEFAULT_BOUNDS) + 2]
    assert first_point[0].startswith('lat_seconds_bucket{route="/x",le="0.005"} ')
    assert first_point[len(DEFAULT_BOUNDS) - 1].startswith(
        'lat_seconds_bucket{route="/x",le="+Inf"} '
    )
    assert first_point[-2].startswith('lat_seconds_count{route="/x"} ')
    assert first_point[-1].startswith('lat_seconds_sum{route="/x"} ')
    assert {ln.rsplit(" ", 1)[1] for ln in first_point} == {"1700000000.000"}


def test_special_values_and_label_escaping() -> None:
    w = OpenMetricsWriter([T0, T0 + 1, T0 + 2, T0 + 3])
    w.gauge("g", [({"msg": 'say "hi"\\\n'}, [np.nan, np.inf, -np.inf, 1e-5])])
    w.gauge("plain", [({}, [1, 2, 3, 4])])
    lines = w.text().splitlines()
    assert [ln.split(" ")[-2] for ln in lines[1:5]] == ["NaN", "+Inf", "-Inf", "0.00001"]
    assert lines[1].startswith('g{msg="say \\"hi\\"\\\\\\n"} ')
    assert lines[6] == "plain 1 1700000000.000"


def test_refuses_what_promtool_would_reject() -> None:
    w = OpenMetricsWriter([T0, T0 + 1])
    w.gauge("g", [({}, [1, 2])])
    with pytest.raises(ValueError, match="twice"):
        w.gauge("g", [({}, [1, 2])])
    with pytest.raises(ValueError, match="values for 2 timestamps"):
        w.gauge("h", [({}, [1, 2, 3])])
    with pytest.raises(ValueError, match="label name"):
        w.gauge("i", [({"bad-name": "x"}, [1, 2])])
    with pytest.raises(ValueError, match="metric name"):
        w.gauge("0bad", [({}, [1, 2])])
    with pytest.raises(ValueError, match="increasing"):
        OpenMetricsWriter([T0, T0])
    with pytest.raises(ValueError, match="shape"):
        w.histogram("k", [({}, HistogramSeries(np.zeros((2, 3)), np.zeros(2), np.zeros(2)))])


def test_write_to_file(tmp_path: Path) -> None:
    w = OpenMetricsWriter([T0])
    w.gauge("g", [({"a": "é"}, [1.0])])
    path = w.write(tmp_path / "x.om")
    assert path.read_bytes() == w.data()
    assert w.text() == '# TYPE g gauge\ng{a="é"} 1 1700000000.000\n# EOF\n'


# --- synthesis ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [0.0049, 0.005, 0.012, 0.12, 0.25, 0.6, 1.0, 3.0, 7.7, 10.0])
def test_histogram_quantile_of_the_synthesis_is_the_target(target: float) -> None:
    n = 60
    rate = np.linspace(5.0, 50.0, n)  # the rate may vary, the quantile must not
    hist = histogram_from_p95(np.full(n, target), rate, STEP)
    window = hist.buckets[-1] - hist.buckets[-16]
    got = _quantile(0.95, np.array(DEFAULT_BOUNDS), window)
    assert got == pytest.approx(target, rel=1e-9)


def test_histogram_is_a_valid_cumulative_histogram() -> None:
    rng = np.random.default_rng(7)
    n = 500
    targets = rng.uniform(0.001, 20.0, n)
    targets[10:20] = np.nan  # idle steps
    hist = histogram_from_p95(targets, rng.uniform(0, 100, n), STEP)
    assert np.all(np.diff(hist.buckets, axis=1) >= 0)  # cumulative over le
    assert np.all(np.diff(hist.buckets, axis=0) >= -1e-9)  # counters never go down
    assert np.array_equal(hist.count, hist.buckets[:, -1])
    assert np.all(np.diff(hist.sum) >= 0)
    assert np.allclose(np.diff(hist.buckets[9:20, -1]), 0)


def test_targets_beyond_the_bounds_are_clipped() -> None:
    for target, expected in ((0.001, 0.95 * 0.005), (60.0, 10.0)):
        hist = histogram_from_p95(np.full(30, target), np.full(30, 10.0), STEP)
        got = _quantile(0.95, np.array(DEFAULT_BOUNDS), hist.buckets[-1] - hist.buckets[-16])
        assert got == pytest.approx(expected, rel=1e-9)


def test_counter_from_rate() -> None:
    rate = np.array([0.0, 1.0, 2.0, 3.0])
    values = counter_from_rate(rate, 10.0, start=100.0)
    assert values.tolist() == [100.0, 110.0, 130.0, 160.0]
    with pytest.raises(ValueError):
        counter_from_rate([-1.0], 10.0)


# --- against a real Prometheus ----------------------------------------------------------------

HOUR = 3600.0
P95_QUERY = "histogram_quantile(0.95, sum by (route, le) (rate(lat_seconds_bucket[5m])))"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    ts = T0 + STEP * np.arange(int(3 * HOUR / STEP))
    n = ts.size
    targets = np.select([ts < T0 + HOUR, ts < T0 + 2 * HOUR], [0.12, 0.6], 3.0)
    rate = 20.0 + 10.0 * np.sin(np.arange(n) / 30.0)
    w = OpenMetricsWriter(ts)
    w.histogram(
        "lat_seconds",
        [
            ({"route": "/a", "method": "GET"}, histogram_from_p95(targets, rate, STEP)),
            ({"route": "/a", "method": "POST"}, histogram_from_p95(targets, rate / 3, STEP)),
        ],
    )
    w.counter("req", [({"route": "/a"}, counter_from_rate(rate, STEP))])
    with start_prometheus(w.data(), tmp_path_factory.mktemp("om")) as server:
        yield server


def _instant(server: PrometheusServer, promql: str, at: float) -> float:
    params = {"query": promql, "time": str(at)}
    resp = requests.get(f"{server.url}/api/v1/query", params=params, timeout=10)
    result = resp.json()["data"]["result"]
    assert len(result) == 1, result
    return float(result[0]["value"][1])


@pytest.mark.integration
@pytest.mark.parametrize(("at", "target"), [(0.5, 0.12), (1.5, 0.6), (2.5, 3.0)])
def test_prometheus_reports_the_target_p95(
    prometheus: PrometheusServer, at: float, target: float
) -> None:
    got = _instant(prometheus, P95_QUERY, T0 + at * HOUR)
    assert got == pytest.approx(target, rel=0.01)


@pytest.mark.integration
def test_prometheus_rate_of_the_counter(prometheus: PrometheusServer) -> None:
    at = T0 + 1.5 * HOUR
    # the counter's rate() is the mean of the per-step rates whose increments fall in the window
    i = int((at - T0) / STEP)
    n = int(3 * HOUR / STEP)
    rate = 20.0 + 10.0 * np.sin(np.arange(n) / 30.0)
    expected = float(rate[i - 13 : i + 1].mean())
    got = _instant(prometheus, "rate(req_total[5m])", at)
    assert got == pytest.approx(expected, rel=0.01)


@pytest.mark.integration
def test_factory_starts_and_stops_servers(prometheus_factory: PrometheusFactory) -> None:
    w = OpenMetricsWriter(T0 + STEP * np.arange(10))
    w.gauge("up", [({"job": "x"}, np.ones(10))])
    server = prometheus_factory(w.text())
    assert _instant(server, "sum(up)", T0 + 100) == 1.0
    assert server.url == f"http://127.0.0.1:{server.port}"
    server.stop()
    assert server.proc.poll() is not None
