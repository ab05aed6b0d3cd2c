"""The emulator on a loopback port, driven from synchronous code (tests, the demo kernel).

The handler runs on an asyncio loop in a daemon thread, so that synchronous callers (the
``kubernetes`` client, a ``kubectl`` subprocess, a notebook cell) can talk to it over HTTP on
127.0.0.1; :class:`KubeEmulator` starts and stops that thread, writes a kubeconfig for it, seeds
objects, reads state back, snapshots it for comparisons and runs the real ``kubectl``.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import aiohttp.web
from kmock import Request, resource

from festsafe_nb.sim.kube import seeds
from festsafe_nb.sim.kube.common import Obj, now_utc
from festsafe_nb.sim.kube.handler import PODS, REPLICASETS, FestsafeKubeEmulator
from festsafe_nb.sim.kube.snapshot import normalise

KUBECTL = "/usr/bin/kubectl"
SNAPSHOT_KINDS = ("apps/v1/deployments", "apps/v1/replicasets", "v1/pods")
T = TypeVar("T")


class KubeEmulator:
    """A Kubernetes API on ``http://127.0.0.1:<free port>``.

    ``url`` and ``kubeconfig`` (context ``emulator``, default namespace ``festsafe``) point
    clients at it once started; ``controller`` (default on) runs the deployment controller
    after Deployment writes; ``unavailable_images`` makes pods of those images never ready.
    Without ``workdir`` a temporary directory is made and removed by :meth:`stop`.
    """

    def __init__(self, workdir: Path | None = None, *, controller: bool = True) -> None:
        self._own_workdir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix="kube-emulator-")) if workdir is None else workdir
        )
        self.kubeconfig = self.workdir / "kubeconfig"
        self.cache_dir = self.workdir / "kubectl-cache"
        self.handler = FestsafeKubeEmulator(controller=controller)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kube-emulator", daemon=True
        )
        self._runner: aiohttp.web.ServerRunner | None = None
        self.port = 0
        self.url = ""

    # ---- life cycle ----

    def start(self) -> KubeEmulator:
        self._thread.start()
        self.port = self._run(self._start())
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig.write_text(json.dumps(self.kubeconfig_dict(), indent=1))
        return self

    def kubeconfig_dict(self, namespace: str = "festsafe") -> Obj:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator", "user": {}}],
            "contexts": [
                {
                    "name": "emulator",
                    "context": {"cluster": "emulator", "user": "emulator", "namespace": namespace},
                }
            ],
            "current-context": "emulator",
        }

    async def _start(self) -> int:
        """Serve the handler with plain aiohttp on 127.0.0.1 and a free port.

        Not kmock's ``Server``: it also opens a client session and patches aiohttp's DNS
        resolver process-wide, which breaks when several emulators stop in any order.
        """
        await self.handler.__aenter__()
        # open watch streams and idle keep-alive connections must not hold up stop()
        self._runner = aiohttp.web.ServerRunner(
            aiohttp.web.Server(self.handler), shutdown_timeout=0.1
        )
        await self._runner.setup()
        await aiohttp.web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        assert host == "127.0.0.1"
        return int(port)

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.handler.__aexit__(None, None, None)
        # kmock leaves feeder tasks behind: end them here so closing the loop is clean
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await self._loop.shutdown_asyncgens()

    def stop(self) -> None:
        """Stop the server, the loop and its thread; idempotent."""
        if self._thread.is_alive():
            try:
                self._run(self._stop())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=10)
        if not self._loop.is_closed() and not self._thread.is_alive():
            self._loop.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> KubeEmulator:
        return self.start() if not self._thread.is_alive() else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout)

    def reset(self) -> None:
        """Forget every object, log line and recorded request; controller back to its default."""

        async def _reset() -> None:
            async with self.handler._lock:
                self.handler.reset_state()

        self._run(_reset())

    # ---- switches ----

    @property
    def controller(self) -> bool:
        return bool(self.handler.controller)

    @controller.setter
    def controller(self, on: bool) -> None:
        self.handler.controller = on

    @property
    def unavailable_images(self) -> set[str]:
        """Images whose pods never become ready (a rollout to them never completes)."""
        return self.handler.unavailable_images

    @unavailable_images.setter
    def unavailable_images(self, images: Iterable[str]) -> None:
        self.handler.unavailable_images = set(images)

    # ---- seeding ----

    def add(self, obj: Mapping[str, Any]) -> Obj:
        """Store any object as given, status included (apiVersion, kind, metadata.name).

        A Deployment gets the ReplicaSet of its template when the controller is on, but no
        pods and no new status: seed those as the scene needs.
        """
        return self._run(self.handler.seed(dict(obj)))

    def add_deployment(self, name: str, *args: Any, **kwargs: Any) -> Obj:
        """See :func:`festsafe_nb.sim.kube.seeds.deployment` for the parameters."""
        return self.add(seeds.deployment(name, *args, **kwargs))

    def add_pod(self, name: str, *args: Any, logs: str = "", **kwargs: Any) -> Obj:
        """See :func:`festsafe_nb.sim.kube.seeds.pod`; ``logs`` are appended as its log."""
        pod = self.add(seeds.pod(name, *args, **kwargs))
        if logs:
            meta = pod["metadata"]
            self.append_logs(
                meta["namespace"],
                meta["name"],
                logs,
                container=pod["spec"]["containers"][0]["name"],
            )
        return pod

    def add_event(self, namespace: str, *args: Any, **kwargs: Any) -> Obj:
        """See :func:`festsafe_nb.sim.kube.seeds.event`."""
        return self.add(seeds.event(namespace, *args, **kwargs))

    def add_cronjob(self, name: str = "model-retrain", *args: Any, **kwargs: Any) -> Obj:
        """See :func:`festsafe_nb.sim.kube.seeds.cronjob`."""
        return self.add(seeds.cronjob(name, *args, **kwargs))

    def add_secret(self, name: str, namespace: str = "festsafe", **data: str) -> Obj:
        """An Opaque secret from plain values (stored base64-encoded, as the server does)."""
        return self.add(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": namespace},
                "type": "Opaque",
                "stringData": data,
            }
        )

    def append_logs(
        self,
        namespace: str,
        pod: str,
        text: str,
        container: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Add log lines; a JSON line's ``ts`` is its time, others are stamped ``at`` / now."""
        entries = seeds.log_entries(text, at or now_utc())

        async def _append() -> None:
            async with self.handler._lock:
                found = self.handler.current(PODS, namespace, pod)
                if found is None:
                    raise KeyError(f"no pod {namespace}/{pod}")
                name = container or found["spec"]["containers"][0]["name"]
                self.handler.pod_logs.setdefault((namespace, pod, name), []).extend(entries)

        self._run(_append())

    # ---- read-back ----

    def _res(self, kind_path: str) -> resource:
        res = resource(kind_path)
        if res not in self.handler.resources:
            raise ValueError(f"unknown resource {kind_path!r} (use e.g. 'apps/v1/deployments')")
        return res

    def get(self, kind_path: str, namespace: str | None, name: str) -> Obj | None:
        """The current object, e.g. ``get("apps/v1/deployments", "festsafe", "backend")``."""
        res = self._res(kind_path)

        async def _get() -> Obj | None:
            async with self.handler._lock:
                return self.handler.current(res, namespace, name)

        return self._run(_get())

    def list(self, kind_path: str, namespace: str | None = None) -> builtins.list[Obj]:
        res = self._res(kind_path)

        async def _list() -> builtins.list[Obj]:
            async with self.handler._lock:
                items = self.handler.all(res, namespace)
                return sorted(
                    items,
                    key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]),
                )

        return self._run(_list())

    def history(
        self, kind_path: str, namespace: str | None, name: str
    ) -> builtins.list[Obj | None]:
        """Every stored version of an object (``None`` marks a deletion)."""
        key = (self._res(kind_path), namespace, name)

        async def _hist() -> builtins.list[Obj | None]:
            async with self.handler._lock:
                if key not in self.handler.objects:
                    return []
                versions: Iterable[Any] = self.handler.objects[key].history
                return [None if v is None else copy.deepcopy(v.raw) for v in versions]

        return self._run(_hist())

    def snapshot(
        self,
        kinds: Sequence[str] = SNAPSHOT_KINDS,
        namespace: str | None = "festsafe",
        *,
        redact_secrets: bool = True,
    ) -> Obj:
        """``{"Kind/namespace/name": object}`` for ``kinds``, normalised for comparison.

        What is dropped and why: see :mod:`festsafe_nb.sim.kube.snapshot`.
        """
        objects = [o for kind in kinds for o in self.list(kind, namespace)]
        return normalise(objects, self.list("apps/v1/replicasets", namespace), redact_secrets)

    @property
    def requests(self) -> builtins.list[Request]:
        return list(self.handler._requests)

    # ---- kubectl ----

    def kubectl(
        self, *args: str, timeout: float = 30.0, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against the emulator; never raises on a non-zero exit."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["HOME"] = str(self.workdir)
        return subprocess.run(
            [
                KUBECTL,
                f"--kubeconfig={self.kubeconfig}",
                f"--cache-dir={self.cache_dir}",
                "--request-timeout=10s",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            input=input,
            check=False,
        )


__all__ = ["KUBECTL", "REPLICASETS", "KubeEmulator"]
