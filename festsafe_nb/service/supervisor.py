"""The web process's side of the run worker: start it, wake it, watch it, restart it.

Sits between the webhook and the worker process (``service.worker``): the webhook only
records alerts in the queue and calls :meth:`WorkerSupervisor.wake`, which sets an event;
the supervisor's own thread turns that into a ``wake`` line on the worker's stdin, so the
aiohttp handler never does pipe I/O. The worker answers with JSON lines on its stdout
(``ready``, ``status`` heartbeats, ``finished``), which feed ``/healthz``, the kernels gauge
and the notifier's wake-up.

"Never lost" when the worker dies (crash, OOM, SIGKILL): the supervisor notices within half
a second, waits for the process to be gone, calls ``recover`` (runs it left ``running`` are
requeued, or marked interrupted after ``max_attempts``) and starts a new worker, backing off
if it keeps dying. Only one worker exists at a time, so any ``running`` row is its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from festsafe_nb.config import Settings

log = logging.getLogger("festsafe_nb.service.supervisor")

POLL_S = 0.5
MAX_BACKOFF_S = 30.0


class WorkerSupervisor:
    def __init__(
        self,
        settings: Settings,
        *,
        reports_dir: Path,
        recover: Callable[[], object],
        on_finished: Callable[[], None],
        environ: Mapping[str, str] | None = None,
        stop_timeout_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self.reports_dir = reports_dir
        self.recover = recover
        self.on_finished = on_finished
        hidden = set(settings.service.secret_variables())
        base = os.environ if environ is None else environ
        self.env = {k: v for k, v in base.items() if k not in hidden}
        self.stop_timeout_s = stop_timeout_s
        self.restarts = 0
        self._spawned_at = 0.0
        self._proc: subprocess.Popen[str] | None = None
        self._stdin: IO[str] | None = None
        self._status: dict[str, Any] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    # -- web process API ----------------------------------------------------------------------
    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def health(self) -> dict[str, Any]:
        proc = self._proc
        alive = proc is not None and proc.poll() is None
        status = dict(self._status)
        seen = status.pop("at", None)
        return {
            "alive": alive,
            "ready": alive and status.get("ready", False),
            "pid": proc.pid if proc is not None else None,
            "restarts": self.restarts,
            "running": status.get("running", 0) if alive else 0,
            "kernels_ready": status.get("kernels_ready", 0) if alive else 0,
            "last_seen_s": round(time.monotonic() - seen, 1) if seen else None,
        }

    def kernels_ready(self) -> int:
        return int(self.health()["kernels_ready"])

    def stop(self) -> None:
        """Ask the worker to finish its runs (bounded) and exit; kill it if it does not."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        proc = self._proc
        if proc is None:
            return
        self._send("stop")
        with contextlib.suppress(OSError, ValueError):
            if self._stdin is not None:
                self._stdin.close()
        try:
            proc.wait(timeout=self.stop_timeout_s + 5)
        except subprocess.TimeoutExpired:
            log.warning("worker %s did not stop; killing it", proc.pid)
            proc.kill()
            proc.wait(timeout=10)

    # -- internals --------------------------------------------------------------------------------
    def _spawn(self) -> None:
        config = {
            "settings": self.settings.model_dump(mode="json"),
            "reports_dir": str(self.reports_dir),
            "stop_timeout_s": self.stop_timeout_s,
            "nice": self.settings.service.worker_nice,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "festsafe_nb.service.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the service's log
            env=self.env,
            text=True,
            bufsize=1,
        )
        assert proc.stdin is not None and proc.stdout is not None
        with self._lock:
            self._proc, self._stdin, self._status = proc, proc.stdin, {}
            self._spawned_at = time.monotonic()
        self._send(json.dumps(config))
        threading.Thread(
            target=self._read, args=(proc.stdout,), name="worker-events", daemon=True
        ).start()
        log.info("run worker started (pid %s)", proc.pid)

    def _send(self, line: str) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):
            if self._stdin is not None:
                self._stdin.write(line + "\n")
                self._stdin.flush()

    def _read(self, out: IO[str]) -> None:
        for line in out:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            event = msg.pop("event", None)
            if event == "finished":
                self.on_finished()
            elif event in ("ready", "status"):
                update = {**msg, "at": time.monotonic()}
                if event == "ready":
                    update["ready"] = True
                self._status = {**self._status, **update}

    def _watch(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            woken = self._wake.wait(POLL_S)
            self._wake.clear()
            if self._stopping.is_set():
                return
            proc = self._proc
            if proc is not None and proc.poll() is None:
                if woken:
                    self._send("wake")
                if time.monotonic() - self._spawned_at > 60:
                    backoff = 1.0  # it has been up a while: a later death restarts fast
                continue
            code = proc.returncode if proc is not None else None
            log.error("run worker exited (%s); recovering its runs and restarting", code)
            try:
                self.recover()  # the worker is gone: every 'running' row was its own
            except Exception:
                log.exception("recovery after the worker's exit failed; will retry")
                self._stopping.wait(backoff)
                continue
            if self._stopping.wait(backoff):
                return
            backoff = min(MAX_BACKOFF_S, backoff * 2)
            self.restarts += 1
            try:
                self._spawn()
            except OSError as exc:
                log.error("cannot start the run worker: %s", exc)
