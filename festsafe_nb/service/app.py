"""HTTP surface of the service (aiohttp): the webhook, health, metrics, and run lookup.

aiohttp rather than an ASGI framework: it is already installed (kmock uses it), it is server
and client in one package with no separate ASGI server to run, it enforces a body limit
(``client_max_size``) and runs in a background thread with its own loop, which makes the
service easy to start from a test.

``POST /alerts`` checks, in this order and before anything is recorded: the bearer token
(401, constant-time compare), the body size (413, from Content-Length and while reading),
the payload (422 with the reasons). Then every alert is decided and recorded in one queue
transaction; the 200 answer lists what happened to each alert. The handler never echoes
headers, so the token cannot leak through a response.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from festsafe_nb.config import Settings
from festsafe_nb.service import payload as payload_mod
from festsafe_nb.service.intake import intakes
from festsafe_nb.service.metrics import Metrics
from festsafe_nb.service.queue import Queue

log = logging.getLogger("festsafe_nb.service.app")

QUEUE_KEY: web.AppKey[Queue] = web.AppKey("queue", Queue)
SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("settings", Settings)
METRICS_KEY: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
TOKEN_KEY: web.AppKey[bytes] = web.AppKey("token", bytes)
WAKE_KEY: web.AppKey[Callable[[], None]] = web.AppKey("wake")
HEALTH_KEY: web.AppKey[Callable[[], dict[str, Any]]] = web.AppKey("health")


def _error(status: int, reason: str, metrics: Metrics) -> web.Response:
    metrics.requests.labels(str(status)).inc()
    return web.json_response({"status": "refused", "error": reason}, status=status)


def authorized(request: web.Request) -> bool:
    expected = request.app[TOKEN_KEY]
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        presented = ""
    # compare_digest takes as long for a wrong token as for a right one of the same length
    return hmac.compare_digest(presented.strip().encode("utf-8", "replace"), expected)


async def receive_alerts(request: web.Request) -> web.Response:
    metrics = request.app[METRICS_KEY]
    settings = request.app[SETTINGS_KEY]
    if not authorized(request):
        return _error(401, "missing or wrong bearer token", metrics)
    limit = settings.service.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"body larger than {limit} bytes", metrics)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"body larger than {limit} bytes", metrics)
    try:
        payload = payload_mod.parse(body)
    except ValueError as exc:
        return _error(422, f"malformed Alertmanager payload: {exc}", metrics)
    decided = intakes(payload, settings)
    outcomes = request.app[QUEUE_KEY].record(decided, settings.service.dedup_window_s)
    for item in outcomes:
        metrics.alerts.labels(item["outcome"]).inc()
    if any(o["outcome"] == "queued" for o in outcomes):
        request.app[WAKE_KEY]()
    metrics.requests.labels("200").inc()
    return web.json_response({"status": "accepted", "alerts": outcomes})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", **request.app[HEALTH_KEY]()}, dumps=_dumps)


async def metrics_endpoint(request: web.Request) -> web.Response:
    data = generate_latest(request.app[METRICS_KEY].registry)
    return web.Response(body=data, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def list_runs(request: web.Request) -> web.Response:
    if not authorized(request):
        return _error(401, "missing or wrong bearer token", request.app[METRICS_KEY])
    runs = request.app[QUEUE_KEY].runs()
    return web.json_response({"runs": [r.public() for r in runs]}, dumps=_dumps)


async def get_run(request: web.Request) -> web.Response:
    if not authorized(request):
        return _error(401, "missing or wrong bearer token", request.app[METRICS_KEY])
    try:
        run_id = int(request.match_info["run_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    run = request.app[QUEUE_KEY].get_run(run_id)
    if run is None:
        raise web.HTTPNotFound()
    return web.json_response(run.public(), dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=str)


def make_app(
    *,
    queue: Queue,
    settings: Settings,
    metrics: Metrics,
    token: str,
    wake: Callable[[], None],
    health: Callable[[], dict[str, Any]],
) -> web.Application:
    app = web.Application(client_max_size=settings.service.max_body_bytes)
    app[QUEUE_KEY] = queue
    app[SETTINGS_KEY] = settings
    app[METRICS_KEY] = metrics
    app[TOKEN_KEY] = token.encode("utf-8")
    app[WAKE_KEY] = wake
    app[HEALTH_KEY] = health
    app.router.add_post("/alerts", receive_alerts)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_endpoint)
    app.router.add_get("/runs", list_runs)
    app.router.add_get("/runs/{run_id}", get_run)
    return app
