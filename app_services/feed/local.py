"""The live feed under `soundstack serve`: API Gateway's WebSocket API and the Kinesis event
source mapping played locally around the feed function's own code (`handler.dispatch`).

- A WebSocket (`ws://feed.localhost:<port>/?token=<token>`) gets the events API Gateway sends
  the function: the `$connect` REQUEST authorizer (a Deny answers the upgrade with 403), CONNECT
  (anything but 200 refuses it too), MESSAGE (`$default`) per frame (410 closes the socket) and
  DISCONNECT.
- What the function posts to a connection goes down its socket (`LocalPusher`); a closed socket
  is "gone", as API Gateway's 410 GoneException.
- `StreamPoller` reads the activity stream (moto's or LocalStack's Kinesis) from its tip, as the
  function's event source mapping (`starting_position=LATEST`) does, and invokes the function
  with the same Kinesis event; a batch item failure is retried from that record.

The token is the user id: locally, as with `x-claim-sub`, whoever reaches loopback is trusted.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from ..core.errors import Unauthorized
from . import handler
from .domain import Feed

logger = logging.getLogger("feed.local")
#: How often the poller asks Kinesis for records (a Lambda event source mapping polls each
#: shard about once a second; locally a faster tip keeps the live feed live).
POLL_SECONDS = 0.25
MAX_RETRIES = 3
BATCH_SIZE = 100


class LocalVerifier:
    """Locally the feed token is the user id (1 to 128 characters, no spaces)."""

    def verify(self, token: str) -> dict[str, Any]:
        if not 1 <= len(token) <= 128 or any(c.isspace() for c in token):
            raise Unauthorized("token: the local feed takes the user id as its token")
        return {"sub": token}


@dataclass
class LocalPusher:
    """`post_to_connection` for sockets this process holds, from any thread."""

    _sockets: dict[str, tuple[asyncio.AbstractEventLoop, Callable[[str], Awaitable[None]]]] = field(
        default_factory=dict
    )

    def attach(
        self, connection_id: str, loop: asyncio.AbstractEventLoop, send: Callable[[str], Any]
    ) -> None:
        self._sockets[connection_id] = (loop, send)

    def detach(self, connection_id: str) -> None:
        self._sockets.pop(connection_id, None)

    def post(self, connection_id: str, data: bytes) -> bool:
        found = self._sockets.get(connection_id)
        if found is None:
            return False
        loop, send = found
        try:
            asyncio.run_coroutine_threadsafe(send(data.decode()), loop).result(timeout=5)  # type: ignore[arg-type]
        except Exception:  # the socket closed under us: gone, like API Gateway's 410
            self.detach(connection_id)
            return False
        return True


def local_feed(pusher: LocalPusher) -> Feed:
    """The feed function's domain wired for local runs: connections in Redis, the graph from
    GRAPH_BACKEND (PostgreSQL locally), pushes through `pusher`, the user id as token."""
    import redis

    from ..activity.repository import GraphSettings, open_graph
    from ..core.settings import load_settings
    from .repository import RedisConnections

    settings = load_settings(GraphSettings)
    if not settings.redis_url:
        raise RuntimeError("the feed keeps its connections in Redis: set REDIS_URL")
    connections = RedisConnections(
        redis.Redis.from_url(settings.redis_url), f"{settings.cache_prefix}feed:"
    )
    return Feed(connections, open_graph(settings), pusher, LocalVerifier())


class LocalSocketApi:
    """The WebSocket API: an ASGI `websocket` scope in, the function's events out."""

    def __init__(self, feed: Callable[[], Feed], pusher: LocalPusher, region: str):
        self.feed = feed
        self.pusher = pusher
        self.method_arn = f"arn:aws:execute-api:{region}:000000000000:local/$default/$connect"

    def _event(self, event_type: str, connection_id: str, **extra: Any) -> dict[str, Any]:
        route = {"CONNECT": "$connect", "DISCONNECT": "$disconnect", "MESSAGE": "$default"}
        return {
            "requestContext": {
                "routeKey": route[event_type],
                "eventType": event_type,
                "connectionId": connection_id,
                "requestId": str(uuid.uuid4()),
                "domainName": "feed.localhost",
                "stage": "local",
            },
            "isBase64Encoded": False,
            **extra,
        }

    async def _call(self, event: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(handler.dispatch, event, self.feed)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        raw = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        query = {k: v[-1] for k, v in raw.items()}
        authorizer = {"type": "REQUEST", "methodArn": self.method_arn}
        policy = await self._call({**authorizer, "queryStringParameters": query})
        if policy["policyDocument"]["Statement"][0]["Effect"] != "Allow":
            await send({"type": "websocket.close", "code": 1008})  # uvicorn answers 403
            return
        connection_id = base64.b64encode(uuid.uuid4().bytes[:10]).decode()
        connected = await self._call(
            self._event("CONNECT", connection_id, queryStringParameters=query)
        )
        if connected.get("statusCode") != 200:
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept"})
        loop = asyncio.get_running_loop()
        self.pusher.attach(
            connection_id, loop, lambda text: send({"type": "websocket.send", "text": text})
        )
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                body = message.get("text") or (message.get("bytes") or b"").decode()
                reply = await self._call(self._event("MESSAGE", connection_id, body=body))
                if reply.get("statusCode") == 410:
                    await send({"type": "websocket.close", "code": 1001})
                    break
        finally:
            self.pusher.detach(connection_id)
            await self._call(self._event("DISCONNECT", connection_id))


@dataclass
class StreamPoller:
    """The event source mapping: Kinesis records from the tip, in order, into the function."""

    kinesis: Any  # boto3 "kinesis" client
    stream_name: str
    invoke: Callable[[dict[str, Any]], dict[str, Any]]
    region: str = "eu-west-1"
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Take the shards' tips now (records put from here on are delivered), then poll."""
        shards = self.kinesis.list_shards(StreamName=self.stream_name)["Shards"]
        iterators = {
            s["ShardId"]: self.kinesis.get_shard_iterator(
                StreamName=self.stream_name, ShardId=s["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]
            for s in shards
        }
        self._thread = threading.Thread(target=self._run, args=(iterators,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self, iterators: dict[str, str]) -> None:
        retries: dict[str, int] = {}
        while not self._stop.is_set():
            for shard, iterator in list(iterators.items()):
                try:
                    iterators[shard] = self._poll(shard, iterator, retries)
                except Exception:
                    logger.exception("activity stream poll failed", extra={"shard": shard})
            self._stop.wait(POLL_SECONDS)

    def _poll(self, shard: str, iterator: str, retries: dict[str, int]) -> str:
        batch = self.kinesis.get_records(ShardIterator=iterator, Limit=BATCH_SIZE)
        records = batch["Records"]
        if not records:
            return str(batch["NextShardIterator"])
        failed = self.invoke(self.event(shard, records)).get("batchItemFailures") or []
        if not failed:
            return str(batch["NextShardIterator"])
        first = str(failed[0]["itemIdentifier"])
        retries[first] = retries.get(first, 0) + 1
        if retries[first] > MAX_RETRIES:  # the mapping's maximum_retry_attempts: skip it
            logger.error("activity record given up", extra={"sequence_number": first})
            return str(batch["NextShardIterator"])
        return str(
            self.kinesis.get_shard_iterator(
                StreamName=self.stream_name,
                ShardId=shard,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=first,
            )["ShardIterator"]
        )

    def event(self, shard: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The Kinesis event Lambda builds for a batch of `get_records` records."""
        arn = f"arn:aws:kinesis:{self.region}:000000000000:stream/{self.stream_name}"
        return {
            "Records": [
                {
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{shard}:{r['SequenceNumber']}",
                    "eventName": "aws:kinesis:record",
                    "eventSourceARN": arn,
                    "awsRegion": self.region,
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": r["PartitionKey"],
                        "sequenceNumber": r["SequenceNumber"],
                        "data": base64.b64encode(r["Data"]).decode(),
                        "approximateArrivalTimestamp": _epoch(r.get("ApproximateArrivalTimestamp")),
                    },
                }
                for r in records
            ]
        }


def _epoch(value: Any) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else time.time()


@dataclass
class LocalFeedServer:
    """The socket API and the stream poller around one local feed."""

    sockets: LocalSocketApi
    poller: StreamPoller | None

    def stop(self) -> None:
        if self.poller is not None:
            self.poller.stop()


def start_local_feed(region: str, stream_name: str | None) -> LocalFeedServer:
    """The WebSocket API for the ASGI app and, when `stream_name` is set, the stream poller."""
    import boto3

    pusher = LocalPusher()
    feed = functools.cache(lambda: local_feed(pusher))
    invoke = functools.partial(handler.dispatch, feed=feed)
    poller = None
    if stream_name:
        kinesis = boto3.client("kinesis", region_name=region)
        poller = StreamPoller(kinesis, stream_name, invoke, region)
        poller.start()
    return LocalFeedServer(LocalSocketApi(feed, pusher, region), poller)
