"""Cognito hosted sign-in: a user pool domain on managed login (version 2) renders an app
client's pages only from a branding style assigned to that client.

AWS (DeleteManagedLoginBranding): "When an app client doesn't have a style assigned, your
managed login pages for that app client are nonfunctional until you create a new style or
switch the domain branding version."
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, StackValidationArgs

from .core import (
    Settings,
    Spec,
    get,
    linked,
    of_type,
    references,
    stack_policy,
    truthy,
)

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


FUNCTION = "aws:lambda/function:Function"
#: AWS: "When Amazon Cognito calls your Lambda function, it must respond within 5 seconds. If it
#: does not, Amazon Cognito retries the call. [...] You can't change this five-second timeout
#: value." (custom sender triggers excepted: Cognito invokes those asynchronously)
TRIGGER_WAIT_SECONDS = 5
ASYNC_TRIGGERS = ("customEmailSender", "customSmsSender", "kmsKeyId")


@stack_policy(
    POLICIES,
    "deploy-cognito-trigger-timeout",
    "A Lambda function Cognito invokes synchronously as a user pool trigger has a timeout of at "
    "most 5 seconds, Cognito's fixed wait: a longer run only goes on after the sign-up failed.",
    ["custom"],
    [POOL, FUNCTION],
)
def _trigger_timeout(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    functions = list(of_type(args.resources, FUNCTION))
    for pool in of_type(args.resources, POOL):
        config = get(pool.props, "lambdaConfig", default={})
        synchronous = [
            get(config, key)
            for key in (config.keys() if hasattr(config, "keys") else [])
            if key not in ASYNC_TRIGGERS
        ]
        arns = {v for v in synchronous if isinstance(v, str)}
        unknown = len(arns) < len(synchronous)  # ARNs not known yet (a first preview)
        for function in functions:
            name = get(function.props, "name")
            referenced = any(
                isinstance(name, str) and a.endswith(f":function:{name}") for a in arns
            ) or (unknown and references(pool, "lambdaConfig", function))
            timeout = get(function.props, "timeout", default=3)
            if referenced and isinstance(timeout, int | float) and timeout > TRIGGER_WAIT_SECONDS:
                report(
                    f"function {function.name} is a trigger of user pool {pool.name} with "
                    f"timeout {timeout} s; Cognito waits {TRIGGER_WAIT_SECONDS} s and retries: "
                    f"set its timeout to {TRIGGER_WAIT_SECONDS} (components.identity."
                    "TRIGGER_TIMEOUT_SECONDS) and keep slow work off the trigger",
                    function.urn,
                )
