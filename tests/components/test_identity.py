"""The user directory as the platform registers it, and its triggers and outputs."""

from __future__ import annotations

import json

import pulumi
import pytest

from soundstack.components.identity import IdentityArgs, SocialLogin, UserDirectory
from tests.conftest import make_ctx, run_program

STACKS = ["dev", "prod"]


def one(synth, type_token):
    (found,) = synth.by_type(type_token)
    return found


@pytest.mark.parametrize(
    ("stack", "mfa", "security", "tier", "deletion"),
    [
        ("dev", "OPTIONAL", "OFF", "ESSENTIALS", "INACTIVE"),
        ("prod", "ON", "ENFORCED", "PLUS", "ACTIVE"),
    ],
)
def test_mfa_threat_protection_and_deletion_protection_by_stack(
    request, stack, mfa, security, tier, deletion
):
    synth = request.getfixturevalue(stack)
    pool = one(synth, "aws:cognito/userPool:UserPool")
    inputs = pool.inputs
    assert inputs["mfaConfiguration"] == mfa
    assert inputs["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert inputs["userPoolAddOns"] == {"advancedSecurityMode": security}
    assert inputs["userPoolTier"] == tier
    assert inputs["deletionProtection"] == deletion
    assert pool.protect is (stack == "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_email_sign_up_with_verification_strong_passwords_and_email_recovery(request, stack):
    inputs = one(request.getfixturevalue(stack), "aws:cognito/userPool:UserPool").inputs
    assert inputs["usernameAttributes"] == ["email"]
    assert inputs["autoVerifiedAttributes"] == ["email"]
    policy = inputs["passwordPolicy"]
    assert policy["minimumLength"] >= 12
    assert all(
        policy[k]
        for k in ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols")
    )
    assert inputs["accountRecoverySetting"] == {
        "recoveryMechanisms": [{"name": "verified_email", "priority": 1}]
    }


@pytest.mark.parametrize("stack", STACKS)
def test_web_client_is_pkce_only_with_configured_urls(request, stack):
    synth = request.getfixturevalue(stack)
    client = one(synth, "aws:cognito/userPoolClient:UserPoolClient").inputs
    assert client["generateSecret"] is False
    assert client["allowedOauthFlows"] == ["code"]
    assert client["allowedOauthFlowsUserPoolClient"] is True
    assert client["explicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["preventUserExistenceErrors"] == "ENABLED"
    assert client["enableTokenRevocation"] is True
    expected = {
        "dev": "https://dev.music.example.com/auth/callback",
        "prod": "https://music.example.com/auth/callback",
    }[stack]
    assert expected in client["callbackUrls"]
    assert client["tokenValidityUnits"]["accessToken"] == "minutes"
    domain = one(synth, "aws:cognito/userPoolDomain:UserPoolDomain").inputs
    assert domain["domain"] == f"soundstack-{stack}-identity-auth"


@pytest.mark.parametrize(
    ("stack", "providers"), [("dev", ["Google"]), ("prod", ["Facebook", "Google"])]
)
def test_social_providers_per_stack_with_secret_client_secrets(request, stack, providers):
    synth = request.getfixturevalue(stack)
    idps = synth.by_type("aws:cognito/identityProvider:IdentityProvider")
    assert sorted(i.inputs["providerName"] for i in idps) == providers
    for idp in idps:
        assert idp.masked_inputs["providerDetails"] == "[secret]"
        assert idp.inputs["providerDetails"]["client_id"]
        assert idp.inputs["attributeMapping"]["email"] == "email"
        assert idp.inputs["attributeMapping"]["name"] == "name"
    client = one(synth, "aws:cognito/userPoolClient:UserPoolClient")
    assert sorted(client.inputs["supportedIdentityProviders"]) == sorted(["COGNITO", *providers])
    assert {i.urn for i in idps} <= set(client.dependencies)


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_give_the_jwt_authorizer_issuer_and_audience(request, stack):
    synth = request.getfixturevalue(stack)
    pool_id = synth.outputs["user_pool_id"]
    assert synth.outputs["issuer_url"] == f"https://cognito-idp.eu-west-1.amazonaws.com/{pool_id}"
    assert synth.outputs["web_client_id"]
    assert synth.outputs["user_pool_arn"].startswith("arn:aws:cognito-idp:eu-west-1:")


@pytest.mark.parametrize("stack", STACKS)
def test_user_pool_is_behind_the_regional_web_acl(request, stack):
    synth = request.getfixturevalue(stack)
    (assoc,) = [
        a
        for a in synth.by_type("aws:wafv2/webAclAssociation:WebAclAssociation")
        if a.name == "identity-user-pool-waf"
    ]
    assert assoc.inputs["resourceArn"] == synth.outputs["user_pool_arn"]
    assert assoc.inputs["webAclArn"] == synth.outputs["regional_web_acl_arn"]
    assert ":regional/webacl/" in assoc.inputs["webAclArn"]


def test_triggers_are_wired_with_scoped_invoke_permissions():
    pre = "arn:aws:lambda:eu-west-1:123456789012:function:auth-pre-sign-up"
    post = "arn:aws:lambda:eu-west-1:123456789012:function:auth-post-confirmation"

    def program():
        directory = UserDirectory(
            "users",
            IdentityArgs(
                callback_urls=["https://x.example.com/cb"],
                logout_urls=["https://x.example.com/"],
                facebook=SocialLogin("123", pulumi.Output.secret("s3cr3t")),
                pre_sign_up=pre,
                post_confirmation=post,
            ),
            make_ctx(stack="test"),
        )
        pulumi.export("arn", directory.user_pool_arn)

    synth = run_program(program)
    pool = one(synth, "aws:cognito/userPool:UserPool").inputs
    assert pool["lambdaConfig"] == {"preSignUp": pre, "postConfirmation": post}
    permissions = {
        p.inputs["function"]: p.inputs for p in synth.by_type("aws:lambda/permission:Permission")
    }
    assert set(permissions) == {pre, post}
    for permission in permissions.values():
        assert permission["principal"] == "cognito-idp.amazonaws.com"
        assert permission["sourceArn"] == synth.outputs["arn"]
    (idp,) = synth.by_type("aws:cognito/identityProvider:IdentityProvider")
    assert "s3cr3t" not in json.dumps(idp.masked_inputs)
    assert idp.inputs["providerDetails"]["client_secret"] == "s3cr3t"


def test_no_triggers_means_no_lambda_config():
    def program():
        UserDirectory(
            "users",
            IdentityArgs(
                callback_urls=["https://x.example.com/cb"], logout_urls=["https://x.example.com/"]
            ),
            make_ctx(stack="test"),
        )

    synth = run_program(program)
    assert "lambdaConfig" not in one(synth, "aws:cognito/userPool:UserPool").inputs
    assert not synth.by_type("aws:lambda/permission:Permission")


def test_a_pool_without_callback_urls_is_refused():
    with pytest.raises(ValueError, match="callback_urls is empty"):
        IdentityArgs(callback_urls=[], logout_urls=[])


def test_prod_refuses_to_drop_deletion_protection_or_mfa():
    from soundstack.stacks.loader import ConfigError, load_config

    base = {
        "aws:region": "eu-west-1",
        "soundstack:owner": "t",
        "soundstack:cost_centre": "c",
        "soundstack:domain": "music.example.com",
        "soundstack:monitoring": {"alarm_email": "oncall@example.com"},
    }
    relaxed = {"deletion_protection": False, "mfa": "optional"}
    with pytest.raises(ConfigError) as err:
        load_config("prod", {**base, "soundstack:identity": relaxed})
    assert "identity.deletion_protection=false is not allowed in prod" in str(err.value)
    assert 'identity.mfa="optional" is not allowed in prod' in str(err.value)
    dev = load_config("dev", {**base, "soundstack:identity": relaxed})
    assert dev.identity.deletion_protection is False


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_wires_the_auth_function_as_both_triggers(request, stack):
    synth = request.getfixturevalue(stack)
    (pool,) = synth.by_type("aws:cognito/userPool:UserPool")
    (auth,) = [
        f for f in synth.by_type("aws:lambda/function:Function") if f.name == "auth-fn-lambda"
    ]
    auth_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{auth.inputs['name']}"
    assert pool.inputs["lambdaConfig"] == {"preSignUp": auth_arn, "postConfirmation": auth_arn}
    invokes = [p.inputs for p in synth.by_type("aws:lambda/permission:Permission")
               if p.inputs["principal"] == "cognito-idp.amazonaws.com"]  # fmt: skip
    assert len(invokes) == 2
    assert len({p["sourceArn"] for p in invokes}) == 1  # both scoped to the one pool
    assert invokes[0]["sourceArn"].startswith("arn:aws:cognito-idp:eu-west-1:123456789012:")
    (link,) = [json.loads(p.inputs["policy"])["Statement"][0]
               for p in synth.by_type("aws:iam/rolePolicy:RolePolicy")
               if p.name == "auth-fn-role-link-social-sign-ins"]  # fmt: skip
    assert link["Action"] == ["cognito-idp:AdminLinkProviderForUser", "cognito-idp:ListUsers"]
    (resource,) = link["Resource"]
    assert resource.startswith("arn:aws:cognito-idp:eu-west-1:123456789012:")


@pytest.mark.parametrize("stack", STACKS)
def test_managed_login_v2_has_a_branding_style_for_the_web_client(request, stack):
    """Managed login (version 2) needs a style assigned to the app client, and AWS wants
    UseCognitoProvidedValues without Settings or Assets."""
    synth = request.getfixturevalue(stack)
    assert (
        one(synth, "aws:cognito/userPoolDomain:UserPoolDomain").inputs["managedLoginVersion"] == 2
    )
    client = one(synth, "aws:cognito/userPoolClient:UserPoolClient")
    pool = one(synth, "aws:cognito/userPool:UserPool")
    branding = one(synth, "aws:cognito/managedLoginBranding:ManagedLoginBranding").inputs
    assert branding["clientId"] == client.id
    assert branding["userPoolId"] == pool.id
    assert branding["useCognitoProvidedValues"] is True
    assert "settings" not in branding and "assets" not in branding


@pytest.mark.parametrize("stack", STACKS)
def test_auth_functions_split_triggers_writer_and_gate_by_least_privilege(request, stack):
    """The Cognito triggers cannot reach the database (they only queue the profile); the profile
    writer is the one auth function with database access; the gate reads only its secret."""
    from tests.components.test_function import BASE_SIDS, assert_no_broad_actions, policies_of

    synth = request.getfixturevalue(stack)
    base = BASE_SIDS | {"UseFunctionKey", "ManageVpcInterfaces"}
    expected = {
        "auth-fn": {"LinkSocialSignIns", "SendMessagingProfiles", "SendMessagingProfilesKey"},
        "profiles-fn": {"ConnectDatabaseAsAccounts", "ConsumeMessagingProfiles",
                        "ConsumeMessagingProfilesKey"},
        "gate-fn": {"ReadOriginVerifySecret", "DecryptOriginVerifySecret"},
    }  # fmt: skip
    for function, sids in expected.items():
        policies = policies_of(synth, function)
        assert set(policies) == base | sids, function
        assert_no_broad_actions(policies.values())
    (mapping,) = [m for m in synth.by_type("aws:lambda/eventSourceMapping:EventSourceMapping")
                  if m.inputs["functionName"].endswith("-profiles-fn")]  # fmt: skip
    assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": 2}
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    env = {f.name: f.inputs["environment"]["variables"]
           for f in synth.by_type("aws:lambda/function:Function")}  # fmt: skip
    assert "DB_HOST" not in env["auth-fn-lambda"] and env["auth-fn-lambda"]["PROFILE_QUEUE_URL"]
    (triggers,) = [f for f in synth.by_type("aws:lambda/function:Function")
                   if f.name == "auth-fn-lambda"]  # fmt: skip
    assert triggers.inputs["timeout"] == 5  # Cognito's fixed wait: never run on past it
    assert env["profiles-fn-lambda"]["DB_USER"] == "accounts"
