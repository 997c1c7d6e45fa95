"""A stand-in for API Gateway: turns plain HTTP requests into HTTP API v2 events.

Used by `soundstack serve` and by the ASGI apps on EKS. The caller of `dispatch` supplies the
claims the JWT authorizer would have verified: the ASGI apps verify the bearer token themselves
(`app_services.core.asgi`); the local server reads them from `x-claim-<name>` headers
(`curl -H 'x-claim-sub: user-1'`), which is why it binds to loopback.
"""

from __future__ import annotations

from typing import Any

from .routing import Routes, build_event, json_response

CLAIM_HEADER = "x-claim-"
#: What a browser may send cross-origin to the local server (the web client's dev server).
CORS_HEADERS = "authorization, content-type, idempotency-key, if-none-match, x-claim-sub"


class Gateway:
    """Routes requests across the route tables of several services."""

    def __init__(self, tables: list[Routes]):
        self.tables = tables

    @property
    def route_keys(self) -> list[str]:
        return [key for table in self.tables for key in table.keys]

    def dispatch(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes | None,
        source_ip: str = "127.0.0.1",
        claims: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The service's API Gateway v2 response for one request (404 when no route matches).

        `x-claim-*` headers never reach a service: only `claims` count.
        """
        plain = {k.lower(): v for k, v in headers.items() if not k.lower().startswith(CLAIM_HEADER)}
        if method.upper() == "OPTIONS":
            return self.options(path)
        for table in self.tables:
            found = table.match(method, path)
            if found is None:
                continue
            route, params = found
            event = build_event(
                method,
                path,
                body=body or None,
                query=query,
                headers=plain,
                claims=claims,
                route_key=route.key,
                path_parameters=params,
                source_ip=source_ip,
            )
            return table.handle(event)
        error = {"code": "not_found", "message": f"no route for {method} {path}"}
        return json_response(404, {"error": error})

    def options(self, path: str) -> dict[str, Any]:
        """`OPTIONS`: the methods served at `path` (`Allow`) and a CORS preflight answer."""
        methods = set().union(*(table.methods(path) for table in self.tables))
        if not methods:
            error = {"code": "not_found", "message": f"no route for {path}"}
            return json_response(404, {"error": error})
        allow = ", ".join(sorted(methods | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())))
        headers = {
            "allow": allow,
            "access-control-allow-origin": "*",
            "access-control-allow-methods": allow,
            "access-control-allow-headers": CORS_HEADERS,
            "access-control-max-age": "600",
        }
        return {"statusCode": 204, "headers": headers, "body": ""}


def claims_from_headers(headers: dict[str, str]) -> dict[str, str]:
    """Local runs only: `x-claim-sub: u1` → `{"sub": "u1"}`."""
    return {
        k.lower().removeprefix(CLAIM_HEADER): v
        for k, v in headers.items()
        if k.lower().startswith(CLAIM_HEADER)
    }
