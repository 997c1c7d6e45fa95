"""A minimal ASGI adapter (no framework) running route tables behind uvicorn or any ASGI server.

Inside the cluster no JWT authorizer sits in front, so the app authenticates each request itself
(`bearer(verify)` with `app_services.core.tokens.CognitoVerifier`) and hands the verified claims
to the routes exactly as API Gateway would.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field

from .errors import PayloadTooLarge, ServiceError, Unauthorized
from .gateway import Gateway
from .logs import configure
from .routing import Routes, error_response
from .settings import ServiceSettings, load_settings
from .tokens import CognitoVerifier, issuer_url

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
SendFn = Callable[[dict[str, Any]], Awaitable[None]]
Authenticate = Callable[[dict[str, str]], dict[str, Any] | None]
MAX_BODY = 6 * 1024 * 1024  # API Gateway's Lambda payload limit, kept identical


def bearer(verify: Callable[[str], dict[str, Any]]) -> Authenticate:
    """Claims of a verified `Authorization: Bearer <jwt>`; None without the header (anonymous)."""

    def authenticate(headers: dict[str, str]) -> dict[str, Any] | None:
        value = headers.get("authorization", "")
        if not value:
            return None
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("authorization: expected `Bearer <token>`", field="authorization")
        return verify(token)

    return authenticate


class AsgiApp:
    """HTTP requests → API Gateway v2 events → the services' routes; `/healthz` for probes."""

    def __init__(self, gateway: Gateway, authenticate: Authenticate, service: str):
        self.gateway = gateway
        self.authenticate = authenticate
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: SendFn) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        if scope["path"] == "/healthz":
            await _send(send, {"statusCode": 200, "headers": {}, "body": "ok"})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = await _body(receive)
        except ServiceError as exc:
            await _send(send, error_response(exc, None, configure(self.service)))
            return
        # one hop to a worker thread per request: token checks and routes may block (JWKS, SQL)
        reply = await asyncio.to_thread(self._handle, scope, headers, body)
        await _send(send, reply, head=scope["method"] == "HEAD")

    def _handle(self, scope: Scope, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        try:
            claims = self.authenticate(headers)
        except ServiceError as exc:
            return error_response(exc, None, configure(self.service))
        return self.gateway.dispatch(
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            body,
            source_ip=(scope.get("client") or ("127.0.0.1", 0))[0],
            claims=claims,
        )


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge(f"body: larger than {MAX_BODY} bytes", field="body")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: SendFn, reply: dict[str, Any], head: bool = False) -> None:
    """The response; to `HEAD`, the `GET` response's headers (with its length) and no body."""
    body = (reply.get("body") or "").encode()
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply["headers"].items()]
    if reply["statusCode"] not in (204, 304):
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": reply["statusCode"], "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


class TokenSettings(ServiceSettings):
    cognito_user_pool_id: str = Field(description="user pool whose tokens are accepted")
    cognito_client_ids: list[str] = Field(description="app clients the tokens must be issued to")


@functools.cache
def verifier() -> CognitoVerifier:
    settings = load_settings(TokenSettings)
    issuer = issuer_url(settings.aws_region, settings.cognito_user_pool_id)
    return CognitoVerifier(issuer, frozenset(settings.cognito_client_ids))


def cognito_app(routes: Routes, service: str) -> AsgiApp:
    """A service's routes as an ASGI app that verifies Cognito bearer tokens itself (inside the
    cluster no API Gateway authorizer runs); the pool and clients come from the environment
    (COGNITO_USER_POOL_ID, COGNITO_CLIENT_IDS), read on the first request."""
    return AsgiApp(Gateway([routes]), bearer(lambda token: verifier().verify(token)), service)
