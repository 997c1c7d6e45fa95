"""The recommendation service as an ASGI app for EKS (`uvicorn ...recommendation.asgi:app`).

Same routes and domain as the Lambda (`handler.routes`) through the shared adapter
(`app_services.core.asgi`); bearer tokens are verified against the Cognito user pool
(COGNITO_USER_POOL_ID, COGNITO_CLIENT_IDS) since no JWT authorizer sits inside the cluster.
`GET /healthz` answers the kubelet's probes without touching a store.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import Field

from app_services.core.asgi import AsgiApp, bearer
from app_services.core.gateway import Gateway
from app_services.core.settings import ServiceSettings, load_settings
from app_services.core.tokens import CognitoVerifier, issuer_url
from app_services.recommendation.handler import routes


class TokenSettings(ServiceSettings):
    cognito_user_pool_id: str = Field(description="user pool whose tokens are accepted")
    cognito_client_ids: list[str] = Field(description="app clients the tokens must be issued to")


@functools.cache
def verifier() -> CognitoVerifier:
    settings = load_settings(TokenSettings)
    issuer = issuer_url(settings.aws_region, settings.cognito_user_pool_id)
    return CognitoVerifier(issuer, frozenset(settings.cognito_client_ids))


def verify(token: str) -> dict[str, Any]:
    return verifier().verify(token)


app = AsgiApp(Gateway([routes]), bearer(verify), "recommendation")
