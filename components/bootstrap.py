"""Bootstrap: what an account needs once, before the first `pulumi up` of any stack.

Like `cdk bootstrap`, an administrator runs the small program in `bootstrap/` once per account
and region. For each stack it names, `DeployRoles` creates the role `<project>-<stack>-deploy`
that every `pulumi up` of that stack runs as: the stack's in-VPC deploy runner (a CodeBuild
project named like the role, see `components.pipeline.DeployRunner`) uses it as its service
role, and the configured administrators assume it for the first deploy from a workstation.

What the role may do is written down in `deploy_policy`: the estate creates resources of some
thirty services, so it holds `<service>:*` on each of them (nothing else), only in the stack's
region and us-east-1 (where CloudFront, its certificates and web ACLs, and the global services
IAM and Route 53 are called). IAM is the exception that would make this admin: IAM writes are
limited to roles and policies named `<project>-<stack>-*` (plus the cluster role pulumi-eks
names), AWS's admin policies may never be attached, and the role can change neither itself nor
its boundary. A permissions boundary with the same service list caps it even if someone later
attaches a broader policy to it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from soundstack.components import lookups
from soundstack.components.base import Component, StackContext
from soundstack.components.naming import physical_name

#: Pulumi `aws:<module>` of every resource the estate registers → the IAM service prefixes
#: deploying it needs. tests/components/test_bootstrap.py checks every stack's registrations
#: against this table, so a new kind of resource cannot ship without its permission.
ESTATE_SERVICES: dict[str, tuple[str, ...]] = {
    "acm": ("acm",),
    "apigateway": ("apigateway",),
    "apigatewayv2": ("apigateway",),
    # CreateBackupVault also calls backup-storage:MountCapsule (AWS Backup's own storage).
    "backup": ("backup", "backup-storage"),
    # Cloud Control resources are created through CloudFormation's resource handlers.
    "cloudcontrol": ("cloudformation",),
    "cloudfront": ("cloudfront",),
    "cloudtrail": ("cloudtrail",),
    "cloudwatch": ("cloudwatch", "logs", "events"),
    "codebuild": ("codebuild",),
    "codepipeline": ("codepipeline", "codeconnections", "codestar-connections"),
    "cognito": ("cognito-idp",),
    "ec2": ("ec2",),
    "ecr": ("ecr",),
    # EKS managed node groups launch through an Auto Scaling group EKS owns.
    "eks": ("eks", "autoscaling"),
    "elasticache": ("elasticache",),
    "glue": ("glue",),
    "kinesis": ("kinesis", "firehose"),
    "kms": ("kms",),
    "lambda": ("lambda",),
    "neptune": ("rds",),
    "opensearch": ("es", "aoss"),
    "quicksight": ("quicksight",),
    "rds": ("rds",),
    "redshift": ("redshift",),
    "redshiftdata": ("redshift-data",),
    "redshiftserverless": ("redshift-serverless",),
    "route53": ("route53",),
    "s3": ("s3",),
    # The analytics partition registration: an EventBridge Scheduler schedule and a state machine.
    "scheduler": ("scheduler",),
    "secretsmanager": ("secretsmanager",),
    "sfn": ("states",),
    "signer": ("signer",),
    "shield": ("shield",),
    "sns": ("sns",),
    "sqs": ("sqs",),
    "ssm": ("ssm",),
    "vpc": ("ec2",),
    "wafv2": ("wafv2",),
}
#: Read by every run: the release record (`components.lookups.release_image_tag`).
ALWAYS = ("ssm", "sts")
#: AWS managed policies that would make a role the deployer creates an administrator.
ADMIN_POLICIES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
#: Name prefix of the roles pulumi-eks creates for the cluster (`<cluster logical name>-eks`).
EKS_ROLE_PREFIX = "cluster-eks-"
#: Where CloudFront, its ACM certificates and CLOUDFRONT-scoped web ACLs live; IAM, Route 53 and
#: Shield are global and AWS evaluates their calls as us-east-1 requests.
GLOBAL_REGION = "us-east-1"


def deploy_role_name(project: str, stack: str) -> str:
    """`<project>-<stack>-deploy`: the role, and the name of the stack's deploy runner."""
    return physical_name(project, stack, "deploy", "iam_role")


