"""Thin provider clients: Stripe (official SDK) and PayPal (REST over `core.outbound`).

Each turns provider objects into the domain's `Redirect`, `WebhookEvent` and
`SubscriptionState`; nothing here decides what a state change means.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import stripe
from pydantic import BaseModel, ConfigDict, Field

from ..core.errors import BadRequest, UpstreamError
from ..core.events import parse_model, reject_nul
from ..core.outbound import HttpCall, HttpReply, Send, send_urllib
from .domain import (
    PAYPAL_STATUS,
    STRIPE_STATUS,
    Plan,
    ProviderName,
    Redirect,
    SubscriptionState,
    WebhookEvent,
)

#: How far a webhook's signed timestamp may be from now, either way (Stripe's SDK default). An
#: old one is a replay; one far in the future would stay replayable for as long.
WEBHOOK_TOLERANCE_SECONDS = 300


def _bad_signature(header: str, why: str) -> BadRequest:
    return BadRequest(f"{header}: {why}", field=header, code="invalid_signature")


def _check_fresh(header: str, signed_at: float, now: float) -> None:
    """`timestamp_out_of_range` when `signed_at` is outside the tolerance, either side of now."""
    skew = now - signed_at
    if abs(skew) > WEBHOOK_TOLERANCE_SECONDS:
        when = f"{int(skew)} s ago" if skew > 0 else f"{int(-skew)} s in the future"
        raise BadRequest(
            f"{header}: signed {when}; accepted within {WEBHOOK_TOLERANCE_SECONDS} s of now",
            field=header,
            code="timestamp_out_of_range",
        )


def _json_body(raw_body: bytes) -> Any:
    """The webhook's JSON (400 `body: not valid JSON`), with NUL characters refused."""
    try:
        data = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body: not valid JSON", field="body") from None
    reject_nul(data)
    return data


class _Payload(BaseModel):
    """A provider's JSON: only the fields used are checked, the rest (many) is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


Id = Annotated[str, Field(min_length=1, max_length=255)]


class _StripeObject(_Payload):
    id: Id


class _StripeData(_Payload):
    object: _StripeObject


class StripeEventPayload(_Payload):
    id: Id
    type: Id
    data: _StripeData


class _PayPalResource(_Payload):
    id: Id | None = None
    billing_agreement_id: Id | None = None


class PayPalEventPayload(_Payload):
    id: Id
    event_type: Id
    resource: _PayPalResource


def _pass_end(start: datetime, plan: Plan) -> datetime:
    return start + timedelta(days=plan.pass_days or 0)


def _plan_by(plans: Mapping[str, Plan], attr: str, value: Any) -> Plan:
    for plan in plans.values():
        if getattr(plan, attr) == value or plan.id == value:
            return plan
    raise UpstreamError(f"the provider reports a plan this service does not sell: {value!r}")


@dataclass
class StripeProvider:
    client: stripe.StripeClient
    webhook_secret: str
    name: ProviderName = "stripe"
    clock: Callable[[], float] = time.time

    def start_checkout(
        self,
        user_id: str,
        plan: Plan,
        success_url: str,
        cancel_url: str,
        idempotency_key: str | None = None,
    ) -> Redirect:
        metadata = {"user_id": user_id, "plan": plan.id}
        params: dict[str, Any] = {
            "mode": "subscription" if plan.kind == "subscription" else "payment",
            "line_items": [{"price": plan.stripe_price_id, "quantity": 1}],
            "client_reference_id": user_id,
            "metadata": metadata,
            "success_url": f"{success_url}?session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url": cancel_url,
        }
        if plan.kind == "subscription":
            params["subscription_data"] = {"metadata": metadata}
        try:
            options: dict[str, Any] = (
                {"idempotency_key": idempotency_key} if idempotency_key else {}
            )
            session = self.client.v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options=options,  # type: ignore[arg-type]
            )
        except stripe.StripeError as exc:
            raise UpstreamError(f"Stripe refused the checkout session: {exc.user_message}") from exc
        return Redirect("stripe", session.id, str(session.url))

    def verify(self, raw_body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Signature (on the raw bytes), then freshness, then the JSON and its shape: each
        failure is a 400 saying which."""
        header = headers.get("stripe-signature")
        if not header:
            raise _bad_signature("stripe-signature", "header missing")
        try:
            stripe.WebhookSignature.verify_header(raw_body, header, self.webhook_secret)
        except UnicodeDecodeError:
            raise BadRequest("body: not valid JSON", field="body") from None
        except stripe.SignatureVerificationError as exc:
            why = "does not match the body"
            if "extract" in str(exc) or "scheme" in str(exc):
                why = "expected `t=<timestamp>,v1=<signature>`"
            raise _bad_signature("stripe-signature", why) from None
        signed_at = dict(p.split("=", 1) for p in header.split(",") if "=" in p)["t"]
        _check_fresh("stripe-signature", int(signed_at), self.clock())
        event = parse_model(StripeEventPayload, _json_body(raw_body))
        return WebhookEvent("stripe", event.id, event.type, event.data.object.id)

    def resync(self, event: WebhookEvent, plans: Mapping[str, Plan]) -> SubscriptionState | None:
        try:
            if event.event_type.startswith("checkout.session."):
                return self._from_session(event.resource_id, plans)
            return self._from_subscription(event.resource_id, plans)
        except stripe.StripeError as exc:
            raise UpstreamError(f"Stripe re-sync failed: {exc.user_message}") from exc

    def _from_session(self, session_id: str, plans: Mapping[str, Plan]) -> SubscriptionState | None:
        session = self.client.v1.checkout.sessions.retrieve(session_id).to_dict()
        subscription = session.get("subscription")
        if session.get("mode") == "subscription" and subscription:
            sub_id = subscription if isinstance(subscription, str) else subscription["id"]
            return self._from_subscription(sub_id, plans)
        user = session.get("client_reference_id")
        if session.get("payment_status") != "paid" or not user:
            return None  # a pass is granted only once the money is there
        plan = _plan_by(plans, "id", (session.get("metadata") or {}).get("plan"))
        customer = session.get("customer")
        return SubscriptionState(
            user_id=user,
            provider="stripe",
            status="active",
            plan=plan.id,
            current_period_end=_pass_end(datetime.fromtimestamp(session["created"], UTC), plan),
            provider_customer_id=customer if isinstance(customer, str) else None,
            provider_subscription_id=session["id"],
        )

    def _from_subscription(self, sub_id: str, plans: Mapping[str, Plan]) -> SubscriptionState:
        sub = self.client.v1.subscriptions.retrieve(sub_id).to_dict()
        user = (sub.get("metadata") or {}).get("user_id")
        if not user:
            raise UpstreamError(f"Stripe subscription {sub_id} was not created by this service")
        items = (sub.get("items") or {}).get("data") or []
        price = items[0]["price"]["id"] if items else None
        ends = max((item.get("current_period_end") or 0 for item in items), default=0)
        customer = sub.get("customer")
        return SubscriptionState(
            user_id=user,
            provider="stripe",
            status=STRIPE_STATUS.get(sub.get("status", ""), "incomplete"),
            plan=_plan_by(plans, "stripe_price_id", price).id,
            current_period_end=datetime.fromtimestamp(ends, UTC) if ends else None,
            provider_customer_id=customer
            if isinstance(customer, str)
            else (customer or {}).get("id"),
            provider_subscription_id=sub["id"],
        )


