"""Prometheus: catalog signals and raw PromQL in, tidy pandas DataFrames out.

The runbooks ask for a catalog :class:`~festsafe_nb.catalog.Signal` by name; this client renders
its PromQL, runs a range query and returns ``time``, the signal's labels and ``value`` (scaled
to the signal's unit). Connection handling (session, retries, auth, TLS settings) is
prometheus-api-client's ``PrometheusConnect``; the answer itself is fetched as raw bytes through
that session and converted without building a Python object per sample, because a runbook's
range query can carry a million points (27.5 MB of JSON for 200 series x 5,760 steps), where
``json.loads`` plus per-point objects cost seconds and the raw transfer costs a tenth of one.

Any failure (refused, timed out, HTTP error, Prometheus ``status: error``, an answer that is not
the JSON Prometheus sends) becomes :class:`~festsafe_nb.errors.SourceUnavailable`.
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from festsafe_nb.errors import SourceUnavailable

if TYPE_CHECKING:
    import numpy.typing as npt
    import requests

    from festsafe_nb.catalog import Signal

__all__ = ["PrometheusSource", "parse_matrix", "parse_vector"]

SYSTEM = "prometheus"
_CHUNK = 1 << 20
_MATRIX_HEAD = b'{"status":"success","data":{"resultType":"matrix","result":['
_METRIC = b'{"metric":'
_VALUES = b',"values":['
# JSON punctuation of a values block -> line breaks: '[[1,"2"],[3,"4"]]' becomes one number
# per line ('"2"' stays quoted; the CSV reader unquotes it)
_TO_LINES = bytes.maketrans(b",[]", b"\n\n\n")


class PrometheusSource:
    """A Prometheus HTTP API client (``/api/v1/query`` and ``/api/v1/query_range``).

    ``timeout_s`` bounds every network wait (connect, first byte, each read) and the whole body
    download. ``retries`` applies to refused connections and 502/503/504 answers only, with a
    short back-off: a runbook would rather report "unavailable" quickly than hang.
    """

    system = SYSTEM

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        headers: dict[str, str] | None = None,
        retries: int = 1,
        verify_tls: bool = True,
    ) -> None:
        # imported here, not at module level: ~0.2 s that only a program building a source pays
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        self.url = url.rstrip("/")
        self.timeout_s = float(timeout_s)
        retry = Retry(
            total=retries,
            connect=retries,
            read=0,
            status=retries,
            backoff_factor=0.1,
            status_forcelist=(502, 503, 504),
            allowed_methods=("GET",),
            raise_on_status=False,
        )
        # identity: on loopback gzip costs ~10x on large range queries (FIELD-NOTES)
        self._conn = PrometheusConnect(
            url=self.url,
            headers={"Accept-Encoding": "identity", **(headers or {})},
            disable_ssl=not verify_tls,
            retry=retry,
            timeout=self.timeout_s,
        )
        self._session: requests.Session = self._conn._session

    def close(self) -> None:
        self._conn.close()

    # --- the MetricsSource protocol -------------------------------------------------------

    def ping(self) -> None:
        """Raise SourceUnavailable unless the query API answers a trivial query."""
        parse_vector(self._get("/api/v1/query", {"query": "1"}))

    def signal(
        self,
        signal: Signal,
        start: datetime,
        end: datetime,
        step_s: float,
        **params: Any,
    ) -> pd.DataFrame:
        """``time``, exactly ``signal.labels`` (missing: ""), ``value`` times ``signal.scale``.

        Label columns are plain strings here, as the simulator returns them, so that a runbook
        cannot tell the two apart; ``query_range`` keeps them categorical.
        """
        frame = self.query_range(signal.render(**params), start, end, step_s)
        out = pd.DataFrame({"time": frame["time"]}, copy=False)
        for name in signal.labels:
            if name in frame.columns:
                out[name] = frame[name].astype("str")
            else:
                out[name] = pd.Series([""] * len(frame), dtype="str")
        out["value"] = frame["value"].to_numpy() * signal.scale
        return out

    # --- raw PromQL --------------------------------------------------------------------------

    def query_range(
        self, promql: str, start: datetime | float, end: datetime | float, step_s: float
    ) -> pd.DataFrame:
        """Range query: ``time``, one categorical column per label found, ``value``."""
        params = {
            "query": promql,
            "start": _stamp(start),
            "end": _stamp(end),
            "step": repr(float(step_s)),
        }
        return parse_matrix(self._get("/api/v1/query_range", params))

    def query(self, promql: str, at: datetime | float | None = None) -> pd.DataFrame:
        """Instant query (vector or scalar result): ``time``, label columns, ``value``."""
        params = {"query": promql}
        if at is not None:
            params["time"] = _stamp(at)
        return parse_vector(self._get("/api/v1/query", params))

    # --- transport ---------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str]) -> bytes:
        import requests
        from urllib3.exceptions import HTTPError as Urllib3Error

        url = self.url + path
        try:
            resp = self._session.get(
                url,
                params=params,
                headers=self._conn.headers,
                auth=self._conn.auth,
                timeout=(self.timeout_s, self.timeout_s),
                stream=True,
            )
            with resp:
                body = _read_body(resp, time.monotonic() + self.timeout_s, self.timeout_s)
                status = resp.status_code
        except requests.Timeout:
            raise SourceUnavailable(
                SYSTEM, f"no answer from {self.url} within {self.timeout_s:g} s"
            ) from None
        except (requests.RequestException, Urllib3Error, OSError) as exc:
            raise SourceUnavailable(SYSTEM, _describe(exc, self.url, self.timeout_s)) from None
        if status != 200:
            raise SourceUnavailable(SYSTEM, _http_error(status, body))
        return body


def _read_body(resp: requests.Response, deadline: float, timeout_s: float) -> bytes:
    chunks = []
    raw = resp.raw
    while True:
        chunk = raw.read(_CHUNK, decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise SourceUnavailable(SYSTEM, f"answer not complete within {timeout_s:g} s")
    return b"".join(chunks)


def _describe(exc: BaseException, url: str, timeout_s: float) -> str:
    text = str(exc)
    if "timed out" in text.lower() or "timeout" in type(exc).__name__.lower():
        return f"no answer from {url} within {timeout_s:g} s"
    if "refused" in text.lower():
        return f"connection refused by {url}"
    if "Name or service not known" in text or "getaddrinfo" in text:
        return f"cannot resolve the host of {url}"
    if "RemoteDisconnected" in text or "BadStatusLine" in text or "ProtocolError" in text:
        return f"{url} closed the connection or did not speak HTTP"
    return f"{type(exc).__name__}: {text[:200]}"


def _http_error(status: int, body: bytes) -> str:
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and doc.get("status") == "error":
            return f"HTTP {status}, {doc.get('errorType', 'error')}: {doc.get('error', '')}"[:300]
    except ValueError:
        pass
    snippet = body[:120].decode("utf-8", "replace").strip()
    return f"HTTP {status}" + (f": {snippet}" if snippet else "")


def _stamp(at: datetime | float) -> str:
    if isinstance(at, datetime):
        at = (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
    return f"{float(at):.3f}"


# --- conversion: response bytes -> DataFrame ----------------------------------------------


def parse_matrix(body: bytes) -> pd.DataFrame:
    """A ``query_range`` answer as ``time``, one categorical column per label, ``value``.

    The fast path relies on the layout Prometheus writes (``status`` first, each series
    ``{"metric":{...},"values":[[t,"v"],...]}``) and parses all values blocks in one go;
    anything it does not recognise falls back to ``json.loads``, which is slow but exact.
    """
    fast = _matrix_fast(body)
    if fast is not None:
        return fast
    result = _result(_load(body), "matrix")
    metrics: list[dict[str, str]] = []
    times: list[npt.NDArray[np.float64]] = []
    values: list[npt.NDArray[np.float64]] = []
    try:
        for series in result:
            points = np.array(series.get("values") or [], dtype=str).reshape(-1, 2)
            metrics.append(dict(series["metric"]))
            times.append(points[:, 0].astype(np.float64))
            values.append(points[:, 1].astype(np.float64))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SourceUnavailable(SYSTEM, f"unexpected matrix layout: {exc}") from None
    counts = np.array([t.size for t in times], dtype=np.int64)
    flat_t = np.concatenate(times) if times else np.empty(0)
    flat_v = np.concatenate(values) if values else np.empty(0)
    return _frame(metrics, counts, flat_t, flat_v)


def parse_vector(body: bytes) -> pd.DataFrame:
    """An instant ``query`` answer (vector, scalar or matrix) in the same shape."""
    doc = _load(body)
    kind = _result_type(doc)
    if kind == "matrix":
        return parse_matrix(body)
    result = _result(doc, kind)
    try:
        if kind == "scalar":
            metrics: list[dict[str, str]] = [{}]
            pairs = [result]
        elif kind == "vector":
            metrics = [dict(s["metric"]) for s in result]
            pairs = [s["value"] for s in result]
        else:
            raise SourceUnavailable(SYSTEM, f"unexpected result type {kind!r}")
        flat_t = np.array([float(p[0]) for p in pairs], dtype=np.float64)
        flat_v = np.array([float(p[1]) for p in pairs], dtype=np.float64)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SourceUnavailable(SYSTEM, f"unexpected {kind} layout: {exc}") from None
    return _frame(metrics, np.ones(len(metrics), dtype=np.int64), flat_t, flat_v)


def _load(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError:
        snippet = body[:60].decode("utf-8", "replace")
        raise SourceUnavailable(SYSTEM, f"answer is not JSON: {snippet!r}") from None
    if not isinstance(doc, dict) or "status" not in doc:
        raise SourceUnavailable(SYSTEM, "answer is not a Prometheus API response")
    if doc["status"] != "success":
        raise SourceUnavailable(
            SYSTEM, f"{doc.get('errorType', 'error')}: {doc.get('error', 'no error text')}"[:300]
        )
    return doc


def _result_type(doc: dict[str, Any]) -> str:
    data = doc.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("resultType"), str):
        raise SourceUnavailable(SYSTEM, "answer has no data.resultType")
    return str(data["resultType"])


def _result(doc: dict[str, Any], expected: str) -> Any:
    kind = _result_type(doc)
    if kind != expected:
        raise SourceUnavailable(SYSTEM, f"expected a {expected} result, got {kind}")
    result = doc["data"].get("result")
    if result is None or (expected != "scalar" and not isinstance(result, list)):
        raise SourceUnavailable(SYSTEM, "answer has no data.result list")
    return result


def _matrix_fast(body: bytes) -> pd.DataFrame | None:
    """Parse Prometheus' own matrix layout; None when the bytes do not follow it exactly."""
    if not body.startswith(_MATRIX_HEAD):
        return None
    pos = len(_MATRIX_HEAD)
    metrics: list[dict[str, str]] = []
    spans: list[tuple[int, int]] = []
    if body.startswith(b"]", pos):
        pos += 1
    else:
        while True:
            # '"values":[' cannot occur inside a JSON string (its quotes would be escaped)
            if not body.startswith(_METRIC, pos):
                return None
            at = body.find(_VALUES, pos)
            if at < 0:
                return None
            try:
                metric = json.loads(body[pos + len(_METRIC) : at])
            except ValueError:
                return None
            if not isinstance(metric, dict):
                return None
            start = at + len(_VALUES)
            if body.startswith(b"]", start):  # no points
                end = start
            else:
                end = body.find(b"]]", start)
                if end < 0:
                    return None
                end += 1
            metrics.append(metric)
            spans.append((start, end))
            pos = end + 1
            if not body.startswith(b"}", pos):
                return None
            pos += 1
            if body.startswith(b",", pos):
                pos += 1
                continue
            if body.startswith(b"]", pos):
                pos += 1
                break
            return None
    if not _tail_ok(body[pos:]):
        return None
    counts = np.array([body.count(b"[", a, b) for a, b in spans], dtype=np.int64)
    flat = _parse_numbers(body, spans, int(counts.sum()) * 2)
    if flat is None:
        return None
    return _frame(metrics, counts, flat[0::2], flat[1::2])


