"""Verify Cognito user pool JWTs where no API Gateway JWT authorizer sits in front.

HTTP API routes get verified claims from their JWT authorizer. Two entry points do not: the
WebSocket `$connect` (WebSocket APIs have no JWT authorizer; browsers pass the token in the
query string) and the recommendation ASGI app on EKS. They use `CognitoVerifier`: RS256 only,
signing key from the pool's JWKS (fetched once, refetched when an unknown `kid` appears after a
key rotation), issuer, expiry and app client checked. The JWT library loads with the first
verification, so a function whose most frequent path checks no token (the feed's fan-out) does
not pay for it on a cold start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import Unauthorized
from .outbound import HttpCall, Send, send_urllib

if TYPE_CHECKING:
    from joserfc.jwk import KeySet

JwksFetch = Callable[[str], dict[str, Any]]


def issuer_url(region: str, user_pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def fetch_jwks(url: str, send: Send = send_urllib) -> dict[str, Any]:
    reply = send(HttpCall("GET", url))
    if reply.status != 200:
        raise Unauthorized(f"cannot read the signing keys ({reply.status})")
    keys: dict[str, Any] = reply.json()
    return keys


@dataclass
class CognitoVerifier:
    """Verifies access or ID tokens issued by one user pool to one of `client_ids`."""

    issuer: str
    client_ids: Collection[str]
    fetch: JwksFetch | None = None  # default: fetch_jwks over HTTPS
    leeway_seconds: int = 30
    _keys: KeySet | None = field(default=None, init=False, repr=False)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or Unauthorized naming what is wrong (never the token)."""
        from joserfc import jwt
        from joserfc.errors import JoseError

        try:
            decoded = jwt.decode(token, self._key_for(token), algorithms=["RS256"])
        except (JoseError, ValueError) as exc:
            raise Unauthorized(f"invalid token: {type(exc).__name__}") from None
        claims = dict(decoded.claims)
        now = time.time()
        if claims.get("iss") != self.issuer:
            raise Unauthorized("invalid token: wrong issuer")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires + self.leeway_seconds < now:
            raise Unauthorized("invalid token: expired")
        use = claims.get("token_use")
        audience = claims.get("client_id") if use == "access" else claims.get("aud")
        if use not in ("access", "id") or audience not in self.client_ids:
            raise Unauthorized("invalid token: not issued to this app")
        if not claims.get("sub"):
            raise Unauthorized("invalid token: no subject")
        return claims

    def _key_for(self, token: str) -> KeySet:
        from joserfc import jws
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        try:
            kid = jws.extract_compact(token.encode()).headers().get("kid")
        except (JoseError, ValueError):
            raise Unauthorized("invalid token: not a JWS") from None
        keys = self._keys
        if keys is None or (kid and all(k.kid != kid for k in keys.keys)):
            jwks = (self.fetch or fetch_jwks)(f"{self.issuer}/.well-known/jwks.json")
            keys = self._keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        return keys
