"""Listener accounts: a Cognito user pool, social sign-in, the web app's client and hosted UI.

The API's JWT authorizer trusts tokens whose issuer is `issuer_url` and whose audience is
`web_client_id`. The web app signs in through the hosted UI with the authorization-code flow;
its client has no secret and no implicit flow, so the SPA must use PKCE (Cognito has no switch
that rejects a code exchange without PKCE: a public client with code flow only is the
strictest setting it offers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from soundstack.components.base import Component, StackContext
from soundstack.components.iam import Grantee

#: AWS: "When Amazon Cognito calls your Lambda function, it must respond within 5 seconds. If it
#: does not, Amazon Cognito retries the call. [...] You can't change this five-second timeout
#: value." A trigger function's own timeout: it never runs on after Cognito stopped waiting.
TRIGGER_TIMEOUT_SECONDS = 5


@dataclass
class SocialLogin:
    """An OAuth identity provider: client id from config, client secret as a Pulumi secret."""

    client_id: str
    client_secret: pulumi.Input[str]


@dataclass
class IdentityArgs:
    """User-pool settings. Defaults: MFA (TOTP) required, threat protection enforced, deletion
    protection on, 1-hour access/id tokens and 30-day refresh tokens, e-mail recovery only."""

    #: Where the hosted UI may send users back after sign-in / sign-out (https, or localhost).
    callback_urls: Sequence[str]
    logout_urls: Sequence[str]
    mfa: Literal["optional", "required"] = "required"
    #: Cognito threat protection (Plus tier) in ENFORCED mode: blocks compromised credentials
    #: and risky sign-ins (Cognito.1).
    advanced_security: bool = True
    deletion_protection: bool = True
    google: SocialLogin | None = None
    facebook: SocialLogin | None = None
    #: Lambda function ARNs of the Auth service's triggers (Cognito may invoke them).
    pre_sign_up: pulumi.Input[str] | None = None
    post_confirmation: pulumi.Input[str] | None = None
    access_token_minutes: int = 60
    id_token_minutes: int = 60
    refresh_token_days: int = 30
    oauth_scopes: Sequence[str] = field(default_factory=lambda: ["openid", "email", "profile"])

    def __post_init__(self) -> None:
        if not self.callback_urls:
            raise ValueError(
                "identity.callback_urls is empty: the hosted UI needs at least one, e.g. "
                "https://music.example.com/auth/callback"
            )
        if not 5 <= self.access_token_minutes <= 1440 or not 5 <= self.id_token_minutes <= 1440:
            raise ValueError("access/id token validity must be 5 to 1440 minutes")


#: Cognito attribute ← provider attribute, per social provider.
ATTRIBUTE_MAPPING: Mapping[str, Mapping[str, str]] = {
    "Google": {
        "email": "email",
        "email_verified": "email_verified",
        "name": "name",
        "username": "sub",
    },
    "Facebook": {"email": "email", "name": "name", "username": "id"},
}
_SCOPES = {"Google": "openid email profile", "Facebook": "public_profile,email"}


class UserDirectory(Component):
    """Cognito user pool with e-mail sign-up, social providers and the web app client."""

    TYPE = "soundstack:identity:UserDirectory"

    def __init__(
        self,
        name: str,
        args: IdentityArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        triggers = {
            key: arn
            for key, arn in (
                ("pre_sign_up", args.pre_sign_up),
                ("post_confirmation", args.post_confirmation),
            )
            if arn is not None
        }
        self.user_pool = aws.cognito.UserPool(
            self.child_name("users"),
            name=self.physical_name("users"),
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            username_configuration={"case_sensitive": False},
            admin_create_user_config={"allow_admin_create_user_only": False},
            account_recovery_setting={
                "recovery_mechanisms": [{"name": "verified_email", "priority": 1}]
            },
            password_policy={
                "minimum_length": 12,
                "require_lowercase": True,
                "require_uppercase": True,
                "require_numbers": True,
                "require_symbols": True,
                "temporary_password_validity_days": 3,
                "password_history_size": 5,
            },
            mfa_configuration="ON" if args.mfa == "required" else "OPTIONAL",
            software_token_mfa_configuration={"enabled": True},
            user_pool_tier="PLUS" if args.advanced_security else "ESSENTIALS",
            user_pool_add_ons={
                "advanced_security_mode": "ENFORCED" if args.advanced_security else "OFF"
            },
            deletion_protection="ACTIVE" if args.deletion_protection else "INACTIVE",
            schemas=[
                {
                    "name": "email",
                    "attribute_data_type": "String",
                    "required": True,
                    "mutable": True,
                    "string_attribute_constraints": {"min_length": "5", "max_length": "254"},
                },
                {
                    "name": "name",
                    "attribute_data_type": "String",
                    "required": False,
                    "mutable": True,
                    "string_attribute_constraints": {"min_length": "1", "max_length": "256"},
                },
            ],
            verification_message_template={"default_email_option": "CONFIRM_WITH_CODE"},
            lambda_config=triggers or None,
            tags=self.tags(),
            opts=self.child_opts(protect=args.deletion_protection),
        )
        for key, arn in triggers.items():
            aws.lambda_.Permission(
                self.child_name(f"{key.replace('_', '-')}-invoke"),
                action="lambda:InvokeFunction",
                function=arn,
                principal="cognito-idp.amazonaws.com",
                source_arn=self.user_pool.arn,
                opts=self.child_opts(),
            )

        providers = []
        for provider_name, social in (("Google", args.google), ("Facebook", args.facebook)):
            if social is None:
                continue
            details: dict[str, pulumi.Input[str]] = {
                "client_id": social.client_id,
                "client_secret": pulumi.Output.secret(social.client_secret),
                "authorize_scopes": _SCOPES[provider_name],
            }
            if provider_name == "Facebook":
                details["api_version"] = "v21.0"
            providers.append(
                aws.cognito.IdentityProvider(
                    self.child_name(provider_name.lower()),
                    user_pool_id=self.user_pool.id,
                    provider_name=provider_name,
                    provider_type=provider_name,
                    provider_details=details,
                    attribute_mapping=dict(ATTRIBUTE_MAPPING[provider_name]),
                    opts=self.child_opts(),
                )
            )

        self.web_client = aws.cognito.UserPoolClient(
            self.child_name("web"),
            name=self.physical_name("web"),
            user_pool_id=self.user_pool.id,
            generate_secret=False,
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["code"],
            allowed_oauth_scopes=list(args.oauth_scopes),
            explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            supported_identity_providers=["COGNITO", *(p.provider_name for p in providers)],
            callback_urls=list(args.callback_urls),
            logout_urls=list(args.logout_urls),
            access_token_validity=args.access_token_minutes,
            id_token_validity=args.id_token_minutes,
            refresh_token_validity=args.refresh_token_days,
            token_validity_units={
                "access_token": "minutes",
                "id_token": "minutes",
                "refresh_token": "days",
            },
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            opts=self.child_opts(depends_on=providers),
        )
        self.domain = aws.cognito.UserPoolDomain(
            self.child_name("hosted-ui"),
            domain=self.physical_name("auth", "cognito_domain"),
            user_pool_id=self.user_pool.id,
            managed_login_version=2,
            opts=self.child_opts(),
        )
        # AWS: "When an app client doesn't have a style assigned, your managed login pages for
        # that app client are nonfunctional until you create a new style or switch the domain
        # branding version." Cognito's default style; AWS: "When you specify true for this
        # option, you must also omit values for Settings and Assets", so none are passed.
        self.branding = aws.cognito.ManagedLoginBranding(
            self.child_name("web-branding"),
            user_pool_id=self.user_pool.id,
            client_id=self.web_client.id,
            use_cognito_provided_values=True,
            opts=self.child_opts(depends_on=[self.domain]),
        )

        self.user_pool_id: pulumi.Output[str] = self.user_pool.id
        self.user_pool_arn: pulumi.Output[str] = self.user_pool.arn
        #: JWT issuer the API authorizer trusts.
        self.issuer_url: pulumi.Output[str] = pulumi.Output.concat(
            "https://cognito-idp.", ctx.region, ".amazonaws.com/", self.user_pool.id
        )
        #: JWT audience (the web app's client id).
        self.web_client_id: pulumi.Output[str] = self.web_client.id
        #: Host of the hosted UI (managed login), e.g. for the web app's `config.json`.
        self.hosted_ui_domain: pulumi.Output[str] = pulumi.Output.concat(
            self.domain.domain, ".auth.", ctx.region, ".amazoncognito.com"
        )
        self.hosted_ui_url: pulumi.Output[str] = pulumi.Output.concat(
            "https://", self.hosted_ui_domain
        )
        self.add_signal(
            "throttles",
            "Cognito sign-in throttles",
            "AWS/Cognito",
            "SignInThrottles",
            {"UserPool": self.user_pool.id, "UserPoolClient": self.web_client.id},
        )
        self.register_outputs(
            {
                "issuer_url": self.issuer_url,
                "web_client_id": self.web_client_id,
                "user_pool_id": self.user_pool_id,
                "user_pool_arn": self.user_pool_arn,
                "hosted_ui_url": self.hosted_ui_url,
            }
        )

    def grant_link_identities(self, grantee: Grantee) -> None:
        """Let the Auth triggers find users by e-mail and link a social sign-in to one."""
        grantee.grant(
            "LinkSocialSignIns",
            ["cognito-idp:ListUsers", "cognito-idp:AdminLinkProviderForUser"],
            [self.user_pool_arn],
        )
