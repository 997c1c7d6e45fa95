"""Payments: hosted checkout (Stripe Checkout, PayPal) and verified, idempotent webhooks.

Card data never reaches the service: a checkout returns the provider's hosted page URL and only
provider ids come back. A webhook is handled as documenso handles Stripe's:

1. the provider client verifies the signature on the RAW body (400 when it does not match);
2. event types outside the allowlist are acknowledged and ignored;
3. an event id already processed is acknowledged and changes nothing;
4. the payload is trusted only for ids: the state is re-read from the provider's API;
5. the new state and the event id are written in ONE transaction (`processed_events` has a
   unique key), so a replay, even concurrent with the original, changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ..core.errors import BadRequest
from ..core.events import RequestBody

ProviderName = Literal["stripe", "paypal"]
Status = Literal[
    "incomplete", "trialing", "active", "past_due", "canceled", "unpaid", "paused", "expired"
]
ENTITLED: frozenset[str] = frozenset({"trialing", "active"})

ALLOWED_EVENTS: dict[str, frozenset[str]] = {
    "stripe": frozenset(
        {
            "checkout.session.completed",
            "checkout.session.async_payment_succeeded",
            "customer.subscription.created",
            "customer.subscription.updated",
            "customer.subscription.deleted",
            "customer.subscription.paused",
            "customer.subscription.resumed",
        }
    ),
    "paypal": frozenset(
        {
            "BILLING.SUBSCRIPTION.ACTIVATED",
            "BILLING.SUBSCRIPTION.UPDATED",
            "BILLING.SUBSCRIPTION.RE-ACTIVATED",
            "BILLING.SUBSCRIPTION.SUSPENDED",
            "BILLING.SUBSCRIPTION.CANCELLED",
            "BILLING.SUBSCRIPTION.EXPIRED",
            "PAYMENT.SALE.COMPLETED",
            "CHECKOUT.ORDER.APPROVED",
        }
    ),
}

STRIPE_STATUS: dict[str, Status] = {
    "incomplete": "incomplete",
    "incomplete_expired": "expired",
    "trialing": "trialing",
    "active": "active",
    "past_due": "past_due",
    "canceled": "canceled",
    "unpaid": "unpaid",
    "paused": "paused",
}
PAYPAL_STATUS: dict[str, Status] = {
    "APPROVAL_PENDING": "incomplete",
    "APPROVED": "incomplete",
    "ACTIVE": "active",
    "SUSPENDED": "paused",
    "CANCELLED": "canceled",
    "EXPIRED": "expired",
}


class Plan(BaseModel):
    """A product a user can buy: a recurring subscription or a prepaid pass of `pass_days`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    kind: Literal["subscription", "pass"]
    stripe_price_id: str = Field(description="Stripe Price of the plan")
    paypal_plan_id: str | None = Field(None, description="PayPal billing plan (subscriptions)")
    amount: str | None = Field(None, pattern=r"^\d+\.\d{2}$", description="pass price (PayPal)")
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    pass_days: int | None = Field(None, ge=1, le=366)


class CheckoutBody(RequestBody):
    provider: ProviderName
    plan: str = Field(min_length=1, max_length=40)


@dataclass(frozen=True)
class Redirect:
    """Where to send the user to pay: the provider's hosted page."""

    provider: str
    id: str
    url: str


@dataclass(frozen=True)
class WebhookEvent:
    """What a verified webhook tells us: ids only (`resource_id` is the object to re-read)."""

    provider: ProviderName
    event_id: str
    event_type: str
    resource_id: str


@dataclass(frozen=True)
class SubscriptionState:
    """A user's subscription as the provider reports it, in the `subscriptions` vocabulary."""

    user_id: str
    provider: ProviderName
    status: Status
    plan: str
    current_period_end: datetime | None
    provider_customer_id: str | None
    provider_subscription_id: str

    @property
    def entitled(self) -> bool:
        return self.status in ENTITLED


@dataclass(frozen=True)
class Outcome:
    status: Literal["processed", "duplicate", "ignored"]
    event_id: str


class PaymentProvider(Protocol):
    name: ProviderName

    def start_checkout(
        self,
        user_id: str,
        plan: Plan,
        success_url: str,
        cancel_url: str,
        idempotency_key: str | None = None,
    ) -> Redirect:
        """The provider's hosted page; the same `idempotency_key` gets the same one back."""
        ...

    def verify(self, raw_body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """The event, if the signature over `raw_body` is the provider's; else BadRequest."""
        ...

    def resync(self, event: WebhookEvent, plans: Mapping[str, Plan]) -> SubscriptionState | None:
        """The authoritative state of the event's object, read from the provider's API."""
        ...


class PaymentStore(Protocol):
    def processed(self, provider: str, event_id: str) -> bool: ...

    def apply(self, event: WebhookEvent, state: SubscriptionState | None) -> bool:
        """Record the event and apply `state` in one transaction; False if already recorded."""
        ...


def should_replace(current: SubscriptionState | None, incoming: SubscriptionState) -> bool:
    """Whether `incoming` may overwrite the user's stored subscription.

    Updates to the same provider subscription always apply (the provider's state is the truth).
    A different subscription replaces the stored one only if it entitles the user or the stored
    one no longer does: a late "canceled" for an old subscription never revokes a newer one.
    """
    if current is None or incoming.entitled or not current.entitled:
        return True
    return (current.provider, current.provider_subscription_id) == (
        incoming.provider,
        incoming.provider_subscription_id,
    )


@dataclass(frozen=True)
class Payments:
    providers: Mapping[str, PaymentProvider]
    store: PaymentStore
    plans: Mapping[str, Plan]
    success_url: str
    cancel_url: str

    def checkout(
        self, user_id: str, body: CheckoutBody, idempotency_key: str | None = None
    ) -> Redirect:
        """A hosted checkout for `body.plan`. A client's `Idempotency-Key` is handed to the
        provider (scoped to the user), so a retried POST gets the first session, not a second."""
        plan = self.plans.get(body.plan)
        if plan is None:
            raise BadRequest(f"plan: unknown plan {body.plan!r}", field="plan")
        if body.provider == "paypal" and plan.kind == "subscription" and not plan.paypal_plan_id:
            raise BadRequest(f"plan: {plan.id} is not sold through PayPal", field="plan")
        provider = self._provider(body.provider)
        scoped = None
        if idempotency_key is not None:
            scoped = hashlib.sha256(f"{user_id}\n{idempotency_key}".encode()).hexdigest()
        return provider.start_checkout(user_id, plan, self.success_url, self.cancel_url, scoped)

    def webhook(self, provider_name: str, raw_body: bytes, headers: Mapping[str, str]) -> Outcome:
        provider = self._provider(provider_name)
        event = provider.verify(raw_body, {k.lower(): v for k, v in headers.items()})
        if event.event_type not in ALLOWED_EVENTS[provider.name]:
            return Outcome("ignored", event.event_id)
        if self.store.processed(provider.name, event.event_id):
            return Outcome("duplicate", event.event_id)
        state = provider.resync(event, self.plans)
        applied = self.store.apply(event, state)
        return Outcome("processed" if applied else "duplicate", event.event_id)

    def _provider(self, name: str) -> PaymentProvider:
        provider = self.providers.get(name)
        if provider is None:
            raise BadRequest(f"provider: {name!r} is not configured", field="provider")
        return provider
