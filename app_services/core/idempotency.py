"""`Idempotency-Key` for creating POSTs: a retried request gets the first response, not a twin.

A route wrapped with `@replayable(store)` runs once per (user, method and path, key): the first
request claims the key, its successful response is kept for a day and replayed (header
`idempotent-replayed: true`) to every retry with the same body. The same key with another body is
422; a retry while the first request still runs is 409; a failed first request frees the key.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, Protocol

from .errors import BadRequest, Conflict, ServiceError
from .events import HttpApiEvent
from .routing import Response, RouteFn, jsonable

HEADER = "idempotency-key"
REPLAYED = "idempotent-replayed"
MAX_KEY_LENGTH = 255


class KeyStore(Protocol):
    def claim(self, slot: str, record: dict[str, Any], ttl: int) -> dict[str, Any] | None:
        """Store `record` under `slot` unless present; the present record, or None if claimed."""
        ...

    def save(self, slot: str, record: dict[str, Any], ttl: int) -> None: ...

    def release(self, slot: str) -> None: ...


class RedisKeys:
    """Keys in Redis (SET NX): what the services that create things already run."""

    def __init__(self, client: Any, prefix: str):
        self.client = client
        self.prefix = prefix

    def claim(self, slot: str, record: dict[str, Any], ttl: int) -> dict[str, Any] | None:
        text = json.dumps(record, default=jsonable)
        if self.client.set(self.prefix + slot, text, nx=True, ex=ttl):
            return None
        found = self.client.get(self.prefix + slot)
        return json.loads(found) if found else {"pending": True, **record}

    def save(self, slot: str, record: dict[str, Any], ttl: int) -> None:
        self.client.set(self.prefix + slot, json.dumps(record, default=jsonable), ex=ttl)

    def release(self, slot: str) -> None:
        self.client.delete(self.prefix + slot)


class Unprocessable(ServiceError):
    status = 422
    code = "idempotency_key_reused"


def replayable(
    keys: Callable[[], KeyStore], keep_seconds: int = 24 * 3600, running_seconds: int = 60
) -> Callable[[RouteFn], RouteFn]:
    """Make a creating route honour `Idempotency-Key` (requests without the header run as is)."""

    def wrap(fn: RouteFn) -> RouteFn:
        @functools.wraps(fn)
        def route(request: HttpApiEvent) -> Any:
            key = request.headers.get(HEADER)
            if key is None:
                return fn(request)
            if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
                raise BadRequest(
                    f"{HEADER}: 1 to {MAX_KEY_LENGTH} printable characters", field=HEADER
                )
            scope = f"{request.user_id or '-'} {request.method} {request.raw_path} {key}"
            slot = "idempotency:" + hashlib.sha256(scope.encode()).hexdigest()
            fingerprint = hashlib.sha256(request.raw_body()).hexdigest()
            store = keys()
            earlier = store.claim(
                slot, {"fingerprint": fingerprint, "pending": True}, running_seconds
            )
            if earlier is not None:
                return _replay(earlier, fingerprint)
            try:
                result = fn(request)
            except BaseException:
                store.release(slot)
                raise
            reply = result if isinstance(result, Response) else Response(200, result)
            record = {"fingerprint": fingerprint, "status": reply.status, "body": reply.body}
            store.save(slot, {**record, "headers": reply.headers}, keep_seconds)
            return reply

        return route

    return wrap


def _replay(earlier: dict[str, Any], fingerprint: str) -> Response:
    if earlier.get("fingerprint") != fingerprint:
        raise Unprocessable(f"{HEADER}: already used for a different request body", field=HEADER)
    if earlier.get("pending"):
        raise Conflict(f"{HEADER}: the first request with this key is still running", field=HEADER)
    headers = {**earlier.get("headers", {}), REPLAYED: "true"}
    return Response(earlier["status"], earlier["body"], headers)
