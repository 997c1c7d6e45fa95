"""Real-Time Activity Feed Lambda: the WebSocket API's routes and the activity stream consumer.

WebSocket: `$connect?token=<Cognito access token>`, checked first by this function as the
route's REQUEST authorizer (a Deny policy stops the connect with 403) and again on connect,
`$disconnect`, and `$default` (any message keeps the connection alive; answers 410 when the
connection is unknown). Kinesis or SNS records: each activity event is pushed to the open
connections of the actor's followers; connections API Gateway reports gone are dropped.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
import redis
from botocore.config import Config
from pydantic import Field

from ..activity import records
from ..activity.repository import GraphSettings, open_graph
from ..core.events import WebSocketEvent, parse_model
from ..core.logs import configure, reset_request_id, set_request_id
from ..core.routing import error_response
from ..core.settings import in_lambda, load_settings
from ..core.tokens import CognitoVerifier, issuer_url
from .domain import Feed
from .repository import ManagementApiPusher, RedisConnections

logger = configure("feed")


class FeedSettings(GraphSettings):
    feed_callback_url: str = Field(
        pattern=r"^https://",
        description="https://{api-id}.execute-api.{region}.amazonaws.com/{stage}",
    )
    cognito_user_pool_id: str
    cognito_client_ids: list[str]


if in_lambda():  # the cold start fails loudly on broken settings (as `Routes` does)
    load_settings(FeedSettings)


@functools.cache
def service() -> Feed:
    """Wired once per cold start from the environment."""
    s = load_settings(FeedSettings)
    if not s.redis_url:
        raise RuntimeError("the feed keeps its connections in Redis: set REDIS_URL")
    api = boto3.client(
        "apigatewaymanagementapi",
        region_name=s.aws_region,
        endpoint_url=s.feed_callback_url,
        config=Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=5),
    )
    return Feed(
        RedisConnections(redis.Redis.from_url(s.redis_url), f"{s.cache_prefix}feed:"),
        open_graph(s),
        ManagementApiPusher(api),
        CognitoVerifier(issuer_url(s.aws_region, s.cognito_user_pool_id), s.cognito_client_ids),
    )


def websocket(event: dict[str, Any]) -> dict[str, Any]:
    ws = parse_model(WebSocketEvent, event, where="event")
    context = ws.request_context
    token = set_request_id(context.request_id)
    try:
        if context.event_type == "CONNECT":
            service().connect(context.connection_id, ws.query.get("token"))
        elif context.event_type == "DISCONNECT":
            service().disconnect(context.connection_id)
        elif not service().keep_alive(context.connection_id):
            return {"statusCode": 410}
        return {"statusCode": 200}
    except Exception as exc:  # the WebSocket twin of Routes.handle's mapping
        return error_response(exc, context.request_id, logger)
    finally:
        reset_request_id(token)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    if event.get("type") == "REQUEST" and "methodArn" in event:  # the $connect authorizer
        token = (event.get("queryStringParameters") or {}).get("token")
        return service().authorize(token, str(event["methodArn"]))
    if "Records" in event:
        return records.consume(event, lambda e: service().fan_out(e), logger)
    return websocket(event)
