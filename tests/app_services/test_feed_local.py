"""The local feed's stand-ins: the Kinesis event source mapping (moto's Kinesis) and the
socket pusher; the WebSocket API itself is tested over a real socket in test_local_edge.py."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import boto3
import pytest

from soundstack.app_services.activity import records
from soundstack.app_services.core.errors import Unauthorized
from soundstack.app_services.feed.local import MAX_RETRIES, LocalPusher, LocalVerifier, StreamPoller

from .streams import activity


@pytest.fixture
def kinesis(aws: None) -> Any:
    client = boto3.client("kinesis", region_name="eu-west-1")
    client.create_stream(StreamName="activity", ShardCount=1)
    return client


def put(kinesis: Any, *items: Any) -> None:
    for item in items:
        kinesis.put_record(StreamName="activity", Data=json.dumps(item.to_json()).encode(),
                           PartitionKey=item.user_id)  # fmt: skip


def tip(kinesis: Any) -> tuple[str, str]:
    shard = kinesis.list_shards(StreamName="activity")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName="activity", ShardId=shard, ShardIteratorType="LATEST"
    )["ShardIterator"]
    return shard, iterator


def test_records_put_after_the_tip_arrive_in_order_as_lambdas_kinesis_event(kinesis: Any) -> None:
    put(kinesis, activity("play", "before", "t0", 1000))  # older than the mapping: not delivered
    shard, iterator = tip(kinesis)
    events = [activity("play", "u1", "t1", 1000), activity("like", "u2", "t2")]
    put(kinesis, *events)
    seen: list[Any] = []

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        return records.consume(event, seen.append, logging.getLogger("test"))

    poller = StreamPoller(kinesis, "activity", invoke)
    poller._poll(shard, iterator, {})

    assert seen == events
    assert seen[0].event_id == events[0].event_id


def test_a_failed_record_is_retried_from_itself_then_given_up(kinesis: Any) -> None:
    shard, iterator = tip(kinesis)
    events = [activity("play", "u1", "t1", 1000), activity("play", "u1", "t2", 1000)]
    put(kinesis, *events)
    batches: list[list[str]] = []

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        batch = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
        batches.append(batch)
        return {"batchItemFailures": [{"itemIdentifier": batch[-1]}]}  # the second always fails

    poller, retries = StreamPoller(kinesis, "activity", invoke), dict[str, int]()
    for _ in range(MAX_RETRIES + 2):
        iterator = poller._poll(shard, iterator, retries)

    first, second = batches[0]
    assert batches[: MAX_RETRIES + 1] == [[first, second]] + [[second]] * MAX_RETRIES
    assert batches[MAX_RETRIES + 1 :] == []  # given up: the iterator moved past it


def test_the_pusher_says_gone_for_unknown_and_closed_sockets() -> None:
    pusher, sent = LocalPusher(), []
    assert pusher.post("nobody", b"x") is False

    async def send(text: str) -> None:
        sent.append(text)

    async def broken(text: str) -> None:
        raise ConnectionResetError

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        pusher.attach("c1", loop, send)
        pusher.attach("c2", loop, broken)
        assert pusher.post("c1", b'{"type":"activity"}') is True
        assert pusher.post("c2", b"x") is False
        assert pusher.post("c2", b"x") is False  # detached after the failure
        assert sent == ['{"type":"activity"}']
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


def test_the_local_token_is_the_user_id() -> None:
    assert LocalVerifier().verify("alice") == {"sub": "alice"}
    for bad in ("", "two words", "x" * 129):
        with pytest.raises(Unauthorized):
            LocalVerifier().verify(bad)
