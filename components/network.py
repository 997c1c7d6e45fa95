"""VPC with public, private and isolated subnets per AZ, NAT, endpoints, flow logs and SG helpers.

Tiers:
- public: load balancers and NAT gateways only (route to the internet gateway);
- private: functions, pods and interface endpoints (egress through NAT);
- isolated: data stores (no route out of the VPC at all; S3 through the gateway endpoint).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from soundstack.components import lookups
from soundstack.components.base import Component, StackContext
from soundstack.components.logs import log_group

#: Interface endpoints the reference services need to reach AWS without leaving the VPC.
DEFAULT_INTERFACE_ENDPOINTS = (
    "secretsmanager",
    "sqs",
    "sns",
    "kinesis-streams",
    "ecr.api",
    "ecr.dkr",
    "logs",
    "sts",
)
#: What EKS nodes in private subnets need: image pulls (ecr.api, ecr.dkr; layers come from S3
#: through the gateway endpoint) and IRSA / pod identity credentials (sts).
CLUSTER_INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts")
#: Interface endpoints a stack may choose from (`network.interface_endpoints`).
KNOWN_INTERFACE_ENDPOINTS = (*DEFAULT_INTERFACE_ENDPOINTS, "kms", "ssm", "monitoring")

HTTPS = 443


@dataclass
class NetworkArgs:
    """Network shape. Defaults are production-grade: 3 AZs, a NAT per AZ, a year of flow logs."""

    cidr: str = "10.0.0.0/16"
    az_count: int = 3
    #: `per_az` survives an AZ outage; `single` is one NAT for the whole VPC (cheap, dev only).
    nat_gateways: Literal["single", "per_az"] = "per_az"
    flow_log_retention_days: int = 365
    interface_endpoints: Sequence[str] = field(default_factory=lambda: DEFAULT_INTERFACE_ENDPOINTS)
    #: KMS key for the flow-log group; None uses CloudWatch's own encryption.
    kms_key_arn: pulumi.Input[str] | None = None
    #: Zones the private tier spans at least. Zones beyond `az_count` get a private subnet only
    #: (routed through the existing NAT, no NAT, endpoints or other tiers: it costs nothing),
    #: for services that demand three AZs, such as Redshift Serverless, while the stack runs
    #: in two. Their ids are `extended_private_subnet_ids`.
    min_private_azs: int = 0

    def __post_init__(self) -> None:
        net = ipaddress.ip_network(self.cidr)
        if not 16 <= net.prefixlen <= 24:
            raise ValueError(f"network.cidr={self.cidr}: use a /16 to /24 block, e.g. 10.0.0.0/16")
        if not 2 <= self.az_count <= 3:
            raise ValueError(f"network.az_count={self.az_count}: use 2 or 3 zones")
        if not 0 <= self.min_private_azs <= 3:
            raise ValueError(
                f"network.min_private_azs={self.min_private_azs}: use 0 to 3 (the subnet plan "
                "has room for three zones per tier)"
            )

    @property
    def private_azs(self) -> int:
        """Zones the private tier spans: `az_count`, or more for `min_private_azs`."""
        return max(self.az_count, self.min_private_azs)


#: Each tier's first block of the 16 the VPC is carved into (one block per zone).
TIER_OFFSETS = {"public": 0, "private": 4, "isolated": 8}


def subnet_cidrs(cidr: str, az_count: int, private_azs: int = 0) -> dict[str, list[str]]:
    """Carve the VPC into 16 equal blocks: public 0-2, private 4-6, isolated 8-10; the private
    tier spans `max(az_count, private_azs)` zones."""
    blocks = list(ipaddress.ip_network(cidr).subnets(prefixlen_diff=4))
    zones = {"public": az_count, "private": max(az_count, private_azs), "isolated": az_count}
    return {
        tier: [str(blocks[offset + i]) for i in range(zones[tier])]
        for tier, offset in TIER_OFFSETS.items()
    }


class Network(Component):
    """The VPC every other component lives in."""

    TYPE = "soundstack:network:Network"

    def __init__(
        self,
        name: str,
        args: NetworkArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.cidr = args.cidr
        zones = lookups.availability_zones(args.private_azs)
        self.availability_zones = zones[: args.az_count]
        cidrs = subnet_cidrs(args.cidr, args.az_count, args.private_azs)

        self.vpc = aws.ec2.Vpc(
            self.child_name("vpc"),
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=self.tags({"Name": self.physical_name("vpc")}),
            opts=self.child_opts(),
        )
        self.vpc_id: pulumi.Output[str] = self.vpc.id
        # CIS 5.4 / EC2.2: the default security group admits and emits nothing.
        aws.ec2.DefaultSecurityGroup(
            self.child_name("default-sg"),
            vpc_id=self.vpc.id,
            ingress=[],
            egress=[],
            tags=self.tags({"Name": self.physical_name("default-closed")}),
            opts=self.child_opts(),
        )
        igw = aws.ec2.InternetGateway(
            self.child_name("igw"),
            vpc_id=self.vpc.id,
            tags=self.tags({"Name": self.physical_name("igw")}),
            opts=self.child_opts(),
        )

        self.public_subnets = self._subnets("public", cidrs["public"], zones)
        self.private_subnets = self._subnets("private", cidrs["private"], zones)
        self.isolated_subnets = self._subnets("isolated", cidrs["isolated"], zones)
        self.public_subnet_ids = [s.id for s in self.public_subnets]
        #: Private subnets in the stack's `az_count` zones: functions, pods, endpoints.
        self.private_subnet_ids = [s.id for s in self.private_subnets[: args.az_count]]
        #: Private subnets across `max(az_count, min_private_azs)` zones, for services that
        #: need more zones than the stack runs in (see `NetworkArgs.min_private_azs`).
        self.extended_private_subnet_ids = [s.id for s in self.private_subnets]
        self.isolated_subnet_ids = [s.id for s in self.isolated_subnets]

        public_rt = self._route_table("public")
        aws.ec2.Route(
            self.child_name("public-default"),
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=self.child_opts(),
        )
        self._associate("public", public_rt, self.public_subnets)

        nat_count = args.az_count if args.nat_gateways == "per_az" else 1
        self.nat_gateways = []
        for i in range(nat_count):
            eip = aws.ec2.Eip(
                self.child_name(f"nat-eip-{i}"),
                domain="vpc",
                tags=self.tags({"Name": self.physical_name(f"nat-{i}")}),
                opts=self.child_opts(),
            )
            self.nat_gateways.append(
                aws.ec2.NatGateway(
                    self.child_name(f"nat-{i}"),
                    allocation_id=eip.id,
                    subnet_id=self.public_subnets[i].id,
                    tags=self.tags({"Name": self.physical_name(f"nat-{i}")}),
                    opts=self.child_opts(depends_on=[igw]),
                )
            )

        private_rts = []
        for i, subnet in enumerate(self.private_subnets):
            rt = self._route_table(f"private-{i}")
            aws.ec2.Route(
                self.child_name(f"private-{i}-default"),
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=self.nat_gateways[i % nat_count].id,
                opts=self.child_opts(),
            )
            self._associate(f"private-{i}", rt, [subnet])
            private_rts.append(rt)
        isolated_rt = self._route_table("isolated")
        self._associate("isolated", isolated_rt, self.isolated_subnets)

        region = ctx.region
        self.s3_endpoint = aws.ec2.VpcEndpoint(
            self.child_name("s3-endpoint"),
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in [*private_rts, isolated_rt]],
            tags=self.tags({"Name": self.physical_name("s3")}),
            opts=self.child_opts(),
        )
        self.endpoint_security_group = aws.ec2.SecurityGroup(
            self.child_name("endpoints-sg"),
            name=self.physical_name("endpoints", "security_group"),
            description="HTTPS from inside the VPC to AWS interface endpoints",
            vpc_id=self.vpc.id,
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": HTTPS,
                    "to_port": HTTPS,
                    "cidr_blocks": [args.cidr],
                    "description": "HTTPS from the VPC",
                }
            ],
            egress=[],
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self.interface_endpoints = {
            service: aws.ec2.VpcEndpoint(
                self.child_name(f"{service.replace('.', '-')}-endpoint"),
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[self.endpoint_security_group.id],
                tags=self.tags({"Name": self.physical_name(service.replace(".", "-"))}),
                opts=self.child_opts(),
            )
            for service in args.interface_endpoints
        }

        self._flow_logs(args)
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "extended_private_subnet_ids": self.extended_private_subnet_ids,
                "isolated_subnet_ids": self.isolated_subnet_ids,
            }
        )

    def _subnets(self, tier: str, cidrs: list[str], zones: list[str]) -> list[aws.ec2.Subnet]:
        elb_role = {
            "public": "kubernetes.io/role/elb",
            "private": "kubernetes.io/role/internal-elb",
        }
        extra = {elb_role[tier]: "1"} if tier in elb_role else {}
        return [
            aws.ec2.Subnet(
                self.child_name(f"{tier}-{i}"),
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags=self.tags({"Name": self.physical_name(f"{tier}-{az}"), "tier": tier, **extra}),
                opts=self.child_opts(),
            )
            for i, (cidr, az) in enumerate(zip(cidrs, zones[: len(cidrs)], strict=True))
        ]

    def _route_table(self, role: str) -> aws.ec2.RouteTable:
        return aws.ec2.RouteTable(
            self.child_name(f"{role}-rt"),
            vpc_id=self.vpc.id,
            tags=self.tags({"Name": self.physical_name(role)}),
            opts=self.child_opts(),
        )

    def _associate(self, role: str, rt: aws.ec2.RouteTable, subnets: list[aws.ec2.Subnet]) -> None:
        for i, subnet in enumerate(subnets):
            aws.ec2.RouteTableAssociation(
                self.child_name(f"{role}-rta-{i}"),
                route_table_id=rt.id,
                subnet_id=subnet.id,
                opts=self.child_opts(),
            )

    def _flow_logs(self, args: NetworkArgs) -> None:
        group = log_group(self, "flow", args.flow_log_retention_days, args.kms_key_arn)
        role = aws.iam.Role(
            self.child_name("flow-logs-role"),
            name=self.physical_name("flow-logs", "iam_role"),
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=self.tags(),
            opts=self.child_opts(),
        )
        aws.iam.RolePolicy(
            self.child_name("flow-logs-policy"),
            role=role.id,
            policy=group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                    "logs:DescribeLogStreams",
                                ],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=self.child_opts(),
        )
        self.flow_log = aws.ec2.FlowLog(
            self.child_name("flow-log"),
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=self.tags(),
            opts=self.child_opts(),
        )

    def security_group(
        self, owner: Component, role: str, description: str
    ) -> aws.ec2.SecurityGroup:
        """A security group for `owner` in this VPC: no ingress, egress only inside the VPC and
        to HTTPS. Open it with `allow_from`."""
        return aws.ec2.SecurityGroup(
            owner.child_name(f"{role}-sg"),
            name=owner.physical_name(role, "security_group"),
            description=description,
            vpc_id=self.vpc.id,
            egress=[
                {
                    "protocol": "-1",
                    "from_port": 0,
                    "to_port": 0,
                    "cidr_blocks": [self.cidr],
                    "description": "anything inside the VPC",
                },
                {
                    "protocol": "tcp",
                    "from_port": HTTPS,
                    "to_port": HTTPS,
                    "cidr_blocks": ["0.0.0.0/0"],
                    "description": "HTTPS to AWS APIs and payment providers",
                },
            ],
            tags=owner.tags(),
            opts=owner.child_opts(),
        )


def allow_from(
    owner: Component,
    role: str,
    target_sg_id: pulumi.Input[str],
    source_sg_id: pulumi.Input[str],
    port: int,
    description: str,
) -> aws.vpc.SecurityGroupIngressRule:
    """Admit TCP `port` on `target_sg_id` from members of `source_sg_id` only."""
    return aws.vpc.SecurityGroupIngressRule(
        owner.child_name(f"{role}-ingress"),
        security_group_id=target_sg_id,
        referenced_security_group_id=source_sg_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        description=description,
        tags=owner.tags(),
        opts=owner.child_opts(),
    )
