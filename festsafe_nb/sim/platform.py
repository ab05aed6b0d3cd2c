"""The simulated FestSafe platform: every signal as a deterministic function of time.

``PlatformModel.at(times)`` evaluates the whole platform at any vector of epoch seconds, so the
demo's sources can answer any window and step, and the integration-test exporter can write the
same history into real Prometheus. The model is deliberately simple and causal: dependency
latencies (database, inference, external APIs, cache misses) and per-replica load combine into
each route's P95, so a fault in one place shows up where an engineer would look for it.
Noise is a hash of (series, minute): the same instant always gives the same value.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from festsafe_nb.sim.scenario import FaultKind, Scenario

Labels = tuple[tuple[str, str], ...]
Series = dict[Labels, np.ndarray]

ROUTES: tuple[tuple[str, str], ...] = (
    ("backend", "/api/forecasts"),
    ("backend", "/api/observations"),
    ("backend", "/api/zones"),
    ("backend", "/api/conditions"),
    ("frontend", "/"),
)
DB_QUERIES_MS = {
    "observations_recent": 12.0,
    "forecasts_by_zone": 8.0,
    "zones_list": 3.0,
    "token_lookup": 2.0,
}
MODEL = "crowd-forecaster"
INFERENCE_MS = 80.0
EXTERNAL_APIS_MS = {"weather": 300.0, "ticketing": 250.0, "transit": 400.0}
HIT_RATE = 0.93
SERVICE_RPS = {"backend": 60.0, "frontend": 20.0}
ROUTE_SHARE = {
    "/api/forecasts": 0.4,
    "/api/observations": 0.25,
    "/api/zones": 0.2,
    "/api/conditions": 0.15,
    "/": 1.0,
}
REPLICAS = {"backend": 3, "frontend": 2, "ml-service": 2, "workers": 2}
IMAGES = {
    "backend": "festsafe/backend:v1.4.2",
    "frontend": "festsafe/frontend:v1.4.2",
    "ml-service": "festsafe/ml-service:v2.3.0",
    "workers": "festsafe/workers:v1.4.2",
}
MAX_CONNECTIONS = 100
BASE_CONNECTIONS = 24.0
SATURATION_RPS = 80.0  # per backend replica, where queueing explodes
BASE_ERROR_RATE = 0.002


def _noise(key: str, times: np.ndarray, amplitude: float = 0.03) -> np.ndarray:
    """Deterministic noise in [-amplitude, amplitude] per (key, minute)."""
    k = (zlib.crc32(key.encode()) % 10_000) / 10_000.0
    minute = np.floor(times / 60.0)
    x = np.sin(minute * 12.9898 + k * 78.233) * 43758.5453
    return (x - np.floor(x) - 0.5) * 2 * amplitude


def _lab(**kv: str) -> Labels:
    return tuple(kv.items())


@dataclass
class Snapshot:
    """All signals at a vector of instants (seconds since the epoch)."""

    times: np.ndarray
    signals: dict[str, Series] = field(default_factory=dict)
    # per-instant values the other simulated systems (database, cache, cluster) are derived from
    db_connections: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rps: dict[str, np.ndarray] = field(default_factory=dict)
    route_p95_ms: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    error_rate: dict[str, np.ndarray] = field(default_factory=dict)
    db_query_ms: dict[str, np.ndarray] = field(default_factory=dict)
    inference_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    external_ms: dict[str, np.ndarray] = field(default_factory=dict)
    external_error: dict[str, np.ndarray] = field(default_factory=dict)
    hit_rate: np.ndarray = field(default_factory=lambda: np.zeros(0))


class PlatformModel:
    """Evaluates a scenario against the platform's baseline, anchored at ``anchor`` (epoch s)."""

    def __init__(
        self,
        scenario: Scenario,
        anchor: float,
        image_of: Callable[[str], str | None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.anchor = float(anchor)
        # the demo cluster's current image per deployment: a release_regression fault is active
        # after the anchor while its bad image runs, so a rollback really ends it
        self.image_of = image_of

    def release_regression(self, times: np.ndarray, service: str) -> tuple[np.ndarray, float]:
        """Intensity of a bad release of ``service``: after the anchor, while the image runs."""
        for fault in self.scenario.faults_of("release_regression"):
            if fault.target != service or self.image_of is None:
                continue
            image = self.image_of(service) or ""
            if fault.image and fault.image in image:
                return (times > self.anchor + fault.start_min * 60).astype(float), fault.strength
        return np.zeros_like(times, dtype=float), 1.0

    def intensity(
        self, times: np.ndarray, kind: FaultKind, target: str | None = None
    ) -> tuple[np.ndarray, float]:
        """Fault intensity in [0, 1] per instant, and the fault's strength (1.0 if none)."""
        level = np.zeros_like(times, dtype=float)
        strength = 1.0
        for fault in self.scenario.faults_of(kind):
            if fault.target is not None and target is not None and fault.target != target:
                continue
            start = self.anchor + fault.start_min * 60
            end = self.anchor + fault.end_min * 60
            ramp = max(fault.ramp_min * 60, 1.0)
            up = np.clip((times - start) / ramp, 0, 1)
            active = np.where(times <= end + 0.5, up, 0.0)
            level = np.maximum(level, active)
            strength = fault.strength
        return level, strength

    def at(self, times: np.ndarray) -> Snapshot:
        t = np.asarray(times, dtype=float)
        snap = Snapshot(times=t)

        def scaled(kind: FaultKind, target: str | None = None) -> np.ndarray:
            f, s = self.intensity(t, kind, target)
            return 1 + (s - 1) * f

        # cache: hit rate falls towards the storm's strength
        f_cache, s_cache = self.intensity(t, "cache_miss_storm")
        hit = HIT_RATE - (HIT_RATE - min(s_cache, HIT_RATE)) * f_cache
        hit = np.clip(hit * (1 + _noise("hit", t, 0.005)), 0, 1)
        miss_excess = np.maximum(0.0, (1 - hit) - (1 - HIT_RATE))
        snap.hit_rate = hit

        db_factor = scaled("database_slow") * (1 + 1.5 * miss_excess)
        for q, base in DB_QUERIES_MS.items():
            snap.db_query_ms[q] = base * db_factor * (1 + _noise(f"db:{q}", t))
        snap.inference_ms = (
            INFERENCE_MS
            * scaled("ml_inference_slow")
            * (1 + 0.5 * miss_excess / 0.78)
            * (1 + _noise("ml", t))
        )
        for api, base in EXTERNAL_APIS_MS.items():
            f_api = scaled("external_api_slow", api)
            snap.external_ms[api] = base * f_api * (1 + _noise(f"api:{api}", t))
            snap.external_error[api] = 0.001 + 0.004 * (f_api - 1)

        for svc, base in SERVICE_RPS.items():
            snap.rps[svc] = base * scaled("load_surge", svc) * (1 + _noise(f"rps:{svc}", t, 0.02))
        per_replica = snap.rps["backend"] / REPLICAS["backend"]
        rho = np.minimum(per_replica / SATURATION_RPS, 0.97)
        rho0 = SERVICE_RPS["backend"] / REPLICAS["backend"] / SATURATION_RPS
        capacity = (1 - rho0) / (1 - rho)

        f_db, _ = self.intensity(t, "database_slow")
        snap.db_connections = (BASE_CONNECTIONS + 64 * f_db + 20 * miss_excess) * (
            1 + _noise("pgconn", t, 0.02)
        )

        m = 0.5 + 5 * (1 - hit)
        dq = snap.db_query_ms
        ext = np.maximum(snap.external_ms["weather"], snap.external_ms["transit"])
        route_ms = {
            ("backend", "/api/forecasts"): (
                25 + 2 + (snap.inference_ms + dq["forecasts_by_zone"]) * m
            ),
            ("backend", "/api/observations"): 15 + 1.5 * dq["observations_recent"],
            ("backend", "/api/zones"): 12 + dq["zones_list"] * m * 3,
            ("backend", "/api/conditions"): 10 + 0.8 * ext,
        }
        f_rel, s_rel = self.release_regression(t, "backend")
        for key, value in route_ms.items():
            slower = 1 + (s_rel - 1) * 0.25 * f_rel
            snap.route_p95_ms[key] = value * capacity * slower * (1 + _noise(f"route:{key}", t))
        snap.route_p95_ms[("frontend", "/")] = (
            40 + 0.1 * snap.route_p95_ms[("backend", "/api/forecasts")]
        ) * (1 + _noise("route:frontend", t))

        f_surge, _ = self.intensity(t, "load_surge", "backend")
        f_ext = np.maximum.reduce(
            [self.intensity(t, "external_api_slow", a)[0] for a in EXTERNAL_APIS_MS]
        )
        snap.error_rate["backend"] = (
            BASE_ERROR_RATE
            + 0.025 * f_db
            + 0.015 * f_surge
            + 0.01 * f_ext
            + 0.004 * (s_rel - 1) * f_rel
        ) * (1 + _noise("err:backend", t, 0.1))
        f_fe, s_fe = self.release_regression(t, "frontend")
        snap.error_rate["frontend"] = (BASE_ERROR_RATE + 0.004 * (s_fe - 1) * f_fe) * (
            1 + _noise("err:frontend", t, 0.1)
        )

        self._fill_signals(snap)
        return snap

    @staticmethod
    def _fill_signals(snap: Snapshot) -> None:
        """Express the snapshot as the catalog's signals (in the catalog's units)."""
        s = snap.signals
        s["api_latency_p95"] = {
            _lab(service=svc, route=route): v for (svc, route), v in snap.route_p95_ms.items()
        }
        s["api_error_rate"] = {_lab(service=k): v for k, v in snap.error_rate.items()}
        s["api_request_rate"] = {_lab(service=k): v for k, v in snap.rps.items()}
        s["db_query_p95"] = {_lab(query=k): v for k, v in snap.db_query_ms.items()}
        s["db_connections_ratio"] = {(): snap.db_connections / MAX_CONNECTIONS}
        s["inference_p95"] = {_lab(model=MODEL): snap.inference_ms}
        s["external_api_p95"] = {_lab(api=k): v for k, v in snap.external_ms.items()}
        s["external_api_error_rate"] = {_lab(api=k): v for k, v in snap.external_error.items()}
        s["cache_hit_rate"] = {(): snap.hit_rate}
        ones = np.ones_like(snap.times)
        s["replicas_available"] = {_lab(deployment=k): v * ones for k, v in REPLICAS.items()}
        s["replicas_desired"] = {_lab(deployment=k): v * ones for k, v in REPLICAS.items()}
        s["load_per_replica"] = {(): snap.rps["backend"] / REPLICAS["backend"]}
