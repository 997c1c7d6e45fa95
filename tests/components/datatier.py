"""Helpers shared by the data-tier tests (database, graph, cache, search, messaging)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi

from soundstack.components.base import Component, StackContext
from soundstack.components.iam import ServiceRole, ServiceRoleArgs
from soundstack.components.network import Network, NetworkArgs
from soundstack.synth import Resource, Synthesis
from tests.conftest import make_ctx, run_program

DATA_KEY = "arn:aws:kms:eu-west-1:123456789012:key/data"
LOGS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/logs"


class Client(Component):
    """Something that runs in the VPC (stands in for a function or pod)."""

    TYPE = "soundstack:tests:Client"


@dataclass
class Estate:
    """What a small test program builds: a network and two VPC clients, only one granted."""

    ctx: StackContext
    network: Network
    granted: ServiceRole
    bystander: ServiceRole
    outside: ServiceRole  # a role without a security group (runs outside the VPC)


def estate(environment: str = "prod") -> Estate:
    ctx = make_ctx(environment, stack="test")
    net = Network("net", NetworkArgs(az_count=3), ctx)
    roles = []
    for who in ("granted", "bystander"):
        client = Client(f"{who}-client", ctx)
        sg = net.security_group(client, "app", f"{who} client")
        roles.append(
            ServiceRole(
                who,
                ServiceRoleArgs(services=["lambda.amazonaws.com"], security_group_id=sg.id),
                ctx,
            )
        )
    outside = ServiceRole("outside", ServiceRoleArgs(services=["lambda.amazonaws.com"]), ctx)
    return Estate(ctx, net, roles[0], roles[1], outside)


def run(build: Callable[[Estate], None], environment: str = "prod") -> tuple[Synthesis, Estate]:
    """Run `build` on a fresh estate under mocks; return the synthesis and the estate."""
    box: list[Estate] = []

    def program() -> None:
        e = estate(environment)
        box.append(e)
        build(e)
        pulumi.export("done", True)

    synth = run_program(program)
    assert not synth.errors, synth.errors
    return synth, box[0]


def policies(synth: Synthesis, role: str) -> dict[str, dict[str, Any]]:
    """Statements granted to ServiceRole `role`, by Sid."""
    found = {}
    for p in synth.by_type("aws:iam/rolePolicy:RolePolicy"):
        if p.name.startswith(f"{role}-"):
            for statement in json.loads(p.inputs["policy"])["Statement"]:
                found[statement["Sid"]] = statement
    return found


def by_name(synth: Synthesis, type_token: str) -> dict[str, Resource]:
    return {r.name: r for r in synth.by_type(type_token)}


def ingress_into(synth: Synthesis, sg: Resource) -> list[Resource]:
    """Ingress rules whose target is security group `sg`."""
    return [
        r
        for r in synth.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.property_dependencies.get("securityGroupId") == [sg.urn]
    ]


def sources(rule: Resource) -> list[str]:
    """URNs of the security groups a rule admits."""
    return rule.property_dependencies.get("referencedSecurityGroupId", [])


def sg_of(synth: Synthesis, name: str) -> Resource:
    return by_name(synth, "aws:ec2/securityGroup:SecurityGroup")[name]


def under(synth: Synthesis, component: str) -> list[Resource]:
    """Every resource inside the component named `component`."""
    by_urn = {r.urn: r for r in synth.resources}
    found = []
    for r in synth.resources:
        node = r
        while node.parent and node.parent in by_urn:
            node = by_urn[node.parent]
            if node.name == component:
                found.append(r)
                break
    return found


def assert_no_secret_inputs(resources: list[Resource]) -> None:
    """No password, token or secret value appears among the inputs."""
    forbidden = ("password", "authToken", "masterPassword", "passwords", "secretString")
    for r in resources:
        blob = json.dumps(r.inputs)
        for key in forbidden:
            assert f'"{key}"' not in blob, f"{r.urn} has a {key} input"
