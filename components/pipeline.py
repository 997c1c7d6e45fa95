"""Delivery: a CodePipeline (V2) from the repository to every stack, prod behind an approval.

Stages: Source (CodeConnections) → Test (lint, types and tests in CodeBuild against a PostgreSQL
and Redis the stage installs, or handed to Jenkins through a CodePipeline custom action when a
Jenkins URL is configured) → Images (build each service image once, push it tagged with the
commit id to the ECR repository of every stack) → one Deploy stage per stack, with a manual
approval before prod. `Jenkinsfile` at the repository root runs the same stages on Jenkins.

A Deploy stage starts that stack's `DeployRunner`: a CodeBuild project the stack itself owns, in
its own private subnets, running as its `<project>-<stack>-deploy` role (components/bootstrap.py).
Only from inside that VPC is the private EKS endpoint reachable; a project in the pipeline's VPC
could not reach another stack's. The runner builds the Lambda layer (`make layer`), checks that
every image of the commit exists, records the commit as the stack's release (SSM, read back by
`lookups.release_image_tag`), then runs `pulumi preview --policy-pack policies` and `pulumi up`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import yaml

from soundstack.components import lookups
from soundstack.components.base import Component, StackContext
from soundstack.components.bootstrap import deploy_role_name
from soundstack.components.buckets import Bucket, bucket_policy, log_bucket, private_bucket
from soundstack.components.cluster import image_repository_name
from soundstack.components.iam import ServiceRole, ServiceRoleArgs
from soundstack.components.kms import EncryptionKey, EncryptionKeyArgs
from soundstack.components.logs import log_group
from soundstack.components.network import Network

#: CodeBuild image for every project: Graviton, like the EKS nodes and Lambda functions. It is
#: Amazon Linux 2023 (CodeBuild's curated images: "Amazon Linux 2023 |
#: aws/codebuild/amazonlinux-aarch64-standard:3.0"), so no build may assume Debian tools
#: (`.ci/codebuild-services` installs the test stage's PostgreSQL and Redis with dnf).
BUILD_IMAGE = "aws/codebuild/amazonlinux-aarch64-standard:3.0"
#: Python of every build (`runtime-versions`); the project's floor (pyproject `requires-python`).
BUILD_PYTHON = "3.11"
#: Node.js of the deploy runner (`make web`): the image's runtimes.yml offers 18, 20 and 22;
#: Vite 8 needs ^20.19 or >=22.12, which `.ci/node` checks.
BUILD_NODE = "22"
#: CreateCustomActionType: a custom action's `provider` is 1 to 35 characters of
#: `[0-9A-Za-z_-]`, unique per account with its category and version.
_JENKINS_PROVIDER = re.compile(r"[0-9A-Za-z_-]{1,35}")
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
    #: Commands of the test stage: `make check` without its `services` step, which is
    #: Debian's; `.ci/codebuild-services` provides PostgreSQL and Redis on the build image.
    test_commands: Sequence[str] = ("make install lint test",)
    #: Services whose images the Images stage builds (`app_services/<service>/Dockerfile`) and
    #: pushes, tagged with the commit id, to `image_repository_name` of every environment.
    services: Sequence[str] = ()
    #: Jenkins server taking over the test stage through a custom action; None: CodeBuild.
    jenkins_url: str | None = None
    #: The Jenkins job the test stage runs; None: the project's name.
    jenkins_project: str | None = None
    #: Provider name of the custom action (account-wide; the Jenkins plugin polls for it);
    #: None: `<project>-jenkins`.
    jenkins_provider: str | None = None
    log_retention_days: int = 365
    #: KMS key of the log groups (its policy admits CloudWatch Logs); None: a key of the
    #: component's own.
    logs_kms_key_arn: pulumi.Input[str] | None = None
    #: Bucket for the artifacts bucket's S3 server access logs; None makes one.
    access_logs: Bucket | None = None

    def __post_init__(self) -> None:
        if not self.environments or len(set(self.environments)) != len(self.environments):
            raise ValueError(
                f"PipelineArgs.environments={list(self.environments)}: list each stack once"
            )
        if self.jenkins_url is not None and not self.jenkins_url.startswith("https://"):
            raise ValueError(f"PipelineArgs.jenkins_url={self.jenkins_url} must use https://")
        if self.jenkins_provider is not None and not _JENKINS_PROVIDER.fullmatch(
            self.jenkins_provider
        ):
            raise ValueError(
                f"PipelineArgs.jenkins_provider={self.jenkins_provider!r}: CodePipeline takes 1 "
                "to 35 letters, digits, '_' or '-'; set e.g. jenkins_provider='AcmeJenkins'"
            )


def jenkins_provider_name(project: str) -> str:
    """`<project>-jenkins`, cut to the custom action's 35 characters."""
    suffix = "-jenkins"
    return re.sub(r"[^0-9A-Za-z_-]+", "-", project)[: 35 - len(suffix)] + suffix


