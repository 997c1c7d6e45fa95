"""Capacity model: which part of a stack saturates first as concurrent listeners grow.

Read from the registrations like the other insight commands: every limit below is found on a
registered resource (its instance class, throttle, reservation, node count …) or is the AWS
quota that applies to it (`data/capacity_model.json`, quoted with its default). The load one
listener puts on each part is a documented per-listener model in the same file, overridable.

Every demand grows with the listener count, so the count at which a limit is reached is found
by bisection (`Limit.saturates_at`); step-shaped limits (pods, nodes) bisect the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from soundstack.insight.estate import Estate, dig, load_table
from soundstack.synth import Resource, Synthesis

TABLE = "capacity_model.json"
#: Far beyond any stack: a demand that never reaches its limit below this is "no limit".
CEILING = 1e10
#: The API path prefix of each service's routes (components/api.py DEFAULT_ROUTES).
_SERVICES = ("catalog", "playlist", "activity", "recommendation", "payment", "feed")


@dataclass(frozen=True)
class Limit:
    """One thing that saturates: its capacity, and its demand at `n` concurrent listeners."""

    component: str
    what: str
    unit: str
    capacity: float
    demand: Callable[[float], float] = field(compare=False)
    knob: str
    source: str

    def utilisation(self, listeners: float) -> float:
        return self.demand(listeners) / self.capacity if self.capacity else math.inf

    def saturates_at(self) -> int | None:
        """The smallest listener count whose demand reaches the capacity (None: never)."""
        if self.demand(CEILING) < self.capacity:
            return None
        low, high = 0, 1
        while self.demand(high) < self.capacity:
            low, high = high, high * 2
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if self.demand(mid) < self.capacity else (low, mid)
        return high


@dataclass
class Model:
    """Per-listener load (with overrides applied), engine figures and quotas."""

    table: dict[str, Any]
    peak_factor: float
    load: dict[str, float]

    def rate(self, key: str, listeners: float) -> float:
        """`key` (a per-minute rate per listener) as a per-second rate at peak."""
        return self.load[key] * listeners * self.peak_factor / 60

    def engine(self, key: str) -> float:
        return float(self.table["engine"][key]["value"])

    def quota(self, key: str) -> tuple[float, str, str]:
        q = self.table["quotas"][key]
        return float(q["value"]), q["knob"], q["source"]


def model(overrides: Mapping[str, float] | None = None, peak_factor: float = 1.5) -> Model:
    """The load model, with `overrides` (load keys) checked and applied."""
    table = load_table(TABLE)
    load = {k: float(v["value"]) for k, v in table["load"].items()}
    unknown = sorted(set(overrides or {}) - set(load))
    if unknown:
        raise KeyError(f"unknown load keys {unknown}; use some of {sorted(load)}")
    if peak_factor < 1:
        raise ValueError(f"peak factor {peak_factor} < 1: peaks are at least the average")
    return Model(table, peak_factor, {**load, **(overrides or {})})


# -- what the estate registered -----------------------------------------------------------------


def _service(estate: Estate, r: Resource) -> str | None:
    """`catalog` for the `catalog-fn` component's resources, None elsewhere."""
    owner = estate.owner(r)
    name = owner.removesuffix("-fn")
    return name if owner.endswith("-fn") and name in (*_SERVICES, "auth") else None


def _vcpus(instance: str) -> float:
    """vCPUs of an instance type/class from its size (`db.r7g.xlarge` → 4)."""
    size = instance.removesuffix(".search").rsplit(".", 1)[-1]
    if size in ("micro", "small", "medium", "large"):
        return 2.0
    match = re.fullmatch(r"(\d*)xlarge", size)
    return 4.0 * int(match.group(1) or 1) if match else 2.0


