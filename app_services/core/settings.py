"""Service settings, read from environment variables once per cold start.

Every service's settings class derives from `ServiceSettings` and adds its own fields; the
environment variable of a field is its name in upper case (`DATABASE_URL`, `REDIS_URL`, ...).
Missing or invalid settings are a server fault (`Misconfigured`, a 5xx naming the variables),
never a client's `400`.
"""

from __future__ import annotations

import functools
import os
from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import Misconfigured

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


def variables(cls: type[ServiceSettings]) -> list[str]:
    """The environment variables `cls` reads (its field names in upper case)."""
    return [name.upper() for name in cls.model_fields]


@functools.cache
def load_settings(cls: type[S]) -> S:
    """The settings of `cls`, parsed from the environment once (cached for the process).

    Raises `Misconfigured` naming each bad variable and why (`PAYMENT_SECRET_ARN: Field
    required`); the message never contains a variable's value.
    """
    try:
        return cls()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper() or cls.__name__}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise Misconfigured(f"{cls.__name__} settings are invalid: {problems}") from None


def in_lambda() -> bool:
    """True inside AWS Lambda (the runtime sets AWS_LAMBDA_FUNCTION_NAME for every function)."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
