"""Playlist I/O on PostgreSQL: rows in `playlists`, ordered entries in `playlist_tracks`."""

from __future__ import annotations

from typing import Any

import psycopg

from ..core.db import Database
from ..core.errors import BadRequest, NotFound
from .domain import Change, Edit, Head, Owner

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

    def head(self, playlist_id: str) -> dict[str, Any] | None:
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT {_COLUMNS}, (SELECT count(*) FROM playlist_tracks pt"
                " WHERE pt.playlist_id = p.playlist_id) AS total_tracks"
                " FROM playlists p WHERE playlist_id = %s",
                (playlist_id,),
            )
            return cur.fetchone()

    def page(self, playlist_id: str, start: int, limit: int) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT pt.position, pt.track_id::text, t.title, a.name AS artist, t.duration_ms"
                " FROM playlist_tracks pt JOIN tracks t USING (track_id)"
                " JOIN artists a ON a.artist_id = t.artist_id"
                " WHERE pt.playlist_id = %s AND pt.position >= %s ORDER BY pt.position LIMIT %s",
                (playlist_id, start, limit),
            )
            return cur.fetchall()

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
        """Lock the playlist, let `change` decide the edit from its head, apply only that edit;
        returns the owner. Concurrent writers queue on the lock, so positions stay dense."""
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
                    "SELECT count(*) AS n FROM playlist_tracks WHERE playlist_id = %s",
                    (playlist_id,),
                )
                size = _returned_count(cur.fetchone())
                edit = change(Head(row["owner_id"], row["name"], row["public"], size))
                cur.execute(
                    "UPDATE playlists SET name = coalesce(%s, name), public = coalesce(%s, public),"
                    " updated_at = now() WHERE playlist_id = %s",
                    (edit.name, edit.public, playlist_id),
                )
                if edit.op is not None:
                    cur.execute("SET CONSTRAINTS ALL DEFERRED")
                    _apply(cur, playlist_id, edit, size)
        except psycopg.errors.ForeignKeyViolation:
            raise BadRequest("track_ids: a track does not exist", field="track_ids") from None
        return str(row["owner_id"])

    def delete(self, playlist_id: str, owner_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "DELETE FROM playlists WHERE playlist_id = %s AND owner_id = %s",
                (playlist_id, owner_id),
            )


def _returned_count(row: dict[str, Any] | None) -> int:
    return int(row["n"]) if row else 0


def _shift(cur: Any, playlist_id: str, by: int, low: int, high: int) -> None:
    """Move the entries at positions low..high (inclusive) by `by`."""
    cur.execute(
        "UPDATE playlist_tracks SET position = position + %s"
        " WHERE playlist_id = %s AND position BETWEEN %s AND %s",
        (by, playlist_id, low, high),
    )


def _apply(cur: Any, playlist_id: str, edit: Edit, size: int) -> None:
    """The entries' edit in SQL, touching only the rows whose position changes."""
    if edit.op == "insert":
        _shift(cur, playlist_id, len(edit.track_ids), edit.at, size - 1)
        cur.executemany(
            "INSERT INTO playlist_tracks (playlist_id, position, track_id) VALUES (%s, %s, %s)",
            [(playlist_id, edit.at + i, t) for i, t in enumerate(edit.track_ids)],
        )
    elif edit.op == "remove":
        cur.execute(
            "DELETE FROM playlist_tracks WHERE playlist_id = %s AND position = %s",
            (playlist_id, edit.at),
        )
        _shift(cur, playlist_id, -1, edit.at + 1, size - 1)
    elif edit.op == "move" and edit.at != edit.to:
        cur.execute(
            "UPDATE playlist_tracks SET position = %s WHERE playlist_id = %s AND position = %s",
            (size, playlist_id, edit.at),  # parked past the end while the others shift
        )
        if edit.at < edit.to:
            _shift(cur, playlist_id, -1, edit.at + 1, edit.to)
        else:
            _shift(cur, playlist_id, 1, edit.to, edit.at - 1)
        cur.execute(
            "UPDATE playlist_tracks SET position = %s WHERE playlist_id = %s AND position = %s",
            (edit.to, playlist_id, size),
        )
