"""Auth I/O: the Cognito user pool (boto3 cognito-idp), the profile queue (SQS) and the profile
rows in PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .domain import ExistingUser, NewProfile

if TYPE_CHECKING:  # the triggers never load the database driver
    from ..core.db import Database


class CognitoDirectory:
    def __init__(self, cognito: Any):
        self.cognito = cognito

    def find_native_by_email(self, user_pool_id: str, email: str) -> list[ExistingUser]:
        """E-mail/password users with this address (social users excluded)."""
        escaped = email.replace("\\", "\\\\").replace('"', '\\"')
        found = self.cognito.list_users(UserPoolId=user_pool_id, Filter=f'email = "{escaped}"')
        users = []
        for user in found.get("Users", []):
            if user.get("UserStatus") == "EXTERNAL_PROVIDER":
                continue
            attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
            users.append(ExistingUser(user["Username"], attributes.get("email_verified") == "true"))
        return users

    def link(self, user_pool_id: str, username: str, provider: str, provider_subject: str) -> None:
        self.cognito.admin_link_provider_for_user(
            UserPoolId=user_pool_id,
            DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": username},
            SourceUser={
                "ProviderName": provider,
                "ProviderAttributeName": "Cognito_Subject",
                "ProviderAttributeValue": provider_subject,
            },
        )


class ProfileQueue:
    """Post confirmation's outbox: one SQS message per confirmed user."""

    def __init__(self, sqs: Any, queue_url: str):
        self.sqs = sqs
        self.queue_url = queue_url

    def enqueue(self, profile: NewProfile) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=profile.model_dump_json())


class ProfileRepository:
    def __init__(self, db: Database):
        self.db = db

    def create(self, user_id: str, email: str, display_name: str) -> bool:
        """Insert the profile, or complete the e-mail of one a first playlist write created
        before this message arrived; False when it is already complete (a retried trigger)."""
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO users (user_id, email, display_name) VALUES (%s, %s, %s)"
                " ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email"
                " WHERE users.email IS NULL",
                (user_id, email, display_name),
            )
            return cur.rowcount == 1


class OriginSecretStore:
    """The accepted origin-verify values (`current[,previous]`) from Secrets Manager, read at
    the first request and again on demand, at most every `min_age_seconds`."""

    def __init__(
        self,
        secretsmanager: Any,
        secret_id: str,
        min_age_seconds: float = 60,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.client = secretsmanager
        self.secret_id = secret_id
        self.min_age_seconds = min_age_seconds
        self.clock = clock
        self._values: frozenset[str] | None = None
        self._read_at = 0.0

    def values(self, refresh: bool = False) -> frozenset[str]:
        stale = self.clock() - self._read_at >= self.min_age_seconds
        if self._values is None or (refresh and stale):
            raw = self.client.get_secret_value(SecretId=self.secret_id)["SecretString"]
            self._values = frozenset(v.strip() for v in raw.split(",") if v.strip())
            self._read_at = self.clock()
        return self._values
