"""Estimated monthly cost of a stack, per component, from a dated eu-west-1 price table.

An ESTIMATE: on-demand list prices from `data/prices_eu-west-1.json` (dated, see its `source`)
applied to the sizing inputs the stack registers (instance classes, node counts, capacities,
AZs …) and to an assumed monthly traffic profile per environment
(`data/traffic_profiles.json`, overridable). Pricing is keyed by resource type in `RULES`;
types without a rule are listed as not priced (free, or usage the estimate does not model).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from soundstack.insight.estate import Estate, dig, load_table
from soundstack.synth import Resource, Synthesis

PRICE_TABLE = "prices_eu-west-1.json"
PROFILES = "traffic_profiles.json"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
#: Names suggesting a component serves the audio itself (gets the streamed bytes).
_MEDIA = re.compile(r"media|audio|music|stream|track", re.I)


@dataclass(frozen=True)
class Item:
    """One priced resource: what it costs a month and why."""

    component: str
    resource: str
    type: str
    monthly: float
    basis: str


@dataclass
class CostReport:
    stack: str
    environment: str
    items: list[Item]
    assumptions: dict[str, float]
    table: dict[str, Any]
    unpriced: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> float:
        return sum(i.monthly for i in self.items)

    def by_component(self) -> list[tuple[str, float]]:
        sums: dict[str, float] = defaultdict(float)
        for i in self.items:
            sums[i.component] += i.monthly
        return sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))

    def by_resource(self) -> list[Item]:
        """One item per resource (its line items summed, their bases joined)."""
        merged: dict[tuple[str, str, str], list[Item]] = defaultdict(list)
        for i in self.items:
            merged[(i.component, i.resource, i.type)].append(i)
        return [
            Item(c, r, t, round(sum(i.monthly for i in parts), 2),
                 " + ".join(i.basis for i in parts if i.monthly > 0 or len(parts) == 1))
            for (c, r, t), parts in merged.items()
        ]  # fmt: skip

    def drivers(self, count: int = 8) -> list[Item]:
        """The most expensive resources: what makes the stack cost what it does."""
        return sorted(self.by_resource(), key=lambda i: (-i.monthly, i.resource))[:count]


class Pricing:
    """Price look-ups and the traffic shared out between resources of one stack."""

    def __init__(self, estate: Estate, table: dict[str, Any], traffic: Mapping[str, float]):
        self.estate = estate
        self.table = table
        self.t = traffic
        self.hours: float = table["hours_per_month"]

    def hourly(self, usd_per_hour: float) -> float:
        return usd_per_hour * self.hours

    def sized(self, family_prices: Mapping[str, float], instance: str) -> float | None:
        """Hourly price of `instance` (e.g. `db.r7g.xlarge`, `r7g.large.search`) from the price
        of its family's `large` size; None when the family is not in the table."""
        name = instance.removesuffix(".search")
        family, _, size = name.rpartition(".")
        base = family_prices.get(family)
        factor = self.table["size_factor"].get(size)
        return None if base is None or factor is None else base * factor

    def count(self, type_token: str) -> int:
        return len(self.estate.synth.by_type(type_token))

    def streams_gb(self) -> float:
        return self.t["monthly_streams"] * self.t["avg_mb_per_stream"] / 1024

    def events_gb(self) -> float:
        return self.t["monthly_streams"] * self.t["events_per_stream"] * self.t["event_kb"] / 2**20

    def is_media(self, r: Resource) -> bool:
        return bool(_MEDIA.search(r.name) or _MEDIA.search(self.estate.owner(r)))

    def media_distributions(self) -> list[Resource]:
        """Distributions that deliver the audio (all of them when none is named for media)."""
        every = self.estate.synth.by_type("aws:cloudfront/distribution:Distribution")
        return [d for d in every if self.is_media(d)] or every

    def replicas(self) -> set[str]:
        """URNs of the buckets replication rules copy into (priced with their rule)."""
        return {
            urn
            for c in self.estate.synth.by_type(REPLICATION)
            for urn in c.property_dependencies.get("rules", [])
            if self.estate.by_urn[urn].type in BUCKETS
        }

    def media_origins(self) -> set[str]:
        """URNs of the buckets the media distributions serve from (where the audio lives), their
        replicas left out."""
        return {
            urn
            for d in self.media_distributions()
            for urn in d.property_dependencies.get("origins", [])
            if self.estate.by_urn[urn].type in BUCKETS
        } - self.replicas()

    def edge_requests(self) -> float:
        """Requests a month to every distribution together (audio ranges and pages)."""
        return self.t["monthly_streams"] * self.t["edge_requests_per_stream"]

    def shielded(self) -> set[str]:
        """URNs of resources a Shield Advanced protection covers."""
        return {
            urn
            for p in self.estate.synth.by_type("aws:shield/protection:Protection")
            for urn in p.property_dependencies.get("resourceArn", [])
        }


