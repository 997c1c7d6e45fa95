"""Data stores: RDS/Aurora, Neptune, ElastiCache, OpenSearch and Redshift.

Rules marked "prod" (backups ≥ 7 days, deletion protection, multi-AZ, failover, ≥ 3 data nodes)
apply to resources whose `environment` tag is listed in the policy's `environments` config
(default `["prod"]`); dev trades them for cost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from .core import (
    ADVISORY,
    ENVIRONMENTS_PROPERTY,
    Settings,
    Spec,
    as_strings,
    get,
    items,
    judging,
    linked,
    of_type,
    present,
    resource_policy,
    stack_policy,
    truthy,
)

POLICIES: list[Spec] = []

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
RDS_PROXY = "aws:rds/proxy:Proxy"
RDS_PARAMS = "aws:rds/parameterGroup:ParameterGroup"
RDS_CLUSTER_PARAMS = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
NEPTUNE_CLUSTER = "aws:neptune/cluster:Cluster"
NEPTUNE_INSTANCE = "aws:neptune/clusterInstance:ClusterInstance"
NEPTUNE_PARAMS = "aws:neptune/clusterParameterGroup:ClusterParameterGroup"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SERVERLESS_CACHE = "aws:elasticache/serverlessCache:ServerlessCache"
OPENSEARCH = "aws:opensearch/domain:Domain"
OPENSEARCH_SECURITY_POLICY = "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy"
OPENSEARCH_ACCESS_POLICY = "aws:opensearch/serverlessAccessPolicy:ServerlessAccessPolicy"
REDSHIFT = "aws:redshift/cluster:Cluster"
REDSHIFT_PARAMS = "aws:redshift/parameterGroup:ParameterGroup"
REDSHIFT_LOGGING = "aws:redshift/logging:Logging"
REDSHIFT_NAMESPACE = "aws:redshiftserverless/namespace:Namespace"
REDSHIFT_WORKGROUP = "aws:redshiftserverless/workgroup:Workgroup"

PROD_SCOPE: dict[str, Mapping[str, Any]] = {"environments": ENVIRONMENTS_PROPERTY}
BACKUP_SCOPE: dict[str, Mapping[str, Any]] = {
    "environments": ENVIRONMENTS_PROPERTY,
    "minimumDays": {"type": "integer", "default": 7, "description": "least backup retention"},
}
DEFAULT_PORTS = {
    "postgres": 5432,
    "aurora-postgresql": 5432,
    "mysql": 3306,
    "aurora-mysql": 3306,
    "mariadb": 3306,
}
TLS_PARAMETERS = {"rds.force_ssl": "1", "require_secure_transport": "ON"}
OPENSEARCH_TLS_POLICIES = ("Policy-Min-TLS-1-2-2019-07", "Policy-Min-TLS-1-2-PFS-2023-10")


def _engine(props: Mapping) -> str:
    return str(get(props, "engine", default=""))


# -- RDS ---------------------------------------------------------------------------------------


@resource_policy(
    POLICIES,
    "rds-encrypted",
    "RDS instances and Aurora clusters encrypt storage at rest.",
    ["FSBP RDS.3", "CIS 2.3.1"],
    [RDS_INSTANCE, RDS_CLUSTER],
)
def _rds_encrypted(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not truthy(get(args.props, "storageEncrypted")):
        report("storage_encrypted is not true; encrypt with the data KMS key", None)


@resource_policy(
    POLICIES,
    "rds-not-public",
    "No RDS or Aurora instance is publicly accessible.",
    ["FSBP RDS.2", "CIS 2.3.3", "PCI 1.3", "PCI 1.4"],
    [RDS_INSTANCE, RDS_CLUSTER_INSTANCE],
)
def _rds_public(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if truthy(get(args.props, "publiclyAccessible")):
        report("publicly_accessible is true; keep databases in isolated subnets", None)


def _parameters(
    resources: list[PolicyResource], db: PolicyResource, prop: str, types: tuple[str, ...]
) -> dict[str, str]:
    found: dict[str, str] = {}
    for group in of_type(resources, *types):
        if linked(db, prop, group, "name", "id"):
            for p in items(get(group.props, "parameters")):
                found[str(get(p, "name"))] = str(get(p, "value"))
    return found


@stack_policy(
    POLICIES,
    "rds-tls-in-transit",
    "RDS instances and Aurora clusters refuse unencrypted connections (rds.force_ssl=1 or "
    "require_secure_transport=ON in their parameter group); RDS proxies require TLS.",
    ["PCI 4.2.1"],
    [RDS_INSTANCE, RDS_CLUSTER, RDS_PARAMS, RDS_CLUSTER_PARAMS, RDS_PROXY],
)
def _rds_tls(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    targets = [
        (db, "parameterGroupName", (RDS_PARAMS,)) for db in of_type(args.resources, RDS_INSTANCE)
    ]
    targets += [
        (db, "dbClusterParameterGroupName", (RDS_CLUSTER_PARAMS,))
        for db in of_type(args.resources, RDS_CLUSTER)
    ]
    for db, prop, types in targets:
        with judging(db, report):
            params = _parameters(args.resources, db, prop, types)
            if not any(params.get(k) == v for k, v in TLS_PARAMETERS.items()):
                report(
                    f"{db.name} accepts plain-text connections; set rds.force_ssl=1 in its "
                    "parameter group",
                    db.urn,
                )
    for proxy in of_type(args.resources, RDS_PROXY):
        with judging(proxy, report):
            if not truthy(get(proxy.props, "requireTls")):
                report(f"proxy {proxy.name} does not require TLS; set require_tls", proxy.urn)


@resource_policy(
    POLICIES,
    "rds-backups",
    "RDS instances and Aurora clusters keep automated backups for at least `minimumDays` "
    "(7) days in prod.",
    ["FSBP RDS.11"],
    [RDS_INSTANCE, RDS_CLUSTER],
    config=BACKUP_SCOPE,
)
def _rds_backups(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    days = int(get(args.props, "backupRetentionPeriod", default=0))
    if cfg.applies_to(args.props) and days < cfg["minimumDays"]:
        report(f"backup_retention_period is {days}; keep ≥ {cfg['minimumDays']} days", None)


@resource_policy(
    POLICIES,
    "rds-deletion-protection",
    "RDS instances and Aurora clusters have deletion protection in prod.",
    ["FSBP RDS.8"],
    [RDS_INSTANCE, RDS_CLUSTER],
    config=PROD_SCOPE,
)
def _rds_deletion(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    if cfg.applies_to(args.props) and not truthy(get(args.props, "deletionProtection")):
        report("deletion_protection is off; turn it on in prod", None)


@stack_policy(
    POLICIES,
    "database-multi-az",
    "In prod, RDS instances are Multi-AZ and Aurora and Neptune clusters have at least two "
    "instances (a writer and a reader to fail over to).",
    ["FSBP RDS.5", "FSBP Neptune.9"],
    [RDS_INSTANCE, RDS_CLUSTER, RDS_CLUSTER_INSTANCE, NEPTUNE_CLUSTER, NEPTUNE_INSTANCE],
    config=PROD_SCOPE,
)
def _multi_az(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    for db in of_type(args.resources, RDS_INSTANCE):
        with judging(db, report):
            if cfg.applies_to(db.props) and not truthy(get(db.props, "multiAz")):
                report(f"{db.name} is single-AZ; set multi_az", db.urn)
    for cluster_type, instance_type in (
        (RDS_CLUSTER, RDS_CLUSTER_INSTANCE),
        (NEPTUNE_CLUSTER, NEPTUNE_INSTANCE),
    ):
        for cluster in of_type(args.resources, cluster_type):
            if not cfg.applies_to(cluster.props):
                continue
            members = [
                i
                for i in of_type(args.resources, instance_type)
                if linked(i, "clusterIdentifier", cluster, "clusterIdentifier", "id")
            ]
            if len(members) < 2:
                report(
                    f"cluster {cluster.name} has {len(members)} instance(s); add a reader "
                    "in another AZ",
                    cluster.urn,
                )


@resource_policy(
    POLICIES,
    "rds-iam-auth",
    "RDS instances and Aurora clusters accept IAM database authentication.",
    ["custom"],
    [RDS_INSTANCE, RDS_CLUSTER],
)
def _rds_iam(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not truthy(get(args.props, "iamDatabaseAuthenticationEnabled")):
        report("iam_database_authentication_enabled is off; services connect with IAM", None)


@resource_policy(
    POLICIES,
    "rds-log-exports",
    "PostgreSQL instances and clusters export their `postgresql` log to CloudWatch Logs.",
    ["FSBP RDS.36", "PCI 10.2.1"],
    [RDS_INSTANCE, RDS_CLUSTER],
)
def _rds_logs(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if "postgres" not in _engine(args.props):
        return
    if "postgresql" not in as_strings(get(args.props, "enabledCloudwatchLogsExports")):
        report("enabled_cloudwatch_logs_exports lacks 'postgresql'", None)


@resource_policy(
    POLICIES,
    "rds-auto-minor-upgrade",
    "RDS instances take automatic minor version upgrades.",
    ["FSBP RDS.13", "CIS 2.3.2"],
    [RDS_INSTANCE, RDS_CLUSTER_INSTANCE],
)
def _rds_minor(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if get(args.props, "autoMinorVersionUpgrade") is False:
        report("auto_minor_version_upgrade is false; let RDS apply minor upgrades", None)


@resource_policy(
    POLICIES,
    "rds-non-default-port",
    "Databases listen on a non-default port.",
    ["FSBP RDS.23"],
    [RDS_INSTANCE, RDS_CLUSTER],
    level=ADVISORY,
)
def _rds_port(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    default = DEFAULT_PORTS.get(_engine(args.props))
    port = get(args.props, "port", default=default)
    if default is not None and port == default:
        report(f"port {port} is the engine default; pick another", None)


# -- Neptune -----------------------------------------------------------------------------------


@resource_policy(
    POLICIES,
    "neptune-encrypted",
    "Neptune clusters encrypt storage at rest.",
    ["FSBP Neptune.1"],
    [NEPTUNE_CLUSTER],
)
def _neptune_encrypted(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not truthy(get(args.props, "storageEncrypted")):
        report("storage_encrypted is not true", None)


@stack_policy(
    POLICIES,
    "neptune-audit-logs",
    "Neptune clusters export audit logs to CloudWatch Logs, with neptune_enable_audit_log=1 "
    "and neptune_enforce_ssl=1 in their parameter group.",
    ["FSBP Neptune.2", "PCI 10.2.1", "PCI 4.2.1"],
    [NEPTUNE_CLUSTER, NEPTUNE_PARAMS],
)
def _neptune_audit(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    for cluster in of_type(args.resources, NEPTUNE_CLUSTER):
        with judging(cluster, report):
            if "audit" not in as_strings(get(cluster.props, "enableCloudwatchLogsExports")):
                report(f"{cluster.name}: enable_cloudwatch_logs_exports lacks 'audit'", cluster.urn)
            params = _parameters(
                args.resources, cluster, "neptuneClusterParameterGroupName", (NEPTUNE_PARAMS,)
            )
            for key in ("neptune_enable_audit_log", "neptune_enforce_ssl"):
                if params.get(key) != "1":
                    report(f"{cluster.name}: parameter group does not set {key}=1", cluster.urn)


@resource_policy(
    POLICIES,
    "neptune-iam-auth",
    "Neptune clusters require IAM database authentication.",
    ["FSBP Neptune.7"],
    [NEPTUNE_CLUSTER],
)
def _neptune_iam(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not truthy(get(args.props, "iamDatabaseAuthenticationEnabled")):
        report("iam_database_authentication_enabled is off", None)


@resource_policy(
    POLICIES,
    "neptune-prod-protection",
    "In prod, Neptune clusters keep backups ≥ `minimumDays` (7) days and have deletion protection.",
    ["FSBP Neptune.4", "FSBP Neptune.5"],
    [NEPTUNE_CLUSTER],
    config=BACKUP_SCOPE,
)
def _neptune_prod(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    if not cfg.applies_to(args.props):
        return
    days = int(get(args.props, "backupRetentionPeriod", default=1))
    if days < cfg["minimumDays"]:
        report(f"backup_retention_period is {days}; keep ≥ {cfg['minimumDays']} days", None)
    if not truthy(get(args.props, "deletionProtection")):
        report("deletion_protection is off", None)


@resource_policy(
    POLICIES,
    "neptune-copy-tags",
    "Neptune clusters copy their tags to snapshots.",
    ["FSBP Neptune.8"],
    [NEPTUNE_CLUSTER],
    level=ADVISORY,
)
def _neptune_tags(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not truthy(get(args.props, "copyTagsToSnapshot")):
        report("copy_tags_to_snapshot is off", None)


# -- ElastiCache -------------------------------------------------------------------------------


@resource_policy(
    POLICIES,
    "elasticache-encryption",
    "Replication groups encrypt at rest and require TLS in transit (serverless caches always "
    "do both).",
    ["FSBP ElastiCache.4", "FSBP ElastiCache.5", "PCI 4.2.1"],
    [REPLICATION_GROUP],
)
def _cache_encryption(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not truthy(get(args.props, "atRestEncryptionEnabled")):
        report("at_rest_encryption_enabled is off", None)
    if not truthy(get(args.props, "transitEncryptionEnabled")):
        report("transit_encryption_enabled is off", None)
    elif get(args.props, "transitEncryptionMode") == "preferred":
        report("transit_encryption_mode is 'preferred' (plain text accepted); use 'required'", None)


@resource_policy(
    POLICIES,
    "elasticache-auth",
    "Caches authenticate clients (RBAC user group or AUTH token).",
    ["FSBP ElastiCache.6"],
    [REPLICATION_GROUP, SERVERLESS_CACHE],
)
def _cache_auth(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    props = args.props
    if not (
        items(get(props, "userGroupIds")) or get(props, "userGroupId") or get(props, "authToken")
    ):
        report("no user group or AUTH token; any client in the security group could connect", None)


@resource_policy(
    POLICIES,
    "elasticache-backups",
    "In prod, caches keep daily snapshots for at least `minimumDays` (7) days.",
    ["FSBP ElastiCache.1"],
    [REPLICATION_GROUP, SERVERLESS_CACHE],
    config=BACKUP_SCOPE,
)
def _cache_backups(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    days = int(get(args.props, "snapshotRetentionLimit", default=0))
    if cfg.applies_to(args.props) and days < cfg["minimumDays"]:
        report(f"snapshot_retention_limit is {days}; keep ≥ {cfg['minimumDays']}", None)


@resource_policy(
    POLICIES,
    "elasticache-failover",
    "In prod, replication groups fail over automatically to a replica in another AZ.",
    ["FSBP ElastiCache.3"],
    [REPLICATION_GROUP],
    config=PROD_SCOPE,
)
def _cache_failover(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    if not cfg.applies_to(args.props):
        return
    if not truthy(get(args.props, "automaticFailoverEnabled")):
        report("automatic_failover_enabled is off", None)
    if not truthy(get(args.props, "multiAzEnabled")):
        report("multi_az_enabled is off", None)


@resource_policy(
    POLICIES,
    "elasticache-maintenance",
    "Replication groups take minor upgrades automatically and live in their own subnet group.",
    ["FSBP ElastiCache.2", "FSBP ElastiCache.7"],
    [REPLICATION_GROUP],
)
def _cache_maintenance(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if get(args.props, "autoMinorVersionUpgrade") is False:
        report("auto_minor_version_upgrade is false", None)
    if get(args.props, "subnetGroupName") in (None, "", "default"):
        report("uses the default subnet group; pass the cache's own", None)


# -- OpenSearch --------------------------------------------------------------------------------


@resource_policy(
    POLICIES,
    "opensearch-encryption",
    "OpenSearch domains encrypt at rest and between nodes, and accept HTTPS with TLS 1.2+ only.",
    ["FSBP Opensearch.1", "FSBP Opensearch.3", "FSBP Opensearch.8", "PCI 4.2.1"],
    [OPENSEARCH],
)
def _search_encryption(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    props = args.props
    if not truthy(get(props, "encryptAtRest", "enabled")):
        report("encrypt_at_rest is off", None)
    if not truthy(get(props, "nodeToNodeEncryption", "enabled")):
        report("node_to_node_encryption is off", None)
    if not truthy(get(props, "domainEndpointOptions", "enforceHttps")):
        report("domain_endpoint_options.enforce_https is off", None)
    policy = get(props, "domainEndpointOptions", "tlsSecurityPolicy")
    if policy not in OPENSEARCH_TLS_POLICIES:
        report(f"tls_security_policy is {policy!r}; use Policy-Min-TLS-1-2-PFS-2023-10", None)


@resource_policy(
    POLICIES,
    "opensearch-private-fgac",
    "OpenSearch domains live in the VPC and use fine-grained access control.",
    ["FSBP Opensearch.2", "FSBP Opensearch.7", "PCI 1.3"],
    [OPENSEARCH],
)
def _search_private(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not present(args.props, "vpcOptions", "subnetIds"):
        report("no vpc_options.subnet_ids: the domain would have a public endpoint", None)
    if not truthy(get(args.props, "advancedSecurityOptions", "enabled")):
        report("advanced_security_options (fine-grained access control) is off", None)


@resource_policy(
    POLICIES,
    "opensearch-logs",
    "OpenSearch domains publish error (application) and audit logs.",
    ["FSBP Opensearch.4", "FSBP Opensearch.5", "PCI 10.2.1"],
    [OPENSEARCH],
)
def _search_logs(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    enabled = {
        get(o, "logType")
        for o in items(get(args.props, "logPublishingOptions"))
        if get(o, "enabled") is not False and present(o, "cloudwatchLogGroupArn")
    }
    for needed in ("ES_APPLICATION_LOGS", "AUDIT_LOGS"):
        if needed not in enabled:
            report(f"log_publishing_options lacks {needed}", None)


@resource_policy(
    POLICIES,
    "opensearch-prod-capacity",
    "In prod, OpenSearch domains run ≥ 3 data nodes across zones.",
    ["FSBP Opensearch.6"],
    [OPENSEARCH],
    config=PROD_SCOPE,
)
def _search_capacity(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    if not cfg.applies_to(args.props):
        return
    count = int(get(args.props, "clusterConfig", "instanceCount", default=1))
    if count < 3:
        report(f"instance_count is {count}; run ≥ 3 data nodes", None)
    if not truthy(get(args.props, "clusterConfig", "zoneAwarenessEnabled")):
        report("zone_awareness_enabled is off", None)


def _aoss_document(args: ResourceValidationArgs, report: ReportViolation) -> list[Any]:
    """The entries of an OpenSearch Serverless policy document (a JSON list, or one object)."""
    try:
        document = json.loads(str(get(args.props, "policy", default="[]")))
    except ValueError:
        report("the policy is not valid JSON", None)
        return []
    entries = document if isinstance(document, list) else [document]
    return [e for e in entries if isinstance(e, dict)]


@resource_policy(
    POLICIES,
    "opensearch-serverless-private",
    "OpenSearch Serverless network policies never allow access from the public internet.",
    ["custom", "PCI 1.3"],
    [OPENSEARCH_SECURITY_POLICY],
)
def _aoss_network(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if get(args.props, "type") != "network":
        return
    for rule in _aoss_document(args, report):
        if rule.get("AllowFromPublic") is True:
            report("a rule sets AllowFromPublic: true; use SourceVPCEs", None)


@resource_policy(
    POLICIES,
    "opensearch-serverless-kms",
    "OpenSearch Serverless encryption policies use a customer-managed KMS key (custom: the "
    "domain controls Opensearch.1 do not cover collections).",
    ["custom", "PCI 3.6"],
    [OPENSEARCH_SECURITY_POLICY],
)
def _aoss_kms(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if get(args.props, "type") != "encryption":
        return
    for rule in _aoss_document(args, report):
        if rule.get("AWSOwnedKey") is not False or not rule.get("KmsARN"):
            report(
                "the encryption policy uses an AWS-owned key; set AWSOwnedKey: false and KmsARN",
                None,
            )


@resource_policy(
    POLICIES,
    "opensearch-serverless-named-access",
    "OpenSearch Serverless data access policies name their principals and permissions "
    "(no `*` principal, no `aoss:*`).",
    ["custom"],
    [OPENSEARCH_ACCESS_POLICY],
)
def _aoss_access(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    for entry in _aoss_document(args, report):
        principals = as_strings(entry.get("Principal"))
        if not principals or any("*" in p for p in principals):
            report(f"principals {principals} are not named roles; name each grantee's role", None)
        for rule in entry.get("Rules") or []:
            broad = [p for p in as_strings(get(rule, "Permission")) if p.endswith("*")]
            if broad:
                report(f"permissions {broad} are wildcards; name them (aoss:ReadDocument …)", None)


# -- Redshift ----------------------------------------------------------------------------------


@resource_policy(
    POLICIES,
    "redshift-not-public",
    "Redshift clusters (and, custom, Serverless workgroups) are not publicly accessible.",
    ["FSBP Redshift.1", "custom", "PCI 1.3"],
    [REDSHIFT, REDSHIFT_WORKGROUP],
)
def _redshift_public(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if truthy(get(args.props, "publiclyAccessible")):
        report("publicly_accessible is true", None)


@resource_policy(
    POLICIES,
    "redshift-kms",
    "Redshift clusters (and, custom, Serverless namespaces) encrypt with a customer KMS key.",
    ["FSBP Redshift.10", "custom"],
    [REDSHIFT, REDSHIFT_NAMESPACE],
)
def _redshift_kms(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if args.resource_type == REDSHIFT and not truthy(get(args.props, "encrypted")):
        report("encrypted is off", None)
    if not present(args.props, "kmsKeyId"):
        report("no kms_key_id; use the analytics KMS key", None)


@stack_policy(
    POLICIES,
    "redshift-tls",
    "Redshift requires TLS: require_ssl=true in the cluster's parameter group or the Serverless "
    "workgroup's config parameters.",
    ["FSBP Redshift.2", "PCI 4.2.1"],
    [REDSHIFT, REDSHIFT_PARAMS, REDSHIFT_WORKGROUP],
)
def _redshift_tls(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    for cluster in of_type(args.resources, REDSHIFT):
        with judging(cluster, report):
            params = _parameters(
                args.resources, cluster, "clusterParameterGroupName", (REDSHIFT_PARAMS,)
            )
            if params.get("require_ssl") != "true":
                report(
                    f"{cluster.name}: parameter group does not set require_ssl=true", cluster.urn
                )
    for group in of_type(args.resources, REDSHIFT_WORKGROUP):
        with judging(group, report):
            values = {
                get(p, "parameterKey"): str(get(p, "parameterValue")).lower()
                for p in items(get(group.props, "configParameters"))
            }
            if values.get("require_ssl") != "true":
                report(f"{group.name}: config_parameters do not set require_ssl=true", group.urn)


@stack_policy(
    POLICIES,
    "redshift-audit-logging",
    "Redshift audit logging is on: a Logging resource per cluster, or Serverless namespaces "
    "exporting userlog, connectionlog and useractivitylog.",
    ["FSBP Redshift.4", "PCI 10.2.1"],
    [REDSHIFT, REDSHIFT_LOGGING, REDSHIFT_NAMESPACE],
)
def _redshift_audit(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    logging = list(of_type(args.resources, REDSHIFT_LOGGING))
    for cluster in of_type(args.resources, REDSHIFT):
        with judging(cluster, report):
            if not any(
                linked(lg, "clusterIdentifier", cluster, "clusterIdentifier", "id")
                for lg in logging
            ):
                report(f"{cluster.name} has no aws.redshift.Logging", cluster.urn)
    for namespace in of_type(args.resources, REDSHIFT_NAMESPACE):
        with judging(namespace, report):
            missing = {"userlog", "connectionlog", "useractivitylog"} - set(
                as_strings(get(namespace.props, "logExports"))
            )
            if missing:
                report(
                    f"namespace {namespace.name} does not export {sorted(missing)}", namespace.urn
                )


@resource_policy(
    POLICIES,
    "redshift-enhanced-vpc-routing",
    "Redshift keeps COPY/UNLOAD traffic in the VPC (enhanced VPC routing).",
    ["FSBP Redshift.7"],
    [REDSHIFT, REDSHIFT_WORKGROUP],
)
def _redshift_routing(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not truthy(get(args.props, "enhancedVpcRouting")):
        report("enhanced_vpc_routing is off", None)


@resource_policy(
    POLICIES,
    "redshift-snapshots",
    "In prod, provisioned Redshift clusters keep automated snapshots ≥ `minimumDays` (7) days.",
    ["FSBP Redshift.3"],
    [REDSHIFT],
    config=BACKUP_SCOPE,
)
def _redshift_snaps(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    days = int(get(args.props, "automatedSnapshotRetentionPeriod", default=1))
    if cfg.applies_to(args.props) and days < cfg["minimumDays"]:
        report(f"automated_snapshot_retention_period is {days}", None)
