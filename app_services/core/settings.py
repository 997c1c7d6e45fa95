"""Service settings, read from environment variables once per cold start.

Every service's settings class derives from `ServiceSettings` and adds its own fields; the
environment variable of a field is its name in upper case (`DATABASE_URL`, `REDIS_URL`, ...).
"""

from __future__ import annotations

import functools
from typing import Literal, TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound="ServiceSettings")


class ServiceSettings(BaseSettings):
    """What every service needs: region, logging, PostgreSQL and Redis."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    aws_region: str = Field("eu-west-1", description="AWS_REGION, set by Lambda itself")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    database_url: str | None = Field(
        None, description="a libpq DSN; used as is (local runs, tests). Without it the db_* fields"
    )
    db_host: str | None = Field(None, description="RDS Proxy endpoint")
    db_port: int = 5432
    db_name: str = "soundstack"
    db_user: str = "app"
    db_iam_auth: bool = Field(
        True, description="connect with a 15-minute IAM auth token instead of a password"
    )
    db_sslmode: str = Field("verify-full", description="TLS to RDS Proxy, server cert checked")
    db_sslrootcert: str | None = Field(None, description="CA bundle (RDS global bundle)")
    db_schema: str = Field("public", description="search_path the service's tables live in")

    redis_url: str | None = Field(None, description="redis:// or rediss:// URL; no cache if unset")
    cache_prefix: str = Field("soundstack:", description="prefix of every cache key")
    cache_ttl_seconds: int = Field(300, ge=1, description="lifetime of a cached read")


@functools.cache
def load_settings(cls: type[S]) -> S:
    """The settings of `cls`, parsed from the environment once (cached for the process)."""
    return cls()
