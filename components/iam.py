"""IAM roles that only ever hold what they are granted, and the `Grantee` protocol.

A `ServiceRole` starts with no permissions. Components that own a resource expose verbs
(`bucket.grant_read(grantee)`, `queue.grant_send(grantee)` …) which call `grantee.grant(...)`
with exactly the actions and resource ARNs needed; each grant becomes one inline policy named
after its purpose, so `pulumi preview` shows who may do what and why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pulumi
import pulumi_aws as aws

from soundstack.components.base import Component, StackContext, json_document

_SID = re.compile(r"^[A-Za-z0-9]+$")


def assume_role_policy(*services: str) -> str:
    """Trust policy letting the given AWS service principals assume a role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": sorted(services)},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def check_actions(actions: Sequence[str]) -> None:
    """Refuse `*` and whole-service wildcards (`s3:*`): grants name their actions."""
    for action in actions:
        service, _, verb = action.partition(":")
        if action == "*" or not service or verb in ("", "*"):
            raise ValueError(
                f"IAM action {action!r} is too broad: name the actions, e.g. 's3:GetObject'"
            )


@runtime_checkable
class Grantee(Protocol):
    """Anything that runs code under an IAM role: a function, a pod identity, a build project."""

    @property
    def role_arn(self) -> pulumi.Output[str]: ...

    @property
    def security_group_id(self) -> pulumi.Output[str] | None: ...

    def grant(
        self,
        sid: str,
        actions: Sequence[str],
        resources: Sequence[pulumi.Input[str]],
        conditions: Mapping[str, Any] | None = None,
    ) -> None: ...


@dataclass
class ServiceRoleArgs:
    """Who may assume the role. Permissions come only from `grant` calls."""

    #: Service principals, e.g. `lambda.amazonaws.com`; ignored when `assume_role_policy` is set.
    services: Sequence[str] = field(default_factory=list)
    #: A full trust policy (JSON), e.g. for IRSA web identities.
    assume_role_policy: pulumi.Input[str] | None = None
    #: AWS managed policies to attach (only narrow service-role policies, never admin).
    managed_policy_arns: Sequence[str] = field(default_factory=list)
    #: The security group the code runs in, if it runs in the VPC.
    security_group_id: pulumi.Input[str] | None = None


class ServiceRole(Component):
    """An IAM role with no permissions until something grants it some."""

    TYPE = "soundstack:iam:ServiceRole"
    #: What gives this grantee a security group (named in errors of verbs that need one).
    security_group_arg = "ServiceRoleArgs.security_group_id"

    def __init__(
        self,
        name: str,
        args: ServiceRoleArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        if args.assume_role_policy is None and not args.services:
            raise ValueError(
                f"{name}: set ServiceRoleArgs.services (e.g. ['lambda.amazonaws.com']) or "
                "ServiceRoleArgs.assume_role_policy: a role nobody may assume is useless"
            )
        for arn in args.managed_policy_arns:
            if arn.endswith(("/AdministratorAccess", "/PowerUserAccess", "/IAMFullAccess")):
                raise ValueError(
                    f"{name}: ServiceRoleArgs.managed_policy_arns lists {arn}, an admin policy; "
                    "remove it and grant named actions instead"
                )
        self.role = aws.iam.Role(
            self.child_name("role"),
            name=self.physical_name("", "iam_role"),
            assume_role_policy=args.assume_role_policy or assume_role_policy(*args.services),
            managed_policy_arns=list(args.managed_policy_arns) or None,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self._security_group_id = (
            pulumi.Output.from_input(args.security_group_id)
            if args.security_group_id is not None
            else None
        )
        self._sids: set[str] = set()
        self.register_outputs({"role_arn": self.role.arn})

    @property
    def role_arn(self) -> pulumi.Output[str]:
        return self.role.arn

    @property
    def role_name(self) -> pulumi.Output[str]:
        return self.role.name

    @property
    def security_group_id(self) -> pulumi.Output[str] | None:
        return self._security_group_id

    def grant(
        self,
        sid: str,
        actions: Sequence[str],
        resources: Sequence[pulumi.Input[str]],
        conditions: Mapping[str, Any] | None = None,
    ) -> None:
        """Allow exactly `actions` on `resources`, as one inline policy named after `sid`."""
        if not _SID.match(sid):
            raise ValueError(f"grant sid {sid!r} must be alphanumeric, e.g. 'ReadMusicBucket'")
        if sid in self._sids:
            raise ValueError(f"{self.logical_name} already has a grant named {sid!r}")
        if not resources:
            raise ValueError(f"grant {sid!r} names no resources")
        check_actions(actions)
        self._sids.add(sid)
        statement: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Action": sorted(set(actions)),
            "Resource": list(resources),
        }
        if conditions:
            statement["Condition"] = dict(conditions)
        aws.iam.RolePolicy(
            self.child_name(re.sub(r"(?<!^)(?=[A-Z])", "-", sid).lower()),
            role=self.role.id,
            policy=json_document({"Version": "2012-10-17", "Statement": [statement]}),
            opts=self.child_opts(),
        )


class RoleGrantee:
    """Mixin making a component that runs code under `self.role` (a `ServiceRole`) a `Grantee`."""

    role: ServiceRole
    #: What gives this grantee a security group (named in errors of verbs that need one).
    security_group_arg = "ServiceRoleArgs.security_group_id"

    @property
    def role_arn(self) -> pulumi.Output[str]:
        return self.role.role_arn

    @property
    def security_group_id(self) -> pulumi.Output[str] | None:
        return self.role.security_group_id

    def grant(
        self,
        sid: str,
        actions: Sequence[str],
        resources: Sequence[pulumi.Input[str]],
        conditions: Mapping[str, Any] | None = None,
    ) -> None:
        """Add exactly `actions` on `resources` to the role (see `ServiceRole.grant`)."""
        self.role.grant(sid, actions, resources, conditions)
