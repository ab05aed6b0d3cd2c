"""The audit log: chaining, scrubbing, filtering, tamper detection (API and CLI), concurrency."""

from __future__ import annotations

import argparse
import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from festsafe_nb.actions.audit import (
    GENESIS,
    AuditError,
    AuditLog,
    AuditRecord,
    entry_hash,
)
from festsafe_nb.actions.audit_cli import register
from festsafe_nb.errors import BadInput

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def record(i: int = 0, **kw: Any) -> AuditRecord:
    fields: dict[str, Any] = {
        "time": T0 + timedelta(minutes=i),
        "actor": "alice",
        "actor_source": "settings",
        "run_id": "run-1",
        "mode": "interactive",
        "action": "scale",
        "parameters": {"deployment": "backend", "replicas": 5, "namespace": "festsafe"},
        "target": "deployment/backend",
        "namespace": "festsafe",
        "plan_digest": "ab" * 32,
        "decision": "refused",
        "reason": f"attempt {i}",
    }
    fields.update(kw)
    return AuditRecord(**fields)


def filled(tmp_path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(tmp_path / "audit" / "audit.jsonl")
    for i in range(n):
        log.append(record(i))
    return log


def lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines(keepends=True)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="festsafe-nb")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = int(args.func(args))
    return code, capsys.readouterr().out


def test_entries_are_chained_from_genesis(tmp_path: Path) -> None:
    log = filled(tmp_path, 3)
    entries = list(log.entries())
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["prev"] == GENESIS
    for before, after in itertools.pairwise(entries):
        assert after["prev"] == before["hash"] == entry_hash(before)
    assert entries[0]["time"].endswith("Z")
    assert log.verify().ok
    assert json.loads(log.head_path.read_text()) == {"seq": 3, "hash": entries[2]["hash"]}