def _memory_gib(instance: str) -> float:
    """Memory of an RDS instance class: r 8 GiB/vCPU, m 4, c 2; burstable by size."""
    family = instance.removeprefix("db.").split(".")[0]
    if family.startswith("t"):
        size = instance.rsplit(".", 1)[-1]
        return {"micro": 1.0, "small": 2.0, "medium": 4.0, "large": 8.0}.get(size, 8.0)
    per_vcpu = {"r": 8.0, "x": 16.0, "m": 4.0, "c": 2.0}.get(family[:1], 4.0)
    return per_vcpu * _vcpus(instance)


class _Estate:
    """The registrations the limits read, and the per-listener demand on each service."""

    def __init__(self, synth: Synthesis, m: Model) -> None:
        self.synth, self.m, self.estate = synth, m, Estate(synth)
        self.has_cluster = bool(synth.by_type("eks:index:Cluster"))
        self.functions = {
            s: r
            for r in synth.by_type("aws:lambda/function:Function")
            if (s := _service(self.estate, r)) is not None
        }

    def calls(self, service: str, listeners: float) -> float:
        """API calls/s to `service` at peak; part of catalog and recommendation goes to the
        cluster where one runs."""
        if service == "auth":
            return 0.0
        rate = self.m.rate(f"{service}_calls_per_min", listeners)
        if self.has_cluster and service in ("catalog", "recommendation"):
            rate *= 1 - self.m.load["cluster_share"]
        return rate

    def lambda_calls(self, listeners: float) -> float:
        return sum(self.calls(s, listeners) for s in _SERVICES)

    def concurrency(self, service: str, listeners: float) -> float:
        """Executions in flight for `service`'s function (requests x duration)."""
        load = self.m.load
        if service == "feed":
            connects = load["ws_connects_per_hour"] * listeners * self.m.peak_factor / 3600
            invoked = (self.calls("feed", listeners) + connects) * load["lambda_ms"]
            posts = self.m.rate("feed_messages_per_min", listeners) * load["feed_post_ms"]
            return (invoked + posts) / 1000
        ms = load["payment_lambda_ms"] if service == "payment" else load["lambda_ms"]
        return self.calls(service, listeners) * ms / 1000

    def db_functions(self) -> list[str]:
        return [
            s
            for s, r in self.functions.items()
            if dig(r.inputs, "environment", "variables", "DB_HOST")
        ]


# -- the limits ---------------------------------------------------------------------------------


def _api(e: _Estate) -> list[Limit]:
    if not e.synth.by_type("aws:apigatewayv2/api:Api"):
        return []
    m, limits = e.m, []
    cap, knob, source = m.quota("apigateway_account_rps")

    def account(n: float) -> float:
        connects = m.load["ws_connects_per_hour"] * n * m.peak_factor / 3600
        return e.lambda_calls(n) + connects + m.rate("feed_messages_per_min", n)

    limits.append(Limit("api", "API Gateway account throttle (HTTP + WebSocket + callbacks)",
                        "req/s", cap, account, knob, source))  # fmt: skip
    cap, knob, source = m.quota("websocket_new_connections_s")
    limits.append(Limit(
        "feed-socket", "WebSocket new connections", "conn/s", cap,
        lambda n: m.load["ws_connects_per_hour"] * n * m.peak_factor / 3600, knob, source,
    ))  # fmt: skip
    # route key → the names of the integrations its target was built from (api-<service>-…)
    routes = {
        r.inputs.get("routeKey"): " ".join(
            u.rsplit("::", 1)[-1] for u in r.property_dependencies.get("target", [])
        )
        for r in e.synth.by_type("aws:apigatewayv2/route:Route")
    }
    for stage in e.synth.by_type("aws:apigatewayv2/stage:Stage"):
        default = dig(stage.inputs, "defaultRouteSettings", "throttlingRateLimit")
        for setting in stage.inputs.get("routeSettings") or []:
            key = setting.get("routeKey", "")
            target = routes.get(key, "")
            service = next((s for s in _SERVICES if f"api-{s}-integration" in target), None)
            if service is None or not key.endswith("{proxy+}"):
                continue
            rate = setting.get("throttlingRateLimit", default)
            limits.append(Limit(
                e.estate.owner(stage), f"route throttle {key}", "req/s", float(rate),
                partial(e.calls, service),
                f"Route.rate_limit of {key} (HttpApiArgs.routes, components/api.py)",
                f"{stage.name}.routeSettings[{key}].throttlingRateLimit = {rate}",
            ))  # fmt: skip
    return limits


