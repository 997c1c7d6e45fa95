"""A reference service from `app_services/` packaged as a Lambda function.

`ServiceFunction` zips the `app_services` package (without tests and caches), adds a layer
with its third-party dependencies (built by `make layer` for Lambda's arm64 Python), and gives
the function its own IAM role, log group, dead-letter queue and, when it talks to VPC-only
stores, a security group in the private subnets. It is a `Grantee`: stores grant it access with
their verbs (`bucket.grant_read(fn)`, `database.allow_from(fn)` …), which land on its role.

`DependencyLayer` uploads the layer through an encrypted, private assets bucket (Lambda caps a
directly uploaded zip at 50 MB) and, like `ServiceFunction`, checks the sizes Lambda enforces
when the stack is built, so an oversized package fails with its directory and limit named
instead of half-way through `pulumi up`.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from soundstack.components import buckets
from soundstack.components.base import Component, StackContext
from soundstack.components.iam import RoleGrantee, ServiceRole, ServiceRoleArgs
from soundstack.components.logs import log_group
from soundstack.components.network import Network
from soundstack.components.signing import SignedCode

#: The package every function's code archive holds.
APP_SERVICES_DIR = Path(__file__).resolve().parent.parent / "app_services"
#: Where `make layer` installs the services' dependencies (`<dir>/python/...`).
DEFAULT_LAYER_DIR = Path(__file__).resolve().parent.parent / "build" / "layer"
#: Lambda runtime; `make layer` installs wheels for the same Python version and architecture.
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
#: /tmp kept free beyond the largest download (cover art, the runtime's own files).
TMP_HEADROOM_MB = 128
#: Paths never shipped in a code archive.
_EXCLUDED_DIRS = frozenset({"tests", "__pycache__", ".pytest_cache", ".mypy_cache", "node_modules"})
#: Top-level folders of the package that are not Lambda code: the web client (app_services/web,
#: with its node_modules and dist) ships to the site bucket.
_NOT_FUNCTION_CODE = frozenset({"web"})
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")
_EXCLUDED_FILES = frozenset({"Dockerfile", ".dockerignore", "requirements.txt"})
_TWO_WEEKS = 14 * 24 * 3600

# Lambda quotas (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), "Deployment
# package (.zip file archive) size": "50 MB (zipped, when uploaded through the Lambda API or
# SDKs). Upload larger files with Amazon S3." and "250 MB: The maximum size of the contents of a
# deployment package, including layers and custom runtimes. (unzipped)". Lambda's MB is 1024 KB
# (CreateLayerVersion: "Unzipped size must be smaller than 262144000 bytes").
#: A zip uploaded directly (the function's code archive; layers go through S3).
DIRECT_UPLOAD_ZIPPED_LIMIT = 50 * 1024 * 1024
#: A function's code plus all its layers, unzipped.
UNZIPPED_LIMIT = 250 * 1024 * 1024
_QUOTAS_PAGE = "Lambda quotas, deployment package (.zip file archive) size"

# Configuring reserved concurrency (docs.aws.amazon.com/lambda/latest/dg/
# configuration-concurrency.html): "You can reserve up to the Unreserved account concurrency
# value that is shown, minus 100 for functions that don't have reserved concurrency."
#: Executions Lambda keeps unreserved in every account and Region.
UNRESERVED_MINIMUM = 100
#: Lambda's default "Concurrent executions" quota per Region (new accounts often start at 10).
DEFAULT_ACCOUNT_CONCURRENCY = 1000
#: Service Quotas code of Lambda's "Concurrent executions" (service code `lambda`).
CONCURRENCY_QUOTA_CODE = "L-B99A9384"


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def tree_size(root: Path) -> int:
    """Bytes of every file under `root`: what an archive of it unpacks to."""
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def layer_size(layer_dir: Path) -> int | None:
    """Unzipped bytes of the directory `make layer` fills; None while it is not built (the
    offline preview does not need it; `pulumi preview`/`up` cannot read a missing archive).

    Raises when Lambda would refuse it: no `python/` (what Lambda puts on the path from a
    layer) or more than the 250 MB a function and its layers may unpack to."""
    if not layer_dir.exists():
        return None
    if not (layer_dir / "python").is_dir():
        raise ValueError(
            f"layer directory {layer_dir} has no python/ subdirectory, the only place Lambda "
            "looks for Python packages in a layer; build it with `make layer`"
        )
    size = tree_size(layer_dir)
    if size > UNZIPPED_LIMIT:
        raise ValueError(
            f"layer directory {layer_dir} unpacks to {_mb(size)}, over Lambda's "
            f"{_mb(UNZIPPED_LIMIT)} for a function and all its layers ({_QUOTAS_PAGE}: "
            '"250 MB (unzipped, including layers)"); drop dependencies from '
            "app_services/requirements.txt or prune the directory (`make layer` does)"
        )
    return size


def archive_size(archive: pulumi.AssetArchive) -> int:
    """Unzipped bytes of the files in a code archive (`code_archive`)."""
    return sum(
        Path(asset.path).stat().st_size
        for asset in archive.assets.values()
        if isinstance(asset, pulumi.FileAsset)
    )


def zipped_size(archive: pulumi.AssetArchive) -> int:
    """Bytes of `archive` as the deflated zip Pulumi uploads."""
    with tempfile.TemporaryFile() as out:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zipped:
            for name, asset in archive.assets.items():
                if isinstance(asset, pulumi.FileAsset):
                    zipped.write(asset.path, name)
        return out.tell()


def check_code_size(source_dir: Path, archive: pulumi.AssetArchive, layer_bytes: int) -> None:
    """Refuse a code archive Lambda would refuse: over 50 MB zipped for a direct upload, or
    with its layers over 250 MB unzipped."""
    size = archive_size(archive)
    # A zip is at most its contents plus its headers (~100 bytes and the name per file).
    bound = size + sum(128 + len(name) for name in archive.assets)
    if bound > DIRECT_UPLOAD_ZIPPED_LIMIT and zipped_size(archive) > DIRECT_UPLOAD_ZIPPED_LIMIT:
        raise ValueError(
            f"code archive of {source_dir} zips to more than Lambda's "
            f"{_mb(DIRECT_UPLOAD_ZIPPED_LIMIT)} for a direct upload ({_QUOTAS_PAGE}: "
            '"50 MB (zipped, when uploaded through the Lambda API or SDKs)"); move '
            "dependencies into the layer (app_services/requirements.txt) or data out of the package"
        )
    if size + layer_bytes > UNZIPPED_LIMIT:
        raise ValueError(
            f"code archive of {source_dir} ({_mb(size)}) and its layer ({_mb(layer_bytes)}) "
            f"unpack to more than Lambda's {_mb(UNZIPPED_LIMIT)} ({_QUOTAS_PAGE}: "
            '"250 MB (unzipped, including layers)"); trim the package or its dependencies'
        )


def code_archive(source_dir: Path = APP_SERVICES_DIR) -> pulumi.AssetArchive:
    """The `app_services` package as Lambda expects it (`app_services/<service>/handler.py` at the
    archive root), without tests, caches, Dockerfiles or requirement files."""
    if not (source_dir / "__init__.py").is_file():
        raise ValueError(f"{source_dir} is not a Python package (no __init__.py)")
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {}
    for root, dirs, files in os.walk(source_dir):
        top = Path(root) == source_dir
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in _EXCLUDED_DIRS
            and not d.startswith(".")
            and not (top and d in _NOT_FUNCTION_CODE)
        )
        for file in sorted(files):
            if file in _EXCLUDED_FILES or file.endswith(_EXCLUDED_SUFFIXES):
                continue
            path = Path(root) / file
            key = f"{source_dir.name}/{path.relative_to(source_dir).as_posix()}"
            assets[key] = pulumi.FileAsset(str(path))
    return pulumi.AssetArchive(assets)


#: Where `make layer` puts the CA bundle a database connection verifies against: Mozilla's roots
#: (botocore's copy; RDS Proxy presents an ACM certificate: "RDS Proxy uses certificates from
#: AWS Certificate Manager (ACM)") followed by the RDS global bundle (a direct connection to the
#: database presents a certificate of its RDS CA, e.g. rds-ca-rsa2048-g1). A layer's `python/`
#: directory is extracted to /opt/python.
DB_CA_BUNDLE = "/opt/python/db-ca-bundle.pem"


def settings_environment(settings: Any) -> dict[str, pulumi.Input[str]]:
    """Environment variables from a settings dataclass: each set field becomes `FIELD_NAME`;
    a database host brings the layer's CA bundle unless `db_sslrootcert` names another."""
    if not dataclasses.is_dataclass(settings) or isinstance(settings, type):
        raise TypeError(f"settings must be a dataclass instance, got {type(settings).__name__}")
    if getattr(settings, "db_host", None) is not None and settings.db_sslrootcert is None:  # type: ignore[attr-defined]
        settings = dataclasses.replace(settings, db_sslrootcert=DB_CA_BUNDLE)
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
    #: RDS Proxy (or database) endpoint, database role and schema (IAM authentication, TLS
    #: verified); `db_port` only when it is not PostgreSQL's 5432 (no proxy).
    db_host: pulumi.Input[str] | None = None
    db_port: int | None = None
    db_user: str | None = None
    db_schema: str | None = None
    #: CA bundle libpq verifies the server with (`sslmode=verify-full` needs one): with a
    #: `db_host`, the layer's `db-ca-bundle.pem` unless set (see `DB_CA_BUNDLE`).
    db_sslrootcert: str | None = None
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
    #: Who tells a listener's country for track territories: behind the web distribution's
    #: /api/* behaviour, CloudFront's `CloudFront-Viewer-Country` (components/web.py).
    viewer_country_source: str = "cloudfront"
    #: Largest upload ingest downloads to /tmp; the function's ephemeral storage follows it.
    max_ingest_bytes: int = 500 * 1024 * 1024


