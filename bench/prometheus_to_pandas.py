"""Benchmark: a large Prometheus range query into a pandas DataFrame, three ways.

Backfills 200 series x 5,760 points (20 s step over 32 h) into a real Prometheus on loopback,
then times, best of N:

  (a) raw ``requests`` GET of the query_range, identity encoding, bytes only (the floor);
  (b) this project's ``PrometheusSource.query_range`` (bytes -> DataFrame);
  (c) prometheus-api-client ``custom_query_range`` + ``MetricRangeDataFrame``, defaults
      (what a user would otherwise pick).

Targets: (c)/(b) >= 10 and (b)/(a) <= 2. Run: ``.venv/bin/python bench/prometheus_to_pandas.py``.
The server is stopped at the end whatever happens.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from festsafe_nb.sim.openmetrics import OpenMetricsWriter  # noqa: E402
from festsafe_nb.sources.prometheus import PrometheusSource  # noqa: E402
from tests.fixtures.prometheus import start_prometheus  # noqa: E402

STEP_S = 20.0
METRIC = "bench_request_latency_seconds"


def history(series: int, points: int, end: float) -> tuple[bytes, float, float]:
    """OpenMetrics text of ``series`` gauges with ``points`` samples each, ending at ``end``."""
    ts = end - STEP_S * np.arange(points)[::-1]
    rng = np.random.default_rng(42)
    writer = OpenMetricsWriter(ts)
    routes = ["/api/forecast", "/api/zones", "/api/sites", "/api/alerts"]
    writer.gauge(
        METRIC,
        (
            (
                {"service": f"svc-{i % 10}", "route": routes[i % 4], "instance": f"pod-{i}"},
                # latencies in seconds to the microsecond, as a client library reports them
                np.round(rng.gamma(2.0, 0.05, points), 6),
            )
            for i in range(series)
        ),
    )
    return writer.data(), float(ts[0]), float(ts[-1])


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        result = None
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def peak_mib(fn: Callable[[], Any]) -> float:
    """Peak Python-heap allocation during one call (pyarrow's own pool not included)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--points", type=int, default=5760)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--repeat-slow", type=int, default=3)
    args = parser.parse_args()

    import requests
    from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect

    now = float(int(time.time() // STEP_S) * STEP_S)
    t0 = time.perf_counter()
    text, start, end = history(args.series, args.points, now - 3600)
    t_write = time.perf_counter() - t0
    samples = args.series * args.points
    print(
        f"history: {samples:,} samples, {len(text) / 2**20:.1f} MiB OpenMetrics in {t_write:.2f} s"
    )

    with tempfile.TemporaryDirectory(prefix="bench-prom-") as tmp:
        t0 = time.perf_counter()
        server = start_prometheus(text, Path(tmp), ready_timeout=120)
        print(f"backfill + start: {time.perf_counter() - t0:.1f} s ({server.url})")
        del text
        try:
            params = {"query": METRIC, "start": str(start), "end": str(end), "step": str(STEP_S)}
            url = f"{server.url}/api/v1/query_range"
            session = requests.Session()

            def raw() -> bytes:
                resp = session.get(
                    url, params=params, headers={"Accept-Encoding": "identity"}, timeout=60
                )
                resp.raise_for_status()
                return resp.content

            source = PrometheusSource(server.url, timeout_s=60)

            def ours() -> Any:
                return source.query_range(METRIC, start, end, STEP_S)

            pc = PrometheusConnect(url=server.url)
            start_dt = datetime.fromtimestamp(start, UTC)
            end_dt = datetime.fromtimestamp(end, UTC)

            def theirs() -> Any:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    data = pc.custom_query_range(METRIC, start_dt, end_dt, step=str(int(STEP_S)))
                    return MetricRangeDataFrame(data)

            ours()  # warm-up: connection pool, lazy imports
            t_a, body = best_of(raw, args.repeat)
            t_b, frame = best_of(ours, args.repeat)
            t_c, their = best_of(theirs, args.repeat_slow)
            assert len(frame) == samples, (len(frame), samples)
            assert len(their) == samples, (len(their), samples)
            m_b = peak_mib(ours)
            m_c = peak_mib(theirs)
            size = len(body)
            del body, frame, their
        finally:
            server.stop()

    print(f"response body: {size / 1e6:.1f} MB, {args.series} series x {args.points} points")
    print(f"(a) raw GET, identity, bytes only       {t_a:7.3f} s")
    print(f"(b) PrometheusSource.query_range        {t_b:7.3f} s   peak heap {m_b:6.1f} MiB")
    print(f"(c) custom_query_range + MetricRangeDF  {t_c:7.3f} s   peak heap {m_c:6.1f} MiB")
    print(f"(c)/(b) = {t_c / t_b:5.1f}x  (target >= 10)")
    print(f"(b)/(a) = {t_b / t_a:5.2f}x  (target <= 2)")


if __name__ == "__main__":
    main()
