"""Catalog I/O: PostgreSQL (tracks, albums, artists, full-text search) and S3 objects."""

from __future__ import annotations

from typing import Any

from ..core.db import Database
from ..core.errors import NotFound
from .domain import AudioMetadata, ObjectHead, fold

_TRACK = """
SELECT t.track_id::text, t.title, t.track_number, t.disc_number, t.duration_ms, t.genre,
       t.audio_format, t.media_key, t.territories, a.artist_id::text, a.name AS artist,
       al.album_id::text, al.title AS album, al.year, al.cover_key
FROM tracks t JOIN artists a USING (artist_id) JOIN albums al USING (album_id)
"""


class CatalogRepository:
    """Tracks, albums and artists in PostgreSQL; also the local full-text search engine.

    Search documents fold accents with the `unaccent` extension when the database has it, else
    with `domain.fold` in Python, so both sides of a match are folded the same way.
    """

    def __init__(self, db: Database, use_unaccent: bool | None = None):
        self.db = db
        self._unaccent = use_unaccent

    def ping(self) -> None:
        """Raise if PostgreSQL does not answer (the API's public health check)."""
        with self.db.transaction() as cur:
            cur.execute("SELECT 1")

    @property
    def unaccent(self) -> bool:
        if self._unaccent is None:
            self._unaccent = self.db.has_extension("unaccent")
        return self._unaccent

    def _folded(self, placeholder: str) -> str:
        return f"public.unaccent({placeholder})" if self.unaccent else placeholder

    def _text(self, value: str) -> str:
        return value if self.unaccent else fold(value)

    def get_track(self, track_id: str) -> dict[str, Any] | None:
        with self.db.transaction() as cur:
            cur.execute(_TRACK + " WHERE t.track_id = %s", (track_id,))
            return cur.fetchone()

    def get_album(self, album_id: str) -> dict[str, Any] | None:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT al.album_id::text, al.title, al.year, al.cover_key, a.artist_id::text,"
                " a.name AS artist FROM albums al JOIN artists a USING (artist_id)"
                " WHERE al.album_id = %s",
                (album_id,),
            )
            album = cur.fetchone()
            if album is None:
                return None
            cur.execute(
                _TRACK + " WHERE t.album_id = %s ORDER BY t.disc_number NULLS FIRST,"
                " t.track_number NULLS LAST, t.title",
                (album_id,),
            )
            return {**album, "tracks": cur.fetchall()}

    def get_artist(self, artist_id: str) -> dict[str, Any] | None:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT artist_id::text, name FROM artists WHERE artist_id = %s", (artist_id,)
            )
            artist = cur.fetchone()
            if artist is None:
                return None
            cur.execute(
                "SELECT album_id::text, title, year, cover_key FROM albums WHERE artist_id = %s"
                " ORDER BY year NULLS LAST, title",
                (artist_id,),
            )
            return {**artist, "albums": cur.fetchall()}

    def list_artists(self, limit: int, offset: int) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT artist_id::text, name FROM artists ORDER BY name_key, artist_id"
                " LIMIT %s OFFSET %s",
                (limit, offset),
            )
            return cur.fetchall()

    def upsert_track(
        self,
        meta: AudioMetadata,
        media_key: str,
        cover_key: str | None,
        territories: list[str] | None = None,
    ) -> dict[str, Any]:
        """Insert or update artist, album and track in one transaction.

        `territories` replaces the track's (None: streamable wherever the platform is).

        The album belongs to the album artist (a compilation stays one album), the track to its
        own artist. Returns the track, album and artist ids, plus every album and artist whose
        listing changed (`albums`, `artists`: the ones a re-tagged track left, now removed if
        empty, and the ones it joined).
        """
        document = self._folded("%(doc_a)s"), self._folded("%(doc_b)s"), self._folded("%(doc_c)s")
        search = (
            f"setweight(to_tsvector('simple', {document[0]}), 'A') ||"
            f" setweight(to_tsvector('simple', {document[1]}), 'B') ||"
            f" setweight(to_tsvector('simple', {document[2]}), 'C')"
        )
        params = {
            "album": meta.album,
            "album_key": fold(meta.album),
            "year": meta.year,
            "cover_key": cover_key,
            "title": meta.title,
            "track_number": meta.track_number,
            "disc_number": meta.disc_number,
            "duration_ms": meta.duration_ms,
            "genre": meta.genre,
            "media_key": media_key,
            "audio_format": meta.audio_format,
            "territories": territories,
            "doc_a": self._text(meta.title),
            "doc_b": self._text(meta.artist),
            "doc_c": self._text(f"{meta.album} {meta.genre or ''}"),
        }
        album_artist = meta.album_artist or meta.artist
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT t.album_id::text, t.artist_id::text, al.artist_id::text AS album_artist"
                " FROM tracks t JOIN albums al USING (album_id) WHERE t.media_key = %s"
                " FOR UPDATE OF t",
                (media_key,),
            )
            before = cur.fetchone()
            params["artist_id"] = self._artist(cur, meta.artist)
            params["album_artist_id"] = self._artist(cur, album_artist)
            cur.execute(
                "INSERT INTO albums (artist_id, title, title_key, year, cover_key)"
                " VALUES (%(album_artist_id)s, %(album)s, %(album_key)s, %(year)s, %(cover_key)s)"
                " ON CONFLICT (artist_id, title_key) DO UPDATE SET"
                " year = coalesce(excluded.year, albums.year),"
                " cover_key = coalesce(excluded.cover_key, albums.cover_key)"
                " RETURNING album_id",
                params,
            )
            params["album_id"] = _returned(cur.fetchone(), "album_id")
            cur.execute(
                "INSERT INTO tracks (album_id, artist_id, title, track_number, disc_number,"
                " duration_ms, genre, media_key, audio_format, territories, search) VALUES"
                " (%(album_id)s, %(artist_id)s, %(title)s, %(track_number)s, %(disc_number)s,"
                " %(duration_ms)s, %(genre)s, %(media_key)s, %(audio_format)s, %(territories)s,"
                f" {search})"
                " ON CONFLICT (media_key) DO UPDATE SET album_id = excluded.album_id,"
                " artist_id = excluded.artist_id, title = excluded.title,"
                " track_number = excluded.track_number, disc_number = excluded.disc_number,"
                " duration_ms = excluded.duration_ms, genre = excluded.genre,"
                " audio_format = excluded.audio_format, territories = excluded.territories,"
                " search = excluded.search, updated_at = now() RETURNING track_id",
                params,
            )
            track_id = _returned(cur.fetchone(), "track_id")
            albums = {str(params["album_id"])}
            artists = {str(params["artist_id"]), str(params["album_artist_id"])}
            if before is not None:
                albums.add(before["album_id"])
                artists |= {before["artist_id"], before["album_artist"]}
                self._drop_if_empty(cur, before)
        return {
            "track_id": track_id,
            "album_id": str(params["album_id"]),
            "artist_id": str(params["artist_id"]),
            "albums": sorted(albums),
            "artists": sorted(artists),
        }

    @staticmethod
    def _artist(cur: Any, name: str) -> str:
        cur.execute(
            "INSERT INTO artists (name, name_key) VALUES (%s, %s)"
            " ON CONFLICT (name_key) DO UPDATE SET name = artists.name RETURNING artist_id",
            (name, fold(name)),
        )
        return _returned(cur.fetchone(), "artist_id")

    @staticmethod
    def _drop_if_empty(cur: Any, before: dict[str, Any]) -> None:
        """Remove the album and artists a re-tagged track left when nothing else uses them."""
        cur.execute(
            "DELETE FROM albums al WHERE album_id = %s"
            " AND NOT EXISTS (SELECT 1 FROM tracks t WHERE t.album_id = al.album_id)",
            (before["album_id"],),
        )
        cur.execute(
            "DELETE FROM artists a WHERE artist_id = ANY(%s::uuid[])"
            " AND NOT EXISTS (SELECT 1 FROM tracks t WHERE t.artist_id = a.artist_id)"
            " AND NOT EXISTS (SELECT 1 FROM albums al WHERE al.artist_id = a.artist_id)",
            ([before["artist_id"], before["album_artist"]],),
        )

    # --- SearchEngine (local engine) ---

    def search(self, terms: list[str], limit: int, offset: int) -> list[dict[str, Any]]:
        """Tracks whose title, artist, album or genre contain every term as a word prefix."""
        words = [w if self.unaccent else fold(w) for w in terms]
        query = " & ".join(f"{w}:*" for w in words)
        with self.db.transaction() as cur:
            cur.execute(
                f"WITH q AS (SELECT to_tsquery('simple', {self._folded('%(query)s')}) AS query) "
                + _TRACK
                + ", q WHERE t.search @@ q.query"
                " ORDER BY ts_rank_cd(t.search, q.query) DESC, t.title, t.track_id"
                " LIMIT %(limit)s OFFSET %(offset)s",
                {"query": query, "limit": limit, "offset": offset},
            )
            return cur.fetchall()

    def index(self, track: dict[str, Any]) -> None:
        """Nothing to do: the search document is written with the track row."""


def _returned(row: dict[str, Any] | None, column: str) -> str:
    if row is None:
        raise NotFound(f"upsert returned no {column}")
    return str(row[column])


class S3Objects:
    """The ObjectStore of the domain on an S3 client."""

    def __init__(self, s3: Any):
        self.s3 = s3

    def head(self, bucket: str, key: str) -> ObjectHead:
        found = self.s3.head_object(Bucket=bucket, Key=key)
        return ObjectHead(int(found["ContentLength"]), dict(found.get("Metadata") or {}))

    def download(self, bucket: str, key: str, path: str) -> None:
        self.s3.download_file(bucket, key, path)

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self.s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            CacheControl="public, max-age=31536000, immutable",
        )
