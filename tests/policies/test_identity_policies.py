"""deploy-cognito-managed-login-branding: compliant and violating stacks."""

from __future__ import annotations

import pytest

from tests.policies.helpers import Stack

POLICY = "deploy-cognito-managed-login-branding"


def build(*, version: int = 2, branded: bool = True, oauth: bool = True) -> Stack:
    stack = Stack()
    pool = stack.add("aws:cognito/userPool:UserPool", "users", {"name": "users"})
    stack.add(
        "aws:cognito/userPoolDomain:UserPoolDomain",
        "hosted-ui",
        {"domain": "auth", "userPoolId": "users", "managedLoginVersion": version},
        {"userPoolId": [pool]},
    )
    client = stack.add(
        "aws:cognito/userPoolClient:UserPoolClient",
        "web",
        {"name": "web", "userPoolId": "users", "allowedOauthFlowsUserPoolClient": oauth},
        {"userPoolId": [pool]},
    )
    if branded:
        stack.add(
            "aws:cognito/managedLoginBranding:ManagedLoginBranding",
            "web-branding",
            {"clientId": "web", "userPoolId": "users", "useCognitoProvidedValues": True},
            {"clientId": [client], "userPoolId": [pool]},
        )
    return stack


def test_branded_client_passes():
    assert build().check(POLICY) == []


def test_unbranded_client_on_managed_login_v2_is_reported():
    ((where, message),) = build(branded=False).check(POLICY)
    assert where == "web" and "ManagedLoginBranding" in message


@pytest.mark.parametrize("change", [{"version": 1}, {"oauth": False}])
def test_classic_hosted_ui_or_no_hosted_sign_in_needs_no_style(change):
    assert build(branded=False, **change).check(POLICY) == []


def trigger_stack(timeout: int, *, known_arn: bool = True, sender: bool = False) -> Stack:
    stack = Stack()
    fn = stack.add(
        "aws:lambda/function:Function", "auth-fn", {"name": "sst-auth", "timeout": timeout}
    )
    arn = "arn:aws:lambda:eu-west-1:1:function:sst-auth"
    key = "customEmailSender" if sender else "preSignUp"
    value = {"lambdaArn": arn, "lambdaVersion": "V1_0"} if sender else arn
    config = {key: value if known_arn else None}
    stack.add("aws:cognito/userPool:UserPool", "users", {"lambdaConfig": config},
              {"lambdaConfig": [fn]})  # fmt: skip
    return stack


def test_trigger_timeout_within_cognitos_five_seconds():
    assert trigger_stack(5).check("deploy-cognito-trigger-timeout") == []
    ((where, message),) = trigger_stack(30).check("deploy-cognito-trigger-timeout")
    assert where == "auth-fn" and "Cognito waits 5 s" in message
    assert trigger_stack(30, known_arn=False).check("deploy-cognito-trigger-timeout") != []
    # custom sender triggers are asynchronous: no 5-second wait
    assert trigger_stack(30, sender=True).check("deploy-cognito-trigger-timeout") == []
