"""Catalog logic: reads with cache-aside, search, ingest of an uploaded file, streaming URLs.

Pure: stores, cache, object storage, search engine and URL signer are passed in (protocols
below), so the same functions run behind Lambda, the EKS ASGI app and the tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from ..core.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from ..core.territories import ISO_3166_ALPHA2, parse_territories

#: Longest plausible track (a DJ mix, a long live set); past it a header is lying.
MAX_DURATION_MS = 12 * 3600 * 1000
MAX_TAG_LENGTH = 500
MAX_TRACK_NUMBER = 999
_SPECIAL = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th"})
_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Lower-case, accent-free text: `"Zoë Ström"` → `"zoe strom"` (search keys, dedup keys)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_SPECIAL))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.split())


def search_terms(query: str) -> list[str]:
    """The words of a user's query (only word characters: nothing reaches tsquery syntax)."""
    return _WORD.findall(query.casefold())[:8]


@dataclass(frozen=True)
class Cover:
    data: bytes
    mime: str

    @property
    def key(self) -> str:
        """Content-addressed S3 key: the same art on twelve tracks is stored once."""
        ext = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
        ext_of = ext.get(self.mime, "img")
        return f"covers/{hashlib.sha256(self.data).hexdigest()[:40]}.{ext_of}"


@dataclass(frozen=True)
class AudioMetadata:
    title: str
    artist: str
    album: str
    track_number: int | None
    disc_number: int | None
    year: int | None
    genre: str | None
    duration_ms: int
    audio_format: str
    cover: Cover | None
    #: The album's artist when it differs from the track's (compilations: "Various Artists").
    album_artist: str | None = None


def implausible(meta: AudioMetadata) -> str | None:
    """Why `meta` cannot be a real track (a lying header, garbage tags), or None."""
    if not 0 < meta.duration_ms <= MAX_DURATION_MS:
        return (
            f"duration: {meta.duration_ms / 1000:.0f} s is not plausible"
            f" (at most {MAX_DURATION_MS // 3_600_000} h)"
        )
    for name in ("title", "artist", "album", "album_artist", "genre"):
        value = getattr(meta, name)
        if value is None:
            continue
        if len(value) > MAX_TAG_LENGTH:
            return f"{name}: {len(value)} characters (at most {MAX_TAG_LENGTH})"
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
            return f"{name}: holds control characters"
    for name in ("track_number", "disc_number"):
        number = getattr(meta, name)
        if number is not None and not 0 < number <= MAX_TRACK_NUMBER:
            return f"{name}: {number} is not plausible (at most {MAX_TRACK_NUMBER})"
    return None


class Page(BaseModel):
    model_config = ConfigDict(defer_build=True)  # list and search routes, not track reads

    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=10_000)


class SearchQuery(Page):
    q: str = Field(min_length=1, max_length=200)


class StreamUrl(BaseModel):
    model_config = ConfigDict(defer_build=True)  # the stream route only

    url: str
    expires_at: datetime


#: User metadata of an uploaded object naming the countries its track is licensed in
#: (`aws s3 cp track.flac s3://<bucket>/uploads/ --metadata territories=GB,IE`); absent: the
#: track streams wherever the platform is licensed.
TERRITORIES_METADATA = "territories"


@dataclass(frozen=True)
class ObjectHead:
    """What a HEAD of an uploaded object tells: its size and its user metadata (lower-case keys,
    without the `x-amz-meta-` prefix, as S3 returns them)."""

    size: int
    metadata: dict[str, str]


class CatalogStore(Protocol):
    def get_track(self, track_id: str) -> dict[str, Any] | None: ...
    def get_album(self, album_id: str) -> dict[str, Any] | None: ...
    def get_artist(self, artist_id: str) -> dict[str, Any] | None: ...
    def list_artists(self, limit: int, offset: int) -> list[dict[str, Any]]: ...
    def upsert_track(
        self,
        meta: AudioMetadata,
        media_key: str,
        cover_key: str | None,
        territories: list[str] | None = None,
    ) -> dict[str, Any]: ...


