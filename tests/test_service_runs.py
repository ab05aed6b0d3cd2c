"""The service running the real High Latency notebook (demo environment) on loopback: label
values arrive in the executed notebook exactly as sent, and a SIGKILLed service loses no
accepted alert."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from festsafe_nb.evidence import read_evidence
from festsafe_nb.service.harness import RunningService, start_process, start_thread
from tests.fixtures.proc import wait_until
from tests.test_service_http import label_text
from tests.test_service_unit import alert, webhook

DONE = ("completed", "completed_evidence_unavailable", "failed", "interrupted", "error")


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_thread(tmp_path_factory.mktemp("svc"), concurrency=1)
    yield running
    running.stop()


def run_of(svc: RunningService, run_id: int) -> dict[str, object]:
    resp = requests.get(f"{svc.url}/runs/{run_id}", headers=svc.headers, timeout=5)
    return dict(resp.json())


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(label_text, min_size=2, max_size=2))
def test_label_values_reach_the_notebook_exactly_as_sent(
    real: RunningService, values: list[str]
) -> None:
    labels = {"route": values[0], "service": values[1]}
    body = webhook(alert(**labels), group="props-" + json.dumps(values))
    resp = requests.post(f"{real.url}/alerts", data=body, headers=real.headers, timeout=10)
    run_id = resp.json()["alerts"][0]["run_id"]
    wait_until(lambda: run_of(real, run_id)["status"] in DONE, 120, "run")
    run = run_of(real, run_id)
    assert run["status"] == "completed", run
    report = Path(str(run["report_dir"]))
    sent = {"alertname": "HighApiLatency", **labels}
    summary = json.loads((report / "summary.json").read_text())
    assert summary["parameters"]["alert_labels"] == sent
    nb = nbformat.read(str(report / "report.ipynb"), as_version=4)
    assert nb.metadata.papermill.parameters.alert_labels == sent
    assert read_evidence(nb).session["alert_labels"] == sent  # as the notebook saw them


def runs_table(queue: Path) -> list[dict[str, object]]:
    db = sqlite3.connect(f"file:{queue}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY id")]
    finally:
        db.close()


def test_sigkill_mid_run_loses_no_accepted_alert(tmp_path: Path) -> None:
    svc = start_process(tmp_path, concurrency=1)
    try:
        accepted = []
        for i in range(3):
            resp = requests.post(
                f"{svc.url}/alerts",
                data=webhook(alert(fp=f"f{i}"), group=f"crash-{i}"),
                headers=svc.headers,
                timeout=10,
            )
            assert resp.status_code == 200
            accepted.append(resp.json()["alerts"][0]["run_id"])
        wait_until(
            lambda: any(r["status"] == "running" for r in runs_table(svc.queue_path)),
            60,
            "a run in progress",
        )
        svc.kill()
        interrupted = [r["id"] for r in runs_table(svc.queue_path) if r["status"] == "running"]
        assert len(interrupted) == 1
    finally:
        svc.stop()
    svc = start_process(tmp_path, token=svc.token, concurrency=1)
    try:
        wait_until(
            lambda: all(r["status"] in DONE for r in runs_table(svc.queue_path)),
            240,
            "all runs done after restart",
            svc.log,
        )
        runs = {r["id"]: r for r in runs_table(svc.queue_path)}
        assert sorted(runs) == sorted(accepted)
        assert all(r["status"] == "completed" for r in runs.values()), runs
        assert runs[interrupted[0]]["attempts"] == 2  # rerun once
        for r in runs.values():
            assert (Path(str(r["report_dir"])) / "summary.json").exists()
    finally:
        svc.stop()


def test_a_killed_run_worker_is_restarted_and_its_run_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real runs execute in the worker process, which holds no service secret; SIGKILL it
    mid-run: the web process keeps answering, restarts it, and the run is rerun once."""
    monkeypatch.setenv("FESTSAFE_SLACK_WEBHOOK_URL", "http://127.0.0.1:9/slack-secret-url")
    svc = start_thread(tmp_path, concurrency=1)
    try:

        def health() -> dict[str, Any]:
            return dict(requests.get(f"{svc.url}/healthz", timeout=5).json())

        wait_until(lambda: health()["worker"]["ready"], 60, "worker ready")
        first = health()["worker"]
        assert first["alive"] and first["pid"] != os.getpid() and health()["status"] == "ok"
        environ = Path(f"/proc/{first['pid']}/environ").read_bytes()
        assert b"slack-secret-url" not in environ and svc.token.encode() not in environ
        accepted = []
        for i in range(2):
            resp = requests.post(
                f"{svc.url}/alerts",
                data=webhook(alert(fp=f"w{i}"), group=f"worker-kill-{i}"),
                headers=svc.headers,
                timeout=10,
            )
            accepted.append(resp.json()["alerts"][0]["run_id"])

        def frozen_mid_run() -> bool:
            """Stop the worker (SIGSTOP): true if it was running a run, else let it go on."""
            os.kill(first["pid"], signal.SIGSTOP)
            if any(r["status"] == "running" for r in runs_table(svc.queue_path)):
                return True
            os.kill(first["pid"], signal.SIGCONT)
            return False

        wait_until(frozen_mid_run, 60, "a run in progress")
        (killed,) = [r["id"] for r in runs_table(svc.queue_path) if r["status"] == "running"]
        os.kill(first["pid"], signal.SIGKILL)
        # the webhook does not depend on the worker
        resp = requests.post(
            f"{svc.url}/alerts",
            data=webhook(alert(fp="w2"), group="worker-kill-2"),
            headers=svc.headers,
            timeout=10,
        )
        assert resp.status_code == 200
        accepted.append(resp.json()["alerts"][0]["run_id"])
        wait_until(
            lambda: health()["worker"]["restarts"] == 1 and health()["worker"]["alive"],
            60,
            "worker restarted",
        )
        assert health()["worker"]["pid"] != first["pid"]
        wait_until(
            lambda: all(r["status"] in DONE for r in runs_table(svc.queue_path)),
            240,
            "all runs done after the worker restart",
        )
        runs = {r["id"]: r for r in runs_table(svc.queue_path)}
        assert sorted(runs) == sorted(accepted)
        assert all(r["status"] == "completed" for r in runs.values()), runs
        assert runs[killed]["attempts"] == 2
        metrics = requests.get(f"{svc.url}/metrics", timeout=5).text
        count = 'festsafe_service_run_duration_seconds_count{runbook="high-latency",'
        assert f'{count}status="completed"}} 3.0' in metrics
    finally:
        svc.stop()


def test_kernels_are_fresh_per_run_and_never_see_the_service_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from festsafe_nb.service.kernels import KernelPool

    monkeypatch.setenv("FESTSAFE_WEBHOOK_TOKEN", "token-the-kernel-must-not-see")
    pool = KernelPool(
        2, kernel_name="python3", warm_imports=["json"], hidden_env=["FESTSAFE_WEBHOOK_TOKEN"]
    )
    pool.start()
    try:
        first, second = pool.acquire(timeout=60), pool.acquire(timeout=60)
        assert first is not second
        kc = first.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            seen: list[str] = []
            kc.execute_interactive(
                "import os; print(repr(os.environ.get('FESTSAFE_WEBHOOK_TOKEN')), "
                "sorted(k for k in globals() if not k.startswith('_'))[:8])",
                output_hook=lambda m: seen.append(m["content"].get("text", "")),
                timeout=30,
            )
        finally:
            kc.stop_channels()
        assert "None" in "".join(seen) and "json" not in "".join(seen)  # warmed, no names left
        pool.discard(first)
        pool.discard(second)
        wait_until(lambda: not first.has_kernel and not second.has_kernel, 30, "kernels shut")
    finally:
        pool.close()
