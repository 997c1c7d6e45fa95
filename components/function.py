"""A reference service from `app_services/` packaged as a Lambda function.

`ServiceFunction` zips the `app_services` package (without tests and caches), adds a layer
with its third-party dependencies (built by `make layer` for Lambda's arm64 Python), and gives
the function its own IAM role, log group, dead-letter queue and, when it talks to VPC-only
stores, a security group in the private subnets. It is a `Grantee`: stores grant it access with
their verbs (`bucket.grant_read(fn)`, `database.allow_from(fn)` …), which land on its role.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import Component, StackContext
from components.iam import RoleGrantee, ServiceRole, ServiceRoleArgs
from components.logs import log_group
from components.network import Network

#: The package every function's code archive holds.
APP_SERVICES_DIR = Path(__file__).resolve().parent.parent / "app_services"
#: Where `make layer` installs the services' dependencies (`<dir>/python/...`).
DEFAULT_LAYER_DIR = Path(__file__).resolve().parent.parent / "build" / "layer"
#: Lambda runtime; `make layer` installs wheels for the same Python version and architecture.
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
#: Paths never shipped in a code archive.
_EXCLUDED_DIRS = frozenset({"tests", "__pycache__", ".pytest_cache", ".mypy_cache"})
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")
_EXCLUDED_FILES = frozenset({"Dockerfile", ".dockerignore", "requirements.txt"})
_TWO_WEEKS = 14 * 24 * 3600


def code_archive(source_dir: Path = APP_SERVICES_DIR) -> pulumi.AssetArchive:
    """The `app_services` package as Lambda expects it (`app_services/<service>/handler.py` at the
    archive root), without tests, caches, Dockerfiles or requirement files."""
    if not (source_dir / "__init__.py").is_file():
        raise ValueError(f"{source_dir} is not a Python package (no __init__.py)")
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {}
    for root, dirs, files in os.walk(source_dir):
        dirs[:] = sorted(d for d in dirs if d not in _EXCLUDED_DIRS and not d.startswith("."))
        for file in sorted(files):
            if file in _EXCLUDED_FILES or file.endswith(_EXCLUDED_SUFFIXES):
                continue
            path = Path(root) / file
            key = f"{source_dir.name}/{path.relative_to(source_dir).as_posix()}"
            assets[key] = pulumi.FileAsset(str(path))
    return pulumi.AssetArchive(assets)


def settings_environment(settings: Any) -> dict[str, pulumi.Input[str]]:
    """Environment variables from a settings dataclass: each set field becomes `FIELD_NAME`."""
    if not dataclasses.is_dataclass(settings) or isinstance(settings, type):
        raise TypeError(f"settings must be a dataclass instance, got {type(settings).__name__}")
    env: dict[str, pulumi.Input[str]] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if value is None:
            continue
        env[f.name.upper()] = str(value) if isinstance(value, int | float | bool) else value
    return env


@dataclass
class ServiceSettings:
    """What every service reads from its environment (`app_services.core.settings`): each field
    becomes the upper-case variable of the same name. Unset (None) fields are left out."""

    log_level: str = "INFO"
    #: RDS Proxy endpoint, database role and schema (IAM authentication, TLS verified).
    db_host: pulumi.Input[str] | None = None
    db_user: str | None = None
    db_schema: str | None = None
    #: `rediss://<endpoint>:6379` of the cache (TLS, IAM-authenticated user).
    redis_url: pulumi.Input[str] | None = None
    #: Cognito user pool and app clients (JSON list) whose tokens the service checks itself.
    cognito_user_pool_id: pulumi.Input[str] | None = None
    cognito_client_ids: pulumi.Input[str] | None = None


@dataclass
class CatalogSettings(ServiceSettings):
    search_engine: str = "opensearch"
    opensearch_endpoint: pulumi.Input[str] | None = None
    #: SigV4 service the search client signs for: `es` (domain) or `aoss` (serverless).
    opensearch_service: str | None = None
    cdn_domain: pulumi.Input[str] | None = None
    cloudfront_signing_secret_id: pulumi.Input[str] | None = None


@dataclass
class ActivitySettings(ServiceSettings):
    activity_stream_name: pulumi.Input[str] | None = None
    activity_topic_arn: pulumi.Input[str] | None = None
    graph_backend: str = "neptune"
    neptune_endpoint: pulumi.Input[str] | None = None


@dataclass
class RecommendationSettings(ServiceSettings):
    graph_backend: str = "neptune"
    neptune_endpoint: pulumi.Input[str] | None = None


@dataclass
class FeedSettings(ServiceSettings):
    #: HTTPS endpoint of the WebSocket API's `@connections`.
    feed_callback_url: pulumi.Input[str] | None = None
    graph_backend: str = "neptune"
    neptune_endpoint: pulumi.Input[str] | None = None


@dataclass
class PaymentSettings(ServiceSettings):
    #: Secret holding the Stripe and PayPal keys as one JSON document.
    payment_secret_arn: pulumi.Input[str] | None = None
    #: JSON list of the plans on sale (`stacks.model.PlanConfig`).
    payment_plans: str | None = None
    checkout_success_url: str | None = None
    checkout_cancel_url: str | None = None


@dataclass
class AuthSettings(ServiceSettings):
    """The auth service's functions: the Cognito triggers send new profiles to
    `profile_queue_url`; the API's edge authorizer accepts the origin-verify values stored in
    `api_origin_secret_arn` and the tokens of `cognito_user_pool_id` / `cognito_client_ids`."""

    profile_queue_url: pulumi.Input[str] | None = None
    api_origin_secret_arn: pulumi.Input[str] | None = None


@dataclass
class ServiceFunctionArgs:
    """One service function. Defaults are production-grade: 512 MB, 15 s, 50 reserved
    executions, a year of logs, X-Ray on, async failures kept 14 days in an encrypted queue."""

    #: Package under `app_services/` (its handler is `app_services.<service>.handler.handler`).
    service: str
    #: Settings dataclass (e.g. `ServiceSettings` or a subclass) turned into the environment.
    settings: Any
    #: Directory `make layer` filled with the services' dependencies (holds `python/`).
    layer_dir: str | Path = DEFAULT_LAYER_DIR
    #: A shared `DependencyLayer`'s ARN; None builds a layer of its own from `layer_dir`.
    layer_arn: pulumi.Input[str] | None = None
    memory_mb: int = 512
    timeout_seconds: int = 15
    #: Executions reserved for (and capping) this function; None shares the account pool.
    reserved_concurrency: int | None = 50
    log_retention_days: int = 365
    #: KMS key of the log group (a key whose policy admits CloudWatch Logs).
    log_kms_key_arn: pulumi.Input[str] | None = None
    #: KMS key for the environment variables and the dead-letter queue; None uses AWS-owned keys.
    kms_key_arn: pulumi.Input[str] | None = None
    #: Attach to the network's private subnets with an own security group (for VPC-only stores).
    network: Network | None = None
    #: Retries of a failed asynchronous invocation before it goes to the dead-letter queue.
    async_retries: int = 2
    #: Package source (tests point this at a fixture package).
    source_dir: Path = APP_SERVICES_DIR
    #: Extra variables merged over the settings (e.g. values only known as outputs).
    extra_environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.service.isidentifier():
            raise ValueError(f"service {self.service!r} must be a package name under app_services")
        if not 1 <= self.timeout_seconds <= 900:
            raise ValueError(f"timeout_seconds={self.timeout_seconds}: Lambda allows 1 to 900")
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"memory_mb={self.memory_mb}: Lambda allows 128 to 10240")
        if not 0 <= self.async_retries <= 2:
            raise ValueError(f"async_retries={self.async_retries}: Lambda allows 0 to 2")

    @property
    def handler(self) -> str:
        return f"app_services.{self.service}.handler.handler"


def dependency_layer(owner: Component, layer_dir: str | Path) -> aws.lambda_.LayerVersion:
    """The services' third-party dependencies (`make layer`) as a Lambda layer under `owner`."""
    return aws.lambda_.LayerVersion(
        owner.child_name("deps"),
        layer_name=owner.physical_name("deps", "lambda"),
        description=f"Third-party dependencies of app_services ({RUNTIME}, {ARCHITECTURE})",
        code=pulumi.FileArchive(str(layer_dir)),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        opts=owner.child_opts(),
    )


