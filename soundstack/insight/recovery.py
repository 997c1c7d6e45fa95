"""Recovery per data store: what is replicated, how often it is backed up, where copies live,
the recovery point and time objectives that follow, and how to restore — read from a stack's
registrations (backup plans and selections, vault locks, replicated RDS backups, bucket
versioning and replication, CloudFront origin groups, Multi-AZ settings), never from a hand-kept
list.

RPO and RTO are derived from the mechanism, with AWS's published figures where there are some
(RDS point-in-time restore: the latest restorable time is "typically within the last 5 minutes";
Multi-AZ failover "typically 60-120 seconds"; S3 Replication Time Control replicates "99.99
percent of those objects within 15 minutes"); restore durations are estimates and say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from soundstack.synth import Resource, Synthesis

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
NEPTUNE_CLUSTER = "aws:neptune/cluster:Cluster"
NEPTUNE_INSTANCE = "aws:neptune/clusterInstance:ClusterInstance"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SERVERLESS_CACHE = "aws:elasticache/serverlessCache:ServerlessCache"
BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
RDS_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
#: Buckets holding data (logical name suffix → store), not logs or build artefacts.
DATA_BUCKETS = {"-music-bucket": "music bucket", "-events-bucket": "analytics bucket",
                "-site-bucket": "web site bucket"}  # fmt: skip

_ORDER = ["database", "graph (Neptune)", "cache (ElastiCache)", *DATA_BUCKETS.values()]

#: How to restore each kind of store (the README lists them under the table).
PROCEDURES: dict[str, str] = {
    "rds": "**Database** — corruption or a bad migration: `aws rds "
    "restore-db-instance-to-point-in-time --source-db-instance-identifier <id> "
    "--target-db-instance-identifier <id>-restored --restore-time <UTC>` (Aurora: "
    "`restore-db-cluster-to-point-in-time`, then add an instance), then point the RDS Proxy "
    "target at it (`pulumi import` or rename). Region lost: in the replica Region, restore from "
    "the replicated automated backups (`aws rds restore-db-instance-to-point-in-time "
    "--source-db-instance-automated-backups-arn <arn>`) or from the copied recovery point "
    "(`aws backup start-restore-job`), then run the stack there with `aws:region` set to it.",
    "neptune": "**Graph** — `aws neptune restore-db-cluster-to-point-in-time` within the "
    "retention, or `aws backup start-restore-job` from a recovery point (the replica vault's "
    "copy when the Region is lost); add instances to the restored cluster and update "
    "`graph_endpoint` consumers by re-running `pulumi up`.",
    "cache": "**Cache** — holds derived data (sessions, feeds, hot catalog pages): a failed "
    "primary fails over to its replica; a lost cache is recreated from the latest daily "
    "snapshot (`aws elasticache create-replication-group --snapshot-name …`) or empty, and "
    "warms from the database and graph.",
    "bucket": "**Buckets** — an overwritten or deleted object: restore a previous version "
    "(`aws s3api list-object-versions`, then copy the version back). A deleted or corrupted "
    "bucket: `aws backup start-restore-job` from its recovery point (S3 backups restore to "
    "the same or a new bucket); without a backup, from the replica bucket where replication "
    "is configured; the web site bucket is also rebuilt by deploying the web app again. Region "
    "lost, music and web site: CloudFront already serves from the replicas (origin failover on "
    "403, 404 and 5xx, nothing to do); uploads and deploys wait for the Region, or for a stack "
    "built in the replica Region (`aws:region` set to it) whose buckets are seeded from the "
    "replicas with S3 Batch Replication. Replication copies new objects only: after switching "
    "it on for a bucket that already holds objects, copy those once with S3 Batch Replication "
    "(`aws s3control create-job --operation '{\"S3ReplicateObject\":{}}' "
    "--manifest-generator …` with a role that may replicate, as in the S3 User Guide's "
    '"Replicating existing objects").',
    "search": "**Search** — derived from the catalog: recreate the domain (`pulumi up`) and "
    "reindex from the database (catalog service's reindex job).",
}


@dataclass(frozen=True)
class Recovery:
    """One data store of one stack and how it comes back."""

    store: str
    replicated: str
    backups: str
    where: str
    rpo: str
    rto: str
    procedure: str


def _deps(r: Resource, prop: str) -> list[str]:
    return r.property_dependencies.get(prop, [])


class _Estate:
    """Indexes of the registrations recovery cares about."""

    def __init__(self, synth: Synthesis) -> None:
        self.synth = synth
        self.region = str(synth.outputs.get("region") or "")
        self.by_urn = {r.urn: r for r in synth.resources}

    def backup(self, store: Resource) -> tuple[str, list[str]]:
        """('daily AWS Backup, 35 d, locked', [copy regions]) for `store`, or ('', [])."""
        for selection in self.synth.by_type(SELECTION):
            if store.urn not in _deps(selection, "resources"):
                continue
            plans = [self.by_urn[u] for u in _deps(selection, "planId") if u in self.by_urn]
            for plan in plans:
                for rule in plan.inputs.get("rules", []):
                    kept = rule.get("lifecycle", {}).get("deleteAfter")
                    locked = any(
                        lock.inputs.get("backupVaultName") == rule.get("targetVaultName")
                        for lock in self.synth.by_type(LOCK)
                    )
                    regions = sorted(
                        {
                            str(a.get("destinationVaultArn", "")).split(":")[3]
                            for a in rule.get("copyActions", []) or []
                            if str(a.get("destinationVaultArn", "")).count(":") >= 3
                        }
                    )
                    text = f"AWS Backup {_schedule(rule.get('schedule'))}, kept {kept} d"
                    return text + (", vault locked" if locked else ""), regions
        return "", []

    def rds_replica(self, store: Resource) -> str | None:
        for r in self.synth.by_type(RDS_REPLICATION):
            if store.urn in _deps(r, "sourceDbInstanceArn"):
                return str(r.inputs.get("region"))
        return None

    def companions(self, type_token: str, store: Resource) -> list[Resource]:
        return [r for r in self.synth.by_type(type_token) if store.urn in _deps(r, "bucket")]

    def replicas(self, bucket: Resource) -> list[tuple[Resource, bool]]:
        """(replica bucket, Replication Time Control on) per enabled rule replicating `bucket`."""
        found = []
        for config in self.companions(BUCKET_REPLICATION, bucket):
            targets = [self.by_urn[u] for u in _deps(config, "rules")
                       if u in self.by_urn and self.by_urn[u].type == BUCKET]  # fmt: skip
            for rule in config.inputs.get("rules", []):
                destination = rule.get("destination", {})
                name = str(destination.get("bucket", "")).rsplit(":", 1)[-1]
                replica = next((t for t in targets if t.inputs.get("bucket") == name), None)
                if replica is not None and rule.get("status") == "Enabled":
                    rtc = destination.get("replicationTime", {}).get("status") == "Enabled"
                    found.append((replica, rtc))
        return found

    def fails_over(self, bucket: Resource, replica: Resource) -> bool:
        """A distribution serves `bucket` through an origin group whose secondary is `replica`."""
        return any(
            d.inputs.get("originGroups") and {bucket.urn, replica.urn} <= set(_deps(d, "origins"))
            for d in self.synth.by_type(DISTRIBUTION)
        )


def _schedule(expression: object) -> str:
    text = str(expression or "")
    if text.startswith("cron(") and text.split()[2:5] == ["*", "*", "?"]:
        return f"daily {int(text.split()[1]):02d}:{int(text[5:].split(maxsplit=1)[0]):02d} UTC"
    return text or "on demand"


def _where(home: str, *others: str | None) -> str:
    return ", ".join(dict.fromkeys([home, *(o for o in others if o)]))


def _database(e: _Estate, db: Resource, instances: int) -> Recovery:
    pitr = db.inputs.get("backupRetentionPeriod", 0)
    backup, copies = e.backup(db)
    replica = e.rds_replica(db) if db.type == RDS_INSTANCE else None
    multi_az = db.inputs.get("multiAz") is True or instances > 1
    replicated = "Multi-AZ standby" if multi_az else "single AZ"
    if db.type == RDS_CLUSTER:
        replicated = f"Aurora, {replicated}"
    if replica:
        replicated += f"; automated backups → {replica}"
    backups = "; ".join(b for b in (f"continuous (PITR), {pitr} d", backup) if b)
    region_lost = (
        "minutes (replicated transaction logs)"
        if replica
        else "≤ 24 h (daily copy)"
        if copies
        else "not recoverable"
    )
    return Recovery(
        "database",
        replicated,
        backups,
        _where(e.region, *copies, replica),
        f"≈ 5 min; Region lost: {region_lost}",
        ("1-2 min (failover); " if multi_az else "") + "restore ≈ 1 h (estimate)",
        "rds",
    )


def _graph(e: _Estate, cluster: Resource) -> Recovery:
    instances = [i for i in e.synth.by_type(NEPTUNE_INSTANCE)
                 if cluster.urn in _deps(i, "clusterIdentifier")]  # fmt: skip
    backup, copies = e.backup(cluster)
    pitr = cluster.inputs.get("backupRetentionPeriod", 0)
    return Recovery(
        "graph (Neptune)",
        "reader in another AZ" if len(instances) > 1 else "single instance",
        "; ".join(b for b in (f"continuous (PITR), {pitr} d", backup) if b),
        _where(e.region, *copies),
        "≈ 5 min; Region lost: " + ("≤ 24 h (daily copy)" if copies else "not recoverable"),
        ("1-2 min (failover); " if len(instances) > 1 else "") + "restore ≈ 1 h (estimate)",
        "neptune",
    )


def _cache(e: _Estate, cache: Resource) -> Recovery:
    days = cache.inputs.get("snapshotRetentionLimit", 0)
    multi_az = cache.inputs.get("multiAzEnabled") is True or cache.type == SERVERLESS_CACHE
    return Recovery(
        "cache (ElastiCache)",
        "replica in another AZ" if multi_az else "single node",
        f"daily snapshot, kept {days} d" if days else "none",
        e.region,
        "≤ 24 h (derived data, rebuilt from the stores)",
        "1-2 min (failover)" if multi_az else "recreate ≈ 15 min (estimate)",
        "cache",
    )


def _bucket(e: _Estate, store: str, bucket: Resource) -> Recovery:
    versioned = any(
        v.inputs.get("versioningConfiguration", {}).get("status") == "Enabled"
        for v in e.companions(VERSIONING, bucket)
    )
    replicas = e.replicas(bucket)
    regions = sorted({str(r.inputs.get("region") or e.region) for r, _ in replicas})
    backup, copies = e.backup(bucket)
    replicated = "3+ AZs (S3)" + (f"; replicated → {', '.join(regions)}" if regions else "")
    backups = "; ".join(b for b in ("object versions" if versioned else "", backup) if b)
    region_lost = (
        "≤ 15 min (S3 RTC)"
        if replicas and all(rtc for _, rtc in replicas)
        else "minutes (replication)"
        if replicas
        else "≤ 24 h (daily copy)"
        if copies
        else "lost"
    )
    rto = "minutes (copy a version back)" + (
        "; bucket restore ≈ 1 h (estimate)" if backup or replicas else ""
    )
    if any(e.fails_over(bucket, r) for r, _ in replicas):
        rto += "; Region lost: ≤ 10 s (CloudFront origin failover)"
    return Recovery(
        store,
        replicated,
        backups or "none",
        _where(e.region, *regions, *copies),
        ("0 (previous version)" if versioned else "lost") + f"; Region lost: {region_lost}",
        rto,
        "bucket",
    )


def analyse(synth: Synthesis) -> list[Recovery]:
    """Every data store the stack registers, with how it is protected."""
    e = _Estate(synth)
    rows = [_database(e, db, 1) for db in synth.by_type(RDS_INSTANCE)]
    rows += [
        _database(
            e,
            c,
            sum(
                c.urn in _deps(i, "clusterIdentifier") for i in synth.by_type(RDS_CLUSTER_INSTANCE)
            ),
        )
        for c in synth.by_type(RDS_CLUSTER)
    ]
    rows += [_graph(e, c) for c in synth.by_type(NEPTUNE_CLUSTER)]
    rows += [_cache(e, c) for c in synth.by_type(REPLICATION_GROUP)]
    rows += [_cache(e, c) for c in synth.by_type(SERVERLESS_CACHE)]
    for bucket in synth.by_type(BUCKET):
        store = next(
            (s for suffix, s in DATA_BUCKETS.items() if bucket.name.endswith(suffix)), None
        )
        if store is not None:
            rows.append(_bucket(e, store, bucket))
    return rows


def render(synths: Mapping[str, Synthesis], stacks: tuple[str, ...]) -> str:
    """The README table: per data store and stack, then the restore procedures."""
    lines = [
        "| data store | stack | replicated | backed up | where | RPO | RTO |",
        "|---|---|---|---|---|---|---|",
    ]
    used: list[str] = []
    by_store: dict[str, list[tuple[str, Recovery]]] = {}
    for name in stacks:
        for row in analyse(synths[name]):
            by_store.setdefault(row.store, []).append((name, row))
    # Registration order varies between runs; the table does not.
    for store, rows in sorted(by_store.items(), key=lambda item: _ORDER.index(item[0])):
        for name, r in rows:
            lines.append(
                f"| {store} | {name} | {r.replicated} | {r.backups} | {r.where} | {r.rpo} | "
                f"{r.rto} |"
            )
            if r.procedure not in used:
                used.append(r.procedure)
    lines += ["", "Restore procedures:", ""]
    lines += [f"- {PROCEDURES[p]}" for p in used]
    lines += [f"- {PROCEDURES['search']}"]
    return "\n".join(lines)
