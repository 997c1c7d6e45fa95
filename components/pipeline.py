"""Delivery: a CodePipeline (V2) from the repository to every stack, prod behind an approval.

Stages: Source (CodeConnections) → Test (`make check` in CodeBuild, or handed to Jenkins through
a CodePipeline custom action when a Jenkins URL is configured) → Images (build and push the
service images to ECR) → one Deploy stage per stack (`pulumi preview --policy-pack policies`,
then `pulumi up --yes`), with a manual approval before prod. `Jenkinsfile` at the repository
root runs the same stages on Jenkins.

Each CodeBuild project runs in the VPC's private subnets under its own role holding only what
its stage needs; deploy projects hold no AWS permissions beyond assuming their stack's
deployment role. The Pulumi access token lives in Secrets Manager (the secret is created
empty: `aws secretsmanager put-secret-value --secret-id <name> --secret-string <token>`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import yaml

from components import lookups
from components.base import Component, StackContext
from components.buckets import Bucket, bucket_policy, log_bucket, private_bucket
from components.iam import ServiceRole, ServiceRoleArgs
from components.kms import EncryptionKey, EncryptionKeyArgs
from components.logs import log_group
from components.network import Network

#: CodeBuild image for every project: Graviton, like the EKS nodes and Lambda functions.
BUILD_IMAGE = "aws/codebuild/amazonlinux-aarch64-standard:3.0"
JENKINS_PROVIDER = "SoundStackJenkins"
SOURCE = "source"


@dataclass
class PipelineArgs:
    """Where the code comes from and where it goes. Prod always waits for an approval."""

    network: Network
    #: `owner/name` of the repository behind `connection_arn`.
    repository: str
    #: A CodeConnections (formerly CodeStar Connections) connection to the Git host.
    connection_arn: str
    branch: str = "main"
    #: Stacks deployed in order; the stage of `prod` is preceded by a manual approval.
    environments: Sequence[str] = ("staging", "prod")
    #: Command of the test stage (the same as CI's).
    test_command: str = "make check"
    #: Service name → ECR repository its image is pushed to (built from
    #: `app_services/<service>/Dockerfile`, tagged with the commit id).
    images: Mapping[str, aws.ecr.Repository] = field(default_factory=dict)
    #: Stack → IAM role `pulumi up` assumes; default `<project>-<stack>-deploy` in this account.
    deploy_role_arns: Mapping[str, str] = field(default_factory=dict)
    #: Jenkins server taking over the test stage through a custom action; None: CodeBuild.
    jenkins_url: str | None = None
    jenkins_project: str = "soundstack"
    log_retention_days: int = 365
    logs_kms_key_arn: pulumi.Input[str] | None = None
    #: Bucket for the artifacts bucket's S3 server access logs; None makes one.
    access_logs: Bucket | None = None

    def __post_init__(self) -> None:
        if not self.environments or len(set(self.environments)) != len(self.environments):
            raise ValueError(f"environments={list(self.environments)}: list each stack once")
        if self.jenkins_url is not None and not self.jenkins_url.startswith("https://"):
            raise ValueError(f"jenkins_url={self.jenkins_url} must use https://")


def buildspec(
    commands: Sequence[str],
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    install: Sequence[str] = (),
) -> str:
    """A CodeBuild buildspec (version 0.2) running `commands` after `install`."""
    spec: dict[str, Any] = {"version": 0.2}
    if env or secrets:
        spec["env"] = {"shell": "bash"}
        if env:
            spec["env"]["variables"] = dict(env)
        if secrets:
            spec["env"]["secrets-manager"] = dict(secrets)
    spec["phases"] = {}
    if install:
        spec["phases"]["install"] = {"commands": list(install)}
    spec["phases"]["build"] = {"commands": list(commands)}
    return yaml.safe_dump(spec, sort_keys=False, width=1000)


def deploy_commands(stack: str) -> list[str]:
    """Assume the stack's deployment role, then preview under the policy pack and deploy."""
    return [
        'creds=$(aws sts assume-role --role-arn "$DEPLOY_ROLE_ARN" '
        '--role-session-name "codebuild-$STACK" --query Credentials --output json)',
        'export AWS_ACCESS_KEY_ID=$(jq -r .AccessKeyId <<<"$creds")',
        'export AWS_SECRET_ACCESS_KEY=$(jq -r .SecretAccessKey <<<"$creds")',
        'export AWS_SESSION_TOKEN=$(jq -r .SessionToken <<<"$creds")',
        f"pulumi stack select {stack}",
        f"pulumi preview --stack {stack} --policy-pack policies --diff",
        f"pulumi up --stack {stack} --policy-pack policies --yes --skip-preview",
    ]


