"""PostgreSQL evidence for the database checks: connections, slow and blocked sessions, top SQL.

Sits under ``runbooks/``: a runbook asks a ``DatabaseSource`` for DataFrames and never sees SQL,
which lives in the query catalog (``catalog/queries.yaml``) with its parameters bound by psycopg.

Each call opens its own short connection and closes it. The database checks run a handful of
statements minutes apart, during an incident that is often *about* connections: a kept session
would occupy one of the scarce slots between calls, and one broken by a timeout would have to be
detected and replaced. Opening a connection costs a few milliseconds next to that.

Every call is bounded three ways: ``connect_timeout`` (libpq cannot go below 2 s), a server-side
``statement_timeout``, and a client-side deadline that shuts the socket if a server stops
answering mid-statement (a frozen server ignores its own statement timeout). The session is
read-only: the runbook only looks.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pandas as pd
import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg import errors as pg_errors

from festsafe_nb.catalog import Catalog, load_catalog
from festsafe_nb.errors import ConfigError, SourceUnavailable
from festsafe_nb.sources import CONNECTION_COLUMNS, SESSION_COLUMNS, STATEMENT_COLUMNS

__all__ = ["PostgresSource"]


_LIBPQ_MIN_CONNECT_TIMEOUT_S = 2
_DEADLINE_GRACE_S = 1.0
_PASSWORD_IN_DSN = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


class PostgresSource:
    """The ``DatabaseSource`` for a PostgreSQL server, given a libpq DSN without password."""

    system = "postgresql"

    def __init__(
        self,
        dsn: str,
        *,
        password: str | None = None,
        timeout_s: float = 5.0,
        catalog: Catalog | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ConfigError(f"postgresql timeout_s must be > 0, got {timeout_s!r}")
        try:
            given = pg_conninfo.conninfo_to_dict(dsn)
        except psycopg.Error:
            raise ConfigError(f"invalid PostgreSQL DSN {_redact(dsn, password)!r}") from None
        self._dsn = dsn
        self._password = password
        self.timeout_s = float(timeout_s)
        self._catalog = catalog or load_catalog()
        statement_ms = max(1, int(self.timeout_s * 1000))
        options = " ".join(
            part
            for part in (
                str(given.get("options") or ""),
                f"-c statement_timeout={statement_ms}",
                f"-c lock_timeout={statement_ms}",
                "-c default_transaction_read_only=on",
            )
            if part
        )
        self._connect_kwargs: dict[str, Any] = {
            "connect_timeout": max(_LIBPQ_MIN_CONNECT_TIMEOUT_S, math.ceil(self.timeout_s)),
            "tcp_user_timeout": statement_ms,
            "options": options,
            "application_name": given.get("application_name") or "festsafe-runbooks",
        }

    def __repr__(self) -> str:
        dsn = _redact(self._dsn, self._password)
        return f"PostgresSource(dsn={dsn!r}, timeout_s={self.timeout_s:g})"

    # ------------------------------------------------------------------ DatabaseSource

    def ping(self) -> None:
        self._fetch("SELECT 1")

    def connections(self) -> pd.DataFrame:
        """Client backends by state, each row carrying ``max_connections`` for the ratio."""
        cols, rows = self._fetch_named("pg_connections")
        df = _frame(cols, rows, CONNECTION_COLUMNS)
        return df.astype({"connections": "int64", "max_connections": "int64"})

    def long_running(self, min_seconds: float) -> pd.DataFrame:
        cols, rows = self._fetch_named("pg_long_running", min_seconds=min_seconds)
        return _sessions(_frame(cols, rows, SESSION_COLUMNS))

    def blocked(self) -> pd.DataFrame:
        cols, rows = self._fetch_named("pg_blocked")
        return _sessions(_frame(cols, rows, SESSION_COLUMNS))

    def top_statements(self, limit: int = 10) -> pd.DataFrame | None:
        """Slowest statements by mean time, or ``None`` where pg_stat_statements is absent.

        "Absent" includes an extension created but not preloaded: the view then refuses to
        answer, which tells the runbook the same thing as no extension at all.
        """
        _, rows = self._fetch_named("pg_has_stat_statements")
        if not rows or not rows[0][0]:
            return None
        try:
            cols, rows = self._fetch_named("pg_top_statements", limit=limit)
        except _NotLoaded:
            return None
        df = _frame(cols, rows, STATEMENT_COLUMNS)
        return df.astype(
            {
                "queryid": "int64",
                "calls": "int64",
                "mean_ms": "float64",
                "total_ms": "float64",
                "rows": "int64",
            }
        )

    # ------------------------------------------------------------------ plumbing

    def _fetch_named(self, name: str, **params: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a catalog query; a bad parameter is the caller's ``CatalogError``, raised first."""
        query = self._catalog.query(name)
        bound = query.bind(**params)
        return self._fetch(query.sql, bound)

    def _fetch(
        self, sql: str, params: dict[str, Any] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            with (
                psycopg.connect(
                    self._dsn,
                    password=self._password,
                    autocommit=True,
                    prepare_threshold=None,
                    **self._connect_kwargs,
                ) as conn,
                _deadline(conn, self.timeout_s + _DEADLINE_GRACE_S) as expired,
            ):
                try:
                    cur = conn.execute(sql, params)
                    cols = [c.name for c in cur.description or []]
                    return cols, list(cur.fetchall())
                except psycopg.Error as exc:
                    if expired.is_set():
                        raise TimeoutError(f"no answer within {self.timeout_s:g}s") from exc
                    raise
        except pg_errors.ObjectNotInPrerequisiteState as exc:
            raise _NotLoaded(self.system, self._cause(exc)) from None
        except pg_errors.ConnectionTimeout:
            raise SourceUnavailable(
                self.system,
                f"connection timed out after {self._connect_kwargs['connect_timeout']}s",
            ) from None
        except (psycopg.Error, OSError) as exc:
            raise SourceUnavailable(self.system, self._cause(exc)) from None

    def _cause(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        text = "".join(ch if ch.isprintable() else "?" for ch in text)
        return _redact(text, self._password)[:300]


class _NotLoaded(SourceUnavailable):
    """A view refused to answer because its library is not preloaded (pg_stat_statements)."""


@contextlib.contextmanager
def _deadline(conn: psycopg.Connection[Any], seconds: float) -> Iterator[threading.Event]:
    """Shut the connection's socket if the block outlives ``seconds``.

    psycopg waits for a statement's answer without a client-side limit, so a server that stops
    responding mid-statement would hang the runbook. Shutting the socket down (on a duplicate
    descriptor, from a timer thread) wakes psycopg with "connection closed", which the caller
    reports as a timeout. The lock keeps the timer from touching a descriptor already closed.
    """
    fired = threading.Event()
    lock = threading.Lock()
    done = False
    fd = conn.pgconn.socket

    def fire() -> None:
        with lock:
            if done:
                return
            fired.set()
            with contextlib.suppress(OSError):
                dup = socket.socket(fileno=os.dup(fd))
                try:
                    dup.shutdown(socket.SHUT_RDWR)
                finally:
                    dup.close()

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        with lock:
            done = True
        timer.cancel()


def _frame(cols: list[str], rows: list[tuple[Any, ...]], wanted: list[str]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(rows, columns=cols) if cols else pd.DataFrame()
    for col in wanted:
        if col not in df.columns:
            df[col] = pd.Series(dtype="object")
    return df[wanted].reset_index(drop=True)


def _sessions(df: pd.DataFrame) -> pd.DataFrame:
    df["blocked_by"] = [[int(p) for p in (v or [])] for v in df["blocked_by"]]
    return df.astype({"pid": "int64", "seconds": "float64"})


def _redact(text: str, password: str | None) -> str:
    if password:
        text = text.replace(password, "***")
    text = _PASSWORD_IN_DSN.sub(r"\1***", text)
    return _PASSWORD_IN_URL.sub(r"\1***@", text)
