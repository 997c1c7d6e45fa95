"""User Activity: HTTP handler on real PostgreSQL + moto Kinesis/SNS, and the Neptune client."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials

from soundstack.app_services.activity import handler as activity
from soundstack.app_services.activity.domain import (
    Activity,
    ActivityEvent,
    FollowBody,
    PlayBody,
    TrackFacts,
)
from soundstack.app_services.activity.repository import FOLLOWERS, PLAY, NeptuneGraph, PostgresGraph
from soundstack.app_services.catalog.audio import read_metadata
from soundstack.app_services.catalog.repository import CatalogRepository
from soundstack.app_services.core.db import Database
from soundstack.app_services.core.errors import BadRequest, UpstreamError
from soundstack.app_services.core.outbound import HttpCall, HttpReply
from soundstack.app_services.core.routing import build_event

from .conftest import FIXTURES, new_user


@pytest.fixture
def stream(
    aws: None, service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A Kinesis stream and an SNS topic (with an SQS subscriber to read what was published)."""
    kinesis = boto3.client("kinesis", region_name="eu-west-1")
    kinesis.create_stream(StreamName="activity", ShardCount=1)
    sns = boto3.client("sns", region_name="eu-west-1")
    topic = sns.create_topic(Name="activity")["TopicArn"]
    sqs = boto3.client("sqs", region_name="eu-west-1")
    queue = sqs.create_queue(QueueName="activity-tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    monkeypatch.setenv("ACTIVITY_STREAM_NAME", "activity")
    monkeypatch.setenv("ACTIVITY_TOPIC_ARN", topic)
    monkeypatch.setenv("GRAPH_BACKEND", "postgres")
    activity.service.cache_clear()
    yield {"kinesis": kinesis, "sqs": sqs, "queue": queue}
    activity.service.cache_clear()


@pytest.fixture
def track(db: Database) -> dict[str, Any]:
    """A track in the catalog: {track_id, artist_id, duration_ms}."""
    meta = read_metadata(str(FIXTURES / "tone.ogg"), "x.ogg")
    track_id = CatalogRepository(db).upsert_track(meta, f"u/{uuid.uuid4().hex}.ogg", None)[
        "track_id"
    ]
    with db.transaction() as cur:
        cur.execute(
            "SELECT track_id::text, artist_id::text, duration_ms FROM tracks WHERE track_id = %s",
            (track_id,),
        )
        row = cur.fetchone()
    assert row is not None
    return row


def play(track: dict[str, Any], ms: int, event_id: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "track_id": track["track_id"],
        "ms_played": ms,
    }


def post(path: str, body: Any, user: str | None) -> dict[str, Any]:
    raw = body if isinstance(body, str) else json.dumps(body)
    claims = {"sub": user} if user else None
    return activity.handler(build_event("POST", path, body=raw, claims=claims))


def kinesis_events(kinesis: Any) -> list[dict[str, Any]]:
    shard = kinesis.list_shards(StreamName="activity")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName="activity", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    return [{"key": r["PartitionKey"], **json.loads(r["Data"])} for r in records]


def test_play_is_recorded_in_the_graph_and_published_to_kinesis_and_sns(
    stream: dict[str, Any], db: Database, track: dict[str, Any]
) -> None:
    user, tid = str(uuid.uuid4()), track["track_id"]
    ms = track["duration_ms"] // 2

    first = post("/activity/plays", play(track, ms), user)
    second = post("/activity/plays", play(track, ms), user)

    assert first["statusCode"] == 201 and second["statusCode"] == 201
    event = json.loads(first["body"])
    assert (event["kind"], event["user_id"], event["target_id"]) == ("play", user, tid)
    assert event["artist_id"] == track["artist_id"]  # from the catalog
    with db.transaction() as cur:
        cur.execute(
            "SELECT plays, ms_played FROM activity_listens WHERE user_id = %s AND track_id = %s",
            (user, tid),
        )
        assert cur.fetchone() == {"plays": 2, "ms_played": 2 * ms}
    published = kinesis_events(stream["kinesis"])
    assert [(e["key"], e["kind"], e["ms_played"]) for e in published] == [
        (user, "play", ms),
        (user, "play", ms),
    ]
    messages = stream["sqs"].receive_message(
        QueueUrl=stream["queue"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert {json.loads(m["Body"])["event_id"] for m in messages} == {
        e["event_id"] for e in published
    }


def test_like_and_follow_build_the_graph(
    stream: dict[str, Any], db: Database, track: dict[str, Any]
) -> None:
    alice, bob, carol = new_user(db), new_user(db), new_user(db)

    assert post("/activity/follows", {"user_id": alice}, bob)["statusCode"] == 201
    assert post("/activity/follows", {"user_id": alice}, carol)["statusCode"] == 201
    assert post("/activity/follows", {"user_id": alice}, carol)["statusCode"] == 201  # upsert
    liked = post("/activity/likes", {"track_id": track["track_id"]}, alice)

    assert liked["statusCode"] == 201
    assert PostgresGraph(db).followers(alice) == sorted([bob, carol])
    assert PostgresGraph(db).followers(bob) == []
    with db.transaction() as cur:
        cur.execute(
            "SELECT artist_id FROM activity_tracks WHERE track_id = %s", (track["track_id"],)
        )
        assert cur.fetchone() == {"artist_id": track["artist_id"]}
    assert [e["kind"] for e in kinesis_events(stream["kinesis"])] == [
        "follow",
        "follow",
        "follow",
        "like",
    ]


EID, TID = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/activity/plays", {"event_id": EID, "ms_played": 1000}, "track_id"),
        ("/activity/plays", {"track_id": TID, "ms_played": 1000}, "event_id"),
        ("/activity/plays", {"event_id": EID, "track_id": TID, "ms_played": -1}, "ms_played"),
        ("/activity/plays", {"event_id": EID, "track_id": TID, "ms_played": "9"}, "ms_played"),
        ("/activity/plays", {"event_id": EID, "track_id": "t x", "ms_played": 1}, "track_id"),
        ("/activity/likes", {"track_id": ""}, "track_id"),
        ("/activity/likes", {"track_id": TID, "extra": 1}, "extra"),
        ("/activity/likes", {"track_id": TID, "artist_id": TID}, "artist_id"),  # not the client's
        ("/activity/follows", {"user_id": "u-1"}, "user_id"),  # the caller is u-1
        ("/activity/follows", {"user_id": "a\u0000b"}, "body.user_id"),
        ("/activity/follows", "{not json", "body"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_publishes_nothing(
    stream: dict[str, Any], path: str, body: Any, field: str
) -> None:
    reply = post(path, body, "u-1")

    assert reply["statusCode"] == 400
    error = json.loads(reply["body"])["error"]
    assert error["field"] == field
    assert "Traceback" not in reply["body"]
    assert kinesis_events(stream["kinesis"]) == []


def test_anonymous_requests_are_401(stream: dict[str, Any]) -> None:
    reply = post("/activity/likes", {"track_id": TID}, None)
    assert reply["statusCode"] == 401


def test_the_server_not_the_client_decides_what_a_play_is(
    stream: dict[str, Any], db: Database, track: dict[str, Any]
) -> None:
    user = str(uuid.uuid4())
    day = post("/activity/plays", play(track, 24 * 3600 * 1000), user)
    assert (day["statusCode"], json.loads(day["body"])["error"]["field"]) == (400, "ms_played")
    whole = post("/activity/plays", play(track, track["duration_ms"]), user)
    assert whole["statusCode"] == 201
    for path, body, field in [
        ("/activity/plays", {**play(track, 1), "track_id": str(uuid.uuid4())}, "track_id"),
        ("/activity/likes", {"track_id": str(uuid.uuid4())}, "track_id"),
        ("/activity/follows", {"user_id": str(uuid.uuid4())}, "user_id"),
    ]:
        reply = post(path, body, user)
        assert (reply["statusCode"], json.loads(reply["body"])["error"]["field"]) == (400, field)
    assert [e["target_id"] for e in kinesis_events(stream["kinesis"])] == [track["track_id"]]


def test_a_retried_submission_is_recorded_once(
    stream: dict[str, Any], db: Database, track: dict[str, Any]
) -> None:
    user, other = str(uuid.uuid4()), str(uuid.uuid4())
    body = play(track, 1000)
    first = post("/activity/plays", body, user)
    retry = post("/activity/plays", body, user)
    assert (first["statusCode"], retry["statusCode"]) == (201, 200)
    assert json.loads(retry["body"]) == json.loads(first["body"])
    # another user's submission with the same client id is theirs, not a duplicate
    assert post("/activity/plays", body, other)["statusCode"] == 201
    with db.transaction() as cur:
        cur.execute(
            "SELECT plays FROM activity_listens WHERE user_id = %s AND track_id = %s",
            (user, track["track_id"]),
        )
        assert cur.fetchone() == {"plays": 1}
    published = kinesis_events(stream["kinesis"])
    assert [e["user_id"] for e in published] == [user, other]
    assert published[0]["event_id"] != published[1]["event_id"]


class FakeGraph:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def record_play(self, event: ActivityEvent) -> None:
        self.calls.append(("play", event.target_id))

    def record_like(self, event: ActivityEvent) -> None:
        self.calls.append(("like", event.target_id))

    def record_follow(self, event: ActivityEvent) -> None:
        self.calls.append(("follow", event.target_id))

    def followers(self, user_id: str) -> list[str]:
        return []


class FailingPublisher:
    def publish(self, event: ActivityEvent) -> None:
        raise UpstreamError("kinesis down")


class KnownEverything:
    def track(self, track_id: str) -> TrackFacts | None:
        return TrackFacts("artist-1", 60_000)

    def user_exists(self, user_id: str) -> bool:
        return True


class MemoryLog:
    def __init__(self) -> None:
        self.seen: dict[str, ActivityEvent] = {}

    def claim(self, event: ActivityEvent) -> ActivityEvent | None:
        earlier = self.seen.get(event.event_id)
        self.seen.setdefault(event.event_id, event)
        return earlier

    def release(self, event_id: str) -> None:
        self.seen.pop(event_id, None)


def service_with(publisher: Any, **kwargs: Any) -> Activity:
    return Activity(FakeGraph(), publisher, KnownEverything(), MemoryLog(), **kwargs)


def test_a_publish_failure_surfaces_so_the_client_retries() -> None:
    service = service_with(FailingPublisher())
    body = PlayBody(event_id=uuid.uuid4(), track_id=uuid.uuid4(), ms_played=1)
    with pytest.raises(UpstreamError):
        service.record("u", body)
    assert service.submissions.claim(service.build("u", body)) is None  # the retry records it


def test_events_round_trip_through_their_json_contract() -> None:
    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    service = service_with(FailingPublisher(), clock=lambda: at, new_id=lambda: "e-1")
    event = service.build("u", FollowBody(user_id="v"))

    assert ActivityEvent.from_json(json.loads(json.dumps(event.to_json()))) == event
    with pytest.raises(BadRequest) as bad:
        ActivityEvent.from_json({**event.to_json(), "kind": "skip"})
    assert bad.value.field == "kind"


# --- Neptune: what the openCypher client would send -------------------------------------------


def neptune(replies: list[HttpReply], token: str | None = None) -> tuple[NeptuneGraph, list]:
    sent: list[HttpCall] = []

    def send(call: HttpCall) -> HttpReply:
        sent.append(call)
        return replies.pop(0)

    creds = Credentials("AKIDEXAMPLE", "secret", token)
    graph = NeptuneGraph("db.cluster-x.eu-west-1.neptune.amazonaws.com", "eu-west-1", creds)
    graph.send = send
    return graph, sent


def test_neptune_play_is_a_sigv4_signed_parameterised_opencypher_post() -> None:
    graph, sent = neptune([HttpReply(200, b'{"results": []}')], token="session-token")
    track_id = uuid.uuid4()
    event = Activity(graph, FailingPublisher(), KnownEverything(), MemoryLog()).build(
        "user-1", PlayBody(event_id=uuid.uuid4(), track_id=track_id, ms_played=42_000)
    )

    graph.record_play(event)

    (call,) = sent
    assert call.method == "POST"
    assert call.url == "https://db.cluster-x.eu-west-1.neptune.amazonaws.com:8182/openCypher"
    auth = call.headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/neptune-db/aws4_request" in auth
    assert "SignedHeaders=" in auth and "host" in auth and "x-amz-date" in auth
    assert call.headers["X-Amz-Security-Token"] == "session-token"
    form = urllib.parse.parse_qs(call.body.decode())
    assert form["query"] == [PLAY]
    assert json.loads(form["parameters"][0]) == {
        "user_id": "user-1",
        "track_id": str(track_id),
        "artist_id": "artist-1",
        "ms_played": 42_000,
        "at": event.occurred_at.isoformat(),
    }
    assert "user-1" not in form["query"][0]  # values travel as parameters, never in the text


def test_neptune_followers_reads_the_results_and_errors_are_upstream() -> None:
    body = json.dumps({"results": [{"user_id": "b"}, {"user_id": "a"}]}).encode()
    graph, sent = neptune([HttpReply(200, body), HttpReply(500, b"{}")])

    assert graph.followers("star") == ["a", "b"]
    form = urllib.parse.parse_qs(sent[0].body.decode())
    assert form["query"] == [FOLLOWERS]
    assert json.loads(form["parameters"][0]) == {"user_id": "star"}
    with pytest.raises(UpstreamError):
        graph.followers("star")


@pytest.mark.parametrize(("header", "country"), [("SE", "SE"), ("xx", None), ("Sweden", None)])
def test_play_carries_the_listeners_country_from_cloudfront(
    stream: dict[str, Any], header: str, country: str | None, track: dict[str, Any]
) -> None:
    user = str(uuid.uuid4())
    event = build_event(
        "POST", "/activity/plays", body=json.dumps(play(track, 1000)),
        headers={"cloudfront-viewer-country": header}, claims={"sub": user},
    )  # fmt: skip

    reply = activity.handler(event)

    assert reply["statusCode"] == 201
    assert json.loads(reply["body"])["country"] == country
    (published,) = kinesis_events(stream["kinesis"])
    assert published["country"] == country


def test_country_survives_the_round_trip_through_the_stream() -> None:
    from soundstack.app_services.activity.domain import ActivityEvent

    data = {"event_id": "e1", "kind": "play", "user_id": "u1", "target_id": "t1",
            "occurred_at": "2026-11-27T08:00:00+00:00", "country": "BR"}  # fmt: skip
    assert ActivityEvent.from_json(data).country == "BR"
    assert ActivityEvent.from_json({**data, "country": "brazil"}).country is None
