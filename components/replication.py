"""Cross-Region replication of a private bucket: a replica bucket in another Region under a KMS
key of that Region, S3 Replication Time Control, and the alarms that say when it lags or fails.

`replicate(owner, role, source, ...)` adds to the owning component a replica of `source` (a
`components.buckets.private_bucket`): a key and a log bucket in the replica Region, the replica
bucket (versioned, SSE-KMS, access-logged, ACLs disabled), the replication role and the
replication configuration, and offers `ReplicationLatency` and `OperationsFailedReplication` as
signals, so `components.monitoring.Monitoring` alarms on them through the alerts topic. The
replica lives in another Region through pulumi-aws 7's per-resource `region`: no second provider
to pass in, and the default provider's credentials and assumed role apply there too.

What AWS requires, and how it is met here (policy `deploy-s3-replication` checks any program):
- Requirements for replication: "Both source and destination buckets must have versioning
  enabled." Both are `private_bucket`s and the configuration waits for both versionings.
- PutBucketReplication: "By default, Amazon S3 doesn't replicate objects that are stored at rest
  using server-side encryption with KMS keys. To replicate AWS KMS-encrypted objects, add the
  following: SourceSelectionCriteria, SseKmsEncryptedObjects, Status, EncryptionConfiguration,
  and ReplicaKmsKeyID." The replica key "must have been created in the same AWS Region as the
  destination buckets".
- ReplicationTime (S3 RTC): "Must be specified together with a Metrics block"; its minutes:
  "Valid value: 15". RTC "replicates most objects that you upload to Amazon S3 in seconds, and
  99.99 percent of those objects within 15 minutes": the recovery point of a lost Region.
- With a Filter, "you must also add the following elements: DeleteMarkerReplication, Status,
  and Priority".
- The role holds AWS's documented least privilege: read the configuration and list the source,
  read object versions for replication, replicate into the replica; `kms:Decrypt` on the source
  key and `kms:Encrypt` on the replica key, each through S3 of its Region only. Both buckets use
  S3 Bucket Keys, for which "the encryption context will be the bucket ARN and not the object
  ARN", and "the AWS KMS key policy for the CMK used to encrypt the object replica must include
  kms:Decrypt permissions for the calling principal": the replica key grant has both actions.

Delete markers are replicated (a track withdrawn for licensing must not reappear after a
failover). S3 never replicates the deletion of an object *version*: "This protects data from
malicious deletions." Objects written before replication was switched on are not copied by live
replication; the README's recovery section says how to copy them once (S3 Batch Replication).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from soundstack.components import buckets
from soundstack.components.base import Component
from soundstack.components.iam import ServiceRole, ServiceRoleArgs
from soundstack.components.kms import EncryptionKey, EncryptionKeyArgs

#: S3 RTC's only threshold ("Valid value: 15"), in minutes.
RTC_MINUTES = 15
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


@dataclass(frozen=True)
class Replica:
    """Handles to a bucket's replica in another Region."""

    bucket: buckets.Bucket
    key: EncryptionKey
    region: str
    #: The replication rule's id (a dimension of the replication metrics).
    rule_id: str
    role: ServiceRole
    configuration: aws.s3.BucketReplicationConfig


def _s3_via(region: str) -> dict[str, str]:
    return {"kms:ViaService": f"s3.{region}.amazonaws.com"}


def _bucket_context(arn: pulumi.Output[str]) -> pulumi.Output[list[str]]:
    # Bucket Keys put the bucket ARN in the encryption context; objects written without one
    # carry their object ARN: both, and nothing outside this bucket.
    return arn.apply(lambda a: [a, f"{a}/*"])


