"""AWS limits that span several config sections, checked once on the whole `PlatformConfig`.

- Redshift Serverless needs private subnets in three AZs (`network.az_count` or
  `network.min_private_azs`).
- The address budget: the Network component carves the VPC into 16 equal blocks (one per tier and
  zone, `components.network.subnet_cidrs`), so every subnet is the VPC's prefix + 4. Each tier's
  subnets must hold, in their busiest zone, the network interfaces AWS puts there for this stack
  (the demand below, each term from the AWS page it cites). A /24 VPC gives /28 subnets with 11
  usable addresses: too few for EKS pods, Lambda, RDS Proxy and eight interface endpoints.
"""

from __future__ import annotations

import bisect
import ipaddress
import math
from typing import TYPE_CHECKING

from soundstack.components.network import DEFAULT_INTERFACE_ENDPOINTS, subnet_cidrs

if TYPE_CHECKING:
    from soundstack.stacks.model import NodeGroupConfig, PlatformConfig

#: Amazon VPC: "The first four IP addresses and the last IP address in each subnet CIDR block
#: are not available for your use".
AWS_RESERVED_PER_SUBNET = 5
#: Service functions the platform runs in the private subnets (auth, catalog, playlist,
#: activity, recommendation, payment, feed), each with its own security group. Lambda: "Lambda
#: creates a Hyperplane ENI for each unique combination of subnet and security group".
VPC_FUNCTIONS = 7
#: Amazon EKS network requirements: "The subnets must each have at least six IP addresses for
#: use by Amazon EKS. However, we recommend at least 16 IP addresses."
EKS_CONTROL_PLANE = 16
#: Elastic Load Balancing: an Application Load Balancer's subnets need "at least 8 free IP
#: addresses" (the ingress ALB sits in the public subnets).
ALB_ADDRESSES = 8
#: Redshift Serverless with enhanced VPC routing: free IP addresses required per subnet when
#: creating a workgroup, by base RPUs (Considerations when using Amazon Redshift Serverless).
REDSHIFT_EVR_ADDRESSES = ((8, 9), (32, 13), (64, 21), (128, 37), (256, 69), (512, 133), (1024, 261))
#: RDS Proxy, "Planning for IP address capacity": minimum free addresses by DB instance size
#: (db.*.xlarge or smaller: 10 …) and, for Aurora Serverless v2, by maximum ACUs.
RDS_PROXY_BY_SIZE = {"2xlarge": 15, "4xlarge": 25, "8xlarge": 45, "12xlarge": 60,
                     "16xlarge": 75, "24xlarge": 110}  # fmt: skip
RDS_PROXY_BY_ACU = ((16, 10), (32, 15), (64, 25), (96, 30), (128, 40), (160, 50), (192, 55),
                    (224, 65), (256, 75))  # fmt: skip
#: Amazon VPC CNI gives every pod an address from the node's subnet and keeps a warm ENI, so a
#: full node holds ENIs x IPv4 addresses per ENI (EC2 "Maximum IP addresses per network
#: interface"). Sizes not listed count as 8 ENIs x 30 addresses.
NODE_ADDRESSES = {"micro": 4, "small": 12, "medium": 18, "large": 30, "xlarge": 60,
                  "2xlarge": 60, "4xlarge": 240, "8xlarge": 240, "12xlarge": 240}  # fmt: skip
BURSTABLE_NODE_ADDRESSES = {"large": 36, "xlarge": 45, "2xlarge": 45}
DEFAULT_NODE_ADDRESSES = 240
#: Managed node group updates raise the group by "up to twice the number of Availability
#: Zones" while old nodes drain: two more nodes per zone.
UPDATE_SURGE_PER_ZONE = 2


def _table(table: tuple[tuple[int, int], ...], value: float) -> int:
    """The row for the smallest key ≥ value (the last row beyond the table)."""
    keys = [k for k, _ in table]
    return table[min(bisect.bisect_left(keys, value), len(table) - 1)][1]


def _node_addresses(instance_type: str) -> int:
    family, _, size = instance_type.partition(".")
    if family.startswith("t") and size in BURSTABLE_NODE_ADDRESSES:
        return BURSTABLE_NODE_ADDRESSES[size]
    return NODE_ADDRESSES.get(size, DEFAULT_NODE_ADDRESSES)


def _per_zone(count: int, zones: int) -> int:
    return math.ceil(count / zones)


def _node_group(group: NodeGroupConfig, zones: int) -> int:
    nodes = _per_zone(group.max_size, zones) + UPDATE_SURGE_PER_ZONE
    return nodes * max(_node_addresses(t) for t in group.instance_types)


