"""A Lambda function running your code: `ServiceFunction` with a `FunctionCode`.

The code contract (`FunctionCode`): `source_dir` is the handler's top-level package directory;
the code archive holds it at its root under its own name, so the handler
`acme_services.orders.handler.handler` comes from `<source_dir>/orders/handler.py` with
`source_dir` named `acme_services`. Lambda puts the archive root on `sys.path` (/var/task) and
imports exactly that. Construction checks the module is in the archive and defines the function
(read with `ast`, never imported). `FunctionCode.service("catalog")` is a reference service of
`app_services/`. Third-party dependencies come from a layer: a `DependencyLayer` (one per stack),
the ARN of a layer version that exists, or a directory holding `python/` (default `build/layer`
under the Pulumi project's root, which `make layer` fills for the reference services).

`ServiceFunction` gives the function its own IAM role, log group, dead-letter queue and, when it
talks to VPC-only stores, a security group in the private subnets. It is a `Grantee`: stores
grant it access with their verbs (`bucket.grant_read(fn)`, `database.grant_connect(fn)` …),
which land on its role.

`DependencyLayer` uploads the layer through an encrypted, private assets bucket (Lambda caps a
directly uploaded zip at 50 MB) and, like `ServiceFunction`, checks the sizes Lambda enforces
when the stack is built, so an oversized package fails with its directory and limit named
instead of half-way through `pulumi up`.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import tempfile
import zipfile
from collections.abc import Collection, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from soundstack.components import buckets
from soundstack.components.base import Component, FailureQueue, StackContext
from soundstack.components.iam import RoleGrantee, ServiceRole, ServiceRoleArgs
from soundstack.components.logs import log_group
from soundstack.components.network import Network
from soundstack.components.signing import SignedCode

#: The package of the reference services (`FunctionCode.service`).
APP_SERVICES_DIR = Path(__file__).resolve().parent.parent / "app_services"
#: Where `make layer` installs the reference services' dependencies (`<dir>/python/...`),
#: relative to the Pulumi project's root (`project_path`).
DEFAULT_LAYER_DIR = Path("build") / "layer"
#: Whether a missing layer directory fails construction. `pulumi preview` and `pulumi up` read
#: the directory to zip it, so there it is an error; the offline preview (`soundstack.synth`)
#: never opens archives and turns this off for its runs (a warning remains).
LAYER_DIR_REQUIRED: ContextVar[bool] = ContextVar("layer_dir_required", default=True)
#: Lambda runtime; `make layer` installs wheels for the same Python version and architecture.
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
#: /tmp kept free beyond the largest download (cover art, the runtime's own files).
TMP_HEADROOM_MB = 128
#: Paths never shipped in a code archive.
_EXCLUDED_DIRS = frozenset({"tests", "__pycache__", ".pytest_cache", ".mypy_cache", "node_modules"})
#: Top-level folders of `app_services` that are not Lambda code: the web client (with its
#: node_modules and dist) ships to the site bucket.
_NOT_FUNCTION_CODE = frozenset({"web"})
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")
_EXCLUDED_FILES = frozenset({"Dockerfile", ".dockerignore", "requirements.txt"})
_TWO_WEEKS = 14 * 24 * 3600
# CreateFunction, Handler: "Maximum length of 128. Pattern: [^\s]+"; the Python runtime splits
# it at the last dot into module and function.
HANDLER_MAX_LEN = 128
_HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
# CreateFunction, Layers: "Length Constraints: Minimum length of 1. Maximum length of 140.
# Pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+"
_LAYER_VERSION_ARN = re.compile(
    r"^arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+$"
)
LAYER_ARN_MAX_LEN = 140


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


def layer_size(layer_dir: Path, arg: str = "layer_dir") -> int | None:
    """Unzipped bytes of a layer directory (what `make layer` fills); None while it does not
    exist and `LAYER_DIR_REQUIRED` is off (the offline preview).

    Raises, naming `arg`, when it is missing in a real run (`pulumi preview`/`up` zip it) or
    Lambda would refuse it: no `python/` (what Lambda puts on the path from a layer) or more
    than the 250 MB a function and its layers may unpack to."""
    if not layer_dir.exists():
        if LAYER_DIR_REQUIRED.get():
            raise ValueError(
                f"{arg}={str(layer_dir)!r} does not exist: build it before `pulumi preview`/"
                "`pulumi up` (`make layer` for the reference services; for your own code, "
                "`pip install --target <dir>/python --platform manylinux2014_aarch64 "
                f"--only-binary=:all: --python-version 3.13 -r requirements.txt`), point {arg} "
                "at the directory that holds python/, or pass the ARN of a layer version"
            )
        return None
    if not (layer_dir / "python").is_dir():
        raise ValueError(
            f"{arg}={str(layer_dir)!r} has no python/ subdirectory, the only place Lambda "
            "looks for Python packages in a layer; build it with `make layer`"
        )
    size = tree_size(layer_dir)
    if size > UNZIPPED_LIMIT:
        raise ValueError(
            f"{arg}={str(layer_dir)!r} unpacks to {_mb(size)}, over Lambda's "
            f"{_mb(UNZIPPED_LIMIT)} for a function and all its layers ({_QUOTAS_PAGE}: "
            '"250 MB (unzipped, including layers)"); drop dependencies from the requirements '
            "it was built from or prune the directory (`make layer` does)"
        )
    return size


def archive_size(archive: pulumi.AssetArchive) -> int:
    """Unzipped bytes of the files in a code archive (`code_archive`)."""
    return sum(
        os.stat(asset.path).st_size
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
            "dependencies into the layer or data out of the package"
        )
    if size + layer_bytes > UNZIPPED_LIMIT:
        raise ValueError(
            f"code archive of {source_dir} ({_mb(size)}) and its layer ({_mb(layer_bytes)}) "
            f"unpack to more than Lambda's {_mb(UNZIPPED_LIMIT)} ({_QUOTAS_PAGE}: "
            '"250 MB (unzipped, including layers)"); trim the package or its dependencies'
        )


def code_archive(source_dir: Path, exclude: Collection[str] = ()) -> pulumi.AssetArchive:
    """The package directory `source_dir` as Lambda expects it (`<source_dir.name>/…` at the
    archive root), without tests, caches, Dockerfiles, requirement files or the top-level
    folders named in `exclude`."""
    if not source_dir.is_dir():
        raise ValueError(
            f"source_dir={str(source_dir)!r} is not a directory: point it at the handler's "
            "top-level package (the directory named like the handler's first part)"
        )
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {}
    # Plain strings, not a Path per file: each function of a stack walks its package.
    for root, dirs, files in os.walk(source_dir):
        relative = os.path.relpath(root, source_dir)
        prefix = source_dir.name if relative == "." else f"{source_dir.name}/{relative}"
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in _EXCLUDED_DIRS
            and not d.startswith(".")
            and not (relative == "." and d in exclude)
        )
        for file in sorted(files):
            if file in _EXCLUDED_FILES or file.endswith(_EXCLUDED_SUFFIXES):
                continue
            key = f"{prefix}/{file}".replace(os.sep, "/")
            assets[key] = pulumi.FileAsset(os.path.join(root, file))
    return pulumi.AssetArchive(assets)


def project_path(path: str | Path) -> Path:
    """`path` as given when absolute; else under the Pulumi project's root (the directory of
    `Pulumi.yaml`, where `pulumi` runs the program), never under the installed package."""
    path = Path(path)
    if path.is_absolute():
        return path
    root = pulumi.get_root_directory()
    base = Path(root) if root and Path(root).is_dir() else Path.cwd()
    return base / path


def bundled_services() -> list[str]:
    """The reference services `FunctionCode.service` knows: `app_services/<name>/handler.py`."""
    return sorted(p.parent.name for p in APP_SERVICES_DIR.glob("*/handler.py"))


@dataclass(frozen=True)
class FunctionCode:
    """What a function runs: `handler` (`<package>.<module …>.<function>`) from the package
    directory `source_dir` (the handler's top-level package, named like its first part).

    The code archive holds `source_dir` at its root under its own name, as Lambda imports it:
    `FunctionCode("acme_services.orders.handler.handler", Path("src/acme_services"))` ships
    `acme_services/orders/handler.py` and Lambda calls its `handler(event, context)`. Tests,
    caches, Dockerfiles and requirement files stay out; `exclude` drops more top-level folders.
    """

    handler: str
    source_dir: Path
    #: Top-level folders of `source_dir` that are not function code (e.g. a web client).
    exclude: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "source_dir", Path(self.source_dir))
        object.__setattr__(self, "exclude", frozenset(self.exclude))
        if len(self.handler) > HANDLER_MAX_LEN or not _HANDLER.match(self.handler):
            raise ValueError(
                f"FunctionCode handler={self.handler!r} is not `<package>.<module>.<function>`: "
                f"dotted Python names, at most {HANDLER_MAX_LEN} characters (Lambda "
                "CreateFunction, Handler), "
                "e.g. 'acme_services.orders.handler.handler'"
            )
        package = self.handler.split(".", 1)[0]
        if self.source_dir.name != package:
            nested = self.source_dir / package
            hint = (
                f"; source_dir={str(nested)!r} is the package it names"
                if nested.is_dir()
                else f"; point source_dir at the {package!r} package directory, or start handler "
                f"with {self.source_dir.name!r}"
            )
            raise ValueError(
                f"handler={self.handler!r} imports package {package!r}, but source_dir="
                f"{str(self.source_dir)!r} is the package {self.source_dir.name!r} (the archive "
                f"holds source_dir at its root under its own name){hint}"
            )

    @classmethod
    def service(cls, name: str, function: str = "handler") -> FunctionCode:
        """Reference service `name` of `app_services/`: `app_services.<name>.handler.<function>`
        (`handler` serves the API; `FunctionCode.service("catalog", "ingest")` takes the catalog's
        S3 upload events). `archive()` checks the module defines `function`."""
        valid = bundled_services()
        if name not in valid:
            raise ValueError(
                f"service={name!r} is not a reference service; valid: {', '.join(valid)}. For "
                "your own code use FunctionCode(handler='<package>.<module>.<function>', "
                "source_dir=<package directory>)"
            )
        return cls(f"app_services.{name}.handler.{function}", APP_SERVICES_DIR, _NOT_FUNCTION_CODE)

    @property
    def module(self) -> str:
        """The module Lambda imports, e.g. `acme_services.orders.handler`."""
        return self.handler.rsplit(".", 1)[0]

    @property
    def function(self) -> str:
        """The function Lambda calls in `module`."""
        return self.handler.rsplit(".", 1)[1]

    @property
    def label(self) -> str:
        """Short name for tags, descriptions and alarms: the package holding the handler's module
        (`orders` for `acme_services.orders.handler.handler`)."""
        parts = self.module.split(".")
        return parts[-2] if len(parts) > 1 else parts[0]

    def archive(self) -> pulumi.AssetArchive:
        """The code archive, checked to hold the handler's module and function."""
        archive = code_archive(self.source_dir, self.exclude)
        self._check_handler(archive)
        return archive

    def _check_handler(self, archive: pulumi.AssetArchive) -> None:
        base = self.module.replace(".", "/")
        candidates = (f"{base}.py", f"{base}/__init__.py")
        key = next((k for k in candidates if k in archive.assets), None)
        if key is None:
            raise ValueError(
                f"handler={self.handler!r}: module {self.module} ({' or '.join(candidates)}) is "
                f"not in the code archive of source_dir={str(self.source_dir)!r}; found "
                f"{_modules_near(archive, base)}"
            )
        asset = archive.assets[key]
        assert isinstance(asset, pulumi.FileAsset)
        path = Path(asset.path)
        try:
            found = defines(path.read_text(encoding="utf-8"), self.function, str(path))
        except SyntaxError as exc:
            raise ValueError(
                f"handler={self.handler!r}: {path}:{exc.lineno} does not parse ({exc.msg}); "
                "Lambda would fail importing it"
            ) from exc
        if found is False:
            raise ValueError(
                f"handler={self.handler!r}: {path} defines no {self.function!r} at module level "
                f"(it defines {', '.join(top_level_names(path)) or 'nothing'}); set handler to "
                f"'{self.module}.<function>'"
            )


def _modules_near(archive: pulumi.AssetArchive, base: str) -> str:
    """The Python modules of the archive closest to `base` (same folder first), for errors."""
    modules = sorted(k for k in archive.assets if k.endswith(".py"))
    folder = base.rsplit("/", 1)[0] + "/"
    near = [k for k in modules if k.startswith(folder)] or modules
    shown = ", ".join(near[:8]) + (f" and {len(near) - 8} more" if len(near) > 8 else "")
    return shown or "no Python module at all"


def _bound_names(node: ast.stmt) -> list[str]:
    """Names a module-level statement binds (definitions, assignments, imports)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    names: list[str] = []
    for child in ast.iter_child_nodes(node):  # if/try/with blocks at module level
        if isinstance(child, ast.stmt):
            names += _bound_names(child)
    return names


def top_level_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return sorted({n for node in tree.body for n in _bound_names(node) if n != "*"})


def defines(source: str, name: str, filename: str = "<module>") -> bool | None:
    """Whether module `source` binds `name` at module level; None when it cannot be told
    without running it (`from x import *`, a module `__getattr__`)."""
    tree = ast.parse(source, filename)
    names = {n for node in tree.body for n in _bound_names(node)}
    if name in names:
        return True
    return None if "*" in names or "__getattr__" in names else False


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
    #: RDS Proxy (or database) endpoint, database (`Database.db_name`), role and schema (IAM
    #: authentication, TLS verified); `db_port` only when it is not PostgreSQL's 5432 (no proxy).
    db_host: pulumi.Input[str] | None = None
    db_name: str | None = None
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
    #: Largest upload ingest downloads to /tmp, set for the function that ingests uploads
    #: (`MediaDelivery.notify_uploads`): its ephemeral storage follows it. None: the API
    #: function, which never downloads an upload, keeps the default /tmp.
    max_ingest_bytes: int | None = None


@dataclass
class ReminderSettings(ServiceSettings):
    """The scheduled reminders (app_services/reminders): the signing-key secret whose active
    key's age they publish (`MediaDelivery.remind_key_age`)."""

    signing_secret_id: pulumi.Input[str] | None = None
    #: Where the age is published (`MediaDelivery.key_age_namespace`).
    metric_namespace: str | None = None


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
    """One function. Defaults are production-grade: 512 MB, 15 s, 50 reserved executions, a
    year of KMS-encrypted logs, X-Ray on, async failures kept 14 days in an encrypted queue."""

    #: What it runs: `FunctionCode(handler, source_dir)` for your code (see `FunctionCode`), or
    #: `FunctionCode.service("catalog")` for a reference service of `app_services/`.
    code: FunctionCode
    #: Settings dataclass (e.g. `ServiceSettings` or a subclass) turned into the environment
    #: (each set field becomes its upper-case variable); None: only `extra_environment`.
    settings: Any = None
    #: Third-party dependencies: the stack's shared `DependencyLayer` (its size counts toward
    #: Lambda's 250 MB), or the ARN of a layer version that exists
    #: (`arn:aws:lambda:<region>:<account>:layer:<name>:<version>`); None builds a layer of the
    #: function's own from `layer_dir`.
    layer: DependencyLayer | pulumi.Input[str] | None = None
    #: With `layer=None`: the directory holding `python/`, relative to the Pulumi project's
    #: root (`build/layer`, what `make layer` fills for the reference services).
    layer_dir: str | Path = DEFAULT_LAYER_DIR
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
    #: KMS key of the log group (a key whose policy admits CloudWatch Logs); None: a key of
    #: the component's own.
    log_kms_key_arn: pulumi.Input[str] | None = None
    #: KMS key for the environment variables and the dead-letter queue; None uses AWS-owned keys.
    kms_key_arn: pulumi.Input[str] | None = None
    #: Attach to the network's private subnets with an own security group (for VPC-only stores).
    network: Network | None = None
    #: Retries of a failed asynchronous invocation before it goes to the dead-letter queue.
    async_retries: int = 2
    #: Alarm when an invocation runs longer than this (ms); None: monitoring's `duration`
    #: threshold, meant for request/response functions. A function with a long timeout (ingest)
    #: sets it near its timeout instead of alarming on every normal run.
    duration_alarm_ms: int | None = None
    #: Extra variables merged over the settings (e.g. values only known as outputs).
    extra_environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    #: Code signing config Lambda checks deployments against (`components.signing`).
    code_signing_config_arn: pulumi.Input[str] | None = None
    #: Deploy the code from the zip Signer signed (`SignedCode.code_key`) instead of uploading
    #: `source_dir`: what a code signing config that enforces accepts.
    signed_code: SignedCode | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.code, FunctionCode):
            raise TypeError(
                f"ServiceFunctionArgs.code must be a FunctionCode, got {type(self.code).__name__}: "
                "FunctionCode(handler='<package>.<module>.<function>', source_dir=<package "
                "directory>) or FunctionCode.service('<name>')"
            )
        if isinstance(self.layer, str) and (
            len(self.layer) > LAYER_ARN_MAX_LEN or not _LAYER_VERSION_ARN.match(self.layer)
        ):
            raise ValueError(
                f"ServiceFunctionArgs.layer={self.layer!r} is not a layer version ARN (Lambda "
                "CreateFunction, Layers: arn:<partition>:lambda:<region>:<12-digit account>:"
                f"layer:<name>:<version>, at most {LAYER_ARN_MAX_LEN} characters); pass a "
                "DependencyLayer, a layer version ARN, or None with layer_dir=<directory holding "
                "python/>"
            )
        if self.layer is not None and Path(self.layer_dir) != DEFAULT_LAYER_DIR:
            raise ValueError(
                f"ServiceFunctionArgs sets both layer and layer_dir={str(self.layer_dir)!r}: "
                "layer_dir is only read when layer is None; drop one of them"
            )
        if not 1 <= self.timeout_seconds <= 900:
            raise ValueError(
                f"ServiceFunctionArgs.timeout_seconds={self.timeout_seconds}: Lambda allows 1 "
                "to 900"
            )
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(
                f"ServiceFunctionArgs.memory_mb={self.memory_mb}: Lambda allows 128 to 10240"
            )
        if self.duration_alarm_ms is not None and not (
            0 < self.duration_alarm_ms <= self.timeout_seconds * 1000
        ):
            raise ValueError(
                f"ServiceFunctionArgs.duration_alarm_ms={self.duration_alarm_ms}: use 1 to the "
                f"timeout ({self.timeout_seconds * 1000} ms); a longer run times out first"
            )
        if not 0 <= self.async_retries <= 2:
            raise ValueError(
                f"ServiceFunctionArgs.async_retries={self.async_retries}: Lambda allows 0 to 2"
            )
        if self.reserved_concurrency is not None and self.reserved_concurrency < 1:
            raise ValueError(
                f"ServiceFunctionArgs.reserved_concurrency={self.reserved_concurrency}: Lambda "
                "throttles every "
                "invocation of a function reserving 0; reserve at least 1 or set None"
            )
        # AWS: "The size of the function's /tmp directory in MB. The default value is 512, but
        # can be any whole number between 512 and 10,240 MB."
        if not 512 <= self.tmp_mb <= 10240:
            raise ValueError(
                f"ServiceFunctionArgs.ephemeral_storage_mb={self.tmp_mb}: Lambda allows 512 to "
                "10240 MB of /tmp"
                + (" (needed for settings.max_ingest_bytes)" if self.tmp_needed_mb else "")
            )
        if self.tmp_mb < self.tmp_needed_mb:
            raise ValueError(
                f"ServiceFunctionArgs.ephemeral_storage_mb={self.tmp_mb} cannot hold an upload of"
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


@dataclass
class DependencyLayerArgs:
    """A layer from a directory holding `python/`, uploaded through an assets bucket of its
    own: SSE-KMS, private, TLS-only, versioned, old versions expiring, access logged."""

    #: Directory holding `python/`, relative to the Pulumi project's root (`build/layer`, what
    #: `make layer` fills); checked against Lambda's size limits.
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
    #: What the layer holds (its description, followed by runtime and architecture).
    description: str = "Third-party Python packages"
    #: Make the layer from the zip Signer signed (`SignedCode.layer_key`, in this layer's assets
    #: bucket) instead of uploading `layer_dir`.
    signed_code: SignedCode | None = None


class DependencyLayer(Component):
    """One dependency layer shared by the functions of a stack that run the same requirements
    (the reference services all run `app_services/requirements.txt`), instead of one identical
    layer per function.

    The zip goes to S3 first and Lambda reads it from there: a direct upload is capped at 50 MB
    zipped, which the services' dependencies are close to. `unzipped_bytes` is its measured size
    (None in the offline preview while the directory is not built)."""

    TYPE = "soundstack:function:DependencyLayer"

    def __init__(
        self,
        name: str,
        args: DependencyLayerArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        layer_dir = project_path(args.layer_dir)
        self.unzipped_bytes = layer_size(layer_dir, "DependencyLayerArgs.layer_dir")
        super().__init__(name, ctx, opts)
        if self.unzipped_bytes is None:
            pulumi.log.warn(
                f"DependencyLayerArgs.layer_dir={str(layer_dir)!r} does not exist: build it "
                "(`make layer` for the reference services) before `pulumi preview`/`pulumi up`; "
                "only the offline preview runs without it",
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
        self.bucket_name: str = self.s3_bucket_name("assets")
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
            description=f"{args.description} ({RUNTIME}, {ARCHITECTURE})",
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            opts=self.child_opts(depends_on=list(self.assets.settled)),
            **source,
        )
        self.arn: pulumi.Output[str] = self.layer.arn
        self.register_outputs({"arn": self.arn, "bucket": self.assets.name})


class ServiceFunction(RoleGrantee, Component):
    """A Lambda function running `ServiceFunctionArgs.code`, with its own least-privilege role."""

    TYPE = "soundstack:function:ServiceFunction"
    security_group_arg = "ServiceFunctionArgs.network"

    def __init__(
        self,
        name: str,
        args: ServiceFunctionArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Code and sizes first, so code Lambda would refuse registers nothing.
        code = args.code.archive()
        layer_dir = project_path(args.layer_dir)
        if isinstance(args.layer, DependencyLayer):
            layer_bytes = args.layer.unzipped_bytes
        elif args.layer is None:
            layer_bytes = layer_size(layer_dir, "ServiceFunctionArgs.layer_dir")
        else:
            layer_bytes = None  # a published layer version: its size is not known here
        check_code_size(args.code.source_dir, code, layer_bytes or 0)
        super().__init__(name, ctx, opts)
        self.code = args.code
        label = args.code.label
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
        self.log_group = log_group(
            self,
            "fn",
            args.log_retention_days,
            args.log_kms_key_arn,
            arg="ServiceFunctionArgs.log_retention_days",
        )
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

        layer: pulumi.Input[str] = (
            args.layer.arn if isinstance(args.layer, DependencyLayer)
            else args.layer if args.layer is not None
            else DependencyLayer(
                self.child_name("deps"),
                DependencyLayerArgs(
                    layer_dir=layer_dir,
                    kms_key_arn=args.kms_key_arn,
                    signed_code=args.signed_code,
                ),
                ctx,
                opts=self.child_opts(),
            ).arn
        )  # fmt: skip
        environment = {
            **(settings_environment(args.settings) if args.settings is not None else {}),
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
            description=f"{label} of {ctx.project}-{ctx.stack} ({args.code.handler})",
            role=self.role.role_arn,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=args.code.handler,
            code=code if args.signed_code is None else None,
            s3_bucket=args.signed_code.bucket if args.signed_code else None,
            s3_key=args.signed_code.code_key if args.signed_code else None,
            layers=[layer],
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
            tags=self.tags({"service": label}),
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
        # Records of failed asynchronous invocations: `soundstack redrive` replays them.
        ctx.failure_queues.append(
            FailureQueue(
                self.logical_name,
                self.dead_letter_queue.arn,
                self.dead_letter_queue.url,
                self.arn,
                self.function_name,
            )
        )
        dims = {"FunctionName": self.function.name}
        self.add_signal("errors", f"{label} errors", "AWS/Lambda", "Errors", dims)
        self.add_signal("throttles", f"{label} throttles", "AWS/Lambda", "Throttles", dims)
        self.add_signal(
            "duration", f"{label} duration", "AWS/Lambda", "Duration", dims,
            statistic="Maximum", threshold=args.duration_alarm_ms,
        )  # fmt: skip
        self.add_signal(
            "dlq_depth", f"{label} failed async events", "AWS/SQS",
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
