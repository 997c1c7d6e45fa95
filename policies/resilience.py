"""Resilience and code integrity: AWS Backup coverage, locked and copied vaults, RDS backups
replicated to another Region, S3 buckets behind CloudFront replicated to another Region with
origin failover, and Lambda code signing (components/backup.py, replication.py, cdn.py,
signing.py).

No FSBP control covers backup plans, Vault Lock, cross-Region copies or Lambda code signing
(AWS Config has `rds-resources-protected-by-backup-plan`, outside FSBP), so they are `custom`;
so are bucket replication and origin failover (Security Hub's S3.7 and CloudFront.4 check them
in its NIST 800-53 standard, not in FSBP);
so is the vault's customer-managed key (FSBP Backup.1 judges recovery points, and Backup is
not among the services of ../shared/CONTROLS.md). Rules apply to the environments listed in
each policy's `environments` config (default `["prod"]`); the AWS constraints (Vault Lock's
cooling-off period, S3 versioning for S3 backups) apply everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from .core import (
    ENVIRONMENTS_PROPERTY,
    Settings,
    Spec,
    as_strings,
    get,
    items,
    judging,
    known,
    linked,
    of_type,
    present,
    references,
    stack_environment,
    stack_policy,
)

POLICIES: list[Spec] = []

PLAN = "aws:backup/plan:Plan"
VAULT = "aws:backup/vault:Vault"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
SELECTION = "aws:backup/selection:Selection"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
NEPTUNE_CLUSTER = "aws:neptune/cluster:Cluster"
BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
)
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
FUNCTION = "aws:lambda/function:Function"
CODE_SIGNING_CONFIG = "aws:lambda/codeSigningConfig:CodeSigningConfig"
#: Stores whose loss a backup plan must cover (S3 buckets are chosen per program).
DATA_STORES = (RDS_INSTANCE, RDS_CLUSTER, NEPTUNE_CLUSTER)
SCOPE: dict[str, Mapping[str, Any]] = {"environments": ENVIRONMENTS_PROPERTY}
#: Vault Lock: "you must set ChangeableForDays to 3 or greater".
MIN_CHANGEABLE_DAYS = 3
_ARN_REGION = re.compile(r"^arn:[^:]+:[^:]+:([a-z0-9-]+):")
#: What an origin group must fail over on at least: the primary's server errors.
SERVER_ERRORS = (500, 502, 503, 504)
#: S3 Replication Time Control's only threshold: "Valid value: 15".
RTC_MINUTES = 15


def _in_scope(resources: list[PolicyResource], cfg: Settings) -> bool:
    environment = stack_environment(resources)
    return environment is None or environment in cfg["environments"]


def _selects(selection: PolicyResource, store: PolicyResource) -> bool:
    """The selection names `store`: by property dependency or by its known ARN."""
    if references(selection, "resources", store):
        return True
    arn = known(store.props, "arn")
    return bool(arn) and arn in as_strings(known(selection.props, "resources"))


def _region(arn: Any) -> str | None:
    match = _ARN_REGION.match(arn) if isinstance(arn, str) else None
    return match.group(1) if match else None


def _rules_into(plan: PolicyResource, vault: PolicyResource) -> list[Mapping[str, Any]]:
    name = known(vault.props, "name")
    return [r for r in items(get(plan.props, "rules")) if get(r, "targetVaultName") == name]


@stack_policy(
    POLICIES,
    "backup-plan-coverage",
    "Every RDS instance, Aurora cluster and Neptune cluster is in an AWS Backup selection of a "
    "plan with a scheduled rule (what AWS Config's rds-resources-protected-by-backup-plan "
    "checks after the fact).",
    ["custom"],
    [*DATA_STORES, SELECTION, PLAN],
    config=SCOPE,
)
def _coverage(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    if not _in_scope(args.resources, cfg):
        return
    plans = [
        p
        for p in of_type(args.resources, PLAN)
        if any(get(r, "schedule") for r in items(get(p.props, "rules")))
    ]
    selections = [
        s
        for s in of_type(args.resources, SELECTION)
        if any(linked(s, "planId", p, "name") or references(s, "planId", p) for p in plans)
    ]
    for store in of_type(args.resources, *DATA_STORES):
        with judging(store, report):
            # Aurora's instances live in the cluster, which the selection names.
            if store.resource_type == RDS_INSTANCE and present(store.props, "replicateSourceDb"):
                continue
            if not any(_selects(s, store) for s in selections):
                report(
                    f"{store.name} is in no AWS Backup selection of a scheduled plan; protect it "
                    "(components.backup.BackupPlan.protect)",
                    store.urn,
                )


@stack_policy(
    POLICIES,
    "backup-vault-locked",
    "Backup vaults are encrypted with a customer-managed KMS key and, in prod, locked in "
    "compliance mode with a minimum retention no longer than the plan keeps its recovery "
    'points. AWS: "you must set ChangeableForDays to 3 or greater" and a job whose retention '
    'is shorter than the minimum "fails".',
    ["custom"],
    [VAULT, LOCK, PLAN],
    config=SCOPE,
)
def _vaults(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    scoped = _in_scope(args.resources, cfg)
    locks = list(of_type(args.resources, LOCK))
    plans = list(of_type(args.resources, PLAN))
    for vault in of_type(args.resources, VAULT):
        with judging(vault, report):
            if not present(vault.props, "kmsKeyArn"):
                report(f"backup vault {vault.name} has no customer-managed KMS key", vault.urn)
            mine = [lock for lock in locks if linked(lock, "backupVaultName", vault, "name")]
            for lock in mine:
                changeable = get(lock.props, "changeableForDays")
                if changeable is not None and changeable < MIN_CHANGEABLE_DAYS:
                    report(
                        f"vault lock of {vault.name}: changeableForDays={changeable}; AWS needs "
                        "3 or greater (72-hour cooling-off period)",
                        lock.urn,
                    )
            if not scoped:
                continue
            if not any(get(lock.props, "changeableForDays") for lock in mine):
                report(
                    f"backup vault {vault.name} has no Vault Lock in compliance mode "
                    "(changeableForDays ≥ 3); set resilience.vault_lock: true",
                    vault.urn,
                )
            minimum = max((get(lock.props, "minRetentionDays", default=0) for lock in mine),
                          default=0)  # fmt: skip
            for plan in plans:
                for rule in _rules_into(plan, vault):
                    kept = get(rule, "lifecycle", "deleteAfter")
                    if isinstance(kept, int) and kept < minimum:
                        report(
                            f"plan {plan.name} keeps recovery points {kept} days, under the "
                            f"{minimum}-day minimum of locked vault {vault.name}: every backup "
                            "job would fail; raise the retention",
                            plan.urn,
                        )


@stack_policy(
    POLICIES,
    "backup-cross-region-copy",
    "Every rule of a backup plan copies its recovery points to a vault in another Region, so "
    "a backup survives the loss of the stack's Region.",
    ["custom"],
    [PLAN, VAULT],
    config=SCOPE,
)
def _copies(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    if not _in_scope(args.resources, cfg):
        return
    vaults = list(of_type(args.resources, VAULT))
    for plan in of_type(args.resources, PLAN):
        with judging(plan, report):
            for rule in items(get(plan.props, "rules")):
                here = _region(
                    next((known(v.props, "arn") for v in vaults
                          if known(v.props, "name") == get(rule, "targetVaultName")), None)
                )  # fmt: skip
                elsewhere = [
                    a
                    for a in items(get(rule, "copyActions"))
                    if _region(get(a, "destinationVaultArn")) not in (None, here)
                ]
                if not elsewhere:
                    report(
                        f"rule {get(rule, 'ruleName')} of plan {plan.name} copies to no vault "
                        "in another Region; set resilience.replica_region and "
                        "resilience.copy_to_replica: true",
                        plan.urn,
                    )


@stack_policy(
    POLICIES,
    "rds-backup-replication",
    "Each RDS instance's automated backups are replicated to another Region, encrypted with a "
    'key there. AWS: KmsKeyId "is the Amazon Resource Name (ARN) for the KMS encryption key in '
    'the destination AWS Region".',
    ["custom"],
    [RDS_INSTANCE, REPLICATION],
    config=SCOPE,
)
def _replicated(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    replications = list(of_type(args.resources, REPLICATION))
    for r in replications:
        with judging(r, report):
            key_region, region = _region(get(r.props, "kmsKeyId")), get(r.props, "region")
            if key_region and region and key_region != region:
                report(
                    f"{r.name} encrypts with a key in {key_region}, not in its destination "
                    f"Region {region}; use a key created in {region}",
                    r.urn,
                )
    if not _in_scope(args.resources, cfg):
        return
    for db in of_type(args.resources, RDS_INSTANCE):
        with judging(db, report):
            if present(db.props, "replicateSourceDb"):
                continue
            if not any(linked(r, "sourceDbInstanceArn", db, "arn") for r in replications):
                report(
                    f"{db.name}'s automated backups are not replicated to another Region; set "
                    "resilience.replicate_rds_backups: true",
                    db.urn,
                )


@stack_policy(
    POLICIES,
    "deploy-backup-s3-versioning",
    'An S3 bucket in a backup selection is versioned. AWS Backup: "You must enable S3 '
    'Versioning on your S3 bucket to use AWS Backup for Amazon S3."',
    ["custom"],
    [BUCKET, VERSIONING, SELECTION],
)
def _s3_versioned(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    selections = list(of_type(args.resources, SELECTION))
    versioning = list(of_type(args.resources, VERSIONING))
    for bucket in of_type(args.resources, BUCKET):
        with judging(bucket, report):
            if not any(_selects(s, bucket) for s in selections):
                continue
            enabled = (
                any(
                    linked(v, "bucket", bucket, "bucket", "id")
                    and get(v.props, "versioningConfiguration", "status") == "Enabled"
                    for v in versioning
                )
                or get(bucket.props, "versioning", "enabled") is True
            )
            if not enabled:
                report(
                    f"bucket {bucket.name} is backed up by AWS Backup but not versioned; add a "
                    "BucketVersioning with status Enabled",
                    bucket.urn,
                )


@stack_policy(
    POLICIES,
    "lambda-code-signing",
    "Every Lambda function has a code signing config that trusts at least one Signer profile, "
    "so a deployment of code the profile did not sign is reported (Warn) or blocked (Enforce). "
    "`untrustedArtifactOnDeployment` sets the least action accepted.",
    ["custom"],
    [FUNCTION, CODE_SIGNING_CONFIG],
    config={
        **SCOPE,
        "untrustedArtifactOnDeployment": {
            "type": "string",
            "enum": ["Warn", "Enforce"],
            "default": "Warn",
            "description": "Enforce also requires the config to block unsigned code",
        },
    },
)
def _code_signing(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    if not _in_scope(args.resources, cfg):
        return
    configs = list(of_type(args.resources, CODE_SIGNING_CONFIG))
    for fn in of_type(args.resources, FUNCTION):
        with judging(fn, report):
            if get(fn.props, "packageType") == "Image":
                continue  # "Functions defined as container images do not support code signing."
            mine = [c for c in configs if linked(fn, "codeSigningConfigArn", c, "arn")]
            if not mine and not present(fn.props, "codeSigningConfigArn"):
                report(f"function {fn.name} has no code signing config", fn.urn)
            for c in mine:
                if not present(c.props, "allowedPublishers", "signingProfileVersionArns"):
                    report(f"code signing config of {fn.name} trusts no signing profile", c.urn)
                action = get(c.props, "policies", "untrustedArtifactOnDeployment", default="Warn")
                if cfg["untrustedArtifactOnDeployment"] == "Enforce" and action != "Enforce":
                    report(
                        f"code signing config of {fn.name} only warns ({action}); this stack "
                        "requires Enforce",
                        c.urn,
                    )


# -- buckets behind CloudFront survive a Region ---------------------------------------------------


def _bucket_named(buckets: list[PolicyResource], name: Any) -> PolicyResource | None:
    return next((b for b in buckets if known(b.props, "bucket") == name), None)


def _origin_bucket(buckets: list[PolicyResource], origin: Mapping[str, Any]) -> Any:
    """The bucket an S3 origin reads (by its `<bucket>.s3[.<region>].amazonaws.com` domain)."""
    domain = str(get(origin, "domainName", default=""))
    name, _, rest = domain.partition(".s3")
    return _bucket_named(buckets, name) if rest.endswith("amazonaws.com") else None


def _behaviours(dist: PolicyResource) -> list[Mapping[str, Any]]:
    return [get(dist.props, "defaultCacheBehavior", default={}),
            *items(get(dist.props, "orderedCacheBehaviors"))]  # fmt: skip


def _primary_s3_origins(dist: PolicyResource) -> list[Mapping[str, Any]]:
    """S3 origins a behaviour of `dist` reads first: its target, or its origin group's primary."""
    origins = {get(o, "originId"): o for o in items(get(dist.props, "origins"))}
    groups = {get(g, "originId"): g for g in items(get(dist.props, "originGroups"))}
    primaries = []
    for behaviour in _behaviours(dist):
        target = get(behaviour, "targetOriginId")
        if target in groups:
            target = get(items(get(groups[target], "members"))[0], "originId")
        origin = origins.get(target)
        if origin is not None and ".s3" in str(get(origin, "domainName", default="")):
            primaries.append(origin)
    return primaries


