"""User activity: validate plays, likes and follows, keep the graph, publish each event.

The domain sees two ports: an `ActivityGraph` (Neptune in the cloud, PostgreSQL locally) and an
`EventPublisher` (Kinesis + SNS). `ActivityEvent` is also the wire format the feed and the
recommendation service consume, so its JSON shape is a contract: add fields, never rename.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol, cast

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app_services.core.errors import BadRequest

Kind = Literal["play", "like", "follow"]
KINDS: tuple[Kind, ...] = ("play", "like", "follow")
MAX_ID_LENGTH = 128
MAX_MS_PLAYED = 24 * 3600 * 1000
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ActivityEvent:
    """One thing a user did. `target_id` is the track (play, like) or the followed user."""

    event_id: str
    kind: Kind
    user_id: str
    target_id: str
    occurred_at: datetime
    artist_id: str | None = None
    ms_played: int | None = None
    #: ISO 3166-1 alpha-2 country of the listener (CloudFront-Viewer-Country), when known.
    country: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "event_id": self.event_id,
            "kind": self.kind,
            "user_id": self.user_id,
            "target_id": self.target_id,
            "artist_id": self.artist_id,
            "ms_played": self.ms_played,
            "country": self.country,
            "occurred_at": self.occurred_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ActivityEvent:
        """Parse an event read back from Kinesis or SNS (raises BadRequest on a foreign shape)."""
        kind = data.get("kind")
        if kind not in KINDS:
            raise BadRequest(f"kind: unknown activity kind {kind!r}", field="kind")
        try:
            occurred_at = datetime.fromisoformat(str(data["occurred_at"]))
            return cls(
                event_id=_identifier(data, "event_id"),
                kind=cast(Kind, kind),
                user_id=_identifier(data, "user_id"),
                target_id=_identifier(data, "target_id"),
                occurred_at=occurred_at,
                artist_id=data.get("artist_id"),
                ms_played=data.get("ms_played"),
                country=viewer_country(data.get("country")),
            )
        except (KeyError, ValueError) as exc:
            raise BadRequest(
                f"occurred_at: not an ISO-8601 timestamp: {exc}", field="occurred_at"
            ) from exc


def viewer_country(value: object) -> str | None:
    """A two-letter upper-case country code, or None for anything else (header absent, `XX`
    placeholders and garbage are not worth failing a listen over)."""
    if isinstance(value, str) and len(value) == 2 and value.isalpha() and value.isupper():
        return value
    return None


class ActivityGraph(Protocol):
    """The graph: (User)-[LISTENED|LIKED]->(Track)-[BY]->(Artist), (User)-[FOLLOWS]->(User).

    Likes and follows are upserts (a replayed event keeps one edge); a play adds to the LISTENED
    edge's play count.
    """

    def record_play(self, event: ActivityEvent) -> None: ...

    def record_like(self, event: ActivityEvent) -> None: ...

    def record_follow(self, event: ActivityEvent) -> None: ...

    def followers(self, user_id: str) -> list[str]: ...


class EventPublisher(Protocol):
    def publish(self, event: ActivityEvent) -> None: ...


Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[^\s]+$")
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlayBody(_Body):
    track_id: Identifier
    artist_id: Identifier
    ms_played: int = Field(ge=0, le=MAX_MS_PLAYED, strict=True)


class LikeBody(_Body):
    track_id: Identifier
    artist_id: Identifier


class FollowBody(_Body):
    user_id: Identifier


BODIES: dict[Kind, type[_Body]] = {"play": PlayBody, "like": LikeBody, "follow": FollowBody}


@dataclass(frozen=True)
class Activity:
    """The service: everything it needs is passed in, so tests and the ASGI app reuse it."""

    graph: ActivityGraph
    publisher: EventPublisher
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], str] = lambda: str(uuid.uuid4())

    def record(
        self, user_id: str, body: PlayBody | LikeBody | FollowBody, country: str | None = None
    ) -> ActivityEvent:
        """Write the graph edge for a validated request, then publish the event."""
        event = self.build(user_id, body, viewer_country(country))
        write = {
            "play": self.graph.record_play,
            "like": self.graph.record_like,
            "follow": self.graph.record_follow,
        }[event.kind]
        write(event)
        self.publisher.publish(event)
        return event

    def build(
        self, user_id: str, body: PlayBody | LikeBody | FollowBody, country: str | None = None
    ) -> ActivityEvent:
        if isinstance(body, FollowBody) and body.user_id == user_id:
            raise BadRequest("user_id: a user cannot follow themselves", field="user_id")
        kind = next(k for k, model in BODIES.items() if isinstance(body, model))
        target = body.user_id if isinstance(body, FollowBody) else body.track_id
        return ActivityEvent(
            event_id=self.new_id(),
            kind=kind,
            user_id=user_id,
            target_id=target,
            occurred_at=self.clock(),
            artist_id=None if isinstance(body, FollowBody) else body.artist_id,
            ms_played=body.ms_played if isinstance(body, PlayBody) else None,
            country=country,
        )


def _identifier(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise BadRequest(f"{field}: must be a non-empty string", field=field)
    return value
