"""Neptune for the user-activity graph (who played, liked and followed what).

Provisioned instances or Neptune Serverless, encrypted with the data key, IAM authentication on,
in the isolated subnets, audit logs to CloudWatch, HTTPS only. Services reach it with
`grant_connect` (read and write) or `grant_read` (queries that only read), both of which also
open port 8182 to the grantee's security group.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from soundstack.components import access, lookups
from soundstack.components.base import Component, StackContext
from soundstack.components.iam import Grantee
from soundstack.components.logs import log_group
from soundstack.components.network import Network

#: Neptune's HTTPS/WebSocket port (Gremlin, openCypher, SPARQL).
NEPTUNE_PORT = 8182


@dataclass
class GraphArgs:
    """Shape of the graph. Defaults are production-grade: provisioned writer plus one reader."""

    network: Network
    #: Customer-managed KMS key for the cluster storage and snapshots.
    kms_key_arn: pulumi.Input[str]
    #: KMS key of the audit log group; None uses CloudWatch's own encryption.
    log_kms_key_arn: pulumi.Input[str] | None = None
    #: Engine release; its major (`1.4`) picks the parameter group family.
    engine_version: str = "1.4.5.0"
    #: Neptune Serverless scales between the capacities below instead of a fixed instance class.
    serverless: bool = False
    instance_class: str = "db.r6g.large"
    min_capacity_ncu: float = 1
    max_capacity_ncu: float = 8
    #: Readers in other AZs; the first is the failover target.
    reader_count: int = 1
    backup_retention_days: int = 14
    deletion_protection: bool = True
    #: Take a snapshot named `<identifier>-final` when the cluster is deleted.
    final_snapshot: bool = True
    log_retention_days: int = 365

    def __post_init__(self) -> None:
        if self.serverless and self.min_capacity_ncu > self.max_capacity_ncu:
            raise ValueError(
                f"graph.min_capacity_ncu={self.min_capacity_ncu} exceeds graph.max_capacity_ncu="
                f"{self.max_capacity_ncu}; raise the maximum or lower the minimum"
            )


class Graph(Component):
    """A Neptune cluster with a writer and `reader_count` readers."""

    TYPE = "soundstack:graph:Graph"

    def __init__(
        self,
        name: str,
        args: GraphArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self._admitted: set[str] = set()
        net = args.network
        self.security_group = net.security_group(self, "graph", f"{name}: Neptune, granted only")
        self.security_group_id: pulumi.Output[str] = self.security_group.id
        subnets = aws.neptune.SubnetGroup(
            self.child_name("subnets"),
            name=self.physical_name("", "neptune"),
            description=f"{name}: isolated subnets",
            subnet_ids=net.isolated_subnet_ids,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        family = "neptune" + ".".join(args.engine_version.split(".")[:2])
        params = aws.neptune.ClusterParameterGroup(
            self.child_name("params"),
            name=self.physical_name("", "neptune"),
            family=family,
            description=f"{name}: audit log on, HTTPS only",
            parameters=[
                {"name": "neptune_enable_audit_log", "value": "1"},
                {"name": "neptune_enforce_ssl", "value": "1"},
            ],
            tags=self.tags(),
            opts=self.child_opts(),
        )
        identifier = self.physical_name("", "neptune")
        audit = log_group(
            self,
            "audit",
            args.log_retention_days,
            args.log_kms_key_arn,
            name=f"/aws/neptune/{identifier}/audit",
        )
        self.cluster = aws.neptune.Cluster(
            self.child_name("cluster"),
            cluster_identifier=identifier,
            engine="neptune",
            engine_version=args.engine_version,
            port=NEPTUNE_PORT,
            storage_encrypted=True,
            kms_key_arn=args.kms_key_arn,
            iam_database_authentication_enabled=True,
            neptune_subnet_group_name=subnets.name,
            vpc_security_group_ids=[self.security_group.id],
            neptune_cluster_parameter_group_name=params.name,
            serverless_v2_scaling_configuration=(
                {"min_capacity": args.min_capacity_ncu, "max_capacity": args.max_capacity_ncu}
                if args.serverless
                else None
            ),
            backup_retention_period=args.backup_retention_days,
            preferred_backup_window="02:00-03:00",
            preferred_maintenance_window="sun:03:30-sun:04:30",
            copy_tags_to_snapshot=True,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.final_snapshot,
            final_snapshot_identifier=f"{identifier}-final" if args.final_snapshot else None,
            enable_cloudwatch_logs_exports=["audit"],
            allow_major_version_upgrade=False,
            tags=self.tags(),
            opts=self.child_opts(depends_on=[audit]),
        )
        roles = ["writer", *(f"reader-{i}" for i in range(1, args.reader_count + 1))]
        self.instances = [
            aws.neptune.ClusterInstance(
                self.child_name(role),
                identifier=self.physical_name(role, "neptune"),
                cluster_identifier=self.cluster.id,
                engine="neptune",
                instance_class="db.serverless" if args.serverless else args.instance_class,
                neptune_subnet_group_name=subnets.name,
                auto_minor_version_upgrade=True,
                promotion_tier=i,
                tags=self.tags(),
                opts=self.child_opts(),
            )
            for i, role in enumerate(roles)
        ]
        self.endpoint: pulumi.Output[str] = self.cluster.endpoint
        self.reader_endpoint: pulumi.Output[str] = self.cluster.reader_endpoint
        self.port = NEPTUNE_PORT
        part, account = lookups.partition(), lookups.account_id()
        #: What IAM policies name: every database of the cluster (`neptune-db:…/*`).
        self.data_arn: pulumi.Output[str] = pulumi.Output.concat(
            f"arn:{part}:neptune-db:{ctx.region}:{account}:", self.cluster.cluster_resource_id, "/*"
        )
        dims = {"DBClusterIdentifier": self.cluster.cluster_identifier}
        self.add_signal(
            "cpu", f"{name} CPU %", "AWS/Neptune", "CPUUtilization", dims, statistic="Average"
        )
        self.register_outputs({"endpoint": self.endpoint, "reader_endpoint": self.reader_endpoint})

    def allow_from(self, grantee: Grantee) -> None:
        """Let `grantee`'s security group reach Neptune on 8182 (network only)."""
        access.open_port(
            self, self.security_group.id, grantee, NEPTUNE_PORT, "Neptune", self._admitted
        )

    def grant_connect(self, grantee: Grantee) -> None:
        """Let `grantee` read and write the graph with IAM-signed requests."""
        access.grant(
            grantee,
            access.sid("Connect", self.logical_name),
            ["neptune-db:connect"],
            [self.data_arn],
        )
        self.allow_from(grantee)

    def grant_read(self, grantee: Grantee) -> None:
        """Let `grantee` run read-only queries with IAM-signed requests."""
        access.grant(
            grantee,
            access.sid("Read", self.logical_name),
            ["neptune-db:ReadDataViaQuery", "neptune-db:GetQueryStatus"],
            [self.data_arn],
        )
        self.allow_from(grantee)
