"""Private S3 buckets built the same way everywhere: no public access, TLS only, versioned,
encrypted, logged, with lifecycle rules, ACLs disabled (object ownership `BucketOwnerEnforced`,
FSBP S3.12). Helpers that add children to an owning component, in the stack's Region or, with
`region`, in another one (pulumi-aws 7's per-resource `region`: same provider, same credentials).

- `private_bucket`: a data bucket (SSE-KMS with bucket keys, versioning, intelligent tiering,
  old versions expire, server access logs to a log bucket of the same Region).
- `log_bucket`: where S3 server access logs land and, with `cloudfront_logs`, CloudFront standard
  logs v2 (SSE-S3, because S3 server access logging cannot write to SSE-KMS buckets), expiring
  after the retention period. Both deliveries are authorised by the bucket policy, not by ACLs:
  S3 server access logging through `logging.s3.amazonaws.com`, CloudFront standard logging v2
  through CloudWatch Logs' `delivery.logs.amazonaws.com` (legacy CloudFront logging needs ACLs,
  "Your bucket must have access control list (ACL) enabled", and is not used).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from soundstack.components import lookups
from soundstack.components.base import Component, json_document

#: Where CloudFront's log delivery sources live (components.cdn.CLOUDFRONT_REGION).
CLOUDFRONT_LOGS_REGION = "us-east-1"


@dataclass(frozen=True)
class Bucket:
    """Handles to a bucket built by this module."""

    bucket: aws.s3.Bucket
    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    regional_domain_name: pulumi.Output[str]
    domain_name: pulumi.Output[str]
    #: Depend on these before relying on the bucket's settings (policy, public access block).
    settled: Sequence[pulumi.Resource]
    #: S3 replication needs versioning on both buckets before its configuration is accepted.
    versioning: aws.s3.BucketVersioning
    #: The bucket's Region; None: the stack's (the provider's).
    region: str | None = None


def tls_only_statement(bucket_arn: str) -> dict[str, Any]:
    """S3.5 / CIS 2.1.1: refuse every request that does not use TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def cloudfront_log_statements(bucket_arn: str, account: str, partition: str) -> list[dict]:
    """Bucket-policy statements letting CloudWatch Logs deliver CloudFront standard logs v2.

    AWS (CloudWatch Logs, "Logs sent to Amazon S3", V2): the bucket needs these statements, and
    when they are missing AWS appends them itself, which `pulumi up` would then undo; so they are
    written here. `aws:SourceArn` takes "the form arn:aws:logs:source-region:source-account-id:*";
    CloudFront's delivery sources live in us-east-1. CloudWatch Logs prefixes every object key
    with `AWSLogs/<account>/CloudFront/`.
    """
    source = {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:{partition}:logs:{CLOUDFRONT_LOGS_REGION}:{account}:*"},
    }
    return [
        {
            "Sid": "CloudFrontLogsAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "delivery.logs.amazonaws.com"},
            "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
            "Resource": bucket_arn,
            "Condition": source,
        },
        {
            "Sid": "CloudFrontLogsWrite",
            "Effect": "Allow",
            "Principal": {"Service": "delivery.logs.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/AWSLogs/{account}/*",
            "Condition": {
                **source,
                "StringEquals": {
                    **source["StringEquals"],
                    "s3:x-amz-acl": "bucket-owner-full-control",
                },
            },
        },
    ]


def _base(owner: Component, role: str, region: str | None) -> tuple[aws.s3.Bucket, list]:
    bucket = aws.s3.Bucket(
        owner.child_name(f"{role}-bucket"),
        bucket=owner.s3_bucket_name(role),
        force_destroy=not owner.ctx.is_prod,
        region=region,
        tags=owner.tags(),
        opts=owner.child_opts(),
    )
    block = aws.s3.BucketPublicAccessBlock(
        owner.child_name(f"{role}-public-access"),
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        region=region,
        opts=owner.child_opts(),
    )
    # FSBP S3.12: ACLs disabled; every grant lives in the bucket policy.
    ownership = aws.s3.BucketOwnershipControls(
        owner.child_name(f"{role}-ownership"),
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        region=region,
        opts=owner.child_opts(),
    )
    return bucket, [block, ownership]


def _versioning(
    owner: Component, role: str, bucket: aws.s3.Bucket, region: str | None
) -> aws.s3.BucketVersioning:
    return aws.s3.BucketVersioning(
        owner.child_name(f"{role}-versioning"),
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        region=region,
        opts=owner.child_opts(),
    )


def _policy(
    owner: Component,
    role: str,
    bucket: aws.s3.Bucket,
    statements: pulumi.Input[Sequence[Mapping[str, Any]]],
    depends_on: list,
    region: str | None,
) -> aws.s3.BucketPolicy:
    document = pulumi.Output.all(bucket.arn, json_document(statements)).apply(
        lambda args: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [tls_only_statement(args[0]), *json.loads(args[1])],
            }
        )
    )
    return aws.s3.BucketPolicy(
        owner.child_name(f"{role}-policy"),
        bucket=bucket.id,
        policy=document,
        region=region,
        opts=owner.child_opts(depends_on=depends_on),
    )


