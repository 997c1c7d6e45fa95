"""Real-time feed: WebSocket routes and fan-out, on real Redis/PostgreSQL and moto's Management API."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import pytest
import redis
from botocore.awsrequest import AWSResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

from soundstack.app_services.activity.domain import ActivityEvent
from soundstack.app_services.activity.repository import PostgresGraph
from soundstack.app_services.core import tokens
from soundstack.app_services.core.db import Database
from soundstack.app_services.feed import handler as feed

from .conftest import TEST_REDIS
from .streams import activity, kinesis_event, sns_event

POOL = "eu-west-1_FEED"
ISSUER = f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}"
KEY = RSAKey.generate_key(2048, parameters={"kid": "feed-1", "use": "sig", "alg": "RS256"})


@pytest.fixture
def wired(
    aws: None, service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv(
        "FEED_CALLBACK_URL", "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    )
    monkeypatch.setenv("COGNITO_USER_POOL_ID", POOL)
    monkeypatch.setenv("COGNITO_CLIENT_IDS", '["web"]')
    monkeypatch.setenv("GRAPH_BACKEND", "postgres")
    monkeypatch.setattr(
        tokens, "fetch_jwks", lambda url: dict(KeySet([KEY]).as_dict(private=False))
    )
    feed.service.cache_clear()
    gone: set[str] = set()
    pusher_client = feed.service().pusher.client  # type: ignore[attr-defined]

    def api_gateway_says_gone(params: dict[str, Any], **_: Any) -> Any:
        # moto keeps every connection open; a real API Gateway answers 410 for closed ones
        if unquote(params["url_path"].rsplit("/", 1)[-1]) in gone:
            error = {"Error": {"Code": "GoneException", "Message": "gone"},
                     "ResponseMetadata": {"HTTPStatusCode": 410}}  # fmt: skip
            return AWSResponse(params["url"], 410, {}, None), error
        return None

    pusher_client.meta.events.register(
        "before-call.apigatewaymanagementapi.PostToConnection", api_gateway_says_gone
    )
    yield {"gone": gone, "backend": apigatewaymanagementapi_backends["123456789012"]["eu-west-1"]}
    feed.service.cache_clear()


def token(sub: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": sub, "token_use": "access", "client_id": "web", "exp": now + 60}
    return jwt.encode({"alg": "RS256", "kid": "feed-1"}, body | claims, KEY)


def ws(event_type: str, connection_id: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    route = {"CONNECT": "$connect", "DISCONNECT": "$disconnect", "MESSAGE": "$default"}
    event: dict[str, Any] = {
        "requestContext": {
            "routeKey": route[event_type],
            "eventType": event_type,
            "connectionId": connection_id,
            "requestId": str(uuid.uuid4()),
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "stage": "prod",
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if event_type == "MESSAGE":
        event["body"] = '{"action":"ping"}'
    return feed.handler(event)


def connect(user: str) -> str:
    connection_id = f"{uuid.uuid4().hex[:12]}="
    assert ws("CONNECT", connection_id, {"token": token(user)})["statusCode"] == 200
    return connection_id


def received(backend: Any, connection_id: str) -> list[dict[str, Any]]:
    key = quote(connection_id, safe="")  # moto keys connections by the URL-encoded id
    data = backend.connections[key].data if key in backend.connections else b""
    decoder, text, out, at = json.JSONDecoder(), data.decode(), [], 0
    while at < len(text):
        obj, at = decoder.raw_decode(text, at)
        out.append(obj)
    return out


def follow(db: Database, follower: str, followee: str) -> None:
    PostgresGraph(db).record_follow(activity("follow", follower, followee))


def test_fan_out_reaches_followers_connections_and_drops_stale_ones(
    wired: dict[str, Any], db: Database
) -> None:
    alice, bob, carol, dave = (str(uuid.uuid4()) for _ in range(4))
    follow(db, bob, alice)
    follow(db, carol, alice)
    bob_phone, bob_laptop, carol_tab, dave_tab = (
        connect(bob),
        connect(bob),
        connect(carol),
        connect(dave),
    )
    wired["gone"].add(carol_tab)  # carol closed her tab without a $disconnect
    play = activity("play", alice, "track-1", 200_000)

    reply = feed.handler(kinesis_event(play))

    assert reply == {"batchItemFailures": []}
    backend = wired["backend"]
    for connection_id in (bob_phone, bob_laptop):
        (message,) = received(backend, connection_id)
        assert message["type"] == "activity"
        assert ActivityEvent.from_json(message["event"]) == play
    assert received(backend, dave_tab) == []  # dave does not follow alice
    connections = feed.service().connections
    assert connections.of_users([carol]) == {}  # the stale connection is gone
    assert connections.of_users([bob]) == {bob: sorted([bob_phone, bob_laptop])}

    wired["gone"].clear()
    feed.handler(sns_event(activity("like", alice, "track-2")))  # SNS delivery works the same
    assert [m["event"]["kind"] for m in received(backend, bob_phone)] == ["play", "like"]
    assert received(backend, carol_tab) == []  # never tried again


def test_a_follow_also_notifies_the_followed_user(wired: dict[str, Any]) -> None:
    alice, erin = str(uuid.uuid4()), str(uuid.uuid4())
    alice_tab = connect(alice)

    feed.handler(kinesis_event(activity("follow", erin, alice)))

    (message,) = received(wired["backend"], alice_tab)
    assert (message["event"]["kind"], message["event"]["user_id"]) == ("follow", erin)


@pytest.mark.parametrize(
    "query",
    [
        None,
        {"token": ""},
        {"token": "not-a-jwt"},
        {"token": "EXPIRED"},
        {"token": "OTHER_APP"},
    ],
)
def test_connect_without_a_valid_token_is_refused(
    wired: dict[str, Any], query: dict[str, str] | None
) -> None:
    if query and query["token"] == "EXPIRED":
        query = {"token": token("u", exp=int(time.time()) - 600)}
    if query and query["token"] == "OTHER_APP":
        query = {"token": token("u", client_id="someone-else")}

    reply = ws("CONNECT", "conn-x=", query)

    assert reply["statusCode"] == 401
    assert "Traceback" not in reply["body"]
    assert feed.service().connections.of_users(["u"]) == {}


def test_disconnect_and_keep_alive(wired: dict[str, Any], cache_prefix: str) -> None:
    user = str(uuid.uuid4())
    connection_id = connect(user)
    client = redis.Redis.from_url(TEST_REDIS)
    key = f"{cache_prefix}feed:conn:{connection_id}"
    assert client.get(key) == user.encode()
    assert 0 < client.ttl(key) <= 2 * 3600

    assert ws("MESSAGE", connection_id)["statusCode"] == 200
    assert ws("DISCONNECT", connection_id)["statusCode"] == 200
    assert feed.service().connections.of_users([user]) == {}
    assert ws("MESSAGE", connection_id)["statusCode"] == 410  # unknown connection


def test_expired_connection_keys_are_pruned_from_the_user_set(
    wired: dict[str, Any], cache_prefix: str
) -> None:
    user = str(uuid.uuid4())
    kept, expired = connect(user), connect(user)
    client = redis.Redis.from_url(TEST_REDIS)
    client.delete(f"{cache_prefix}feed:conn:{expired}")  # what the 2-hour TTL does

    assert feed.service().connections.of_users([user]) == {user: [kept]}
    assert client.smembers(f"{cache_prefix}feed:user:{user}") == {kept.encode()}


def test_a_push_failure_other_than_gone_retries_the_batch(
    wired: dict[str, Any], db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    follow(db, bob, alice)
    connect(bob)
    pusher = feed.service().pusher

    def throttled(connection_id: str, data: bytes) -> bool:
        raise RuntimeError("LimitExceededException")

    monkeypatch.setattr(pusher, "post", throttled)
    batch = kinesis_event(activity("play", alice, "t", 60_000), activity("like", alice, "t"))

    reply = feed.handler(batch)

    assert [f["itemIdentifier"] for f in reply["batchItemFailures"]] == [
        r["kinesis"]["sequenceNumber"] for r in batch["Records"]
    ]


METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/$connect"


def authorizer_event(query: dict[str, str] | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT"},
    }
    if query is not None:
        event["queryStringParameters"] = query
    return event


def test_connect_authorizer_allows_exactly_this_connect_for_a_valid_token(
    wired: dict[str, Any],
) -> None:
    answer = feed.handler(authorizer_event({"token": token("listener-7")}))

    assert answer["principalId"] == "listener-7"
    assert answer["context"] == {"userId": "listener-7"}
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}


@pytest.mark.parametrize("query", [None, {"token": "not-a-jwt"}, {"token": "OTHER_APP"}])
def test_connect_authorizer_denies_a_missing_or_bad_token(
    wired: dict[str, Any], query: dict[str, str] | None
) -> None:
    if query and query["token"] == "OTHER_APP":
        query = {"token": token("u", client_id="someone-else")}

    answer = feed.handler(authorizer_event(query))

    assert answer["principalId"] == "anonymous"
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Resource"] == METHOD_ARN
