"""Redis cache-aside with JSON values, key prefixes and race-free invalidation.

The cache never decides correctness: when Redis is unreachable reads go to the database and the
failure is logged, so an ElastiCache failover degrades latency, not availability.

Invalidation cannot be outrun by a slow reader. `delete(key)` gives the key a new version (a
random token, so a version never repeats) as it drops the value, atomically; `get_or_load`
reads the value and the version in one round trip and, after a miss, stores what it loaded only
if the version is still the one it read (a Lua script: check and set are one step). A read that
loaded before a write committed therefore never puts its stale value back after the write's
delete; it just does not cache. Versions outlive any load (`VERSION_TTL_SECONDS`).

Keys are `<prefix>{<key>}` and `<prefix>{<key>}:v`: the hash tag puts a value and its version in
one hash slot, as a script or MGET over both needs on a cluster (the serverless cache). Nothing
here touches two keys of different slots in one command.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import redis

from .routing import jsonable

T = TypeVar("T")
_log = logging.getLogger("soundstack.cache")

#: How long a key's version survives its last `delete`: far beyond any load (a Lambda runs at
#: most 15 minutes), so a reader's version cannot expire back to "none" while it loads.
VERSION_TTL_SECONDS = 24 * 3600

# KEYS: value, version. ARGV: version read before loading ('' = none), JSON, TTL seconds.
_STORE = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""
# KEYS: hash, version. ARGV: version read before loading, field, JSON, TTL seconds.
_STORE_FIELD = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""
# KEYS: value, version. ARGV: new version token, its TTL seconds.
_INVALIDATE = """
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return redis.call('DEL', KEYS[1])
"""


class Cache:
    """JSON cache-aside over a redis-py client (see the module for the key layout)."""

    def __init__(self, client: redis.Redis | None, prefix: str, ttl_seconds: int):
        self.client = client
        self.prefix = prefix
        self.ttl = ttl_seconds
        self.hits = 0
        self.misses = 0
        if client is not None:
            self._store = client.register_script(_STORE)
            self._store_field = client.register_script(_STORE_FIELD)
            self._invalidate = client.register_script(_INVALIDATE)

    @classmethod
    def from_url(cls, url: str | None, prefix: str, ttl_seconds: int) -> Cache:
        """A cache on `url` (rediss:// for TLS), or a pass-through cache when `url` is None."""
        client = redis.Redis.from_url(url, socket_timeout=0.5) if url else None
        return cls(client, prefix, ttl_seconds)

    def value_key(self, key: str) -> str:
        """The Redis key holding `key`'s value (a string, or a hash of pages)."""
        return f"{self.prefix}{{{key}}}"

    def _keys(self, key: str) -> list[str]:
        value = self.value_key(key)
        return [value, f"{value}:v"]

    def get_or_load(self, key: str, load: Callable[[], T], ttl: int | None = None) -> T:
        """The cached JSON value of `key`, or `load()`, stored for `ttl` seconds unless `key` was
        deleted meanwhile. One round trip on a hit."""
        return self._aside(
            key,
            lambda client, keys: client.mget(keys),
            load,
            lambda version, value: (self._store, [version, value, ttl or self.ttl]),
        )

    def get_or_load_field(
        self, key: str, field: str, load: Callable[[], T], ttl: int | None = None
    ) -> T:
        """Cache-aside on one field of the hash `key` (pages of one list): `delete(key)` drops
        every field at once, and a load that began before it stores nothing."""

        def read(client: redis.Redis, keys: list[str]) -> list[Any]:
            with client.pipeline(transaction=False) as pipe:
                pipe.hget(keys[0], field)
                pipe.get(keys[1])
                return pipe.execute()

        return self._aside(
            key,
            read,
            load,
            lambda version, value: (self._store_field, [version, field, value, ttl or self.ttl]),
        )

    def _aside(
        self,
        key: str,
        read: Callable[[redis.Redis, list[str]], Any],
        load: Callable[[], T],
        store: Callable[[bytes, str], tuple[Any, list[Any]]],
    ) -> T:
        """Cache-aside: `read` gives the value and the version in one round trip; on a miss,
        `load()`, then the (script, args) that `store` makes of the version read and the JSON
        stores it unless `key` got a new version meanwhile. Redis failing: `load()`."""
        if self.client is None:
            self.misses += 1
            return load()
        try:
            raw, version = read(self.client, self._keys(key))
        except redis.RedisError as exc:
            _log.warning("cache read failed", extra={"key": key, "error": str(exc)})
            return load()
        if raw is not None:
            self.hits += 1
            return json.loads(raw)
        self.misses += 1
        value = load()
        script, args = store(version or b"", self._json(value))
        self._write(key, script, args)
        return value

    def delete(self, *keys: str) -> None:
        """Invalidate `keys` (after a write commits): each gets a new version as its value goes,
        so no load that started earlier can store over the write. One round trip; a failure is
        logged and the entries expire with their TTL."""
        if self.client is None or not keys:
            return
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    self._invalidate(
                        self._keys(key), [uuid.uuid4().hex, VERSION_TTL_SECONDS], client=pipe
                    )
                pipe.execute()
        except redis.RedisError as exc:
            _log.warning("cache invalidation failed", extra={"keys": keys, "error": str(exc)})

    def _write(self, key: str, script: Any, args: list[Any]) -> None:
        try:
            script(self._keys(key), args)
        except redis.RedisError as exc:
            _log.warning("cache write failed", extra={"key": key, "error": str(exc)})

    @staticmethod
    def _json(value: Any) -> str:
        return json.dumps(value, default=jsonable)

    def generation(self, namespace: str) -> int:
        """The current generation of `namespace`: keys that embed it die together on `bump`."""
        if self.client is None:
            return 0
        try:
            return int(self.client.get(f"{self.prefix}gen:{namespace}") or 0)
        except redis.RedisError:
            return -1

    def bump(self, namespace: str) -> None:
        """Invalidate every key built with the namespace's generation (e.g. all search results)."""
        if self.client is None:
            return
        try:
            self.client.incr(f"{self.prefix}gen:{namespace}")
        except redis.RedisError as exc:
            _log.warning("cache bump failed", extra={"namespace": namespace, "error": str(exc)})
