"""The network's real properties, per stack, as the platform program registers them."""

from __future__ import annotations

import json

import pulumi
import pytest

from soundstack.components.base import Component
from soundstack.components.network import Network, NetworkArgs, allow_from, subnet_cidrs
from tests.conftest import make_ctx, run_program


def tiers(synth):
    subnets = synth.by_type("aws:ec2/subnet:Subnet")
    return {t: [s for s in subnets if s.inputs["tags"]["tier"] == t]
            for t in ("public", "private", "isolated")}  # fmt: skip


@pytest.mark.parametrize(
    ("stack", "azs", "nats"), [("dev", 2, 1), ("staging", 2, 2), ("prod", 3, 3)]
)
def test_subnets_per_tier_and_az_and_nat_count(request, stack, azs, nats):
    synth = request.getfixturevalue(stack)
    by_tier = tiers(synth)
    for tier, subnets in by_tier.items():
        # dev and staging add a third private subnet (network.min_private_azs: 3).
        zones = 3 if tier == "private" else azs
        assert len(subnets) == zones
        assert len({s.inputs["availabilityZone"] for s in subnets}) == zones
        assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    nat_gateways = synth.by_type("aws:ec2/natGateway:NatGateway")
    assert len(nat_gateways) == nats
    public_ids = {s.urn.rsplit("::", 1)[1] for s in by_tier["public"]}
    assert all(n.dependencies for n in nat_gateways)
    assert {
        n.property_dependencies["subnetId"][0].rsplit("::", 1)[1] for n in nat_gateways
    } <= public_ids


def test_subnet_blocks_do_not_overlap():
    blocks = subnet_cidrs("10.30.0.0/16", 3)
    flat = [b for tier in blocks.values() for b in tier]
    assert len(set(flat)) == 9
    assert blocks["public"][0] == "10.30.0.0/20" and blocks["isolated"][2] == "10.30.160.0/20"


def _routes_by_table(synth):
    routes: dict[str, list[dict]] = {}
    tables = {r.urn: r for r in synth.by_type("aws:ec2/routeTable:RouteTable")}
    for route in synth.by_type("aws:ec2/route:Route"):
        routes.setdefault(route.inputs["routeTableId"], []).append(route.inputs)
    return tables, routes


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_isolated_subnets_have_no_route_out(request, stack):
    synth = request.getfixturevalue(stack)
    tables, routes = _routes_by_table(synth)
    isolated = [t for t in tables.values() if t.name.endswith("isolated-rt")]
    assert len(isolated) == 1
    ids_with_routes = set(routes)
    # every route sits on a public or private table; the isolated table id has none
    isolated_id = next(a.inputs["routeTableId"] for a in
                       synth.by_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
                       if a.name.startswith("network-isolated-rta"))  # fmt: skip
    assert isolated_id not in ids_with_routes
    private_routes = [r for rs in routes.values() for r in rs if "natGatewayId" in r]
    assert len(private_routes) == len(tiers(synth)["private"])


