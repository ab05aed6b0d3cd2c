"""Redis evidence for the cache check: keyspace hits and misses from ``INFO stats``.

Sits under ``runbooks/``: the high-latency runbook compares the hit rate with its floor to tell a
cold or evicting cache from a slow database. Each call opens one connection and closes it (the
check runs once per run), without redis-py's automatic retries, so a dead or hung server costs
one timeout, not several.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from festsafe_nb.errors import ConfigError, SourceUnavailable
from festsafe_nb.sources import CacheStats

__all__ = ["RedisSource"]

_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


class RedisSource:
    """The ``CacheSource`` for one Redis server, given a ``redis://`` URL without password."""

    system = "redis"

    def __init__(self, url: str, *, password: str | None = None, timeout_s: float = 5.0) -> None:
        if timeout_s <= 0:
            raise ConfigError(f"redis timeout_s must be > 0, got {timeout_s!r}")
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"invalid Redis URL {_redact(url, password)!r}")
        self._url = url
        self._password = password
        self.timeout_s = float(timeout_s)

    def __repr__(self) -> str:
        url = _redact(self._url, self._password)
        return f"RedisSource(url={url!r}, timeout_s={self.timeout_s:g})"

    def ping(self) -> None:
        self._call(lambda r: r.ping())

    def stats(self) -> CacheStats:
        info = self._call(lambda r: r.info("stats"))
        try:
            return CacheStats(hits=int(info["keyspace_hits"]), misses=int(info["keyspace_misses"]))
        except (KeyError, TypeError, ValueError) as exc:
            cause = f"INFO stats without keyspace counters ({type(exc).__name__}: {exc})"
            raise SourceUnavailable(self.system, cause) from None

    def _call(self, fn: Callable[[redis.Redis], Any]) -> Any:
        kwargs: dict[str, Any] = {
            "socket_timeout": self.timeout_s,
            "socket_connect_timeout": self.timeout_s,
            "retry": Retry(NoBackoff(), 0),
            "client_name": "festsafe-runbooks",
        }
        if self._password is not None:
            kwargs["password"] = self._password
        try:
            with redis.Redis.from_url(self._url, **kwargs) as client:
                return fn(client)
        except (redis.RedisError, OSError, ValueError, UnicodeError) as exc:
            raise SourceUnavailable(self.system, self._cause(exc)) from None

    def _cause(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split())
        if isinstance(exc, redis.TimeoutError | TimeoutError):
            text = f"no answer within {self.timeout_s:g}s ({text or 'timeout'})"
        text = text or type(exc).__name__
        text = "".join(ch if ch.isprintable() else "?" for ch in text)
        return _redact(text, self._password)[:300]


def _redact(text: str, password: str | None) -> str:
    if password:
        text = text.replace(password, "***")
    return _PASSWORD_IN_URL.sub(r"\1***@", text)