Rule = Callable[[Resource, Pricing], list[tuple[float, str]]]


def _instances(
    prices: Mapping[str, float], p: Pricing, instance: str | None, count: float, what: str
) -> list[tuple[float, str]]:
    hourly = p.sized(prices, instance) if instance else None
    if hourly is None:
        return [(0.0, f"{what} {instance}: no price in the table (not priced)")]
    return [(p.hourly(hourly) * count, f"{count:g} x {instance} {what}")]


def _nat(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    gb = p.t["nat_gb"] / max(p.count(r.type), 1)
    return [
        (p.hourly(p.table["nat_gateway_hour"]), "NAT gateway hours"),
        (gb * p.table["nat_gateway_gb"], f"{gb:,.0f} GB processed (assumed)"),
    ]


def _eip(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    return [(p.hourly(p.table["public_ipv4_hour"]), "public IPv4 address")]


def _endpoint(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    if r.inputs.get("vpcEndpointType") != "Interface":
        return [(0.0, "gateway endpoint (free)")]
    azs = len(r.inputs.get("subnetIds") or []) or 1
    return [
        (p.hourly(p.table["interface_endpoint_az_hour"]) * azs, f"interface endpoint x {azs} AZ")
    ]


def _eks_cluster(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    lines = [(p.hourly(p.table["eks_cluster_hour"]), "EKS control plane")]
    if r.type == "eks:index:Cluster" and not r.inputs.get("skipDefaultNodeGroup"):
        options = r.inputs.get("nodeGroupOptions") or {}
        instance = options.get("instanceType") or r.inputs.get("instanceType") or "t2.medium"
        count = options.get("desiredCapacity") or r.inputs.get("desiredCapacity") or 2
        lines += _instances(p.table["ec2"], p, instance, count, "default node group")
    return lines


def _node_group(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    if "scalingConfig" in r.inputs:
        count = dig(r.inputs, "scalingConfig", "desiredSize", default=1)
        instance = (r.inputs.get("instanceTypes") or [None])[0]
    else:  # pulumi-eks NodeGroup / NodeGroupV2
        count = r.inputs.get("desiredCapacity", 2)
        instance = r.inputs.get("instanceType", "t2.medium")
    spot = r.inputs.get("capacityType") == "SPOT" or bool(r.inputs.get("spotPrice"))
    lines = _instances(p.table["ec2"], p, instance, count, "spot nodes" if spot else "nodes")
    if spot:
        lines = [(usd * p.table["spot_factor"], f"{why} at ~{p.table['spot_factor']:.0%} of "
                  "on-demand (assumed)") for usd, why in lines]  # fmt: skip
    disk = r.inputs.get("diskSize", 20) * count
    return [*lines, (disk * p.table["ebs_gp3_gb_month"], f"{disk:g} GB node disks")]


def _ec2_instance(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    return _instances(p.table["ec2"], p, r.inputs.get("instanceType"), 1, "instance")


def _rds_instance(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    rds = p.table["rds"]
    factor = rds["multi_az_factor"] if r.inputs.get("multiAz") else 1
    az = "Multi-AZ" if factor > 1 else "single-AZ"
    lines = _instances(rds["postgres"], p, r.inputs.get("instanceClass"), factor, f"({az})")
    storage = r.inputs.get("allocatedStorage", 20) * factor
    per_gb = rds["storage_gb_month"].get(r.inputs.get("storageType", "gp2"), 0.127)
    return [*lines, (storage * per_gb, f"{storage:g} GB storage ({az})")]


def _scaling(cluster: Resource | None) -> tuple[float, float] | None:
    if cluster is None:
        return None
    for key in ("serverlessv2ScalingConfiguration", "serverlessV2ScalingConfiguration"):
        config = cluster.inputs.get(key)
        if isinstance(config, dict):
            return float(config.get("minCapacity", 0)), float(config.get("maxCapacity", 1))
    return None


def _cluster_instance(table: str, unit: str) -> Rule:
    """A cluster instance: provisioned class, or `db.serverless` at the cluster's capacity."""

    def rule(r: Resource, p: Pricing) -> list[tuple[float, str]]:
        prices = p.table[table]
        if r.inputs.get("instanceClass") != "db.serverless":
            return _instances(prices["instance"], p, r.inputs.get("instanceClass"), 1, "instance")
        urns = r.property_dependencies.get("clusterIdentifier", [])
        scaling = _scaling(p.estate.by_urn.get(urns[0]) if urns else None) or (0.5, 1.0)
        low, high = scaling
        average = low + p.t["serverless_load"] * (high - low)
        return [(p.hourly(prices[f"{unit.lower()}_hour"]) * average,
                 f"serverless {average:.2f} {unit} average ({low:g}-{high:g}, "
                 f"load {p.t['serverless_load']:.0%} assumed)")]  # fmt: skip

    return rule


def _cluster_storage(table: str, gb_key: str) -> Rule:
    def rule(r: Resource, p: Pricing) -> list[tuple[float, str]]:
        engine = str(r.inputs.get("engine", "aurora"))
        if table == "aurora" and not engine.startswith("aurora"):
            instance = r.inputs.get("dbClusterInstanceClass")  # Multi-AZ DB cluster: 3 instances
            prices = p.table["rds"]["postgres"]
            return _instances(prices, p, instance, 3, "Multi-AZ DB cluster") if instance else []
        gb = p.t[gb_key]
        return [(gb * p.table[table]["storage_gb_month"], f"{gb:g} GB storage (assumed)")]

    return rule


def _vcpus(p: Pricing, instance_class: str) -> float:
    """vCPUs of an instance class: 2 per `large`, never fewer than 2."""
    factor = p.table["size_factor"].get(instance_class.rpartition(".")[2], 1)
    return max(2.0, 2.0 * factor)


def _proxy_target(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    """RDS Proxy: billed per vCPU (serverless: per ACU, 8 at least) of the database behind it."""
    price = p.table["rds"]["proxy_vcpu_hour"]
    by_urn = p.estate.by_urn
    instances = [by_urn[u] for u in r.property_dependencies.get("dbInstanceIdentifier", [])]
    members = p.estate.synth.by_type("aws:rds/clusterInstance:ClusterInstance")
    for cluster in r.property_dependencies.get("dbClusterIdentifier", []):
        instances += [
            i for i in members if cluster in i.property_dependencies.get("clusterIdentifier", [])
        ]
    units, serverless = 0.0, False
    for i in instances:
        if i.inputs.get("instanceClass") == "db.serverless":
            urns = i.property_dependencies.get("clusterIdentifier", [])
            low, high = _scaling(by_urn.get(urns[0]) if urns else None) or (0.5, 1.0)
            units += low + p.t["serverless_load"] * (high - low)
            serverless = True
        else:
            units += _vcpus(p, str(i.inputs.get("instanceClass", "")))
    units = max(units, 8.0) if serverless else units
    unit = "ACU" if serverless else "vCPU"
    return [(p.hourly(price) * units, f"RDS Proxy for {units:g} {unit} of database")]


def _replication_group(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    cache = p.table["elasticache"]
    if "numCacheClusters" in r.inputs:
        nodes = r.inputs["numCacheClusters"]
    else:
        nodes = r.inputs.get("numNodeGroups", 1) * (r.inputs.get("replicasPerNodeGroup", 0) + 1)
    lines = _instances(cache["node"], p, r.inputs.get("nodeType"), nodes, "cache nodes")
    if r.inputs.get("engine") == "valkey":
        lines = [(usd * cache["valkey_node_factor"], f"{why} (Valkey)") for usd, why in lines]
    return lines


def _cache_cluster(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    nodes = r.inputs.get("numCacheNodes", 1)
    prices = p.table["elasticache"]["node"]
    return _instances(prices, p, r.inputs.get("nodeType"), nodes, "cache nodes")


def _serverless_cache(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    engine = str(r.inputs.get("engine", "redis"))
    price = p.table["elasticache"]["serverless"].get(engine)
    if price is None:
        return [(0.0, f"serverless {engine}: no price in the table (not priced)")]
    gb = max(price["min_gb"], p.t["cache_gb"])
    return [(p.hourly(price["gb_hour"]) * gb, f"serverless {engine}, {gb:g} GB stored")]


def _search_domain(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    prices = p.table["opensearch"]["instance"]
    config = r.inputs.get("clusterConfig") or {}
    data = config.get("instanceCount", 1)
    lines = _instances(
        prices, p, config.get("instanceType", "r6g.large.search"), data, "data nodes"
    )
    if config.get("dedicatedMasterEnabled"):
        masters = config.get("dedicatedMasterCount", 3)
        lines += _instances(prices, p, config.get("dedicatedMasterType"), masters, "masters")
    volume = dig(r.inputs, "ebsOptions", "volumeSize", default=10) * data
    return [*lines, (volume * p.table["opensearch"]["storage_gb_month"], f"{volume:g} GB EBS")]


def _search_collection(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    ocus = 2 if r.inputs.get("standbyReplicas", "ENABLED") == "ENABLED" else 1
    price = p.table["opensearch"]["serverless_ocu_hour"]
    return [(p.hourly(price) * ocus, f"{ocus} OCU minimum")]


def _workgroup(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    rpus, hours = r.inputs.get("baseCapacity", 128), p.t["redshift_active_hours"]
    price = p.table["redshift"]["rpu_hour"]
    return [(rpus * hours * price, f"{rpus} RPU x {hours:g} h active a month (assumed)")]


def _redshift_cluster(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    node, count = r.inputs.get("nodeType", ""), r.inputs.get("numberOfNodes", 1)
    price = p.table["redshift"]["node"].get(node)
    if price is None:
        return [(0.0, f"Redshift {node}: no price in the table (not priced)")]
    return [(p.hourly(price) * count, f"{count} x {node}")]


def _shield(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    fee = (p.table["shield_advanced_month"], "Shield Advanced subscription (per organisation)")
    if r.type == "aws:shield/subscription:Subscription":
        return [fee]
    protections = p.estate.synth.by_type(r.type)
    if p.count("aws:shield/subscription:Subscription") == 0 and protections[0] is r:
        return [fee]  # the subscription lives outside the stack but the protections need it
    return [(0.0, "protection (covered by the subscription)")]


def _web_acl(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    shielded = p.shielded()
    users = [d for d in p.estate.synth.by_type("aws:cloudfront/distribution:Distribution")
             if r.urn in d.property_dependencies.get("webAclId", [])]  # fmt: skip
    if users and all(d.urn in shielded for d in users):
        return [(0.0, "included with Shield Advanced for protected resources")]
    rules = len(r.inputs.get("rules") or [])
    waf = p.table["waf"]
    if r.inputs.get("scope") == "CLOUDFRONT":
        requests = p.t["monthly_streams"] * p.t["edge_requests_per_stream"]
    else:
        requests = p.t["monthly_streams"] * p.t["api_requests_per_stream"]
    return [
        (waf["web_acl_month"] + waf["rule_month"] * rules, f"web ACL with {rules} rules"),
        (requests / 1e6 * waf["million_requests"], f"{requests / 1e6:,.1f} M requests (assumed)"),
    ]


def _tiered(gb: float, tiers: list[list[Any]]) -> float:
    """`gb` priced through consecutive tiers given as [width in GB, price per GB], as AWS
    publishes them ("first 10 TB, next 40 TB, …"); a width of None is the open last tier."""
    total, left = 0.0, gb
    for width, price in tiers:
        used = left if width is None else min(left, width)
        total += used * price
        left -= used
        if left <= 0:
            break
    return total


def _distribution(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    media = p.media_distributions()
    if r not in media:
        return [(0.0, "web assets (small next to the streamed audio; not priced)")]
    gb = p.streams_gb() / len(media)
    requests = p.t["monthly_streams"] * p.t["edge_requests_per_stream"] / len(media)
    cdn = p.table["cloudfront"]
    return [
        (_tiered(gb, cdn["gb_out_tier_widths"]), f"{gb:,.0f} GB to viewers (assumed traffic)"),
        (requests / 1e4 * cdn["https_per_10k"], f"{requests / 1e6:,.0f} M HTTPS requests"),
    ]


def _stream(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    k = p.table["kinesis"]
    if dig(r.inputs, "streamModeDetails", "streamMode", default="PROVISIONED") == "ON_DEMAND":
        gb = p.events_gb()
        return [(p.hourly(k["on_demand_stream_hour"]), "on-demand stream hours"),
                (gb * k["on_demand_gb_in"], f"{gb:,.1f} GB ingested (assumed)")]  # fmt: skip
    shards = r.inputs.get("shardCount", 1)
    puts = p.t["monthly_streams"] * p.t["events_per_stream"] / 1e6
    return [(p.hourly(k["shard_hour"]) * shards, f"{shards} shards"),
            (puts * k["put_payload_million"], f"{puts:,.1f} M PUT units (assumed)")]  # fmt: skip


def _firehose(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    gb = p.events_gb()
    return [(gb * p.table["kinesis"]["firehose_gb"], f"{gb:,.1f} GB ingested (assumed)")]


def _function(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    functions = p.count(r.type)
    calls = p.t["monthly_streams"] * p.t["api_requests_per_stream"] / max(functions, 1)
    arch = (r.inputs.get("architectures") or ["x86_64"])[0]
    prices = p.table["lambda"]
    gb_s = calls * p.t["lambda_ms"] / 1000 * r.inputs.get("memorySize", 128) / 1024
    usd = calls / 1e6 * prices["million_requests"] + gb_s * prices["gb_second"].get(arch, 0)
    return [(usd, f"{calls / 1e6:,.2f} M invocations x {p.t['lambda_ms']:g} ms (assumed)")]


def _http_api(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    if r.inputs.get("protocolType", "HTTP") != "HTTP":
        return [(0.0, "WebSocket API (usage not modelled)")]
    apis = [a for a in p.estate.synth.by_type(r.type) if a.inputs.get("protocolType") == "HTTP"]
    calls = p.t["monthly_streams"] * p.t["api_requests_per_stream"] / max(len(apis), 1)
    return [(calls / 1e6 * p.table["apigateway_http_million"], f"{calls / 1e6:,.1f} M requests")]


def _bucket(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    origins = p.media_origins()
    if r.urn not in origins:
        return [(0.0, "storage not modelled (small next to the audio)")]
    gb = p.t["media_storage_gb"] / len(origins)
    return [(gb * p.table["s3_standard_gb_month"], f"{gb:,.0f} GB of audio (assumed)")]


def _replication(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    """A replica holds a second copy; what is uploaded crosses Regions once, under S3 RTC."""
    sources = set(r.property_dependencies.get("bucket", []))
    origins = p.media_origins()
    metrics = p.table["s3_replication"]["metrics_per_rule"]
    lines = [(metrics * p.table["cloudwatch"]["metric_month"],
              f"{metrics} replication metrics (billed as custom metrics)")]  # fmt: skip
    if not sources & origins:
        return [*lines, (0.0, "replica of small assets (not modelled)")]
    stored = p.t["media_storage_gb"] / len(origins)
    moved = p.t["media_upload_gb"] / len(origins)
    prices = p.table["s3_replication"]
    return [
        *lines,
        (stored * p.table["s3_standard_gb_month"], f"{stored:,.0f} GB of audio, second copy"),
        (moved * (prices["inter_region_gb"] + prices["rtc_gb"]),
         f"{moved:,.0f} GB uploaded a month (assumed) across Regions, with RTC"),
    ]  # fmt: skip


def _log_delivery(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    """CloudFront standard logging v2: CloudWatch vended-log delivery to S3, per GB of records
    (one per request; the streamed audio's requests, as `_distribution` counts them)."""
    by_urn = p.estate.by_urn
    sources = [by_urn[u] for u in r.property_dependencies.get("deliverySourceName", [])]
    logged = {u for s in sources for u in s.property_dependencies.get("resourceArn", [])}
    media = p.media_distributions()
    if not logged & {d.urn for d in media}:
        return [(0.0, "access logs of page and API requests (not modelled)")]
    gb = p.edge_requests() * p.t["cdn_log_kb_per_request"] / 2**20 / len(media)
    usd = _tiered(gb, p.table["cloudwatch"]["vended_logs_s3_gb_tiers"])
    return [(usd, f"{gb:,.1f} GB of access logs delivered (assumed)")]


def _log_group(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    """The assumed monthly log volume shared out between the stack's log groups; stored for
    the group's retention (steady state), uncompressed: an upper bound on storage."""
    groups = p.count(r.type)
    gb = p.t["log_gb"] / max(groups, 1)
    cw = p.table["cloudwatch"]
    months = (r.inputs.get("retentionInDays") or 3653) / 30
    return [
        (gb * cw["logs_ingested_gb"], f"{gb:,.1f} GB ingested (assumed)"),
        (gb * months * cw["logs_stored_gb_month"], f"{gb * months:,.0f} GB kept"),
    ]


def _fixed(key: str, why: str) -> Rule:
    def rule(r: Resource, p: Pricing) -> list[tuple[float, str]]:
        node: Any = p.table
        for part in key.split("."):
            node = node[part]
        return [(float(node), why)]

    return rule


def _hourly(key: str, why: str) -> Rule:
    return lambda r, p: [(p.hourly(p.table[key]), why)]


def _repository(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    gb = p.t["image_gb"]
    return [(gb * p.table["ecr_gb_month"], f"{gb:g} GB of images (assumed)")]


def _quicksight(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    authors = p.t["quicksight_authors"]
    return [(authors * p.table["quicksight_author_month"], f"{authors:g} authors (assumed)")]


def _pipeline(r: Resource, p: Pricing) -> list[tuple[float, str]]:
    if r.inputs.get("pipelineType", "V1") == "V1":
        return [(p.table["codepipeline_v1_month"], "V1 pipeline")]
    return [(0.0, "V2 pipeline: per action-minute (not modelled)")]


#: Type token → pricing rule. A type missing here is reported as not priced.
RULES: dict[str, Rule] = {
    "aws:ec2/natGateway:NatGateway": _nat,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _endpoint,
    "aws:ec2/instance:Instance": _ec2_instance,
    "aws:lb/loadBalancer:LoadBalancer": _hourly("load_balancer_hour", "load balancer hours"),
    "aws:kms/key:Key": _fixed("kms_key_month", "customer-managed key"),
    "aws:secretsmanager/secret:Secret": _fixed("secret_month", "secret"),
    "aws:eks/cluster:Cluster": _eks_cluster,
    "eks:index:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "eks:index:ManagedNodeGroup": _node_group,
    "eks:index:NodeGroup": _node_group,
    "eks:index:NodeGroupV2": _node_group,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:rds/cluster:Cluster": _cluster_storage("aurora", "database_gb"),
    "aws:rds/clusterInstance:ClusterInstance": _cluster_instance("aurora", "ACU"),
    "aws:rds/proxyTarget:ProxyTarget": _proxy_target,
    "aws:neptune/cluster:Cluster": _cluster_storage("neptune", "graph_gb"),
    "aws:neptune/clusterInstance:ClusterInstance": _cluster_instance("neptune", "NCU"),
    "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group,
    "aws:elasticache/cluster:Cluster": _cache_cluster,
    "aws:elasticache/serverlessCache:ServerlessCache": _serverless_cache,
    "aws:opensearch/domain:Domain": _search_domain,
    "aws:opensearch/serverlessCollection:ServerlessCollection": _search_collection,
    "aws:redshiftserverless/workgroup:Workgroup": _workgroup,
    "aws:redshift/cluster:Cluster": _redshift_cluster,
    "aws:shield/subscription:Subscription": _shield,
    "aws:shield/protection:Protection": _shield,
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    "aws:cloudfront/distribution:Distribution": _distribution,
    "aws:kinesis/stream:Stream": _stream,
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": _firehose,
    "aws:lambda/function:Function": _function,
    "aws:apigatewayv2/api:Api": _http_api,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketV2:BucketV2": _bucket,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _fixed("cloudwatch.alarm_month", "alarm"),
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/logDelivery:LogDelivery": _log_delivery,
    REPLICATION: _replication,
    "aws:cloudwatch/dashboard:Dashboard": _fixed("cloudwatch.dashboard_month", "dashboard"),
    "aws:ecr/repository:Repository": _repository,
    "aws:quicksight/accountSubscription:AccountSubscription": _quicksight,
    "aws:codepipeline/pipeline:Pipeline": _pipeline,
    "aws:route53/zone:Zone": _fixed("route53.zone_month", "hosted zone"),
    "aws:route53/healthCheck:HealthCheck": _fixed("route53.health_check_month", "health check"),
}


def traffic_profile(
    environment: str, overrides: Mapping[str, float] | None = None
) -> dict[str, float]:
    """The assumed traffic of `environment`, with `overrides` applied (unknown keys refused)."""
    profiles = load_table(PROFILES)
    profile = dict(profiles.get(environment, profiles["prod"]))
    for key, value in (overrides or {}).items():
        if key not in profile:
            raise KeyError(f"unknown traffic assumption {key!r}; known: {sorted(profile)}")
        profile[key] = value
    return profile


def estimate(synth: Synthesis, overrides: Mapping[str, float] | None = None) -> CostReport:
    """Price every registered resource of `synth` that has a rule in `RULES`."""
    estate = Estate(synth)
    table = load_table(PRICE_TABLE)
    traffic = traffic_profile(estate.environment, overrides)
    pricing = Pricing(estate, table, traffic)
    items: list[Item] = []
    unpriced: Counter[str] = Counter()
    for r in estate.custom():
        rule = RULES.get(r.type)
        if rule is None:
            unpriced[r.type] += 1
            continue
        for usd, basis in rule(r, pricing):
            items.append(Item(estate.owner(r), r.name, r.type, round(usd, 2), basis))
    return CostReport(synth.stack, estate.environment, items, traffic, table, unpriced)


def usd(value: float) -> str:
    return f"${value:,.2f}"


def render(report: CostReport, drivers: int = 8) -> str:
    """Markdown: the per-component table, the top cost drivers and the assumptions."""
    t = report.table
    total = report.total
    lines = [
        f"**Estimated** monthly cost of stack `{report.stack}`: **{usd(total)}** "
        f"({t['region']}, {t['currency']}, on-demand list prices of {t['date']}; "
        "an estimate, not a quote).",
        "",
        "| component | USD / month | share |",
        "|---|---:|---:|",
    ]
    for component, amount in report.by_component():
        if amount > 0:
            share = f"{amount / total:.0%}" if total else "-"
            lines.append(f"| {component} | {usd(amount)} | {share} |")
    lines += [f"| **total** | **{usd(total)}** | |", "", "Top cost drivers:", "",
              "| resource | component | USD / month | basis |", "|---|---|---:|---|"]  # fmt: skip
    for item in report.drivers(drivers):
        if item.monthly > 0:
            lines.append(f"| {item.resource} | {item.component} | {usd(item.monthly)} | "
                         f"{item.basis} |")  # fmt: skip
    a = report.assumptions
    lines += [
        "",
        f"Assumed traffic ({report.environment} profile): {a['monthly_streams']:,.0f} streams a "
        f"month of {a['avg_mb_per_stream']:g} MB, {a['api_requests_per_stream']:g} API calls "
        f"per stream, {a['nat_gb']:,.0f} GB through NAT, serverless capacity at "
        f"{a['serverless_load']:.0%} of its range. Prices: {t['source']}",
    ]
    if report.unpriced:
        names = ", ".join(f"{k.split(':')[-1]} x{n}" for k, n in sorted(report.unpriced.items()))
        lines += ["", f"Not priced (free, or usage the estimate does not model): {names}."]
    return "\n".join(lines)
