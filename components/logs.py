"""CloudWatch log groups with retention and KMS encryption, shared by every component."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from soundstack.components.base import Component

#: Retention periods CloudWatch Logs accepts.
VALID_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                        1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip


def log_group(
    owner: Component,
    role: str,
    retention_days: int,
    kms_key_arn: pulumi.Input[str] | None = None,
    name: pulumi.Input[str] | None = None,
) -> aws.cloudwatch.LogGroup:
    """A log group under `owner`, named `/<project>/<stack>/<owner>/<role>` unless `name` is set."""
    if retention_days not in VALID_RETENTION_DAYS:
        raise ValueError(
            f"log retention {retention_days} days is not one CloudWatch accepts; "
            f"use one of {VALID_RETENTION_DAYS}"
        )
    ctx = owner.ctx
    return aws.cloudwatch.LogGroup(
        owner.child_name(f"{role}-logs"),
        name=name or f"/{ctx.project}/{ctx.stack}/{owner.logical_name}/{role}",
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn,
        tags=owner.tags(),
        opts=owner.child_opts(),
    )
