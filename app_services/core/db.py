"""PostgreSQL with psycopg 3: a DSN locally, RDS Proxy with an IAM auth token in the cloud."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from .settings import ServiceSettings


def iam_auth_token(rds_client: Any, host: str, port: int, user: str, region: str) -> str:
    """A 15-minute RDS IAM authentication token (signed locally by boto3, no network call)."""
    return str(
        rds_client.generate_db_auth_token(
            DBHostname=host, Port=port, DBUsername=user, Region=region
        )
    )


def conninfo(settings: ServiceSettings, rds_client: Any = None) -> str:
    """The libpq connection string for `settings` (IAM token as password when enabled)."""
    search_path = f"-c search_path={settings.db_schema},public"
    if settings.database_url:
        return make_conninfo(settings.database_url, options=search_path)
    if not settings.db_host:
        raise RuntimeError("set DATABASE_URL, or DB_HOST (with DB_USER and DB_NAME) for RDS Proxy")
    params: dict[str, Any] = {
        "host": settings.db_host,
        "port": settings.db_port,
        "dbname": settings.db_name,
        "user": settings.db_user,
        "sslmode": settings.db_sslmode,
        "options": search_path,
        "connect_timeout": 5,
    }
    if settings.db_sslrootcert:
        params["sslrootcert"] = settings.db_sslrootcert
    if settings.db_iam_auth:
        if rds_client is None:
            import boto3

            rds_client = boto3.client("rds", region_name=settings.aws_region)
        params["password"] = iam_auth_token(
            rds_client, settings.db_host, settings.db_port, settings.db_user, settings.aws_region
        )
    return make_conninfo(**params)


class Database:
    """One connection per thread, opened lazily and reopened when broken (IAM tokens expire,
    RDS Proxy closes idle clients). `transaction()` is the only way repositories touch SQL."""

    def __init__(self, settings: ServiceSettings, rds_client: Any = None):
        self.settings = settings
        self._rds = rds_client
        self._local = threading.local()

    def _connection(self) -> psycopg.Connection[dict[str, Any]]:
        conn: psycopg.Connection[dict[str, Any]] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = psycopg.connect(
                conninfo(self.settings, self._rds), autocommit=True, row_factory=dict_row
            )
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        """A cursor inside one transaction: committed on success, rolled back on any error."""
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cur:
            yield cur

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def has_extension(self, name: str) -> bool:
        with self.transaction() as cur:
            cur.execute("SELECT 1 FROM pg_extension WHERE extname = %s", (name,))
            return cur.fetchone() is not None
