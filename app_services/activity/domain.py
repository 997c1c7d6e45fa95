"""User activity: validate plays, likes and follows, keep the graph, publish each event.

The domain sees four ports: an `ActivityGraph` (Neptune in the cloud, PostgreSQL locally), an
`EventPublisher` (Kinesis + SNS), the `Catalog` it checks what clients send against (the artist
and duration of a track come from there, never from the client; unknown tracks and users are
400) and a `SubmissionLog` that makes a submission with the client's `event_id` idempotent.
`ActivityEvent` is also the wire format the feed and the recommendation service consume, so its
JSON shape is a contract: add fields, never rename.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol, cast

from pydantic import Field, StringConstraints

from ..core.errors import BadRequest
from ..core.events import RequestBody

Kind = Literal["play", "like", "follow"]
KINDS: tuple[Kind, ...] = ("play", "like", "follow")
MAX_ID_LENGTH = 128
MAX_MS_PLAYED = 24 * 3600 * 1000
#: A play may report this much more than the catalog's duration (decoder and clock rounding).
PLAY_SLACK_MS = 1000
SCHEMA_VERSION = 1
#: Namespace of event ids derived from (user, client event id): a retry maps to the same id.
EVENT_NAMESPACE = uuid.UUID("6f1d3c52-6a55-4d7e-9a8e-3b0f0c6a1d11")


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


@dataclass(frozen=True)
class TrackFacts:
    """What the catalog says about a track: the server's source of artist and duration."""

    artist_id: str
    duration_ms: int


class Catalog(Protocol):
    def track(self, track_id: str) -> TrackFacts | None: ...

    def user_exists(self, user_id: str) -> bool: ...


class SubmissionLog(Protocol):
    """Events submitted with a client event id, so a retried submission is recorded once."""

    def claim(self, event: ActivityEvent) -> ActivityEvent | None:
        """Remember `event`; the event recorded earlier under the same `event_id`, if any."""
        ...

    def release(self, event_id: str) -> None:
        """Forget a claimed event whose recording failed, so the client's retry records it."""
        ...


Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[^\s]+$")
]
ClientEventId = Annotated[
    uuid.UUID, Field(description="a UUID the client makes per event and reuses on every retry")
]


class PlayBody(RequestBody):
    event_id: ClientEventId
    track_id: uuid.UUID
    ms_played: int = Field(ge=0, le=MAX_MS_PLAYED, strict=True)


class LikeBody(RequestBody):
    event_id: ClientEventId | None = None
    track_id: uuid.UUID


class FollowBody(RequestBody):
    event_id: ClientEventId | None = None
    user_id: Identifier


Body = PlayBody | LikeBody | FollowBody
BODIES: dict[Kind, type[Body]] = {"play": PlayBody, "like": LikeBody, "follow": FollowBody}


@dataclass(frozen=True)
class Recorded:
    event: ActivityEvent
    #: False when the submission repeated an event id already recorded (nothing was written).
    new: bool


@dataclass(frozen=True)
class Activity:
    """The service: everything it needs is passed in, so tests and the ASGI app reuse it."""

    graph: ActivityGraph
    publisher: EventPublisher
    catalog: Catalog
    submissions: SubmissionLog
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], str] = lambda: str(uuid.uuid4())

    def record(self, user_id: str, body: Body, country: str | None = None) -> Recorded:
        """Check the request against the catalog, write the graph edge, publish the event; a
        repeated client `event_id` returns the first event and writes nothing."""
        event = self.build(user_id, body, viewer_country(country))
        if body.event_id is not None:
            earlier = self.submissions.claim(event)
            if earlier is not None:
                return Recorded(earlier, new=False)
        write = {
            "play": self.graph.record_play,
            "like": self.graph.record_like,
            "follow": self.graph.record_follow,
        }[event.kind]
        try:
            write(event)
            self.publisher.publish(event)
        except Exception:
            if body.event_id is not None:
                self.submissions.release(event.event_id)
            raise
        return Recorded(event, new=True)

    def build(self, user_id: str, body: Body, country: str | None = None) -> ActivityEvent:
        """The event for a request, with the artist and duration bound taken from the catalog."""
        artist_id: str | None = None
        if isinstance(body, FollowBody):
            if body.user_id == user_id:
                raise BadRequest("user_id: a user cannot follow themselves", field="user_id")
            if not self.catalog.user_exists(body.user_id):
                raise BadRequest(f"user_id: no user {body.user_id}", field="user_id")
            target = body.user_id
        else:
            target = str(body.track_id)
            facts = self.catalog.track(target)
            if facts is None:
                raise BadRequest(f"track_id: no track {target}", field="track_id")
            artist_id = facts.artist_id
            if isinstance(body, PlayBody) and body.ms_played > facts.duration_ms + PLAY_SLACK_MS:
                raise BadRequest(
                    f"ms_played: {body.ms_played} is longer than the track"
                    f" ({facts.duration_ms} ms)",
                    field="ms_played",
                )
        kind = next(k for k, model in BODIES.items() if isinstance(body, model))
        return ActivityEvent(
            event_id=self._event_id(user_id, body.event_id),
            kind=kind,
            user_id=user_id,
            target_id=target,
            occurred_at=self.clock(),
            artist_id=artist_id,
            ms_played=body.ms_played if isinstance(body, PlayBody) else None,
            country=country,
        )

    def _event_id(self, user_id: str, client_id: uuid.UUID | None) -> str:
        """The client's id, scoped to the user (two users' ids never collide downstream)."""
        if client_id is None:
            return self.new_id()
        return str(uuid.uuid5(EVENT_NAMESPACE, f"{user_id}/{client_id}"))


def _identifier(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise BadRequest(f"{field}: must be a non-empty string", field=field)
    return value
