"""A program of plain `pulumi_aws` resources with planted misconfigurations, each tied to an
FSBP / CIS control (or `custom`), next to compliant twins, the way a security reviewer would
benchmark the pack. `EXPECTED` says, per resource, which policies must report it; `CLEAN`, which
must not. Companions are wired as real programs wire them (`bucket.id`, `bucket.arn`, `sg.id`,
an auto-named parameter group), so on a first preview their links and documents are unknown.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from soundstack.components.base import REQUIRED_TAGS

TAGS = {key: "planted" for key in REQUIRED_TAGS} | {"environment": "prod"}
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

#: resource name → policies that must report it (mandatory), in both modes.
EXPECTED: dict[str, set[str]] = {
    "open-bucket": {  # no block, no TLS policy, SSE-S3, not versioned, no access logs
        "s3-bucket-public-access-block",  # FSBP S3.8 / CIS 2.1.4
        "s3-tls-only",  # FSBP S3.5 / CIS 2.1.1
        "s3-kms-encryption",  # FSBP S3.17
        "s3-versioning",  # FSBP S3.14
        "s3-access-logging",  # FSBP S3.9
    },
    "public-acl-bucket": {"s3-no-public-acl"},  # FSBP S3.2 / S3.3
    "public-policy": {"s3-policy-no-public-principal"},  # FSBP S3.2
    "lb-ssh": {"sg-no-world-ingress"},  # FSBP EC2.13 / CIS 5.2 (a rule on the LB's group)
    "app-rdp": {"sg-no-world-ingress"},  # FSBP EC2.14 / CIS 5.3 (after an unknown-id rule)
    "default-sg": {"default-sg-closed"},  # FSBP EC2.2 / CIS 5.4
    "vpc": {"vpc-flow-logs"},  # FSBP EC2.6 / CIS 3.7
    "public-db": {
        "rds-not-public",  # FSBP RDS.2 / CIS 2.3.3
        "rds-encrypted",  # FSBP RDS.3 / CIS 2.3.1
        "rds-backups",  # FSBP RDS.11
        "rds-deletion-protection",  # FSBP RDS.8
        "rds-tls-in-transit",  # PCI 4.2.1 (its auto-named group lacks rds.force_ssl)
        "rds-auto-minor-upgrade",  # FSBP RDS.13 / CIS 2.3.2
    },
    "mutable-repo": {"ecr-tag-immutability", "ecr-image-scanning"},  # FSBP ECR.2, ECR.1
    "weak-pool": {"cognito-mfa", "cognito-password-policy", "cognito-threat-protection"},
    "plain-secret": {"secrets-cmk"},  # custom
    "plain-queue": {"sqs-encrypted"},  # FSBP SQS.1
    "plain-topic": {"sns-encrypted"},  # FSBP SNS.1
    "admin-policy": {"iam-no-full-admin", "iam-no-wildcard-actions"},  # custom (dict document)
    "static-key": {"kms-rotation"},  # FSBP KMS.4 / CIS 3.6
    "trail": {"cloudtrail-multi-region-validation", "cloudtrail-encrypted"},  # CloudTrail.1/.2
    "plain-logs": {"log-group-encrypted"},  # PCI 10.3
}

#: resource name → policies that must not report it (its compliant configuration), both modes.
CLEAN: dict[str, set[str]] = {
    "good-bucket": {
        "s3-bucket-public-access-block",
        "s3-tls-only",
        "s3-kms-encryption",
        "s3-versioning",
        "s3-access-logging",
        "s3-policy-no-public-principal",
    },
    "log-bucket": {"s3-kms-encryption", "s3-access-logging"},  # SSE-S3 log target
    "lb-https": {"sg-no-world-ingress"},
    "tls-db": {"rds-tls-in-transit", "rds-not-public", "rds-encrypted"},
    "repo": {"ecr-tag-immutability", "ecr-image-scanning"},
    "pool": {"cognito-mfa", "cognito-password-policy"},
    "secret": {"secrets-cmk"},
    "queue": {"sqs-encrypted"},
    "key": {"kms-rotation"},
}


def _bucket_policy(name: str, bucket: aws.s3.Bucket) -> None:
    """The TLS-only policy built from `bucket.arn`: unknown on a first preview."""
    aws.s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.id,
        policy=bucket.arn.apply(
            lambda arn: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyPlainHttp",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [arn, f"{arn}/*"],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            )
        ),
    )


def _storage() -> None:
    key = aws.kms.Key("key", enable_key_rotation=True, tags=TAGS)
    aws.kms.Key("static-key", tags=TAGS)
    logs = aws.s3.Bucket("log-bucket", tags=TAGS)
    aws.s3.BucketServerSideEncryptionConfiguration(
        "log-bucket-sse",
        bucket=logs.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
    )
    _bucket_policy("log-bucket", logs)
    good = aws.s3.Bucket("good-bucket", tags=TAGS)
    aws.s3.BucketPublicAccessBlock(
        "good-bucket-block",
        bucket=good.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        "good-bucket-sse",
        bucket=good.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": key.arn,
                }
            }
        ],
    )
    aws.s3.BucketVersioning(
        "good-bucket-versioning", bucket=good.id, versioning_configuration={"status": "Enabled"}
    )
    aws.s3.BucketLogging(
        "good-bucket-logging", bucket=good.id, target_bucket=logs.id, target_prefix="good/"
    )
    _bucket_policy("good-bucket", good)
    aws.s3.Bucket(
        "open-bucket",
        tags=TAGS,
        server_side_encryption_configuration={
            "rule": {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}
        },
    )
    aws.s3.Bucket("public-acl-bucket", acl="public-read", tags=TAGS)
    aws.s3.BucketPolicy(
        "public-policy",
        bucket="some-bucket",
        policy={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::some-bucket/*",
                }
            ],
        },
    )


def _network() -> None:
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags=TAGS)
    aws.ec2.DefaultSecurityGroup(
        "default-sg",
        vpc_id=vpc.id,
        ingress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "self": True}],
    )
    lb = aws.ec2.SecurityGroup("lb", vpc_id=vpc.id, tags={**TAGS, "purpose": "load-balancer"})
    app = aws.ec2.SecurityGroup("app", vpc_id=vpc.id, tags=TAGS)
    world = {"ip_protocol": "tcp", "cidr_ipv4": "0.0.0.0/0"}
    aws.vpc.SecurityGroupIngressRule(
        "lb-https", security_group_id=lb.id, from_port=443, to_port=443, **world
    )
    aws.vpc.SecurityGroupIngressRule(
        "lb-ssh", security_group_id=lb.id, from_port=22, to_port=22, **world
    )
    aws.vpc.SecurityGroupIngressRule(
        "app-rdp", security_group_id=app.id, from_port=3389, to_port=3389, **world
    )


def _databases() -> None:
    weak = aws.rds.ParameterGroup("weak-params", family="postgres17", tags=TAGS)
    strict = aws.rds.ParameterGroup(
        "strict-params",
        family="postgres17",
        parameters=[{"name": "rds.force_ssl", "value": "1"}],
        tags=TAGS,
    )
    common = {"engine": "postgres", "instance_class": "db.t4g.micro", "allocated_storage": 20}
    aws.rds.Instance(
        "public-db",
        publicly_accessible=True,
        storage_encrypted=False,
        backup_retention_period=0,
        auto_minor_version_upgrade=False,
        parameter_group_name=weak.name,
        tags=TAGS,
        **common,
    )
    aws.rds.Instance(
        "tls-db",
        storage_encrypted=True,
        kms_key_id=KEY_ARN,
        parameter_group_name=strict.name,
        tags=TAGS,
        **common,
    )


def _identity_and_apps() -> None:
    aws.ecr.Repository("mutable-repo", tags=TAGS)
    aws.ecr.Repository(
        "repo",
        image_tag_mutability="IMMUTABLE",
        image_scanning_configuration={"scan_on_push": True},
        tags=TAGS,
    )
    aws.cognito.UserPool("weak-pool", password_policy={"minimum_length": 6}, tags=TAGS)
    aws.cognito.UserPool(
        "pool",
        mfa_configuration="ON",
        software_token_mfa_configuration={"enabled": True},
        password_policy={
            "minimum_length": 14,
            "require_lowercase": True,
            "require_uppercase": True,
            "require_numbers": True,
            "require_symbols": True,
            "temporary_password_validity_days": 3,
        },
        tags=TAGS,
    )
    key = aws.kms.Key("secrets-key", enable_key_rotation=True, tags=TAGS)
    aws.secretsmanager.Secret("plain-secret", tags=TAGS)
    aws.secretsmanager.Secret("secret", kms_key_id=key.arn, tags=TAGS)
    aws.sqs.Queue("plain-queue", sqs_managed_sse_enabled=False, tags=TAGS)
    aws.sqs.Queue("queue", kms_master_key_id=key.arn, tags=TAGS)
    aws.sns.Topic("plain-topic", tags=TAGS)
    aws.iam.Policy(
        "admin-policy",
        policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        },
        tags=TAGS,
    )
    aws.cloudtrail.Trail("trail", s3_bucket_name="trail-bucket", tags=TAGS)
    aws.cloudwatch.LogGroup("plain-logs", retention_in_days=400, tags=TAGS)


def program() -> None:
    """Every planted resource, in an order that puts unknown companions first."""
    _storage()
    _network()
    _databases()
    _identity_and_apps()
    pulumi.export("planted", len(EXPECTED))
