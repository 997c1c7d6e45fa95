"""Private S3 buckets built the same way everywhere: no public access, TLS only, versioned,
encrypted, logged, with lifecycle rules. Helpers that add children to an owning component.

- `private_bucket`: a data bucket (SSE-KMS with bucket keys, versioning, intelligent tiering,
  old versions expire, server access logs to a log bucket, ACLs disabled).
- `log_bucket`: where S3 server access logs and CloudFront standard logs land (SSE-S3, because
  S3 server access logging cannot write to SSE-KMS buckets; ACLs enabled for the bucket owner
  only, because CloudFront standard logging delivers through an ACL grant), expiring after the
  retention period.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from soundstack.components import lookups
from soundstack.components.base import Component


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


def _base(owner: Component, role: str, object_ownership: str) -> tuple[aws.s3.Bucket, list]:
    bucket = aws.s3.Bucket(
        owner.child_name(f"{role}-bucket"),
        bucket=owner.physical_name(role, "s3_bucket"),
        force_destroy=not owner.ctx.is_prod,
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
        opts=owner.child_opts(),
    )
    ownership = aws.s3.BucketOwnershipControls(
        owner.child_name(f"{role}-ownership"),
        bucket=bucket.id,
        rule={"object_ownership": object_ownership},
        opts=owner.child_opts(),
    )
    return bucket, [block, ownership]


def _policy(
    owner: Component,
    role: str,
    bucket: aws.s3.Bucket,
    statements: pulumi.Input[Sequence[Mapping[str, Any]]],
    depends_on: list,
) -> aws.s3.BucketPolicy:
    document = pulumi.Output.all(bucket.arn, statements).apply(
        lambda args: json.dumps(
            {"Version": "2012-10-17", "Statement": [tls_only_statement(args[0]), *args[1]]}
        )
    )
    return aws.s3.BucketPolicy(
        owner.child_name(f"{role}-policy"),
        bucket=bucket.id,
        policy=document,
        opts=owner.child_opts(depends_on=depends_on),
    )


def log_bucket(owner: Component, role: str, retention_days: int) -> Bucket:
    """A bucket for S3 server access logs and CloudFront standard logs, kept `retention_days`."""
    bucket, settled = _base(owner, role, "BucketOwnerPreferred")
    aws.s3.BucketServerSideEncryptionConfiguration(
        owner.child_name(f"{role}-encryption"),
        bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
        opts=owner.child_opts(),
    )
    aws.s3.BucketVersioning(
        owner.child_name(f"{role}-versioning"),
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=owner.child_opts(),
    )
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
        opts=owner.child_opts(),
    )
    account = lookups.account_id()
    statements = bucket.arn.apply(
        lambda arn: [
            {
                "Sid": "S3ServerAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{arn}/s3/*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            }
        ]
    )
    policy = _policy(owner, role, bucket, statements, settled)
    return Bucket(
        bucket,
        bucket.bucket,
        bucket.arn,
        bucket.bucket_regional_domain_name,
        bucket.bucket_domain_name,
        [*settled, policy],
    )


def private_bucket(
    owner: Component,
    role: str,
    kms_key_arn: pulumi.Input[str] | None,
    logs: Bucket,
    noncurrent_version_days: int = 30,
    intelligent_tiering: bool = True,
) -> Bucket:
    """A versioned, SSE-KMS bucket with server access logs to `logs` (`kms_key_arn` None: the
    AWS managed key `aws/s3`).

    Finish it with `bucket_policy(...)` (TLS-only plus your statements, e.g. a CloudFront OAC
    grant naming a distribution that needs the bucket's domain first)."""
    bucket, settled = _base(owner, role, "BucketOwnerEnforced")
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
        opts=owner.child_opts(),
    )
    aws.s3.BucketVersioning(
        owner.child_name(f"{role}-versioning"),
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=owner.child_opts(),
    )
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
        opts=owner.child_opts(),
    )
    aws.s3.BucketLogging(
        owner.child_name(f"{role}-logging"),
        bucket=bucket.id,
        target_bucket=logs.name,
        target_prefix=pulumi.Output.concat("s3/", bucket.bucket, "/"),
        opts=owner.child_opts(depends_on=list(logs.settled)),
    )
    return Bucket(
        bucket,
        bucket.bucket,
        bucket.arn,
        bucket.bucket_regional_domain_name,
        bucket.bucket_domain_name,
        settled,
    )


def bucket_policy(
    owner: Component,
    role: str,
    bucket: Bucket,
    statements: pulumi.Input[Sequence[Mapping[str, Any]]] = (),
) -> aws.s3.BucketPolicy:
    """The bucket's only policy: deny non-TLS requests, plus `statements`."""
    return _policy(owner, role, bucket.bucket, statements, list(bucket.settled))