def deploy_role_arn(ctx: StackContext, stack: str | None = None) -> str:
    """ARN of the deploy role of `stack` (default: the running stack) in this account."""
    name = deploy_role_name(ctx.project, stack or ctx.stack)
    return f"arn:{lookups.partition()}:iam::{lookups.account_id()}:role/{name}"


def estate_services() -> list[str]:
    """Every IAM service prefix a `pulumi up` of the estate calls."""
    return sorted({s for services in ESTATE_SERVICES.values() for s in services} | set(ALWAYS))


def deploy_policy(
    project: str, stack: str, region: str, partition: str, account: str
) -> dict[str, Any]:
    """The deploy role's permissions (see the module docstring for why each is as wide as it is)."""
    iam = f"arn:{partition}:iam::{account}"
    own = f"{project}-{stack}-"
    regions = sorted({region, GLOBAL_REGION})
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ManageEstateServices",
                "Effect": "Allow",
                "Action": [f"{s}:*" for s in estate_services()],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": regions}},
            },
            {
                "Sid": "ReadIam",
                "Effect": "Allow",
                "Action": ["iam:Get*", "iam:List*"],
                "Resource": "*",
            },
            {
                "Sid": "ManageOwnRolesAndPolicies",
                "Effect": "Allow",
                "Action": [
                    "iam:AttachRolePolicy",
                    "iam:CreatePolicy",
                    "iam:CreatePolicyVersion",
                    "iam:CreateRole",
                    "iam:DeletePolicy",
                    "iam:DeletePolicyVersion",
                    "iam:DeleteRole",
                    "iam:DeleteRolePolicy",
                    "iam:DetachRolePolicy",
                    "iam:PassRole",
                    "iam:PutRolePolicy",
                    "iam:TagPolicy",
                    "iam:TagRole",
                    "iam:UntagPolicy",
                    "iam:UntagRole",
                    "iam:UpdateAssumeRolePolicy",
                    "iam:UpdateRole",
                    "iam:UpdateRoleDescription",
                ],
                "Resource": [
                    f"{iam}:role/{own}*",
                    f"{iam}:role/{EKS_ROLE_PREFIX}*",
                    f"{iam}:policy/{own}*",
                ],
            },
            {
                "Sid": "ManageClusterOidcProvider",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateOpenIDConnectProvider",
                    "iam:DeleteOpenIDConnectProvider",
                    "iam:TagOpenIDConnectProvider",
                    "iam:UntagOpenIDConnectProvider",
                    "iam:UpdateOpenIDConnectProviderThumbprint",
                ],
                "Resource": f"{iam}:oidc-provider/oidc.eks.{region}.amazonaws.com/*",
            },
            {
                # EKS, ELB, RDS, OpenSearch, ElastiCache, Redshift… create theirs on first use.
                "Sid": "CreateServiceLinkedRoles",
                "Effect": "Allow",
                "Action": ["iam:CreateServiceLinkedRole"],
                "Resource": f"{iam}:role/aws-service-role/*",
            },
            {
                "Sid": "NeverAttachAdminPolicies",
                "Effect": "Deny",
                "Action": ["iam:AttachRolePolicy"],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "iam:PolicyARN": [
                            f"arn:{partition}:iam::aws:policy/{p}" for p in ADMIN_POLICIES
                        ]
                    }
                },
            },
            {
                # The runner project runs as this role, so the role may pass itself to CodeBuild
                # only; every other change to itself or its boundary is refused.
                "Sid": "NeverChangeItself",
                "Effect": "Deny",
                "NotAction": ["iam:PassRole", "iam:Get*", "iam:List*"],
                "Resource": [
                    f"{iam}:role/{deploy_role_name(project, stack)}",
                    f"{iam}:policy/{own}deploy*",
                ],
            },
        ],
    }


