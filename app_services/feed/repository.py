"""Feed I/O: WebSocket connections in Redis, pushes through the API Gateway Management API.

Connections live in Redis, not PostgreSQL: they are short-lived, written on every connect and
read on every event, and API Gateway closes a WebSocket after at most 2 hours. Each connection
is `feed:conn:<id>` -> user (expires with that limit, so a missed `$disconnect` cleans itself
up) plus a member of the set `feed:user:<user>`; set members whose key has expired are pruned
when read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from botocore.exceptions import ClientError

CONNECTION_TTL_SECONDS = 2 * 3600  # API Gateway's maximum WebSocket connection duration


@dataclass
class RedisConnections:
    client: redis.Redis
    prefix: str = "feed:"
    ttl_seconds: int = CONNECTION_TTL_SECONDS

    def _conn(self, connection_id: str) -> str:
        return f"{self.prefix}conn:{connection_id}"

    def _user(self, user_id: str) -> str:
        return f"{self.prefix}user:{user_id}"

    def add(self, connection_id: str, user_id: str) -> None:
        pipe = self.client.pipeline()
        pipe.set(self._conn(connection_id), user_id, ex=self.ttl_seconds)
        pipe.sadd(self._user(user_id), connection_id)
        pipe.expire(self._user(user_id), self.ttl_seconds)
        pipe.execute()

    def remove(self, connection_id: str) -> None:
        user = self.client.getdel(self._conn(connection_id))
        if user is not None:
            self.client.srem(self._user(_text(user)), connection_id)

    def touch(self, connection_id: str) -> bool:
        return bool(self.client.expire(self._conn(connection_id), self.ttl_seconds))

    def of_users(self, user_ids: Iterable[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for user in user_ids:
            members = sorted(_text(m) for m in self.client.smembers(self._user(user)))
            if not members:
                continue
            alive = self.client.mget([self._conn(m) for m in members])
            stale = [m for m, owner in zip(members, alive, strict=True) if owner is None]
            if stale:
                self.client.srem(self._user(user), *stale)
            live = [m for m, owner in zip(members, alive, strict=True) if owner is not None]
            if live:
                found[user] = live
        return found


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class ManagementApiPusher:
    """post_to_connection on the WebSocket API's callback URL (https://{api}.execute-api...)."""

    client: Any  # boto3 "apigatewaymanagementapi" client with endpoint_url set to that URL

    def post(self, connection_id: str, data: bytes) -> bool:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "GoneException":
                return False
            raise
        return True
