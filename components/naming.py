"""Physical names for AWS resources: `<project>-<stack>-<role>`, cut to each service's limit.

A name that is too long keeps its readable prefix and ends in a stable 8-character hash of the
full name, so two long roles never collide and the same inputs always give the same name.
"""

from __future__ import annotations

import hashlib
import re

# Longest name each kind of resource accepts (AWS service quotas / API validation).
LIMITS: dict[str, int] = {
    "default": 63,
    "s3_bucket": 63,
    "iam_role": 64,
    "iam_policy": 128,
    "lambda": 64,
    "log_group": 512,
    "rds": 63,
    "neptune": 63,
    "elasticache": 40,
    "opensearch": 28,
    "aoss": 32,  # OpenSearch Serverless collections, security/access policies, VPC endpoints
    "redshift": 63,
    "alb": 32,
    "target_group": 32,
    "sqs": 80,
    "sns": 256,
    "kinesis": 128,
    "firehose": 64,
    "eks": 100,
    "helm_release": 53,
    "ecr": 256,
    "waf": 128,
    "cognito_domain": 63,
    "cloudfront": 64,
    "security_group": 255,
    "secret": 512,
    "kms_alias": 256,
    "cloudtrail": 128,
    "codebuild": 150,
    "codepipeline": 100,
    "alarm": 255,
    "backup": 50,  # backup vaults, plans and selections
    "dashboard": 255,
    "glue": 255,
    "quicksight": 512,
    "sfn": 80,  # Step Functions state machine
    "scheduler": 64,  # EventBridge Scheduler schedule
    "event_rule": 64,  # EventBridge rule
}

_HASH_LEN = 8
_INVALID = re.compile(r"[^a-z0-9-]+")


def physical_name(project: str, stack: str, role: str, kind: str = "default") -> str:
    """Return a lower-case `<project>-<stack>-<role>` name that fits the limit of `kind`."""
    if kind not in LIMITS:
        raise KeyError(f"unknown resource kind {kind!r}; known kinds: {', '.join(sorted(LIMITS))}")
    full = _INVALID.sub("-", f"{project}-{stack}-{role}".lower()).strip("-")
    full = re.sub(r"-{2,}", "-", full)
    limit = LIMITS[kind]
    if len(full) <= limit:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:_HASH_LEN]
    return f"{full[: limit - _HASH_LEN - 1].rstrip('-')}-{digest}"
