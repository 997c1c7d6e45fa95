"""Auth wiring: settings and dependencies, built once per cold start."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from app_services.auth.repository import CognitoDirectory, ProfileRepository
from app_services.core import aws
from app_services.core.db import Database
from app_services.core.logs import configure
from app_services.core.settings import ServiceSettings, load_settings


class AuthSettings(ServiceSettings):
    blocked_email_domains: str = ""  # comma-separated, added to the built-in disposable list


@dataclass(frozen=True)
class Auth:
    directory: CognitoDirectory
    profiles: ProfileRepository
    blocked: frozenset[str]


@functools.cache
def auth() -> Auth:
    settings = load_settings(AuthSettings)
    configure("auth", settings.log_level)
    raw = settings.blocked_email_domains.split(",")
    return Auth(
        directory=CognitoDirectory(aws.client("cognito-idp", settings.aws_region)),
        profiles=ProfileRepository(Database(settings)),
        blocked=frozenset(d.strip().lower() for d in raw if d.strip()),
    )
