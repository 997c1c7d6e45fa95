"""Playlist I/O on PostgreSQL: rows in `playlists`, ordered entries in `playlist_tracks`."""

from __future__ import annotations

from typing import Any

import psycopg

from app_services.core.db import Database
from app_services.core.errors import BadRequest, NotFound
from app_services.playlist.domain import Change, Owner, State

_COLUMNS = "playlist_id::text, owner_id, name, public, created_at, updated_at"
_HEAD = f"SELECT {_COLUMNS} FROM playlists"


class PlaylistRepository:
    def __init__(self, db: Database):
        self.db = db

    def create(self, owner: Owner, name: str, public: bool) -> dict[str, Any]:
        """Insert the playlist, and the owner's profile row first if it does not exist yet (the
        e-mail stays empty: the sign-up trigger owns it)."""
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO users (user_id, display_name) VALUES (%s, %s)"
                " ON CONFLICT (user_id) DO NOTHING",
                (owner.user_id, owner.display_name),
            )
            cur.execute(
                "INSERT INTO playlists (owner_id, name, public) VALUES (%s, %s, %s)"
                f" RETURNING {_COLUMNS}",
                (owner.user_id, name, public),
            )
            row = cur.fetchone()
        if row is None:
            raise NotFound("playlist insert returned nothing")
        return {**row, "tracks": []}

    def get(self, playlist_id: str) -> dict[str, Any] | None:
        with self.db.transaction() as cur:
            cur.execute(_HEAD + " WHERE playlist_id = %s", (playlist_id,))
            head = cur.fetchone()
            if head is None:
                return None
            cur.execute(
                "SELECT pt.position, pt.track_id::text, t.title, a.name AS artist, t.duration_ms"
                " FROM playlist_tracks pt JOIN tracks t USING (track_id)"
                " JOIN artists a ON a.artist_id = t.artist_id"
                " WHERE pt.playlist_id = %s ORDER BY pt.position",
                (playlist_id,),
            )
            return {**head, "tracks": cur.fetchall()}

    def list_for_owner(self, owner_id: str) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT p.playlist_id::text, p.name, p.public, p.updated_at,"
                " count(pt.track_id) AS tracks"
                " FROM playlists p LEFT JOIN playlist_tracks pt USING (playlist_id)"
                " WHERE p.owner_id = %s GROUP BY p.playlist_id ORDER BY p.created_at",
                (owner_id,),
            )
            return cur.fetchall()

    def owner_of(self, playlist_id: str) -> tuple[str, bool] | None:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT owner_id, public FROM playlists WHERE playlist_id = %s", (playlist_id,)
            )
            row = cur.fetchone()
        return (str(row["owner_id"]), bool(row["public"])) if row else None

    def modify(self, playlist_id: str, change: Change) -> str:
        """Lock the playlist, apply `change` to its state, write the result; returns the owner."""
        try:
            with self.db.transaction() as cur:
                cur.execute(
                    "SELECT owner_id, name, public FROM playlists"
                    " WHERE playlist_id = %s FOR UPDATE",
                    (playlist_id,),
                )
                row = cur.fetchone()
                if row is None:
                    raise NotFound(f"playlist {playlist_id} does not exist")
                cur.execute(
                    "SELECT track_id::text FROM playlist_tracks WHERE playlist_id = %s"
                    " ORDER BY position",
                    (playlist_id,),
                )
                tracks = [r["track_id"] for r in cur]
                before = State(row["owner_id"], row["name"], tracks, row["public"])
                after = change(before)
                cur.execute(
                    "UPDATE playlists SET name = %s, public = %s, updated_at = now()"
                    " WHERE playlist_id = %s",
                    (after.name, after.public, playlist_id),
                )
                if after.track_ids != before.track_ids:
                    cur.execute(
                        "DELETE FROM playlist_tracks WHERE playlist_id = %s", (playlist_id,)
                    )
                    cur.executemany(
                        "INSERT INTO playlist_tracks (playlist_id, position, track_id)"
                        " VALUES (%s, %s, %s)",
                        [(playlist_id, i, t) for i, t in enumerate(after.track_ids)],
                    )
        except psycopg.errors.ForeignKeyViolation:
            raise BadRequest("track_ids: a track does not exist", field="track_ids") from None
        return before.owner_id

    def delete(self, playlist_id: str, owner_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "DELETE FROM playlists WHERE playlist_id = %s AND owner_id = %s",
                (playlist_id, owner_id),
            )