def _lambda(e: _Estate) -> list[Limit]:
    if not e.functions:
        return []
    m, limits = e.m, []
    account, knob, source = m.quota("lambda_account_concurrency")
    for service, r in e.functions.items():
        reserved = r.inputs.get("reservedConcurrentExecutions")
        if reserved is None or reserved < 0:
            continue
        limits.append(Limit(
            e.estate.owner(r), "Lambda reserved concurrency", "executions", float(reserved),
            partial(e.concurrency, service), "functions.reserved_concurrency",
            f"{r.name}.reservedConcurrentExecutions = {reserved}",
        ))  # fmt: skip
    limits.append(Limit(
        "functions", "Lambda account concurrency (all functions)", "executions", account,
        lambda n: sum(e.concurrency(s, n) for s in e.functions), knob, source,
    ))  # fmt: skip
    return limits


def _serverless_acu(clusters: list[Resource]) -> float:
    """The Aurora cluster's maximum ACU (Serverless v2)."""
    config = clusters[0].inputs if clusters else {}
    return float(dig(config, "serverlessv2ScalingConfiguration", "maxCapacity", default=1))


def _max_connections(r: Resource, clusters: list[Resource], m: Model) -> float:
    """PostgreSQL's default max_connections for the instance (Aurora: at its maximum ACU)."""
    if r.inputs.get("instanceClass") == "db.serverless":
        gib = _serverless_acu(clusters) * m.engine("gib_per_capacity_unit")
    else:
        gib = _memory_gib(str(r.inputs.get("instanceClass", "db.t4g.medium")))
    return min(gib * 2**30 / m.engine("pg_memory_per_connection"), 5000.0)


def _database(e: _Estate) -> list[Limit]:
    m, limits = e.m, []
    instances = [
        *e.synth.by_type("aws:rds/instance:Instance"),
        *e.synth.by_type("aws:rds/clusterInstance:ClusterInstance"),
    ]
    if not instances:
        return []
    writer, clusters = instances[0], e.synth.by_type("aws:rds/cluster:Cluster")
    db_services = e.db_functions()

    def connections(n: float) -> float:
        return sum(e.concurrency(s, n) for s in db_services)

    max_conn = _max_connections(writer, clusters, m)
    owner = e.estate.owner(writer)
    source = m.table["engine"]["pg_memory_per_connection"]["source"]
    proxies = e.synth.by_type("aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup")
    if proxies:
        percent = dig(proxies[0].inputs, "connectionPoolConfig", "maxConnectionsPercent",
                      default=100)  # fmt: skip
        limits.append(Limit(
            owner, f"RDS Proxy pool ({percent}% of max_connections {max_conn:,.0f})",
            "connections", max_conn * float(percent) / 100, connections,
            "database.instance_class (more memory: more connections) or the proxy's "
            "maxConnectionsPercent", source,
        ))  # fmt: skip
    else:
        limits.append(Limit(owner, f"max_connections ({max_conn:,.0f})", "connections",
                            max_conn, connections, "database.instance_class", source))  # fmt: skip
    if writer.inputs.get("instanceClass") == "db.serverless":
        acu = _serverless_acu(clusters)
        vcpu, what = acu * m.engine("vcpu_per_capacity_unit"), f"{acu:g} ACU max"
        knob = "database.max_capacity_acu"
    else:
        klass = str(writer.inputs.get("instanceClass"))
        vcpu, what, knob = _vcpus(klass), klass, "database.instance_class"

    def queries(n: float) -> float:
        per_call = m.load["db_queries_per_call"]
        return sum(e.calls(s, n) for s in db_services) * per_call

    limits.append(Limit(owner, f"PostgreSQL CPU ({what})", "queries/s",
                        vcpu * m.engine("db_queries_per_vcpu_s"), queries, knob,
                        m.table["engine"]["db_queries_per_vcpu_s"]["source"]))  # fmt: skip
    return limits


