"""Bounded execution of queued runs: ``concurrency`` worker threads, one fresh kernel each run.

A thread claims the oldest queued run, takes a pre-started kernel from the pool, calls
``festsafe_nb.runner.run`` in-process (no interpreter or papermill start-up per run), then
closes the run and queues its notifications in one transaction. The used kernel is thrown
away. The notebook executes in the kernel process; the runner's own Python work (saving,
HTML export) is enough to slow a webhook sharing its GIL, so real runs use this class in
the worker process (``service.worker``); the web process uses it only for stand-in run
functions (tests, the fast storm benchmark). Run durations are not observed here: the
``runs`` rows carry ``started_at``/``ended_at`` and ``/metrics`` reads them.
"""

from __future__ import annotations

import logging
import queue as stdqueue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from festsafe_nb.config import Settings
from festsafe_nb.errors import BadInput
from festsafe_nb.service import notify
from festsafe_nb.service.kernels import KernelPool
from festsafe_nb.service.queue import Queue, Run

log = logging.getLogger("festsafe_nb.service.executor")


@dataclass(frozen=True)
class Outcome:
    status: str
    report_dir: str | None
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


RunFn = Callable[[Run, Any], Outcome]


def runner_fn(settings: Settings, reports_dir: Path) -> RunFn:
    """The real thing: execute the run's notebook with the given started kernel."""
    from festsafe_nb.runner import run

    def execute(item: Run, km: Any) -> Outcome:
        result = run(
            item.runbook,
            item.params,
            settings=settings,
            reports_dir=reports_dir,
            cell_timeout_s=settings.service.cell_timeout_s,
            kernel_manager=km,
        )
        return Outcome(result.status, str(result.report_dir), result.summary)

    return execute


class Executor:
    def __init__(
        self,
        queue: Queue,
        settings: Settings,
        *,
        run_fn: RunFn,
        pool: KernelPool | None,
        reports_root: str,
        on_finished: Callable[[], None] = lambda: None,
    ) -> None:
        self.queue = queue
        self.settings = settings
        self.run_fn = run_fn
        self.pool = pool
        self.reports_root = reports_root
        self.on_finished = on_finished
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, name=f"run-{i}", daemon=True)
            for i in range(settings.service.concurrency)
        ]
        self.active = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))

    def _kernel(self) -> Any:
        if self.pool is None:
            return None
        while not self._stop.is_set():
            try:
                return self.pool.acquire(timeout=0.5)
            except stdqueue.Empty:
                continue
        return None

    def _loop(self) -> None:
        while not self._stop.is_set():
            km = self._kernel()  # hold a ready kernel before claiming: a claimed run starts now
            if self._stop.is_set():
                if km is not None and self.pool is not None:
                    self.pool.discard(km)
                return
            item = self.queue.claim()
            if item is None:
                if km is not None and self.pool is not None:
                    self.pool.give_back(km)  # unused: still fresh
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            with self._lock:
                self.active += 1
            try:
                self._execute(item, km)
            finally:
                with self._lock:
                    self.active -= 1
                if km is not None and self.pool is not None:
                    self.pool.discard(km)
            self.on_finished()

    def _execute(self, item: Run, km: Any) -> None:
        t0 = time.perf_counter()
        try:
            outcome = self.run_fn(item, km)
        except BadInput as exc:
            outcome = Outcome("refused", None, error=f"refused: {exc}")
        except Exception as exc:
            log.exception("run %s crashed", item.id)
            outcome = Outcome("error", None, error=f"{type(exc).__name__}: {exc}")
        elapsed = time.perf_counter() - t0
        location = notify.report_location(
            outcome.report_dir, self.reports_root, self.settings.service.report_base_url
        )
        msgs = notify.messages(
            item, outcome.status, outcome.summary, location=location, error=outcome.error
        )
        result = {
            "status": outcome.status,
            "duration_s": round(elapsed, 3),
            "diagnosis": (outcome.summary.get("diagnosis") or {}).get("summary"),
            "suspect": (outcome.summary.get("diagnosis") or {}).get("suspect"),
            "breaches": [
                f.get("check")
                for f in outcome.summary.get("findings", [])
                if f.get("status") == "breach"
            ],
            "error": outcome.error,
        }
        self.queue.finish(
            item.id,
            outcome.status,
            report_dir=outcome.report_dir,
            result=result,
            notifications=msgs,
        )
        log.info("run %s %s %s in %.2fs", item.id, item.runbook, outcome.status, elapsed)
