"""Audit trail and its protection: CloudTrail, CloudWatch log groups, KMS keys, secrets."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from .core import (
    ADVISORY,
    ENVIRONMENTS_PROPERTY,
    Settings,
    Spec,
    get,
    judging,
    known,
    linked,
    of_type,
    present,
    resource_policy,
    stack_policy,
    truthy,
)

POLICIES: list[Spec] = []

TRAIL = "aws:cloudtrail/trail:Trail"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY = "aws:kms/key:Key"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"


@resource_policy(
    POLICIES,
    "cloudtrail-multi-region-validation",
    "Trails cover every region (and global services) and validate their log files.",
    ["FSBP CloudTrail.1", "FSBP CloudTrail.4", "CIS 3.1", "CIS 3.2", "PCI 10.2.1", "PCI 10.3"],
    [TRAIL],
)
def _trail(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not truthy(get(args.props, "isMultiRegionTrail")):
        report("is_multi_region_trail is off", None)
    if get(args.props, "includeGlobalServiceEvents") is False:
        report("include_global_service_events is off", None)
    if not truthy(get(args.props, "enableLogFileValidation")):
        report("enable_log_file_validation is off", None)


@resource_policy(
    POLICIES,
    "cloudtrail-encrypted",
    "Trails encrypt their log files with a KMS key.",
    ["FSBP CloudTrail.2", "CIS 3.5", "PCI 10.3"],
    [TRAIL],
)
def _trail_kms(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not present(args.props, "kmsKeyId"):
        report("no kms_key_id", None)


@resource_policy(
    POLICIES,
    "cloudtrail-cloudwatch-logs",
    "Trails deliver to CloudWatch Logs (for the CIS metric filters and alarms).",
    ["FSBP CloudTrail.5"],
    [TRAIL],
)
def _trail_logs(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not (
        present(args.props, "cloudWatchLogsGroupArn")
        and present(args.props, "cloudWatchLogsRoleArn")
    ):
        report("no cloud_watch_logs_group_arn and role", None)


@resource_policy(
    POLICIES,
    "log-group-retention",
    "Log groups set a retention (never 'keep forever'); in prod at least `minimumDays` (365).",
    ["PCI 10.5.1", "custom"],
    [LOG_GROUP],
    config={
        "environments": ENVIRONMENTS_PROPERTY,
        "minimumDays": {"type": "integer", "default": 365},
    },
)
def _retention(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    days = int(get(args.props, "retentionInDays", default=0))
    if days == 0:
        report("no retention_in_days: logs would be kept (and billed) forever", None)
    elif cfg.applies_to(args.props) and days < cfg["minimumDays"]:
        report(f"retention_in_days is {days}; keep ≥ {cfg['minimumDays']} days", None)


@resource_policy(
    POLICIES,
    "log-group-encrypted",
    "Log groups are encrypted with a customer KMS key.",
    ["PCI 10.3"],
    [LOG_GROUP],
)
def _log_kms(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not present(args.props, "kmsKeyId"):
        report("no kms_key_id; pass the stack's logs key (components.logs.log_group)", None)


@resource_policy(
    POLICIES,
    "kms-rotation",
    "Symmetric customer-managed KMS keys rotate automatically.",
    ["FSBP KMS.4", "CIS 3.6", "PCI 3.6", "PCI 3.7"],
    [KMS_KEY],
)
def _rotation(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    spec = get(args.props, "customerMasterKeySpec", default=get(args.props, "keySpec"))
    if spec not in (None, "SYMMETRIC_DEFAULT"):
        return  # AWS rotates only symmetric encryption keys
    if not truthy(get(args.props, "enableKeyRotation")):
        report("enable_key_rotation is off", None)


@stack_policy(
    POLICIES,
    "secrets-rotation",
    "Secrets Manager secrets have a rotation schedule (provider secrets that cannot rotate "
    "automatically are flagged for a manual rotation runbook).",
    ["FSBP SecretsManager.1", "PCI 8.6.3"],
    [SECRET, SECRET_ROTATION],
    level=ADVISORY,
)
def _secret_rotation(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    rotations = list(of_type(args.resources, SECRET_ROTATION))
    for secret in of_type(args.resources, SECRET):
        with judging(secret, report):
            if not any(linked(r, "secretId", secret, "arn", "name") for r in rotations):
                report(f"secret {secret.name} has no SecretRotation", secret.urn)


@resource_policy(
    POLICIES,
    "secrets-cmk",
    "Secrets Manager secrets are encrypted with a customer-managed KMS key, not the AWS managed "
    "aws/secretsmanager key (custom: key policy and rotation under our control).",
    ["custom", "PCI 3.6"],
    [SECRET],
)
def _secret_cmk(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not present(args.props, "kmsKeyId"):
        report("kms_key_id is not set (AWS managed key); encrypt with a customer-managed key", None)
        return
    key = known(args.props, "kmsKeyId")
    if isinstance(key, str) and (key == "alias/aws/secretsmanager" or ":alias/aws/" in key):
        report(f"kms_key_id {key!r} is an AWS managed key; use a customer-managed key", None)
