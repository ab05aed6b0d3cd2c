"""The durable run queue: SQLite in WAL mode, the service's single source of truth.

An alert is answered 200 only after the transaction recording it has committed, so an
accepted alert survives a SIGKILL of the service at any later moment (WAL with
``synchronous=NORMAL`` is durable against process death; only a power loss could drop the
last commits). Deduplication happens inside the same ``BEGIN IMMEDIATE`` transaction as the
insert, so two concurrent notifications of one group can never both start a run.

Tables: ``runs`` (one per alert group and runbook within the dedup window), ``alerts`` (every
alert received, with what was done with it) and ``notifications`` (an outbox: a finished run
and its notifications commit together, so a kill between them loses neither).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACTIVE = ("queued", "running")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    dedup_key TEXT NOT NULL,
    group_key TEXT NOT NULL,
    alertname TEXT NOT NULL,
    runbook TEXT NOT NULL,
    severity TEXT NOT NULL,
    component TEXT,
    maintenance TEXT NOT NULL DEFAULT '[]',
    params TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    report_dir TEXT,
    result TEXT,
    resolved_at TEXT
);
CREATE INDEX IF NOT EXISTS runs_dedup ON runs (dedup_key, created_at);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status, id);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
    group_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    alertname TEXT NOT NULL,
    alert_status TEXT NOT NULL,
    outcome TEXT NOT NULL,
    run_id INTEGER REFERENCES runs (id),
    reason TEXT
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES runs (id),
    channel TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at REAL NOT NULL,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS notifications_pending ON notifications (status, channel, id);
"""


@dataclass(frozen=True)
class Intake:
    """One alert of a webhook, decided: what the queue records for it."""

    outcome: str  # run | resolved | unknown_alert | runbook_not_implemented | refused
    group_key: str
    fingerprint: str
    alertname: str
    alert_status: str
    runbook: str | None = None
    params: dict[str, Any] | None = None
    severity: str = "warning"
    component: str | None = None
    maintenance: tuple[str, ...] = ()
    resolved_at: str | None = None
    reason: str | None = None

    @property
    def dedup_key(self) -> str:
        return json.dumps([self.group_key, self.runbook])