PAYPAL_SIGNATURE_HEADERS = {
    "auth_algo": "paypal-auth-algo",
    "cert_url": "paypal-cert-url",
    "transmission_id": "paypal-transmission-id",
    "transmission_sig": "paypal-transmission-sig",
    "transmission_time": "paypal-transmission-time",
}


@dataclass
class PayPalProvider:
    """PayPal REST v1/v2 with an OAuth client-credentials token (cached until it expires)."""

    client_id: str
    client_secret: str
    webhook_id: str
    base_url: str = "https://api-m.paypal.com"
    send: Send = send_urllib
    name: ProviderName = "paypal"
    clock: Callable[[], float] = time.time
    _token: tuple[str, float] | None = field(default=None, init=False, repr=False)

    def start_checkout(
        self,
        user_id: str,
        plan: Plan,
        success_url: str,
        cancel_url: str,
        idempotency_key: str | None = None,
    ) -> Redirect:
        context = {
            "return_url": success_url,
            "cancel_url": cancel_url,
            "shipping_preference": "NO_SHIPPING",
        }
        if plan.kind == "subscription":
            body: dict[str, Any] = {
                "plan_id": plan.paypal_plan_id,
                "custom_id": user_id,
                "application_context": {**context, "user_action": "SUBSCRIBE_NOW"},
            }
            created = self._api(
                "POST", "/v1/billing/subscriptions", body, request_id=idempotency_key
            )
        else:
            unit = {
                "reference_id": plan.id,
                "custom_id": user_id,
                "amount": {"currency_code": plan.currency, "value": plan.amount},
            }
            body = {
                "intent": "CAPTURE",
                "purchase_units": [unit],
                "application_context": {**context, "user_action": "PAY_NOW"},
            }
            created = self._api("POST", "/v2/checkout/orders", body, request_id=idempotency_key)
        approve = next(
            (
                link["href"]
                for link in created.get("links", [])
                if link["rel"] in ("approve", "payer-action")
            ),
            None,
        )
        if not approve:
            raise UpstreamError("PayPal returned no approval link")
        return Redirect("paypal", created["id"], approve)

    def verify(self, raw_body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Headers and freshness, the JSON, PayPal's verdict on the signature, then the shape."""
        fields = {}
        for key, header in PAYPAL_SIGNATURE_HEADERS.items():
            if not headers.get(header):
                raise _bad_signature(header, "header missing")
            fields[key] = headers[header]
        try:
            sent_at = datetime.fromisoformat(fields["transmission_time"])
        except ValueError:
            raise _bad_signature("paypal-transmission-time", "not an ISO 8601 time") from None
        if sent_at.tzinfo is None:
            raise _bad_signature("paypal-transmission-time", "has no time zone")
        _check_fresh("paypal-transmission-time", sent_at.timestamp(), self.clock())
        data = _json_body(raw_body)
        text = raw_body.decode("utf-8")
        # The event goes back to PayPal verbatim: re-serialising it could change the bytes the
        # signature covers, so it is spliced into the request as the original text.
        head = json.dumps({**fields, "webhook_id": self.webhook_id})[:-1]
        reply = self._api_raw(
            "POST",
            "/v1/notifications/verify-webhook-signature",
            f'{head}, "webhook_event": {text}}}',
        )
        if reply.get("verification_status") != "SUCCESS":
            raise _bad_signature("paypal-transmission-sig", "PayPal did not verify it")
        event = parse_model(PayPalEventPayload, data)
        resource_id = event.resource.billing_agreement_id or event.resource.id
        if resource_id is None:
            raise BadRequest("body.resource.id: missing", field="resource.id")
        return WebhookEvent("paypal", event.id, event.event_type, resource_id)

    def resync(self, event: WebhookEvent, plans: Mapping[str, Plan]) -> SubscriptionState | None:
        if event.event_type == "CHECKOUT.ORDER.APPROVED":
            return self._capture(event, plans)
        sub = self._api("GET", f"/v1/billing/subscriptions/{event.resource_id}")
        ends = (sub.get("billing_info") or {}).get("next_billing_time")
        return SubscriptionState(
            user_id=_required(sub, "custom_id"),
            provider="paypal",
            status=PAYPAL_STATUS.get(str(sub.get("status")), "incomplete"),
            plan=_plan_by(plans, "paypal_plan_id", sub.get("plan_id")).id,
            current_period_end=datetime.fromisoformat(ends) if ends else None,
            provider_customer_id=(sub.get("subscriber") or {}).get("payer_id"),
            provider_subscription_id=_required(sub, "id"),
        )

    def _capture(self, event: WebhookEvent, plans: Mapping[str, Plan]) -> SubscriptionState | None:
        """Capture an approved order (idempotent at PayPal by request id), then read it back."""
        path = f"/v2/checkout/orders/{event.resource_id}"
        self._api("POST", f"{path}/capture", {}, request_id=event.event_id, ok=(200, 201, 422))
        order = self._api("GET", path)
        if order.get("status") != "COMPLETED":
            return None
        unit = order["purchase_units"][0]
        plan = _plan_by(plans, "id", unit.get("reference_id"))
        paid_at = datetime.fromisoformat(order.get("update_time") or order["create_time"])
        return SubscriptionState(
            user_id=_required(unit, "custom_id"),
            provider="paypal",
            status="active",
            plan=plan.id,
            current_period_end=_pass_end(paid_at, plan),
            provider_customer_id=(order.get("payer") or {}).get("payer_id"),
            provider_subscription_id=_required(order, "id"),
        )

    def _access_token(self) -> str:
        if self._token and self._token[1] > time.time() + 60:
            return self._token[0]
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        reply = self.send(
            HttpCall(
                "POST",
                f"{self.base_url}/v1/oauth2/token",
                {
                    "Authorization": f"Basic {basic}",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                urlencode({"grant_type": "client_credentials"}).encode(),
            )
        )
        if reply.status != 200:
            raise UpstreamError(f"PayPal OAuth answered {reply.status}")
        data = reply.json()
        self._token = (data["access_token"], time.time() + int(data.get("expires_in", 0)))
        return self._token[0]

    def _api(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> dict[str, Any]:
        text = None if body is None else json.dumps(body)
        return self._api_raw(method, path, text, request_id=request_id, ok=ok)

    def _api_raw(
        self,
        method: str,
        path: str,
        text: str | None,
        *,
        request_id: str | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {self._access_token()}",
            "Content-Type": "application/json",
            # retries of a POST are safe: PayPal replays the first result for the same id
            "PayPal-Request-Id": request_id or str(uuid.uuid4()),
        }
        call = HttpCall(method, f"{self.base_url}{path}", headers, (text or "").encode())
        reply: HttpReply = self.send(call)
        if reply.status not in ok:
            raise UpstreamError(f"PayPal {method} {path} answered {reply.status}")
        data: dict[str, Any] = reply.json() or {}
        return data


def _required(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise UpstreamError(f"PayPal object without {key}")
    return value
