"""Auth: e-mail checks, social account linking (moto Cognito), the profile queue (moto SQS) and
its writer (PostgreSQL), the edge authorizer, and the triggers' 5-second design."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from soundstack.app_services.auth import domain, handler, service
from soundstack.app_services.core import tokens
from soundstack.app_services.core.db import Database
from soundstack.app_services.core.errors import BadRequest


def clear_auth_caches() -> None:
    for cached in (service.triggers, service.profiles, service.gate):
        cached.cache_clear()


@pytest.fixture
def queue_url(aws) -> str:
    return str(boto3.client("sqs").create_queue(QueueName="profiles")["QueueUrl"])


@pytest.fixture
def pool(aws, service_env, queue_url, monkeypatch) -> Iterator[str]:
    monkeypatch.setenv("BLOCKED_EMAIL_DOMAINS", "spam.example, burner.test")
    monkeypatch.setenv("PROFILE_QUEUE_URL", queue_url)
    clear_auth_caches()
    cognito = boto3.client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName="users", UsernameAttributes=["email"])["UserPool"][
        "Id"
    ]
    yield pool_id
    if service.profiles.cache_info().currsize:
        service.profiles().db.close()
    clear_auth_caches()


def queued(queue_url: str) -> list[dict[str, Any]]:
    """Receive what post confirmation sent, as the SQS event source would deliver it."""
    received = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [
        {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"]}
        for m in received.get("Messages", [])
    ]


class LinkRecorder:
    """moto has no AdminLinkProviderForUser: answer it once botocore has validated and
    serialised the request against the real API model, and keep the wire body."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, params: dict, **_) -> tuple[AWSResponse, dict]:
        target = params["headers"]["X-Amz-Target"]
        assert target == "AWSCognitoIdentityProviderService.AdminLinkProviderForUser"
        self.calls.append(json.loads(params["body"]))
        return AWSResponse(params["url"], 200, {}, None), {}


@pytest.fixture
def links(pool) -> LinkRecorder:
    recorder = LinkRecorder()
    client = service.triggers().directory.cognito
    client.meta.events.register("before-call.cognito-idp.AdminLinkProviderForUser", recorder)
    return recorder


def trigger(source: str, pool_id: str, user_name: str, **attributes: str) -> dict:
    return {
        "version": "1",
        "triggerSource": source,
        "region": "eu-west-1",
        "userPoolId": pool_id,
        "userName": user_name,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown", "clientId": "client"},
        "request": {"userAttributes": attributes, "validationData": None},
        "response": {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False},
    }


def native_user(pool_id: str, email: str, verified: bool) -> str:
    created = boto3.client("cognito-idp").admin_create_user(
        UserPoolId=pool_id,
        Username=email,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true" if verified else "false"},
        ],
    )
    return str(created["User"]["Username"])


@pytest.mark.parametrize(
    "email",
    ["plain", "a@b", "a@@b.com", "a b@c.com", "a@-bad.com", "a@b.123", "x..y@b.com", "", "@b.com"],
)
def test_malformed_emails_are_rejected(email):
    with pytest.raises(BadRequest, match="valid e-mail") as info:
        domain.normalise_email(email)
    assert info.value.field == "email"


@pytest.mark.parametrize("email", ["x@mailinator.com", "x@eu.yopmail.com", "x@spam.example"])
def test_disposable_domains_are_rejected(email):
    with pytest.raises(BadRequest, match="Disposable"):
        domain.normalise_email(email, frozenset({"spam.example"}))


def test_valid_email_keeps_local_part_and_lowers_domain():
    assert (
        domain.normalise_email(" Jane.Doe+music@Example.CO.uk ") == "Jane.Doe+music@example.co.uk"
    )


def test_pre_sign_up_accepts_good_and_rejects_blocked_addresses(pool, links):
    event = trigger("PreSignUp_SignUp", pool, "u1", email="ok@example.com")
    reply = handler.handler(event, None)
    assert reply["response"] == event["response"] and reply["userName"] == "u1"
    with pytest.raises(BadRequest, match="Disposable"):
        handler.handler(trigger("PreSignUp_SignUp", pool, "u2", email="x@burner.test"), None)
    with pytest.raises(BadRequest, match="valid e-mail"):
        handler.handler(trigger("PreSignUp_SignUp", pool, "u3", email="not-an-email"), None)
    assert links.calls == []


