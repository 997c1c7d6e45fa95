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
