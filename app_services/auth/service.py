"""Auth wiring: settings and dependencies, built once per cold start and only for the path an
event takes (the triggers never import the database driver or open a connection)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from ..core.logs import configure
from ..core.settings import ServiceSettings, load_settings
from .repository import (
    CognitoDirectory,
    OriginSecretStore,
    ProfileQueue,
    ProfileRepository,
)

if TYPE_CHECKING:
    from ..core.tokens import CognitoVerifier

#: The triggers' AWS calls must fit Cognito's 5-second budget: fail fast, no SDK retry (Cognito
#: retries the whole trigger itself).
TRIGGER_CLIENT_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 1}
)


class AuthSettings(ServiceSettings):
    blocked_email_domains: str = ""  # comma-separated, added to the built-in disposable list
    #: SQS queue post confirmation sends new profiles to (the profile writer consumes it).
    profile_queue_url: str | None = None
    #: Secret holding the origin-verify values the edge authorizer accepts (`current[,previous]`).
    api_origin_secret_arn: str | None = None
    #: Pool and app clients (JSON list) whose tokens the edge authorizer accepts.
    cognito_user_pool_id: str | None = None
    cognito_client_ids: str = "[]"


class Triggers:
    """What the triggers use; each boto3 client is built on first use (a native pre sign-up
    needs none, post confirmation only SQS), which keeps the cold start short."""

    def __init__(self, settings: AuthSettings):
        if not settings.profile_queue_url:
            raise RuntimeError("PROFILE_QUEUE_URL is not set: post confirmation has nowhere to go")
        self.settings = settings
        raw = settings.blocked_email_domains.split(",")
        self.blocked = frozenset(d.strip().lower() for d in raw if d.strip())

    def _client(self, service: str) -> Any:
        return boto3.client(
            service, region_name=self.settings.aws_region, config=TRIGGER_CLIENT_CONFIG
        )

    @functools.cached_property
    def directory(self) -> CognitoDirectory:
        return CognitoDirectory(self._client("cognito-idp"))

    @functools.cached_property
    def outbox(self) -> ProfileQueue:
        return ProfileQueue(self._client("sqs"), str(self.settings.profile_queue_url))


@dataclass(frozen=True)
class Gate:
    origin_secrets: OriginSecretStore
    verifier: CognitoVerifier


def settings() -> AuthSettings:
    loaded = load_settings(AuthSettings)
    configure("auth", loaded.log_level)
    return loaded


@functools.cache
def triggers() -> Triggers:
    return Triggers(settings())


@functools.cache
def profiles() -> ProfileRepository:
    """The profile writer's repository (imports psycopg: only the queue consumer gets here)."""
    from ..core.db import Database

    return ProfileRepository(Database(settings()))


@functools.cache
def gate() -> Gate:
    """The edge authorizer's secrets and token verifier (imports the JWT library: only the
    authorizer gets here)."""
    from ..core.tokens import CognitoVerifier, issuer_url

    s = settings()
    if not s.api_origin_secret_arn or not s.cognito_user_pool_id:
        raise RuntimeError(
            "API_ORIGIN_SECRET_ARN and COGNITO_USER_POOL_ID must be set for the edge authorizer"
        )
    return Gate(
        origin_secrets=OriginSecretStore(
            boto3.client("secretsmanager", region_name=s.aws_region), s.api_origin_secret_arn
        ),
        verifier=CognitoVerifier(
            issuer_url(s.aws_region, s.cognito_user_pool_id), json.loads(s.cognito_client_ids)
        ),
    )
