"""The request handler: kmock's Kubernetes emulator with real-server semantics.

kmock's ``KubernetesEmulator`` gives in-memory objects with version history, discovery, watch
streams and a request log; kmock 0.8 gets the rest wrong for our clients (FIELD-NOTES.md), so
this subclass answers object reads and writes itself: ``labelSelector``/``fieldSelector``,
``dryRun=All``, PUT with optimistic concurrency, patches, ``resourceVersion`` and
``metadata.generation`` bookkeeping, pod logs as ``text/plain``, core/v1 discovery, the
``scale`` subresource, server-side tables, Secret ``stringData``, kubectl's protobuf Job, and
the deployment controller (``controller``) after every Deployment write.

Everything here runs on the emulator's event loop; ``server.KubeEmulator`` is the
synchronous face.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import uuid
import warnings
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import aiohttp.web
import attrs
from kmock import KubernetesEmulator, KubernetesResourceNotFoundError, Request, resource

from festsafe_nb.sim.kube import controller as ctl
from festsafe_nb.sim.kube.common import (
    ApiError,
    Obj,
    not_found,
    now_utc,
    parse_time,
    prune,
    rfc3339,
)
from festsafe_nb.sim.kube.patches import apply_patch
from festsafe_nb.sim.kube.protobuf import PROTOBUF, ProtobufError, decode_object_head
from festsafe_nb.sim.kube.selectors import SelectorError, field_matcher, label_matcher
from festsafe_nb.sim.kube.tables import table

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-festsafe-emulator",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}
NAMESPACES = resource("", "v1", "namespaces")
PODS = resource("", "v1", "pods")
REPLICASETS = resource("apps", "v1", "replicasets")
CRONJOBS = resource("batch", "v1", "cronjobs")
JOBS = resource("batch", "v1", "jobs")
_NAMESPACE_PATH = re.compile(
    r"^/api/v1/namespaces(?:/(?P<name>[^/]+)(?:/(?P<sub>status|finalize))?)?/?$"
)
_JOBS_PATH = re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/jobs/?$")


def api_version(res: resource) -> str:
    return f"{res.group}/{res.version}" if res.group else str(res.version)


def _json(obj: Any, status: int = 200) -> aiohttp.web.Response:
    return aiohttp.web.json_response(obj, status=status)


def _scale(obj: Obj) -> Obj:
    meta = obj["metadata"]
    match = obj.get("spec", {}).get("selector", {}).get("matchLabels", {})
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta.get(k)
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(match.items())),
        },
    }


def _secret_defaults(obj: Obj) -> None:
    """What the API server does to a Secret: ``stringData`` folds into ``data``; type Opaque."""
    if obj.get("kind") != "Secret":
        return
    strings = obj.pop("stringData", None) or {}
    if strings:
        data = dict(obj.get("data") or {})
        data.update({k: base64.b64encode(str(v).encode()).decode() for k, v in strings.items()})
        obj["data"] = data
    obj.setdefault("type", "Opaque")


@attrs.define(kw_only=True)
class FestsafeKubeEmulator(KubernetesEmulator):
    """kmock's emulator with real-server semantics for the calls the project makes.

    Object state lives in kmock's ``objects`` array (so each object keeps its history of
    versions); pod logs live in ``pod_logs`` keyed by ``(namespace, pod, container)`` as
    ``(time, line)`` pairs so that ``sinceSeconds`` can be honoured.
    """

    pod_logs: dict[tuple[str, str, str], list[tuple[datetime, str]]] = attrs.field(
        factory=dict, init=False
    )
    controller: bool = attrs.field(default=True)
    unavailable_images: set[str] = attrs.field(factory=set, init=False)
    _controller_default: bool = attrs.field(default=True, init=False)
    _rv: int = attrs.field(default=1000, init=False)
    _kinds: dict[tuple[str, str], resource] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._controller_default = self.controller
        with warnings.catch_warnings():  # kmock 0.8 uses importlib.resources.read_binary
            warnings.simplefilter("ignore", DeprecationWarning)
            self.resources.load_bundled()
        for res in self.resources:
            info = self.resources[res]
            if info.kind and res.plural and "/" not in res.plural:
                self._kinds[(api_version(res), info.kind)] = res
        for ns in ("default", "kube-system"):
            self._ensure_namespace(ns)

    # ---- state helpers (called with the lock held or from the loop thread) ----

    def resource_for(self, api_version: str, kind: str) -> resource:
        try:
            return self._kinds[(api_version, kind)]
        except KeyError:
            raise ValueError(f"unknown kind {api_version}/{kind}") from None

    def reset_state(self) -> None:
        self._objects.clear()
        self.pod_logs.clear()
        self._requests.clear()
        self._buses.clear()
        self.controller = self._controller_default
        self.unavailable_images = set()
        for ns in ("default", "kube-system"):
            self._ensure_namespace(ns)

    def current(self, res: resource, ns: str | None, name: str) -> Obj | None:
        key = (res, ns, name)
        if key not in self._objects or self._objects[key].deleted:
            return None
        return copy.deepcopy(self._objects[key].raw)

    def all(self, res: resource, ns: str | None) -> list[Obj]:
        return [
            copy.deepcopy(obj.raw)
            for (r, n, _), obj in self._objects.items()
            if r == res and (ns is None or n == ns) and not obj.deleted
        ]

    def _stamp_new(self, res: resource, ns: str | None, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        info = self.resources[res]
        obj["apiVersion"] = api_version(res)
        obj["kind"] = info.kind
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if not meta.get("name"):
            raise ApiError(422, "Invalid", f"{info.kind} is invalid: metadata.name: Required value")
        if info.namespaced:
            meta["namespace"] = ns or meta.get("namespace") or "default"
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", rfc3339(now_utc()))
        meta["generation"] = int(meta.get("generation") or 1)
        return obj

    async def _commit(
        self, res: resource, new: Obj, old: Obj | None, dry_run: bool, seeding: bool = False
    ) -> Obj:
        """Store ``new`` as the next version: the single place where state changes."""
        meta = new.setdefault("metadata", {})
        _secret_defaults(new)
        if isinstance(new.get("spec"), dict):
            new["spec"] = prune(new["spec"])
        if old is not None and not seeding:
            for key in ("uid", "creationTimestamp"):
                meta[key] = old["metadata"].get(key)
            gen = int(old["metadata"].get("generation") or 1)
            meta["generation"] = gen + 1 if new.get("spec") != old.get("spec") else gen
        if dry_run:
            meta["resourceVersion"] = (old or {}).get("metadata", {}).get("resourceVersion", "")
            return new
        if self.controller and res.plural == "deployments":
            await self._control(new, old, seeding)
        if meta.get("namespace"):
            self._ensure_namespace(meta["namespace"])
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        ref = (res, meta.get("namespace"), meta["name"])
        if ref not in self._objects:
            self._objects[ref] = new
        else:
            self._objects[ref].history.append(new)
        await self._buses[res].put(
            {"type": "ADDED" if old is None else "MODIFIED", "object": copy.deepcopy(new)}
        )
        return copy.deepcopy(new)

    # ---- the deployment controller ----

    def _owned(self, res: resource, owner: Obj) -> list[Obj]:
        ns = owner["metadata"].get("namespace")
        return [o for o in self.all(res, ns) if ctl.owned_by(o, owner)]

    async def _write(self, res: resource, obj: Obj) -> None:
        """A controller write: create or replace, status included."""
        meta = obj["metadata"]
        old = self.current(res, meta.get("namespace"), meta["name"])
        if old is None:
            new = self._stamp_new(res, meta.get("namespace"), obj)
            await self._commit(res, new, None, dry_run=False)
            return
        new = copy.deepcopy(obj)
        new["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion")
        await self._commit(res, new, old, dry_run=False)

    async def _control(self, dep: Obj, old: Obj | None, seeding: bool) -> None:
        """Run the controller for a Deployment about to be stored (``dep`` is updated)."""
        owned = self._owned(REPLICASETS, dep)
        if seeding:
            for rs in ctl.adopt(dep, owned):
                await self._write(REPLICASETS, rs)
            return
        if old is not None and old["metadata"].get("generation") == dep["metadata"]["generation"]:
            return  # metadata or status only: nothing to roll out
        match = dep.get("spec", {}).get("selector", {}).get("matchLabels", {})
        pods = [
            p
            for p in self.all(PODS, dep["metadata"].get("namespace"))
            if all(p["metadata"].get("labels", {}).get(k) == v for k, v in match.items())
        ]
        previous = ctl.revision(old) if old is not None else 0
        rollout = ctl.reconcile(dep, owned, pods, self.unavailable_images, previous)
        for rs in rollout.replica_sets:
            await self._write(REPLICASETS, rs)
        ns = dep["metadata"].get("namespace")
        for name in rollout.delete_pods:
            await self._remove(PODS, ns, name)
        for pod in rollout.create_pods:
            await self._write(PODS, pod)

    async def _remove(self, res: resource, ns: str | None, name: str) -> Obj:
        old = self._existing(res, ns, name)
        self._rv += 1
        self._objects[(res, old["metadata"].get("namespace"), name)].delete()
        if res.plural == "pods":
            for key in [k for k in self.pod_logs if k[:2] == (ns, name)]:
                del self.pod_logs[key]
        await self._buses[res].put({"type": "DELETED", "object": old})
        if self.controller and res.plural in ("deployments", "replicasets"):  # cascade
            child = REPLICASETS if res.plural == "deployments" else PODS
            for obj in self._owned(child, old):
                await self._remove(child, ns, obj["metadata"]["name"])
        return old

    def _ensure_namespace(self, name: str) -> None:
        """Namespaces spring into existence with their first object, as kubectl expects."""
        key = (NAMESPACES, None, name)
        if key in self._objects and not self._objects[key].deleted:
            return
        self._rv += 1
        self._objects[key] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": rfc3339(now_utc()),
                "resourceVersion": str(self._rv),
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }

    async def seed(self, obj: Obj) -> Obj:
        """Store an object as given (status included), stamping what the server would."""
        res = self.resource_for(obj.get("apiVersion", ""), obj.get("kind", ""))
        ns = obj.get("metadata", {}).get("namespace")
        async with self._lock:
            new = self._stamp_new(res, ns, obj)
            old = self.current(res, new["metadata"].get("namespace"), new["metadata"]["name"])
            return await self._commit(res, new, old, dry_run=False, seeding=True)

    # ---- HTTP entry point ----

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        """Route what kmock's request parser gets wrong: namespaces and protobuf bodies."""
        ns_path = _NAMESPACE_PATH.match(raw_request.path)
        is_protobuf = raw_request.content_type == PROTOBUF
        if ns_path is None and not is_protobuf:
            return await super().__call__(raw_request)
        body = await raw_request.read()
        data: Any = None
        res, name, sub = NAMESPACES, None, None
        if is_protobuf:
            jobs_path = _JOBS_PATH.match(raw_request.path)
            if jobs_path is None or raw_request.method != "POST":
                err = ApiError(
                    415,
                    "UnsupportedMediaType",
                    "the emulator reads protobuf only for kubectl's create job --from=cronjob",
                )
                return _json(err.body(), err.code)
            res = JOBS
            try:
                data = decode_object_head(body)
            except (ProtobufError, UnicodeDecodeError) as exc:
                err = ApiError(400, "BadRequest", f"unreadable protobuf body: {exc}")
                return _json(err.body(), err.code)
            data["metadata"].setdefault("namespace", jobs_path["ns"])
        else:
            assert ns_path is not None
            name, sub = ns_path["name"], ns_path["sub"]
            try:
                data = json.loads(body) if body else None
            except ValueError:
                data = None
        request = Request(
            id=len(self._requests),
            method=raw_request.method,
            url=raw_request.url,
            params=dict(raw_request.query),
            headers=dict(raw_request.headers),
            body=body,
            data=data,
            resource=res,
            namespace=data["metadata"]["namespace"] if res is JOBS else None,
            name=name,
            subresource=sub,
            raw_request=raw_request,
        )
        self._requests.append(request)
        if res is JOBS:
            try:
                async with self._lock:
                    self._job_spec_from_owner(request.data)
            except ApiError as exc:
                return _json(exc.body(), exc.code)
        return await self._handle(request)

    def _job_spec_from_owner(self, job: Obj) -> None:
        """The protobuf Job's spec is its CronJob's jobTemplate spec (see ``protobuf``)."""
        meta = job["metadata"]
        owner = next(
            (r for r in meta.get("ownerReferences", []) if r.get("kind") == "CronJob"), None
        )
        cron = (
            self.current(CRONJOBS, meta.get("namespace"), owner.get("name", "")) if owner else None
        )
        if cron is None:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the emulator reads a protobuf Job only when a CronJob owns it",
            )
        job["spec"] = copy.deepcopy(cron["spec"].get("jobTemplate", {}).get("spec", {}))

    async def _handle(self, request: Request) -> aiohttp.web.StreamResponse:
        if request.url.path.rstrip("/") == "/version":  # the python client asks /version/
            return _json(VERSION)
        res = request.resource
        if res is None or res.plural is None or request.params.get("watch") in ("true", "1"):
            return await super()._handle(request)  # discovery, watch streams
        try:
            if res not in self.resources or "/" in res.plural:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            async with self._lock:
                return await self._route(request, res)
        except ApiError as exc:
            return _json(exc.body(), exc.code)
        except SelectorError as exc:
            return _json(ApiError(400, "BadRequest", str(exc)).body(), 400)

    async def _route(self, request: Request, res: resource) -> aiohttp.web.StreamResponse:
        method = request.method.value.upper()
        ns, name, sub = request.namespace, request.name, request.subresource
        dry_run = request.params.get("dryRun") == "All"
        if sub == "log" and method == "GET" and res.plural == "pods" and name:
            return self._serve_logs(ns or "default", name, request.params)
        if sub == "scale" and name and res.plural in ("deployments", "replicasets"):
            return _json(await self._serve_scale(request, res, ns, name, method, dry_run))
        if sub not in (None, "status"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if method == "GET" and name is None:
            return self._serve_list_or_table(request, res, ns)
        if method == "GET":
            obj = self.current(res, ns, name or "")
            if obj is None:
                raise not_found(res.plural or "", name or "")
            if "as=Table" in request.headers.get("Accept", ""):
                return _json(table(res.plural or "", [obj], str(self._rv)))
            return _json(obj)
        if method == "POST" and name is None:
            return _json(await self._create(res, ns, request.data, dry_run), 201)
        if method == "PUT" and name:
            return _json(await self._replace(res, ns, name, request.data, sub, dry_run))
        if method == "PATCH" and name:
            ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
            return _json(await self._patch(res, ns, name, ctype, request, sub, dry_run))
        if method == "DELETE" and name:
            old = self._existing(res, ns, name)
            return _json(old if dry_run else await self._remove(res, ns, name))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")

    # ---- reads ----

    def _select(self, request: Request, res: resource, ns: str | None) -> list[Obj]:
        labels = label_matcher(request.params.get("labelSelector"))
        fields = field_matcher(request.params.get("fieldSelector"))
        items = [
            o
            for o in self.all(res, ns)
            if labels(o.get("metadata", {}).get("labels") or {}) and fields(o)
        ]
        return sorted(
            items, key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"])
        )

    def _serve_list_or_table(
        self, request: Request, res: resource, ns: str | None
    ) -> aiohttp.web.StreamResponse:
        items = self._select(request, res, ns)
        if "as=Table" in request.headers.get("Accept", ""):
            return _json(table(res.plural or "", items, str(self._rv)))
        kind = self.resources[res].kind
        return _json(
            {
                "kind": f"{kind}List",
                "apiVersion": api_version(res),
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }
        )

    def _serve_logs(
        self, ns: str, name: str, params: Mapping[str, str]
    ) -> aiohttp.web.StreamResponse:
        pod = self.current(PODS, ns, name)
        if pod is None:
            raise not_found("pods", name)
        containers = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
        default = (
            pod["metadata"].get("annotations", {}).get("kubectl.kubernetes.io/default-container")
        )
        container = (
            params.get("container") or default or (containers[0] if len(containers) == 1 else None)
        )
        if container is None:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod {name}, "
                f"choose one of: [{' '.join(containers)}]",
            )
        if container not in containers:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        lines = list(self.pod_logs.get((ns, name, container), []))
        if "sinceSeconds" in params:
            cutoff = now_utc() - timedelta(seconds=int(params["sinceSeconds"]))
            lines = [(t, line) for t, line in lines if t >= cutoff]
        elif "sinceTime" in params and (since := parse_time(params["sinceTime"])):
            lines = [(t, line) for t, line in lines if t >= since]
        if "tailLines" in params:
            n = int(params["tailLines"])
            lines = lines[-n:] if n > 0 else []
        if params.get("timestamps") in ("true", "1"):
            text = "".join(f"{t.strftime('%Y-%m-%dT%H:%M:%S.%fZ')} {line}\n" for t, line in lines)
        else:
            text = "".join(f"{line}\n" for _, line in lines)
        body = text.encode()
        if "limitBytes" in params:
            body = body[: int(params["limitBytes"])]
        return aiohttp.web.Response(body=body, content_type="text/plain", charset="utf-8")

    # ---- writes ----

    async def _create(self, res: resource, ns: str | None, data: Any, dry_run: bool) -> Obj:
        if not isinstance(data, Mapping):
            raise ApiError(415, "UnsupportedMediaType", "the body must be a JSON object")
        new = self._stamp_new(res, ns, dict(data))
        if "status" in self.resources[res].subresources:
            new.pop("status", None)  # status is written through its subresource only
        meta = new["metadata"]
        if self.current(res, meta.get("namespace"), meta["name"]) is not None:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{res.plural} "{meta["name"]}" already exists',
                {"name": meta["name"], "kind": res.plural},
            )
        meta.pop("resourceVersion", None)
        return await self._commit(res, new, None, dry_run)

    def _existing(self, res: resource, ns: str | None, name: str) -> Obj:
        old = self.current(res, ns, name)
        if old is None:
            raise not_found(res.plural or "", name)
        return old

    async def _replace(
        self, res: resource, ns: str | None, name: str, data: Any, sub: str | None, dry_run: bool
    ) -> Obj:
        old = self._existing(res, ns, name)
        if not isinstance(data, Mapping):
            raise ApiError(415, "UnsupportedMediaType", "the body must be a JSON object")
        given_rv = data.get("metadata", {}).get("resourceVersion")
        if given_rv and given_rv != old["metadata"].get("resourceVersion"):
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {res.plural} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
                {"name": name, "kind": res.plural},
            )
        new = copy.deepcopy(dict(data))
        if sub == "status":
            new = {**old, "status": new.get("status")}
        else:
            new.setdefault("metadata", {})
            new["metadata"]["name"] = name
            if ns is not None:
                new["metadata"]["namespace"] = ns
            new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
            new["status"] = old.get("status", {}) if "status" in old else new.get("status")
            if new["status"] is None:
                new.pop("status")
        return await self._commit(res, new, old, dry_run)

    async def _patch(
        self,
        res: resource,
        ns: str | None,
        name: str,
        ctype: str,
        request: Request,
        sub: str | None,
        dry_run: bool,
    ) -> Obj:
        old = self._existing(res, ns, name)
        new = apply_patch(old, ctype, request.data)
        new["metadata"]["name"], new["metadata"]["namespace"] = (
            name,
            old["metadata"].get("namespace"),
        )
        if sub == "status":
            new = {**old, "status": new.get("status")}
        elif "status" in old:
            new["status"] = old["status"]  # status changes only through the subresource
        return await self._commit(res, new, old, dry_run)

    async def _serve_scale(
        self,
        request: Request,
        res: resource,
        ns: str | None,
        name: str,
        method: str,
        dry_run: bool,
    ) -> Obj:
        old = self._existing(res, ns, name)
        if method in ("PUT", "PATCH"):
            scale = _scale(old)
            if method == "PUT":
                wanted = request.data
            else:
                ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
                wanted = apply_patch(scale, ctype, request.data)
            replicas = (wanted or {}).get("spec", {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(422, "Invalid", "spec.replicas: must be a non-negative integer")
            new = copy.deepcopy(old)
            new["spec"]["replicas"] = replicas
            old = await self._commit(res, new, old, dry_run)
        elif method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on scale")
        return _scale(old)

    async def _serve_watch(self, request: Request) -> Any:
        """kmock's watch stream, filtered by the label and field selectors."""
        labels = label_matcher(request.params.get("labelSelector"))
        fields = field_matcher(request.params.get("fieldSelector"))
        async for event in super()._serve_watch(request):
            obj = event.get("object") if isinstance(event, Mapping) else None
            if obj is None or (labels(obj.get("metadata", {}).get("labels") or {}) and fields(obj)):
                yield event

    async def _serve_version(self, request: Request) -> Any:
        """APIResourceList with ``groupVersion: v1`` for core (kmock says ``/v1``)."""
        assert request.resource is not None
        group, version = request.resource.group, request.resource.version
        found = [
            r
            for r in self._get_resources()
            if r.group == group and r.version == version and r.plural
        ]
        if not found and group != "":
            raise KubernetesResourceNotFoundError()
        out = []
        for r in sorted(found, key=lambda r: r.plural or ""):
            info = self.resources[r]
            out.append(
                {
                    "name": r.plural,
                    "singularName": info.singular or "",
                    "namespaced": bool(info.namespaced),
                    "kind": info.kind or (r.plural or "").capitalize(),
                    "verbs": sorted(info.verbs),
                    **({"shortNames": sorted(info.shortnames)} if info.shortnames else {}),
                    **({"categories": sorted(info.categories)} if info.categories else {}),
                }
            )
            for sub in sorted(info.subresources):
                kind, verbs = info.kind or "", ["get", "patch", "update"]
                if sub == "scale":
                    kind = "Scale"
                elif sub == "log":
                    verbs = ["get"]
                out.append(
                    {
                        "name": f"{r.plural}/{sub}",
                        "singularName": "",
                        "namespaced": bool(info.namespaced),
                        "kind": kind,
                        "verbs": verbs,
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": out,
        }