def test_social_sign_in_is_linked_to_the_verified_account(pool, links):
    username = native_user(pool, "fan@example.com", verified=True)
    event = trigger(
        "PreSignUp_ExternalProvider", pool, "Google_10987654321", email="Fan@Example.com"
    )
    handler.handler(event, None)
    assert links.calls == [
        {
            "UserPoolId": pool,
            "DestinationUser": {"ProviderName": "Cognito", "ProviderAttributeValue": username},
            "SourceUser": {
                "ProviderName": "Google",
                "ProviderAttributeName": "Cognito_Subject",
                "ProviderAttributeValue": "10987654321",
            },
        }
    ]


def test_social_sign_in_is_not_linked_to_unverified_or_missing_accounts(pool, links):
    native_user(pool, "unverified@example.com", verified=False)
    for email in ("unverified@example.com", "nobody@example.com"):
        handler.handler(
            trigger("PreSignUp_ExternalProvider", pool, "facebook_42", email=email), None
        )
    assert links.calls == []
    with pytest.raises(BadRequest, match="userName"):
        handler.handler(
            trigger("PreSignUp_ExternalProvider", pool, "nounderscore", email="a@example.com"), None
        )


def test_post_confirmation_queues_the_profile_and_the_writer_inserts_it_once(
    pool, queue_url, db: Database
):
    sub = str(uuid.uuid4())
    event = trigger(
        "PostConfirmation_ConfirmSignUp",
        pool,
        sub,
        sub=sub,
        email=f"{sub[:8]}@Example.com",
        name="Jo",
    )
    assert handler.handler(event, None)["response"] == event["response"]
    handler.handler(event, None)  # Cognito retries the trigger: two messages, still one row
    with db.transaction() as cur:  # the trigger itself wrote nothing
        cur.execute("SELECT 1 FROM users WHERE user_id = %s", (sub,))
        assert cur.fetchall() == []
    records = queued(queue_url)
    assert [json.loads(r["body"]) for r in records] == [
        {"user_id": sub, "email": f"{sub[:8]}@example.com", "display_name": "Jo"}
    ] * 2
    assert handler.handler({"Records": records}, None) == {"batchItemFailures": []}
    with db.transaction() as cur:
        cur.execute("SELECT email, display_name FROM users WHERE user_id = %s", (sub,))
        assert cur.fetchall() == [{"email": f"{sub[:8]}@example.com", "display_name": "Jo"}]
    forgot = trigger("PostConfirmation_ConfirmForgotPassword", pool, "x", email="x@example.com")
    assert handler.handler(forgot, None)["response"] == forgot["response"]
    assert queued(queue_url) == []
    with pytest.raises(BadRequest, match="sub"):
        handler.handler(
            trigger("PostConfirmation_ConfirmSignUp", pool, "y", email="y@example.com"), None
        )
    with pytest.raises(BadRequest, match=r"event\.triggerSource"):
        handler.handler({"userPoolId": pool}, None)


def test_profile_writer_returns_only_the_failed_records_to_the_queue(pool, db: Database):
    good = str(uuid.uuid4())
    records = [
        {"messageId": "m1", "body": json.dumps(
            {"user_id": good, "email": f"{good[:8]}@example.com", "display_name": "Al"})},
        {"messageId": "m2", "body": "not json"},
        {"messageId": "m3", "body": json.dumps({"user_id": "", "email": "a@b.co"})},
    ]  # fmt: skip
    assert handler.handler({"Records": records}, None) == {
        "batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]
    }
    with db.transaction() as cur:
        cur.execute("SELECT display_name FROM users WHERE user_id = %s", (good,))
        assert cur.fetchall() == [{"display_name": "Al"}]


