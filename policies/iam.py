"""IAM: no full admin, no wildcard actions, no admin managed policies, no public trust.

CONTROLS.md lists no IAM control, so these are custom controls (they mirror what
`components.iam.check_actions` and `ServiceRole` refuse at build time).
"""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .core import (
    Settings,
    Spec,
    as_strings,
    get,
    items,
    policy_statements,
    principal_is_public,
    resource_policy,
)

POLICIES: list[Spec] = []

ROLE = "aws:iam/role:Role"
INLINE_POLICIES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
ADMIN_POLICIES = ("/AdministratorAccess", "/PowerUserAccess", "/IAMFullAccess")


def _documents(args: ResourceValidationArgs) -> list:
    """Identity policies a resource defines: `policy`, or a role's inline policies."""
    if args.resource_type == ROLE:
        return [get(p, "policy") for p in items(get(args.props, "inlinePolicies"))]
    return [get(args.props, "policy")]


def _allows(document: object) -> list[Mapping]:
    return [s for s in policy_statements(document) if s.get("Effect") == "Allow"]


@resource_policy(
    POLICIES,
    "iam-no-full-admin",
    "No identity policy (managed or inline) allows every action (`*`, `*:*` or NotAction) on "
    "every resource.",
    ["custom"],
    [*INLINE_POLICIES, ROLE],
)
def _full_admin(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    for document in _documents(args):
        for statement in _allows(document):
            actions = as_strings(statement.get("Action"))
            everything = bool({"*", "*:*"} & set(actions)) or "NotAction" in statement
            if everything and "*" in as_strings(statement.get("Resource")):
                report(
                    f"statement {statement.get('Sid', '(no Sid)')!r} grants full admin "
                    "(Action * on Resource *); name the actions and resources",
                    None,
                )


@resource_policy(
    POLICIES,
    "iam-no-wildcard-actions",
    "Identity policies name their actions: no `*` and no whole-service `svc:*`.",
    ["custom"],
    [*INLINE_POLICIES, ROLE],
)
def _wildcards(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    for document in _documents(args):
        for statement in _allows(document):
            broad = [a for a in as_strings(statement.get("Action")) if a == "*" or a.endswith(":*")]
            if broad:
                report(
                    f"statement {statement.get('Sid', '(no Sid)')!r} allows {broad}; name "
                    "the actions, e.g. s3:GetObject",
                    None,
                )


@resource_policy(
    POLICIES,
    "iam-no-admin-managed-policies",
    "No role, user or group gets AdministratorAccess, PowerUserAccess or IAMFullAccess.",
    ["custom"],
    [ROLE, *ATTACHMENTS],
)
def _admin_attach(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    arns = as_strings(get(args.props, "managedPolicyArns")) + as_strings(
        get(args.props, "policyArn")
    )
    for arn in arns:
        if arn.endswith(ADMIN_POLICIES):
            report(f"{arn} is an admin policy; grant named actions instead", None)


@resource_policy(
    POLICIES,
    "iam-trust-not-public",
    "No role trust policy lets anybody (`*`) assume the role without a condition.",
    ["custom"],
    [ROLE],
)
def _trust(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    for statement in _allows(get(args.props, "assumeRolePolicy")):
        if principal_is_public(statement.get("Principal")) and not statement.get("Condition"):
            report("the trust policy lets any AWS principal assume the role", None)
