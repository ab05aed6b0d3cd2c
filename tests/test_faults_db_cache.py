"""The database and cache clients facing a closed port, a silent server and a garbage server.

Each must raise ``SourceUnavailable`` (and nothing else) with a short readable cause, within its
own timeout, and without the password in the message. The fault servers are checked first, so a
failure here points at the client, not at the fixture.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable

import pytest

from festsafe_nb.errors import SourceUnavailable
from festsafe_nb.sources.postgres import PostgresSource
from festsafe_nb.sources.redis import RedisSource
from tests.fixtures.faults import blackhole_server, closed_port, garbage_server

SECRET = "pa55-w0rd-never-shown"
RANDOM_BYTES = random.Random(20240601).randbytes(512)
HTTP_NOT_JSON = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>not json</html>"

Probe = Callable[[int, float], None]


def pg_probe(port: int, timeout_s: float) -> None:
    src = PostgresSource(
        f"host=127.0.0.1 port={port} dbname=festsafe user=festsafe",
        password=SECRET,
        timeout_s=timeout_s,
    )
    src.connections()


def redis_probe(port: int, timeout_s: float) -> None:
    RedisSource(f"redis://127.0.0.1:{port}/0", password=SECRET, timeout_s=timeout_s).stats()


CLIENTS = [
    pytest.param(pg_probe, "postgresql", id="postgres"),
    pytest.param(redis_probe, "redis", id="redis"),
]


def _unavailable(probe: Probe, port: int, system: str, timeout_s: float = 2.0) -> str:
    with pytest.raises(SourceUnavailable) as info:
        probe(port, timeout_s)
    exc = info.value
    assert exc.system == system
    assert exc.cause
    assert len(exc.cause) <= 300
    assert exc.cause.isprintable()
    assert SECRET not in str(exc)
    assert exc.__cause__ is None  # the driver's exception (and its arguments) is not chained
    return exc.cause


# ---------------------------------------------------------------- the fault servers themselves


def test_closed_port_refuses() -> None:
    with closed_port() as port, pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_blackhole_accepts_and_stays_silent() -> None:
    with blackhole_server() as port, socket.create_connection(("127.0.0.1", port), 2) as s:
        s.sendall(b"hello?")
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(10)


def test_garbage_server_answers_every_connection_then_closes() -> None:
    with garbage_server(b"nonsense") as port:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port), 2) as s:
                s.sendall(b"request")
                s.settimeout(5)
                received = b""
                while chunk := s.recv(100):
                    received += chunk
                assert received == b"nonsense"


# ---------------------------------------------------------------- the clients


@pytest.mark.parametrize(("probe", "system"), CLIENTS)
def test_closed_port(probe: Probe, system: str) -> None:
    with closed_port() as port:
        cause = _unavailable(probe, port, system)
    assert "refused" in cause.lower()


@pytest.mark.parametrize(("probe", "system"), CLIENTS)
def test_blackhole_times_out(probe: Probe, system: str) -> None:
    with blackhole_server() as port:
        cause = _unavailable(probe, port, system, timeout_s=0.5)
    assert "timed out" in cause or "no answer within" in cause


@pytest.mark.parametrize("payload", [RANDOM_BYTES, HTTP_NOT_JSON], ids=["random", "http"])
@pytest.mark.parametrize(("probe", "system"), CLIENTS)
def test_garbage(probe: Probe, system: str, payload: bytes) -> None:
    with garbage_server(payload) as port:
        _unavailable(probe, port, system)
