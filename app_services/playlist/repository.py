"""Playlist I/O on PostgreSQL: rows in `playlists`, ordered entries in `playlist_tracks`."""

from __future__ import annotations

from typing import Any

import psycopg

from app_services.core.db import Database
from app_services.core.errors import BadRequest, NotFound
from app_services.playlist.domain import Change, State

_HEAD = "SELECT playlist_id::text, owner_id, name, created_at, updated_at FROM playlists"


class PlaylistRepository:
    def __init__(self, db: Database):
        self.db = db

    def create(self, owner_id: str, name: str) -> dict[str, Any]:
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO playlists (owner_id, name) VALUES (%s, %s)"
                " RETURNING playlist_id::text, owner_id, name, created_at, updated_at",
                (owner_id, name),
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
                "SELECT p.playlist_id::text, p.name, p.updated_at, count(pt.track_id) AS tracks"
                " FROM playlists p LEFT JOIN playlist_tracks pt USING (playlist_id)"
                " WHERE p.owner_id = %s GROUP BY p.playlist_id ORDER BY p.created_at",
                (owner_id,),
            )
            return cur.fetchall()

    def owner_of(self, playlist_id: str) -> str | None:
        with self.db.transaction() as cur:
            cur.execute("SELECT owner_id FROM playlists WHERE playlist_id = %s", (playlist_id,))
            row = cur.fetchone()
        return str(row["owner_id"]) if row else None

    def modify(self, playlist_id: str, change: Change) -> str:
        """Lock the playlist, apply `change` to its state, write the result; returns the owner."""
        try:
            with self.db.transaction() as cur:
                cur.execute(
                    "SELECT owner_id, name FROM playlists WHERE playlist_id = %s FOR UPDATE",
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
                before = State(row["owner_id"], row["name"], [r["track_id"] for r in cur])
                after = change(before)
                cur.execute(
                    "UPDATE playlists SET name = %s, updated_at = now() WHERE playlist_id = %s",
                    (after.name, playlist_id),
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
