"""Consuming the activity stream: decode Kinesis or SNS records into `ActivityEvent`s.

Used by every subscriber (feed, recommendation). A record that is not an activity event is
logged and skipped, so one poison record never blocks a shard. When processing fails, the
Kinesis response names the failed record and every later one (`ReportBatchItemFailures`), so
Lambda retries from there in order; SNS has no partial batches, so the error is raised and SNS
retries the delivery.

A subscriber imports this module when its consumer is the hot path (the feed, at import) or
on the first stream batch (the recommendation service, whose hot path is HTTP); the record
validators are built here, with the module, instead of by the first batch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ..core.errors import BadRequest
from ..core.events import KinesisEvent, SnsEvent, batch_failures, parse_model
from .domain import ActivityEvent

KinesisEvent.model_rebuild(force=True)  # every batch parses one: built with the module
SnsEvent.model_rebuild(force=True)


def decode(payload: dict[str, Any], logger: logging.Logger) -> list[tuple[str, ActivityEvent]]:
    """(record id, event) for each well-formed record of a Kinesis or SNS event, in order."""
    raw: list[tuple[str, bytes | str]]
    if _is_sns(payload):
        sns = parse_model(SnsEvent, payload, where="event")
        raw = [(r.sns.message_id, r.sns.message) for r in sns.records]
    else:
        kinesis = parse_model(KinesisEvent, payload, where="event")
        raw = [(r.kinesis.sequence_number, r.kinesis.decoded()) for r in kinesis.records]
    events = []
    for item_id, data in raw:
        try:
            events.append((item_id, ActivityEvent.from_json(json.loads(data))))
        except (ValueError, TypeError, BadRequest) as exc:
            logger.warning(
                "skipping a record that is not an activity event",
                extra={"record": item_id, "error": str(exc)},
            )
    return events


def consume(
    payload: dict[str, Any], process: Callable[[ActivityEvent], object], logger: logging.Logger
) -> dict[str, Any]:
    """Run `process` on each event in order; the partial-batch response for Kinesis."""
    events = decode(payload, logger)
    from_sns = _is_sns(payload)
    for index, (item_id, event) in enumerate(events):
        try:
            process(event)
        except Exception:
            if from_sns:
                raise
            logger.exception("activity record failed", extra={"record": item_id})
            return batch_failures([i for i, _ in events[index:]])
    return batch_failures([])


def _is_sns(payload: dict[str, Any]) -> bool:
    records = payload.get("Records") or [{}]
    return "Sns" in records[0]
