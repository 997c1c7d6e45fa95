"""Stripe and PayPal answered in-process: the doubles the payment tests use, and what
`soundstack serve` checks out through (no provider account exists locally).

`StripeApi` is a `stripe.HTTPClient`: the real SDK builds and parses every request, the double
answers from a table of API objects (path -> object). Checkout sessions it creates are kept
there; `pay(session_id)` is what a buyer completing Stripe's hosted page causes: the session
completes, a subscription (or, for a pass, the payment) exists, and the
`checkout.session.completed` event is signed as Stripe signs webhooks, ready to deliver.
`PayPalApi` answers the PayPal provider's `send` seam the same way: OAuth, subscriptions and
orders (kept), `approve(id)` for the buyer's approval and its webhook, and the
verify-webhook-signature call, which succeeds for the transmissions it issued.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import stripe

from ..core.outbound import HttpCall, HttpReply

#: A paid subscription period of the doubles.
PERIOD = timedelta(days=30)


@dataclass(frozen=True)
class Webhook:
    """A provider's webhook delivery: the raw body and the headers that sign it."""

    provider: str
    body: bytes
    headers: dict[str, str]


def stripe_signature(raw: bytes, secret: str, at: int | None = None) -> str:
    """The Stripe-Signature header exactly as Stripe computes it."""
    t = at or int(time.time())
    v1 = hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={t},v1={v1}"


def stripe_event(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
    """An event body as Stripe sends it (pretty-printed JSON)."""
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {"object": obj},
    }
    return json.dumps(event, indent=2).encode()


def _form_dict(form: dict[str, list[str]], prefix: str) -> dict[str, str]:
    """`prefix[key]=value` fields of a form-encoded Stripe request as a dict."""
    return {k[len(prefix) + 1 : -1]: v[0] for k, v in form.items() if k.startswith(f"{prefix}[")}


class StripeApi(stripe.HTTPClient):
    """Answers the Stripe SDK from `objects` and records every request (see the module)."""

    name = "local"

    def __init__(
        self,
        webhook_secret: str = "whsec_test_secret",
        pay_page: str = "https://checkout.stripe.com/c/pay/",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.webhook_secret = webhook_secret
        self.pay_page = pay_page
        self.clock = clock
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self.headers: list[dict[str, str]] = []
        self._by_idempotency_key: dict[str, str] = {}

    def request(self, method: str, url: str, headers: Any, post_data: Any = None, **_: Any) -> Any:
        path = urlsplit(url).path
        form = parse_qs(post_data or "")
        self.requests.append((method, path, form))
        self.headers.append(dict(headers or {}))
        if method == "post" and path == "/v1/checkout/sessions":
            key = (headers or {}).get("Idempotency-Key")
            if key is None or key not in self._by_idempotency_key:
                session_id = self._create_session(form)["id"]
                if key is not None:  # Stripe replays the first result for a key
                    self._by_idempotency_key[key] = session_id
            else:
                session_id = self._by_idempotency_key[key]
            return json.dumps(self.objects[f"/v1/checkout/sessions/{session_id}"]), 200, {}
        if path in self.objects:
            return json.dumps(self.objects[path]), 200, {}
        error = {"error": {"type": "invalid_request_error", "message": "No such object"}}
        return json.dumps(error), 404, {}

    def close(self) -> None:
        pass

    def _create_session(self, form: dict[str, list[str]]) -> dict[str, Any]:
        session_id = f"cs_test_{secrets.token_hex(12)}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "url": f"{self.pay_page}{session_id}",
            "mode": form.get("mode", ["payment"])[0],
            "status": "open",
            "payment_status": "unpaid",
            "client_reference_id": form.get("client_reference_id", [None])[0],
            "metadata": _form_dict(form, "metadata"),
            "subscription_data_metadata": _form_dict(form, "subscription_data[metadata]"),
            "price": form.get("line_items[0][price]", [None])[0],
            "success_url": form.get("success_url", [""])[0],
            "cancel_url": form.get("cancel_url", [""])[0],
            "created": int(self.clock()),
            "customer": None,
            "subscription": None,
        }
        self.objects[f"/v1/checkout/sessions/{session_id}"] = session
        return session

    def session(self, session_id: str) -> dict[str, Any] | None:
        return self.objects.get(f"/v1/checkout/sessions/{session_id}")

    def pay(self, session_id: str) -> Webhook:
        """The buyer paid on the hosted page: complete the session (a subscription in
        subscription mode) and sign `checkout.session.completed` for delivery."""
        session = self.session(session_id)
        if session is None or session["status"] != "open":
            raise KeyError(f"no open checkout session {session_id}")
        customer = f"cus_{secrets.token_hex(7)}"
        session.update(status="complete", payment_status="paid", customer=customer)
        if session["mode"] == "subscription":
            sub_id = f"sub_{secrets.token_hex(12)}"
            end = int(self.clock() + PERIOD.total_seconds())
            item = {
                "id": f"si_{secrets.token_hex(7)}",
                "object": "subscription_item",
                "current_period_end": end,
                "price": {"id": session["price"], "object": "price"},
            }
            self.objects[f"/v1/subscriptions/{sub_id}"] = {
                "id": sub_id,
                "object": "subscription",
                "status": "active",
                "customer": customer,
                "metadata": session["subscription_data_metadata"],
                "items": {"object": "list", "data": [item]},
            }
            session["subscription"] = sub_id
        raw = stripe_event("checkout.session.completed", {"id": session_id, **session})
        signature = stripe_signature(raw, self.webhook_secret, int(self.clock()))
        return Webhook("stripe", raw, {"stripe-signature": signature})


