"""Payment: checkout and webhooks on real PostgreSQL; Stripe and PayPal answered locally.

Stripe goes through the real SDK (`stripe.StripeClient`) with an `http_client` that answers
from a table of API objects; webhooks are signed exactly as Stripe signs them. PayPal's REST
calls go through the provider's `send` seam.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import stripe

from soundstack.app_services.core.db import Database
from soundstack.app_services.core.outbound import HttpCall, HttpReply
from soundstack.app_services.core.routing import build_event
from soundstack.app_services.payment import handler as payment
from soundstack.app_services.payment.domain import SubscriptionState, should_replace

from .conftest import new_user

WEBHOOK_SECRET = "whsec_test_secret"
PLANS = [
    {"id": "premium_monthly", "kind": "subscription", "stripe_price_id": "price_premium",
     "paypal_plan_id": "P-PREMIUM"},
    {"id": "pass_30", "kind": "pass", "stripe_price_id": "price_pass", "amount": "9.99",
     "pass_days": 30},
]  # fmt: skip


class StripeApi(stripe.HTTPClient):
    """Answers the Stripe SDK from `objects` (path -> object) and records every request."""

    name = "local"

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self.headers: list[dict[str, str]] = []

    def request(self, method: str, url: str, headers: Any, post_data: Any = None, **_: Any) -> Any:
        path = urlsplit(url).path
        self.requests.append((method, path, parse_qs(post_data or "")))
        self.headers.append(dict(headers or {}))
        if method == "post" and path == "/v1/checkout/sessions":
            body = {"id": "cs_new", "object": "checkout.session",
                    "url": "https://checkout.stripe.com/c/pay/cs_new"}  # fmt: skip
            return json.dumps(body), 200, {}
        if path in self.objects:
            return json.dumps(self.objects[path]), 200, {}
        error = {"error": {"type": "invalid_request_error", "message": "No such object"}}
        return json.dumps(error), 404, {}

    def close(self) -> None:
        pass


class PayPalApi:
    """PayPal's REST API as the provider's `send` sees it."""

    def __init__(self) -> None:
        self.calls: list[HttpCall] = []
        self.verification = "SUCCESS"
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}

    def __call__(self, call: HttpCall) -> HttpReply:
        self.calls.append(call)
        path = urlsplit(call.url).path
        if path == "/v1/oauth2/token":
            return self._json({"access_token": "A21-token", "expires_in": 32400})
        if path == "/v1/notifications/verify-webhook-signature":
            return self._json({"verification_status": self.verification})
        if path == "/v1/billing/subscriptions" and call.method == "POST":
            link = {"rel": "approve", "href": "https://www.paypal.com/webapps/billing/x"}
            return self._json({"id": "I-NEW", "status": "APPROVAL_PENDING", "links": [link]})
        if path == "/v2/checkout/orders" and call.method == "POST":
            link = {"rel": "approve", "href": "https://www.paypal.com/checkoutnow?token=5O"}
            return self._json({"id": "5O190127TN364715T", "status": "CREATED", "links": [link]})
        if path.startswith("/v1/billing/subscriptions/"):
            return self._json(self.subscriptions[path.rsplit("/", 1)[1]])
        if path.endswith("/capture"):
            order = self.orders[path.split("/")[4]]
            order["status"] = "COMPLETED"
            return self._json(order, 201)
        if path.startswith("/v2/checkout/orders/"):
            return self._json(self.orders[path.rsplit("/", 1)[1]])
        return HttpReply(404, b"{}")

    @staticmethod
    def _json(body: Any, status: int = 200) -> HttpReply:
        return HttpReply(status, json.dumps(body).encode())

    def paths(self) -> list[str]:
        return [f"{c.method} {urlsplit(c.url).path}" for c in self.calls]


@pytest.fixture
def apis(
    aws: None, service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[StripeApi, PayPalApi]]:
    secret = boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
        Name="payment-providers",
        SecretString=json.dumps({
            "stripe_secret_key": "sk_test_123",
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "paypal_client_id": "paypal-client",
            "paypal_client_secret": "paypal-secret",
        }),
    )  # fmt: skip
    for key, value in {
        "PAYMENT_SECRET_ARN": secret["ARN"],
        "PAYMENT_PLANS": json.dumps(PLANS),
        "CHECKOUT_SUCCESS_URL": "https://app.example.com/paid",
        "CHECKOUT_CANCEL_URL": "https://app.example.com/plans",
        "PAYPAL_WEBHOOK_ID": "WH-1",
        "PAYPAL_API_BASE": "https://api-m.sandbox.paypal.com",
    }.items():
        monkeypatch.setenv(key, value)
    stripe_api, paypal_api = StripeApi(), PayPalApi()
    monkeypatch.setattr(
        payment, "stripe_client", lambda key: stripe.StripeClient(key, http_client=stripe_api)
    )
    monkeypatch.setattr(payment, "paypal_transport", lambda: paypal_api)
    payment.service.cache_clear()
    payment.database.cache_clear()
    yield stripe_api, paypal_api
    payment.service.cache_clear()
    payment.database.cache_clear()


def stripe_signature(raw: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """The Stripe-Signature header exactly as Stripe computes it."""
    t = at or int(time.time())
    v1 = hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={t},v1={v1}"


def stripe_event(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {"object": obj},
    }
    return json.dumps(event, indent=2).encode()  # Stripe sends pretty-printed JSON


def deliver(provider: str, raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
    event = build_event("POST", f"/payments/webhooks/{provider}", body=raw, headers=headers)
    return payment.handler(event)


def subscription_row(db: Database, user: str) -> dict[str, Any] | None:
    with db.transaction() as cur:
        cur.execute(
            "SELECT provider, status, plan, current_period_end, provider_customer_id,"
            " provider_subscription_id FROM subscriptions WHERE user_id = %s",
            (user,),
        )
        return cur.fetchone()


def stripe_subscription(user: str, status: str, period_end: int) -> dict[str, Any]:
    item = {"id": "si_1", "object": "subscription_item", "current_period_end": period_end,
            "price": {"id": "price_premium", "object": "price"}}  # fmt: skip
    return {
        "id": "sub_1",
        "object": "subscription",
        "status": status,
        "customer": "cus_1",
        "metadata": {"user_id": user, "plan": "premium_monthly"},
        "items": {"object": "list", "data": [item]},
    }


def test_stripe_checkout_creates_a_hosted_session_for_the_user(
    apis: tuple[StripeApi, PayPalApi],
) -> None:
    stripe_api, _ = apis
    body = json.dumps({"provider": "stripe", "plan": "premium_monthly"})

    reply = payment.handler(
        build_event("POST", "/payments/checkout", body=body, claims={"sub": "user-7"})
    )

    assert reply["statusCode"] == 201
    assert json.loads(reply["body"]) == {
        "provider": "stripe",
        "id": "cs_new",
        "url": "https://checkout.stripe.com/c/pay/cs_new",
    }
    ((method, path, form),) = stripe_api.requests
    assert (method, path) == ("post", "/v1/checkout/sessions")
    assert form["mode"] == ["subscription"]
    assert form["client_reference_id"] == ["user-7"]
    assert form["line_items[0][price]"] == ["price_premium"]
    assert form["subscription_data[metadata][user_id]"] == ["user-7"]
    assert form["success_url"] == ["https://app.example.com/paid?session_id={CHECKOUT_SESSION_ID}"]
    assert not any("card" in key for key in form)  # the hosted page collects the card


def test_a_retried_checkout_with_the_same_idempotency_key_gets_the_first_session(
    apis: tuple[StripeApi, PayPalApi],
) -> None:
    stripe_api, paypal_api = apis

    def checkout(provider: str, user: str, key: str) -> int:
        body = json.dumps({"provider": provider, "plan": "pass_30"})
        event = build_event(
            "POST", "/payments/checkout", body=body, claims={"sub": user},
            headers={"Idempotency-Key": key},
        )  # fmt: skip
        return int(payment.handler(event)["statusCode"])

    statuses = [checkout("stripe", u, k) for u, k in [("a", "k1"), ("a", "k1"), ("b", "k1")]]
    assert statuses == [201] * 3
    keys = [h["Idempotency-Key"] for h in stripe_api.headers]
    assert keys[0] == keys[1] != keys[2]  # Stripe replays the first session for the same key
    assert "k1" not in keys[0]  # scoped to the user, not the client's raw key
    assert [checkout("paypal", "a", k) for k in ("k2", "k2")] == [201, 201]
    orders = [c for c in paypal_api.calls if c.url.endswith("/v2/checkout/orders")]
    assert orders[0].headers["PayPal-Request-Id"] == orders[1].headers["PayPal-Request-Id"]
    assert checkout("stripe", "a", "x" * 300) == 400


def test_paypal_checkout_creates_a_subscription_or_an_order(
    apis: tuple[StripeApi, PayPalApi],
) -> None:
    _, paypal_api = apis
    claims = {"sub": "user-8"}
    sub = payment.handler(build_event("POST", "/payments/checkout", claims=claims,
        body=json.dumps({"provider": "paypal", "plan": "premium_monthly"})))  # fmt: skip
    order = payment.handler(build_event("POST", "/payments/checkout", claims=claims,
        body=json.dumps({"provider": "paypal", "plan": "pass_30"})))  # fmt: skip

    assert json.loads(sub["body"])["url"] == "https://www.paypal.com/webapps/billing/x"
    assert json.loads(order["body"])["id"] == "5O190127TN364715T"
    assert paypal_api.paths() == [
        "POST /v1/oauth2/token",
        "POST /v1/billing/subscriptions",
        "POST /v2/checkout/orders",  # the OAuth token is reused
    ]
    created = json.loads(paypal_api.calls[1].body)
    assert (created["plan_id"], created["custom_id"]) == ("P-PREMIUM", "user-8")
    unit = json.loads(paypal_api.calls[2].body)["purchase_units"][0]
    assert unit == {"reference_id": "pass_30", "custom_id": "user-8",
                    "amount": {"currency_code": "EUR", "value": "9.99"}}  # fmt: skip
    assert paypal_api.calls[1].headers["Authorization"] == "Bearer A21-token"


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"provider": "stripe", "plan": "gold"}, "plan", 400),
        ({"provider": "bitcoin", "plan": "premium_monthly"}, "provider", 400),
        ({"provider": "stripe"}, "plan", 400),
        ({"provider": "stripe", "plan": "pass_30", "card_number": "4242"}, "card_number", 400),
    ],
)
def test_bad_checkout_requests_are_rejected(
    apis: tuple[StripeApi, PayPalApi], body: dict[str, Any], field: str, status: int
) -> None:
    reply = payment.handler(build_event("POST", "/payments/checkout", body=json.dumps(body),
                                        claims={"sub": "u"}))  # fmt: skip
    assert reply["statusCode"] == status
    assert json.loads(reply["body"])["error"]["field"] == field
    assert apis[0].requests == []


def test_checkout_needs_a_signed_in_user(apis: tuple[StripeApi, PayPalApi]) -> None:
    body = json.dumps({"provider": "stripe", "plan": "premium_monthly"})
    assert (
        payment.handler(build_event("POST", "/payments/checkout", body=body))["statusCode"] == 401
    )


def test_stripe_webhook_resyncs_from_the_api_and_a_replay_changes_nothing(
    apis: tuple[StripeApi, PayPalApi], db: Database
) -> None:
    stripe_api, _ = apis
    user = new_user(db)
    period_end = int(time.time()) + 30 * 86400
    stripe_api.objects["/v1/subscriptions/sub_1"] = stripe_subscription(user, "active", period_end)
    # the payload claims "canceled": only its ids are trusted, the state comes from the API
    raw = stripe_event("customer.subscription.updated",
                       {"id": "sub_1", "object": "subscription", "status": "canceled"})  # fmt: skip
    headers = {"Stripe-Signature": stripe_signature(raw)}

    first = deliver("stripe", raw, headers)

    assert first["statusCode"] == 200
    assert json.loads(first["body"])["status"] == "processed"
    row = subscription_row(db, user)
    assert row == {
        "provider": "stripe",
        "status": "active",
        "plan": "premium_monthly",
        "current_period_end": datetime.fromtimestamp(period_end, UTC),
        "provider_customer_id": "cus_1",
        "provider_subscription_id": "sub_1",
    }

    stripe_api.objects["/v1/subscriptions/sub_1"]["status"] = "canceled"
    calls_before = len(stripe_api.requests)
    replay = deliver("stripe", raw, headers)

    assert replay["statusCode"] == 200
    assert json.loads(replay["body"])["status"] == "duplicate"
    assert subscription_row(db, user) == row
    assert len(stripe_api.requests) == calls_before  # not even re-read


def test_a_new_event_with_the_same_object_applies_the_new_state(
    apis: tuple[StripeApi, PayPalApi], db: Database
) -> None:
    stripe_api, _ = apis
    user = new_user(db)
    stripe_api.objects["/v1/subscriptions/sub_1"] = stripe_subscription(user, "active", 2**31 - 1)
    for status in ("active", "past_due"):
        stripe_api.objects["/v1/subscriptions/sub_1"]["status"] = status
        raw = stripe_event("customer.subscription.updated", {"id": "sub_1"})
        assert (
            deliver("stripe", raw, {"stripe-signature": stripe_signature(raw)})["statusCode"] == 200
        )
    assert subscription_row(db, user)["status"] == "past_due"  # type: ignore[index]


def test_stripe_pass_checkout_completed_grants_the_paid_days(
    apis: tuple[StripeApi, PayPalApi], db: Database
) -> None:
    stripe_api, _ = apis
    user = new_user(db)
    created = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp())
    stripe_api.objects["/v1/checkout/sessions/cs_1"] = {
        "id": "cs_1", "object": "checkout.session", "mode": "payment", "payment_status": "paid",
        "client_reference_id": user, "customer": "cus_9", "created": created,
        "metadata": {"user_id": user, "plan": "pass_30"},
    }  # fmt: skip
    raw = stripe_event("checkout.session.completed", {"id": "cs_1", "object": "checkout.session"})

    reply = deliver("stripe", raw, {"stripe-signature": stripe_signature(raw)})

    assert json.loads(reply["body"])["status"] == "processed"
    row = subscription_row(db, user)
    assert row is not None
    assert (row["status"], row["plan"], row["provider_subscription_id"]) == (
        "active",
        "pass_30",
        "cs_1",
    )
    assert row["current_period_end"] == datetime(2030, 1, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    "tamper",
    ["wrong_secret", "changed_body", "no_header", "too_old", "garbage_header"],
)
def test_a_bad_stripe_signature_is_rejected_with_400(
    apis: tuple[StripeApi, PayPalApi], db: Database, tamper: str
) -> None:
    user = new_user(db)
    raw = stripe_event("customer.subscription.updated", {"id": "sub_1"})
    header = {
        "wrong_secret": stripe_signature(raw, secret="whsec_attacker"),
        "changed_body": stripe_signature(raw.replace(b"sub_1", b"sub_2")),
        "too_old": stripe_signature(raw, at=int(time.time()) - 3600),
        "garbage_header": "v1=abc",
        "no_header": None,
    }[tamper]

    reply = deliver("stripe", raw, {"stripe-signature": header} if header else {})

    assert reply["statusCode"] == 400
    code = "timestamp_out_of_range" if tamper == "too_old" else "invalid_signature"
    assert json.loads(reply["body"])["error"]["code"] == code
    assert apis[0].requests == []
    assert subscription_row(db, user) is None


@pytest.mark.parametrize(
    ("offset", "says"), [(-3600, " s ago;"), (3600, " s in the future;"), (10**8, "future")]
)
def test_a_correctly_signed_stripe_event_out_of_the_time_window_says_so(
    apis: tuple[StripeApi, PayPalApi], offset: int, says: str
) -> None:
    raw = stripe_event("customer.subscription.updated", {"id": "sub_1"})
    header = stripe_signature(raw, at=int(time.time()) + offset)

    reply = deliver("stripe", raw, {"stripe-signature": header})

    error = json.loads(reply["body"])["error"]
    assert (reply["statusCode"], error["code"]) == (400, "timestamp_out_of_range")
    assert says in error["message"] and error["field"] == "stripe-signature"
    assert apis[0].requests == []


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (b"[1, 2]", "body", "body: Input should be"),
        (b'{"id": "evt_1", "type": "customer.subscription.updated"}', "data", "data: Field"),
        (b'{"id": "evt_1", "type": "x", "data": {"object": {}}}', "data.object.id", "Field"),
        (b'{"id": "evt_1", "type": "x", "data": {"object": {"id": 7}}}', "data.object.id", "str"),
        (b'{"id": "evt_1", "type": "x", "data": "sub_1"}', "data", "data: Input"),
        (b'{"id": "evt\\u0000", "type": "x", "data": {"object": {"id": "s"}}}', "body.id", "NUL"),
        (b"{not json", "body", "not valid JSON"),
        (b"\xff\xfe", "body", "not valid JSON"),
    ],
)
def test_a_correctly_signed_stripe_body_of_the_wrong_shape_is_400_naming_the_field(
    apis: tuple[StripeApi, PayPalApi], raw: bytes, field: str, message: str
) -> None:
    reply = deliver("stripe", raw, {"stripe-signature": stripe_signature(raw)})

    error = json.loads(reply["body"])["error"]
    assert (reply["statusCode"], error["field"]) == (400, field), error
    assert message in error["message"]
    assert apis[0].requests == []


def test_events_outside_the_allowlist_are_acknowledged_and_ignored(
    apis: tuple[StripeApi, PayPalApi], db: Database
) -> None:
    raw = stripe_event("charge.succeeded", {"id": "ch_1", "object": "charge"})

    reply = deliver("stripe", raw, {"stripe-signature": stripe_signature(raw)})

    assert (reply["statusCode"], json.loads(reply["body"])["status"]) == (200, "ignored")
    assert apis[0].requests == []
    with db.transaction() as cur:
        cur.execute("SELECT 1 FROM processed_events WHERE event_id = %s",
                    (json.loads(raw)["id"],))  # fmt: skip
        assert cur.fetchone() is None


def test_an_unknown_user_is_404_and_the_event_stays_unprocessed(
    apis: tuple[StripeApi, PayPalApi], db: Database
) -> None:
    stripe_api, _ = apis
    ghost = str(uuid.uuid4())
    stripe_api.objects["/v1/subscriptions/sub_1"] = stripe_subscription(ghost, "active", 2**31 - 1)
    raw = stripe_event("customer.subscription.created", {"id": "sub_1"})
    headers = {"stripe-signature": stripe_signature(raw)}

    assert deliver("stripe", raw, headers)["statusCode"] == 404
    with db.transaction() as cur:  # the profile row arrives (post-confirmation trigger)
        cur.execute("INSERT INTO users (user_id, email, display_name) VALUES (%s, %s, 'G')",
                    (ghost, f"{ghost}@example.com"))  # fmt: skip
    retry = deliver("stripe", raw, headers)  # Stripe redelivers: now it applies
    assert json.loads(retry["body"])["status"] == "processed"
    assert subscription_row(db, ghost)["status"] == "active"  # type: ignore[index]


def paypal_headers() -> dict[str, str]:
    return {
        "paypal-auth-algo": "SHA256withRSA",
        "paypal-cert-url": "https://api.paypal.com/v1/notifications/certs/CERT-360caa42",
        "paypal-transmission-id": str(uuid.uuid4()),
        "paypal-transmission-sig": "c2lnbmF0dXJl",
        "paypal-transmission-time": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def test_paypal_webhook_is_verified_by_paypal_with_the_raw_body_then_resynced(
    apis: tuple[StripeApi, PayPalApi], db: Database
) -> None:
    _, paypal_api = apis
    user = new_user(db)
    paypal_api.subscriptions["I-SUB1"] = {
        "id": "I-SUB1", "status": "ACTIVE", "plan_id": "P-PREMIUM", "custom_id": user,
        "subscriber": {"payer_id": "PAYER1"},
        "billing_info": {"next_billing_time": "2030-02-01T10:00:00Z"},
    }  # fmt: skip
    # unusual but valid JSON spacing: re-serialising it would change the signed bytes
    raw = (b'{"id":"WH-EVT-1",  "event_type":"BILLING.SUBSCRIPTION.ACTIVATED",'
           b'"resource":{"id":"I-SUB1","status":"CANCELLED"}}')  # fmt: skip

    reply = deliver("paypal", raw, paypal_headers())

    assert json.loads(reply["body"])["status"] == "processed"
    verify = next(c for c in paypal_api.calls if c.url.endswith("verify-webhook-signature"))
    assert verify.body.endswith(b'"webhook_event": ' + raw + b"}")
    sent = json.loads(verify.body)
    assert (sent["webhook_id"], sent["auth_algo"]) == ("WH-1", "SHA256withRSA")
    row = subscription_row(db, user)
    assert row is not None
    assert (row["provider"], row["status"], row["plan"]) == ("paypal", "active", "premium_monthly")
    assert row["current_period_end"] == datetime(2030, 2, 1, 10, tzinfo=UTC)

    calls = len(paypal_api.calls)
    again = deliver("paypal", raw, paypal_headers())
    assert json.loads(again["body"])["status"] == "duplicate"
    assert paypal_api.paths()[calls:] == ["POST /v1/notifications/verify-webhook-signature"]


def test_paypal_approved_order_is_captured_and_grants_a_pass(
    apis: tuple[StripeApi, PayPalApi], db: Database
) -> None:
    _, paypal_api = apis
    user = new_user(db)
    paypal_api.orders["ORDER1"] = {
        "id": "ORDER1", "status": "APPROVED", "create_time": "2030-03-01T00:00:00Z",
        "update_time": "2030-03-01T00:05:00Z", "payer": {"payer_id": "PAYER2"},
        "purchase_units": [{"reference_id": "pass_30", "custom_id": user}],
    }  # fmt: skip
    raw = json.dumps({"id": "WH-EVT-2", "event_type": "CHECKOUT.ORDER.APPROVED",
                      "resource": {"id": "ORDER1"}}).encode()  # fmt: skip

    reply = deliver("paypal", raw, paypal_headers())

    assert json.loads(reply["body"])["status"] == "processed"
    capture = next(c for c in paypal_api.calls if c.url.endswith("/capture"))
    assert capture.headers["PayPal-Request-Id"] == "WH-EVT-2"  # idempotent at PayPal too
    row = subscription_row(db, user)
    assert row is not None
    assert (row["status"], row["plan"]) == ("active", "pass_30")
    assert row["current_period_end"] == datetime(2030, 3, 31, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"id": "WH-1", "event_type": "X", "resource": "I-SUB1"}', "resource"),
        (b'{"id": "WH-1", "event_type": "X", "resource": {"status": "A"}}', "resource.id"),
        (b'{"id": 5, "event_type": "X", "resource": {"id": "I-SUB1"}}', "id"),
        (b'["WH-1"]', "body"),
    ],
)
def test_a_verified_paypal_body_of_the_wrong_shape_is_400_naming_the_field(
    apis: tuple[StripeApi, PayPalApi], raw: bytes, field: str
) -> None:
    reply = deliver("paypal", raw, paypal_headers())

    assert (reply["statusCode"], json.loads(reply["body"])["error"]["field"]) == (400, field)
    assert not any("/v1/billing/subscriptions/" in c.url for c in apis[1].calls)


@pytest.mark.parametrize("offset", [-3600, 3600, 10**8])
def test_a_paypal_transmission_out_of_the_time_window_is_rejected_before_calling_paypal(
    apis: tuple[StripeApi, PayPalApi], offset: int
) -> None:
    raw = b'{"id": "WH-1", "event_type": "X", "resource": {"id": "I-SUB1"}}'
    headers = paypal_headers()
    sent = datetime.fromtimestamp(time.time() + offset, UTC)
    headers["paypal-transmission-time"] = sent.isoformat()

    reply = deliver("paypal", raw, headers)

    error = json.loads(reply["body"])["error"]
    assert (reply["statusCode"], error["code"]) == (400, "timestamp_out_of_range")
    assert error["field"] == "paypal-transmission-time"
    assert apis[1].calls == []


def test_paypal_webhook_that_paypal_does_not_verify_is_400(
    apis: tuple[StripeApi, PayPalApi], db: Database
) -> None:
    _, paypal_api = apis
    paypal_api.verification = "FAILURE"
    raw = json.dumps({"id": "WH-EVT-3", "event_type": "BILLING.SUBSCRIPTION.CANCELLED",
                      "resource": {"id": "I-SUB1"}}).encode()  # fmt: skip

    assert deliver("paypal", raw, paypal_headers())["statusCode"] == 400
    missing = paypal_headers()
    del missing["paypal-transmission-sig"]
    reply = deliver("paypal", raw, missing)
    assert reply["statusCode"] == 400
    assert json.loads(reply["body"])["error"]["field"] == "paypal-transmission-sig"
    assert not any("/v1/billing/subscriptions/" in c.url for c in paypal_api.calls)


def test_a_late_cancel_of_an_old_subscription_never_revokes_a_newer_one() -> None:
    def state(sub: str, status: str) -> SubscriptionState:
        return SubscriptionState("u", "stripe", status, "premium_monthly", None, "cus", sub)  # type: ignore[arg-type]

    assert not should_replace(state("sub_new", "active"), state("sub_old", "canceled"))
    assert should_replace(state("sub_new", "active"), state("sub_new", "canceled"))
    assert should_replace(state("sub_old", "canceled"), state("sub_new", "active"))
    assert should_replace(None, state("sub_new", "incomplete"))


def test_the_caller_reads_their_subscription(
    apis: tuple[StripeApi, PayPalApi], db: Database
) -> None:
    stripe_api, _ = apis
    user = new_user(db)
    stripe_api.objects["/v1/subscriptions/sub_1"] = stripe_subscription(user, "trialing", 2**31 - 1)
    raw = stripe_event("customer.subscription.created", {"id": "sub_1"})
    deliver("stripe", raw, {"stripe-signature": stripe_signature(raw)})

    mine = payment.handler(build_event("GET", "/payments/subscription", claims={"sub": user}))
    other = payment.handler(build_event("GET", "/payments/subscription", claims={"sub": "nobody"}))

    assert json.loads(mine["body"])["status"] == "trialing"
    assert other["statusCode"] == 404


def test_plans_lists_what_is_on_sale_without_provider_ids(
    apis: tuple[StripeApi, PayPalApi],
) -> None:
    reply = payment.handler(build_event("GET", "/payments/plans", claims={"sub": "listener"}))
    assert reply["statusCode"] == 200
    assert json.loads(reply["body"]) == [
        {"id": "premium_monthly", "kind": "subscription", "currency": "EUR", "amount": None,
         "pass_days": None, "providers": ["stripe", "paypal"]},
        {"id": "pass_30", "kind": "pass", "currency": "EUR", "amount": "9.99", "pass_days": 30,
         "providers": ["stripe", "paypal"]},
    ]  # fmt: skip
    assert "price_" not in reply["body"] and "P-PREMIUM" not in reply["body"]
    assert apis[0].requests == [] and apis[1].calls == []  # nothing asked of the providers
    assert payment.handler(build_event("GET", "/payments/plans"))["statusCode"] == 401