def test_triggers_never_touch_the_database(pool, queue_url, monkeypatch):
    """A database that cannot answer (as on a cold RDS Proxy path) does not slow a trigger."""
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("DB_HOST", "10.255.255.1")  # unroutable: a connection attempt would hang
    service.load_settings.cache_clear()
    clear_auth_caches()
    sub = str(uuid.uuid4())
    started = time.monotonic()
    handler.handler(trigger("PreSignUp_SignUp", pool, sub, email="new@example.com"), None)
    handler.handler(
        trigger("PostConfirmation_ConfirmSignUp", pool, sub, sub=sub, email="new@example.com"),
        None,
    )
    assert time.monotonic() - started < 1
    assert len(queued(queue_url)) == 1
    assert not service.profiles.cache_info().currsize


def test_trigger_path_imports_neither_the_database_driver_nor_the_jwt_library():
    """What a trigger's cold start loads: measured with -X importtime in the README."""
    code = (
        "import sys, app_services.auth.handler; "
        "print(sorted(m for m in ('psycopg', 'joserfc') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_trigger_clients_answer_within_cognitos_five_seconds(pool):
    """Each AWS call of a trigger gives up after 1 s connect + 2 s read, with no SDK retry:
    Cognito retries the whole trigger itself."""
    triggers = service.triggers()
    for client in (triggers.directory.cognito, triggers.outbox.sqs):
        config = client.meta.config
        assert config.connect_timeout + config.read_timeout < 5
        assert config.retries["total_max_attempts"] == 1


# --- the HTTP API's edge authorizer ------------------------------------------------------------

POOL = "eu-west-1_EDGE"
KEY = RSAKey.generate_key(2048, parameters={"kid": "edge-1", "use": "sig", "alg": "RS256"})
SECRET = "s3cr3t-origin-value-0123456789abcdef"


@pytest.fixture
def origin_secret(aws) -> str:
    """The edge secret as components.api.EdgeSecret stores it (`current,previous`)."""
    return str(
        boto3.client("secretsmanager").create_secret(
            Name="origin-verify", SecretString=f"{SECRET}, previous-secret-value"
        )["ARN"]
    )


@pytest.fixture
def gate(service_env, origin_secret, monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("API_ORIGIN_SECRET_ARN", origin_secret)
    monkeypatch.setenv("COGNITO_USER_POOL_ID", POOL)
    monkeypatch.setenv("COGNITO_CLIENT_IDS", '["web"]')
    monkeypatch.setattr(
        tokens, "fetch_jwks", lambda url: dict(KeySet([KEY]).as_dict(private=False))
    )
    clear_auth_caches()
    yield
    clear_auth_caches()


def access_token(sub: str, **claims: Any) -> str:
    body = {
        "iss": f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}",
        "sub": sub,
        "token_use": "access",
        "client_id": "web",
        "exp": int(time.time()) + 60,
    }
    return jwt.encode({"alg": "RS256", "kid": "edge-1"}, body | claims, KEY)


def authorizer_event(headers: dict[str, str], sources: list[str]) -> dict[str, Any]:
    """What API Gateway sends an HTTP API Lambda authorizer (payload format 2.0)."""
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:eu-west-1:123456789012:abc123/$default/GET/playlists",
        "identitySource": [headers[s] for s in sources],
        "routeKey": "ANY /playlists",
        "rawPath": "/playlists",
        "headers": headers,
        "requestContext": {"http": {"method": "GET", "path": "/playlists"}},
    }


def test_edge_gate_admits_cloudfront_with_a_valid_token_and_passes_its_claims(gate):
    bearer = "Bearer " + access_token("user-1", **{"cognito:groups": ["a", "b"]})
    headers = {"X-Origin-Verify": SECRET, "authorization": bearer}
    reply = handler.handler(authorizer_event(headers, ["X-Origin-Verify", "authorization"]), None)
    assert reply["isAuthorized"] is True
    assert reply["context"]["sub"] == "user-1"
    assert reply["context"]["cognito:groups"] == "a b"
    rotated = {"x-origin-verify": "previous-secret-value", "authorization": bearer}
    assert handler.handler(authorizer_event(rotated, ["x-origin-verify", "authorization"]), None)[
        "isAuthorized"
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "valid"},  # straight to execute-api: no origin header
        {"x-origin-verify": "guess", "authorization": "valid"},
        {"x-origin-verify": SECRET, "authorization": "Bearer not.a.jwt"},
        {"x-origin-verify": SECRET, "authorization": "expired"},
    ],
)
def test_edge_gate_refuses_requests_that_skipped_cloudfront_or_carry_a_bad_token(gate, headers):
    tokens_by_name = {
        "valid": "Bearer " + access_token("user-1"),
        "expired": "Bearer " + access_token("user-1", exp=int(time.time()) - 3600),
    }
    headers = {k: tokens_by_name.get(v, v) for k, v in headers.items()}
    sources = [h for h in ("x-origin-verify", "authorization") if h in headers]
    assert handler.handler(authorizer_event(headers, sources), None) == {"isAuthorized": False}


