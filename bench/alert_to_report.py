"""Alert to report: p50/p95 of 20 High Latency alerts through the service (demo environment)
against a plain ``papermill`` CLI run of the same notebook, in the same run of this script.

The service runs in this process (HTTP in a thread; runs in its worker process with
pre-started kernels); each alert is a new alert group, posted once the previous report is
written, and timed from the POST to the run's report being on disk. Target: service p50 at
most 0.6x the papermill CLI p50. ``--in-process`` runs them in the web process instead (the
design before the run worker), for comparison.

    .venv/bin/python bench/alert_to_report.py [--alerts 20] [--papermill-runs 5] [--in-process]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from festsafe_nb.runbooks import REGISTRY
from festsafe_nb.service.harness import start_thread

DONE = ("completed", "completed_evidence_unavailable", "failed", "interrupted", "error")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def webhook(i: int) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 300))
    return json.dumps(
        {
            "version": "4",
            "groupKey": f"bench-{i}",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "HighApiLatency", "severity": "info"},
                    "startsAt": now,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": f"f{i}",
                }
            ],
        }
    ).encode()


def papermill_cli(work: Path, n: int) -> list[float]:
    nb = REGISTRY["high-latency"].path
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "papermill"),
                str(nb),
                str(work / f"pm{i}.ipynb"),
                "-p",
                "execution_mode",
                "headless",
                "--no-progress-bar",
            ],
            check=True,
            capture_output=True,
        )
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=20)
    parser.add_argument("--papermill-runs", type=int, default=5)
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run in the web process's threads (the design before the run worker), to compare",
    )
    parser.add_argument("--worker-nice", type=int, default=None, help="run worker niceness")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        extra = {} if args.worker_nice is None else {"worker_nice": args.worker_nice}
        svc = start_thread(work, concurrency=2, in_process=args.in_process or None, **extra)
        try:
            while svc.service.health()["kernels_ready"] < 2:  # warm, in the run worker
                time.sleep(0.1)
            latencies: list[float] = []
            statuses: list[str] = []
            for i in range(args.alerts):
                t0 = time.perf_counter()
                resp = requests.post(
                    f"{svc.url}/alerts", data=webhook(i), headers=svc.headers, timeout=10
                )
                run_id = resp.json()["alerts"][0]["run_id"]
                while True:
                    run = requests.get(
                        f"{svc.url}/runs/{run_id}", headers=svc.headers, timeout=10
                    ).json()
                    if run["status"] in DONE:
                        break
                    time.sleep(0.02)
                latencies.append(time.perf_counter() - t0)
                statuses.append(run["status"])
                time.sleep(1.0)  # let the pool replace the used kernel, as between real alerts
        finally:
            svc.stop()
        cli = papermill_cli(work, args.papermill_runs)
    p50, p95 = statistics.median(latencies), pct(latencies, 0.95)
    c50 = statistics.median(cli)
    print(
        f"service alert->report ({len(latencies)} alerts): p50 {p50:.2f}s  p95 {p95:.2f}s  "
        f"statuses {sorted(set(statuses))}"
    )
    print(
        f"papermill CLI, same notebook ({len(cli)} runs): p50 {c50:.2f}s  p95 {pct(cli, 0.95):.2f}s"
    )
    print(f"ratio p50 service / papermill CLI: {p50 / c50:.2f}x (target <= 0.6x)")


if __name__ == "__main__":
    main()
