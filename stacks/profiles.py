"""Environment profiles (data, not code) and the rules prod cannot relax.

A stack file's values are merged over its environment's profile. Prod's profile is the model's
own defaults, which are production-grade; dev trades resilience for cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PROFILES: dict[str, dict[str, Any]] = {
    "dev": {
        # min_private_azs: a third private subnet (free) for Redshift Serverless's three AZs.
        "network": {
            "az_count": 2,
            "nat_gateways": "single",
            "flow_log_retention_days": 30,
            "min_private_azs": 3,
            # No EKS in dev: no ecr.api, ecr.dkr, sts; Lambda ships logs itself (no `logs`).
            "interface_endpoints": ["secretsmanager", "sqs", "sns", "kinesis-streams"],
        },
        "database": {
            "engine": "aurora-serverless",
            "instance_class": "db.t4g.medium",
            "allocated_storage_gb": 20,
            "min_capacity_acu": 0,
            "max_capacity_acu": 2,
            "multi_az": False,
            "backup_retention_days": 1,
            "deletion_protection": False,
            # RDS Proxy bills 8 ACU at least, more than the pausing Aurora behind it.
            "proxy": False,
        },
        # The graph's edge tables in the database (migration 0100): Neptune never goes below
        # 1 NCU (~$140/month). The Neptune keys stay for a stack that sets engine: neptune.
        "graph": {
            "engine": "postgres",
            "serverless": True,
            "max_capacity_ncu": 2.5,
            "reader_count": 0,
            "backup_retention_days": 1,
            "deletion_protection": False,
        },
        "cache": {
            "serverless": True,
            "node_type": "cache.t4g.micro",
            "replicas_per_shard": 0,
            "multi_az": False,
            "snapshot_retention_days": 1,
        },
        "search": {
            # A one-node domain: OpenSearch Serverless never drops below 1 OCU (~$190/month
            # with its VPC endpoint, against ~$29 for this node), so a dev stack picks it only
            # with `search.serverless: true`.
            # Dev's catalog searches with PostgreSQL full-text search (SEARCH_ENGINE=postgres);
            # the domain keys below apply to a dev stack that sets engine: opensearch.
            "engine": "postgres",
            "instance_type": "t3.small.search",
            "instance_count": 1,
            "dedicated_master": False,
            "zone_awareness": False,
            "volume_size_gb": 10,
        },
        "cluster": {
            "enabled": False,
            "system_nodes": {
                "instance_types": ["t4g.medium"],
                "min_size": 1,
                "max_size": 2,
                "desired_size": 1,
            },
            "worker_nodes": {
                "instance_types": ["t4g.medium"],
                "min_size": 0,
                "max_size": 2,
                "desired_size": 0,
            },
        },
        # No reservations: a new account's concurrency quota (often 10) leaves none to reserve.
        "functions": {
            "memory_mb": 256,
            "reserved_concurrency": None,
            "log_retention_days": 14,
            "code_signing": "off",
        },
        # One provisioned shard (1 MB/s in) carries dev's plays; on-demand bills ~3x that.
        "messaging": {
            "max_receive_count": 3,
            "kinesis_retention_hours": 24,
            "kinesis_mode": "PROVISIONED",
            "kinesis_shards": 1,
        },
        "edge": {
            "shield_advanced": False,
            "price_class": "PriceClass_100",
            "waf_rate_limit": 1000,
            "log_retention_days": 30,
        },
        "identity": {"mfa": "optional", "advanced_security": False, "deletion_protection": False},
        # Disposable: the databases' own short automated backups are enough, and a dev stack
        # may be down with its Region (no bucket replicas, no origin failover).
        "resilience": {
            "backups": False,
            "copy_to_replica": False,
            "vault_lock": False,
            "replicate_rds_backups": False,
            "replicate_buckets": False,
        },
        "analytics": {"redshift_base_capacity_rpu": 8, "quicksight": False},
        "monitoring": {
            "log_retention_days": 30,
            "trail_retention_days": 90,
            "trail_notifications": False,
            # dev carries little traffic and nobody is paged: alarm on clear breakage only.
            "thresholds": {
                "errors": 25,
                "5xx": 25,
                "cdn_5xx_rate": 15,
                "latency": 5000,
                "duration": 20000,
                "cpu": 90,
                "queue_age": 1800,
                "iterator_age": 600000,
            },
        },
    },
    "staging": {
        "network": {"az_count": 2, "flow_log_retention_days": 90, "min_private_azs": 3},
        "database": {"instance_class": "db.t4g.large", "backup_retention_days": 7},
        "graph": {"serverless": True, "reader_count": 0, "backup_retention_days": 7},
        "cache": {"node_type": "cache.t4g.medium", "snapshot_retention_days": 3},
        "search": {
            "instance_type": "t3.medium.search",
            "instance_count": 2,
            "dedicated_master": False,
        },
        "cluster": {
            "worker_nodes": {"min_size": 0, "max_size": 4, "desired_size": 1},
        },
        # Warn: staging is where a workstation may still deploy code the runner never signed.
        "functions": {"reserved_concurrency": 20, "log_retention_days": 90, "code_signing": "warn"},
        # A week of daily backups in the stack's Region, unlocked (restores get rehearsed here);
        # music and site replicate to the replica Region, so failover gets rehearsed too.
        "resilience": {
            "backup_retention_days": 7,
            "copy_to_replica": False,
            "vault_lock": False,
            "replicate_rds_backups": False,
        },
        "edge": {
            "shield_advanced": False,
            "price_class": "PriceClass_100",
            "log_retention_days": 90,
        },
        "monitoring": {
            "log_retention_days": 90,
            "trail_retention_days": 365,
            "trail_notifications": False,
            "thresholds": {"errors": 10, "5xx": 10, "latency": 3000, "queue_age": 600},
        },
    },
    "prod": {},
}


@dataclass(frozen=True)
class ProdRule:
    """A setting prod may not relax: the dotted key, the test, and why plus how to fix it."""

    key: str
    ok: Callable[[Any], bool]
    why: str
    fix: str


PROD_RULES: tuple[ProdRule, ...] = (
    ProdRule("network.az_count", lambda v: v >= 2,
             "prod needs ≥ 2 AZs for multi-AZ databases", "network.az_count: 3"),
    ProdRule("network.nat_gateways", lambda v: v == "per_az",
             "one NAT gateway is a single point of failure", "network.nat_gateways: per_az"),
    ProdRule("network.flow_log_retention_days", lambda v: v >= 365,
             "PCI DSS 10.5.1 keeps audit logs ≥ 12 months", "network.flow_log_retention_days: 365"),
    ProdRule("database.multi_az", lambda v: v is True,
             "a single-AZ database goes down with its zone", "database.multi_az: true"),
    ProdRule("database.deletion_protection", lambda v: v is True,
             "a prod database must survive a stray `pulumi destroy`",
             "database.deletion_protection: true"),
    ProdRule("database.backup_retention_days", lambda v: v >= 7,
             "prod keeps ≥ 7 days of backups", "database.backup_retention_days: 14"),
    ProdRule("database.engine", lambda v: v == "postgres",
             "Aurora Serverless scales to zero and is meant for dev", "database.engine: postgres"),
    ProdRule("database.proxy", lambda v: v is True,
             "RDS Proxy pools the functions' connections and hides a failover from them",
             "database.proxy: true"),
    ProdRule("graph.engine", lambda v: v == "neptune",
             "prod's graph traversals need Neptune, not edge tables in the shared database",
             "graph.engine: neptune"),
    ProdRule("graph.deletion_protection", lambda v: v is True,
             "a prod graph must survive a stray `pulumi destroy`",
             "graph.deletion_protection: true"),
    ProdRule("graph.backup_retention_days", lambda v: v >= 7,
             "prod keeps ≥ 7 days of backups", "graph.backup_retention_days: 14"),
    ProdRule("graph.reader_count", lambda v: v >= 1,
             "a reader in another AZ is the failover target", "graph.reader_count: 1"),
    ProdRule("cache.multi_az", lambda v: v is True,
             "automatic failover needs a replica in another AZ", "cache.multi_az: true"),
    ProdRule("cache.replicas_per_shard", lambda v: v >= 1,
             "automatic failover needs a replica", "cache.replicas_per_shard: 1"),
    ProdRule("cache.snapshot_retention_days", lambda v: v >= 7,
             "prod keeps ≥ 7 days of snapshots", "cache.snapshot_retention_days: 7"),
    ProdRule("search.engine", lambda v: v == "opensearch",
             "prod's catalog search needs OpenSearch's relevance and scale, not the database's",
             "search.engine: opensearch"),
    ProdRule("search.serverless", lambda v: v is False,
             "prod search is a domain: only a domain publishes audit and error logs "
             "(Opensearch.4/.5, PCI 10.2.1) and runs the zone-aware nodes and masters below",
             "search.serverless: false"),
    ProdRule("search.zone_awareness", lambda v: v is True,
             "search must survive an AZ outage", "search.zone_awareness: true"),
    ProdRule("search.dedicated_master", lambda v: v is True,
             "dedicated masters keep the cluster stable under load",
             "search.dedicated_master: true"),
    ProdRule("search.instance_count", lambda v: v >= 3,
             "Opensearch.6 wants ≥ 3 data nodes", "search.instance_count: 3"),
    ProdRule("cluster.public_endpoint", lambda v: v is False,
             "the prod Kubernetes API is reached through the VPC only",
             "cluster.public_endpoint: false"),
    ProdRule("identity.mfa", lambda v: v == "required",
             "prod accounts hold payment state", "identity.mfa: required"),
    ProdRule("identity.advanced_security", lambda v: v is True,
             "Cognito.1 wants threat protection enforced", "identity.advanced_security: true"),
    ProdRule("identity.deletion_protection", lambda v: v is True,
             "prod accounts must survive a stray `pulumi destroy`",
             "identity.deletion_protection: true"),
    ProdRule("edge.shield_advanced", lambda v: v is True,
             "prod's public endpoints need DDoS protection", "edge.shield_advanced: true"),
    ProdRule("resilience.replica_region", lambda v: v is not None,
             "prod backups are copied to a second Region", "resilience.replica_region: "
             "eu-central-1 (any Region but the stack's)"),
    ProdRule("resilience.backups", lambda v: v is True,
             "prod data must survive a corrupted database or a deleted bucket",
             "resilience.backups: true"),
    ProdRule("resilience.copy_to_replica", lambda v: v is True,
             "prod backups must survive a regional outage", "resilience.copy_to_replica: true"),
    ProdRule("resilience.vault_lock", lambda v: v is True,
             "a stolen admin credential must not be able to delete prod's backups",
             "resilience.vault_lock: true"),
    ProdRule("resilience.replicate_rds_backups", lambda v: v is True,
             "point-in-time restore must be possible in the replica Region",
             "resilience.replicate_rds_backups: true"),
    ProdRule("resilience.replicate_buckets", lambda v: v is True,
             "music and the web app must keep streaming when the stack's Region is down",
             "resilience.replicate_buckets: true"),
    ProdRule("functions.code_signing", lambda v: v == "enforce",
             "prod functions run only code the deploy runner signed with the stack's profile",
             "functions.code_signing: enforce"),
    ProdRule("monitoring.alarm_email", bool,
             "prod alarms must reach a person", "monitoring.alarm_email: oncall@example.com"),
    ProdRule("monitoring.log_retention_days", lambda v: v >= 365,
             "PCI DSS 10.5.1 keeps audit logs ≥ 12 months", "monitoring.log_retention_days: 365"),
    ProdRule("monitoring.trail_retention_days", lambda v: v >= 365,
             "PCI DSS 10.5.1 keeps audit logs ≥ 12 months",
             "monitoring.trail_retention_days: 365"),
    ProdRule("monitoring.trail_notifications", lambda v: v is True,
             "prod's log pipeline follows CloudTrail's delivery notifications",
             "monitoring.trail_notifications: true"),
)  # fmt: skip
