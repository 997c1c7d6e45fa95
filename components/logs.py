"""CloudWatch log groups with retention and KMS encryption, shared by every component.

Every group is encrypted with a customer-managed key (PCI 10.3, policy `log-group-encrypted`):
the key passed in (the stack's logs key), or else a key of the owning component's own, made on
first use and shared by its groups, whose policy admits CloudWatch Logs of the stack's region.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from soundstack.components.base import Component
from soundstack.components.kms import EncryptionKey, EncryptionKeyArgs

#: Retention periods CloudWatch Logs accepts.
VALID_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                        1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip


def own_logs_key(owner: Component) -> pulumi.Output[str]:
    """ARN of `owner`'s own key for its log groups (one per component, made on first use)."""
    key: EncryptionKey | None = getattr(owner, "_own_logs_key", None)
    if key is None:
        ctx = owner.ctx
        key = EncryptionKey(
            owner.child_name("logs-key"),
            EncryptionKeyArgs(
                description=f"CloudWatch Logs of {owner.logical_name} ({ctx.project}-{ctx.stack})",
                service_principals=[f"logs.{ctx.region}.amazonaws.com"],
            ),
            ctx,
            opts=owner.child_opts(),
        )
        owner._own_logs_key = key  # type: ignore[attr-defined]
    return key.arn


def log_group(
    owner: Component,
    role: str,
    retention_days: int,
    kms_key_arn: pulumi.Input[str] | None = None,
    name: pulumi.Input[str] | None = None,
    arg: str = "log_retention_days",
) -> aws.cloudwatch.LogGroup:
    """A log group under `owner`, named `/<project>/<stack>/<owner>/<role>` unless `name` is set,
    kept `retention_days` (the value of argument `arg`, named in errors), encrypted with
    `kms_key_arn` (a key whose policy admits CloudWatch Logs) or, when None, `owner`'s own key."""
    if retention_days not in VALID_RETENTION_DAYS:
        raise ValueError(
            f"{arg}={retention_days} ({owner.logical_name}) is not a retention CloudWatch Logs "
            f"accepts; use one of {VALID_RETENTION_DAYS}"
        )
    ctx = owner.ctx
    return aws.cloudwatch.LogGroup(
        owner.child_name(f"{role}-logs"),
        name=name or f"/{ctx.project}/{ctx.stack}/{owner.logical_name}/{role}",
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn if kms_key_arn is not None else own_logs_key(owner),
        tags=owner.tags(),
        opts=owner.child_opts(),
    )
