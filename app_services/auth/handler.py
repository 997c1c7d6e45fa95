"""Auth Lambda entry point: one function for the user pool's PreSignUp and PostConfirmation."""

from __future__ import annotations

from typing import Any

from app_services.auth import domain
from app_services.auth.service import auth
from app_services.core.events import CognitoTriggerEvent, parse_model


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Cognito shows a raised error's message to the user and aborts the sign-up."""
    trigger = parse_model(CognitoTriggerEvent, event, where="event")
    if trigger.trigger_source.startswith("PreSignUp_"):
        return domain.pre_sign_up(trigger, auth().directory, auth().blocked)
    if trigger.trigger_source.startswith("PostConfirmation_"):
        return domain.post_confirmation(trigger, auth().profiles)
    return trigger.reply()