def _cache(e: _Estate) -> list[Limit]:
    m = e.m

    def ops(n: float) -> float:
        users = ("catalog", "playlist", "recommendation", "feed")
        return (sum(e.calls(s, n) for s in users) * m.load["cache_ops_per_call"]
                + m.rate("feed_messages_per_min", n))  # fmt: skip

    limits = []
    for r in e.synth.by_type("aws:elasticache/replicationGroup:ReplicationGroup"):
        shards = float(r.inputs.get("numNodeGroups") or 1)
        limits.append(Limit(
            e.estate.owner(r), f"Valkey primary ops ({r.inputs.get('nodeType')} x {shards:g})",
            "ops/s", shards * m.engine("cache_ops_per_node_s"), ops,
            "cache.node_type (or more shards)",
            m.table["engine"]["cache_ops_per_node_s"]["source"],
        ))  # fmt: skip
    for r in e.synth.by_type("aws:elasticache/serverlessCache:ServerlessCache"):
        default, knob, source = m.quota("serverless_cache_ecpu_s")
        cap = dig(r.inputs, "cacheUsageLimits", "ecpuPerSecond", "maximum", default=default)
        limits.append(Limit(e.estate.owner(r), "Valkey Serverless ECPU", "ECPU/s", float(cap),
                            ops, knob, source))  # fmt: skip
    return limits


def _stream_and_topic(e: _Estate) -> list[Limit]:
    m, limits = e.m, []

    def events(n: float) -> float:
        return m.rate("play_events_per_min", n)

    for r in e.synth.by_type("aws:kinesis/stream:Stream"):
        mode = dig(r.inputs, "streamModeDetails", "streamMode", default="PROVISIONED")
        if mode == "ON_DEMAND":
            cap, knob, source = m.quota("kinesis_on_demand_records_s")
        else:
            per_shard, knob, source = m.quota("kinesis_shard_records_s")
            cap = per_shard * float(r.inputs.get("shardCount") or 1)
        limits.append(Limit(e.estate.owner(r), f"Kinesis writes ({mode.lower()})", "records/s",
                            cap, events, knob, source))  # fmt: skip
    if e.synth.by_type("aws:sns/topic:Topic"):
        cap, knob, source = m.quota("sns_publish_s")
        limits.append(Limit("messaging", "SNS publishes (account, Region)", "publishes/s", cap,
                            events, knob, source))  # fmt: skip
    return limits


def _graph(e: _Estate) -> list[Limit]:
    m = e.m
    clusters = e.synth.by_type("aws:neptune/cluster:Cluster")
    if not clusters:
        return []
    scaling = clusters[0].inputs.get("serverlessV2ScalingConfiguration")
    instances = e.synth.by_type("aws:neptune/clusterInstance:ClusterInstance")
    if scaling:
        ncu = float(scaling.get("maxCapacity", 1))
        vcpu, what = ncu * m.engine("vcpu_per_capacity_unit"), f"{ncu:g} NCU max"
        knob = "graph.max_capacity_ncu"
    else:
        vcpu = sum(_vcpus(str(i.inputs.get("instanceClass"))) for i in instances)
        what = (
            f"{len(instances)} x {instances[0].inputs.get('instanceClass') if instances else '?'}"
        )
        knob = "graph.instance_class / graph.reader_count"

    def queries(n: float) -> float:
        users = ("activity", "recommendation", "feed")
        calls = sum(e.calls(s, n) for s in users)
        if e.has_cluster:  # the cluster's recommendation pods query the graph too
            calls += m.rate("recommendation_calls_per_min", n) * m.load["cluster_share"]
        return calls * m.load["graph_queries_per_call"] + m.rate("play_events_per_min", n)

    return [Limit(e.estate.owner(clusters[0]), f"Neptune ({what})", "queries/s",
                  vcpu * m.engine("graph_queries_per_vcpu_s"), queries, knob,
                  m.table["engine"]["graph_queries_per_vcpu_s"]["source"])]  # fmt: skip


