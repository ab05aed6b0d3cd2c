"""Start the service from a test or a benchmark: in a thread, or in a subprocess under setsid.

Both bind 127.0.0.1 on a free port and return a :class:`RunningService` with the base URL,
the bearer token and ``stop()``. The token is handed to the service the only way it takes
one, through an environment variable (a private mapping for the thread, the child's
environment for the subprocess). The subprocess is its own process group: ``kill(SIGKILL)``
kills it like a crash, ``stop()`` ends it with SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from festsafe_nb.config import load_settings


@dataclass
class RunningService:
    url: str
    token: str
    stop: Callable[[], None]
    queue_path: Path
    reports_dir: Path
    service: Any = None  # the Service object (thread mode)
    proc: subprocess.Popen[bytes] | None = None  # the child (subprocess mode)
    log: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def kill(self) -> None:
        """SIGKILL the subprocess's whole group, as a crash would."""
        if self.proc is None:
            raise RuntimeError("kill() is for a service started with start_process")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_config(workdir: Path, **service: Any) -> dict[str, Any]:
    """Service settings for a test: queue and reports under ``workdir``, loopback, any port."""
    return {
        "host": "127.0.0.1",
        "port": 0,
        "queue_path": str(workdir / "queue.sqlite3"),
        "reports_dir": str(workdir / "reports"),
        **service,
    }


def start_thread(
    workdir: Path,
    *,
    token: str | None = None,
    env: dict[str, str] | None = None,
    run_fn: Any = None,
    use_kernels: bool = True,
    in_process: bool | None = None,
    **service: Any,
) -> RunningService:
    """The service in this process (background threads). ``service``: ServiceSettings fields;
    ``env``: variables the service reads secrets from (routing key, Slack URL). Real runs go
    to the service's worker process unless ``in_process`` (default: only a ``run_fn``
    stand-in runs in this process)."""
    from festsafe_nb.service.server import Service
    from festsafe_nb.service.settings import ServiceSettings

    token = token or secrets.token_urlsafe(24)
    cfg = ServiceSettings.model_validate(service_config(workdir, **service))
    settings = load_settings()
    settings = settings.model_copy(update={"service": cfg})
    environ = {**(env or {}), cfg.token_env: token}
    svc = Service(
        settings, environ=environ, run_fn=run_fn, use_kernels=use_kernels, in_process=in_process
    )
    url = svc.start()
    return RunningService(
        url=url,
        token=token,
        stop=svc.stop,
        queue_path=Path(cfg.queue_path),
        reports_dir=Path(cfg.reports_dir or settings.reports_dir),
        service=svc,
    )


def start_process(
    workdir: Path,
    *,
    token: str | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
    ready_timeout_s: float = 90.0,
    **service: Any,
) -> RunningService:
    """``python -m festsafe_nb.service serve`` in its own session; returns once /healthz answers."""
    import requests

    token = token or secrets.token_urlsafe(24)
    port = port or _free_port()
    cfg = service_config(workdir, **service)
    cfg["port"] = port
    child_env = {
        **os.environ,
        **(env or {}),
        "FESTSAFE_WEBHOOK_TOKEN": token,
        "FESTSAFE_SERVICE": json.dumps(cfg),
        "PYTHONUNBUFFERED": "1",
    }
    log = workdir / "service.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "festsafe_nb.service", "serve"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child_env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"

    def stop() -> None:
        if proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 40.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    deadline = time.monotonic() + ready_timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"service exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            stop()
            raise RuntimeError(f"service not ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return RunningService(
        url=url,
        token=token,
        stop=stop,
        queue_path=Path(cfg["queue_path"]),
        reports_dir=Path(cfg["reports_dir"]),
        proc=proc,
        log=log,
        env=child_env,
    )