@dataclass(frozen=True)
class Run:
    id: int
    runbook: str
    alertname: str
    group_key: str
    severity: str
    component: str | None
    maintenance: list[str]
    params: dict[str, Any]
    status: str
    attempts: int
    created_at: float
    started_at: float | None
    ended_at: float | None
    report_dir: str | None
    result: dict[str, Any] | None
    resolved_at: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Run:
        return cls(
            id=row["id"],
            runbook=row["runbook"],
            alertname=row["alertname"],
            group_key=row["group_key"],
            severity=row["severity"],
            component=row["component"],
            maintenance=json.loads(row["maintenance"]),
            params=json.loads(row["params"]),
            status=row["status"],
            attempts=row["attempts"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            report_dir=row["report_dir"],
            result=json.loads(row["result"]) if row["result"] else None,
            resolved_at=row["resolved_at"],
        )

    def public(self) -> dict[str, Any]:
        """What the HTTP API shows of a run (parameters are alert data, never secrets)."""
        return {
            "id": self.id,
            "runbook": self.runbook,
            "alertname": self.alertname,
            "severity": self.severity,
            "component": self.component,
            "maintenance": self.maintenance,
            "status": self.status,
            "attempts": self.attempts,
            "params": self.params,
            "report_dir": self.report_dir,
            "resolved_at": self.resolved_at,
            "result": self.result,
        }


@dataclass(frozen=True)
class Notification:
    id: int
    run_id: int | None
    channel: str
    body: dict[str, Any]
    attempts: int
    created_at: float


class Queue:
    """Thread-safe access to the queue database (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- intake ---------------------------------------------------------------------------
    def record(
        self, intakes: Sequence[Intake], dedup_window_s: float, now: float | None = None
    ) -> list[dict[str, Any]]:
        """Record every alert of one webhook in one transaction; returns one outcome each."""
        now = time.time() if now is None else now
        out: list[dict[str, Any]] = []
        with self._tx() as db:
            for it in intakes:
                outcome, run_id = it.outcome, None
                if it.outcome == "run":
                    row = db.execute(
                        "SELECT id FROM runs WHERE dedup_key = ? AND (status IN (?, ?) "
                        "OR created_at >= ?) ORDER BY id DESC LIMIT 1",
                        (it.dedup_key, *ACTIVE, now - dedup_window_s),
                    ).fetchone()
                    if row is not None:
                        outcome, run_id = "duplicate", int(row["id"])
                    else:
                        cur = db.execute(
                            "INSERT INTO runs (dedup_key, group_key, alertname, runbook, "
                            "severity, component, maintenance, params, created_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (
                                it.dedup_key,
                                it.group_key,
                                it.alertname,
                                it.runbook,
                                it.severity,
                                it.component,
                                json.dumps(list(it.maintenance)),
                                json.dumps(it.params),
                                now,
                            ),
                        )
                        outcome, run_id = "queued", int(cur.lastrowid or 0)
                elif it.outcome == "resolved":
                    row = db.execute(
                        "SELECT id FROM runs WHERE dedup_key = ? ORDER BY id DESC LIMIT 1",
                        (it.dedup_key,),
                    ).fetchone()
                    if row is None:
                        outcome = "resolved_unmatched"
                    else:
                        outcome, run_id = "resolved_attached", int(row["id"])
                        db.execute(
                            "UPDATE runs SET resolved_at = ? WHERE id = ?",
                            (it.resolved_at, run_id),
                        )
                db.execute(
                    "INSERT INTO alerts (received_at, group_key, fingerprint, alertname, "
                    "alert_status, outcome, run_id, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        now,
                        it.group_key,
                        it.fingerprint,
                        it.alertname,
                        it.alert_status,
                        outcome,
                        run_id,
                        it.reason,
                    ),
                )
                item: dict[str, Any] = {
                    "alertname": it.alertname,
                    "fingerprint": it.fingerprint,
                    "outcome": outcome,
                    "run_id": run_id,
                }
                if it.runbook:
                    item["runbook"] = it.runbook
                if it.reason:
                    item["reason"] = it.reason
                out.append(item)
        return out

    # -- execution --------------------------------------------------------------------------
    def recover(self, max_attempts: int) -> tuple[list[int], list[int]]:
        """At start-up: runs left ``running`` by a dead process are requeued or marked."""
        with self._tx() as db:
            rows = db.execute("SELECT id, attempts FROM runs WHERE status = 'running'").fetchall()
            requeued = [int(r["id"]) for r in rows if r["attempts"] < max_attempts]
            marked = [int(r["id"]) for r in rows if r["attempts"] >= max_attempts]
            for rid in requeued:
                db.execute("UPDATE runs SET status = 'queued' WHERE id = ?", (rid,))
            for rid in marked:
                db.execute(
                    "UPDATE runs SET status = 'interrupted', ended_at = ? WHERE id = ?",
                    (time.time(), rid),
                )
        return requeued, marked

    def claim(self) -> Run | None:
        """Take the oldest queued run and mark it running (its attempt counts from now)."""
        with self._tx() as db:
            row = db.execute(
                "SELECT id FROM runs WHERE status = 'queued' ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE runs SET status = 'running', attempts = attempts + 1, started_at = ? "
                "WHERE id = ?",
                (time.time(), row["id"]),
            )
            got = db.execute("SELECT * FROM runs WHERE id = ?", (row["id"],)).fetchone()
        return Run.from_row(got)

    def finish(
        self,
        run_id: int,
        status: str,
        *,
        report_dir: str | None,
        result: dict[str, Any] | None,
        notifications: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> None:
        """Close a run and queue its notifications in one transaction."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status = ?, ended_at = ?, report_dir = ?, result = ? WHERE id = ?",
                (status, now, report_dir, json.dumps(result) if result else None, run_id),
            )
            for channel, body in notifications:
                db.execute(
                    "INSERT INTO notifications (run_id, channel, body, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (run_id, channel, json.dumps(body), now),
                )

    def add_notifications(
        self, run_id: int | None, notifications: Sequence[tuple[str, dict[str, Any]]]
    ) -> None:
        now = time.time()
        with self._tx() as db:
            for channel, body in notifications:
                db.execute(
                    "INSERT INTO notifications (run_id, channel, body, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (run_id, channel, json.dumps(body), now),
                )

    # -- outbox ---------------------------------------------------------------------------
    def pending_notifications(self) -> list[Notification]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM notifications WHERE status = 'pending' ORDER BY id"
            ).fetchall()
        return [
            Notification(
                r["id"],
                r["run_id"],
                r["channel"],
                json.loads(r["body"]),
                r["attempts"],
                r["created_at"],
            )
            for r in rows
        ]

    def mark_sent(self, ids: Sequence[int]) -> None:
        with self._tx() as db:
            for nid in ids:
                db.execute(
                    "UPDATE notifications SET status = 'sent', sent_at = ?, "
                    "attempts = attempts + 1 WHERE id = ?",
                    (time.time(), nid),
                )

    def mark_failed(self, ids: Sequence[int], error: str, max_attempts: int) -> None:
        with self._tx() as db:
            for nid in ids:
                db.execute(
                    "UPDATE notifications SET attempts = attempts + 1, last_error = ?, "
                    "status = CASE WHEN attempts + 1 >= ? THEN 'failed' ELSE 'pending' END "
                    "WHERE id = ?",
                    (error, max_attempts, nid),
                )

    # -- reading ----------------------------------------------------------------------------
    def get_run(self, run_id: int) -> Run | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return Run.from_row(row) if row else None

    def runs(self, limit: int = 200) -> list[Run]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [Run.from_row(r) for r in rows]

    def depth(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM runs WHERE status = 'queued'").fetchone()
        return int(row[0])

    def durations(self) -> list[tuple[str, str, float]]:
        """(runbook, status, seconds from claim to close) of every finished run.

        Read from the rows rather than observed in memory, so the figure is right whichever
        process ran the run and across restarts. Interrupted runs are left out: their
        ``ended_at`` is when recovery marked them, not when they stopped.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT runbook, status, ended_at - started_at FROM runs WHERE ended_at IS NOT "
                "NULL AND started_at IS NOT NULL AND status != 'interrupted'"
            ).fetchall()
        return [(str(r[0]), str(r[1]), max(0.0, float(r[2]))) for r in rows]

    def counts(self, table: str, column: str) -> dict[str, int]:
        if (table, column) not in {
            ("runs", "status"),
            ("alerts", "outcome"),
            ("notifications", "status"),
        }:
            raise ValueError(f"no count for {table}.{column}")
        with self._lock:
            rows = self._db.execute(
                f"SELECT {column}, count(*) FROM {table} GROUP BY {column}"
            ).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def alerts(self, limit: int = 1000) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM alerts ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [dict(r) for r in rows]
