"""Catalog HTTP routes: parse the request, call one domain function, return its result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..core.events import HttpApiEvent
from ..core.routing import Routes
from . import domain
from .service import CatalogSettings, catalog

#: Catalog reads are the same for everyone; a minute of staleness after an ingest is fine.
PUBLIC = "public, max-age=60"
routes = Routes("catalog", settings=(CatalogSettings,))
#: Header CloudFront adds with the listener's country (HTTP APIs pass header names lower-case).
VIEWER_COUNTRY = "cloudfront-viewer-country"


@routes.route("GET /health")
def health(request: HttpApiEvent) -> dict[str, str]:
    """Public liveness of the API: the catalog answers and its database is reachable."""
    catalog().store.ping()
    return {"status": "ok"}


@routes.route("GET /catalog/artists", cache_control=PUBLIC)
def list_artists(request: HttpApiEvent) -> list[dict[str, Any]]:
    c = catalog()
    return domain.list_artists(c.store, c.cache, request.query_model(domain.Page))


@routes.route("GET /catalog/artists/{artist_id}", cache_control=PUBLIC)
def get_artist(request: HttpApiEvent) -> dict[str, Any]:
    return domain.get_artist(catalog().store, catalog().cache, request.path("artist_id"))


@routes.route("GET /catalog/albums/{album_id}", cache_control=PUBLIC)
def get_album(request: HttpApiEvent) -> dict[str, Any]:
    return domain.get_album(catalog().store, catalog().cache, request.path("album_id"))


@routes.route("GET /catalog/tracks/{track_id}", cache_control=PUBLIC)
def get_track(request: HttpApiEvent) -> dict[str, Any]:
    return domain.get_track(catalog().store, catalog().cache, request.path("track_id"))


@routes.route("GET /catalog/search", cache_control=PUBLIC)
def search(request: HttpApiEvent) -> list[dict[str, Any]]:
    c = catalog()
    return domain.search(c.engine, c.cache, request.query_model(domain.SearchQuery))


@routes.route("GET /catalog/tracks/{track_id}/stream", cache_control="private, no-store")
def stream(request: HttpApiEvent) -> domain.StreamUrl:
    user_id, c = request.require_user(), catalog()

    def sign(url: str, expires_at: datetime) -> str:  # loads the signing key on first use
        return str(c.signer.signed_url(url, expires_at))

    source = c.settings.viewer_country_source
    viewer = domain.ViewerCountry.from_header(
        request.headers.get(VIEWER_COUNTRY) if source != "none" else None,
        required=source != "local",
    )
    return domain.stream_url(
        store=c.store,
        cache=c.cache,
        subscriptions=c.subscriptions,
        sign=sign,
        cdn_domain=c.settings.cdn_domain,
        cdn_scheme=c.settings.cdn_scheme,
        user_id=user_id,
        track_id=request.path("track_id"),
        ttl_seconds=c.settings.stream_url_ttl_seconds,
        viewer=viewer,
    )