def in_vpc_build(
    network: Network,
    security_group_id: pulumi.Input[str],
    log_group_name: pulumi.Input[str],
    privileged: bool = False,
) -> dict[str, Any]:
    """A CodeBuild project's environment (arm64 Amazon Linux), private subnets and CloudWatch
    logging: what every build of the pipeline and the deploy runner shares."""
    return {
        "environment": {
            "type": "ARM_CONTAINER",
            "compute_type": "BUILD_GENERAL1_LARGE" if privileged else "BUILD_GENERAL1_MEDIUM",
            "image": BUILD_IMAGE,
            "image_pull_credentials_type": "CODEBUILD",
            "privileged_mode": privileged,
        },
        "vpc_config": {
            "vpc_id": network.vpc_id,
            "subnets": network.private_subnet_ids,
            "security_group_ids": [security_group_id],
        },
        "logs_config": {
            "cloudwatch_logs": {"status": "ENABLED", "group_name": log_group_name},
            "s3_logs": {"status": "DISABLED"},
        },
    }


def buildspec(
    commands: Sequence[str],
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    install: Sequence[str] = (),
    runtimes: Mapping[str, str] | None = None,
) -> str:
    """A CodeBuild buildspec (version 0.2, bash) running `commands` after `install` with
    `BUILD_PYTHON` (and `runtimes`, e.g. `{"nodejs": "22"}`) selected."""
    spec: dict[str, Any] = {"version": 0.2, "env": {"shell": "bash"}}
    if env:
        spec["env"]["variables"] = dict(env)
    if secrets:
        spec["env"]["secrets-manager"] = dict(secrets)
    spec["phases"] = {
        "install": {
            "runtime-versions": {"python": BUILD_PYTHON, **(runtimes or {})},
            "commands": list(install),
        }
    }
    if not install:
        del spec["phases"]["install"]["commands"]
    spec["phases"]["build"] = {"commands": list(commands)}
    return yaml.safe_dump(spec, sort_keys=False, width=1000)


