"""Every policy of the pack, in one list: what `__main__.py` serves and the offline engine runs."""

from __future__ import annotations

from pulumi_policy import Policy

from . import (
    alerting,
    api,
    api_exposure,
    audit,
    cloudfront,
    compute,
    databases,
    deploy,
    deploy_lambda,
    deploy_limits,
    governance,
    iam,
    identity,
    licensing,
    messaging,
    network,
    resilience,
    s3,
    stack,
)
from .core import Spec

PACK_NAME = "soundstack"
MODULES = (
    s3,
    cloudfront,
    databases,
    compute,
    api,
    api_exposure,
    identity,
    messaging,
    iam,
    network,
    audit,
    governance,
    stack,
    deploy_lambda,
    deploy_limits,
    deploy,
    resilience,
    licensing,
    alerting,
)


def specs() -> list[Spec]:
    """All policy specs, module by module."""
    return [spec for module in MODULES for spec in module.POLICIES]


def policies() -> list[Policy]:
    """The pulumi-policy objects of the pack (building them starts nothing)."""
    return [spec.build() for spec in specs()]
