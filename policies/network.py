"""VPC and security groups.

A load balancer's security group is recognised by the tag `purpose: load-balancer` on the
`aws:ec2/securityGroup:SecurityGroup` itself; only such a group may admit 0.0.0.0/0 (or ::/0),
and only on TCP 80 and 443. Rules may be inline (`ingress`) or split
(`SecurityGroupRule` of type ingress, `vpc.SecurityGroupIngressRule`), whose group is found
through their `securityGroupId` (by property dependency on a first preview, where the group's
id is unknown). Each group and rule is judged on its own, so an unknown value hides nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from .core import (
    Settings,
    Spec,
    as_strings,
    get,
    items,
    judging,
    known,
    linked,
    of_type,
    resource_policy,
    stack_policy,
    tags_of,
)

POLICIES: list[Spec] = []

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
WORLD = ("0.0.0.0/0", "::/0")
LB_PURPOSE = "load-balancer"
LB_PORTS = (80, 443)


def _is_load_balancer(group: PolicyResource | None) -> bool:
    return group is not None and tags_of(group.props).get("purpose") == LB_PURPOSE


def _world_rule_problem(rule: Mapping, sources: Sequence[str], lb: bool) -> str | None:
    """Why an ingress rule open to `sources` is not allowed, or None when it is."""
    if not set(sources) & set(WORLD):
        return None
    protocol = str(get(rule, "protocol", default=get(rule, "ipProtocol", default="-1")))
    low, high = get(rule, "fromPort", default=0), get(rule, "toPort", default=65535)
    if lb and protocol in ("tcp", "6") and low == high and low in LB_PORTS:
        return None
    where = "a load balancer" if lb else "a group not tagged purpose=load-balancer"
    return (
        f"{protocol} {low}-{high} open to {sorted(set(sources) & set(WORLD))} on {where}; "
        "admit a security group (allow_from) or, on a load balancer, TCP 80/443 only"
    )


@stack_policy(
    POLICIES,
    "sg-no-world-ingress",
    "No security group admits 0.0.0.0/0 or ::/0, except TCP 80/443 on a load balancer's group "
    "(tag purpose=load-balancer).",
    ["FSBP EC2.13", "FSBP EC2.14", "CIS 5.2", "CIS 5.3", "PCI 1.3"],
    [SECURITY_GROUP, SG_RULE, INGRESS_RULE],
)
def _world(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    groups = list(of_type(args.resources, SECURITY_GROUP))
    for group in groups:
        with judging(group, report):
            for rule in items(get(group.props, "ingress")):
                sources = as_strings(get(rule, "cidrBlocks")) + as_strings(
                    get(rule, "ipv6CidrBlocks")
                )
                problem = _world_rule_problem(rule, sources, _is_load_balancer(group))
                if problem:
                    report(f"{group.name}: {problem}", group.urn)

    def owner(rule: PolicyResource) -> PolicyResource | None:
        return next((g for g in groups if linked(rule, "securityGroupId", g, "id")), None)

    split = [
        (rule, ("cidrBlocks", "ipv6CidrBlocks"))
        for rule in of_type(args.resources, SG_RULE)
        if known(rule.props, "type") == "ingress"
    ]
    split += [(rule, ("cidrIpv4", "cidrIpv6")) for rule in of_type(args.resources, INGRESS_RULE)]
    for rule, keys in split:
        with judging(rule, report):
            sources = [s for key in keys for s in as_strings(get(rule.props, key))]
            problem = _world_rule_problem(rule.props, sources, _is_load_balancer(owner(rule)))
            if problem:
                report(f"{rule.name}: {problem}", rule.urn)


@resource_policy(
    POLICIES,
    "default-sg-closed",
    "The VPC's default security group has no ingress and no egress rules.",
    ["FSBP EC2.2", "CIS 5.4"],
    [DEFAULT_SG],
)
def _default_sg(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    for direction in ("ingress", "egress"):
        if items(get(args.props, direction)):
            report(f"the default security group has {direction} rules; leave it empty", None)


@stack_policy(
    POLICIES,
    "vpc-flow-logs",
    "Every VPC records flow logs.",
    ["FSBP EC2.6", "CIS 3.7", "PCI 10.2.1"],
    [VPC, FLOW_LOG],
)
def _flow_logs(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    logs = list(of_type(args.resources, FLOW_LOG))
    for vpc in of_type(args.resources, VPC):
        if not any(linked(f, "vpcId", vpc, "id") for f in logs):
            report(f"VPC {vpc.name} has no flow log", vpc.urn)
