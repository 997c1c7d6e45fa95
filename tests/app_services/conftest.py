"""Service test fixtures: a PostgreSQL schema and a Redis key prefix per test session, moto for AWS.

The schema gets every migration applied and is dropped at the end; the Redis keys under the
session's prefix are deleted at the end. `SOUNDSTACK_TEST_DSN` / `SOUNDSTACK_TEST_REDIS` point the
suite at other servers (defaults: the machine's PostgreSQL database `test` and Redis).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from moto import mock_aws
from psycopg import sql

from soundstack.app_services.core import migrate
from soundstack.app_services.core.cache import Cache
from soundstack.app_services.core.db import Database
from soundstack.app_services.core.settings import ServiceSettings, load_settings

TEST_DSN = os.environ.get(
    "SOUNDSTACK_TEST_DSN", "host=127.0.0.1 port=5432 dbname=test user=postgres"
)
TEST_REDIS = os.environ.get("SOUNDSTACK_TEST_REDIS", "redis://127.0.0.1:6379/0")
FIXTURES = Path(__file__).parent / "fixtures"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.services)


@pytest.fixture(scope="session")
def db_schema() -> Iterator[str]:
    """A fresh schema with every migration applied, dropped after the session."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(TEST_DSN) as conn:
        migrate.apply(conn, schema)
    yield schema
    with psycopg.connect(TEST_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(scope="session")
def cache_prefix() -> Iterator[str]:
    """A Redis key prefix for the session; its keys are deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(TEST_REDIS)
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)


@pytest.fixture
def service_env(
    db_schema: str, cache_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """Environment variables of a service pointed at the session's stores (settings re-read)."""
    env = {
        "DATABASE_URL": TEST_DSN,
        "DB_SCHEMA": db_schema,
        "REDIS_URL": TEST_REDIS,
        "CACHE_PREFIX": cache_prefix,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    load_settings.cache_clear()
    yield env
    load_settings.cache_clear()


@pytest.fixture
def settings(service_env: dict[str, str]) -> ServiceSettings:
    return load_settings(ServiceSettings)


@pytest.fixture
def db(settings: ServiceSettings) -> Iterator[Database]:
    database = Database(settings)
    yield database
    database.close()


@pytest.fixture
def cache(settings: ServiceSettings) -> Cache:
    return Cache.from_url(settings.redis_url, settings.cache_prefix, settings.cache_ttl_seconds)


@pytest.fixture
def aws(service_env: dict[str, str]) -> Iterator[None]:
    """moto for every AWS API, with the boto3 client cache emptied before and after."""
    from soundstack.app_services.core import aws as shared

    shared.client.cache_clear()
    with mock_aws():
        yield
    shared.client.cache_clear()


def new_user(db: Database, email: str | None = None) -> str:
    """Insert a user profile row and return its id."""
    user_id = str(uuid.uuid4())
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO users (user_id, email, display_name) VALUES (%s, %s, %s)",
            (user_id, email or f"{user_id}@example.com", "Test User"),
        )
    return user_id
