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
    "log_delivery": 60,  # CloudWatch Logs delivery sources and destinations: [\w-]{1,60}
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
#: Secrets Manager CreateSecret, Name: "Do not end your secret name with a hyphen followed by
#: six characters." (Secrets Manager appends `-` and six random characters to a secret's ARN.)
_SECRET_ARN_SUFFIX = re.compile(r"-([^-]{6})$")


def physical_name(project: str, stack: str, role: str, kind: str = "default") -> str:
    """Return a lower-case `<project>-<stack>-<role>` name that fits the limit of `kind`."""
    if kind not in LIMITS:
        raise KeyError(f"unknown resource kind {kind!r}; known kinds: {', '.join(sorted(LIMITS))}")
    full = _INVALID.sub("-", f"{project}-{stack}-{role}".lower()).strip("-")
    full = re.sub(r"-{2,}", "-", full)
    limit = LIMITS[kind]
    if len(full) > limit:
        digest = hashlib.sha256(full.encode()).hexdigest()[:_HASH_LEN]
        full = f"{full[: limit - _HASH_LEN - 1].rstrip('-')}-{digest}"
    if kind == "secret":
        # `<project>-<stack>-payment/stripe`, not `…-payment-stripe`.
        full = _SECRET_ARN_SUFFIX.sub(r"/\1", full)
    return full


#: RDS CreateDBInstance `MasterUsername`: "Must be 1 to 16 letters, numbers, or underscores. First
#: character must be a letter." The tightest of the engines here (Redshift's admin user: "Must
#: contain only lowercase letters, numbers, underscore, ... The first character must be a
#: letter", up to 128).
ADMIN_USERNAME_LIMIT = 16
#: RDS `DBName` (PostgreSQL): "Must contain 1 to 63 letters, numbers, or underscores. Must begin
#: with a letter."
DATABASE_NAME_LIMIT = 63
#: Kubernetes names (namespaces, label values): a DNS-1123 label, "at most 63 characters,
#: contain only lowercase alphanumeric characters or '-', start and end with an alphanumeric".
DNS_LABEL_LIMIT = 63


def _sql_word(text: str) -> str:
    word = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return word if word[:1].isalpha() else f"db_{word}".rstrip("_")


def admin_username(project: str) -> str:
    """The databases' master user: `<project>_admin` in lower-case letters, digits and
    underscores, starting with a letter, cut to 16 characters (`ADMIN_USERNAME_LIMIT`)."""
    suffix = "_admin"
    return f"{_sql_word(project)[: ADMIN_USERNAME_LIMIT - len(suffix)].rstrip('_')}{suffix}"


def database_name(project: str) -> str:
    """The project's database inside PostgreSQL: `acme-infra` → `acme_infra` (≤ 63 characters,
    starting with a letter)."""
    return _sql_word(project)[:DATABASE_NAME_LIMIT].rstrip("_")


def dns_label(project: str) -> str:
    """The project as a Kubernetes namespace, label value and label-key prefix: lower-case
    letters, digits and hyphens, alphanumeric at both ends, ≤ 63 characters."""
    label = re.sub(r"[^a-z0-9]+", "-", project.lower()).strip("-")[:DNS_LABEL_LIMIT].strip("-")
    return label or "app"
