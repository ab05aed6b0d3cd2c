"""OpenMetrics text with timestamps: how simulated history reaches a real Prometheus.

The simulator (and the benchmarks) describe metric history as numpy arrays over one common
timestamp vector; :class:`OpenMetricsWriter` turns them into the text that
``promtool tsdb create-blocks-from openmetrics`` backfills, so integration tests query a real
Prometheus about a known past. The synthesis helpers go the other way round from what a
runbook reads: given the P95 latency and request rate a scenario wants Prometheus to *report*,
they produce the cumulative histogram buckets (or counter) that make
``histogram_quantile(0.95, rate(x_bucket[5m]))`` (or ``rate()``) give those numbers back.

Format rules that promtool enforces or the spec requires: one family's samples are contiguous,
each family has a ``# TYPE`` line, counter samples end in ``_total``, histograms are
``_bucket{le=...}`` + ``_count`` + ``_sum``, timestamps are in seconds, ``# EOF`` ends the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

FloatArray: TypeAlias = npt.NDArray[np.float64]
Labels: TypeAlias = Mapping[str, str]

#: Default bucket upper bounds (seconds), as the FestSafe services (and most clients) use them.
DEFAULT_BOUNDS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    float("inf"),
)

_STR = pa.large_string()
_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class HistogramSeries:
    """One histogram series over the writer's timestamps: cumulative counts, as scraped.

    ``buckets`` has shape ``(len(timestamps), len(bounds))`` and is cumulative along both axes
    (over time, like any counter, and over ``le``, like any Prometheus histogram); its last
    column is the ``+Inf`` bucket and equals ``count``.
    """

    buckets: FloatArray
    count: FloatArray
    sum: FloatArray


class OpenMetricsWriter:
    """Collects metric families over one timestamp vector and renders them as OpenMetrics."""

    def __init__(self, timestamps: npt.ArrayLike) -> None:
        ts = np.asarray(timestamps, dtype=np.float64)
        if ts.ndim != 1 or ts.size == 0:
            raise ValueError("timestamps must be a non-empty 1-d array of unix seconds")
        if ts.size > 1 and not bool(np.all(np.diff(ts) > 0)):
            raise ValueError("timestamps must be strictly increasing")
        self.timestamps = ts
        # " <timestamp>\n" once per time step, shared by every series
        self._suffix = pa.array([f" {t:.3f}\n" for t in ts.tolist()], _STR)
        self._families: dict[str, list[bytes]] = {}

    def gauge(self, name: str, series: Iterable[tuple[Labels, npt.ArrayLike]]) -> None:
        """Add a gauge family; each series is ``(labels, values)``."""
        self._family(name, "gauge", [(name, labels, values) for labels, values in series])

    def counter(self, name: str, series: Iterable[tuple[Labels, npt.ArrayLike]]) -> None:
        """Add a counter family; ``name`` may or may not end in ``_total``, samples will."""
        family = name.removesuffix("_total")
        samples = [(family + "_total", labels, values) for labels, values in series]
        self._family(family, "counter", samples)

    def histogram(
        self,
        name: str,
        series: Iterable[tuple[Labels, HistogramSeries]],
        bounds: Sequence[float] = DEFAULT_BOUNDS,
    ) -> None:
        """Add a histogram family; every series uses ``bounds`` (which must end in +Inf)."""
        if not bounds or bounds[-1] != float("inf"):
            raise ValueError("histogram bounds must end with +Inf")
        les = [_fmt_le(b) for b in bounds]
        self._start(name, "histogram")
        chunks = self._families[name]
        n = self.timestamps.size
        for labels, hist in series:
            if hist.buckets.shape != (n, len(bounds)):
                raise ValueError(
                    f"{name}{dict(labels)}: buckets shape {hist.buckets.shape}, "
                    f"expected {(n, len(bounds))}"
                )
            base = _label_text(labels)
            pairs = [_join(base, f'le="{le}"') for le in les]
            prefixes = [f"{name}_bucket{{{pair}}} " for pair in pairs]
            braces = f"{{{base}}}" if base else ""
            prefixes += [f"{name}_count{braces} ", f"{name}_sum{braces} "]
            # one MetricPoint (all buckets, count, sum) per timestamp, points in time order
            matrix = np.column_stack(
                [hist.buckets, _vector(hist.count, n, name), _vector(hist.sum, n, name)]
            )
            chunks.append(_lines(prefixes, matrix, self._suffix))

    def data(self) -> bytes:
        """The whole exposition (UTF-8), families in the order they were added, ``# EOF`` last."""
        return (
            b"".join(chunk for chunks in self._families.values() for chunk in chunks) + b"# EOF\n"
        )

    def text(self) -> str:
        return self.data().decode("utf-8")

    def write(self, path: str | Path) -> Path:
        out = Path(path)
        with out.open("wb") as fh:
            for chunks in self._families.values():
                fh.writelines(chunks)
            fh.write(b"# EOF\n")
        return out

    def _family(
        self, family: str, kind: str, samples: list[tuple[str, Labels, npt.ArrayLike]]
    ) -> None:
        self._start(family, kind)
        n = self.timestamps.size
        for sample_name, labels, values in samples:
            base = _label_text(labels)
            prefix = f"{sample_name}{{{base}}} " if base else f"{sample_name} "
            matrix = _vector(values, n, sample_name)[:, None]
            self._families[family].append(_lines([prefix], matrix, self._suffix))

    def _start(self, family: str, kind: str) -> None:
        if not _NAME.match(family):
            raise ValueError(f"invalid metric name {family!r}")
        if family in self._families:
            raise ValueError(f"metric family {family!r} added twice (families must be contiguous)")
        self._families[family] = [f"# TYPE {family} {kind}\n".encode()]


