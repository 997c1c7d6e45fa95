"""Real-time activity feed: WebSocket connections and fan-out of activity to followers.

A client connects with its Cognito token (`$connect?token=...`); the connection is stored
against the user. Each activity event from the stream goes to every open connection of the
actor's followers (and, for a follow, of the followed user). A connection API Gateway reports
gone is dropped, so the next event does not try it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ..activity.domain import ActivityEvent
from ..core.errors import Unauthorized


class Connections(Protocol):
    def add(self, connection_id: str, user_id: str) -> None: ...

    def remove(self, connection_id: str) -> None: ...

    def touch(self, connection_id: str) -> bool:
        """Extend a live connection's lifetime; False if it is unknown."""
        ...

    def of_users(self, user_ids: Iterable[str]) -> dict[str, list[str]]:
        """Open connection ids per user (users without one are absent)."""
        ...


class Followers(Protocol):
    def followers(self, user_id: str) -> list[str]: ...


class Pusher(Protocol):
    def post(self, connection_id: str, data: bytes) -> bool:
        """Send `data` to a connection; False when API Gateway says it is gone."""
        ...


class Verifier(Protocol):
    def verify(self, token: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class FanOut:
    delivered: int
    dropped: int


def message(event: ActivityEvent) -> bytes:
    """What a client receives for an event."""
    return json.dumps({"type": "activity", "event": event.to_json()}).encode()


def audience(event: ActivityEvent, followers: list[str]) -> list[str]:
    """Who sees the event: the actor's followers, plus the followed user of a follow."""
    users = [u for u in followers if u != event.user_id]
    if event.kind == "follow" and event.target_id not in users:
        users.append(event.target_id)
    return users


@dataclass(frozen=True)
class Feed:
    connections: Connections
    graph: Followers
    pusher: Pusher
    verifier: Verifier

    def authorize(self, token: str | None, method_arn: str) -> dict[str, Any]:
        """The `$connect` authorizer's answer: an IAM policy allowing exactly this connect for a
        valid token, denying it otherwise (API Gateway then answers 403 before any connection)."""
        try:
            if not token:
                raise Unauthorized("token: pass the access token as ?token=", field="token")
            user = str(self.verifier.verify(token)["sub"])
            effect = "Allow"
        except Unauthorized:
            user, effect = "anonymous", "Deny"
        return {
            "principalId": user,
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}
                ],
            },
            "context": {"userId": user},
        }

    def connect(self, connection_id: str, token: str | None) -> str:
        if not token:
            raise Unauthorized("token: pass the access token as ?token=", field="token")
        user = str(self.verifier.verify(token)["sub"])
        self.connections.add(connection_id, user)
        return user

    def disconnect(self, connection_id: str) -> None:
        self.connections.remove(connection_id)

    def keep_alive(self, connection_id: str) -> bool:
        return self.connections.touch(connection_id)

    def fan_out(self, event: ActivityEvent) -> FanOut:
        data = message(event)
        delivered = dropped = 0
        targets = self.connections.of_users(audience(event, self.graph.followers(event.user_id)))
        for connection_ids in targets.values():
            for connection_id in connection_ids:
                if self.pusher.post(connection_id, data):
                    delivered += 1
                else:
                    self.connections.remove(connection_id)
                    dropped += 1
        return FanOut(delivered, dropped)
