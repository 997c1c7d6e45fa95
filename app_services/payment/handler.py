"""Payment Lambda (HTTP API v2): hosted checkout, provider webhooks, the caller's subscription.

POST /payments/checkout {provider, plan} -> 201 {provider, id, url} (signed-in user);
POST /payments/webhooks/stripe and /payments/webhooks/paypal (no user: the signature is the
authentication) -> 200 {status: processed|duplicate|ignored}; GET /payments/subscription.
Provider keys come from a Secrets Manager secret (PAYMENT_SECRET_ARN), never from code.
The subscription read (the most frequent route) needs neither: the provider SDKs and boto3 load
when checkout or a webhook first wires the providers, not on the cold start.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ..core import aws
from ..core.db import Database
from ..core.errors import BadRequest, NotFound
from ..core.events import HttpApiEvent
from ..core.idempotency import HEADER as IDEMPOTENCY_HEADER
from ..core.idempotency import MAX_KEY_LENGTH
from ..core.logs import configure
from ..core.routing import Response, Routes
from ..core.settings import ServiceSettings, load_settings
from ..core.subscriptions import SubscriptionReader
from .domain import CheckoutBody, PaymentProvider, Payments, Plan
from .repository import PostgresPaymentStore

if TYPE_CHECKING:
    import stripe

    from ..core.outbound import Send


class ProviderSecrets(BaseModel):
    """The JSON in the payment secret (rotated in Secrets Manager)."""

    model_config = ConfigDict(defer_build=True)  # read when the providers are wired

    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    paypal_client_id: str | None = None
    paypal_client_secret: str | None = None


class PaymentSettings(ServiceSettings):
    payment_secret_arn: str = Field(description="Secrets Manager secret with ProviderSecrets")
    payment_plans: list[Plan] = Field(description="JSON list of the plans on sale")
    checkout_success_url: str = Field(pattern=r"^https://")
    checkout_cancel_url: str = Field(pattern=r"^https://")
    paypal_webhook_id: str | None = None
    paypal_api_base: str = Field("https://api-m.paypal.com", pattern=r"^https://")


@functools.cache
def service() -> Payments:
    """Wired on the first checkout or webhook: settings, the provider secret, the providers."""
    from .providers import PayPalProvider, StripeProvider

    settings = load_settings(PaymentSettings)
    secret = aws.client("secretsmanager", settings.aws_region).get_secret_value(
        SecretId=settings.payment_secret_arn
    )
    keys = ProviderSecrets.model_validate(json.loads(secret["SecretString"]))
    providers: dict[str, PaymentProvider] = {}
    if keys.stripe_secret_key and keys.stripe_webhook_secret:
        client = stripe_client(keys.stripe_secret_key)
        providers["stripe"] = StripeProvider(client, keys.stripe_webhook_secret)
    if keys.paypal_client_id and keys.paypal_client_secret and settings.paypal_webhook_id:
        providers["paypal"] = PayPalProvider(
            keys.paypal_client_id,
            keys.paypal_client_secret,
            settings.paypal_webhook_id,
            settings.paypal_api_base,
            paypal_transport(),
        )
    plans = {plan.id: plan for plan in settings.payment_plans}
    store = PostgresPaymentStore(database())
    return Payments(
        providers, store, plans, settings.checkout_success_url, settings.checkout_cancel_url
    )


@functools.cache
def database() -> Database:
    return Database(load_settings(PaymentSettings))


def stripe_client(api_key: str) -> stripe.StripeClient:
    """The Stripe SDK client (a seam: tests give it an http_client that answers locally)."""
    import stripe

    return stripe.StripeClient(api_key, max_network_retries=2)


def paypal_transport() -> Send:
    """How PayPal calls go out (a seam: tests answer them locally)."""
    from ..core.outbound import send_urllib

    return send_urllib


routes = Routes("payment", configure("payment"), settings=(PaymentSettings,))


@routes.route("POST /payments/checkout")
def checkout(request: HttpApiEvent) -> Response:
    user = request.require_user()
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not (1 <= len(key) <= MAX_KEY_LENGTH and key.isprintable()):
        raise BadRequest(
            f"{IDEMPOTENCY_HEADER}: 1 to {MAX_KEY_LENGTH} printable characters",
            field=IDEMPOTENCY_HEADER,
        )
    redirect = service().checkout(user, request.json_body(CheckoutBody), key)
    return Response(201, vars(redirect))


@routes.route("POST /payments/webhooks/{provider}")
def webhook(request: HttpApiEvent) -> dict[str, Any]:
    outcome = service().webhook(request.path("provider"), request.raw_body(), request.headers)
    return vars(outcome)


@routes.route("GET /payments/plans")
def plans(request: HttpApiEvent) -> list[dict[str, Any]]:
    """The plans on sale and the providers each can be bought through (PayPal needs a billing
    plan for a subscription, an amount for a pass); provider-side ids stay on the server."""
    request.require_user()
    return [
        {
            "id": plan.id,
            "kind": plan.kind,
            "currency": plan.currency,
            "amount": plan.amount,
            "pass_days": plan.pass_days,
            "providers": ["stripe"]
            + (["paypal"] if (plan.paypal_plan_id if plan.kind == "subscription" else plan.amount)
               else []),
        }
        for plan in load_settings(PaymentSettings).payment_plans
    ]  # fmt: skip


@routes.route("GET /payments/subscription")
def subscription(request: HttpApiEvent) -> Any:
    user = request.require_user()
    found = SubscriptionReader(database()).get(user)
    if found is None:
        raise NotFound("no subscription for this user")
    return found


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return routes.handle(event, context)
