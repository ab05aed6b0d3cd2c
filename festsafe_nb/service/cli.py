"""``festsafe-nb serve``: start the alert service and run until SIGTERM or Ctrl-C.

``register(subparsers)`` adds the command to the main CLI; ``python -m festsafe_nb.service``
runs it on its own (what the test harness starts in a subprocess).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def cmd_serve(args: argparse.Namespace) -> int:
    from festsafe_nb.config import load_settings
    from festsafe_nb.service.server import Service

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("traitlets", "papermill", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = load_settings()
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.queue:
        overrides["queue_path"] = Path(args.queue)
    if args.reports_dir:
        overrides["reports_dir"] = Path(args.reports_dir)
    if args.concurrency:
        overrides["concurrency"] = args.concurrency
    if overrides:
        service_settings = settings.service.model_copy(update=overrides)
        settings = settings.model_copy(update={"service": service_settings})
    service = Service(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    url = service.start()
    print(f"festsafe-nb serve: listening on {url}", file=sys.stderr, flush=True)
    stop.wait()
    service.stop()
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="run the Alertmanager webhook service"
    )
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 9095; 0 = any free port)")
    p.add_argument("--queue", help="SQLite queue file (default reports/service/queue.sqlite3)")
    p.add_argument("--reports-dir", help="report archive root (default: settings reports_dir)")
    p.add_argument("--concurrency", type=int, help="runs at once (default 2)")
    p.set_defaults(func=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    from festsafe_nb.errors import BadInput

    parser = argparse.ArgumentParser(prog="festsafe-nb")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BadInput as exc:
        print(f"festsafe-nb: {exc}", file=sys.stderr)
        return 2