@dataclass
class ReminderSettings(ServiceSettings):
    """The scheduled reminders (app_services/reminders): the signing-key secret whose active
    key's age they publish (`MediaDelivery.remind_key_age`)."""

    signing_secret_id: pulumi.Input[str] | None = None


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
    #: The stack's shared `DependencyLayer` (its size counts toward Lambda's 250 MB); None
    #: builds a layer of its own from `layer_dir`.
    layer: DependencyLayer | None = None
    memory_mb: int = 512
    timeout_seconds: int = 15
    #: Size of /tmp; None: 512 MB, or what `settings.max_ingest_bytes` needs (the download plus
    #: `TMP_HEADROOM_MB`) when the service downloads objects there.
    ephemeral_storage_mb: int | None = None
    #: Executions reserved for (and capping) this function; None shares the account pool.
    #: Lambda keeps 100 of the account's quota unreserved: see `stacks.model.FunctionsConfig`
    #: and the `deploy-lambda-reserved-concurrency` policy for the sum over a stack.
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
    #: Code signing config Lambda checks deployments against (`components.signing`).
    code_signing_config_arn: pulumi.Input[str] | None = None
    #: Deploy the code from the zip Signer signed (`SignedCode.code_key`) instead of uploading
    #: `source_dir`: what a code signing config that enforces accepts.
    signed_code: SignedCode | None = None

    def __post_init__(self) -> None:
        if not self.service.isidentifier():
            raise ValueError(f"service {self.service!r} must be a package name under app_services")
        if not 1 <= self.timeout_seconds <= 900:
            raise ValueError(f"timeout_seconds={self.timeout_seconds}: Lambda allows 1 to 900")
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"memory_mb={self.memory_mb}: Lambda allows 128 to 10240")
        if not 0 <= self.async_retries <= 2:
            raise ValueError(f"async_retries={self.async_retries}: Lambda allows 0 to 2")
        if self.reserved_concurrency is not None and self.reserved_concurrency < 1:
            raise ValueError(
                f"reserved_concurrency={self.reserved_concurrency}: Lambda throttles every "
                "invocation of a function reserving 0; reserve at least 1 or set None"
            )
        # AWS: "The size of the function's /tmp directory in MB. The default value is 512, but
        # can be any whole number between 512 and 10,240 MB."
        if not 512 <= self.tmp_mb <= 10240:
            raise ValueError(
                f"ephemeral_storage_mb={self.tmp_mb}: Lambda allows 512 to 10240 MB of /tmp"
                + (" (needed for settings.max_ingest_bytes)" if self.tmp_needed_mb else "")
            )
        if self.tmp_mb < self.tmp_needed_mb:
            raise ValueError(
                f"ephemeral_storage_mb={self.tmp_mb} cannot hold an upload of"
                f" settings.max_ingest_bytes; set it to at least {self.tmp_needed_mb}"
            )

    @property
    def tmp_needed_mb(self) -> int:
        """The /tmp an ingesting service needs: its largest download plus headroom (0: none)."""
        limit = getattr(self.settings, "max_ingest_bytes", None)
        return -(-limit // 2**20) + TMP_HEADROOM_MB if limit else 0

    @property
    def tmp_mb(self) -> int:
        return self.ephemeral_storage_mb or max(512, self.tmp_needed_mb)

    @property
    def handler(self) -> str:
        return f"app_services.{self.service}.handler.handler"


@dataclass
class DependencyLayerArgs:
    """A layer from a directory `make layer` filled, uploaded through an assets bucket of its
    own: SSE-KMS, private, TLS-only, versioned, old versions expiring, access logged."""

    #: Directory holding `python/` (`make layer`); checked against Lambda's size limits.
    layer_dir: str | Path = DEFAULT_LAYER_DIR
    #: KMS key of the assets bucket; None uses the AWS managed key `aws/s3`. Whoever runs
    #: `pulumi up` needs kms:GenerateDataKey and kms:Decrypt on it (Lambda reads the object
    #: with the caller's permissions).
    kms_key_arn: pulumi.Input[str] | None = None
    #: Bucket for the assets bucket's server access logs; None creates one.
    access_logs: buckets.Bucket | None = None
    access_log_retention_days: int = 365
    #: Days an uploaded layer zip is kept once a newer one replaces it.
    noncurrent_version_days: int = 30
    #: Make the layer from the zip Signer signed (`SignedCode.layer_key`, in this layer's assets
    #: bucket) instead of uploading `layer_dir`.
    signed_code: SignedCode | None = None


class DependencyLayer(Component):
    """One dependency layer shared by every service function of a stack (they all run the same
    `app_services/requirements.txt`), instead of one identical layer per function.

    The zip goes to S3 first and Lambda reads it from there: a direct upload is capped at 50 MB
    zipped, which the services' dependencies are close to. `unzipped_bytes` is its measured size
    (None while `make layer` has not run, as in the offline preview)."""

    TYPE = "soundstack:function:DependencyLayer"

    def __init__(
        self,
        name: str,
        args: DependencyLayerArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        layer_dir = Path(args.layer_dir)
        self.unzipped_bytes = layer_size(layer_dir)
        super().__init__(name, ctx, opts)
        if self.unzipped_bytes is None:
            pulumi.log.warn(
                f"layer directory {layer_dir} does not exist: run `make layer` before "
                "`pulumi preview`/`pulumi up` (only the offline preview works without it)",
                self,
            )
        logs = args.access_logs or buckets.log_bucket(
            self, "access-logs", args.access_log_retention_days
        )
        self.assets = buckets.private_bucket(
            self,
            "assets",
            args.kms_key_arn,
            logs,
            noncurrent_version_days=args.noncurrent_version_days,
            intelligent_tiering=False,
        )
        buckets.bucket_policy(self, "assets", self.assets)
        layer_name = self.physical_name("", "lambda")
        #: The bucket `soundstack sign-lambda` uploads to and Signer writes into.
        self.bucket_name: str = self.physical_name("assets", "s3_bucket")
        source: dict[str, pulumi.Input[str]]
        if args.signed_code is not None:
            if args.signed_code.bucket != self.bucket_name:
                raise ValueError(
                    f"the signed-code record names bucket {args.signed_code.bucket}, not this "
                    f"stack's {self.bucket_name}; run the stack's deploy runner (it signs again)"
                )
            source = {"s3_bucket": self.assets.name, "s3_key": args.signed_code.layer_key}
        else:
            archive = aws.s3.BucketObject(
                self.child_name("zip"),
                bucket=self.assets.name,
                key=f"lambda-layers/{layer_name}.zip",
                source=pulumi.FileArchive(str(layer_dir)),
                content_type="application/zip",
                server_side_encryption="aws:kms",
                kms_key_id=args.kms_key_arn,
                tags=self.tags({"purpose": "lambda-layer"}),
                opts=self.child_opts(depends_on=list(self.assets.settled)),
            )
            source = {
                "s3_bucket": archive.bucket,
                "s3_key": archive.key,
                "s3_object_version": archive.version_id,
            }
        self.layer = aws.lambda_.LayerVersion(
            self.child_name("layer"),
            layer_name=layer_name,
            description=f"Third-party dependencies of app_services ({RUNTIME}, {ARCHITECTURE})",
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            opts=self.child_opts(depends_on=list(self.assets.settled)),
            **source,
        )
        self.arn: pulumi.Output[str] = self.layer.arn
        self.register_outputs({"arn": self.arn, "bucket": self.assets.name})


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
        # Sizes first, so a package Lambda would refuse registers nothing.
        code = code_archive(args.source_dir)
        layer_bytes = (
            args.layer.unzipped_bytes
            if args.layer is not None
            else layer_size(Path(args.layer_dir))
        )
        check_code_size(args.source_dir, code, layer_bytes or 0)
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

        layer = args.layer or DependencyLayer(
            self.child_name("deps"),
            DependencyLayerArgs(
                layer_dir=args.layer_dir, kms_key_arn=args.kms_key_arn, signed_code=args.signed_code
            ),
            ctx,
            opts=self.child_opts(),
        )
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
            code=code if args.signed_code is None else None,
            s3_bucket=args.signed_code.bucket if args.signed_code else None,
            s3_key=args.signed_code.code_key if args.signed_code else None,
            layers=[layer.arn],
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            ephemeral_storage=aws.lambda_.FunctionEphemeralStorageArgs(size=args.tmp_mb),
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
            code_signing_config_arn=args.code_signing_config_arn,
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
        # Both actions act on log streams only (Service Authorization Reference: log-stream*).
        self.role.grant(
            "WriteOwnLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [self.log_group.arn.apply(lambda arn: f"{arn}:log-stream:*")],
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
