"""Whole-stack policies: an audit trail exists, internet-facing endpoints are protected in prod,
and stack outputs carry no secret values.

The stack's environment is the `environment` tag its resources carry. Stack outputs are the
props of the `pulumi:pulumi:Stack` resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from .compute import SECRET_NAME, SECRET_VALUE
from .core import (
    ENVIRONMENTS_PROPERTY,
    Settings,
    Spec,
    get,
    is_list,
    judging,
    linked,
    of_type,
    present,
    stack_environment,
    stack_policy,
    truthy,
)

POLICIES: list[Spec] = []

TRAIL = "aws:cloudtrail/trail:Trail"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
PROTECTION = "aws:shield/protection:Protection"
STACK = "pulumi:pulumi:Stack"
#: What a stack output may hold under a secret-sounding name: a reference, not the secret.
_REFERENCE_PREFIXES = ("arn:", "https://", "http://", "[secret]")


@stack_policy(
    POLICIES,
    "stack-audit-trail",
    "The stack defines a multi-region CloudTrail trail.",
    ["FSBP CloudTrail.1", "CIS 3.1", "PCI 10.2.1"],
    [TRAIL],
    config={"environments": {**ENVIRONMENTS_PROPERTY, "default": ["dev", "staging", "prod"]}},
)
def _trail(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    environment = stack_environment(args.resources)
    if environment is not None and environment not in cfg["environments"]:
        return
    if not any(truthy(get(t.props, "isMultiRegionTrail")) for t in of_type(args.resources, TRAIL)):
        report("no multi-region CloudTrail trail in the stack; add the monitoring component", None)


def _protected(resource: PolicyResource, protections: list[PolicyResource]) -> bool:
    return any(linked(p, "resourceArn", resource, "arn") for p in protections)


@stack_policy(
    POLICIES,
    "stack-edge-protection",
    "In prod, every internet-facing endpoint is behind WAF and Shield Advanced: CloudFront "
    "distributions have a web ACL and a Shield protection, internet-facing load balancers a "
    "web ACL association and a Shield protection (HTTP APIs: see apigw-waf).",
    ["custom", "FSBP CloudFront.6", "PCI 6.4.2"],
    [DISTRIBUTION, *LOAD_BALANCERS, WEB_ACL_ASSOCIATION, PROTECTION],
    config={"environments": ENVIRONMENTS_PROPERTY},
)
def _edge(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    environment = stack_environment(args.resources)
    if environment is not None and environment not in cfg["environments"]:
        return
    protections = list(of_type(args.resources, PROTECTION))
    associations = list(of_type(args.resources, WEB_ACL_ASSOCIATION))
    for dist in of_type(args.resources, DISTRIBUTION):
        with judging(dist, report):
            if not present(dist.props, "webAclId"):
                report(f"distribution {dist.name} has no web ACL", dist.urn)
            if not _protected(dist, protections):
                report(f"distribution {dist.name} has no Shield Advanced protection", dist.urn)
    for lb in of_type(args.resources, *LOAD_BALANCERS):
        with judging(lb, report):
            if truthy(get(lb.props, "internal")):
                continue
            if get(
                lb.props, "loadBalancerType", default="application"
            ) == "application" and not any(
                linked(a, "resourceArn", lb, "arn") for a in associations
            ):
                report(f"load balancer {lb.name} has no WebAclAssociation", lb.urn)
            if not _protected(lb, protections):
                report(f"load balancer {lb.name} has no Shield Advanced protection", lb.urn)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if hasattr(value, "keys"):
        for key in value:
            yield from _leaves(value[key], f"{path}.{key}" if path else str(key))
    elif is_list(value):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, value


@stack_policy(
    POLICIES,
    "stack-no-secret-outputs",
    "No plain stack output holds a secret: nothing shaped like a provider key, access key or "
    "private key, and outputs with secret-sounding names hold references (ARNs, URLs) only.",
    ["PCI 8.6.2", "custom"],
    [STACK],
)
def _outputs(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    for stack in of_type(args.resources, STACK):
        for path, value in _leaves(stack.props, ""):
            if not isinstance(value, str) or not value:
                continue
            if SECRET_VALUE.search(value):
                report(f"output {path} holds a secret value; export its ARN instead", stack.urn)
            elif SECRET_NAME.search(path) and not value.startswith(_REFERENCE_PREFIXES):
                report(
                    f"output {path} looks like a secret in plain text; export a Secrets "
                    "Manager ARN or mark it with pulumi.Output.secret",
                    stack.urn,
                )
