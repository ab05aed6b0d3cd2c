"""The run worker: a child process of the service that executes queued runs.

Flow::

    web process (aiohttp, intake, dedup, notifier) ──INSERT──► SQLite WAL queue
        supervisor ──stdin: config, "wake", "stop"──► this process (nice 5, kernels 10)
            kernel pool + executor: claim ─► runner.run(..., kernel_manager=km) ─► finish
        supervisor ◄──stdout: "ready", "finished", "status" (JSON lines)──

Why a process: a real run's own Python work (papermill bookkeeping, nbformat writes, nbconvert
HTML export, manifest) held the GIL of the process that answers the webhook, and pushed its
p99 from ~30 ms to ~400 ms during a storm. Here it competes with nothing but itself, at a
lower CPU priority than the web process (niceness ``worker_nice``, 5) and a higher one than
its kernels (10).

The process holds no service secret: the supervisor starts it with the service's secret
variables removed from its environment (the notifier, which needs them, stays in the web
process), so neither it nor its kernels can read them. Its settings arrive as the first
line of stdin, not from its environment or a file, so it runs exactly what the web process
validated. End of stdin means the web process is gone: the worker then exits at once,
leaving its claimed runs ``running`` for the next service start to rerun or mark.

    python -m festsafe_nb.service.worker   (started by the supervisor only)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("festsafe_nb.service.worker")

NICE = 5
KERNEL_NICE = 10
HEARTBEAT_S = 1.0


class _Channel:
    """JSON lines to the supervisor, on a private copy of stdout (stray prints go to stderr)."""

    def __init__(self) -> None:
        self._out: IO[str] = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)
        self._lock = threading.Lock()

    def send(self, event: str, **fields: Any) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._out.write(json.dumps({"event": event, **fields}) + "\n")
            self._out.flush()


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("traitlets", "papermill"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    channel = _Channel()
    line = sys.stdin.readline()
    if not line:
        return 0  # the web process died before configuring us
    config = json.loads(line)
    with contextlib.suppress(OSError):
        os.nice(int(config.get("nice", NICE)))

    from festsafe_nb.config import Settings
    from festsafe_nb.service.executor import Executor, runner_fn
    from festsafe_nb.service.kernels import KernelPool
    from festsafe_nb.service.queue import Queue

    settings = Settings.model_validate(config["settings"])
    svc = settings.service
    reports_dir = Path(config["reports_dir"])
    queue = Queue(Path(svc.queue_path))
    pool = KernelPool(
        svc.kernels,
        kernel_name=settings.kernel_name,
        warm_imports=svc.warm_imports,
        hidden_env=svc.secret_variables(),
        # below the runner's own work: a kernel warming up for the next alert must not slow
        # the run in progress (with everything at one level, alert->report took 3 s longer)
        nice=max(KERNEL_NICE, int(config.get("nice", NICE))),
    )
    executor = Executor(
        queue,
        settings,
        run_fn=runner_fn(settings, reports_dir),
        pool=pool,
        reports_root=str(reports_dir),
        on_finished=lambda: channel.send("finished"),
    )
    stopping = threading.Event()
    orphaned = threading.Event()

    def read_commands() -> None:
        for cmd in sys.stdin:
            cmd = cmd.strip()
            if cmd == "wake":
                executor.wake()
            elif cmd == "stop":
                stopping.set()
                return
        orphaned.set()  # end of stdin without "stop": the web process is gone
        stopping.set()

    # SIGTERM/SIGINT sent to the service's process group reach this process too: the web
    # process handles them and sends "stop" (or dies, which ends stdin). A Python handler,
    # not SIG_IGN, so the kernels this process starts keep the default dispositions.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    pool.start()
    executor.start()
    threading.Thread(target=read_commands, name="commands", daemon=True).start()
    channel.send("ready", pid=os.getpid())
    while not stopping.wait(HEARTBEAT_S):
        channel.send("status", running=executor.active, kernels_ready=pool.ready)
    if orphaned.is_set():
        log.warning("worker: the service is gone; leaving claimed runs for its restart")
        pool.kill_all()
        os._exit(0)
    log.info("worker: stopping (%d run(s) in progress)", executor.active)
    executor.stop(timeout=float(config.get("stop_timeout_s", 30.0)))
    if executor.active:
        # still running: leave those rows 'running' so the next start reruns or marks them,
        # rather than killing their kernels under them and recording a bogus failure
        pool.kill_all()
        os._exit(0)
    pool.close()
    queue.close()
    return 0


if __name__ == "__main__":
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # as __main__.py
    sys.exit(main())
