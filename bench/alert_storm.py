"""Alert storm: 1,000 webhook notifications in 10 s across 50 alert groups on loopback.

Checks: webhook p99 under 50 ms, exactly 50 runs (one per group: the rest are deduplicated),
every alert recorded (nothing lost). ``--runs fast`` (default) completes each run with a
trivial stand-in (in threads of the service process) so the figure is the service's own
(HTTP, validation, SQLite WAL queue, dedup); ``--runs demo`` executes the real High Latency
notebook for each of the 50 runs meanwhile, in the service's run worker process with its
pre-started kernels. The storm ends by itself once every run is done.

    .venv/bin/python bench/alert_storm.py [--runs fast|demo] [--in-process]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from festsafe_nb.service.executor import Outcome
from festsafe_nb.service.harness import start_thread
from festsafe_nb.service.queue import Queue, Run

ALERTS, GROUPS, SECONDS, SENDERS = 1000, 50, 10.0, 8
DONE = ("completed", "completed_evidence_unavailable", "failed", "interrupted", "error")


def fast_run(item: Run, km: Any) -> Outcome:
    time.sleep(0.05)
    return Outcome("completed", None, {"diagnosis": {"summary": "fast path"}})


def body(i: int) -> bytes:
    g = i % GROUPS
    return json.dumps(
        {
            "version": "4",
            "groupKey": f"storm-{g}",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {
                        "alertname": "HighApiLatency",
                        "severity": "info",
                        "route": f"/api/r{g}",
                    },
                    "startsAt": "2026-12-07T10:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": f"fp{g}-{i}",
                }
            ],
        }
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", choices=["fast", "demo"], default="fast")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run in the web process's threads (the design before the run worker), to compare",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        demo = args.runs == "demo"
        svc = start_thread(
            Path(tmp),
            run_fn=None if demo else fast_run,
            use_kernels=demo,
            in_process=args.in_process or None,
            concurrency=2,
            digest_interval_s=3600,
        )
        try:
            if demo:  # kernels are pre-started in the run worker process
                while svc.service.health()["kernels_ready"] < 2:
                    time.sleep(0.1)
            latencies: list[float] = []
            codes: list[int] = []
            lock = threading.Lock()
            start = time.perf_counter() + 0.2

            def sender(k: int) -> None:
                session = requests.Session()
                for i in range(k, ALERTS, SENDERS):
                    due = start + i * SECONDS / ALERTS
                    time.sleep(max(0.0, due - time.perf_counter()))
                    t0 = time.perf_counter()
                    resp = session.post(
                        f"{svc.url}/alerts", data=body(i), headers=svc.headers, timeout=10
                    )
                    elapsed = time.perf_counter() - t0
                    with lock:
                        latencies.append(elapsed)
                        codes.append(resp.status_code)

            threads = [threading.Thread(target=sender, args=(k,)) for k in range(SENDERS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            sent_in = time.perf_counter() - start
            while True:
                runs = svc.service.queue.counts("runs", "status")
                if sum(runs.values()) and all(s in DONE for s in runs):
                    break
                time.sleep(0.2)
            drained = time.perf_counter() - start
            q = Queue(svc.queue_path)
            alerts = q.counts("alerts", "outcome")
            q.close()
        finally:
            svc.stop()
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    print(
        f"runs: {args.runs}; sent {len(ms)} alerts in {sent_in:.1f}s, all runs done at "
        f"{drained:.1f}s"
    )
    print(
        f"webhook latency ms: p50 {statistics.median(ms):.1f}  p99 {p99:.1f}  "
        f"max {ms[-1]:.1f}  (target p99 < 50)"
    )
    print(
        f"HTTP codes: {sorted(set(codes))}; runs by status: {runs}; "
        f"alerts recorded: {sum(alerts.values())} {alerts}"
    )
    ok = p99 < 50 and sum(runs.values()) == GROUPS and sum(alerts.values()) == ALERTS
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