class SearchEngine(Protocol):
    def search(self, terms: list[str], limit: int, offset: int) -> list[dict[str, Any]]: ...
    def index(self, track: dict[str, Any]) -> None: ...


class CacheLike(Protocol):
    def get_or_load(self, key: str, load: Any, ttl: int | None = None) -> Any: ...
    def delete(self, *keys: str) -> None: ...
    def generation(self, namespace: str) -> int: ...
    def bump(self, namespace: str) -> None: ...


class ObjectStore(Protocol):
    def head(self, bucket: str, key: str) -> ObjectHead: ...
    def download(self, bucket: str, key: str, path: str) -> None: ...
    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...


class SubscriptionLookup(Protocol):
    def get(self, user_id: str) -> Any: ...


def _uuid(value: str, field: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise BadRequest(f"{field}: not a valid id", field=field) from None


def _one(found: dict[str, Any] | None, what: str, ident: str) -> dict[str, Any]:
    if found is None:
        raise NotFound(f"{what} {ident} does not exist")
    return found


def get_track(store: CatalogStore, cache: CacheLike, track_id: str) -> dict[str, Any]:
    ident = _uuid(track_id, "track_id")
    found = cache.get_or_load(f"catalog:track:{ident}", lambda: store.get_track(ident))
    return _one(found, "track", ident)


def get_album(store: CatalogStore, cache: CacheLike, album_id: str) -> dict[str, Any]:
    ident = _uuid(album_id, "album_id")
    found = cache.get_or_load(f"catalog:album:{ident}", lambda: store.get_album(ident))
    return _one(found, "album", ident)


def get_artist(store: CatalogStore, cache: CacheLike, artist_id: str) -> dict[str, Any]:
    ident = _uuid(artist_id, "artist_id")
    found = cache.get_or_load(f"catalog:artist:{ident}", lambda: store.get_artist(ident))
    return _one(found, "artist", ident)


def list_artists(store: CatalogStore, cache: CacheLike, page: Page) -> list[dict[str, Any]]:
    gen = cache.generation("catalog")
    key = f"catalog:g{gen}:artists:{page.limit}:{page.offset}"
    return list(cache.get_or_load(key, lambda: store.list_artists(page.limit, page.offset)))


def search(engine: SearchEngine, cache: CacheLike, query: SearchQuery) -> list[dict[str, Any]]:
    """Tracks matching every word of the query (prefix match, accents ignored), best first."""
    terms = search_terms(query.q)
    if not terms:
        raise BadRequest("q: needs at least one letter or digit", field="q")
    digest = hashlib.sha256(json.dumps([terms, query.limit, query.offset]).encode()).hexdigest()
    key = f"catalog:g{cache.generation('catalog')}:search:{digest[:32]}"
    return list(cache.get_or_load(key, lambda: engine.search(terms, query.limit, query.offset)))


def ingest(
    *,
    store: CatalogStore,
    engine: SearchEngine,
    cache: CacheLike,
    objects: ObjectStore,
    read_metadata: Any,
    bucket: str,
    key: str,
    workdir: str,
    max_bytes: int,
) -> dict[str, Any]:
    """Download an uploaded object, read its metadata, store its cover art, upsert the catalog.

    The object's `territories` metadata (`TERRITORIES_METADATA`) sets where the track may be
    streamed; re-ingesting the same key (an upload, or a copy of the object onto itself with new
    metadata) updates the track in place, territories included, and the albums and artists it
    left or joined drop from the cache. Raises BadRequest for unreadable files, implausible
    durations or tags and unknown country codes, and PayloadTooLarge above `max_bytes` (checked
    before downloading). The downloaded copy is deleted whatever happens: /tmp outlives the
    invocation.
    """
    head = objects.head(bucket, key)
    if head.size > max_bytes:
        raise PayloadTooLarge(f"{key}: {head.size} bytes is over the {max_bytes}-byte limit")
    territories = object_territories(key, head.metadata)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="ingest-") as scratch:
        local = os.path.join(scratch, "object")
        objects.download(bucket, key, local)
        meta: AudioMetadata = read_metadata(local, key)
    why = implausible(meta)
    if why is not None:
        raise BadRequest(f"{key}: {why}", field=why.split(":")[0], code="implausible_metadata")
    cover_key = None
    if meta.cover is not None:
        cover_key = meta.cover.key
        objects.put(bucket, cover_key, meta.cover.data, meta.cover.mime)
    ids = store.upsert_track(meta, key, cover_key, territories)
    cache.delete(
        f"catalog:track:{ids['track_id']}",
        *(f"catalog:album:{album}" for album in ids["albums"]),
        *(f"catalog:artist:{artist}" for artist in ids["artists"]),
    )
    cache.bump("catalog")
    track = store.get_track(ids["track_id"]) or {}
    engine.index(track)
    return track


