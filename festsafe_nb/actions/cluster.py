"""The write-side Kubernetes client the remediation actions use.

Sits between the actions (``actions.scale`` ...) and the API server. The ``ApiClient`` is
built exactly as the read-side evidence source builds its own
(``sources.kubernetes.build_api_client``: private configuration, urllib3 retries off), so one
kubeconfig/context/server setting reaches both. Requests go out as raw JSON with explicit
content types (the typed clients guess the patch type from a list of five, and we need to
say which one kubectl uses) and come back as plain dicts, which is what the diffs and the
kubectl-equivalence comparisons need. Every call has a timeout, and every refusal, timeout
or garbage answer becomes :class:`ActionError` with a short readable cause.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from festsafe_nb.actions.base import ActionError
from festsafe_nb.sources.kubernetes import build_api_client, describe_failure

if TYPE_CHECKING:
    from festsafe_nb.config import Environment

__all__ = ["JSON_PATCH", "MERGE_PATCH", "STRATEGIC_PATCH", "Cluster", "Obj", "path_for"]

Obj = dict[str, Any]
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"

_KINDS: dict[str, tuple[str, str]] = {
    # kind (as in "deployment/backend") -> (API prefix, plural)
    "deployment": ("/apis/apps/v1", "deployments"),
    "replicaset": ("/apis/apps/v1", "replicasets"),
    "secret": ("/api/v1", "secrets"),
    "pod": ("/api/v1", "pods"),
    "cronjob": ("/apis/batch/v1", "cronjobs"),
    "job": ("/apis/batch/v1", "jobs"),
}


def path_for(kind: str, namespace: str, name: str | None = None, sub: str | None = None) -> str:
    """The REST path of a namespaced object (or its collection, when ``name`` is None)."""
    try:
        prefix, plural = _KINDS[kind]
    except KeyError:
        raise ActionError(f"unsupported kind {kind!r}") from None
    path = f"{prefix}/namespaces/{quote(namespace, safe='')}/{plural}"
    if name is not None:
        path += f"/{quote(name, safe='')}"
        if sub is not None:
            path += f"/{sub}"
    return path


class Cluster:
    """One cluster, for writing. ``server`` alone means an unauthenticated plain endpoint."""

    def __init__(
        self,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        server: str | None = None,
        timeout_s: float = 10.0,
        field_manager: str = "festsafe-nb",
    ) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.server = server
        self.timeout_s = timeout_s
        self.field_manager = field_manager
        self._client: Any = None

    @classmethod
    def from_environment(cls, env: Environment) -> Cluster:
        """The cluster of a configured environment; the demo simulator has none."""
        if env.kind == "demo":
            raise ActionError("the demo environment has no cluster to act on")
        if env.kubeconfig is None and env.kube_server is None and env.kube_context is None:
            raise ActionError("the environment names no kubeconfig, kube_context or kube_server")
        return cls(
            kubeconfig=env.kubeconfig,
            context=env.kube_context,
            server=env.kube_server,
            timeout_s=env.timeout_s,
        )

    def __repr__(self) -> str:
        where = self.server or self.context or self.kubeconfig or "default kubeconfig"
        return f"Cluster({where!r})"

    # ---- plumbing ----

    def _api(self) -> Any:
        if self._client is None:
            self._client = build_api_client(
                kubeconfig=self.kubeconfig, context=self.context, server=self.server
            )
        return self._client

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except ActionError:
            raise
        except Exception as exc:  # every failure of a call to the cluster becomes one error
            raise ActionError(f"{what}: {describe_failure(exc, self.timeout_s)}") from None

    def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout_s: float | None = None,
    ) -> Obj:
        """One API call; the answer as a JSON object, or ActionError (``METHOD path: cause``)."""
        from kubernetes.client.exceptions import ApiException

        what = f"{method} {path}"
        with self._guard(what):
            api = self._api()
            headers = {"Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = content_type
            m, url, hdrs, payload, _ = api.param_serialize(
                method=method,
                resource_path=path,
                query_params=list(query or []),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            resp = api.call_api(
                m,
                url,
                header_params=hdrs,
                body=payload,
                _request_timeout=timeout_s or self.timeout_s,
            )
            raw = resp.read()
            text = raw.decode("utf-8", errors="replace") if raw else ""
            if not 200 <= resp.status <= 299:
                raise ApiException.from_response(http_resp=resp, body=text, data=None)
            try:
                data = json.loads(text)
            except ValueError:
                raise ActionError(f"{what}: unparseable answer (not JSON)") from None
            if not isinstance(data, dict):
                raise ActionError(f"{what}: unexpected answer (not a JSON object)")
            return data

    # ---- verbs ----

    def get(self, path: str) -> Obj:
        return self.request("GET", path)

    def get_or_none(self, path: str) -> Obj | None:
        """The object, or None when the server says 404 (anything else still raises)."""
        try:
            return self.get(path)
        except ActionError as exc:
            if ": HTTP 404" in str(exc):
                return None
            raise

    def items(self, path: str, label_selector: str | None = None) -> list[Obj]:
        query = [("labelSelector", label_selector)] if label_selector else []
        data = self.request("GET", path, query=query)
        items = data.get("items")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ActionError(f"GET {path}: unexpected answer (no list of items)")
        return items

    def _write_query(self, dry_run: bool) -> list[tuple[str, str]]:
        query = [("fieldManager", self.field_manager)]
        if dry_run:
            query.append(("dryRun", "All"))
        return query

    def patch(self, path: str, body: Any, patch_type: str, *, dry_run: bool = False) -> Obj:
        return self.request(
            "PATCH", path, query=self._write_query(dry_run), body=body, content_type=patch_type
        )

    def create(self, path: str, body: Obj, *, dry_run: bool = False) -> Obj:
        return self.request("POST", path, query=self._write_query(dry_run), body=body)

    def replace(self, path: str, body: Obj, *, dry_run: bool = False) -> Obj:
        return self.request("PUT", path, query=self._write_query(dry_run), body=body)

    def poll(
        self,
        probe: Callable[[], tuple[bool, str]],
        timeout_s: float,
        *,
        interval_s: float = 0.25,
        max_interval_s: float = 2.0,
    ) -> tuple[bool, str, list[str]]:
        """Call ``probe`` until it says done or ``timeout_s`` passes.

        Returns (done, last message, distinct messages in order): kubectl prints each new
        status line once, and so do the runbooks.
        """
        import time

        deadline = time.monotonic() + timeout_s
        seen: list[str] = []
        while True:
            done, message = probe()
            if not seen or seen[-1] != message:
                seen.append(message)
            left = deadline - time.monotonic()
            if done or left <= 0:
                return done, message, seen
            time.sleep(min(interval_s, left))
            interval_s = min(interval_s * 1.5, max_interval_s)
