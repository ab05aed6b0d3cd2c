"""The service assembled: queue, recovery, run worker, notifier and HTTP server.

:class:`Service` runs the HTTP server in a background thread with its own event loop, so the
same object serves ``festsafe-nb serve`` (main thread waits for a signal) and tests (start,
post, stop). Start-up order matters for "never lost": the queue is opened and interrupted runs
are requeued or marked *before* the HTTP server accepts anything or a worker claims anything.

Real runs execute in a separate, lower-priority worker process (``service.worker``, started
and restarted by ``service.supervisor``) holding the kernel pool, so their Python work never
takes the webhook's GIL. This process only validates, records and answers alerts, serves
``/healthz`` and ``/metrics``, and drains the notification outbox (the only place the
channel secrets are read). A stand-in ``run_fn`` (tests, the fast storm benchmark) runs in
threads of this process instead, with no kernels unless asked for.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from festsafe_nb.config import Settings
from festsafe_nb.errors import ConfigError
from festsafe_nb.service.executor import Executor, RunFn, runner_fn
from festsafe_nb.service.kernels import KernelPool
from festsafe_nb.service.metrics import Metrics
from festsafe_nb.service.notify import Notifier
from festsafe_nb.service.queue import Queue
from festsafe_nb.service.supervisor import WorkerSupervisor

log = logging.getLogger("festsafe_nb.service")


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        environ: Mapping[str, str] | None = None,
        run_fn: RunFn | None = None,
        use_kernels: bool = True,
        in_process: bool | None = None,
    ) -> None:
        self.settings = settings
        svc = settings.service
        self.environ = os.environ if environ is None else environ
        token = self.environ.get(svc.token_env, "")
        if len(token) < 16:
            raise ConfigError(
                f"set {svc.token_env} to the bearer token Alertmanager sends (16+ characters)"
            )
        self._token = token
        self.reports_dir = Path(svc.reports_dir or settings.reports_dir)
        self.queue = Queue(Path(svc.queue_path))
        self.metrics = Metrics()
        self.notifier = Notifier(self.queue, svc, self.environ)
        # in process only for a stand-in run function; real runs go to the worker process
        self.in_process = run_fn is not None if in_process is None else in_process
        self.pool: KernelPool | None = None
        self.executor: Executor | None = None
        self.worker: WorkerSupervisor | None = None
        if self.in_process:
            if use_kernels:
                self.pool = KernelPool(
                    svc.kernels,
                    kernel_name=settings.kernel_name,
                    warm_imports=svc.warm_imports,
                    hidden_env=svc.secret_variables(),
                )
            self.executor = Executor(
                self.queue,
                settings,
                run_fn=run_fn or runner_fn(settings, self.reports_dir),
                pool=self.pool,
                reports_root=str(self.reports_dir),
                on_finished=self.notifier.wake,
            )
        else:
            self.worker = WorkerSupervisor(
                settings,
                reports_dir=self.reports_dir,
                recover=self._recover,
                on_finished=self.notifier.wake,
            )
        self.metrics.watch(self.queue, self._kernels_ready)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: Any = None
        self.url = ""
        self.recovered: tuple[list[int], list[int]] = ([], [])

    def _wake(self) -> None:
        """A run was queued: tell whoever executes runs (no I/O here, this is the handler)."""
        if self.worker is not None:
            self.worker.wake()
        elif self.executor is not None:
            self.executor.wake()

    def _kernels_ready(self) -> int | None:
        if self.worker is not None:
            return self.worker.kernels_ready()
        return self.pool.ready if self.pool is not None else None

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` shows; ``status`` is ``degraded`` while the run worker is down
        (alerts are still accepted and queued, and the worker is being restarted)."""
        if self.worker is not None:
            worker = self.worker.health()
            return {
                "status": "ok" if worker["alive"] else "degraded",
                "queue_depth": self.queue.depth(),
                "running": worker["running"],
                "kernels_ready": worker["kernels_ready"],
                "worker": worker,
            }
        assert self.executor is not None
        return {
            "status": "ok",
            "queue_depth": self.queue.depth(),
            "running": self.executor.active,
            "kernels_ready": self.pool.ready if self.pool else None,
            "worker": {"alive": True, "in_process": True},
        }

    def _check_runbooks(self) -> None:
        """Fail at start-up, not at the first alert, if a fixed parameter is wrong."""
        from festsafe_nb.runbooks import REGISTRY
        from festsafe_nb.runner import prepare

        svc = self.settings.service
        for runbook in sorted(set(svc.alert_runbooks.values()) & set(REGISTRY)):
            prepare(
                runbook,
                {"environment": svc.environment, **svc.runbook_parameters.get(runbook, {})},
                self.settings,
            )

    def start(self) -> str:
        """Recover, start workers and the HTTP server; returns the base URL."""
        from aiohttp import web

        from festsafe_nb.service.app import make_app

        self._check_runbooks()
        self.recovered = self._recover()
        if self.worker is not None:
            self.worker.start()
        else:
            assert self.executor is not None
            if self.pool is not None:
                self.pool.start()
            self.executor.start()
        self.notifier.start()
        app = make_app(
            queue=self.queue,
            settings=self.settings,
            metrics=self.metrics,
            token=self._token,
            wake=self._wake,
            health=self.health,
        )
        svc = self.settings.service
        ready = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                runner = web.AppRunner(app, access_log=None, handle_signals=False)
                loop.run_until_complete(runner.setup())
                site = web.TCPSite(runner, svc.host, svc.port, backlog=1024)
                loop.run_until_complete(site.start())
                self._runner = runner
                sockets = site._server.sockets if site._server else []  # type: ignore[attr-defined]
                port = sockets[0].getsockname()[1]
                self.url = f"http://{svc.host}:{port}"
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="http", daemon=True)
        self._thread.start()
        ready.wait()
        if errors:
            self.stop()
            raise errors[0]
        log.info("listening on %s", self.url)
        return self.url

    def _recover(self) -> tuple[list[int], list[int]]:
        """Runs left ``running`` by a dead executor are requeued, or marked and notified.

        Called at start-up and by the supervisor each time the worker died: no executor is
        alive at either moment, so every ``running`` row is an interrupted one."""
        recovered = self.queue.recover(self.settings.service.max_attempts)
        if any(recovered):
            log.warning("recovered runs: requeued %s, marked interrupted %s", *recovered)
        if recovered[1]:
            self._notify_interrupted(recovered[1])
            self.notifier.wake()
        return recovered

    def _notify_interrupted(self, run_ids: list[int]) -> None:
        from festsafe_nb.service import notify

        for rid in run_ids:
            run = self.queue.get_run(rid)
            if run is None:
                continue
            msgs = notify.messages(
                run,
                "interrupted",
                None,
                location=notify.report_location(run.report_dir, str(self.reports_dir), None),
                error="the run was interrupted twice (service killed); see the partial report",
            )
            self.queue.add_notifications(rid, msgs)

    def stop(self) -> None:
        """Stop accepting, let running runs finish (bounded), stop kernels, close the queue."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if self.worker is not None:
            self.worker.stop()
        if self.executor is not None:
            self.executor.stop()
        self.notifier.stop()
        if self.pool is not None:
            self.pool.close()
        self.queue.close()