def log_bucket(
    owner: Component,
    role: str,
    retention_days: int,
    cloudfront_logs: bool = False,
    region: str | None = None,
) -> Bucket:
    """A bucket for S3 server access logs (of buckets in `region`) and, with
    `cloudfront_logs`, CloudFront standard logs v2, kept `retention_days`."""
    bucket, settled = _base(owner, role, region)
    aws.s3.BucketServerSideEncryptionConfiguration(
        owner.child_name(f"{role}-encryption"),
        bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
        region=region,
        opts=owner.child_opts(),
    )
    versioning = _versioning(owner, role, bucket, region)
    aws.s3.BucketLifecycleConfiguration(
        owner.child_name(f"{role}-lifecycle"),
        bucket=bucket.id,
        rules=[
            {
                "id": "expire-logs",
                "status": "Enabled",
                "filter": {},
                "expiration": {"days": retention_days},
                "noncurrent_version_expiration": {"noncurrent_days": 1},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
            }
        ],
        region=region,
        opts=owner.child_opts(),
    )
    account, partition = lookups.account_id(), lookups.partition()

    def statements(arn: str) -> list[dict[str, Any]]:
        server_access = {
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{arn}/s3/*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        }
        cloudfront = cloudfront_log_statements(arn, account, partition) if cloudfront_logs else []
        return [server_access, *cloudfront]

    policy = _policy(owner, role, bucket, bucket.arn.apply(statements), settled, region)
    return Bucket(
        bucket,
        bucket.bucket,
        bucket.arn,
        bucket.bucket_regional_domain_name,
        bucket.bucket_domain_name,
        [*settled, policy],
        versioning,
        region,
    )


def private_bucket(
    owner: Component,
    role: str,
    kms_key_arn: pulumi.Input[str] | None,
    logs: Bucket,
    noncurrent_version_days: int = 30,
    intelligent_tiering: bool = True,
    region: str | None = None,
) -> Bucket:
    """A versioned, SSE-KMS bucket with server access logs to `logs` (`kms_key_arn` None: the
    AWS managed key `aws/s3`), in `region` (None: the stack's).

    Finish it with `bucket_policy(...)` (TLS-only plus your statements, e.g. a CloudFront OAC
    grant naming a distribution that needs the bucket's domain first)."""
    if logs.region != region:
        # S3 server access logging: "Both the source and destination buckets must be in the
        # same AWS Region and owned by the same account."
        raise ValueError(
            f"{owner.logical_name}: bucket {role} ({region or owner.ctx.region}) cannot log to "
            f"a bucket in {logs.region or owner.ctx.region}; S3 server access logs stay in "
            "their Region: give it a log_bucket(..., region=...) of its own Region"
        )
    bucket, settled = _base(owner, role, region)
    aws.s3.BucketServerSideEncryptionConfiguration(
        owner.child_name(f"{role}-encryption"),
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    **({"kms_master_key_id": kms_key_arn} if kms_key_arn is not None else {}),
                },
                "bucket_key_enabled": True,
            }
        ],
        region=region,
        opts=owner.child_opts(),
    )
    versioning = _versioning(owner, role, bucket, region)
    rule: dict[str, Any] = {
        "id": "tiering-and-old-versions",
        "status": "Enabled",
        "filter": {},
        "noncurrent_version_expiration": {"noncurrent_days": noncurrent_version_days},
        "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        "expiration": {"expired_object_delete_marker": True},
    }
    if intelligent_tiering:
        rule["transitions"] = [{"days": 0, "storage_class": "INTELLIGENT_TIERING"}]
    aws.s3.BucketLifecycleConfiguration(
        owner.child_name(f"{role}-lifecycle"),
        bucket=bucket.id,
        rules=[rule],
        region=region,
        opts=owner.child_opts(),
    )
    aws.s3.BucketLogging(
        owner.child_name(f"{role}-logging"),
        bucket=bucket.id,
        target_bucket=logs.name,
        target_prefix=pulumi.Output.concat("s3/", bucket.bucket, "/"),
        region=region,
        opts=owner.child_opts(depends_on=list(logs.settled)),
    )
    return Bucket(
        bucket,
        bucket.bucket,
        bucket.arn,
        bucket.bucket_regional_domain_name,
        bucket.bucket_domain_name,
        settled,
        versioning,
        region,
    )


def bucket_policy(
    owner: Component,
    role: str,
    bucket: Bucket,
    statements: pulumi.Input[Sequence[Mapping[str, Any]]] = (),
) -> aws.s3.BucketPolicy:
    """The bucket's only policy: deny non-TLS requests, plus `statements`."""
    return _policy(owner, role, bucket.bucket, statements, list(bucket.settled), bucket.region)
