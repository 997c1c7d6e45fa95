"""Auth logic: the Cognito user pool triggers, the profile writer and the API's edge gate.

Pre sign-up rejects malformed and disposable e-mail addresses and links a first social sign-in
(Google, Facebook, ...) to an existing verified e-mail/password account with the same address,
so one person keeps one profile. Post confirmation hands the new profile to a queue; the
profile writer (`create_profile`) inserts the row from there.

Why the queue: "Amazon Cognito invokes Lambda functions synchronously. When Amazon Cognito calls
your Lambda function, it must respond within 5 seconds. If it does not, Amazon Cognito retries
the call. After three unsuccessful attempts, the function times out. You can't change this
five-second timeout value." (Cognito developer guide, Lambda triggers). A trigger that opened a
PostgreSQL connection (RDS Proxy, IAM token, TLS, a database resuming from zero capacity) on a
cold start could fail the sign-up; so no trigger touches the database: each makes at most two
short AWS API calls, and the database write happens behind SQS, retried until it lands.

`authorize_request` is the HTTP API's Lambda authorizer: a request reaches a service only if it
carries the origin-verify header CloudFront adds (so it came through the web distribution and
its WAF web ACL) and, on user routes, a valid Cognito token whose claims it passes on.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ..core.errors import BadRequest, Unauthorized
from ..core.events import CognitoTriggerEvent

# A small, well-known base list; deployments extend it with BLOCKED_EMAIL_DOMAINS.
DISPOSABLE_DOMAINS = frozenset(
    {
        "10minutemail.com", "dispostable.com", "discard.email", "fakeinbox.com", "getnada.com",
        "guerrillamail.com", "guerrillamail.net", "mailinator.com", "maildrop.cc", "mintemail.com",
        "mohmal.com", "sharklasers.com", "spamgourmet.com", "temp-mail.org", "tempmail.com",
        "tempmailo.com", "throwawaymail.com", "trashmail.com", "yopmail.com", "emailondeck.com",
    }
)  # fmt: skip
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
PROVIDERS = {
    "google": "Google",
    "facebook": "Facebook",
    "signinwithapple": "SignInWithApple",
    "loginwithamazon": "LoginWithAmazon",
}


@dataclass(frozen=True)
class ExistingUser:
    username: str
    email_verified: bool


class Directory(Protocol):
    def find_native_by_email(self, user_pool_id: str, email: str) -> list[ExistingUser]: ...
    def link(
        self, user_pool_id: str, username: str, provider: str, provider_subject: str
    ) -> None: ...


class NewProfile(BaseModel):
    """A confirmed user's profile row, as post confirmation enqueues it (the message body)."""

    # built by the first confirmation or queued profile, not by the edge gate's cold start
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    user_id: str = Field(min_length=1)
    email: str = Field(min_length=3, max_length=254)
    display_name: str = Field(min_length=1, max_length=100)


class Profiles(Protocol):
    def create(self, user_id: str, email: str, display_name: str) -> bool: ...


class ProfileOutbox(Protocol):
    def enqueue(self, profile: NewProfile) -> None: ...


class TokenVerifier(Protocol):
    def verify(self, token: str) -> dict[str, Any]: ...


