"""Playlist HTTP routes (every route needs a signed-in user; writes only by the owner)."""

from __future__ import annotations

from typing import Any

from ..core.events import HttpApiEvent
from ..core.idempotency import replayable
from ..core.routing import Response, Routes
from ..core.settings import ServiceSettings
from . import domain
from .service import playlists

routes = Routes("playlist", settings=(ServiceSettings,))


def _owner(request: HttpApiEvent) -> domain.Owner:
    claims = request.claims
    name = claims.get("name") or claims.get("preferred_username") or claims.get("username")
    return domain.Owner(request.require_user(), str(name or "listener")[:100])


@routes.route("POST /playlists")
@replayable(lambda: playlists().keys())
def create(request: HttpApiEvent) -> Response:
    owner, p = _owner(request), playlists()
    body = request.json_body(domain.NewPlaylist)
    return Response(201, domain.create(p.store, p.cache, owner, body))


@routes.route("GET /playlists")
def mine(request: HttpApiEvent) -> list[dict[str, Any]]:
    user, p = request.require_user(), playlists()
    return domain.mine(p.store, p.cache, user)


@routes.route("GET /playlists/{playlist_id}")
def get(request: HttpApiEvent) -> dict[str, Any]:
    user, p, ident = request.require_user(), playlists(), request.path("playlist_id")
    return domain.get(p.store, p.cache, user, ident, request.query_model(domain.PageQuery))


@routes.route("PATCH /playlists/{playlist_id}")
def update(request: HttpApiEvent) -> dict[str, Any]:
    user, p, ident = request.require_user(), playlists(), request.path("playlist_id")
    return domain.update(p.store, p.cache, user, ident, request.json_body(domain.PlaylistPatch))


@routes.route("DELETE /playlists/{playlist_id}")
def delete(request: HttpApiEvent) -> None:
    user, p = request.require_user(), playlists()
    domain.delete(p.store, p.cache, user, request.path("playlist_id"))


@routes.route("POST /playlists/{playlist_id}/tracks")
def add_tracks(request: HttpApiEvent) -> dict[str, Any]:
    user, p, ident = request.require_user(), playlists(), request.path("playlist_id")
    return domain.add_tracks(p.store, p.cache, user, ident, request.json_body(domain.AddTracks))


@routes.route("POST /playlists/{playlist_id}/tracks/move")
def move_track(request: HttpApiEvent) -> dict[str, Any]:
    user, p, ident = request.require_user(), playlists(), request.path("playlist_id")
    return domain.move_track(p.store, p.cache, user, ident, request.json_body(domain.MoveTrack))


@routes.route("DELETE /playlists/{playlist_id}/tracks/{position}")
def remove_track(request: HttpApiEvent) -> dict[str, Any]:
    user, p, ident = request.require_user(), playlists(), request.path("playlist_id")
    return domain.remove_track(p.store, p.cache, user, ident, request.path_int("position"))
