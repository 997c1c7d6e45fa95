"""Payment providers under `soundstack serve`: the doubles (`payment.doubles`) answer the
payment service's Stripe SDK and PayPal calls, their hosted pages live on the local edge
(`core.local_edge.LocalCheckout`), and paying there delivers the provider's signed webhook."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from .doubles import PayPalApi, StripeApi, Webhook

#: The plans `soundstack serve --local-aws` sells (PAYMENT_PLANS), both through both providers.
LOCAL_PLANS = [
    {"id": "premium_monthly", "kind": "subscription", "stripe_price_id": "price_local_premium",
     "paypal_plan_id": "P-LOCAL-PREMIUM", "currency": "EUR"},
    {"id": "pass_30", "kind": "pass", "stripe_price_id": "price_local_pass", "amount": "9.99",
     "currency": "EUR", "pass_days": 30},
]  # fmt: skip
PAYPAL_WEBHOOK_ID = "WH-LOCAL"


@dataclass
class LocalProviders:
    """Both doubles, their hosted pages at `checkout_origin`, and the keys the payment secret
    holds for them (`secret()`)."""

    checkout_origin: str
    webhook_secret: str = field(default_factory=lambda: f"whsec_local_{secrets.token_hex(16)}")
    stripe: StripeApi = field(init=False)
    paypal: PayPalApi = field(init=False)

    def __post_init__(self) -> None:
        self.stripe = StripeApi(self.webhook_secret, f"{self.checkout_origin}/stripe/")
        self.paypal = PayPalApi(f"{self.checkout_origin}/paypal/")

    def secret(self) -> dict[str, str]:
        """The payment secret's JSON (`handler.ProviderSecrets`) for these doubles."""
        return {
            "stripe_secret_key": "sk_test_local",
            "stripe_webhook_secret": self.webhook_secret,
            "paypal_client_id": "local-client",
            "paypal_client_secret": "local-secret",
        }

    def install(self) -> None:
        """Point the payment service's provider seams at the doubles (this process only)."""
        import stripe

        from . import handler

        handler.stripe_client = lambda api_key: stripe.StripeClient(
            api_key, http_client=self.stripe
        )
        handler.paypal_transport = lambda: self.paypal
        handler.service.cache_clear()

    def pending(self, provider: str, object_id: str) -> dict[str, Any] | None:
        """What the hosted page shows for an open checkout: plan, user and where to return."""
        if provider == "stripe":
            session = self.stripe.session(object_id)
            if session is None or session["status"] != "open":
                return None
            return {
                "plan": session["metadata"].get("plan"),
                "user": session["client_reference_id"],
                "return_url": session["success_url"].replace("{CHECKOUT_SESSION_ID}", object_id),
                "cancel_url": session["cancel_url"],
            }
        if provider == "paypal":
            found = self.paypal.pending(object_id)
            if found is None:
                return None
            unit = (found.get("purchase_units") or [{}])[0]
            return {
                "plan": found.get("plan_id") or unit.get("reference_id"),
                "user": found.get("custom_id") or unit.get("custom_id"),
                "return_url": found["return_url"],
                "cancel_url": found["cancel_url"],
            }
        return None

    def pay(self, provider: str, object_id: str) -> Webhook:
        return (
            self.stripe.pay(object_id) if provider == "stripe" else self.paypal.approve(object_id)
        )