class DependencyLayer(Component):
    """One dependency layer shared by every service function of a stack (they all run the same
    `app_services/requirements.txt`), instead of one identical layer per function."""

    TYPE = "soundstack:function:DependencyLayer"

    def __init__(
        self,
        name: str,
        layer_dir: str | Path,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.layer = dependency_layer(self, layer_dir)
        self.arn: pulumi.Output[str] = self.layer.arn
        self.register_outputs({"arn": self.arn})


class ServiceFunction(RoleGrantee, Component):
    """A Lambda function running one reference service, with its own least-privilege role."""

    TYPE = "soundstack:function:ServiceFunction"

    def __init__(
        self,
        name: str,
        args: ServiceFunctionArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.service = args.service
        function_name = self.physical_name("", "lambda")

        self.security_group = (
            args.network.security_group(self, "fn", f"Lambda function {function_name}")
            if args.network is not None
            else None
        )
        self.role = ServiceRole(
            self.child_name("role"),
            ServiceRoleArgs(
                services=["lambda.amazonaws.com"],
                security_group_id=self.security_group.id if self.security_group else None,
            ),
            ctx,
            opts=self.child_opts(),
        )
        self.log_group = log_group(self, "fn", args.log_retention_days, args.log_kms_key_arn)
        self.dead_letter_queue = aws.sqs.Queue(
            self.child_name("dlq"),
            name=self.physical_name("dlq", "sqs"),
            message_retention_seconds=_TWO_WEEKS,
            kms_master_key_id=args.kms_key_arn,
            kms_data_key_reuse_period_seconds=300 if args.kms_key_arn is not None else None,
            sqs_managed_sse_enabled=None if args.kms_key_arn is not None else True,
            tags=self.tags({"purpose": "dead-letter"}),
            opts=self.child_opts(),
        )
        self._base_grants(args)

        layer_arn = args.layer_arn or dependency_layer(self, args.layer_dir).arn
        environment = {
            **settings_environment(args.settings),
            **args.extra_environment,
        }
        vpc_config = None
        if args.network is not None and self.security_group is not None:
            vpc_config = aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.network.private_subnet_ids,
                security_group_ids=[self.security_group.id],
            )
        self.function = aws.lambda_.Function(
            self.child_name("lambda"),
            name=function_name,
            description=f"SoundStack {args.service} service",
            role=self.role.role_arn,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=args.handler,
            code=code_archive(args.source_dir),
            layers=[layer_arn],
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            reserved_concurrent_executions=args.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            kms_key_arn=args.kms_key_arn,
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON",
                log_group=self.log_group.name,
                application_log_level="INFO",
                system_log_level="WARN",
            ),
            vpc_config=vpc_config,
            tags=self.tags({"service": args.service}),
            opts=self.child_opts(depends_on=[self.log_group]),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            self.child_name("async"),
            function_name=self.function.name,
            maximum_retry_attempts=args.async_retries,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=self.dead_letter_queue.arn
                )
            ),
            opts=self.child_opts(),
        )

        self.arn: pulumi.Output[str] = self.function.arn
        self.function_name: pulumi.Output[str] = self.function.name
        self.invoke_arn: pulumi.Output[str] = self.function.invoke_arn
        dims = {"FunctionName": self.function.name}
        self.add_signal("errors", f"{args.service} errors", "AWS/Lambda", "Errors", dims)
        self.add_signal("throttles", f"{args.service} throttles", "AWS/Lambda", "Throttles", dims)
        self.add_signal(
            "duration", f"{args.service} duration", "AWS/Lambda", "Duration", dims,
            statistic="Maximum",
        )  # fmt: skip
        self.add_signal(
            "dlq_depth", f"{args.service} failed async events", "AWS/SQS",
            "ApproximateNumberOfMessagesVisible", {"QueueName": self.dead_letter_queue.name},
            statistic="Maximum",
        )  # fmt: skip
        self.register_outputs(
            {"arn": self.arn, "name": self.function_name, "role_arn": self.role.role_arn}
        )

    def _base_grants(self, args: ServiceFunctionArgs) -> None:
        """What every function needs to run: its own logs, traces, DLQ and (in a VPC) ENIs."""
        group_arn = self.log_group.arn
        self.role.grant(
            "WriteOwnLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [group_arn, group_arn.apply(lambda arn: f"{arn}:log-stream:*")],
        )
        # X-Ray has no resource-level permissions: these two actions only take "*".
        self.role.grant("WriteTraces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"])
        self.role.grant("SendDeadLetters", ["sqs:SendMessage"], [self.dead_letter_queue.arn])
        if args.kms_key_arn is not None:
            self.role.grant(
                "UseFunctionKey", ["kms:Decrypt", "kms:GenerateDataKey"], [args.kms_key_arn]
            )
        if args.network is not None:
            # What AWSLambdaVPCAccessExecutionRole allows, without its log permissions. EC2
            # checks these network-interface calls against "*" only.
            self.role.grant(
                "ManageVpcInterfaces",
                [
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                ["*"],
            )