def replicate(
    owner: Component,
    role: str,
    source: buckets.Bucket,
    source_key_arn: pulumi.Input[str],
    region: str,
    log_retention_days: int,
    noncurrent_version_days: int = 30,
    intelligent_tiering: bool = True,
    key_service_principals: Sequence[str] = (),
) -> Replica:
    """Replicate `source` (encrypted with `source_key_arn`) to a new bucket in `region`.

    `key_service_principals` may use the replica key as well (e.g. `cloudfront.amazonaws.com`
    when a distribution reads the replica through OAC)."""
    ctx = owner.ctx
    home = source.region or ctx.region
    if not _REGION.match(region):
        raise ValueError(f"resilience.replica_region={region!r} is not an AWS Region; use e.g. "
                         "eu-central-1")  # fmt: skip
    if region == home:
        raise ValueError(
            f"resilience.replica_region={region} is the Region of bucket {role}: a replica there "
            "survives no regional outage; pick another Region, e.g. eu-central-1"
        )
    key = EncryptionKey(
        owner.child_name(f"{role}-replica-key"),
        EncryptionKeyArgs(
            description=f"{role} replica of {owner.logical_name} ({ctx.project}-{ctx.stack}, "
            f"{region})",
            service_principals=list(key_service_principals),
            region=region,
        ),
        ctx,
        opts=owner.child_opts(),
    )
    logs = buckets.log_bucket(owner, f"{role}-replica-logs", log_retention_days, region=region)
    replica = buckets.private_bucket(
        owner,
        f"{role}-replica",
        key.arn,
        logs,
        noncurrent_version_days,
        intelligent_tiering,
        region=region,
    )
    grantee = ServiceRole(
        owner.child_name(f"{role}-replication"),
        ServiceRoleArgs(services=["s3.amazonaws.com"]),
        ctx,
        opts=owner.child_opts(),
    )
    grantee.grant(
        "ReadReplicationConfiguration",
        ["s3:GetReplicationConfiguration", "s3:ListBucket"],
        [source.arn],
    )
    grantee.grant(
        "ReadSourceVersions",
        ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
         "s3:GetObjectVersionTagging"],
        [source.arn.apply(lambda a: f"{a}/*")],
    )  # fmt: skip
    grantee.grant(
        "WriteReplicas",
        ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
        [replica.arn.apply(lambda a: f"{a}/*")],
    )
    grantee.grant(
        "DecryptSource",
        ["kms:Decrypt"],
        [source_key_arn],
        {
            "StringEquals": _s3_via(home),
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": _bucket_context(source.arn)},
        },
    )
    grantee.grant(
        "EncryptReplicas",
        ["kms:Encrypt", "kms:Decrypt"],
        [key.arn],
        {
            "StringEquals": _s3_via(region),
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": _bucket_context(replica.arn)},
        },
    )
    rule_id = f"{role}-to-{region}"
    configuration = aws.s3.BucketReplicationConfig(
        owner.child_name(f"{role}-replication-config"),
        bucket=source.bucket.id,
        role=grantee.role_arn,
        rules=[
            {
                "id": rule_id,
                "status": "Enabled",
                "priority": 1,
                "filter": {},
                "delete_marker_replication": {"status": "Enabled"},
                "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                "destination": {
                    "bucket": replica.arn,
                    "encryption_configuration": {"replica_kms_key_id": key.arn},
                    "replication_time": {"status": "Enabled", "time": {"minutes": RTC_MINUTES}},
                    "metrics": {
                        "status": "Enabled",
                        "event_threshold": {"minutes": RTC_MINUTES},
                    },
                },
            }
        ],
        region=source.region,
        opts=owner.child_opts(depends_on=[source.versioning, replica.versioning, grantee]),
    )
    # Replication metrics are the source bucket's, kept in its Region (the stack's alerts topic).
    dimensions: dict[str, pulumi.Input[str]] = {
        "SourceBucket": source.name,
        "DestinationBucket": replica.name,
        "RuleId": rule_id,
    }
    owner.add_signal(
        "replication_latency",
        f"{role} replication latency to {region} (s)",
        "AWS/S3",
        "ReplicationLatency",
        dimensions,
        statistic="Maximum",
        region=source.region,
    )
    owner.add_signal(
        "replication_failures",
        f"{role} objects that failed to replicate",
        "AWS/S3",
        "OperationsFailedReplication",
        dimensions,
        region=source.region,
    )
    return Replica(replica, key, region, rule_id, grantee, configuration)
