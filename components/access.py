"""Shared wiring behind the data stores' `grant_*` / `allow_from` verbs.

A verb names a grantee's IAM statement after the store and the purpose (`ConnectDatabase`,
`SendMessagingPlays`), and opens the store's security group to the grantee's security group
on the store's port only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pulumi

from soundstack.components.base import Component
from soundstack.components.iam import Grantee
from soundstack.components.network import allow_from

#: Actions that let a grantee use a KMS key to write data another service encrypts with it.
KMS_ENCRYPT = ("kms:Decrypt", "kms:GenerateDataKey")
#: Actions that let a grantee read data encrypted with a KMS key.
KMS_DECRYPT = ("kms:Decrypt",)


def grantee_name(grantee: Grantee) -> str:
    """The grantee's logical name (every SoundStack grantee is a component)."""
    if not isinstance(grantee, Component):
        raise TypeError(
            f"{grantee!r} is not a SoundStack component; "
            "wrap it in a ServiceRole to grant it access"
        )
    return grantee.logical_name


def sid(*words: str) -> str:
    """An IAM statement id from words: `sid("Send", "messaging-plays")` → `SendMessagingPlays`."""
    return "".join(part.capitalize() for w in words for part in re.split(r"[^A-Za-z0-9]+", w))


def grant(
    grantee: Grantee,
    statement_id: str,
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
) -> None:
    """Give `grantee` exactly `actions` on `resources` under `statement_id`."""
    grantee.grant(statement_id, list(actions), list(resources))


def open_port(
    owner: Component,
    target_sg_id: pulumi.Input[str],
    grantee: Grantee,
    port: int,
    what: str,
    admitted: set[str],
) -> None:
    """Admit TCP `port` on `owner`'s security group from the grantee's security group only.

    `admitted` is the owner's record of grantees already let in, so granting one grantee two
    verbs adds one rule."""
    name = grantee_name(grantee)
    if f"{name}:{port}" in admitted:
        return
    admitted.add(f"{name}:{port}")
    if grantee.security_group_id is None:
        raise ValueError(
            f"{name} has no security group, so it cannot reach {owner.logical_name} inside the "
            f"VPC; give it one (ServiceRoleArgs.security_group_id) before granting access"
        )
    allow_from(
        owner,
        f"from-{name}-{port}",
        target_sg_id,
        grantee.security_group_id,
        port,
        f"{name} to {what} on {port}",
    )
