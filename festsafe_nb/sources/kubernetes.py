"""Kubernetes evidence: deployments, pods, events and application logs as DataFrames.

Sits under the runbooks as the ``KubeSource`` implementation for live environments (the
demo uses ``festsafe_nb.sim``). It uses the official ``kubernetes`` client only for what it
is good at -- kubeconfig/auth handling, URL building and the HTTP transport -- through an
``ApiClient`` of its own (the global default configuration is never touched), and reads the
raw JSON itself: building client model objects for every pod is slow and buys nothing when
the result is a table. Every call has ``_request_timeout`` and urllib3 retries are off, so
a dead API server fails within ``timeout_s``; every failure becomes ``SourceUnavailable``.

The ``kubernetes`` package and pandas are imported lazily: together they cost about 1.5 s,
which a notebook that never touches Kubernetes should not pay.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from festsafe_nb.errors import SourceUnavailable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["KubernetesSource", "build_api_client", "describe_failure"]

SYSTEM = "kubernetes"
T = TypeVar("T")

DEPLOYMENT_COLUMNS = [
    "name",
    "replicas",
    "ready_replicas",
    "available_replicas",
    "updated_replicas",
    "images",
    "generation",
    "observed_generation",
]
POD_COLUMNS = ["name", "app", "phase", "ready", "restarts", "node", "started_at"]
EVENT_COLUMNS = ["time", "type", "reason", "object", "message", "count"]
LOG_COLUMNS = ["pod", "ts", "level", "logger", "msg"]


def describe_failure(exc: BaseException, timeout_s: float) -> str:
    """A short readable cause for whatever the client or the transport raised.

    Shared with ``actions.cluster`` (the write side) so both say the same thing.
    """
    import urllib3.exceptions as u3
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    if isinstance(exc, ApiException):
        message = exc.reason or ""
        try:
            body = json.loads(exc.body) if exc.body else None
            if isinstance(body, dict) and body.get("message"):
                message = str(body["message"])
        except (TypeError, ValueError):
            pass
        status = f"HTTP {exc.status}" if exc.status else "request failed"
        return f"{status}: {message}"[:300]
    if isinstance(exc, ConfigException):
        return f"kubeconfig: {exc}"[:300]
    if isinstance(exc, u3.NewConnectionError | ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, u3.TimeoutError | TimeoutError):
        return f"no answer within {timeout_s:g}s"
    if isinstance(exc, u3.ProtocolError | ConnectionError):
        return f"connection dropped: {exc.__class__.__name__}"
    if isinstance(exc, u3.HTTPError):
        return f"HTTP transport error: {exc.__class__.__name__}"
    if isinstance(exc, ValueError):
        return f"unparseable answer: {exc}"[:300]
    return f"{exc.__class__.__name__}: {exc}"[:300]


def build_api_client(
    *, kubeconfig: str | None = None, context: str | None = None, server: str | None = None
) -> Any:
    """A private ``kubernetes.client.ApiClient`` (the global configuration is never touched).

    ``server`` alone means an unauthenticated plain endpoint (the test emulator, a local
    ``kubectl proxy``); with a kubeconfig it overrides the context's server. urllib3 retries
    are off: a dead server must fail within one timeout, not three. Shared by this source
    (read side) and ``actions.cluster`` (write side). Raises ``ConfigException`` on a bad
    kubeconfig; callers translate it into their own error.
    """
    from kubernetes import client, config

    cfg = client.Configuration()
    if server is not None and kubeconfig is None:
        cfg.host = server.rstrip("/")
    else:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig,
            context=context,
            client_configuration=cfg,
            persist_config=False,
        )
        if server is not None:
            cfg.host = server.rstrip("/")
    cfg.retries = False
    return client.ApiClient(configuration=cfg)


class KubernetesSource:
    """Read-only evidence from one cluster (``kubeconfig``/``context``, or a bare ``server``).

    ``server`` alone (no kubeconfig) means an unauthenticated plain endpoint: the test
    emulator or a local ``kubectl proxy``.
    """

    system = SYSTEM

    def __init__(
        self,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        server: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.server = server
        self.timeout_s = timeout_s
        self._client: Any = None  # kubernetes.client.ApiClient, built on first use

    # ---- plumbing ----

    def _api_client(self) -> Any:
        if self._client is None:
            self._client = build_api_client(
                kubeconfig=self.kubeconfig, context=self.context, server=self.server
            )
        return self._client

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except SourceUnavailable:
            raise
        except Exception as exc:  # every failure of an external call becomes one error
            raise SourceUnavailable(SYSTEM, describe_failure(exc, self.timeout_s)) from exc

    def _raw(self, path: str, query: dict[str, Any] | None = None) -> bytes:
        """GET ``path`` through the client's ApiClient (auth, TLS, timeout); body as bytes.

        Raw paths instead of the generated CoreV1Api/AppsV1Api classes: their modules take
        seconds to import and their models reject objects a real server may send.
        """
        api = self._api_client()
        params = [
            (k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in (query or {}).items()
        ]
        method, url, headers, body, _ = api.param_serialize(
            method="GET",
            resource_path=path,
            query_params=params,
            header_params={"Accept": "application/json, text/plain, */*"},
            auth_settings=["BearerToken"],
        )
        resp = api.call_api(
            method, url, header_params=headers, body=body, _request_timeout=self.timeout_s
        )
        data = resp.read()
        if not 200 <= resp.status <= 299:
            from kubernetes.client.exceptions import ApiException

            raise ApiException.from_response(
                http_resp=resp, body=data.decode("utf-8", "replace"), data=None
            )
        return bytes(data or b"")

    def _json(self, path: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self._raw(path, query)
        try:
            data = json.loads(body)
        except ValueError:
            raise SourceUnavailable(SYSTEM, "unparseable answer (not JSON)") from None
        if not isinstance(data, dict):
            raise SourceUnavailable(SYSTEM, "unexpected answer (not a JSON object)")
        return data

    def _items(self, path: str, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        data = self._json(path, query)
        items = data.get("items")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise SourceUnavailable(SYSTEM, "unexpected answer (no list of items)")
        return items

    # ---- KubeSource ----

    def ping(self) -> None:
        """Ask ``/version``: cheap, needs no RBAC, proves it is a Kubernetes API."""
        with self._guard():
            data = self._json("/version/")
            if "gitVersion" not in data and "major" not in data:
                raise SourceUnavailable(SYSTEM, "unexpected answer (not a Kubernetes /version)")

    def deployments(self, namespace: str) -> pd.DataFrame:
        import pandas as pd

        with self._guard():
            items = self._items(f"/apis/apps/v1/namespaces/{namespace}/deployments")
            rows = []
            for d in items:
                meta, spec, status = d.get("metadata", {}), d.get("spec", {}), d.get("status", {})
                containers = spec.get("template", {}).get("spec", {}).get("containers", [])
                rows.append(
                    (
                        meta.get("name"),
                        int(spec.get("replicas", 1) or 0),
                        int(status.get("readyReplicas") or 0),
                        int(status.get("availableReplicas") or 0),
                        int(status.get("updatedReplicas") or 0),
                        ", ".join(str(c.get("image", "")) for c in containers),
                        int(meta.get("generation") or 0),
                        int(status.get("observedGeneration") or 0),
                    )
                )
            return pd.DataFrame(rows, columns=DEPLOYMENT_COLUMNS)

    def pods(self, namespace: str, selector: str | None = None) -> pd.DataFrame:
        import pandas as pd

        with self._guard():
            items = self._pod_items(namespace, selector)
            rows = []
            for p in items:
                meta, spec, status = p.get("metadata", {}), p.get("spec", {}), p.get("status", {})
                conditions = {c.get("type"): c.get("status") for c in status.get("conditions", [])}
                restarts = sum(
                    int(c.get("restartCount") or 0) for c in status.get("containerStatuses", [])
                )
                rows.append(
                    (
                        meta.get("name"),
                        (meta.get("labels") or {}).get("app"),
                        status.get("phase", "Unknown"),
                        conditions.get("Ready") == "True",
                        restarts,
                        spec.get("nodeName"),
                        status.get("startTime"),
                    )
                )
            df = pd.DataFrame(rows, columns=POD_COLUMNS)
            df["ready"] = df["ready"].astype(bool)
            df["restarts"] = df["restarts"].astype("int64")
            df["started_at"] = pd.to_datetime(df["started_at"], utc=True, errors="coerce")
            return df

    def _pod_items(self, namespace: str, selector: str | None) -> list[dict[str, Any]]:
        query = {"labelSelector": selector} if selector else {}
        return self._items(f"/api/v1/namespaces/{namespace}/pods", query)

    def events(self, namespace: str) -> pd.DataFrame:
        import pandas as pd

        with self._guard():
            items = self._items(f"/api/v1/namespaces/{namespace}/events")
            rows = []
            for e in items:
                inv = e.get("involvedObject", {})
                when = (
                    e.get("lastTimestamp")
                    or e.get("eventTime")
                    or e.get("firstTimestamp")
                    or e.get("metadata", {}).get("creationTimestamp")
                )
                rows.append(
                    (
                        when,
                        e.get("type", ""),
                        e.get("reason", ""),
                        f"{inv.get('kind', '')}/{inv.get('name', '')}",
                        e.get("message", ""),
                        int(e.get("count") or 1),
                    )
                )
            df = pd.DataFrame(rows, columns=EVENT_COLUMNS)
            df["time"] = pd.to_datetime(df["time"], utc=True, errors="coerce", format="ISO8601")
            df["count"] = df["count"].astype("int64")
            return df.sort_values("time", kind="stable", ignore_index=True)

    def logs(
        self, namespace: str, deployment: str, since_seconds: int = 3600, tail_lines: int = 500
    ) -> pd.DataFrame:
        """The JSON log lines of every ``app=<deployment>`` pod, one row per line."""
        with self._guard():
            texts: list[tuple[str, str]] = []
            for pod in self._pod_items(namespace, f"app={deployment}"):
                name = pod.get("metadata", {}).get("name", "")
                containers = [c.get("name") for c in pod.get("spec", {}).get("containers", [])]
                query: dict[str, Any] = {
                    "tailLines": tail_lines,
                    "sinceSeconds": since_seconds,
                    "timestamps": True,
                }
                if len(containers) > 1:
                    query["container"] = deployment if deployment in containers else containers[0]
                body = self._raw(f"/api/v1/namespaces/{namespace}/pods/{name}/log", query)
                texts.append((name, body.decode("utf-8", errors="replace")))
            return parse_logs(texts)


def parse_logs(texts: list[tuple[str, str]]) -> pd.DataFrame:
    """Turn ``(pod, log text with kubelet timestamps)`` pairs into the logs() DataFrame.

    Vectorised: lines are split with pandas string methods and the JSON ones parsed in one
    pass; only when that pass meets a broken line are the candidates validated one by one
    to find which to keep as ``raw``.
    """
    import pandas as pd

    frames = [pd.DataFrame({"pod": pod, "line": text.splitlines()}) for pod, text in texts if text]
    if not frames:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in LOG_COLUMNS})
        empty["ts"] = pd.Series(dtype="datetime64[ns, UTC]")
        return empty
    lines = pd.concat(frames, ignore_index=True)
    lines = lines[lines["line"].str.strip() != ""].reset_index(drop=True)
    # kubelet prefix "2024-05-01T10:00:00.123456789Z " (timestamps=true); tolerate its absence
    parts = lines["line"].str.extract(r"^(?P<stamp>\d{4}-\d\d-\d\dT\S+Z) (?P<text>.*)$")
    has_stamp = parts["stamp"].notna()
    text = parts["text"].where(has_stamp, lines["line"])
    stamp = pd.to_datetime(parts["stamp"], utc=True, errors="coerce", format="ISO8601")

    stripped = text.str.strip()
    candidate = stripped.str.startswith("{") & stripped.str.endswith("}")
    parsed, ok = _read_json_lines(stripped[candidate])
    json_index = ok[ok].index

    records = parsed if len(parsed) else pd.DataFrame(index=json_index)
    records.index = json_index
    raw_index = lines.index.difference(json_index)
    raw = pd.DataFrame({"level": "raw", "msg": text[raw_index]}, index=raw_index)
    out = pd.concat([records, raw]).reindex(lines.index)
    for col in LOG_COLUMNS[2:]:
        if col not in out:
            out[col] = None
    out["pod"] = lines["pod"]
    if "ts" in out:
        ts = pd.to_datetime(out["ts"], utc=True, errors="coerce", format="ISO8601")
    else:
        ts = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
    out["ts"] = ts.fillna(stamp)
    extra = [c for c in out.columns if c not in LOG_COLUMNS]
    for col in extra:  # HTTP status etc. stay integers despite the gaps of other lines
        values = out[col]
        if values.dtype.kind == "f" and values.notna().any() and (values.dropna() % 1 == 0).all():
            out[col] = values.astype("Int64")
    out = out[LOG_COLUMNS + extra]
    return out.sort_values(["ts", "pod"], kind="stable", ignore_index=True)


def _read_json_lines(candidates: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """Parse JSON-object lines; ``ok`` marks (by the candidates' index) which parsed.

    All lines are parsed in one ``json.loads`` of a joined array (about twice as fast as
    ``read_json(lines=True)`` here); a broken line fails the whole pass, and only then are
    the lines checked one by one.
    """
    import pandas as pd

    if candidates.empty:
        return pd.DataFrame(), pd.Series(dtype=bool)

    def read(series: pd.Series) -> pd.DataFrame:
        records = json.loads("[" + ",".join(series) + "]")
        if len(records) != len(series) or not all(isinstance(r, dict) for r in records):
            raise ValueError("not one JSON object per line")
        return pd.DataFrame(records)

    try:
        return read(candidates), pd.Series(True, index=candidates.index)
    except ValueError:
        pass
    ok = candidates.map(_is_json_object).astype(bool)
    good = candidates[ok]
    return (read(good) if len(good) else pd.DataFrame()), ok


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