def test_public_route_gate_checks_only_the_origin_and_ignores_a_stray_token(gate):
    """Webhooks and the health check: the public authorizer's only identity source is the
    origin header, and its cached answer must not depend on a token it does not key on."""
    stray = {"x-origin-verify": SECRET, "authorization": "Bearer junk"}
    assert handler.handler(authorizer_event(stray, ["x-origin-verify"]), None) == {
        "isAuthorized": True,
        "context": {},
    }
    direct = {"stripe-signature": "t=1,v1=abc", "x-origin-verify": ""}
    assert handler.handler(authorizer_event(direct, ["x-origin-verify"]), None) == {
        "isAuthorized": False
    }


def test_a_rotated_secret_reaches_a_warm_gate_within_a_minute(gate, origin_secret):
    store = service.gate().origin_secrets
    now = [1000.0]
    store.clock = lambda: now[0]
    headers = {"x-origin-verify": "next-secret-value-after-rotation"}
    event = authorizer_event(headers, ["x-origin-verify"])
    assert handler.handler(event, None) == {"isAuthorized": False}  # reads the secret once
    boto3.client("secretsmanager").put_secret_value(
        SecretId=origin_secret, SecretString=f"next-secret-value-after-rotation,{SECRET}"
    )
    now[0] += 10  # a guess-flood cannot make it re-read more than once a minute
    assert handler.handler(event, None) == {"isAuthorized": False}
    now[0] += 60
    assert handler.handler(event, None)["isAuthorized"] is True


def test_edge_gate_fails_loudly_without_its_settings(service_env, monkeypatch):
    monkeypatch.delenv("API_ORIGIN_SECRET_ARN", raising=False)
    clear_auth_caches()
    with pytest.raises(RuntimeError, match="API_ORIGIN_SECRET_ARN"):
        handler.handler(authorizer_event({"x-origin-verify": "x"}, ["x-origin-verify"]), None)
    clear_auth_caches()


def test_services_read_the_gates_claims_as_the_signed_in_user(gate):
    """API Gateway puts a Lambda authorizer's context under `requestContext.authorizer.lambda`;
    the services' event model reads the user from there as it does from a JWT authorizer."""
    from soundstack.app_services.core.events import HttpApiEvent

    headers = {"x-origin-verify": SECRET, "authorization": "Bearer " + access_token("user-9")}
    reply = handler.handler(authorizer_event(headers, ["x-origin-verify", "authorization"]), None)
    request = HttpApiEvent.model_validate(
        {
            "rawPath": "/playlists",
            "requestContext": {
                "requestId": "r1",
                "http": {"method": "GET", "path": "/playlists"},
                "authorizer": {"lambda": reply["context"]},
            },
        }
    )
    assert request.require_user() == "user-9"


def test_the_profile_writer_completes_a_row_a_first_playlist_write_created(db: Database):
    """The API may be used before the queued profile arrives: the playlist service then creates
    the row without an e-mail (migration 0300); the writer fills it in instead of skipping."""
    from soundstack.app_services.auth.repository import ProfileRepository

    sub = str(uuid.uuid4())
    with db.transaction() as cur:
        cur.execute("INSERT INTO users (user_id, display_name) VALUES (%s, %s)", (sub, "Jo"))
    profiles = ProfileRepository(db)
    assert profiles.create(sub, f"{sub[:8]}@example.com", "Jo") is True
    assert profiles.create(sub, f"{sub[:8]}@example.com", "Jo") is False  # a retried message
    with db.transaction() as cur:
        cur.execute("SELECT email FROM users WHERE user_id = %s", (sub,))
        assert cur.fetchall() == [{"email": f"{sub[:8]}@example.com"}]