def _tail_ok(tail: bytes) -> bool:
    """After the result list: '}}' or '},"warnings":[...]}' and such."""
    if tail == b"}}":
        return True
    if not (tail.startswith(b"},") and tail.endswith(b"}")):
        return False
    try:
        return isinstance(json.loads(b"{" + tail[2:]), dict)
    except ValueError:
        return False


def _parse_numbers(
    body: bytes, spans: list[tuple[int, int]], expected: int
) -> npt.NDArray[np.float64] | None:
    """Every number of every values block, in order; None unless exactly ``expected`` parse."""
    if expected == 0:
        return np.empty(0)
    first, last = spans[0][0], spans[-1][1]
    # one translate turns the punctuation into line breaks (C speed; a numpy table lookup is
    # 4x slower), then the JSON between blocks (metric objects) is blanked out in a copy
    lines = bytearray(memoryview(body)[first:last]).translate(_TO_LINES)
    for (_, prev_end), (next_start, _) in itertools.pairwise(spans):
        lines[prev_end - first : next_start - first] = b"\n" * (next_start - prev_end)
    try:
        numbers = _read_column(lines)
    except ValueError:
        return None
    if numbers.size != expected:
        return None
    return numbers


def _read_column(lines: bytearray) -> npt.NDArray[np.float64]:
    """One float per non-empty line (quoted or not); NaN, +Inf and -Inf included."""
    try:
        import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
        import pyarrow.csv as pacsv  # type: ignore[import-untyped, unused-ignore]
    except ImportError:  # pragma: no cover - pyarrow ships with the pandas we depend on
        text = bytes(lines).replace(b'"', b" ")
        return np.fromstring(text, sep="\n")
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(lines)),
            read_options=pacsv.ReadOptions(column_names=["x"], block_size=1 << 22),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(
                column_types={"x": pa.float64()},
                null_values=[],
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(str(exc)) from None
    column = table.column("x")
    if column.null_count:
        raise ValueError("empty value")
    return np.asarray(column.to_numpy(), dtype=np.float64)


def _frame(
    metrics: list[dict[str, str]],
    counts: npt.NDArray[np.int64],
    flat_t: npt.NDArray[np.float64],
    flat_v: npt.NDArray[np.float64],
) -> pd.DataFrame:
    """Series-level labels and flat points -> the tidy frame (labels repeated by codes)."""
    micros = np.rint(flat_t * 1e6).astype(np.int64).view("datetime64[us]")
    columns: dict[str, Any] = {"time": pd.DatetimeIndex(micros).tz_localize("UTC")}
    names = sorted({k for m in metrics for k in m}, key=lambda k: (k != "__name__", k))
    for name in names:
        per_series = [str(m.get(name, "")) for m in metrics]
        categories, codes = np.unique(np.array(per_series, dtype=object), return_inverse=True)
        columns[name] = pd.Categorical.from_codes(
            np.repeat(codes.astype(np.int32), counts), categories=list(categories)
        )
    columns["value"] = np.ascontiguousarray(flat_v, dtype=np.float64)
    return pd.DataFrame(columns, copy=False)
