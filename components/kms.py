"""Customer-managed KMS keys with rotation and a key policy scoped to named AWS services."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from soundstack.components import lookups
from soundstack.components.base import Component, StackContext


@dataclass
class EncryptionKeyArgs:
    """What the key protects. Rotation is always on; deletion waits 30 days in prod, 7 otherwise."""

    description: str
    #: Service principals (e.g. `logs.eu-west-1.amazonaws.com`) allowed to use the key.
    service_principals: Sequence[str] = field(default_factory=list)
    #: Extra key-policy statements for services whose grant is bound to one resource (e.g.
    #: CloudTrail's, conditioned on the trail ARN); plain JSON values only.
    extra_statements: Sequence[Mapping[str, Any]] = field(default_factory=list)
    #: Region of the key (e.g. us-east-1 for what CloudFront's metrics reach); None: the stack's.
    region: str | None = None


class EncryptionKey(Component):
    """A symmetric KMS key plus alias `alias/<project>-<stack>-<name>`."""

    TYPE = "soundstack:kms:EncryptionKey"

    def __init__(
        self,
        name: str,
        args: EncryptionKeyArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        account = lookups.account_id()
        part = lookups.partition()
        statements: list[dict[str, object]] = [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{part}:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
        logs = sorted(p for p in args.service_principals if p.startswith("logs."))
        others = sorted(p for p in args.service_principals if not p.startswith("logs."))
        use = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
               "kms:DescribeKey"]  # fmt: skip
        if logs:
            # CloudWatch Logs sends no aws:SourceAccount; it binds the log group ARN instead.
            statements.append(
                {
                    "Sid": "CloudWatchLogsUseKey",
                    "Effect": "Allow",
                    "Principal": {"Service": logs},
                    "Action": use,
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:{part}:logs:{args.region or ctx.region}:{account}:*"
                            )
                        }
                    },
                }
            )
        if others:
            statements.append(
                {
                    "Sid": "ServicesUseKey",
                    "Effect": "Allow",
                    "Principal": {"Service": others},
                    "Action": use,
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                }
            )
        statements.extend(dict(s) for s in args.extra_statements)
        self.key = aws.kms.Key(
            self.child_name("key"),
            description=args.description,
            enable_key_rotation=True,
            deletion_window_in_days=30 if ctx.is_prod else 7,
            policy=json.dumps({"Version": "2012-10-17", "Statement": statements}),
            region=args.region,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self.alias = aws.kms.Alias(
            self.child_name("alias"),
            name=f"alias/{self.physical_name('', 'kms_alias')}",
            target_key_id=self.key.key_id,
            region=args.region,
            opts=self.child_opts(),
        )
        self.arn: pulumi.Output[str] = self.key.arn
        self.register_outputs({"arn": self.arn})
