"""Catalog Lambda entry points: the HTTP API (`handler`) and S3 upload ingest (`ingest`)."""

from __future__ import annotations

from typing import Any

from ..core.errors import BadRequest, PayloadTooLarge
from ..core.events import S3Event, parse_model
from . import api
from .service import catalog


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.routes.handle(event, context)


def ingest(event: dict[str, Any], context: Any) -> dict[str, list[Any]]:
    """Ingest created objects; unreadable or implausible files are reported as rejected with
    the reason (`{"key", "reason"}`), infrastructure errors raise (S3 retries the event)."""
    c = catalog()
    ingested: list[str] = []
    rejected: list[dict[str, str]] = []
    for record in parse_model(S3Event, event, where="event").records:
        key = record.s3.object.decoded_key
        if not record.event_name.startswith("ObjectCreated") or key.startswith("covers/"):
            continue
        try:
            ingested.append(c.ingest(record.s3.bucket.name, key)["track_id"])
        except (BadRequest, PayloadTooLarge) as exc:
            c.log.warning("upload rejected", extra={"key": key, "error": exc.message})
            rejected.append({"key": key, "reason": exc.message})
    return {"ingested": ingested, "rejected": rejected}