def deploy_commands(
    stack: str, repositories: Sequence[str], release_parameter: str, sign_lambda: bool = False
) -> list[str]:
    """The deploy runner's build: layer, release record (only once its images exist), with
    `sign_lambda` the functions' code and layer signed by Signer and recorded (`soundstack
    sign-lambda`, for a code signing config that enforces), deploy, then the web client built
    and published onto what `pulumi up` created (README "Identity, media, web and edge":
    `soundstack publish-web`).

    CodeBuild sets CODEBUILD_RESOLVED_SOURCE_VERSION to "the source revision provided by
    CodePipeline", the commit id the Images stage of the same execution tagged its pushes with.
    `describe-images` fails the build when an image is missing, so the release is never recorded
    (and no Deployment refers to it) before every image exists.
    """
    # The stack's own pack settings (policies/config/<stack>.json), as in a local preview.
    pack = f"--policy-pack policies --policy-pack-config policies/config/{stack}.json"
    commands = ["make layer"]
    if repositories:
        commands.append('TAG="$CODEBUILD_RESOLVED_SOURCE_VERSION"')
        commands += [
            f'aws ecr describe-images --repository-name {repo} --image-ids imageTag="$TAG" '
            "--query 'imageDetails[0].imageDigest' --output text"
            for repo in repositories
        ]
        commands.append(
            f'aws ssm put-parameter --name {release_parameter} --type String --value "$TAG" '
            "--overwrite"
        )
    sign = [f".venv/bin/soundstack sign-lambda {stack}"] if sign_lambda else []
    return [
        *commands,
        f"pulumi stack select {stack}",
        *sign,
        f"pulumi preview --stack {stack} {pack} --diff",
        f"pulumi up --stack {stack} {pack} --yes --skip-preview",
        "bash .ci/node",  # Vite 8's Node floor, checked before the build
        "make web",
        f".venv/bin/soundstack publish-web {stack} --wait",
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
        #: Provider name of the Jenkins custom action (with `jenkins_url`).
        self.jenkins_provider = args.jenkins_provider or jenkins_provider_name(ctx.project)
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
        self.projects: dict[str, aws.codebuild.Project] = {}
        if args.jenkins_url is None:
            self._project(
                "test", buildspec(args.test_commands, install=["bash .ci/codebuild-services"])
            )
        self._images_project(args)
        #: Stack → name of the deploy runner its Deploy stage starts (owned by that stack).
        self.runners = {stack: deploy_role_name(ctx.project, stack) for stack in args.environments}

        self.jenkins_action: aws.codepipeline.CustomActionType | None = None
        if args.jenkins_url is not None:
            url = args.jenkins_url.rstrip("/")
            self.jenkins_action = aws.codepipeline.CustomActionType(
                self.child_name("jenkins-action"),
                category="Test",
                provider_name=self.jenkins_provider,
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
        group = log_group(
            self,
            role_name,
            args.log_retention_days,
            args.logs_kms_key_arn,
            arg="PipelineArgs.log_retention_days",
        )
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
            **in_vpc_build(args.network, self.security_group.id, group.name, privileged),
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
        repositories = []
        for service in sorted(args.services):
            local = f"{service}:$TAG"
            commands.append(
                f'docker build --file app_services/{service}/Dockerfile --tag "{local}" .'
            )
            for stack in args.environments:
                repo = image_repository_name(self.ctx.project, stack, service)
                repositories.append(repo)
                # Tags are immutable ("ImageTagAlreadyExistsException: The specified image is
                # tagged with a tag that already exists. The repository is configured for tag
                # immutability."): a retried execution finds its image and skips the push.
                commands.append(
                    f'aws ecr describe-images --repository-name {repo} --image-ids imageTag="$TAG" '
                    f'>/dev/null 2>&1 || {{ docker tag "{local}" "{registry}/{repo}:$TAG" && '
                    f'docker push "{registry}/{repo}:$TAG"; }}'
                )
        if not args.services:
            commands.append('echo "no service images configured for this pipeline"')
        # Privileged mode is needed here only: `docker build` talks to a Docker daemon inside
        # the build container, which cannot start unprivileged. No other project gets it.
        role = self._project("images", buildspec(commands), privileged=True)
        role.grant(
            "LogInToRegistry", ["ecr:GetAuthorizationToken"], ["*"]
        )  # the token call has no resource
        if repositories:
            prefix = f"arn:{self.partition}:ecr:{self.ctx.region}:{self.account}:repository/"
            role.grant(
                "PushServiceImages",
                ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                 "ecr:CompleteLayerUpload", "ecr:DescribeImages", "ecr:InitiateLayerUpload",
                 "ecr:PutImage", "ecr:UploadLayerPart"],
                [prefix + repo for repo in repositories],
            )  # fmt: skip

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
        runner = f"arn:{self.partition}:codebuild:{self.ctx.region}:{self.account}:project/"
        role.grant(
            "RunBuilds",
            ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
            [
                *(p.arn for p in self.projects.values()),
                *(runner + name for name in self.runners.values()),
            ],
        )
        return role

    def _build_action(
        self, name: str, project: pulumi.Input[str], run_order: int = 1
    ) -> dict[str, Any]:
        return {
            "name": name,
            "category": "Build",
            "owner": "AWS",
            "provider": "CodeBuild",
            "version": "1",
            "input_artifacts": [SOURCE],
            "configuration": {"ProjectName": project},
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
                "provider": self.jenkins_provider,
                "version": "1",
                "input_artifacts": [SOURCE],
                "configuration": {"ProjectName": args.jenkins_project or self.ctx.project},
            }
        else:
            test_action = self._build_action("Test", self.projects["test"].name)
        stages = [
            source,
            {"name": "Test", "actions": [test_action]},
            {
                "name": "Images",
                "actions": [self._build_action("Images", self.projects["images"].name)],
            },
        ]
        for stack in args.environments:
            actions = [self._build_action("Deploy", self.runners[stack], run_order=2)]
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


@dataclass
class DeployRunnerArgs:
    """Where the stack's deploys run and what they check before recording a release."""

    network: Network
    #: The stack's deploy role (components/bootstrap.py), the runner's service role.
    role_arn: pulumi.Input[str]
    #: Customer-managed KMS key of the Pulumi access token secret and the build's artifacts
    #: (SecretsManager: the AWS managed key fails policy `secrets-cmk`).
    kms_key_arn: pulumi.Input[str]
    #: ECR repositories (names) whose image of the commit must exist before it is released.
    repositories: Sequence[str] = ()
    log_retention_days: int = 365
    #: KMS key of the log groups (its policy admits CloudWatch Logs); None: a key of the
    #: component's own.
    logs_kms_key_arn: pulumi.Input[str] | None = None
    #: A first deploy of a cluster with its add-ons takes about an hour; CodeBuild allows 5-2160.
    timeout_minutes: int = 120
    #: Sign the functions' code and layer before each deploy (`functions.code_signing:
    #: enforce`); the role's `signer:*`, S3 and KMS permissions cover it (components/bootstrap.py).
    sign_lambda: bool = False

    def __post_init__(self) -> None:
        if not 5 <= self.timeout_minutes <= 2160:
            raise ValueError(
                f"DeployRunnerArgs.timeout_minutes={self.timeout_minutes}: CodeBuild's build "
                "timeout is 5 to "
                "2160 minutes"
            )


class DeployRunner(Component):
    """The stack's deploy runner: `pulumi up` from inside its VPC, as its deploy role.

    A CodeBuild project named `<project>-<stack>-deploy` (the deploy role trusts CodeBuild only
    for that project) in the private subnets, whose security group the cluster admits on 443
    (`Cluster.allow_api_from`). The pipeline's Deploy stage of this stack starts it with the
    source of the execution; the Pulumi access token comes from the secret `pulumi_token`,
    created empty (`aws secretsmanager put-secret-value --secret-id <arn> --secret-string …`).
    """

    TYPE = "soundstack:pipeline:DeployRunner"

    def __init__(
        self,
        name: str,
        args: DeployRunnerArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.project_name = deploy_role_name(ctx.project, ctx.stack)
        self.security_group = args.network.security_group(
            self, "build", f"Deploy runner of {ctx.project}-{ctx.stack}"
        )
        self.security_group_id: pulumi.Output[str] = self.security_group.id
        self.pulumi_token = aws.secretsmanager.Secret(
            self.child_name("pulumi-token"),
            name=self.physical_name("pulumi-access-token", "secret"),
            description="Pulumi access token of the deploy runner; set its value out of band. "
            "Pulumi tokens cannot be rotated by Lambda: replace it when Pulumi expires it.",
            kms_key_id=args.kms_key_arn,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        group = log_group(
            self,
            "build",
            args.log_retention_days,
            args.logs_kms_key_arn,
            arg="DeployRunnerArgs.log_retention_days",
        )
        spec = self.pulumi_token.arn.apply(
            lambda token: buildspec(
                deploy_commands(
                    ctx.stack,
                    args.repositories,
                    lookups.release_parameter(ctx.project, ctx.stack),
                    args.sign_lambda,
                ),
                env={"STACK": ctx.stack},
                secrets={"PULUMI_ACCESS_TOKEN": token},
                install=PULUMI_INSTALL,
                runtimes={"nodejs": BUILD_NODE},
            )
        )
        self.project = aws.codebuild.Project(
            self.child_name("project"),
            name=self.project_name,
            description=f"pulumi up of {ctx.project}-{ctx.stack} from inside its VPC",
            service_role=args.role_arn,
            source={"type": "CODEPIPELINE", "buildspec": spec},
            artifacts={"type": "CODEPIPELINE"},
            **in_vpc_build(args.network, self.security_group.id, group.name),
            encryption_key=args.kms_key_arn,
            build_timeout=args.timeout_minutes,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self.register_outputs(
            {"project_name": self.project_name, "security_group_id": self.security_group_id}
        )