def _vector(values: npt.ArrayLike, n: int, what: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{what}: {arr.shape[0] if arr.ndim else 0} values for {n} timestamps")
    return arr


def _lines(prefixes: list[str], matrix: FloatArray, suffix: pa.Array) -> bytes:
    """``prefix[j] value[t, j] suffix[t]`` for every t then j, as one UTF-8 text.

    Built by Arrow's string kernels: formatting and concatenating a million lines one Python
    string at a time takes seconds, this takes a fraction of one.
    """
    rows, k = matrix.shape
    values = _format(matrix.ravel())
    if k == 1:
        prefix: pa.Array | pa.Scalar = pa.scalar(prefixes[0], _STR)
        stamps = suffix
    else:
        prefix = pa.array(prefixes, _STR).take(np.tile(np.arange(k), rows))
        stamps = suffix.take(np.repeat(np.arange(rows), k))
    joined = pc.binary_join_element_wise(prefix, values, stamps, pa.scalar("", _STR))
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)
    first, last = offsets[joined.offset], offsets[joined.offset + len(joined)]
    return bytes(memoryview(joined.buffers()[2])[first:last])


def _format(values: FloatArray) -> pa.Array:
    """Shortest round-trip text of each value, with OpenMetrics' spelling of NaN and infinities."""
    text = pc.cast(pa.array(values, pa.float64()), _STR)
    if not bool(np.isfinite(values).all()):
        for mask, spelled in (
            (np.isnan(values), "NaN"),
            (values == np.inf, "+Inf"),
            (values == -np.inf, "-Inf"),
        ):
            text = pc.if_else(pa.array(mask), pa.scalar(spelled, _STR), text)
    return text


def _fmt_le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def _label_text(labels: Labels) -> str:
    parts = []
    for key, value in sorted(labels.items()):
        if not _LABEL.match(key) or key == "le":
            raise ValueError(f"invalid label name {key!r}")
        escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{key}="{escaped}"')
    return ",".join(parts)


def _join(*parts: str) -> str:
    return ",".join(p for p in parts if p)


# --- synthesis: from what Prometheus should report to what the application would expose ----


def counter_from_rate(
    rate: npt.ArrayLike, step_s: float, *, start: float | None = None
) -> FloatArray:
    """Cumulative counter values whose ``rate()`` is ``rate`` (per second, one per step).

    The increment of step ``t`` is ``rate[t] * step_s`` and lands on sample ``t`` (it covers
    the interval before it). The counter starts at ``start``, by default one hour of the
    highest rate: far enough from zero that Prometheus' "do not extrapolate below zero" rule
    never bends the first windows.
    """
    r = np.nan_to_num(np.asarray(rate, dtype=np.float64), nan=0.0)
    if bool((r < 0).any()):
        raise ValueError("a counter's rate cannot be negative")
    base = float(r.max(initial=0.0)) * 3600.0 + 1.0 if start is None else start
    inc = r * step_s
    inc[0] = 0.0
    return base + np.cumsum(inc)


