"""Recommendation I/O: preferences and co-listening counts in PostgreSQL (0110_recommendation.sql).

Co-listening is computed in SQL from `rec_signals` (one row per user and track), so only the
counts the domain scores cross the wire. Cold start ranks the catalog's `tracks` by listeners.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..core.db import Database
from .domain import CoListen

CO_LISTENS = """
WITH listeners AS (
    SELECT track_id, count(*) AS n FROM rec_signals GROUP BY track_id
), pairs AS (
    SELECT s.track_id AS seed, o.track_id AS candidate, count(*) AS together,
           row_number() OVER (PARTITION BY s.track_id ORDER BY count(*) DESC, o.track_id) AS rank
    FROM rec_signals s
    JOIN rec_signals o ON o.user_id = s.user_id AND o.track_id <> s.track_id
    WHERE s.track_id = ANY(%(seeds)s)
    GROUP BY s.track_id, o.track_id
)
SELECT p.seed, p.candidate, p.together, ls.n AS seed_listeners, lo.n AS candidate_listeners
FROM pairs p
JOIN listeners ls ON ls.track_id = p.seed
JOIN listeners lo ON lo.track_id = p.candidate
WHERE p.rank <= %(limit)s
ORDER BY p.seed, p.rank
"""

POPULAR = """
SELECT t.track_id::text AS track_id
FROM tracks t
LEFT JOIN (SELECT track_id, count(*) AS n FROM rec_signals GROUP BY track_id) l
       ON l.track_id = t.track_id::text
WHERE cardinality(%(genres)s::text[]) = 0 OR lower(t.genre) = ANY(%(genres)s::text[])
ORDER BY coalesce(l.n, 0) DESC, t.created_at DESC, t.track_id
LIMIT %(limit)s
"""


@dataclass
class PostgresPreferences:
    db: Database

    def genres(self, user_id: str) -> list[str]:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT genre FROM rec_user_genres WHERE user_id = %s ORDER BY position",
                (user_id,),
            )
            return [row["genre"] for row in cur.fetchall()]

    def set_genres(self, user_id: str, genres: Sequence[str]) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM rec_user_genres WHERE user_id = %s", (user_id,))
            cur.executemany(
                "INSERT INTO rec_user_genres (user_id, genre, position) VALUES (%s, %s, %s)",
                [(user_id, genre, i) for i, genre in enumerate(genres)],
            )

    def add_signal(self, user_id: str, track_id: str, weight: int) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO rec_signals (user_id, track_id, weight) VALUES (%s, %s, %s)"
                " ON CONFLICT (user_id, track_id) DO UPDATE SET"
                " weight = rec_signals.weight + EXCLUDED.weight, updated_at = now()",
                (user_id, track_id, weight),
            )

    def history(self, user_id: str, limit: int) -> list[tuple[str, int]]:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT track_id, weight FROM rec_signals WHERE user_id = %s"
                " ORDER BY weight DESC, updated_at DESC, track_id LIMIT %s",
                (user_id, limit),
            )
            return [(row["track_id"], row["weight"]) for row in cur.fetchall()]

    def co_listens(self, seeds: Sequence[str], limit: int) -> list[CoListen]:
        """Up to `limit` candidates per seed, most shared listeners first."""
        with self.db.transaction() as cur:
            cur.execute(CO_LISTENS, {"seeds": list(seeds), "limit": limit})
            return [CoListen(**row) for row in cur.fetchall()]

    def popular(self, genres: Sequence[str], limit: int) -> list[str]:
        with self.db.transaction() as cur:
            cur.execute(POPULAR, {"genres": list(genres), "limit": limit})
            return [row["track_id"] for row in cur.fetchall()]
