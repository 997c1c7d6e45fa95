"""ElastiCache (Valkey) for sessions, hot catalog reads and rate limits.

A replication group (prod: a replica in another AZ, automatic failover, multi-AZ) or a serverless
cache (dev). Either way: encrypted at rest with the data key and in transit (TLS required), and
no shared password: access goes through an RBAC user group whose `default` user is switched off
and whose `app` user authenticates with IAM. `grant_connect(grantee)` adds
`elasticache:Connect` on the cache and that user, and opens port 6379 to the grantee.
Clients sign in as `app_user_name` with a SigV4 token (`elasticache:Connect`), valid 15 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from soundstack.components import access
from soundstack.components.base import Component, StackContext
from soundstack.components.iam import Grantee
from soundstack.components.logs import log_group
from soundstack.components.network import Network

REDIS_PORT = 6379
#: Role of the user services sign in as (its name is `<project>-<stack>-<cache>-app`).
APP_USER = "app"


@dataclass
class CacheArgs:
    """Shape of the cache. Defaults are production-grade: primary plus replica across AZs."""

    network: Network
    #: Customer-managed KMS key for data at rest and snapshots.
    kms_key_arn: pulumi.Input[str]
    #: KMS key of the slow/engine log groups; None uses CloudWatch's own encryption.
    log_kms_key_arn: pulumi.Input[str] | None = None
    #: Serverless scales on its own and always replicates across AZs (cheap when idle: dev).
    serverless: bool = False
    engine_version: str = "8.0"
    node_type: str = "cache.r7g.large"
    #: Read replicas of the primary; ≥ 1 enables automatic failover.
    replicas_per_shard: int = 1
    multi_az: bool = True
    #: Daily snapshots kept this many days (0 turns snapshots off).
    snapshot_retention_days: int = 7
    #: Serverless ceiling on stored data (GB).
    serverless_max_storage_gb: int = 5
    log_retention_days: int = 365

    def __post_init__(self) -> None:
        if self.multi_az and not self.serverless and self.replicas_per_shard < 1:
            raise ValueError(
                "cache.multi_az=true needs cache.replicas_per_shard ≥ 1 (a replica to fail "
                "over to); set cache.replicas_per_shard: 1 or cache.multi_az: false"
            )


class Cache(Component):
    """A Valkey cache reachable only by granted services, with IAM sign-in."""

    TYPE = "soundstack:cache:Cache"

    def __init__(
        self,
        name: str,
        args: CacheArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self._admitted: set[str] = set()
        net = args.network
        self.security_group = net.security_group(self, "cache", f"{name}: Valkey, granted only")
        self.security_group_id: pulumi.Output[str] = self.security_group.id
        major = args.engine_version.split(".")[0]

        # RBAC: ElastiCache insists on a user named `default`; ours is switched off.
        default_user = aws.elasticache.User(
            self.child_name("default-user"),
            user_id=self.physical_name("default", "elasticache"),
            user_name="default",
            engine="valkey",
            access_string="off -@all",
            authentication_mode={"type": "no-password-required"},
            tags=self.tags(),
            opts=self.child_opts(),
        )
        #: The user name clients sign in as (IAM needs user id == user name).
        self.app_user_name = self.physical_name(APP_USER, "elasticache")
        self.app_user = aws.elasticache.User(
            self.child_name("app-user"),
            user_id=self.app_user_name,
            user_name=self.app_user_name,
            engine="valkey",
            access_string="on ~* +@all -@dangerous",
            authentication_mode={"type": "iam"},
            tags=self.tags(),
            opts=self.child_opts(),
        )
        users = aws.elasticache.UserGroup(
            self.child_name("users"),
            user_group_id=self.physical_name("users", "elasticache"),
            engine="valkey",
            user_ids=[default_user.user_id, self.app_user.user_id],
            tags=self.tags(),
            opts=self.child_opts(),
        )
        if args.serverless:
            self.serverless_cache = aws.elasticache.ServerlessCache(
                self.child_name("serverless"),
                name=self.physical_name("", "elasticache"),
                description=f"{name}: serverless Valkey",
                engine="valkey",
                major_engine_version=major,
                kms_key_id=args.kms_key_arn,
                subnet_ids=net.isolated_subnet_ids,
                security_group_ids=[self.security_group.id],
                user_group_id=users.user_group_id,
                snapshot_retention_limit=args.snapshot_retention_days,
                daily_snapshot_time="02:00",
                cache_usage_limits={
                    "data_storage": {"maximum": args.serverless_max_storage_gb, "unit": "GB"}
                },
                tags=self.tags(),
                opts=self.child_opts(),
            )
            self.arn: pulumi.Output[str] = self.serverless_cache.arn
            self.endpoint: pulumi.Output[str] = self.serverless_cache.endpoints.apply(
                lambda endpoints: endpoints[0].address
            )
            self.reader_endpoint: pulumi.Output[str] = self.serverless_cache.reader_endpoints.apply(
                lambda endpoints: endpoints[0].address
            )
            self.add_signal(
                "throttles",
                f"{name} throttled commands",
                "AWS/ElastiCache",
                "ThrottledCmds",
                {"clusterId": self.serverless_cache.name},
            )
        else:
            self._replication_group(args, users.user_group_id, major)
        self.port = REDIS_PORT
        self.register_outputs(
            {"endpoint": self.endpoint, "reader_endpoint": self.reader_endpoint, "arn": self.arn}
        )

    def _replication_group(
        self, args: CacheArgs, user_group_id: pulumi.Output[str], major: str
    ) -> None:
        subnets = aws.elasticache.SubnetGroup(
            self.child_name("subnets"),
            name=self.physical_name("", "elasticache"),
            description=f"{self.logical_name}: isolated subnets",
            subnet_ids=args.network.isolated_subnet_ids,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        params = aws.elasticache.ParameterGroup(
            self.child_name("params"),
            name=self.physical_name("", "elasticache"),
            family=f"valkey{major}",
            description=f"{self.logical_name}: evict least-recently-used keys when full",
            parameters=[{"name": "maxmemory-policy", "value": "allkeys-lru"}],
            tags=self.tags(),
            opts=self.child_opts(),
        )
        logs = {
            kind: log_group(self, kind, args.log_retention_days, args.log_kms_key_arn)
            for kind in ("slow-log", "engine-log")
        }
        failover = args.replicas_per_shard >= 1
        self.replication_group = aws.elasticache.ReplicationGroup(
            self.child_name("redis"),
            replication_group_id=self.physical_name("", "elasticache"),
            description=f"{self.logical_name}: Valkey",
            engine="valkey",
            engine_version=args.engine_version,
            node_type=args.node_type,
            port=REDIS_PORT,
            num_cache_clusters=1 + args.replicas_per_shard,
            automatic_failover_enabled=failover,
            multi_az_enabled=args.multi_az and failover,
            at_rest_encryption_enabled=True,
            kms_key_id=args.kms_key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            user_group_ids=[user_group_id],
            subnet_group_name=subnets.name,
            security_group_ids=[self.security_group.id],
            parameter_group_name=params.name,
            snapshot_retention_limit=args.snapshot_retention_days,
            snapshot_window="02:00-03:00",
            maintenance_window="sun:03:30-sun:04:30",
            auto_minor_version_upgrade=True,
            log_delivery_configurations=[
                {
                    "destination": group.name,
                    "destination_type": "cloudwatch-logs",
                    "log_format": "json",
                    "log_type": kind,
                }
                for kind, group in logs.items()
            ],
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self.arn = self.replication_group.arn
        self.endpoint = self.replication_group.primary_endpoint_address
        self.reader_endpoint = self.replication_group.reader_endpoint_address
        primary = self.replication_group.member_clusters.apply(lambda nodes: sorted(nodes)[0])
        self.add_signal(
            "memory",
            f"{self.logical_name} memory used %",
            "AWS/ElastiCache",
            "DatabaseMemoryUsagePercentage",
            {"CacheClusterId": primary},
            statistic="Maximum",
        )

    def allow_from(self, grantee: Grantee) -> None:
        """Let `grantee`'s security group reach the cache on 6379 (network only)."""
        access.open_port(
            self, self.security_group.id, grantee, REDIS_PORT, "Valkey", self._admitted
        )

    def grant_connect(self, grantee: Grantee) -> None:
        """Let `grantee` sign in to the cache as the `app` user with IAM."""
        access.grant(
            grantee,
            access.sid("Connect", self.logical_name),
            ["elasticache:Connect"],
            [self.arn, self.app_user.arn],
        )
        self.allow_from(grantee)
