"""Secrets Manager entries for third-party API credentials (the payment providers' keys).

The program creates the empty, KMS-encrypted secrets and who may read them; the values never
pass through Pulumi or a stack file (PCI DSS 8.6.2): an operator stores them once with
`aws secretsmanager put-secret-value --secret-id <arn> --secret-string '{...}'` and rolls
them the same way when the provider rotates a key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from soundstack.components.base import Component, StackContext
from soundstack.components.iam import Grantee


@dataclass
class ProviderSecretsArgs:
    """One secret per provider, encrypted with `kms_key_arn`."""

    providers: Sequence[str]
    kms_key_arn: pulumi.Input[str]
    #: Days a deleted secret can still be restored (7 to 30).
    recovery_window_days: int = 30

    def __post_init__(self) -> None:
        for provider in self.providers:
            if not re.fullmatch(r"[a-z][a-z0-9-]*", provider):
                raise ValueError(f"provider {provider!r}: use lower-case letters, e.g. 'stripe'")
        if not 7 <= self.recovery_window_days <= 30:
            raise ValueError("recovery_window_days: Secrets Manager allows 7 to 30")


class ProviderSecrets(Component):
    """Empty secrets for provider credentials, readable only by what `grant_read` names."""

    TYPE = "soundstack:provider_secrets:ProviderSecrets"

    def __init__(
        self,
        name: str,
        args: ProviderSecretsArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.kms_key_arn = args.kms_key_arn
        self.secrets = {
            provider: aws.secretsmanager.Secret(
                self.child_name(provider),
                name=self.physical_name(provider, "secret"),
                description=f"{provider} API credentials (set with put-secret-value)",
                kms_key_id=args.kms_key_arn,
                recovery_window_in_days=args.recovery_window_days,
                tags=self.tags({"provider": provider}),
                opts=self.child_opts(),
            )
            for provider in args.providers
        }
        self.arns: dict[str, pulumi.Output[str]] = {p: s.arn for p, s in self.secrets.items()}
        self.register_outputs({"arns": self.arns})

    def grant_read(self, grantee: Grantee, providers: Sequence[str] | None = None) -> None:
        """Let `grantee` read the secrets of `providers` (default: all)."""
        wanted = list(providers) if providers is not None else list(self.secrets)
        unknown = sorted(set(wanted) - set(self.secrets))
        if unknown:
            raise ValueError(f"{self.logical_name} has no secrets for {unknown}")
        suffix = "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]", self.logical_name))
        grantee.grant(
            f"Read{suffix}",
            ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            [self.arns[p] for p in wanted],
        )
        grantee.grant(
            f"Decrypt{suffix}",
            ["kms:Decrypt"],
            [self.kms_key_arn],
            {"StringEquals": {"kms:ViaService": f"secretsmanager.{self.ctx.region}.amazonaws.com"}},
        )
