"""Cognito hosted sign-in: a user pool domain on managed login (version 2) renders an app
client's pages only from a branding style assigned to that client.

AWS (DeleteManagedLoginBranding): "When an app client doesn't have a style assigned, your
managed login pages for that app client are nonfunctional until you create a new style or
switch the domain branding version."
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, StackValidationArgs

from policies.core import Settings, Spec, get, linked, of_type, stack_policy, truthy

POLICIES: list[Spec] = []

DOMAIN = "aws:cognito/userPoolDomain:UserPoolDomain"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
BRANDING = "aws:cognito/managedLoginBranding:ManagedLoginBranding"
POOL = "aws:cognito/userPool:UserPool"


@stack_policy(
    POLICIES,
    "deploy-cognito-managed-login-branding",
    "Every OAuth app client of a user pool whose domain uses managed login (version 2) has a "
    "ManagedLoginBranding style; without one its sign-in pages do not work.",
    ["custom"],
    [DOMAIN, CLIENT, BRANDING, POOL],
)
def _branding(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    brandings = list(of_type(args.resources, BRANDING))
    clients = list(of_type(args.resources, CLIENT))
    for domain in of_type(args.resources, DOMAIN):
        if get(domain.props, "managedLoginVersion") != 2:
            continue
        for pool in of_type(args.resources, POOL):
            if not linked(domain, "userPoolId", pool, "name"):
                continue
            for client in clients:
                if not linked(client, "userPoolId", pool, "name"):
                    continue
                if not truthy(get(client.props, "allowedOauthFlowsUserPoolClient")):
                    continue  # no hosted sign-in for this client
                if not any(linked(b, "clientId", client, "name") for b in brandings):
                    report(
                        f"app client {client.name} has no ManagedLoginBranding while domain "
                        f"{domain.name} uses managed login version 2: its sign-in pages show an "
                        "error; add aws.cognito.ManagedLoginBranding(client_id=..., "
                        "use_cognito_provided_values=True) or set managed_login_version=1",
                        client.urn,
                    )