def histogram_from_p95(
    p95_s: npt.ArrayLike,
    rate: npt.ArrayLike,
    step_s: float,
    bounds: Sequence[float] = DEFAULT_BOUNDS,
    *,
    start: float | None = None,
) -> HistogramSeries:
    """Cumulative buckets for which ``histogram_quantile(0.95, rate(..[w]))`` returns ``p95_s``.

    ``histogram_quantile`` finds the bucket holding rank 0.95 and interpolates linearly inside
    it. So each step's observations are split across three buckets: for a target ``q`` in
    ``(lo, hi]`` at relative position ``x = (q - lo) / (hi - lo)``, 5 % go into ``(lo, hi]``,
    ``0.95 - 0.05 x`` into the bucket below and ``0.05 x`` into the one above, which puts
    rank 0.95 at exactly ``x`` of the way through ``(lo, hi]``. When the target (not the rate)
    is constant over the rate window, the reported P95 is exact; when it changes, the report
    is the quantile of the mixture, as on a real system. Targets are clipped to what the
    bounds can express: at least 95 % of the first bound, at most the last finite bound
    (above which Prometheus reports that bound). A step with a NaN target or zero rate adds
    no observations.
    """
    b = np.asarray(bounds, dtype=np.float64)
    if b.ndim != 1 or b.size < 3 or b[-1] != np.inf or not bool(np.all(np.diff(b) > 0)):
        raise ValueError("bounds must increase, have at least 3 entries and end with +Inf")
    if b[0] <= 0:
        raise ValueError("the first bound must be positive")
    q = np.asarray(p95_s, dtype=np.float64)
    r = np.nan_to_num(np.asarray(rate, dtype=np.float64), nan=0.0)
    if q.shape != r.shape or q.ndim != 1:
        raise ValueError("p95_s and rate must be 1-d arrays of the same length")
    if bool((r < 0).any()):
        raise ValueError("a request rate cannot be negative")
    n, nb = q.size, b.size
    idle = np.isnan(q)
    r = np.where(idle, 0.0, r)
    q = np.clip(np.where(idle, b[1], q), 0.95 * b[0], b[-2])

    fractions = np.zeros((n, nb))
    rows = np.arange(n)
    # index of the bucket (lo, hi] that holds q; 0 is (0, b0]
    k = np.clip(np.searchsorted(b, q, side="left"), 0, nb - 2)
    first = k == 0
    # q in the first bucket: no bucket below, so all mass goes there and the one above;
    # rank 0.95 at q means a share of 0.95 * b0 / q in (0, b0]
    share0 = np.where(first, np.minimum(1.0, 0.95 * b[0] / q), 0.0)
    lo = np.where(first, 0.0, b[np.maximum(k - 1, 0)])
    hi = b[k]
    x = (q - lo) / (hi - lo)
    inside = np.where(first, share0, 0.05)
    below = np.where(first, 0.0, 0.95 - 0.05 * x)
    above = 1.0 - inside - below
    fractions[rows, k] += inside
    fractions[rows[~first], k[~first] - 1] += below[~first]
    fractions[rows, k + 1] += above

    # each bucket's observations sit at its midpoint (the +Inf bucket at 1.5x the last bound)
    mids = np.concatenate([[b[0] / 2], (b[:-2] + b[1:-1]) / 2, [b[-2] * 1.5]])
    per_step = r * step_s
    per_step[0] = 0.0
    base = float(r.max(initial=0.0)) * 3600.0 + 1.0 if start is None else start
    inc = fractions * per_step[:, None]
    # ``base`` observations at t0, all in the first bucket: cumulative over le stays valid
    buckets = base + np.cumsum(np.cumsum(inc, axis=1), axis=0)
    count = buckets[:, -1].copy()
    total = base * b[0] / 2 + np.cumsum(inc @ mids)
    return HistogramSeries(buckets=buckets, count=count, sum=total)