class PayPalApi:
    """PayPal's REST API as the provider's `send` sees it (see the module)."""

    def __init__(self, approve_page: str = "https://www.paypal.com/checkoutnow?token=") -> None:
        self.approve_page = approve_page
        self.calls: list[HttpCall] = []
        #: What verify-webhook-signature answers for an unknown transmission (tests set it).
        self.verification = "SUCCESS"
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self._sent: set[str] = set()  # transmission ids of webhooks this double signed

    def __call__(self, call: HttpCall) -> HttpReply:
        self.calls.append(call)
        path = urlsplit(call.url).path
        if path == "/v1/oauth2/token":
            return self._json({"access_token": "A21-token", "expires_in": 32400})
        if path == "/v1/notifications/verify-webhook-signature":
            sent = json.loads(call.body).get("transmission_id") in self._sent
            return self._json({"verification_status": "SUCCESS" if sent else self.verification})
        if path == "/v1/billing/subscriptions" and call.method == "POST":
            return self._created(call, self.subscriptions, "I-", "APPROVAL_PENDING")
        if path == "/v2/checkout/orders" and call.method == "POST":
            return self._created(call, self.orders, "O-", "CREATED")
        if path.startswith("/v1/billing/subscriptions/"):
            return self._json(self.subscriptions[path.rsplit("/", 1)[1]])
        if path.endswith("/capture"):
            order = self.orders[path.split("/")[4]]
            order["status"] = "COMPLETED"
            return self._json(order, 201)
        if path.startswith("/v2/checkout/orders/"):
            return self._json(self.orders[path.rsplit("/", 1)[1]])
        return HttpReply(404, b"{}")

    def _created(
        self, call: HttpCall, table: dict[str, dict[str, Any]], prefix: str, status: str
    ) -> HttpReply:
        request_id = call.headers.get("PayPal-Request-Id", "")
        for existing in table.values():  # PayPal replays the first result for a request id
            if existing.get("request_id") == request_id:
                return self._json(existing, 201)
        body = json.loads(call.body)
        object_id = f"{prefix}{secrets.token_hex(8).upper()}"
        context = body.get("application_context") or {}
        link = {"rel": "approve", "href": f"{self.approve_page}{object_id}"}
        table[object_id] = {**body, "id": object_id, "status": status, "links": [link],
                            "request_id": request_id, "return_url": context.get("return_url"),
                            "cancel_url": context.get("cancel_url"),
                            "create_time": datetime.now(UTC).isoformat()}  # fmt: skip
        return self._json(table[object_id], 201)

    def pending(self, object_id: str) -> dict[str, Any] | None:
        """The subscription or order awaiting the buyer's approval."""
        found = self.subscriptions.get(object_id) or self.orders.get(object_id)
        return found if found and found["status"] in ("APPROVAL_PENDING", "CREATED") else None

    def approve(self, object_id: str) -> Webhook:
        """The buyer approved on PayPal's page: the subscription is active (or the order
        approved, for the service to capture), and PayPal's webhook is ready to deliver."""
        if object_id in self.subscriptions:
            sub = self.subscriptions[object_id]
            next_billing = (datetime.now(UTC) + PERIOD).isoformat()
            sub.update(status="ACTIVE", billing_info={"next_billing_time": next_billing},
                       subscriber={"payer_id": "LOCALPAYER"})  # fmt: skip
            kind, resource = "BILLING.SUBSCRIPTION.ACTIVATED", {"id": object_id}
        else:
            self.orders[object_id].update(status="APPROVED", payer={"payer_id": "LOCALPAYER"})
            kind, resource = "CHECKOUT.ORDER.APPROVED", {"id": object_id}
        transmission = str(uuid.uuid4())
        self._sent.add(transmission)
        body = {"id": f"WH-{uuid.uuid4().hex[:17].upper()}", "event_type": kind,
                "resource": resource}  # fmt: skip
        headers = {
            "paypal-auth-algo": "SHA256withRSA",
            "paypal-cert-url": "https://api-m.paypal.com/v1/notifications/certs/CERT-local",
            "paypal-transmission-id": transmission,
            "paypal-transmission-sig": "local",
            "paypal-transmission-time": datetime.now(UTC).isoformat(),
        }
        return Webhook("paypal", json.dumps(body).encode(), headers)

    @staticmethod
    def _json(body: Any, status: int = 200) -> HttpReply:
        return HttpReply(status, json.dumps(body).encode())

    def paths(self) -> list[str]:
        return [f"{c.method} {urlsplit(c.url).path}" for c in self.calls]