def _search(e: _Estate) -> list[Limit]:
    m, limits = e.m, []
    for r in e.synth.by_type("aws:opensearch/domain:Domain"):
        count = float(dig(r.inputs, "clusterConfig", "instanceCount", default=1))
        kind = str(dig(r.inputs, "clusterConfig", "instanceType", default="r7g.large.search"))
        limits.append(Limit(
            e.estate.owner(r), f"OpenSearch searches ({count:g} x {kind})", "searches/s",
            count * _vcpus(kind) * m.engine("search_queries_per_vcpu_s"),
            lambda n: m.rate("catalog_calls_per_min", n) * m.load["search_share"],
            "search.instance_type / search.instance_count",
            m.table["engine"]["search_queries_per_vcpu_s"]["source"],
        ))  # fmt: skip
    return limits


def _edge(e: _Estate) -> list[Limit]:
    m, limits = e.m, []
    gbps, gknob, gsource = m.quota("cloudfront_gbps")
    rps, rknob, rsource = m.quota("cloudfront_rps")
    for r in e.synth.by_type("aws:cloudfront/distribution:Distribution"):
        owner = e.estate.owner(r)
        if "media" in owner or "media" in r.name:
            limits.append(
                Limit(
                    owner,
                    "CloudFront bandwidth (audio)",
                    "Gbit/s",
                    gbps,
                    lambda n: n * m.load["kbps_streamed"] / 1e6,
                    gknob,
                    gsource,
                )
            )
            limits.append(
                Limit(
                    owner,
                    "CloudFront requests (audio ranges)",
                    "req/s",
                    rps,
                    lambda n: m.rate("edge_requests_per_min", n),
                    rknob,
                    rsource,
                )
            )
        else:
            limits.append(Limit(owner, "CloudFront requests (app + /api)", "req/s", rps,
                                e.lambda_calls, rknob, rsource))  # fmt: skip
    nats = e.synth.by_type("aws:ec2/natGateway:NatGateway")
    if nats:
        per, knob, source = m.quota("nat_gbps")
        limits.append(Limit(
            "network", f"NAT gateway bandwidth ({len(nats)} gateways)", "Gbit/s",
            per * len(nats), lambda n: m.rate("nat_kb_per_min", n) * 8 / 1e6, knob, source,
        ))  # fmt: skip
    return limits


def _cluster(e: _Estate) -> list[Limit]:
    m, limits = e.m, []
    hpas = e.synth.by_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    pod_source = m.table["load"]["pod_rps"]["source"]

    def pods(service: str, minimum: float) -> Callable[[float], float]:
        key = f"{service}_calls_per_min"
        share = m.load["cluster_share"]
        return lambda n: max(minimum, math.ceil(m.rate(key, n) * share / m.load["pod_rps"]))

    wanted: list[Callable[[float], float]] = []
    for hpa in hpas:
        service = dig(hpa.inputs, "spec", "scaleTargetRef", "name", default="")
        if f"{service}_calls_per_min" not in m.load:
            continue
        need = pods(service, float(dig(hpa.inputs, "spec", "minReplicas", default=1)))
        wanted.append(need)
        top = float(dig(hpa.inputs, "spec", "maxReplicas", default=1))
        limits.append(Limit(e.estate.owner(hpa), f"HPA maxReplicas ({service})", "pods", top,
                            need, "the workload's HPA maxReplicas (components/cluster.py)",
                            pod_source))  # fmt: skip
    groups = e.synth.by_type("aws:eks/nodeGroup:NodeGroup")
    if wanted and groups:
        table = m.table["eks_max_pods"]["types"]
        system = float(m.table["system_pods_per_node"]["value"])
        slots = sum(
            float(dig(g.inputs, "scalingConfig", "maxSize", default=0))
            * (table.get((g.inputs.get("instanceTypes") or ["m7g.large"])[0], 29) - system)
            for g in groups
        )
        limits.append(Limit("cluster", "pods the node groups can hold at maxSize", "pods",
                            slots, lambda n: sum(w(n) for w in wanted),
                            "cluster.worker_nodes.max_size / instance_types",
                            m.table["eks_max_pods"]["source"]))  # fmt: skip
    return limits