def object_territories(key: str, metadata: dict[str, str]) -> list[str] | None:
    """The territories an uploaded object's metadata names (None: not restricted)."""
    text = metadata.get(TERRITORIES_METADATA)
    if text is None:
        return None
    try:
        return parse_territories(text)
    except ValueError as exc:
        raise BadRequest(
            f"{key}: metadata {TERRITORIES_METADATA}={text!r} {exc}",
            field=TERRITORIES_METADATA,
            code="invalid_territories",
        ) from None


@dataclass(frozen=True)
class ViewerCountry:
    """Where a listener is, as far as the service can trust it.

    `code` is the ISO 3166-1 alpha-2 code of the request's country (CloudFront's
    `CloudFront-Viewer-Country`), None when unknown. `required`: an unknown country may not
    stream a track restricted to some territories (deployed); False only for local runs, where
    no CloudFront adds the header (`soundstack serve`)."""

    code: str | None
    required: bool = True

    @classmethod
    def from_header(cls, value: str | None, required: bool) -> ViewerCountry:
        """From the header's value; anything but an assigned code counts as unknown."""
        code = value.strip().upper() if value else None
        return cls(code if code in ISO_3166_ALPHA2 else None, required)


def check_territory(track: dict[str, Any], viewer: ViewerCountry) -> None:
    """Refuse a listener outside the track's territories (403 `territory_not_licensed`), or of
    unknown country where the country is required (403 `viewer_country_unknown`)."""
    territories = track.get("territories")
    if not territories:
        return
    if viewer.code is None:
        if viewer.required:
            raise Forbidden(
                "this track is licensed in some countries only and the request's country is "
                "unknown; stream it through the web app (https://<domain>/api)",
                code="viewer_country_unknown",
            )
        return
    if viewer.code not in territories:
        raise Forbidden(
            f"this track is not licensed for streaming in {viewer.code}",
            code="territory_not_licensed",
        )


def stream_url(
    *,
    store: CatalogStore,
    cache: CacheLike,
    subscriptions: SubscriptionLookup,
    sign: Callable[[str, datetime], str],
    cdn_domain: str,
    user_id: str,
    track_id: str,
    ttl_seconds: int,
    viewer: ViewerCountry,
    now: datetime | None = None,
    cdn_scheme: str = "https",
) -> StreamUrl:
    """A short-lived CloudFront signed URL for a track, for a user whose subscription allows it,
    in a country the track is licensed in (`check_territory`).

    `sign(url, expires_at)` is only called once every check passed (the key loads lazily)."""
    track = get_track(store, cache, track_id)
    subscription = subscriptions.get(user_id)
    moment = now or datetime.now(UTC)
    if subscription is None or not subscription.allows_streaming(moment):
        raise Forbidden("streaming needs an active subscription", code="subscription_required")
    check_territory(track, viewer)
    expires_at = moment + timedelta(seconds=ttl_seconds)
    url = f"{cdn_scheme}://{cdn_domain}/{quote(track['media_key'])}"
    return StreamUrl(url=sign(url, expires_at), expires_at=expires_at)
