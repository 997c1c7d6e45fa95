"""Recommendation Lambda: HTTP API v2 routes, and the activity stream (Kinesis or SNS) consumer.

GET /recommendations/me, PUT /recommendations/me/genres {genres: [...]},
GET /recommendations/tracks/{track_id}/similar. Stream records (plays, likes) update the
listener's preferences and drop their cached recommendations.
"""

from __future__ import annotations

import functools
from typing import Any

from ..core.cache import Cache
from ..core.db import Database
from ..core.events import HttpApiEvent
from ..core.logs import configure
from ..core.routing import Routes
from ..core.settings import ServiceSettings, load_settings
from .domain import GenresBody, Recommendations, Recommender
from .repository import PostgresPreferences


@functools.cache
def service() -> Recommender:
    """The service wired from the environment, once per cold start."""
    settings = load_settings(ServiceSettings)
    cache = Cache.from_url(settings.redis_url, settings.cache_prefix, settings.cache_ttl_seconds)
    return Recommender(PostgresPreferences(Database(settings)), cache)


logger = configure("recommendation")
routes = Routes("recommendation", logger, settings=(ServiceSettings,))


@routes.route("GET /recommendations/me")
def mine(request: HttpApiEvent) -> dict[str, Any]:
    result: Recommendations = service().for_user(request.require_user())
    return result.to_json()


@routes.route("PUT /recommendations/me/genres")
def pick_genres(request: HttpApiEvent) -> dict[str, Any]:
    user = request.require_user()
    return {"genres": service().set_genres(user, request.json_body(GenresBody))}


@routes.route("GET /recommendations/tracks/{track_id}/similar")
def similar(request: HttpApiEvent) -> dict[str, Any]:
    request.require_user()
    tracks = service().similar(request.path("track_id"))
    return {"track_id": request.path("track_id"), "tracks": [vars(t) for t in tracks]}


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    if "Records" in event:
        from ..activity import records  # the stream consumer: not the hot path

        return records.consume(event, lambda e: service().ingest([e]), logger)
    return routes.handle(event, context)
