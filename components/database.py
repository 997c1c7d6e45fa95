"""The relational store: RDS PostgreSQL (or Aurora PostgreSQL Serverless v2), behind RDS Proxy.

One database serves the catalog, playlists and user preferences. It holds one PostgreSQL
database (`db_name`, default `soundstack`) with one schema per service — `catalog`, `playlists`,
`preferences` — each owned by a login role of the same name that is granted `rds_iam`. Schemas
(not separate databases) keep cross-service reads such as "tracks of a playlist" one query away,
while each service's role owns only its own schema. The services' migrations create the roles
and schemas (connecting with the master secret, see `grant_admin`); this component only
provisions.

Services never hold a password: they connect to the proxy with an IAM token for their schema's
role (`grant_connect`), and the proxy reaches the database with IAM as well (end-to-end IAM
authentication). The master password is generated and rotated by RDS in Secrets Manager.
Without the proxy (`proxy=False`, dev: RDS Proxy bills 8 ACU at least, more than a pausing
Aurora), services connect to the writer endpoint itself, still with IAM tokens, and their IAM
grants name the database's own resource id (`cluster-…` / `db-…`) instead of the proxy's `prx-…`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from soundstack.components import access, lookups
from soundstack.components.base import Component, StackContext
from soundstack.components.iam import Grantee, ServiceRole, ServiceRoleArgs
from soundstack.components.logs import log_group
from soundstack.components.network import Network, allow_from

#: The port RDS Proxy listens on for PostgreSQL clients (fixed by AWS).
PROXY_PORT = 5432
#: Schemas (and their owning roles) the services use, one per service.
SERVICE_USERS = ("catalog", "playlists", "preferences", "accounts", "payments", "activity")
#: Roles added when the activity graph lives in PostgreSQL (`graph.engine: postgres`): the feed
#: reads who follows whom (migration 0340); activity writes the graph as `activity`.
GRAPH_USERS = ("feed",)


@dataclass
class DatabaseArgs:
    """Shape of the relational store. Defaults are production-grade."""

    network: Network
    #: Customer-managed KMS key for storage, snapshots, Performance Insights and the master secret.
    kms_key_arn: pulumi.Input[str]
    #: KMS key of the exported PostgreSQL logs; None uses CloudWatch's own encryption.
    log_kms_key_arn: pulumi.Input[str] | None = None
    #: `postgres` is one RDS instance (multi-AZ standby in prod); `aurora-serverless` is Aurora
    #: PostgreSQL Serverless v2, which can pause at 0 ACU (dev).
    engine: Literal["postgres", "aurora-serverless"] = "postgres"
    #: PostgreSQL major version; RDS applies minor versions in the maintenance window.
    major_version: int = 17
    #: Aurora needs a full version to create a cluster; minor upgrades still apply automatically.
    aurora_version: str = "17.4"
    instance_class: str = "db.r7g.large"
    allocated_storage_gb: int = 100
    #: Storage autoscaling ceiling, as a multiple of `allocated_storage_gb`.
    max_storage_factor: int = 4
    min_capacity_acu: float = 0.5
    max_capacity_acu: float = 8
    #: A synchronous standby in another AZ (Aurora: a second instance).
    multi_az: bool = True
    #: Daily backups plus point-in-time recovery over this many days.
    backup_retention_days: int = 14
    deletion_protection: bool = True
    #: Take a snapshot named `<identifier>-final` when the database is deleted.
    final_snapshot: bool = True
    #: Not the engine's default port (RDS.23); clients use the proxy on 5432.
    port: int = 5433
    db_name: str = "soundstack"
    #: Database roles services may connect as through the proxy (one per schema).
    users: Sequence[str] = field(default_factory=lambda: SERVICE_USERS)
    log_retention_days: int = 365
    #: Enhanced monitoring granularity (OS metrics every N seconds).
    monitoring_interval_seconds: int = 60
    #: Seconds an idle client connection to the proxy stays open.
    proxy_idle_client_timeout: int = 1800
    #: Services connect through RDS Proxy (pooling, fast failover); False: straight to the
    #: writer on `port`, with IAM authentication all the same.
    proxy: bool = True

    def __post_init__(self) -> None:
        if self.port == PROXY_PORT:
            raise ValueError(
                f"database.port={self.port} is PostgreSQL's default port (RDS.23); use e.g. 5433"
            )
        if not self.users:
            raise ValueError("database.users is empty; name at least one service role")


class Database(Component):
    """PostgreSQL for catalog, playlists and preferences, reached through RDS Proxy with IAM."""

    TYPE = "soundstack:database:Database"

    def __init__(
        self,
        name: str,
        args: DatabaseArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.args = args
        self._admitted: set[str] = set()
        self._account = lookups.account_id()
        self._partition = lookups.partition()
        net = args.network
        if args.proxy:
            self.security_group = net.security_group(self, "db", f"{name}: PostgreSQL, proxy only")
            self.proxy_security_group = net.security_group(
                self, "proxy", f"{name}: RDS Proxy, granted services only"
            )
            #: What clients reach: the proxy's group (the database admits only the proxy).
            self.security_group_id: pulumi.Output[str] = self.proxy_security_group.id
            allow_from(
                self,
                "from-proxy",
                self.security_group.id,
                self.proxy_security_group.id,
                args.port,
                "RDS Proxy to PostgreSQL",
            )
        else:
            self.security_group = net.security_group(
                self, "db", f"{name}: PostgreSQL, granted services only"
            )
            self.security_group_id = self.security_group.id
        self.subnet_group = aws.rds.SubnetGroup(
            self.child_name("subnets"),
            name=self.physical_name("", "rds"),
            description=f"{name}: isolated subnets",
            subnet_ids=net.isolated_subnet_ids,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self.identifier = self.physical_name("", "rds")
        monitoring = ServiceRole(
            self.child_name("monitoring"),
            ServiceRoleArgs(
                services=["monitoring.rds.amazonaws.com"],
                managed_policy_arns=[
                    f"arn:{self._partition}:iam::aws:policy/service-role/"
                    "AmazonRDSEnhancedMonitoringRole"
                ],
            ),
            ctx,
            opts=self.child_opts(),
        )
        if args.engine == "postgres":
            self._instance(args, monitoring.role_arn)
        else:
            self._aurora(args, monitoring.role_arn)
        if args.proxy:
            self._proxy(args)
            #: Host and port services connect to (`ServiceSettings.db_host`).
            self.client_endpoint: pulumi.Output[str] = self.proxy_endpoint
            self.port = PROXY_PORT
            self._connect_resource_id = self.proxy_resource_id
        else:
            self.client_endpoint = self.endpoint
            self.port = args.port
            # "arn:aws:rds-db:region:account-id:dbuser:DbClusterResourceId/db-user-name" (Aurora
            # User Guide, "Creating and using an IAM policy for IAM database access"): the
            # cluster's `cluster-…` id for Aurora, the instance's `db-…` id for RDS.
            self._connect_resource_id = self.resource_id
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "reader_endpoint": self.reader_endpoint,
                "client_endpoint": self.client_endpoint,
                "master_secret_arn": self.master_secret_arn,
            }
        )

    # -- engines -------------------------------------------------------------------------
    def _parameters(self) -> list[dict[str, str]]:
        return [
            {"name": "rds.force_ssl", "value": "1"},
            {"name": "ssl_min_protocol_version", "value": "TLSv1.2"},
            {"name": "log_connections", "value": "1"},
            {"name": "log_disconnections", "value": "1"},
            {"name": "log_min_duration_statement", "value": "1000"},
        ]

    def _log_groups(self, kind: str, exports: Sequence[str]) -> list[aws.cloudwatch.LogGroup]:
        # Created before the database so RDS writes into groups with retention and KMS.
        return [
            log_group(
                self,
                export,
                self.args.log_retention_days,
                self.args.log_kms_key_arn,
                name=f"/aws/rds/{kind}/{self.identifier}/{export}",
            )
            for export in exports
        ]

    def _instance(self, args: DatabaseArgs, monitoring_role_arn: pulumi.Output[str]) -> None:
        params = aws.rds.ParameterGroup(
            self.child_name("params"),
            name=self.physical_name("", "rds"),
            family=f"postgres{args.major_version}",
            description=f"{self.logical_name}: TLS only, connection and slow-query logging",
            parameters=self._parameters(),
            tags=self.tags(),
            opts=self.child_opts(),
        )
        exports = ["postgresql", "upgrade"]
        logs = self._log_groups("instance", exports)
        self.instance = aws.rds.Instance(
            self.child_name("instance"),
            identifier=self.identifier,
            engine="postgres",
            engine_version=str(args.major_version),
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gb,
            max_allocated_storage=args.allocated_storage_gb * args.max_storage_factor,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            db_name=args.db_name,
            username="soundstack_admin",
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.kms_key_arn,
            port=args.port,
            db_subnet_group_name=self.subnet_group.name,
            vpc_security_group_ids=[self.security_group.id],
            publicly_accessible=False,
            multi_az=args.multi_az,
            parameter_group_name=params.name,
            iam_database_authentication_enabled=True,
            ca_cert_identifier="rds-ca-rsa2048-g1",
            backup_retention_period=args.backup_retention_days,
            backup_window="02:00-03:00",
            maintenance_window="sun:03:30-sun:04:30",
            delete_automated_backups=False,
            copy_tags_to_snapshot=True,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.final_snapshot,
            final_snapshot_identifier=f"{self.identifier}-final" if args.final_snapshot else None,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key_arn,
            performance_insights_retention_period=7,
            monitoring_interval=args.monitoring_interval_seconds,
            monitoring_role_arn=monitoring_role_arn,
            enabled_cloudwatch_logs_exports=exports,
            tags=self.tags(),
            opts=self.child_opts(depends_on=logs),
        )
        self.endpoint: pulumi.Output[str] = self.instance.address
        #: What AWS Backup selects: the instance (or, on Aurora, the cluster).
        self.arn: pulumi.Output[str] = self.instance.arn
        self.reader_endpoint: pulumi.Output[str] | None = None
        self.resource_id: pulumi.Output[str] = self.instance.resource_id
        self.master_secret_arn: pulumi.Output[str] = self.instance.master_user_secrets.apply(
            lambda secrets: secrets[0].secret_arn
        )
        dims = {"DBInstanceIdentifier": self.instance.identifier}
        self.add_signal(
            "cpu",
            f"{self.logical_name} CPU %",
            "AWS/RDS",
            "CPUUtilization",
            dims,
            statistic="Average",
        )
        self.add_signal(
            "free_storage",
            f"{self.logical_name} free storage (bytes)",
            "AWS/RDS",
            "FreeStorageSpace",
            dims,
            statistic="Minimum",
            comparison="LessThanThreshold",
        )

    def _aurora(self, args: DatabaseArgs, monitoring_role_arn: pulumi.Output[str]) -> None:
        params = aws.rds.ClusterParameterGroup(
            self.child_name("params"),
            name=self.physical_name("", "rds"),
            family=f"aurora-postgresql{args.major_version}",
            description=f"{self.logical_name}: TLS only, connection and slow-query logging",
            parameters=self._parameters(),
            tags=self.tags(),
            opts=self.child_opts(),
        )
        exports = ["postgresql"]
        logs = self._log_groups("cluster", exports)
        scaling: dict[str, float | int] = {
            "min_capacity": args.min_capacity_acu,
            "max_capacity": args.max_capacity_acu,
        }
        if args.min_capacity_acu == 0:
            scaling["seconds_until_auto_pause"] = 1800
        self.cluster = aws.rds.Cluster(
            self.child_name("cluster"),
            cluster_identifier=self.identifier,
            engine="aurora-postgresql",
            engine_mode="provisioned",
            engine_version=args.aurora_version,
            database_name=args.db_name,
            master_username="soundstack_admin",
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.kms_key_arn,
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            port=args.port,
            db_subnet_group_name=self.subnet_group.name,
            vpc_security_group_ids=[self.security_group.id],
            db_cluster_parameter_group_name=params.name,
            iam_database_authentication_enabled=True,
            serverlessv2_scaling_configuration=scaling,
            backup_retention_period=args.backup_retention_days,
            preferred_backup_window="02:00-03:00",
            preferred_maintenance_window="sun:03:30-sun:04:30",
            copy_tags_to_snapshot=True,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.final_snapshot,
            final_snapshot_identifier=f"{self.identifier}-final" if args.final_snapshot else None,
            enabled_cloudwatch_logs_exports=exports,
            tags=self.tags(),
            opts=self.child_opts(depends_on=logs),
        )
        roles = ["writer", "reader"] if args.multi_az else ["writer"]
        self.cluster_instances = [
            aws.rds.ClusterInstance(
                self.child_name(role),
                identifier=self.physical_name(role, "rds"),
                cluster_identifier=self.cluster.id,
                engine="aurora-postgresql",
                engine_version=self.cluster.engine_version,
                instance_class="db.serverless",
                db_subnet_group_name=self.subnet_group.name,
                publicly_accessible=False,
                promotion_tier=i,
                auto_minor_version_upgrade=True,
                ca_cert_identifier="rds-ca-rsa2048-g1",
                copy_tags_to_snapshot=True,
                performance_insights_enabled=True,
                performance_insights_kms_key_id=args.kms_key_arn,
                performance_insights_retention_period=7,
                monitoring_interval=args.monitoring_interval_seconds,
                monitoring_role_arn=monitoring_role_arn,
                tags=self.tags(),
                opts=self.child_opts(),
            )
            for i, role in enumerate(roles)
        ]
        self.endpoint = self.cluster.endpoint
        self.arn = self.cluster.arn
        self.reader_endpoint = self.cluster.reader_endpoint
        self.resource_id = self.cluster.cluster_resource_id
        self.master_secret_arn = self.cluster.master_user_secrets.apply(
            lambda secrets: secrets[0].secret_arn
        )
        dims = {"DBClusterIdentifier": self.cluster.cluster_identifier}
        self.add_signal(
            "cpu",
            f"{self.logical_name} CPU %",
            "AWS/RDS",
            "CPUUtilization",
            dims,
            statistic="Average",
        )

    # -- proxy ---------------------------------------------------------------------------
    def _dbuser_arn(self, resource_id: pulumi.Input[str], user: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            f"arn:{self._partition}:rds-db:{self.ctx.region}:{self._account}:dbuser:",
            resource_id,
            f"/{user}",
        )

    def _proxy(self, args: DatabaseArgs) -> None:
        role = ServiceRole(
            self.child_name("proxy-role"),
            ServiceRoleArgs(services=["rds.amazonaws.com"]),
            self.ctx,
            opts=self.child_opts(),
        )
        # End-to-end IAM: the proxy signs in to PostgreSQL as each service role with IAM too.
        role.grant(
            "ProxyConnectsAsServiceRoles",
            ["rds-db:connect"],
            [self._dbuser_arn(self.resource_id, user) for user in args.users],
        )
        self.proxy = aws.rds.Proxy(
            self.child_name("proxy"),
            name=self.physical_name("", "rds"),
            engine_family="POSTGRESQL",
            default_auth_scheme="IAM_AUTH",
            require_tls=True,
            debug_logging=False,
            idle_client_timeout=args.proxy_idle_client_timeout,
            role_arn=role.role_arn,
            vpc_subnet_ids=args.network.isolated_subnet_ids,
            vpc_security_group_ids=[self.proxy_security_group.id],
            tags=self.tags(),
            opts=self.child_opts(),
        )
        target_group = aws.rds.ProxyDefaultTargetGroup(
            self.child_name("proxy-targets"),
            db_proxy_name=self.proxy.name,
            connection_pool_config={
                "max_connections_percent": 90,
                "max_idle_connections_percent": 50,
                "connection_borrow_timeout": 120,
            },
            opts=self.child_opts(),
        )
        target = (
            {"db_instance_identifier": self.instance.identifier}
            if args.engine == "postgres"
            else {"db_cluster_identifier": self.cluster.cluster_identifier}
        )
        aws.rds.ProxyTarget(
            self.child_name("proxy-target"),
            db_proxy_name=self.proxy.name,
            target_group_name=target_group.name,
            opts=self.child_opts(),
            **target,
        )
        self.proxy_endpoint: pulumi.Output[str] = self.proxy.endpoint
        #: `prx-…`: the resource id IAM policies name for connections through the proxy.
        self.proxy_resource_id: pulumi.Output[str] = self.proxy.arn.apply(
            lambda arn: arn.rsplit(":", 1)[-1]
        )

    # -- verbs ---------------------------------------------------------------------------
    def allow_from(self, grantee: Grantee) -> None:
        """Let `grantee`'s security group reach the proxy on 5432, or without a proxy the
        database on its port (network only)."""
        what = "RDS Proxy" if self.args.proxy else "PostgreSQL"
        access.open_port(self, self.security_group_id, grantee, self.port, what, self._admitted)

    def grant_connect(self, grantee: Grantee, user: str = SERVICE_USERS[0]) -> None:
        """Let `grantee` connect (through the proxy, if any) as database role `user` with an IAM
        token."""
        if user not in self.args.users:
            raise ValueError(
                f"{self.logical_name}.grant_connect: unknown database role {user!r}; "
                f"use one of {', '.join(self.args.users)} or add it to DatabaseArgs.users"
            )
        access.grant(
            grantee,
            access.sid("Connect", self.logical_name, "as", user),
            ["rds-db:connect"],
            [self._dbuser_arn(self._connect_resource_id, user)],
        )
        self.allow_from(grantee)

    def grant_admin(self, grantee: Grantee) -> None:
        """Let a migration job read the master secret and reach PostgreSQL directly."""
        access.grant(
            grantee,
            access.sid("Read", self.logical_name, "master secret"),
            ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            [self.master_secret_arn],
        )
        access.grant(
            grantee,
            access.sid("Decrypt", self.logical_name, "master secret"),
            access.KMS_DECRYPT,
            [self.args.kms_key_arn],
        )
        access.open_port(
            self, self.security_group.id, grantee, self.args.port, "PostgreSQL", self._admitted
        )
