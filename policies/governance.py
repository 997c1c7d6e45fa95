"""Cost tags, allowed instance classes per environment, identity, delivery and BI tools."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs
from soundstack.policies.schema import is_taggable

from components.base import REQUIRED_TAGS

from .compute import SECRET_NAME, SECRET_VALUE
from .core import (
    ADVISORY,
    ENVIRONMENTS_PROPERTY,
    Settings,
    Spec,
    as_strings,
    environment_of,
    get,
    items,
    matches_any,
    resource_policy,
    tags_of,
    truthy,
)

POLICIES: list[Spec] = []

PROJECT = "aws:codebuild/project:Project"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
USER_POOL = "aws:cognito/userPool:UserPool"
QUICKSIGHT_SOURCE = "aws:quicksight/dataSource:DataSource"

#: Where each sizeable resource type names its instance class(es).
SIZED = {
    "aws:rds/instance:Instance": (("instanceClass",),),
    "aws:rds/clusterInstance:ClusterInstance": (("instanceClass",),),
    "aws:neptune/clusterInstance:ClusterInstance": (("instanceClass",),),
    "aws:elasticache/replicationGroup:ReplicationGroup": (("nodeType",),),
    "aws:elasticache/cluster:Cluster": (("nodeType",),),
    "aws:opensearch/domain:Domain": (
        ("clusterConfig", "instanceType"),
        ("clusterConfig", "dedicatedMasterType"),
    ),
    "aws:redshift/cluster:Cluster": (("nodeType",),),
    "aws:ec2/instance:Instance": (("instanceType",),),
    "aws:ec2/launchTemplate:LaunchTemplate": (("instanceType",),),
    "aws:eks/nodeGroup:NodeGroup": (("instanceTypes",),),
    "eks:index:Cluster": (("instanceType",), ("nodeGroupOptions", "instanceType")),
    "eks:index:ManagedNodeGroup": (("instanceTypes",),),
    "eks:index:NodeGroupV2": (("instanceType",),),
}
_SMALL = ["db.t4g.*", "db.serverless", "cache.t4g.*", "t3.*.search", "t4g.*", "t3.*"]
_GRAVITON_PROD = [
    "db.r7g.*",
    "db.r6g.*",
    "db.m7g.*",
    "db.serverless",
    "cache.r7g.*",
    "cache.m7g.*",
    "r7g.*.search",
    "m7g.*.search",
    "r6g.*.search",
    "m7g.*",
    "m6g.*",
    "c7g.*",
    "r7g.*",
    "ra3.*",
]
ALLOWED_CLASSES = {
    "dev": _SMALL,
    "staging": [
        *_SMALL,
        "db.r7g.large",
        "db.r6g.large",
        "cache.r7g.large",
        "m7g.large",
        "m6g.large",
        "r7g.large.search",
        "m7g.large.search",
        "ra3.xlplus",
    ],
    "prod": _GRAVITON_PROD,
}


@resource_policy(
    POLICIES,
    "required-cost-tags",
    f"Every taggable AWS resource carries the cost tags {', '.join(REQUIRED_TAGS)}.",
    ["custom"],
    [],  # every type; the check keeps those whose pulumi-aws class takes `tags`
)
def _tags(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not is_taggable(args.resource_type):
        return
    tags = tags_of(args.props)
    missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
    if missing:
        report(f"missing tags {missing}; pass tags=self.tags()", None)


@resource_policy(
    POLICIES,
    "cost-allowed-instance-classes",
    "Instance classes and node types come from the environment's allow-list (`allowed`, keyed "
    "by the resource's environment tag): burstable in dev, Graviton families in prod.",
    ["custom"],
    list(SIZED),
    config={
        "allowed": {
            "type": "object",
            "default": ALLOWED_CLASSES,
            "description": "environment → glob patterns of allowed classes",
        }
    },
)
def _classes(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    environment = environment_of(args.props) or "prod"
    allowed = cfg["allowed"].get(environment, cfg["allowed"].get("prod", []))
    for path in SIZED[args.resource_type]:
        for size in as_strings(get(args.props, *path)):
            if not matches_any(size, allowed):
                report(f"{size} is not allowed in {environment} (allowed: {allowed})", None)


@resource_policy(
    POLICIES,
    "cognito-threat-protection",
    "In prod, user pools enforce threat protection (advanced security ENFORCED).",
    ["FSBP Cognito.1"],
    [USER_POOL],
    config={"environments": ENVIRONMENTS_PROPERTY},
)
def _cognito(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    mode = get(args.props, "userPoolAddOns", "advancedSecurityMode")
    if cfg.applies_to(args.props) and mode != "ENFORCED":
        report(f"advanced_security_mode is {mode!r}; set ENFORCED", None)


@resource_policy(
    POLICIES,
    "cognito-mfa",
    "In prod, user pools require multi-factor authentication (mfa_configuration ON) with a "
    "second factor configured (no published FSBP control in CONTROLS.md: custom).",
    ["custom"],
    [USER_POOL],
    config={"environments": ENVIRONMENTS_PROPERTY},
)
def _cognito_mfa(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    if not cfg.applies_to(args.props):
        return
    mfa = get(args.props, "mfaConfiguration", default="OFF")
    if mfa != "ON":
        report(f"mfa_configuration is {mfa!r}; set ON (identity.mfa: required)", None)
    factors = truthy(get(args.props, "softwareTokenMfaConfiguration", "enabled")) or bool(
        get(args.props, "smsConfiguration")
    )
    if mfa == "ON" and not factors:
        report("MFA is on without a factor; enable software_token_mfa_configuration", None)


@resource_policy(
    POLICIES,
    "cognito-password-policy",
    "User pool password policies need `minimumLength` (12) characters of all four classes and "
    "temporary passwords valid at most 7 days (custom; PCI DSS 8.3.6 asks for 12 characters).",
    ["custom"],
    [USER_POOL],
    config={"minimumLength": {"type": "integer", "default": 12, "description": "least length"}},
)
def _cognito_password(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    policy = get(args.props, "passwordPolicy", default={})
    length = get(policy, "minimumLength", default=8)  # Cognito's default policy
    if length < cfg["minimumLength"]:
        report(f"password minimum_length is {length}; require ≥ {cfg['minimumLength']}", None)
    classes = ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols")
    off = [c for c in classes if get(policy, c) is False]
    if off:
        report(f"password policy turns off {', '.join(off)}; require all four classes", None)
    days = get(policy, "temporaryPasswordValidityDays", default=7)
    if days > 7:
        report(f"temporary passwords stay valid {days} days; allow ≤ 7", None)


@resource_policy(
    POLICIES,
    "codebuild-no-credentials",
    "CodeBuild projects keep credentials out of source URLs and plain-text environment "
    "variables (use SECRETS_MANAGER or PARAMETER_STORE variables).",
    ["FSBP CodeBuild.1", "FSBP CodeBuild.2", "PCI 8.6.2"],
    [PROJECT],
)
def _build_creds(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    location = str(get(args.props, "source", "location", default=""))
    if "://" in location and "@" in location.split("://", 1)[1].split("/", 1)[0]:
        report("the source location embeds credentials; use a CodeConnections connection", None)
    for var in items(get(args.props, "environment", "environmentVariables")):
        name, value = str(get(var, "name")), str(get(var, "value", default=""))
        plain_text = get(var, "type", default="PLAINTEXT") == "PLAINTEXT"
        if plain_text and (SECRET_VALUE.search(value) or SECRET_NAME.search(name)):
            report(f"variable {name} is a plain-text secret; make it SECRETS_MANAGER", None)


@resource_policy(
    POLICIES,
    "codebuild-logging",
    "CodeBuild projects log to CloudWatch Logs or S3, and S3 logs stay encrypted.",
    ["FSBP CodeBuild.3", "FSBP CodeBuild.4", "PCI 10.2.1"],
    [PROJECT],
)
def _build_logs(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    logs = get(args.props, "logsConfig", default={})
    cloudwatch = get(logs, "cloudwatchLogs", "status", default="ENABLED") == "ENABLED"
    s3 = get(logs, "s3Logs", "status", default="DISABLED") == "ENABLED"
    if not (cloudwatch or s3):
        report("both CloudWatch and S3 logs are disabled", None)
    if s3 and truthy(get(logs, "s3Logs", "encryptionDisabled")):
        report("S3 build logs are unencrypted", None)


@resource_policy(
    POLICIES,
    "codebuild-privileged-mode",
    "CodeBuild projects run unprivileged unless they build container images.",
    ["FSBP CodeBuild.5"],
    [PROJECT],
    level=ADVISORY,
)
def _build_privileged(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if truthy(get(args.props, "environment", "privilegedMode")):
        report("privileged_mode is on (Docker builds need it; nothing else should)", None)


@resource_policy(
    POLICIES,
    "codepipeline-artifacts-encrypted",
    "Pipeline artifact stores are encrypted with a customer KMS key.",
    ["custom"],
    [PIPELINE],
)
def _pipeline(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    for store in items(get(args.props, "artifactStores")):
        if not get(store, "encryptionKey", "id"):
            report(f"artifact store {get(store, 'location')} has no encryption_key", None)


@resource_policy(
    POLICIES,
    "quicksight-private-tls",
    "QuickSight data sources connect with TLS, through a VPC connection.",
    ["custom", "PCI 4.2.1"],
    [QUICKSIGHT_SOURCE],
)
def _quicksight(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if truthy(get(args.props, "sslProperties", "disableSsl")):
        report("ssl_properties.disable_ssl is true", None)
    if not get(args.props, "vpcConnectionProperties", "vpcConnectionArn"):
        report("no vpc_connection_properties: QuickSight would reach the source publicly", None)