def _destination(rule: Mapping[str, Any], buckets: list[PolicyResource]) -> Any:
    return _bucket_named(
        buckets, str(get(rule, "destination", "bucket", default="")).split(":")[-1]
    )


@stack_policy(
    POLICIES,
    "s3-replication",
    "Every S3 bucket a CloudFront distribution serves from (its primary origin) replicates, by "
    "an enabled rule, to a bucket in another Region, with S3 Replication Time Control and "
    'replication metrics on: "S3 RTC replicates most objects that you upload to Amazon S3 in '
    'seconds, and 99.99 percent of those objects within 15 minutes." Another Region means a '
    "destination whose `region` differs from the source's.",
    ["custom"],
    [DISTRIBUTION, BUCKET, BUCKET_REPLICATION],
    config=SCOPE,
)
def _bucket_replication(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    if not _in_scope(args.resources, cfg):
        return
    buckets = list(of_type(args.resources, BUCKET))
    configurations = list(of_type(args.resources, BUCKET_REPLICATION))
    served: dict[str, PolicyResource] = {}
    for dist in of_type(args.resources, DISTRIBUTION):
        with judging(dist, report):
            for origin in _primary_s3_origins(dist):
                bucket = _origin_bucket(buckets, origin)
                if bucket is not None:
                    served[bucket.urn] = bucket
    for bucket in served.values():
        with judging(bucket, report):
            home = known(bucket.props, "region")
            rules = [
                r
                for c in configurations
                if linked(c, "bucket", bucket, "bucket", "id")
                for r in items(get(c.props, "rules"))
                if get(r, "status") == "Enabled"
            ]
            good = [
                r
                for r in rules
                if (dest := _destination(r, buckets)) is not None
                and known(dest.props, "region") not in (None, home)
                and get(r, "destination", "replicationTime", "status") == "Enabled"
                and get(r, "destination", "metrics", "status") == "Enabled"
            ]
            if not good:
                report(
                    f"bucket {bucket.name} is served by CloudFront but has no enabled replication "
                    "rule to a bucket in another Region with Replication Time Control and "
                    "metrics; set resilience.replica_region and resilience.replicate_buckets: "
                    "true (components.replication.replicate)",
                    bucket.urn,
                )


@stack_policy(
    POLICIES,
    "cloudfront-origin-failover",
    "Every cache behaviour that serves from S3 targets an origin group whose secondary is a "
    "bucket in another Region and which fails over at least on 500, 502, 503 and 504 (on "
    '403 and 404 too where the replica may hold what the primary lost). CloudFront: "If the '
    "primary origin is unavailable, or returns specific HTTP response status codes that "
    'indicate a failure, CloudFront automatically switches to the secondary origin."',
    ["custom"],
    [DISTRIBUTION],
    config=SCOPE,
)
def _origin_failover(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    if not _in_scope(args.resources, cfg):
        return
    for dist in of_type(args.resources, DISTRIBUTION):
        with judging(dist, report):
            origins = {get(o, "originId"): o for o in items(get(dist.props, "origins"))}
            groups = {get(g, "originId"): g for g in items(get(dist.props, "originGroups"))}
            for behaviour in _behaviours(dist):
                target = get(behaviour, "targetOriginId")
                path = get(behaviour, "pathPattern", default="default")
                if target in origins and ".s3" in str(get(origins[target], "domainName")):
                    report(
                        f"{dist.name} behaviour {path} serves S3 origin {target} without "
                        "failover; target an origin group with the bucket's replica "
                        "(components.cdn.s3_origins)",
                        dist.urn,
                    )
                    continue
                group = groups.get(target)
                if group is None:
                    continue
                codes = {int(c) for c in items(get(group, "failoverCriteria", "statusCodes"))}
                missing = sorted(set(SERVER_ERRORS) - codes)
                if missing:
                    report(
                        f"{dist.name} origin group {target} does not fail over on {missing}",
                        dist.urn,
                    )
                regions = [
                    _origin_region(origins.get(get(m, "originId"), {}))
                    for m in items(get(group, "members"))
                ]
                if len(regions) == 2 and regions[0] == regions[1]:
                    report(
                        f"{dist.name} origin group {target} fails over within {regions[0]}; "
                        "the secondary must be a replica in another Region",
                        dist.urn,
                    )


def _origin_region(origin: Mapping[str, Any]) -> str | None:
    """`eu-west-1` of `<bucket>.s3.eu-west-1.amazonaws.com` (us-east-1 for the global name)."""
    domain = str(get(origin, "domainName", default=""))
    match = re.search(r"\.s3[.-]([a-z0-9-]+)\.amazonaws\.com$", domain)
    if match:
        return match.group(1)
    return "us-east-1" if domain.endswith(".s3.amazonaws.com") else None


def _versioned(resources: list[PolicyResource], bucket: PolicyResource) -> bool:
    return get(bucket.props, "versioning", "enabled") is True or any(
        linked(v, "bucket", bucket, "bucket", "id")
        and get(v.props, "versioningConfiguration", "status") == "Enabled"
        for v in of_type(resources, VERSIONING)
    )


def _kms_encrypted(resources: list[PolicyResource], bucket: PolicyResource) -> bool:
    return any(
        linked(e, "bucket", bucket, "bucket", "id")
        and get(r, "applyServerSideEncryptionByDefault", "sseAlgorithm") in ("aws:kms",
                                                                             "aws:kms:dsse")
        for e in of_type(resources, *BUCKET_ENCRYPTION)
        for r in items(get(e.props, "rules"))
    )  # fmt: skip


@stack_policy(
    POLICIES,
    "deploy-s3-replication",
    "A replication configuration is one S3 accepts and that copies what it should. "
    '"Both source and destination buckets must have versioning enabled." PutBucketReplication: '
    '"To replicate AWS KMS-encrypted objects, add the following: SourceSelectionCriteria, '
    'SseKmsEncryptedObjects, Status, EncryptionConfiguration, and ReplicaKmsKeyID" (else '
    "\"Amazon S3 doesn't replicate objects that are stored at rest using server-side encryption "
    'with KMS keys"), and the key "must have been created in the same AWS Region as the '
    'destination buckets". ReplicationTime: "Must be specified together with a Metrics block", '
    'minutes "Valid value: 15". With a Filter, "you must also add the following elements: '
    'DeleteMarkerReplication, Status, and Priority."',
    ["custom"],
    [BUCKET, VERSIONING, BUCKET_REPLICATION, *BUCKET_ENCRYPTION],
)
def _replication_accepted(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    buckets = list(of_type(args.resources, BUCKET))
    for configuration in of_type(args.resources, BUCKET_REPLICATION):
        with judging(configuration, report):
            sources = [b for b in buckets if linked(configuration, "bucket", b, "bucket", "id")]
            source = sources[0] if sources else None
            if source is not None and not _versioned(args.resources, source):
                report(f"source bucket {source.name} is not versioned", configuration.urn)
            for rule in items(get(configuration.props, "rules")):
                for problem in _rule_problems(args.resources, rule, source, buckets):
                    report(f"rule {get(rule, 'id', default='(no id)')}: {problem}",
                           configuration.urn)  # fmt: skip


def _rule_problems(
    resources: list[PolicyResource],
    rule: Mapping[str, Any],
    source: PolicyResource | None,
    buckets: list[PolicyResource],
) -> list[str]:
    problems = []
    destination = _destination(rule, buckets)
    if destination is not None and not _versioned(resources, destination):
        problems.append(f"destination bucket {destination.name} is not versioned")
    kms_objects = get(rule, "sourceSelectionCriteria", "sseKmsEncryptedObjects", "status")
    key = get(rule, "destination", "encryptionConfiguration", "replicaKmsKeyId")
    if kms_objects == "Enabled" and not key:
        problems.append("replicates SSE-KMS objects without destination "
                        "encryption_configuration.replica_kms_key_id")  # fmt: skip
    if source is not None and kms_objects != "Enabled" and _kms_encrypted(resources, source):
        problems.append(
            f"source bucket {source.name} encrypts with KMS but the rule does not select "
            "sse_kms_encrypted_objects: S3 would replicate none of its objects"
        )
    key_region = _region(key)
    dest_region = known(destination.props, "region") if destination is not None else None
    if key_region and dest_region and key_region != dest_region:
        problems.append(f"replica key is in {key_region}, the destination bucket in {dest_region}")
    rtc = get(rule, "destination", "replicationTime")
    if get(rtc, "status") == "Enabled":
        if get(rule, "destination", "metrics", "status") != "Enabled":
            problems.append("Replication Time Control needs metrics status Enabled")
        minutes = [get(rtc, "time", "minutes"),
                   get(rule, "destination", "metrics", "eventThreshold", "minutes")]  # fmt: skip
        if any(m is not None and int(m) != RTC_MINUTES for m in minutes):
            problems.append(f"Replication Time Control takes {RTC_MINUTES} minutes only")
    if get(rule, "filter") is not None and (
        get(rule, "deleteMarkerReplication", "status") is None or get(rule, "priority") is None
    ):
        problems.append("a rule with a filter needs delete_marker_replication and priority")
    return problems
