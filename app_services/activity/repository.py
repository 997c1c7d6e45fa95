"""Activity I/O: the graph (Neptune openCypher or PostgreSQL) and the Kinesis + SNS publisher.

The feed's fan-out reads the graph only: with Neptune it never needs the PostgreSQL driver, so
psycopg is imported by `core.db` where a database is opened, not by this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from pydantic import Field

from ..core.errors import UpstreamError
from ..core.outbound import HttpCall, Send, send_urllib, sigv4_sign
from ..core.settings import ServiceSettings
from .domain import ActivityEvent, TrackFacts

if TYPE_CHECKING:
    from ..core.db import Database

# openCypher for Neptune. Nodes carry their application id in `id` (not Neptune's `~id`), so a
# user and a track with the same id never collide. Every statement is parameterised.
PLAY = """
MERGE (u:User {id: $user_id})
MERGE (t:Track {id: $track_id})
MERGE (a:Artist {id: $artist_id})
MERGE (t)-[:BY]->(a)
MERGE (u)-[l:LISTENED]->(t)
ON CREATE SET l.plays = 1, l.ms_played = $ms_played, l.last_at = $at
ON MATCH SET l.plays = l.plays + 1, l.ms_played = l.ms_played + $ms_played, l.last_at = $at
""".strip()
LIKE = """
MERGE (u:User {id: $user_id})
MERGE (t:Track {id: $track_id})
MERGE (a:Artist {id: $artist_id})
MERGE (t)-[:BY]->(a)
MERGE (u)-[k:LIKED]->(t)
ON CREATE SET k.at = $at
""".strip()
FOLLOW = """
MERGE (u:User {id: $user_id})
MERGE (f:User {id: $followee_id})
MERGE (u)-[r:FOLLOWS]->(f)
ON CREATE SET r.at = $at
""".strip()
FOLLOWERS = "MATCH (f:User)-[:FOLLOWS]->(:User {id: $user_id}) RETURN f.id AS user_id"


def cypher_for(event: ActivityEvent) -> tuple[str, dict[str, Any]]:
    """The openCypher statement and parameters that record `event`."""
    at = event.occurred_at.isoformat()
    if event.kind == "follow":
        return FOLLOW, {"user_id": event.user_id, "followee_id": event.target_id, "at": at}
    params = {
        "user_id": event.user_id,
        "track_id": event.target_id,
        "artist_id": event.artist_id,
        "at": at,
    }
    if event.kind == "play":
        return PLAY, {**params, "ms_played": event.ms_played or 0}
    return LIKE, params


@dataclass
class NeptuneGraph:
    """The graph in Amazon Neptune, over the openCypher HTTPS endpoint with IAM (SigV4) auth."""

    endpoint: str  # cluster endpoint host name
    region: str
    credentials: Any  # botocore credentials (refreshed by botocore when they are temporary)
    port: int = 8182
    send: Send = send_urllib

    def request(self, query: str, parameters: dict[str, Any]) -> HttpCall:
        """The signed POST /openCypher call for `query` (what `run` sends)."""
        body = urlencode({"query": query, "parameters": json.dumps(parameters)}).encode()
        call = HttpCall(
            "POST",
            f"https://{self.endpoint}:{self.port}/openCypher",
            {"Content-Type": "application/x-www-form-urlencoded"},
            body,
        )
        return sigv4_sign(call, "neptune-db", self.region, self.credentials)

    def run(self, query: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        reply = self.send(self.request(query, parameters))
        if reply.status != 200:
            raise UpstreamError(f"Neptune openCypher answered {reply.status}")
        return list(reply.json().get("results", []))

    def record_play(self, event: ActivityEvent) -> None:
        self.run(*cypher_for(event))

    def record_like(self, event: ActivityEvent) -> None:
        self.run(*cypher_for(event))

    def record_follow(self, event: ActivityEvent) -> None:
        self.run(*cypher_for(event))

    def followers(self, user_id: str) -> list[str]:
        return sorted(str(row["user_id"]) for row in self.run(FOLLOWERS, {"user_id": user_id}))


@dataclass
class PostgresGraph:
    """The same graph as edge tables (migration 0100_activity.sql): local runs and tests."""

    db: Database

    def record_play(self, event: ActivityEvent) -> None:
        with self.db.transaction() as cur:
            self._track(cur, event)
            cur.execute(
                "INSERT INTO activity_listens (user_id, track_id, plays, ms_played, last_at)"
                " VALUES (%s, %s, 1, %s, %s) ON CONFLICT (user_id, track_id) DO UPDATE SET"
                " plays = activity_listens.plays + 1,"
                " ms_played = activity_listens.ms_played + EXCLUDED.ms_played,"
                " last_at = GREATEST(activity_listens.last_at, EXCLUDED.last_at)",
                (event.user_id, event.target_id, event.ms_played or 0, event.occurred_at),
            )

    def record_like(self, event: ActivityEvent) -> None:
        with self.db.transaction() as cur:
            self._track(cur, event)
            cur.execute(
                "INSERT INTO activity_likes (user_id, track_id, liked_at) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (event.user_id, event.target_id, event.occurred_at),
            )

    def record_follow(self, event: ActivityEvent) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO activity_follows (follower_id, followee_id, followed_at)"
                " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (event.user_id, event.target_id, event.occurred_at),
            )

    def followers(self, user_id: str) -> list[str]:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT follower_id FROM activity_follows WHERE followee_id = %s"
                " ORDER BY follower_id",
                (user_id,),
            )
            return [row["follower_id"] for row in cur.fetchall()]

    @staticmethod
    def _track(cur: Any, event: ActivityEvent) -> None:
        cur.execute(
            "INSERT INTO activity_tracks (track_id, artist_id) VALUES (%s, %s)"
            " ON CONFLICT (track_id) DO UPDATE SET artist_id = EXCLUDED.artist_id",
            (event.target_id, event.artist_id),
        )


@dataclass
class PostgresCatalog:
    """Tracks and users as the catalog and the accounts tables know them."""

    db: Database

    def track(self, track_id: str) -> TrackFacts | None:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT artist_id::text, duration_ms FROM tracks WHERE track_id = %s", (track_id,)
            )
            row = cur.fetchone()
        return TrackFacts(row["artist_id"], row["duration_ms"]) if row else None

    def user_exists(self, user_id: str) -> bool:
        with self.db.transaction() as cur:
            cur.execute("SELECT 1 FROM users WHERE user_id = %s", (user_id,))
            return cur.fetchone() is not None


@dataclass
class PostgresSubmissions:
    """The submission log in `activity_submissions` (migration 0320)."""

    db: Database

    def claim(self, event: ActivityEvent) -> ActivityEvent | None:
        from psycopg.types.json import Jsonb

        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO activity_submissions (event_id, user_id, event) VALUES (%s, %s, %s)"
                " ON CONFLICT (event_id) DO NOTHING",
                (event.event_id, event.user_id, Jsonb(event.to_json())),
            )
            if cur.rowcount == 1:
                return None
            cur.execute(
                "SELECT event FROM activity_submissions WHERE event_id = %s", (event.event_id,)
            )
            row = cur.fetchone()
        return ActivityEvent.from_json(row["event"]) if row else None

    def release(self, event_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM activity_submissions WHERE event_id = %s", (event_id,))


@dataclass
class StreamPublisher:
    """Publishes each event to the Kinesis stream (ordered per user) and the SNS topic.

    The SNS message carries a `kind` attribute so subscribers can filter (e.g. feed: follows).
    """

    kinesis: Any
    sns: Any
    stream_name: str
    topic_arn: str

    def publish(self, event: ActivityEvent) -> None:
        data = json.dumps(event.to_json(), separators=(",", ":"))
        self.kinesis.put_record(
            StreamName=self.stream_name, Data=data.encode(), PartitionKey=event.user_id
        )
        self.sns.publish(
            TopicArn=self.topic_arn,
            Message=data,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": event.kind}},
        )


class GraphSettings(ServiceSettings):
    """Where the graph lives (shared by the activity and feed services)."""

    graph_backend: Literal["neptune", "postgres"] = Field(
        "neptune", description="neptune in the cloud; postgres for local runs and tests"
    )
    neptune_endpoint: str | None = Field(None, description="Neptune cluster endpoint host")
    neptune_port: int = 8182


def open_graph(settings: GraphSettings) -> NeptuneGraph | PostgresGraph:
    """The graph the settings name; Neptune signs with the Lambda role's credentials."""
    if settings.graph_backend == "postgres":
        from ..core.db import Database

        return PostgresGraph(Database(settings))
    if not settings.neptune_endpoint:
        raise RuntimeError("GRAPH_BACKEND=neptune needs NEPTUNE_ENDPOINT")
    import boto3

    credentials = boto3.Session().get_credentials()
    return NeptuneGraph(
        settings.neptune_endpoint, settings.aws_region, credentials, settings.neptune_port
    )
