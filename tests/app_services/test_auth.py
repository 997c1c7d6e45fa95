"""Auth triggers: e-mail checks, social account linking (moto Cognito), profile rows (PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from app_services.auth import domain, handler, service
from app_services.core.db import Database
from app_services.core.errors import BadRequest


@pytest.fixture
def pool(aws, service_env, monkeypatch) -> Iterator[str]:
    monkeypatch.setenv("BLOCKED_EMAIL_DOMAINS", "spam.example, burner.test")
    service.auth.cache_clear()
    cognito = boto3.client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName="users", UsernameAttributes=["email"])["UserPool"][
        "Id"
    ]
    yield pool_id
    service.auth().profiles.db.close()
    service.auth.cache_clear()


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
    client = service.auth().directory.cognito
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


def test_post_confirmation_creates_the_profile_once(pool, db: Database):
    sub = str(uuid.uuid4())
    event = trigger(
        "PostConfirmation_ConfirmSignUp",
        pool,
        sub,
        sub=sub,
        email=f"{sub[:8]}@Example.com",
        name="Jo",
    )
    handler.handler(event, None)
    handler.handler(event, None)  # Cognito retries: still one row
    with db.transaction() as cur:
        cur.execute("SELECT email, display_name FROM users WHERE user_id = %s", (sub,))
        assert cur.fetchall() == [{"email": f"{sub[:8]}@example.com", "display_name": "Jo"}]
    forgot = trigger("PostConfirmation_ConfirmForgotPassword", pool, "x", email="x@example.com")
    assert handler.handler(forgot, None)["response"] == forgot["response"]
    with pytest.raises(BadRequest, match="sub"):
        handler.handler(
            trigger("PostConfirmation_ConfirmSignUp", pool, "y", email="y@example.com"), None
        )
    with pytest.raises(BadRequest, match=r"event\.triggerSource"):
        handler.handler({"userPoolId": pool}, None)
