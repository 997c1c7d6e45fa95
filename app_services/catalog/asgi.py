"""The catalog as an ASGI app for EKS: `uvicorn app_services.catalog.asgi:app`.

Same routes and domain as the Lambda; bearer tokens are verified against the Cognito user pool
(COGNITO_USER_POOL_ID, COGNITO_CLIENT_IDS) since no JWT authorizer sits inside the cluster.
"""

from __future__ import annotations

from ..core.asgi import cognito_app
from .api import routes

app = cognito_app(routes, "catalog")
