"""The recommendation service as an ASGI app for EKS (`uvicorn ...recommendation.asgi:app`).

Same routes and domain as the Lambda (`handler.routes`) through the shared adapter
(`app_services.core.asgi`); bearer tokens are verified against the Cognito user pool
(COGNITO_USER_POOL_ID, COGNITO_CLIENT_IDS) since no JWT authorizer sits inside the cluster.
`GET /healthz` answers the kubelet's probes without touching a store.
"""

from __future__ import annotations

from ..core.asgi import cognito_app
from .handler import routes

app = cognito_app(routes, "recommendation")
