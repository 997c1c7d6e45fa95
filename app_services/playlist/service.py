"""Playlist wiring: settings and dependencies, built once per cold start."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..core.cache import Cache
from ..core.db import Database
from ..core.errors import Misconfigured
from ..core.idempotency import KeyStore, RedisKeys
from ..core.logs import configure
from ..core.settings import ServiceSettings, load_settings
from .repository import PlaylistRepository


@dataclass(frozen=True)
class Playlists:
    store: PlaylistRepository
    cache: Cache

    def keys(self) -> KeyStore:
        """Where `Idempotency-Key`s are kept: the service's Redis."""
        if self.cache.client is None:
            raise Misconfigured("Idempotency-Key needs Redis: set REDIS_URL")
        return RedisKeys(self.cache.client, self.cache.prefix)


@functools.cache
def playlists() -> Playlists:
    settings = load_settings(ServiceSettings)
    configure("playlist", settings.log_level)
    return Playlists(
        store=PlaylistRepository(Database(settings)),
        cache=Cache.from_url(settings.redis_url, settings.cache_prefix, settings.cache_ttl_seconds),
    )
