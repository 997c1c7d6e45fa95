"""Auth Lambda entry point, one handler for the three event kinds the auth functions receive:
the user pool's PreSignUp and PostConfirmation triggers, SQS batches of confirmed profiles (the
profile writer), and the HTTP API's Lambda authorizer requests (the edge gate)."""

from __future__ import annotations

import logging
from typing import Any

from ..core.events import (
    CognitoTriggerEvent,
    SqsEvent,
    batch_failures,
    parse_model,
)
from . import domain, service

logger = logging.getLogger("auth")


def write_profiles(event: dict[str, Any]) -> dict[str, Any]:
    """Insert each queued profile; failed records go back to the queue (then its DLQ)."""
    failed = []
    for record in parse_model(SqsEvent, event, where="event").records:
        try:
            domain.create_profile(record.parsed(domain.NewProfile), service.profiles())
        except Exception:
            logger.exception("profile not written", extra={"message_id": record.message_id})
            failed.append(record.message_id)
    return batch_failures(failed)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Cognito shows a trigger's raised error message to the user and aborts the sign-up."""
    if event.get("type") == "REQUEST" and "routeArn" in event:
        gate = service.gate()
        return domain.authorize_request(
            {k.lower(): v for k, v in (event.get("headers") or {}).items()},
            event.get("identitySource") or [],
            gate.origin_secrets,
            gate.verifier,
        )
    if "Records" in event:
        return write_profiles(event)
    trigger = parse_model(CognitoTriggerEvent, event, where="event")
    if trigger.trigger_source.startswith("PreSignUp_"):
        triggers = service.triggers()
        return domain.pre_sign_up(trigger, triggers.directory, triggers.blocked)
    if trigger.trigger_source.startswith("PostConfirmation_"):
        return domain.post_confirmation(trigger, service.triggers().outbox)
    return trigger.reply()
