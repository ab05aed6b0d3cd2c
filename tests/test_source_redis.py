"""RedisSource against a real redis-server whose keyspace counters a test sets exactly."""

from __future__ import annotations

import pytest

from festsafe_nb.errors import ConfigError
from festsafe_nb.sources import CacheSource, CacheStats
from festsafe_nb.sources.redis import RedisSource
from tests.fixtures.services import RedisServer, cache_state


def test_satisfies_the_protocol() -> None:
    assert isinstance(RedisSource("redis://127.0.0.1:1/0"), CacheSource)


def test_repr_never_shows_the_password() -> None:
    src = RedisSource("redis://:url-secret@127.0.0.1:1/0", password="s3cr3t!")
    assert "url-secret" not in repr(src)
    assert "s3cr3t!" not in repr(src)


def test_refuses_what_is_not_a_redis_url() -> None:
    with pytest.raises(ConfigError):
        RedisSource("http://127.0.0.1:6379")


@pytest.mark.integration
def test_ping(redis_server: RedisServer) -> None:
    RedisSource(redis_server.url).ping()


@pytest.mark.integration
@pytest.mark.parametrize(("hits", "misses", "rate"), [(30, 10, 0.75), (0, 5, 0.0), (7, 0, 1.0)])
def test_hit_rate_is_exact_after_cache_state(
    redis_server: RedisServer, hits: int, misses: int, rate: float
) -> None:
    src = RedisSource(redis_server.url, timeout_s=2)
    with cache_state(redis_server, hits=hits, misses=misses):
        stats = src.stats()
        again = src.stats()  # reading the counters must not move them
    assert stats == again == CacheStats(hits=hits, misses=misses)
    assert stats.hit_rate == rate


@pytest.mark.integration
def test_no_traffic_means_no_hit_rate(redis_server: RedisServer) -> None:
    with cache_state(redis_server, hits=0, misses=0):
        stats = RedisSource(redis_server.url).stats()
    assert stats == CacheStats(0, 0)
    assert stats.hit_rate is None
