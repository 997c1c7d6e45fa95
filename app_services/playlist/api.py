"""Playlist HTTP routes (every route needs a signed-in user; writes only by the owner)."""

from __future__ import annotations

from typing import Any

from app_services.core.events import HttpApiEvent
from app_services.core.routing import Response, Routes
from app_services.playlist import domain
from app_services.playlist.service import playlists

routes = Routes("playlist")


@routes.route("POST /playlists")
def create(request: HttpApiEvent) -> Response:
    user, p = request.require_user(), playlists()
    body = request.json_body(domain.NewPlaylist)
    return Response(201, domain.create(p.store, p.cache, user, body))


@routes.route("GET /playlists")
def mine(request: HttpApiEvent) -> list[dict[str, Any]]:
    user, p = request.require_user(), playlists()
    return domain.mine(p.store, p.cache, user)


@routes.route("GET /playlists/{playlist_id}")
def get(request: HttpApiEvent) -> dict[str, Any]:
    request.require_user()
    return domain.get(playlists().store, playlists().cache, request.path("playlist_id"))


@routes.route("PATCH /playlists/{playlist_id}")
def rename(request: HttpApiEvent) -> dict[str, Any]:
    user, p, ident = request.require_user(), playlists(), request.path("playlist_id")
    return domain.rename(p.store, p.cache, user, ident, request.json_body(domain.NewPlaylist))


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
    return domain.remove_track(p.store, p.cache, user, ident, request.path("position"))