def test_known_secrets_and_credential_patterns_are_scrubbed(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl", secrets=["s3cr3t-value"])
    entry = log.append(
        record(
            reason="failed: postgresql://app:hunter22@db/festsafe said s3cr3t-value",
            result={"ok": False, "detail": "token s3cr3t-value rejected"},
        ),
        secrets=["other-secret"],
    )
    text = log.path.read_text()
    assert "s3cr3t-value" not in text and "hunter22" not in text
    assert "[REDACTED]" in entry["reason"]
    assert log.verify().ok  # the hash covers the scrubbed entry


def test_list_filters(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    log.append(record(0))
    log.append(record(10, actor="bob", action="rollout_restart", run_id="run-2"))
    log.append(record(20, decision="executed"))
    assert len(log.list()) == 3
    assert [e["seq"] for e in log.list(actor="bob")] == [2]
    assert [e["seq"] for e in log.list(action="scale")] == [1, 3]
    assert [e["seq"] for e in log.list(run_id="run-2")] == [2]
    since = T0 + timedelta(minutes=10)
    assert [e["seq"] for e in log.list(since=since)] == [2, 3]
    assert [e["seq"] for e in log.list(until=since)] == [1]
    assert [e["seq"] for e in log.list(since=since, until=since + timedelta(minutes=1))] == [2]


def test_edited_entry_is_detected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = filled(tmp_path)
    rows = lines(log)
    entry = json.loads(rows[2])
    entry["actor"] = "mallory"
    rows[2] = json.dumps(entry) + "\n"
    log.path.write_text("".join(rows))
    report = log.verify()
    assert [(p.kind, p.seq, p.line) for p in report.problems] == [("edited", 3, 3)]
    code, out = run_cli(["audit", "verify", "--log", str(log.path)], capsys)
    assert code == 1 and "seq 3, line 3: edited" in out


def test_edit_with_recomputed_hash_breaks_the_chain(tmp_path: Path) -> None:
    log = filled(tmp_path)
    rows = lines(log)
    entry = json.loads(rows[1])
    entry["decision"] = "executed"
    entry["hash"] = entry_hash(entry)
    rows[1] = json.dumps(entry) + "\n"
    log.path.write_text("".join(rows))
    problems = log.verify().problems
    assert [(p.kind, p.seq) for p in problems] == [("chain", 3)]


def test_deleted_entry_is_detected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = filled(tmp_path)
    rows = lines(log)
    del rows[2]
    log.path.write_text("".join(rows))
    problems = log.verify().problems
    assert [(p.kind, p.seq, p.line) for p in problems] == [("deleted", 4, 3)]
    assert "seq 3 missing" in problems[0].message
    code, out = run_cli(["audit", "verify", "--log", str(log.path)], capsys)
    assert code == 1 and "deleted" in out


def test_deleted_last_entry_is_detected_by_the_head(tmp_path: Path) -> None:
    log = filled(tmp_path)
    log.path.write_text("".join(lines(log)[:-1]))
    problems = log.verify().problems
    assert [(p.kind, p.seq) for p in problems] == [("deleted", 5)]


def test_reordered_entries_are_detected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = filled(tmp_path)
    rows = lines(log)
    rows[1], rows[2] = rows[2], rows[1]
    log.path.write_text("".join(rows))
    problems = log.verify().problems
    assert [(p.kind, p.seq, p.line) for p in problems] == [("reordered", 2, 3)]
    code, out = run_cli(["audit", "verify", "--log", str(log.path)], capsys)
    assert code == 1 and "reordered" in out


def test_truncated_last_line_is_detected_and_refuses_appends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = filled(tmp_path)
    data = log.path.read_bytes()
    log.path.write_bytes(data[:-40])
    problems = log.verify().problems
    assert (problems[0].kind, problems[0].line) == ("truncated", 5)
    code, out = run_cli(["audit", "verify", "--log", str(log.path)], capsys)
    assert code == 1 and "truncated" in out
    with pytest.raises(AuditError, match="partial line"):
        log.append(record(9))
    with pytest.raises(AuditError):
        log.head()
    assert log.path.read_bytes() == data[:-40]  # nothing appended, nothing rewritten


def test_missing_newline_only_is_detected(tmp_path: Path) -> None:
    log = filled(tmp_path, 2)
    log.path.write_bytes(log.path.read_bytes()[:-1])
    assert [p.kind for p in log.verify().problems] == ["truncated"]


def test_cli_intact_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    log.append(record(0))
    log.append(record(10, actor="bob", action="rollout_restart", run_id="run-2"))
    log.append(record(20, decision="executed"))
    code, out = run_cli(["audit", "verify", "--log", str(log.path)], capsys)
    assert code == 0 and out == ""
    code, out = run_cli(["audit", "list", "--log", str(log.path), "--actor", "bob"], capsys)
    assert code == 0 and out.count("\n") == 1 and "rollout_restart" in out
    code, out = run_cli(
        ["audit", "list", "--log", str(log.path), "--action", "scale", "--json"], capsys
    )
    assert [e["seq"] for e in json.loads(out)] == [1, 3]
    code, out = run_cli(
        [
            "audit",
            "list",
            "--log",
            str(log.path),
            "--since",
            "2026-03-01T12:05:00",
            "--until",
            "2026-03-01T12:15:00+00:00",
            "--json",
        ],
        capsys,
    )
    assert [e["seq"] for e in json.loads(out)] == [2]
    code, out = run_cli(["audit", "list", "--log", str(log.path), "--run-id", "run-2"], capsys)
    assert out.startswith("2  ")


def test_cli_missing_log_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(BadInput, match="no audit log"):
        run_cli(["audit", "verify", "--log", str(tmp_path / "nope.jsonl")], capsys)


def test_concurrent_appends_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    threads_n, per_thread = 8, 25
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        log = AuditLog(path)  # each writer its own instance and file descriptions
        try:
            barrier.wait()
            for i in range(per_thread):
                log.append(record(i, actor=f"w{k}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    log = AuditLog(path)
    report = log.verify()
    assert report.ok, report.problems
    assert report.entries == threads_n * per_thread
    assert [e["seq"] for e in log.entries()] == list(range(1, threads_n * per_thread + 1))
