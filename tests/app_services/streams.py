"""Build Lambda events exactly as Kinesis and SNS deliver activity records to a subscriber."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from soundstack.app_services.activity.domain import ActivityEvent, Kind

STREAM_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/activity"
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:activity"


def activity(
    kind: Kind, user: str, target: str, ms_played: int | None = None, artist: str = "artist"
) -> ActivityEvent:
    return ActivityEvent(
        event_id=str(uuid.uuid4()),
        kind=kind,
        user_id=user,
        target_id=target,
        occurred_at=datetime.now(UTC),
        artist_id=None if kind == "follow" else artist,
        ms_played=ms_played if kind == "play" else None,
    )


def kinesis_event(*items: ActivityEvent | bytes) -> dict[str, Any]:
    """A Kinesis event source mapping batch; bytes items are raw (possibly malformed) data."""
    records = []
    for n, item in enumerate(items):
        data = item if isinstance(item, bytes) else json.dumps(item.to_json()).encode()
        records.append(
            {
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-000000000000:{n:056d}",
                "eventSourceARN": STREAM_ARN,
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "p",
                    "sequenceNumber": f"{49590338271490256608559692538361571095921575989136588898 + n}",
                    "data": base64.b64encode(data).decode(),
                    "approximateArrivalTimestamp": 1545084650.987,
                },
            }
        )
    return {"Records": records}


def sns_event(*items: ActivityEvent) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": TOPIC_ARN,
                    "Message": json.dumps(item.to_json()),
                    "Timestamp": "2025-01-01T00:00:00.000Z",
                    "MessageAttributes": {"kind": {"Type": "String", "Value": item.kind}},
                },
            }
            for item in items
        ]
    }
