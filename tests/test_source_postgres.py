"""PostgresSource against a real PostgreSQL 15 put into the states the runbook diagnoses."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import psycopg
import pytest

from festsafe_nb.catalog import Catalog, Query, load_catalog
from festsafe_nb.errors import CatalogError, ConfigError, SourceUnavailable
from festsafe_nb.sources import DatabaseSource
from festsafe_nb.sources.postgres import (
    CONNECTION_COLUMNS,
    SESSION_COLUMNS,
    STATEMENT_COLUMNS,
    PostgresSource,
)
from tests.fixtures.proc import wait_until
from tests.fixtures.services import PG_MAX_CONNECTIONS, PostgresServer, database_state


@pytest.fixture
def source(postgres_server: PostgresServer) -> PostgresSource:
    return PostgresSource(postgres_server.dsn, timeout_s=5)


def _with_query(name: str, sql: str) -> Catalog:
    """The built-in catalog with one query's SQL replaced, to drive the server into a corner."""
    base = load_catalog()
    replaced = Query(name=name, description="test", sql=sql)
    return Catalog(signals=base.signals, queries={**base.queries, name: replaced})


# ---------------------------------------------------------------- no server needed


def test_satisfies_the_protocol() -> None:
    assert isinstance(PostgresSource("host=127.0.0.1 dbname=x"), DatabaseSource)


def test_repr_and_errors_never_show_the_password() -> None:
    src = PostgresSource("host=127.0.0.1 port=1 user=u password=inline-secret", password="s3cr3t!")
    assert "inline-secret" not in repr(src)
    assert "s3cr3t!" not in repr(src)
    with pytest.raises(ConfigError) as info:
        PostgresSource("host=127.0.0.1 password=inline-secret broken", password="s3cr3t!")
    assert "inline-secret" not in str(info.value)


def test_bad_catalog_parameter_is_the_callers_error() -> None:
    src = PostgresSource("host=127.0.0.1 port=1")
    with pytest.raises(CatalogError):
        src.long_running(min_seconds="5 minutes")  # type: ignore[arg-type]


# ---------------------------------------------------------------- real server


@pytest.mark.integration
def test_ping(source: PostgresSource) -> None:
    source.ping()


@pytest.mark.integration
def test_connections_against_max_with_held_connections(
    postgres_server: PostgresServer, source: PostgresSource
) -> None:
    with database_state(postgres_server, hold_idle_connections=12) as state:
        df = source.connections()
    assert list(df.columns) == CONNECTION_COLUMNS
    by_state = dict(zip(df["state"], df["connections"], strict=True))
    assert by_state["idle"] >= len(state.idle_pids) == 12
    assert by_state["active"] >= 1  # the source's own query
    assert set(df["max_connections"]) == {PG_MAX_CONNECTIONS}
    assert 13 <= df["connections"].sum() <= PG_MAX_CONNECTIONS


@pytest.mark.integration
def test_long_running_query_and_lock_wait_show_with_their_blockers(
    postgres_server: PostgresServer, source: PostgresSource
) -> None:
    with database_state(postgres_server, long_running_query=True, lock_wait=True) as state:
        long = source.long_running(min_seconds=0)
        blocked = source.blocked()
    assert list(long.columns) == SESSION_COLUMNS
    assert state.long_running_pid and state.lock_holder_pid and state.lock_waiter_pid
    rows = {int(r.pid): r for r in long.itertuples()}
    sleeper = rows[state.long_running_pid]
    assert sleeper.state == "active"
    assert "pg_sleep(600)" in sleeper.query
    assert sleeper.usename == "festsafe"
    assert sleeper.blocked_by == []
    assert rows[state.lock_holder_pid].state == "idle in transaction"
    waiter = rows[state.lock_waiter_pid]
    assert (waiter.wait_event_type, waiter.blocked_by) == ("Lock", [state.lock_holder_pid])

    assert list(blocked.columns) == SESSION_COLUMNS
    assert blocked["pid"].tolist() == [state.lock_waiter_pid]
    assert blocked["blocked_by"].tolist() == [[state.lock_holder_pid]]
    assert blocked["query"].iloc[0].startswith("UPDATE observations")
    assert blocked["seconds"].dtype == "float64"


@pytest.mark.integration
def test_nothing_long_or_blocked_when_quiet(source: PostgresSource) -> None:
    assert source.blocked().empty
    assert list(source.blocked().columns) == SESSION_COLUMNS
    assert source.long_running(min_seconds=3600).empty


@pytest.mark.integration
def test_top_statements_from_pg_stat_statements(source: PostgresSource) -> None:
    for _ in range(3):
        source.connections()
    df = source.top_statements(limit=5)
    assert df is not None
    assert list(df.columns) == STATEMENT_COLUMNS
    assert 1 <= len(df) <= 5
    assert (df["calls"] >= 1).all()
    assert df["mean_ms"].is_monotonic_decreasing
    assert str(df["queryid"].dtype) == "int64"


@pytest.mark.integration
def test_top_statements_none_without_the_extension(postgres_server: PostgresServer) -> None:
    other_db = postgres_server.dsn.replace("dbname=festsafe", "dbname=postgres")
    assert PostgresSource(other_db).top_statements() is None


@pytest.mark.integration
def test_statement_timeout_becomes_source_unavailable(postgres_server: PostgresServer) -> None:
    slow = _with_query("pg_connections", "SELECT pg_sleep(30)")
    src = PostgresSource(postgres_server.dsn, timeout_s=0.5, catalog=slow)
    with pytest.raises(SourceUnavailable) as info:
        src.connections()
    assert info.value.system == "postgresql"
    assert "statement timeout" in info.value.cause


@pytest.mark.integration
def test_session_is_read_only(postgres_server: PostgresServer) -> None:
    writing = _with_query("pg_connections", "DELETE FROM observations RETURNING id")
    with pytest.raises(SourceUnavailable) as info:
        PostgresSource(postgres_server.dsn, catalog=writing).connections()
    assert "read-only" in info.value.cause


@pytest.fixture
def frozen_backend(postgres_server: PostgresServer) -> Iterator[threading.Thread]:
    """A thread that SIGSTOPs the source's backend once its statement is running.

    A stopped backend cannot fire its own statement timeout: only the client's deadline helps.
    """
    stopped: list[int] = []

    def freeze() -> None:
        with psycopg.connect(postgres_server.admin_dsn, autocommit=True) as admin:

            def running() -> bool:
                row = admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name ="
                    " 'festsafe-runbooks' AND query LIKE '%pg_sleep(60)%' AND state = 'active'"
                ).fetchone()
                if row:
                    os.kill(row[0], signal.SIGSTOP)
                    stopped.append(row[0])
                return row is not None

            wait_until(running, 30, "source's statement")

    thread = threading.Thread(target=freeze, daemon=True)
    try:
        yield thread
    finally:
        thread.join(timeout=30)
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)  # it finds its client gone and exits


@pytest.mark.integration
def test_frozen_server_mid_statement_times_out(
    postgres_server: PostgresServer, frozen_backend: threading.Thread
) -> None:
    hanging = _with_query("pg_connections", "SELECT pg_sleep(60)")
    src = PostgresSource(postgres_server.dsn, timeout_s=3, catalog=hanging)
    frozen_backend.start()
    with pytest.raises(SourceUnavailable) as info:
        src.connections()
    assert info.value.cause == "no answer within 3s"
