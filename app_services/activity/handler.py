"""User Activity Lambda (HTTP API v2): record plays, likes and follows for the signed-in user.

POST /activity/plays {event_id, track_id, ms_played}, POST /activity/likes {track_id},
POST /activity/follows {user_id} -> 201 with the published event; `event_id` (a UUID the client
makes once per event, required for plays) makes a retry answer 200 with the first event.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3  # noqa: F401  every route publishes with it: loaded during init, not by a request
from pydantic import Field

from ..core import aws
from ..core.db import Database
from ..core.events import HttpApiEvent
from ..core.logs import configure
from ..core.routing import Response, Routes
from ..core.settings import load_settings
from .domain import Activity, Body, FollowBody, LikeBody, PlayBody
from .repository import (
    GraphSettings,
    PostgresCatalog,
    PostgresSubmissions,
    StreamPublisher,
    open_graph,
)

PlayBody.model_rebuild(force=True)  # the most frequent route's body: built during init


class ActivitySettings(GraphSettings):
    activity_stream_name: str = Field(description="Kinesis stream every event is put on")
    activity_topic_arn: str = Field(description="SNS topic every event is published to")


@functools.cache
def service() -> Activity:
    """The service wired from the environment, once per cold start."""
    settings = load_settings(ActivitySettings)
    publisher = StreamPublisher(
        aws.client("kinesis", settings.aws_region),
        aws.client("sns", settings.aws_region),
        settings.activity_stream_name,
        settings.activity_topic_arn,
    )
    db = Database(settings)
    return Activity(open_graph(settings), publisher, PostgresCatalog(db), PostgresSubmissions(db))


routes = Routes("activity", configure("activity"), settings=(ActivitySettings,))


def _record(request: HttpApiEvent, body: type[Body]) -> Response:
    user = request.require_user()
    # CloudFront adds CloudFront-Viewer-Country on the web distribution's /api/* behaviour.
    country = request.headers.get("cloudfront-viewer-country")
    done = service().record(user, request.json_body(body), country)
    return Response(201 if done.new else 200, done.event.to_json())


@routes.route("POST /activity/plays")
def play(request: HttpApiEvent) -> Response:
    return _record(request, PlayBody)


@routes.route("POST /activity/likes")
def like(request: HttpApiEvent) -> Response:
    return _record(request, LikeBody)


@routes.route("POST /activity/follows")
def follow(request: HttpApiEvent) -> Response:
    return _record(request, FollowBody)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return routes.handle(event, context)