def normalise_email(raw: str | None, blocked: frozenset[str] = frozenset()) -> str:
    """The address with its domain lower-cased; 400 (`field=email`) if malformed or disposable."""
    email = (raw or "").strip()
    local, at, domain = email.rpartition("@")
    domain = domain.lower().rstrip(".")
    labels = domain.split(".")
    if (
        not at
        or len(email) > 254
        or len(local) > 64
        or not _LOCAL.match(local)
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise BadRequest("Please enter a valid e-mail address.", field="email")
    parents = {".".join(labels[i:]) for i in range(len(labels) - 1)}
    if parents & (DISPOSABLE_DOMAINS | blocked):
        raise BadRequest("Disposable e-mail addresses are not accepted.", field="email")
    return f"{local}@{domain}"


def provider_identity(user_name: str) -> tuple[str, str]:
    """`"Google_1093…"` → `("Google", "1093…")`: the provider and the user's id there."""
    prefix, sep, subject = user_name.partition("_")
    if not sep or not subject:
        raise BadRequest(f"userName {user_name!r} is not <provider>_<id>", field="userName")
    return PROVIDERS.get(prefix.lower(), prefix), subject


def pre_sign_up(
    event: CognitoTriggerEvent, directory: Directory, blocked: frozenset[str]
) -> dict[str, Any]:
    """Check the e-mail; for a social sign-in, link it to the matching verified account."""
    email = normalise_email(event.request.user_attributes.get("email"), blocked)
    if event.trigger_source == "PreSignUp_ExternalProvider":
        provider, subject = provider_identity(event.user_name)
        # The pool's attribute filter is case-sensitive; providers usually send lower case.
        verified = {
            user.username: user
            for address in dict.fromkeys([email, email.lower()])
            for user in directory.find_native_by_email(event.user_pool_id, address)
            if user.email_verified
        }
        if verified:
            directory.link(event.user_pool_id, next(iter(verified)), provider, subject)
    return event.reply()


def post_confirmation(event: CognitoTriggerEvent, outbox: ProfileOutbox) -> dict[str, Any]:
    """Queue the profile row of a newly confirmed user; the profile writer inserts it. Cognito
    may retry this trigger: the writer's insert is idempotent, so a duplicate is harmless."""
    if event.trigger_source == "PostConfirmation_ConfirmSignUp":
        attributes = event.request.user_attributes
        user_id = attributes.get("sub")
        if not user_id:
            raise BadRequest("userAttributes.sub is missing", field="sub")
        email = normalise_email(attributes.get("email"))
        name = attributes.get("name") or attributes.get("preferred_username")
        display_name = (name or email.split("@")[0])[:100]
        outbox.enqueue(NewProfile(user_id=user_id, email=email, display_name=display_name))
    return event.reply()


def create_profile(profile: NewProfile, profiles: Profiles) -> bool:
    """Insert a queued profile; False when it already exists (a retried trigger or message)."""
    return profiles.create(profile.user_id, profile.email, profile.display_name)


#: Header CloudFront adds to every request it sends to the API origin (components.cdn).
ORIGIN_VERIFY_HEADER = "x-origin-verify"


class OriginSecrets(Protocol):
    def values(self, refresh: bool = False) -> frozenset[str]: ...


def origin_verified(presented: str, secrets: OriginSecrets) -> bool:
    """`presented` equals an accepted origin-verify value (constant-time compare). On a miss the
    values are read again (at most once a minute), so a rotation reaches warm authorizers."""
    given = presented.encode()
    for refresh in (False, True):
        if any(hmac.compare_digest(given, v.encode()) for v in secrets.values(refresh)):
            return True
    return False


def authorize_request(
    headers: Mapping[str, str],
    identity_source: Sequence[str],
    secrets: OriginSecrets,
    verifier: TokenVerifier,
) -> dict[str, Any]:
    """The HTTP API Lambda authorizer's simple response.

    Authorized only with the origin-verify header CloudFront adds. The token is checked when it
    is one of the authorizer's identity sources (the user-route authorizer lists
    `Authorization`; the public-route one does not, so a stray header there is ignored); its
    claims become the context services read as the signed-in user.
    """
    presented = headers.get(ORIGIN_VERIFY_HEADER, "")
    if not presented or not origin_verified(presented, secrets):
        return {"isAuthorized": False}
    authorization = headers.get("authorization")
    if authorization is None or authorization not in identity_source:
        return {"isAuthorized": True, "context": {}}
    token = authorization.removeprefix("Bearer ").strip()
    try:
        claims = verifier.verify(token)
    except Unauthorized:
        return {"isAuthorized": False}
    # Context values must be plain: lists (e.g. `cognito:groups`) become space-separated.
    context = {
        k: " ".join(map(str, v)) if isinstance(v, list) else v
        for k, v in claims.items()
        if isinstance(v, str | int | float | bool | list)
    }
    return {"isAuthorized": True, "context": context}