def demand(config: PlatformConfig) -> dict[str, dict[str, int]]:
    """Addresses each tier's busiest subnet needs, term by term."""
    zones = config.network.az_count
    private = {
        "interface endpoints": len(DEFAULT_INTERFACE_ENDPOINTS),
        "Lambda ENIs": VPC_FUNCTIONS,
    }
    public = {"NAT gateway": 1}
    if config.cluster.enabled:
        private["EKS control plane"] = EKS_CONTROL_PLANE
        groups = [config.cluster.system_nodes]
        if config.cluster.spot_workers:
            groups.append(config.cluster.worker_nodes)
        private["EKS nodes and pods"] = sum(_node_group(g, zones) for g in groups)
        public["ingress load balancer"] = ALB_ADDRESSES
    if config.analytics.redshift_mode == "serverless":
        rpu = config.analytics.redshift_base_capacity_rpu
        private["Redshift Serverless"] = _table(REDSHIFT_EVR_ADDRESSES, rpu)
    else:
        private["Redshift cluster"] = config.analytics.redshift_nodes + 1
    if config.analytics.quicksight:
        private["QuickSight VPC connection"] = 1
    if config.search.serverless:
        private["OpenSearch Serverless endpoint"] = 1
    if config.pipeline.enabled:
        private["CodeBuild builds"] = len(config.pipeline.environments) + 2

    db = config.database
    if db.engine == "postgres":
        proxy = RDS_PROXY_BY_SIZE.get(db.instance_class.rsplit(".", 1)[-1], 10)
    else:
        proxy = _table(RDS_PROXY_BY_ACU, db.max_capacity_acu)
    isolated = {
        # One instance per zone, plus its replacement during a modification.
        "database": 2,
        "RDS Proxy": proxy,
        "Neptune": _per_zone(1 + config.graph.reader_count, zones) + 1,
        "ElastiCache": 1
        if config.cache.serverless
        else _per_zone(1 + config.cache.replicas_per_shard, zones) + 1,
    }
    if not config.search.serverless:
        nodes = config.search.instance_count + (3 if config.search.dedicated_master else 0)
        # Blue/green configuration changes run the old and the new nodes side by side.
        isolated["OpenSearch nodes"] = 2 * _per_zone(nodes, zones)
    return {"public": public, "private": private, "isolated": isolated}


def usable_addresses(cidr: str) -> int:
    """Addresses AWS lets you use in each subnet the Network component carves from `cidr`."""
    first = ipaddress.ip_network(subnet_cidrs(cidr, 2)["public"][0])
    return first.num_addresses - AWS_RESERVED_PER_SUBNET


def address_budget_problems(config: PlatformConfig) -> list[str]:
    cidr = config.network.cidr
    need = {tier: sum(terms.values()) for tier, terms in demand(config).items()}
    usable = usable_addresses(cidr)
    short = {tier: n for tier, n in need.items() if n > usable}
    if not short:
        return []
    net = ipaddress.ip_network(cidr)
    # The smallest VPC (largest prefix) whose subnets hold the busiest tier.
    largest = max(need.values())
    fits = max(
        (p for p in range(16, 25) if 2 ** (32 - p - 4) - AWS_RESERVED_PER_SUBNET >= largest),
        default=16,
    )
    detail = "; ".join(
        f"each {tier} subnet needs {n} ("
        + ", ".join(f"{term} {count}" for term, count in demand(config)[tier].items())
        + ")"
        for tier, n in short.items()
    )
    example = ipaddress.ip_network(f"{net.network_address}/16", strict=False)
    return [
        f"network.cidr={cidr} carves /{net.prefixlen + 4} subnets with {usable} usable addresses "
        f"each (AWS reserves 5 per subnet), but {detail}; use a /16 to /{fits} block, "
        f"e.g. network.cidr: {example}"
    ]


def redshift_zone_problems(config: PlatformConfig) -> list[str]:
    zones = max(config.network.az_count, config.network.min_private_azs)
    if config.analytics.redshift_mode != "serverless" or zones >= 3:
        return []
    return [
        f"analytics.redshift_mode=serverless needs private subnets in three zones and the "
        f'network has {zones}: Redshift Serverless says "You must have at least three subnets, '
        'and they must span across three Availability Zones"; set network.min_private_azs: 3 '
        "(one more private subnet, free) or network.az_count: 3, or analytics.redshift_mode: "
        "provisioned"
    ]


def aws_limit_problems(config: PlatformConfig) -> list[str]:
    """Every cross-section AWS limit the config breaks, each naming the key and the fix."""
    return [*redshift_zone_problems(config), *address_budget_problems(config)]
