"""S3: public access blocked, no public ACL or policy, TLS only, KMS at rest, versioning, logs.

A bucket is configured either whole (`aws:s3/bucket:Bucket` with nested `versioning`,
`serverSideEncryptionConfiguration`, `logging`, `policy`) or split (a `Bucket` plus companion
resources whose `bucket` property names it). Stack policies accept either style.

Log-delivery buckets (the target of another bucket's access logging or of a CloudFront
distribution's standard logging, or whose policy lets `logging.s3.amazonaws.com` write) may use
SSE-S3 and ACLs and need no access logging of their own: S3 server access logging cannot write to
SSE-KMS buckets and CloudFront standard logging delivers through an ACL grant.

On a first preview a companion's `bucket` (from `bucket.id`) and a policy built from
`bucket.arn` are unknown: companions are found through property dependencies, and each bucket is
judged on its own (`judging`), so an unknown document skips only the bucket it belongs to, and
only when what is known does not already settle the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from .core import (
    ADVISORY,
    Settings,
    Spec,
    as_strings,
    get,
    items,
    judging,
    known,
    linked,
    of_type,
    policy_statements,
    principal_is_public,
    references,
    resource_policy,
    stack_policy,
    truthy,
)

POLICIES: list[Spec] = []

BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ACLS = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
PUBLIC_CANNED_ACLS = ("public-read", "public-read-write", "authenticated-read")
PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
LOG_DELIVERY_SERVICES = ("logging.s3.amazonaws.com", "delivery.logs.amazonaws.com")
_BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _name(bucket: PolicyResource) -> str:
    return str(get(bucket.props, "bucket", default=bucket.name))


def companions(
    resources: Sequence[PolicyResource], bucket: PolicyResource, types: Sequence[str]
) -> list[PolicyResource]:
    """The split-style resources of `types` whose `bucket` property names `bucket`."""
    return [
        r for r in of_type(resources, *types) if linked(r, "bucket", bucket, "bucket", "id", "arn")
    ]


def bucket_policies(resources: Sequence[PolicyResource], bucket: PolicyResource) -> list:
    """Policy documents applying to `bucket`: its inline `policy` and its BucketPolicy (raises
    UnknownValueError when one of them is unknown)."""
    documents = [get(bucket.props, "policy")]
    documents += [get(p.props, "policy") for p in companions(resources, bucket, [BUCKET_POLICY])]
    return [d for d in documents if d]


def is_log_delivery(resources: Sequence[PolicyResource], bucket: PolicyResource) -> bool:
    """`bucket` receives S3 access logs or CloudFront standard logs (it is named as a logging
    target, or its policy lets a log-delivery service write)."""
    name = known(bucket.props, "bucket") or bucket.name
    for other in of_type(resources, *BUCKETS):
        target = known(known(other.props, "logging"), "targetBucket")
        if other is not bucket and (references(other, "logging", bucket) or target == name):
            return True
    for logging in of_type(resources, *LOGGING):
        if linked(logging, "targetBucket", bucket, "bucket", "id"):
            return True
    for dist in of_type(resources, DISTRIBUTION):
        target = str(known(known(dist.props, "loggingConfig"), "bucket") or "")
        if linked(dist, "loggingConfig", bucket) or target.startswith(f"{name}.s3"):
            return True
    for document in bucket_policies(resources, bucket):
        for statement in policy_statements(document):
            services = as_strings(get(statement, "Principal", "Service"))
            if statement.get("Effect") == "Allow" and set(services) & set(LOG_DELIVERY_SERVICES):
                return True
    return False


@resource_policy(
    POLICIES,
    "s3-public-access-block-settings",
    "A bucket's public access block turns on all four settings (block and ignore public ACLs, "
    "block public policies, restrict public buckets).",
    ["FSBP S3.1", "FSBP S3.8", "CIS 2.1.4", "PCI 1.3", "PCI 1.4"],
    [PUBLIC_ACCESS_BLOCK],
)
def _block_settings(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    off = [flag for flag in _BLOCK_FLAGS if not truthy(get(args.props, flag))]
    if off:
        report(f"set {', '.join(off)} to true", None)


@stack_policy(
    POLICIES,
    "s3-bucket-public-access-block",
    "Every S3 bucket has a BucketPublicAccessBlock of its own.",
    ["FSBP S3.8", "CIS 2.1.4", "PCI 1.3"],
    [*BUCKETS, PUBLIC_ACCESS_BLOCK],
)
def _has_block(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    for bucket in of_type(args.resources, *BUCKETS):
        with judging(bucket, report):
            if companions(args.resources, bucket, [PUBLIC_ACCESS_BLOCK]):
                continue
            report(
                f"bucket {bucket.name} has no aws.s3.BucketPublicAccessBlock; add one with "
                "all four settings true",
                bucket.urn,
            )


@resource_policy(
    POLICIES,
    "s3-no-public-acl",
    "No bucket or bucket ACL grants access to AllUsers or AuthenticatedUsers.",
    ["FSBP S3.2", "FSBP S3.3", "PCI 1.3"],
    [*BUCKETS, *ACLS],
)
def _no_public_acl(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    acl = get(args.props, "acl")
    if acl in PUBLIC_CANNED_ACLS:
        report(f"canned ACL {acl!r} makes objects public; remove it (ACLs disabled)", None)
    grants = [
        *items(get(args.props, "grants")),
        *items(get(args.props, "accessControlPolicy", "grants")),
    ]
    for grant in grants:
        uri = get(grant, "uri") or get(grant, "grantee", "uri")
        if uri in PUBLIC_GRANTEES:
            report(f"ACL grant to {uri} makes the bucket public; remove it", None)


@resource_policy(
    POLICIES,
    "s3-policy-no-public-principal",
    "No bucket policy allows `*` (anybody) without a condition naming the caller.",
    ["FSBP S3.2", "FSBP S3.3", "PCI 1.3"],
    [*BUCKETS, BUCKET_POLICY],
)
def _no_public_policy(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    for statement in policy_statements(get(args.props, "policy")):
        if (
            statement.get("Effect") == "Allow"
            and principal_is_public(statement.get("Principal"))
            and not statement.get("Condition")
        ):
            report(
                f"statement {statement.get('Sid', '(no Sid)')!r} allows Principal * without a "
                "condition; grant a service principal with aws:SourceArn, or a role",
                None,
            )


def _tls_only(documents: list) -> bool:
    for document in documents:
        for statement in policy_statements(document):
            condition = get(statement, "Condition", "Bool", "aws:SecureTransport")
            actions = as_strings(statement.get("Action"))
            if (
                statement.get("Effect") == "Deny"
                and principal_is_public(statement.get("Principal"))
                and str(condition).lower() == "false"
                and ("s3:*" in actions or "*" in actions)
            ):
                return True
    return False


@stack_policy(
    POLICIES,
    "s3-tls-only",
    "Every bucket policy denies `s3:*` to every principal when aws:SecureTransport is false.",
    ["FSBP S3.5", "CIS 2.1.1", "PCI 4.2.1"],
    [*BUCKETS, BUCKET_POLICY],
)
def _tls(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    for bucket in of_type(args.resources, *BUCKETS):
        with judging(bucket, report):
            if _tls_only(bucket_policies(args.resources, bucket)):
                continue
            report(
                f"bucket {bucket.name} does not deny non-TLS requests; add a Deny statement on "
                "s3:* with Condition Bool aws:SecureTransport=false (components.buckets does)",
                bucket.urn,
            )


def _algorithms(resources: Sequence[PolicyResource], bucket: PolicyResource) -> list[str]:
    rules = items(get(bucket.props, "serverSideEncryptionConfiguration", "rule"))
    for config in companions(resources, bucket, ENCRYPTION):
        rules += items(get(config.props, "rules"))
    return [
        str(get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm", default=""))
        for rule in rules
    ]


@stack_policy(
    POLICIES,
    "s3-kms-encryption",
    "Every bucket encrypts by default with SSE-KMS (log-delivery buckets may use SSE-S3, which "
    "is all S3 server access logging can write to).",
    ["FSBP S3.17"],
    [*BUCKETS, *ENCRYPTION],
)
def _kms(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    for bucket in of_type(args.resources, *BUCKETS):
        with judging(bucket, report):
            algorithms = _algorithms(args.resources, bucket)
            allowed = {"aws:kms", "aws:kms:dsse"}
            if algorithms and set(algorithms) <= allowed:
                continue
            if (
                algorithms
                and set(algorithms) <= {*allowed, "AES256"}
                and is_log_delivery(args.resources, bucket)
            ):
                continue
            report(
                f"bucket {bucket.name} default encryption is {algorithms or 'not configured'}; "
                "set sse_algorithm aws:kms with a customer-managed key",
                bucket.urn,
            )


@stack_policy(
    POLICIES,
    "s3-versioning",
    "Every bucket has versioning enabled.",
    ["FSBP S3.14"],
    [*BUCKETS, *VERSIONING],
)
def _versioning(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    for bucket in of_type(args.resources, *BUCKETS):
        with judging(bucket, report):
            enabled = truthy(get(bucket.props, "versioning", "enabled")) or any(
                get(v.props, "versioningConfiguration", "status") == "Enabled"
                for v in companions(args.resources, bucket, VERSIONING)
            )
            if enabled:
                continue
            report(
                f"bucket {bucket.name} is not versioned; add BucketVersioning status Enabled",
                bucket.urn,
            )


@stack_policy(
    POLICIES,
    "s3-access-logging",
    "Every bucket except log-delivery buckets writes server access logs (this covers the "
    "CloudTrail bucket too).",
    ["FSBP S3.9", "FSBP CloudTrail.7", "CIS 3.4", "PCI 10.2.1"],
    [*BUCKETS, *LOGGING],
)
def _logging(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    for bucket in of_type(args.resources, *BUCKETS):
        with judging(bucket, report):
            logged = bool(get(bucket.props, "logging", "targetBucket")) or any(
                get(c.props, "targetBucket") for c in companions(args.resources, bucket, LOGGING)
            )
            if logged or is_log_delivery(args.resources, bucket):
                continue
            report(
                f"bucket {bucket.name} has no server access logging; add BucketLogging "
                "to a log bucket",
                bucket.urn,
            )


@stack_policy(
    POLICIES,
    "s3-acls-disabled",
    "Buckets disable ACLs (object ownership BucketOwnerEnforced), except log-delivery buckets.",
    ["FSBP S3.12"],
    [*BUCKETS, OWNERSHIP],
    level=ADVISORY,
)
def _acls_disabled(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    for bucket in of_type(args.resources, *BUCKETS):
        with judging(bucket, report):
            owners = [
                get(c.props, "rule", "objectOwnership")
                for c in companions(args.resources, bucket, [OWNERSHIP])
            ]
            if "BucketOwnerEnforced" in owners or is_log_delivery(args.resources, bucket):
                continue
            report(
                f"bucket {bucket.name} still honours ACLs; add BucketOwnershipControls "
                "object_ownership BucketOwnerEnforced",
                bucket.urn,
            )
