"""HTTP routing for API Gateway HTTP API v2 events and the one error-to-response mapping.

A service declares its routes on a `Routes` table (`"GET /playlists/{playlist_id}"`), each route a
small function `(request) -> result` that calls one domain function. `Routes.handle` parses the
event, dispatches, and maps the result (pydantic model, dict, list, `Response` or None) or the
error to an API Gateway response. Lambda, `soundstack serve` and the ASGI app all go through it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from .errors import NotFound, PayloadTooLarge, ServiceError
from .events import HttpApiEvent, parse_model
from .logs import configure, reset_request_id, set_request_id
from .settings import ServiceSettings, in_lambda, load_settings

HttpApiEvent.model_rebuild(force=True)  # every request parses one: built during init
RouteFn = Callable[[HttpApiEvent], Any]
#: The largest request body any route accepts; every body is small JSON (webhooks included).
MAX_REQUEST_BYTES = 256 * 1024
_JSON = {"content-type": "application/json"}
_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)(\+?)\}")


@dataclass(frozen=True)
class Response:
    """An explicit response when 200-with-JSON is not what the route returns."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway v2 proxy response with a JSON body."""
    text = "" if body is None else json.dumps(_plain(body), separators=(",", ":"), default=jsonable)
    return {"statusCode": status, "headers": {**_JSON, **(headers or {})}, "body": text}


