"""Redis cache-aside with JSON values, key prefixes and generation-based invalidation.

The cache never decides correctness: when Redis is unreachable reads go to the database and the
failure is logged, so an ElastiCache failover degrades latency, not availability.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import redis

from .routing import jsonable

T = TypeVar("T")
_log = logging.getLogger("soundstack.cache")


class Cache:
    """JSON cache-aside over a redis-py client; every key is `<prefix><key>`."""

    def __init__(self, client: redis.Redis | None, prefix: str, ttl_seconds: int):
        self.client = client
        self.prefix = prefix
        self.ttl = ttl_seconds
        self.hits = 0
        self.misses = 0

    @classmethod
    def from_url(cls, url: str | None, prefix: str, ttl_seconds: int) -> Cache:
        """A cache on `url` (rediss:// for TLS), or a pass-through cache when `url` is None."""
        client = redis.Redis.from_url(url, socket_timeout=0.5) if url else None
        return cls(client, prefix, ttl_seconds)

    def get_or_load(self, key: str, load: Callable[[], T], ttl: int | None = None) -> T:
        """The cached JSON value of `key`, or `load()` stored for `ttl` seconds."""
        if self.client is not None:
            try:
                raw = self.client.get(self.prefix + key)
            except redis.RedisError as exc:
                _log.warning("cache read failed", extra={"key": key, "error": str(exc)})
                return load()
            if raw is not None:
                self.hits += 1
                return json.loads(raw)
        self.misses += 1
        value = load()
        self.set(key, value, ttl)
        return value

    def get_or_load_field(
        self, key: str, field: str, load: Callable[[], T], ttl: int | None = None
    ) -> T:
        """Cache-aside on one field of the hash `key` (pages of one list): `delete(key)` drops
        every field at once."""
        if self.client is not None:
            try:
                raw = self.client.hget(self.prefix + key, field)
            except redis.RedisError as exc:
                _log.warning("cache read failed", extra={"key": key, "error": str(exc)})
                return load()
            if raw is not None:
                self.hits += 1
                return json.loads(raw)
        self.misses += 1
        value = load()
        if self.client is not None:
            try:
                with self.client.pipeline(transaction=False) as pipe:
                    pipe.hset(self.prefix + key, field, json.dumps(value, default=jsonable))
                    pipe.expire(self.prefix + key, ttl or self.ttl)
                    pipe.execute()
            except redis.RedisError as exc:
                _log.warning("cache write failed", extra={"key": key, "error": str(exc)})
        return value

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        if self.client is None:
            return
        try:
            self.client.set(
                self.prefix + key, json.dumps(value, default=jsonable), ex=ttl or self.ttl
            )
        except redis.RedisError as exc:
            _log.warning("cache write failed", extra={"key": key, "error": str(exc)})

    def delete(self, *keys: str) -> None:
        """Invalidate `keys` (after a write). A failure is logged; entries expire with their TTL."""
        if self.client is None or not keys:
            return
        try:
            self.client.delete(*(self.prefix + k for k in keys))
        except redis.RedisError as exc:
            _log.warning("cache invalidation failed", extra={"keys": keys, "error": str(exc)})

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