def boundary_policy() -> dict[str, Any]:
    """Permissions boundary of the deploy role: the same services, nothing else, ever."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EstateServicesOnly",
                "Effect": "Allow",
                "Action": ["iam:*", *(f"{s}:*" for s in estate_services())],
                "Resource": "*",
            },
            {
                "Sid": "NoUsersOrKeys",
                "Effect": "Deny",
                "Action": ["iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:CreateUser"],
                "Resource": "*",
            },
        ],
    }


def trust_policy(
    project: str,
    stack: str,
    region: str,
    partition: str,
    account: str,
    admin_principal_arns: Sequence[str],
) -> dict[str, Any]:
    """Who may act as the deploy role: the stack's deploy runner and the named administrators.

    CodeBuild (confused-deputy guidance): "We recommend using the aws:SourceArn and
    aws:SourceAccount global condition context keys in resource policies to limit the
    permissions that CodeBuild gives another service to the resource."
    """
    runner = (
        f"arn:{partition}:codebuild:{region}:{account}:project/{deploy_role_name(project, stack)}"
    )
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DeployRunner",
            "Effect": "Allow",
            "Principal": {"Service": "codebuild.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": runner},
            },
        }
    ]
    if admin_principal_arns:
        statements.append(
            {
                "Sid": "Administrators",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(admin_principal_arns)},
                "Action": "sts:AssumeRole",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass
class DeployRolesArgs:
    """The stacks of this account and who may deploy them by hand."""

    #: Stacks whose `<project>-<stack>-deploy` role to create (e.g. dev, staging, prod).
    stacks: Sequence[str]
    #: IAM roles or users (e.g. the platform team's SSO role) allowed to assume the deploy roles
    #: for a first deploy or a break-glass run. Nobody else can.
    admin_principal_arns: Sequence[str]
    #: A deploy runs up to 2 h (the runner's timeout); IAM allows 1-12 h.
    max_session_hours: int = 3

    def __post_init__(self) -> None:
        if not self.stacks or len(set(self.stacks)) != len(self.stacks):
            raise ValueError(f"stacks={list(self.stacks)}: list each stack once")
        for arn in self.admin_principal_arns:
            if not arn.startswith("arn:") or ":iam::" not in arn or arn.endswith(":root"):
                raise ValueError(
                    f"admin_principal_arns: {arn!r} is not an IAM role or user ARN; name the "
                    "roles (e.g. arn:aws:iam::123456789012:role/PlatformAdmin), not the account"
                )
        # IAM MaxSessionDuration: "you can specify a value from 1 hour to 12 hours".
        if not 1 <= self.max_session_hours <= 12:
            raise ValueError(
                f"max_session_hours={self.max_session_hours}: IAM accepts 1 to 12 hours"
            )


class DeployRoles(Component):
    """One deploy role per stack, each capped by its own boundary and policy."""

    TYPE = "soundstack:bootstrap:DeployRoles"

    def __init__(
        self,
        name: str,
        args: DeployRolesArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        part, account, region = lookups.partition(), lookups.account_id(), ctx.region
        self.roles: dict[str, aws.iam.Role] = {}
        for stack in args.stacks:
            role_name = deploy_role_name(ctx.project, stack)
            boundary = aws.iam.Policy(
                self.child_name(f"{stack}-boundary"),
                name=f"{role_name}-boundary",
                description=f"Permissions boundary of {role_name}",
                policy=json.dumps(boundary_policy()),
                tags=self.tags({"stack": stack}),
                opts=self.child_opts(),
            )
            policy = aws.iam.Policy(
                self.child_name(f"{stack}-policy"),
                name=f"{role_name}-policy",
                description=f"What `pulumi up` of {ctx.project}-{stack} needs",
                policy=json.dumps(deploy_policy(ctx.project, stack, region, part, account)),
                tags=self.tags({"stack": stack}),
                opts=self.child_opts(),
            )
            role = aws.iam.Role(
                self.child_name(stack),
                name=role_name,
                description=f"pulumi up of {ctx.project}-{stack} (its deploy runner, admins)",
                assume_role_policy=json.dumps(
                    trust_policy(
                        ctx.project, stack, region, part, account, args.admin_principal_arns
                    )
                ),
                permissions_boundary=boundary.arn,
                max_session_duration=args.max_session_hours * 3600,
                tags=self.tags({"stack": stack}),
                opts=self.child_opts(),
            )
            aws.iam.RolePolicyAttachment(
                self.child_name(f"{stack}-attach"),
                role=role.name,
                policy_arn=policy.arn,
                opts=self.child_opts(),
            )
            self.roles[stack] = role
        self.role_arns: dict[str, pulumi.Output[str]] = {s: r.arn for s, r in self.roles.items()}
        self.register_outputs({"role_arns": self.role_arns})