PULUMI_INSTALL = (
    "curl -fsSL https://get.pulumi.com | sh",
    'export PATH="$HOME/.pulumi/bin:$PATH"',
    "python3 -m venv .venv && .venv/bin/pip install --quiet -e .",
)


class Pipeline(Component):
    """CodePipeline V2 with CodeBuild projects, an encrypted artifact store and approvals."""

    TYPE = "soundstack:pipeline:Pipeline"

    def __init__(
        self,
        name: str,
        args: PipelineArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self._args = args
        self.account = lookups.account_id()
        self.partition = lookups.partition()
        self.key = EncryptionKey(
            self.child_name("key"),
            EncryptionKeyArgs(description=f"Pipeline artifacts of {ctx.project}-{ctx.stack}"),
            ctx,
            opts=self.child_opts(),
        )
        logs = args.access_logs or log_bucket(self, "access-logs", 365)
        self.artifacts = private_bucket(self, "artifacts", self.key.arn, logs)
        bucket_policy(self, "artifacts", self.artifacts)
        self.security_group = args.network.security_group(
            self, "build", "CodeBuild projects of the delivery pipeline"
        )
        self.pulumi_token = aws.secretsmanager.Secret(
            self.child_name("pulumi-token"),
            name=self.physical_name("pulumi-access-token", "secret"),
            description="Pulumi access token for CodeBuild deploys; set its value out of band. "
            "Pulumi tokens cannot be rotated by Lambda: replace it when Pulumi expires it.",
            kms_key_id=self.key.arn,
            tags=self.tags(),
            opts=self.child_opts(),
        )

        self.projects: dict[str, aws.codebuild.Project] = {}
        if args.jenkins_url is None:
            self._project(
                "test", buildspec([args.test_command], install=["pip install --upgrade pip"])
            )
        self._images_project(args)
        for stack in args.environments:
            self._deploy_project(stack, args)

        self.jenkins_action: aws.codepipeline.CustomActionType | None = None
        if args.jenkins_url is not None:
            url = args.jenkins_url.rstrip("/")
            self.jenkins_action = aws.codepipeline.CustomActionType(
                self.child_name("jenkins-action"),
                category="Test",
                provider_name=JENKINS_PROVIDER,
                version="1",
                settings={
                    "entity_url_template": f"{url}/job/{{Config:ProjectName}}/",
                    "execution_url_template": (
                        f"{url}/job/{{Config:ProjectName}}/{{ExternalExecutionId}}/"
                    ),
                },
                configuration_properties=[
                    {
                        "name": "ProjectName",
                        "key": True,
                        "required": True,
                        "secret": False,
                        "queryable": True,
                        "description": "Jenkins job that runs the Jenkinsfile",
                        "type": "String",
                    }
                ],
                input_artifact_details={"minimum_count": 1, "maximum_count": 1},
                output_artifact_details={"minimum_count": 0, "maximum_count": 0},
                tags=self.tags(),
                opts=self.child_opts(),
            )

        self.role = self._pipeline_role(args)
        self.pipeline = aws.codepipeline.Pipeline(
            self.child_name("pipeline"),
            name=self.physical_name("", "codepipeline"),
            pipeline_type="V2",
            execution_mode="QUEUED",  # every commit reaches prod in order, none is skipped
            role_arn=self.role.role_arn,
            artifact_stores=[
                {
                    "location": self.artifacts.name,
                    "type": "S3",
                    "encryption_key": {"id": self.key.arn, "type": "KMS"},
                }
            ],
            stages=self._stages(args),
            triggers=[
                {
                    "provider_type": "CodeStarSourceConnection",
                    "git_configuration": {
                        "source_action_name": "Source",
                        "pushes": [{"branches": {"includes": [args.branch]}}],
                    },
                }
            ],
            tags=self.tags(),
            opts=self.child_opts(depends_on=[self.role]),
        )
        self.arn: pulumi.Output[str] = self.pipeline.arn
        self.register_outputs({"arn": self.arn, "artifacts": self.artifacts.name})

    # -- CodeBuild ---------------------------------------------------------------------------
    def _project(
        self,
        role_name: str,
        spec: pulumi.Input[str],
        privileged: bool = False,
        env: Sequence[Mapping[str, Any]] = (),
        timeout_minutes: int = 60,
    ) -> ServiceRole:
        """A CodeBuild project in the private subnets, under a role of its own."""
        args = self._args
        role = ServiceRole(
            self.child_name(f"{role_name}-build"),
            ServiceRoleArgs(
                services=["codebuild.amazonaws.com"], security_group_id=self.security_group.id
            ),
            self.ctx,
            opts=self.child_opts(),
        )
        group = log_group(self, role_name, args.log_retention_days, args.logs_kms_key_arn)
        role.grant(
            "WriteBuildLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [pulumi.Output.concat(group.arn, ":log-stream:*")],
        )
        role.grant(
            "UsePipelineArtifacts",
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            [pulumi.Output.concat(self.artifacts.arn, "/*")],
        )
        role.grant("UseArtifactsKey", ["kms:Decrypt", "kms:GenerateDataKey"], [self.key.arn])
        # CodeBuild attaches a network interface in the VPC for every build; EC2 scopes the
        # Describe* calls to no resource, and the permission grant to the pipeline's subnets.
        role.grant(
            "DescribeBuildNetwork",
            ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
             "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces",
             "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"],
            ["*"],
        )  # fmt: skip
        role.grant(
            "AttachBuildNetwork",
            ["ec2:CreateNetworkInterfacePermission"],
            [f"arn:{self.partition}:ec2:{self.ctx.region}:{self.account}:network-interface/*"],
            {
                "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                "ArnEquals": {
                    "ec2:Subnet": [
                        pulumi.Output.concat(
                            f"arn:{self.partition}:ec2:{self.ctx.region}:{self.account}:subnet/",
                            subnet,
                        )
                        for subnet in args.network.private_subnet_ids
                    ]
                },
            },
        )
        self.projects[role_name] = aws.codebuild.Project(
            self.child_name(role_name),
            name=self.physical_name(role_name, "codebuild"),
            description=f"{role_name} stage of the {self.ctx.project} pipeline",
            service_role=role.role_arn,
            source={"type": "CODEPIPELINE", "buildspec": spec},
            artifacts={"type": "CODEPIPELINE"},
            environment={
                "type": "ARM_CONTAINER",
                "compute_type": "BUILD_GENERAL1_LARGE" if privileged else "BUILD_GENERAL1_MEDIUM",
                "image": BUILD_IMAGE,
                "image_pull_credentials_type": "CODEBUILD",
                "privileged_mode": privileged,
                "environment_variables": list(env),
            },
            vpc_config={
                "vpc_id": args.network.vpc_id,
                "subnets": args.network.private_subnet_ids,
                "security_group_ids": [self.security_group.id],
            },
            logs_config={
                "cloudwatch_logs": {"status": "ENABLED", "group_name": group.name},
                "s3_logs": {"status": "DISABLED"},
            },
            encryption_key=self.key.arn,
            build_timeout=timeout_minutes,
            tags=self.tags(),
            opts=self.child_opts(depends_on=[role]),
        )
        return role

    def _images_project(self, args: PipelineArgs) -> None:
        registry = f"{self.account}.dkr.ecr.{self.ctx.region}.amazonaws.com"
        commands = [
            f"aws ecr get-login-password | docker login --username AWS --password-stdin {registry}",
            'TAG="$CODEBUILD_RESOLVED_SOURCE_VERSION"',
        ]
        env = []
        for service in sorted(args.images):
            var = f"{service.upper().replace('-', '_')}_REPOSITORY"
            env.append(
                {"name": var, "value": args.images[service].repository_url, "type": "PLAINTEXT"}
            )
            commands += [
                f'docker build --file app_services/{service}/Dockerfile --tag "${var}:$TAG" .',
                f'docker push "${var}:$TAG"',
            ]
        if not args.images:
            commands.append('echo "no service images configured for this pipeline"')
        # Privileged mode is needed here only: `docker build` talks to a Docker daemon inside
        # the build container, which cannot start unprivileged. No other project gets it.
        role = self._project("images", buildspec(commands), privileged=True, env=env)
        role.grant(
            "LogInToRegistry", ["ecr:GetAuthorizationToken"], ["*"]
        )  # the token call has no resource
        if args.images:
            role.grant(
                "PushServiceImages",
                ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                 "ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage",
                 "ecr:UploadLayerPart"],
                [args.images[s].arn for s in sorted(args.images)],
            )  # fmt: skip

    def _deploy_project(self, stack: str, args: PipelineArgs) -> None:
        role_arn = args.deploy_role_arns.get(stack) or (
            f"arn:{self.partition}:iam::{self.account}:role/{self.ctx.project}-{stack}-deploy"
        )
        spec = self.pulumi_token.arn.apply(
            lambda token: buildspec(
                deploy_commands(stack),
                env={"STACK": stack, "DEPLOY_ROLE_ARN": role_arn},
                secrets={"PULUMI_ACCESS_TOKEN": token},
                install=PULUMI_INSTALL,
            )
        )
        role = self._project(f"deploy-{stack}", spec, timeout_minutes=120)
        role.grant("ReadPulumiToken", ["secretsmanager:GetSecretValue"], [self.pulumi_token.arn])
        role.grant("AssumeDeployRole", ["sts:AssumeRole"], [role_arn])

    # -- CodePipeline ------------------------------------------------------------------------
    def _pipeline_role(self, args: PipelineArgs) -> ServiceRole:
        role = ServiceRole(
            self.child_name("pipeline"),
            ServiceRoleArgs(services=["codepipeline.amazonaws.com"]),
            self.ctx,
            opts=self.child_opts(),
        )
        role.grant(
            "UsePipelineArtifacts",
            ["s3:GetBucketVersioning", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            [self.artifacts.arn, pulumi.Output.concat(self.artifacts.arn, "/*")],
        )
        role.grant("UseArtifactsKey", ["kms:Decrypt", "kms:GenerateDataKey"], [self.key.arn])
        # IAM: "the service prefix must match that of the resource" (codestar-connections
        # ARNs before the 2024 rename to codeconnections, codeconnections ARNs after).
        role.grant(
            "UseSourceConnection",
            [f"{args.connection_arn.split(':')[2]}:UseConnection"],
            [args.connection_arn],
        )
        role.grant(
            "RunBuilds",
            ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
            [p.arn for p in self.projects.values()],
        )
        return role

    def _build_action(self, name: str, project: str, run_order: int = 1) -> dict[str, Any]:
        return {
            "name": name,
            "category": "Build",
            "owner": "AWS",
            "provider": "CodeBuild",
            "version": "1",
            "input_artifacts": [SOURCE],
            "configuration": {"ProjectName": self.projects[project].name},
            "run_order": run_order,
        }

    def _stages(self, args: PipelineArgs) -> list[dict[str, Any]]:
        source = {
            "name": "Source",
            "actions": [
                {
                    "name": "Source",
                    "category": "Source",
                    "owner": "AWS",
                    "provider": "CodeStarSourceConnection",
                    "version": "1",
                    "output_artifacts": [SOURCE],
                    "configuration": {
                        "ConnectionArn": args.connection_arn,
                        "FullRepositoryId": args.repository,
                        "BranchName": args.branch,
                        "DetectChanges": "false",  # the V2 trigger starts runs
                    },
                }
            ],
        }
        if self.jenkins_action is not None:
            test_action: dict[str, Any] = {
                "name": "Jenkins",
                "category": "Test",
                "owner": "Custom",
                "provider": JENKINS_PROVIDER,
                "version": "1",
                "input_artifacts": [SOURCE],
                "configuration": {"ProjectName": args.jenkins_project},
            }
        else:
            test_action = self._build_action("Test", "test")
        stages = [
            source,
            {"name": "Test", "actions": [test_action]},
            {"name": "Images", "actions": [self._build_action("Images", "images")]},
        ]
        for stack in args.environments:
            actions = [self._build_action("Deploy", f"deploy-{stack}", run_order=2)]
            if stack == "prod":
                actions.insert(
                    0,
                    {
                        "name": "ApproveProd",
                        "category": "Approval",
                        "owner": "AWS",
                        "provider": "Manual",
                        "version": "1",
                        "configuration": {
                            "CustomData": "Review the staging deploy and the prod preview "
                            "policy report before approving."
                        },
                        "run_order": 1,
                    },
                )
            stages.append({"name": f"Deploy-{stack}", "actions": actions})
        return stages
