"""A small pool of pre-started, pre-warmed Jupyter kernels, each used for one run only.

Starting a kernel and importing pandas/plotly in it is most of a short runbook's wall time,
so it is done ahead of the alert. A kernel never serves a second run (state would leak
between runs): the executor hands it back with :meth:`KernelPool.discard`, which shuts it
down, and the pool starts a replacement in the background.

Warming imports modules only (``silent``, no history, names deleted), so the run still starts
from an empty user namespace. Kernels get the service's environment minus its secrets: a
notebook cannot read the bearer token or a routing key. Kernels run in their own session (a
jupyter_client choice); ipykernel exits by itself when its parent process dies. They talk
over IPC sockets in a private folder and run at a lower CPU priority than the webhook.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger("festsafe_nb.service.kernels")


def warm_code(modules: Iterable[str]) -> str:
    names = ", ".join(repr(m) for m in modules)
    return (
        "import importlib as _fs_imp\n"
        f"for _fs_m in ({names},):\n"
        "    _fs_imp.import_module(_fs_m)\n"
        "del _fs_imp, _fs_m\n"
    )


class KernelPool:
    def __init__(
        self,
        size: int,
        *,
        kernel_name: str,
        warm_imports: list[str],
        hidden_env: Iterable[str] = (),
        cwd: str | None = None,
        startup_timeout_s: float = 60.0,
        nice: int = 10,
    ) -> None:
        self.size = size
        self.kernel_name = kernel_name
        self.warm_imports = warm_imports
        self.hidden_env = set(hidden_env)
        self.cwd = cwd or os.getcwd()
        self.startup_timeout_s = startup_timeout_s
        self.nice = nice
        self._runtime = tempfile.mkdtemp(prefix="festsafe-kernels-")
        os.chmod(self._runtime, 0o700)
        self._ready: queue.Queue[Any] = queue.Queue()
        self._starter = ThreadPoolExecutor(max_workers=size, thread_name_prefix="kernel-start")
        self._closing = threading.Event()
        self._live: set[Any] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        for _ in range(self.size):
            self._starter.submit(self._start_one)

    @property
    def ready(self) -> int:
        return self._ready.qsize()

    def _env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k not in self.hidden_env}

    def _start_one(self) -> None:
        from jupyter_client.manager import KernelManager

        if self._closing.is_set():
            return
        # IPC sockets in a private folder: no TCP port at all, and a fresh kernel can never
        # inherit a port a stale client of a discarded kernel still reconnects to
        km = KernelManager(
            kernel_name=self.kernel_name,
            transport="ipc",
            ip=os.path.join(self._runtime, f"k-{uuid.uuid4().hex[:12]}"),
        )
        try:
            km.start_kernel(env=self._env(), cwd=self.cwd)
            self._lower_priority(km)
            with self._lock:
                self._live.add(km)
            kc = km.client()
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=self.startup_timeout_s)
                if self.warm_imports:
                    reply = kc.execute_interactive(
                        warm_code(self.warm_imports),
                        silent=True,
                        store_history=False,
                        timeout=self.startup_timeout_s,
                    )
                    if reply["content"].get("status") != "ok":
                        log.warning("kernel warm-up failed: %s", reply["content"].get("ename"))
            finally:
                kc.stop_channels()
        except Exception as exc:  # a kernel that does not start: retry later, never crash
            log.error("kernel start failed: %s", exc)
            self._shutdown(km)
            if not self._closing.wait(1.0):
                self._starter.submit(self._start_one)
            return
        if self._closing.is_set():
            self._shutdown(km)
            return
        self._ready.put(km)

    def _lower_priority(self, km: Any) -> None:
        """Runs are background work: keep the webhook answering fast on a busy machine."""
        pid = getattr(getattr(km.provisioner, "process", None), "pid", None)
        if self.nice and pid:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, pid, self.nice)

    def acquire(self, timeout: float | None = None) -> Any:
        """A started kernel for one run (blocks until one is ready)."""
        km = self._ready.get(timeout=timeout)
        if not self._closing.is_set():
            self._starter.submit(self._start_one)
        return km

    def give_back(self, km: Any) -> None:
        """Return a kernel that served no run (still fresh)."""
        self._ready.put(km)

    def discard(self, km: Any) -> None:
        """Shut a used kernel down (in the background); it never serves another run."""
        if self._closing.is_set():
            self._shutdown(km)
            return
        threading.Thread(target=self._shutdown, args=(km,), daemon=True).start()

    def _shutdown(self, km: Any) -> None:
        try:
            if km.has_kernel:
                km.shutdown_kernel(now=True)
        except Exception as exc:
            log.warning("kernel shutdown: %s", exc)
        with self._lock:
            self._live.discard(km)

    def kill_all(self) -> None:
        """Kill every kernel at once: the owning process is leaving without a shutdown."""
        self._closing.set()
        with self._lock:
            live = list(self._live)
        for km in live:
            proc = getattr(getattr(km, "provisioner", None), "process", None)
            with contextlib.suppress(Exception):
                if proc is not None:
                    proc.kill()

    def close(self) -> None:
        self._closing.set()
        self._starter.shutdown(wait=True, cancel_futures=True)
        while True:
            try:
                self._shutdown(self._ready.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            live = list(self._live)
        for km in live:
            self._shutdown(km)
        shutil.rmtree(self._runtime, ignore_errors=True)