_READERS = (_api, _lambda, _database, _cache, _stream_and_topic, _graph, _search, _edge, _cluster)


def limits(synth: Synthesis, m: Model) -> list[Limit]:
    """Every limit the stack's registrations imply, under load model `m`."""
    estate = _Estate(synth, m)
    return [limit for read in _READERS for limit in read(estate)]


# -- reports ------------------------------------------------------------------------------------


@dataclass
class Row:
    limit: Limit
    demand: float
    utilisation: float
    saturates_at: int | None


@dataclass
class Capacity:
    stack: str
    listeners: float
    peak_factor: float
    rows: list[Row]  # most utilised first

    @property
    def first(self) -> Row | None:
        """The limit reached at the fewest listeners."""
        reached = [r for r in self.rows if r.saturates_at is not None]
        return min(reached, key=lambda r: r.saturates_at or 0) if reached else None


def analyse(synth: Synthesis, listeners: float, m: Model) -> Capacity:
    rows = [
        Row(limit, limit.demand(listeners), limit.utilisation(listeners), limit.saturates_at())
        for limit in limits(synth, m)
    ]
    rows.sort(key=lambda r: (-r.utilisation, r.limit.component, r.limit.what))
    return Capacity(synth.stack, listeners, m.peak_factor, rows)


def monthly_streams(listeners: float, m: Model) -> float:
    """Streams a month when `listeners` is the busy-hour concurrency (for the cost estimate)."""
    return listeners * m.load["average_to_peak"] * m.load["stream_starts_per_min"] * 60 * 730


def _figure(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def render(c: Capacity) -> str:
    lines = [
        f"Capacity of stack {c.stack!r} at {c.listeners:,.0f} concurrent listeners "
        f"(peak factor {c.peak_factor:g}); most utilised first.",
        "",
        "| component | limit | demand | capacity | used | saturates at (listeners) | knob |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in c.rows:
        at = f"{r.saturates_at:,}" if r.saturates_at is not None else "never"
        lines.append(
            f"| {r.limit.component} | {r.limit.what} | {_figure(r.demand)} {r.limit.unit} | "
            f"{_figure(r.limit.capacity)} | {r.utilisation:.0%} | {at} | {r.limit.knob} |"
        )
    first = c.first
    if first is not None:
        lines += ["", f"First bottleneck: {first.limit.component}: {first.limit.what} at "
                      f"{first.saturates_at:,} listeners; raise: {first.limit.knob}."]  # fmt: skip
    return "\n".join(lines)


def as_json(c: Capacity) -> dict[str, Any]:
    first = c.first
    return {
        "stack": c.stack,
        "listeners": c.listeners,
        "peak_factor": c.peak_factor,
        "first_bottleneck": None if first is None else {
            "component": first.limit.component, "limit": first.limit.what,
            "listeners": first.saturates_at, "knob": first.limit.knob,
        },
        "limits": [
            {"component": r.limit.component, "limit": r.limit.what, "unit": r.limit.unit,
             "demand": round(r.demand, 3), "capacity": r.limit.capacity,
             "utilisation": round(r.utilisation, 4), "saturates_at": r.saturates_at,
             "knob": r.limit.knob, "source": r.limit.source}
            for r in c.rows
        ],
    }  # fmt: skip
