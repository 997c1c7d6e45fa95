"""Auth logic for the Cognito user pool triggers.

Pre sign-up rejects malformed and disposable e-mail addresses and links a first social sign-in
(Google, Facebook, ...) to an existing verified e-mail/password account with the same address,
so one person keeps one profile. Post confirmation creates the user's profile row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from app_services.core.errors import BadRequest
from app_services.core.events import CognitoTriggerEvent

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


class Profiles(Protocol):
    def create(self, user_id: str, email: str, display_name: str) -> bool: ...


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


def post_confirmation(event: CognitoTriggerEvent, profiles: Profiles) -> dict[str, Any]:
    """Create the profile row of a newly confirmed user (idempotent: Cognito may retry)."""
    if event.trigger_source == "PostConfirmation_ConfirmSignUp":
        attributes = event.request.user_attributes
        user_id = attributes.get("sub")
        if not user_id:
            raise BadRequest("userAttributes.sub is missing", field="sub")
        email = normalise_email(attributes.get("email"))
        name = attributes.get("name") or attributes.get("preferred_username")
        profiles.create(user_id, email, (name or email.split("@")[0])[:100])
    return event.reply()