@pytest.mark.parametrize(("stack", "retention"), [("dev", 30), ("prod", 365)])
def test_flow_logs_capture_all_traffic_to_an_encrypted_group(request, stack, retention):
    synth = request.getfixturevalue(stack)
    (flow,) = synth.by_type("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL"
    (group,) = [g for g in synth.by_type("aws:cloudwatch/logGroup:LogGroup")
                if g.name == "network-flow-logs"]  # fmt: skip
    assert flow.inputs["logDestination"].endswith(group.inputs["name"])
    assert group.inputs["retentionInDays"] == retention
    assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    (policy,) = [p for p in synth.by_type("aws:iam/rolePolicy:RolePolicy")
                 if p.name == "network-flow-logs-policy"]  # fmt: skip
    statement = json.loads(policy.inputs["policy"])["Statement"]
    assert statement[0]["Resource"][0].endswith(group.inputs["name"])
    assert all(not a.endswith("*") for a in statement[0]["Action"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_endpoints_keep_aws_traffic_inside_the_vpc(request, stack):
    synth = request.getfixturevalue(stack)
    endpoints = synth.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    services = {
        e.inputs["serviceName"].removeprefix("com.amazonaws.eu-west-1."): e for e in endpoints
    }
    assert set(services) >= {"s3", "secretsmanager", "sqs", "sns", "kinesis-streams"}
    # Only what the stack runs: the EKS nodes' ECR and STS endpoints only with a cluster.
    cluster_only = {"ecr.api", "ecr.dkr", "sts"}
    assert (cluster_only <= set(services)) == (stack == "prod")
    s3 = services.pop("s3")
    assert s3.inputs["vpcEndpointType"] == "Gateway"
    private = len(tiers(synth)["private"])
    assert len(s3.inputs["routeTableIds"]) == private + 1  # each private table + the isolated one
    # Interface endpoints (billed per AZ) stay in the stack's az_count zones.
    azs = len(tiers(synth)["public"])
    for endpoint in services.values():
        assert endpoint.inputs["vpcEndpointType"] == "Interface"
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert len(endpoint.inputs["subnetIds"]) == azs
    (sg,) = [s for s in synth.by_type("aws:ec2/securityGroup:SecurityGroup")
             if s.name == "network-endpoints-sg"]  # fmt: skip
    (rule,) = sg.inputs["ingress"]
    assert (rule["fromPort"], rule["toPort"], rule["cidrBlocks"]) == (443, 443, [load_cidr(stack)])


def load_cidr(stack):
    return {"dev": "10.10.0.0/16", "prod": "10.30.0.0/16"}[stack]


def test_default_security_group_is_closed(prod):
    (default,) = prod.by_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.inputs.get("ingress", []) == [] and default.inputs.get("egress", []) == []


def test_bad_network_args_fail_clearly():
    with pytest.raises(ValueError, match=r"network\.az_count=4"):
        NetworkArgs(az_count=4)
    with pytest.raises(ValueError, match="use a /16 to /24 block"):
        NetworkArgs(cidr="10.0.0.0/8")


def test_min_private_azs_adds_a_private_subnet_and_nothing_billed():
    """A third private subnet for services that need three AZs: routed through the one NAT,
    no NAT, public or isolated subnet and no interface endpoint of its own."""

    def program():
        ctx = make_ctx(stack="test")
        net = Network("net", NetworkArgs(az_count=2, nat_gateways="single", min_private_azs=3), ctx)
        pulumi.export("private", net.private_subnet_ids)
        pulumi.export("extended", net.extended_private_subnet_ids)

    synth = run_program(program)
    by_tier = tiers(synth)
    assert [len(by_tier[t]) for t in ("public", "private", "isolated")] == [2, 3, 2]
    assert len({s.inputs["availabilityZone"] for s in by_tier["private"]}) == 3
    cidrs = {s.inputs["cidrBlock"] for s in by_tier["private"]}
    assert cidrs == set(subnet_cidrs("10.0.0.0/16", 3)["private"])
    assert len(synth.by_type("aws:ec2/natGateway:NatGateway")) == 1
    assert len(synth.outputs["private"]) == 2 and len(synth.outputs["extended"]) == 3
    for endpoint in synth.by_type("aws:ec2/vpcEndpoint:VpcEndpoint"):
        if endpoint.inputs["vpcEndpointType"] == "Interface":
            assert len(endpoint.inputs["subnetIds"]) == 2
    _, routes = _routes_by_table(synth)
    assert sum("natGatewayId" in r for rs in routes.values() for r in rs) == 3
    with pytest.raises(ValueError, match=r"network\.min_private_azs=4"):
        NetworkArgs(min_private_azs=4)


class _Store(Component):
    TYPE = "soundstack:tests:Store"


def test_security_group_helpers_admit_only_the_granted_source():
    def program():
        ctx = make_ctx(stack="test")
        net = Network("net", NetworkArgs(az_count=2, nat_gateways="single"), ctx)
        store = _Store("store", ctx)
        client = _Store("client", ctx)
        store_sg = net.security_group(store, "db", "the store")
        client_sg = net.security_group(client, "app", "the client")
        allow_from(store, "from-app", store_sg.id, client_sg.id, 5432, "app to db")
        pulumi.export("ok", True)

    synth = run_program(program)
    sgs = {s.name: s for s in synth.by_type("aws:ec2/securityGroup:SecurityGroup")}
    assert "ingress" not in sgs["store-db-sg"].inputs or not sgs["store-db-sg"].inputs["ingress"]
    assert sgs["store-db-sg"].inputs["name"] == "soundstack-test-store-db"
    egress = sgs["store-db-sg"].inputs["egress"]
    assert {(e["protocol"], e["fromPort"]) for e in egress} == {("-1", 0), ("tcp", 443)}
    (rule,) = synth.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rule.inputs["fromPort"] == rule.inputs["toPort"] == 5432
    assert rule.inputs["referencedSecurityGroupId"].startswith("sg-")
    assert "cidrIpv4" not in rule.inputs
    assert (rule.parent or "").endswith("::store")