def jsonable(value: Any) -> Any:
    """JSON for values psycopg returns: ISO 8601 datetimes, UUIDs and decimals as strings."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def error_response(
    exc: BaseException, request_id: str | None, logger: logging.Logger
) -> dict[str, Any]:
    """THE mapping of errors to HTTP: coded 4xx name the field, everything else is an opaque 5xx.

    5xx bodies carry only a code and the request id; the stack trace goes to the log, never to
    the client. A pydantic error that escapes a route is the server's (bad settings, a model
    built from stored data): client input is validated where it is parsed, as a `BadRequest`.
    """
    if isinstance(exc, ServiceError) and exc.status < 500:
        logger.info("request rejected", extra={"code": exc.code, "field": exc.field})
        body: dict[str, Any] = {"error": {"code": exc.code, "message": exc.message}}
        if exc.field:
            body["error"]["field"] = exc.field
        return json_response(exc.status, body, {"x-request-id": request_id or ""})
    status, code = (exc.status, exc.code) if isinstance(exc, ServiceError) else (500, "internal")
    detail = exc.message if isinstance(exc, ServiceError) else type(exc).__name__
    logger.error("request failed", exc_info=exc, extra={"code": code, "detail": detail})
    body = {"error": {"code": code, "message": "internal error", "request_id": request_id}}
    return json_response(status, body, {"x-request-id": request_id or ""})


def conditional(
    reply: dict[str, Any], cache_control: str, if_none_match: str | None
) -> dict[str, Any]:
    """A cacheable 200 gets `ETag` (of its body) and `Cache-Control`; a request whose
    `If-None-Match` names that ETag gets `304 Not Modified` without a body."""
    etag = '"' + hashlib.sha256(reply["body"].encode()).hexdigest()[:32] + '"'
    headers = {**reply["headers"], "etag": etag, "cache-control": cache_control}
    wanted = {tag.strip().removeprefix("W/") for tag in (if_none_match or "").split(",")}
    if etag in wanted or "*" in wanted:
        return {"statusCode": 304, "headers": headers, "body": ""}
    return {**reply, "headers": headers}


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    fn: RouteFn
    pattern: re.Pattern[str]
    #: `Cache-Control` of a successful GET (with an ETag and `If-None-Match`); None: not cacheable.
    cache_control: str | None = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


class Routes:
    """A route table for one service; also matches raw paths (local server, `$default` route)."""

    def __init__(
        self,
        service: str,
        logger: logging.Logger | None = None,
        *,
        settings: tuple[type[ServiceSettings], ...] = (),
    ):
        """`settings`: the classes the routes read; inside Lambda they are parsed right here, at
        import (the cold start), so a function with broken settings fails its init loudly."""
        self.service = service
        self._logger = logger
        self._routes: dict[str, Route] = {}
        self.settings = settings
        if in_lambda():
            self.check_settings()

    def check_settings(self) -> None:
        """Parse every settings class the routes use; `Misconfigured` (logged) names what is bad."""
        for cls in self.settings:
            try:
                load_settings(cls)
            except ServiceError as exc:
                self.logger.critical("settings invalid", extra={"detail": exc.message})
                raise

    @property
    def logger(self) -> logging.Logger:
        """The service's JSON logger (configured on first use, not at import)."""
        if self._logger is None:
            self._logger = configure(self.service)
        return self._logger

    def route(self, key: str, *, cache_control: str | None = None) -> Callable[[RouteFn], RouteFn]:
        """Register `fn` for a route key such as `"GET /catalog/tracks/{track_id}"`;
        `cache_control` makes its 200s conditional (ETag, If-None-Match → 304)."""
        method, template = key.split(" ", 1)

        def register(fn: RouteFn) -> RouteFn:
            regex = _PARAM.sub(
                lambda m: f"(?P<{m[1]}>.+)" if m[2] else f"(?P<{m[1]}>[^/]+)", template
            )
            pattern = re.compile(f"^{regex}$")
            self._routes[key] = Route(method, template, fn, pattern, cache_control)
            return fn

        return register

    @property
    def keys(self) -> list[str]:
        return list(self._routes)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route serving `method path` and its path parameters, as API Gateway matches them
        (`HEAD` is served by the `GET` route)."""
        wanted = {method.upper(), "ANY"} | ({"GET"} if method.upper() == "HEAD" else set())
        for route in self._routes.values():
            found = route.pattern.match(path)
            if found and route.method in wanted:
                return route, found.groupdict()
        return None

    def methods(self, path: str) -> set[str]:
        """The methods some route serves at `path` (for `OPTIONS` and `Allow`)."""
        return {r.method for r in self._routes.values() if r.pattern.match(path)}

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Lambda entry: parse the v2 event, run the route, map the result or the error."""
        request_id = (event.get("requestContext") or {}).get("requestId") or str(uuid.uuid4())
        token = set_request_id(request_id)
        try:
            request = parse_model(HttpApiEvent, event, where="event")
            if len(request.raw_body()) > MAX_REQUEST_BYTES:
                raise PayloadTooLarge(f"body: larger than {MAX_REQUEST_BYTES} bytes", field="body")
            route = self._routes.get(request.route_key)
            if route is None:
                found = self.match(request.method, request.raw_path)
                if found is None:
                    raise NotFound(f"no route for {request.method} {request.raw_path}")
                route, params = found
                request = request.model_copy(update={"path_parameters": params})
            result = route.fn(request)
            if isinstance(result, Response):
                reply = json_response(result.status, result.body, result.headers)
            else:
                reply = json_response(200 if result is not None else 204, result)
            if route.cache_control and reply["statusCode"] == 200:
                inm = request.headers.get("if-none-match")
                return conditional(reply, route.cache_control, inm)
            return reply
        except Exception as exc:  # the one place errors become responses
            return error_response(exc, request_id, self.logger)
        finally:
            reset_request_id(token)


def build_event(
    method: str,
    path: str,
    *,
    body: bytes | str | None = None,
    query: str = "",
    headers: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
    route_key: str = "$default",
    path_parameters: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An API Gateway HTTP API v2 event as AWS builds it (local server, ASGI app, tests).

    `claims` stand in for what the JWT authorizer verified; binary bodies are base64-encoded.
    """
    from urllib.parse import parse_qsl

    raw = body.encode() if isinstance(body, str) else body
    encoded = False
    text: str | None = None
    if raw is not None:
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(raw).decode(), True
    params = dict(parse_qsl(query, keep_blank_values=True))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "http": {"method": method.upper(), "path": path, "sourceIp": source_ip},
        },
        "isBase64Encoded": encoded,
    }
    if params:
        event["queryStringParameters"] = params
    if path_parameters:
        event["pathParameters"] = path_parameters
    if text is not None:
        event["body"] = text
    if claims:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return event
