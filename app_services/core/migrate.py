"""SQL schema migrations: ordered files `NNNN_name.sql` in app_services/migrations/.

All pending files run in one transaction together with their rows in `schema_migrations`, so a
failing migration leaves nothing behind (hence no `CREATE INDEX CONCURRENTLY` in these files).
An advisory lock serialises concurrent runners (two deploys, parallel test sessions), and a
changed checksum of an applied file is an error: applied migrations are history, fix forward
with a new file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_ID = 0x50554E44  # arbitrary constant shared by every runner


class MigrationError(RuntimeError):
    """A migration directory or database history is inconsistent."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in `directory`, ordered by version; duplicates and stray .sql files fail."""
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_snake_name.sql")
        version, name = match.groups()
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        found[version] = Migration(version, name, path.read_text())
    return [found[v] for v in sorted(found)]


def apply(
    conn: psycopg.Connection, schema: str = "public", directory: Path = MIGRATIONS_DIR
) -> list[str]:
    """Apply the pending migrations into `schema` (created if missing); returns their versions."""
    conn.autocommit = True
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema)))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY,"
            " name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
        history = {r[0]: (r[1], r[2]) for r in rows}
        for migration in discover(directory):
            if migration.version in history:
                if history[migration.version][1] != migration.checksum:
                    raise MigrationError(
                        f"{migration.version}_{migration.name}.sql changed after it was applied;"
                        " restore it and add a new migration instead"
                    )
                continue
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
            applied_now.append(migration.version)
    return applied_now
