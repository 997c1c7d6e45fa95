"""AWS Backup for the data stores: a vault under a customer-managed key, a daily plan, a copy
to a vault in the replica Region, Vault Lock in prod, and cross-Region RDS automated backups.

`BackupPlan` owns the vaults, the plan and the service role, and offers its failed jobs as an
alert event (every FAILED, ABORTED, EXPIRED or PARTIAL backup or copy job reaches the alerts
topic through an EventBridge rule monitoring builds); stores join it with `protect`
(one backup selection each) and an RDS instance gets its automated backups (snapshots and
transaction logs, for point-in-time restore) replicated to the replica Region with
`replicate_instance_backups`. What AWS enforces, and where it is checked here:

- Vault Lock (AWS::Backup::BackupVault LockConfigurationType): "AWS Backup enforces a 72-hour
  cooling-off period before Vault Lock takes effect and becomes immutable. Therefore, you must
  set ChangeableForDays to 3 or greater." With a minimum retention, "any backup or copy job to
  the vault must have a lifecycle policy with a retention period equal to or longer than the
  minimum retention period", else "the vault fails that backup or copy job" (the maximum works
  the other way): the lock's minimum is the plan's retention, and it sets no maximum (a locked
  maximum could never be raised).
- S3 (AWS Backup, Amazon S3 backups): "You must enable S3 Versioning on your S3 bucket to use
  AWS Backup for Amazon S3", and the role needs "AWSBackupServiceRolePolicyForS3Backup and
  AWSBackupServiceRolePolicyForS3Restore": `protect` refuses an unversioned bucket and the
  role carries both (policy `deploy-backup-s3-versioning` checks that a selected bucket is
  versioned).
- RDS backup replication (StartDBInstanceAutomatedBackupsReplication): KmsKeyId "is the Amazon
  Resource Name (ARN) for the KMS encryption key in the destination AWS Region", and
  "Automated backup replication isn't supported for Multi-AZ DB clusters"; it is an RDS
  *instance* feature (RDS for PostgreSQL supports it), so Aurora is covered by the plan's
  cross-Region copy instead. The resource "has to be created in the destination region".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from soundstack.components import lookups
from soundstack.components.base import Component, StackContext
from soundstack.components.iam import ServiceRole, ServiceRoleArgs
from soundstack.components.kms import EncryptionKey, EncryptionKeyArgs

#: Vault Lock's cooling-off period: ChangeableForDays "3 or greater" (see the module docstring).
MIN_CHANGEABLE_DAYS = 3
#: AWS Backup's retention ceiling for a lifecycle (100 years).
MAX_RETENTION_DAYS = 36500
#: Daily at 03:00 UTC: after the databases' own backup window (02:00-03:00).
DAILY = "cron(0 3 * * ? *)"
#: AWS Backup: the start window "must be at least 60 minutes".
MIN_START_WINDOW_MINUTES = 60
#: RDS automated backups are kept 1 to 35 days, replicated ones too.
RDS_RETENTION_RANGE = (1, 35)


def failed_job_events(vault_name: str, vault_arn: str) -> dict[str, Any]:
    """The event pattern of this vault's jobs that left no recovery point (or no copy of it).

    AWS Backup "sends events to Amazon EventBridge when the state of a backup or copy job
    changes" ("in a best-effort manner every 5 minutes") as "Backup Job State Change" and "Copy
    Job State Change" with `detail.state`: a backup job ends FAILED, ABORTED (scheduled, never
    started) or EXPIRED (not done within the completion window), a copy job FAILED; PARTIAL is a
    composite job with failed members. Copy jobs of a cross-Region copy run, and emit, in the
    source Region. The events of every vault of the account reach the same bus, so the pattern
    keeps this stack's: a backup job's event names its vault in `detail.backupVaultName`, a copy
    job's its source vault in `detail.sourceBackupVaultArn` (AWS Backup's example events);
    EventBridge's `$or` takes either ("Comparison operators only work on leaf nodes, with the
    exception of $or and anything-but"; event bus support: yes)."""
    return {
        "source": ["aws.backup"],
        "detail-type": ["Backup Job State Change", "Copy Job State Change"],
        "detail": {
            "state": ["FAILED", "ABORTED", "EXPIRED", "PARTIAL"],
            "$or": [{"backupVaultName": [vault_name]}, {"sourceBackupVaultArn": [vault_arn]}],
        },
    }


@dataclass
class BackupArgs:
    """A daily plan. Defaults are prod's: 35 days, copied to `replica_region`, vault locked."""

    #: Days a recovery point is kept (the plan's lifecycle and the copy's).
    retention_days: int = 35
    #: Where every recovery point is copied (a vault with its own key there); None: no copy.
    replica_region: str | None = None
    #: Lock both vaults in compliance mode: after `lock_changeable_days` nobody, root included,
    #: can delete a recovery point before `retention_days` or remove the lock.
    vault_lock: bool = True
    lock_changeable_days: int = MIN_CHANGEABLE_DAYS
    schedule: str = DAILY
    start_window_minutes: int = 60
    completion_window_minutes: int = 360

    def __post_init__(self) -> None:
        if not 1 <= self.retention_days <= MAX_RETENTION_DAYS:
            raise ValueError(
                f"BackupArgs.retention_days={self.retention_days} (config "
                f"resilience.backup_retention_days): AWS Backup keeps 1 to {MAX_RETENTION_DAYS} "
                "days; use e.g. 35"
            )
        if self.vault_lock and self.lock_changeable_days < MIN_CHANGEABLE_DAYS:
            raise ValueError(
                f"BackupArgs.lock_changeable_days={self.lock_changeable_days}: AWS Backup "
                "enforces a 72-hour cooling-off period, so ChangeableForDays must be 3 or "
                "greater; use 3"
            )
        if self.start_window_minutes < MIN_START_WINDOW_MINUTES:
            raise ValueError(
                f"BackupArgs.start_window_minutes={self.start_window_minutes}: AWS Backup needs "
                "at least 60"
            )
        if self.completion_window_minutes <= self.start_window_minutes:
            raise ValueError(
                f"BackupArgs.completion_window_minutes={self.completion_window_minutes} must "
                f"exceed start_window_minutes={self.start_window_minutes}"
            )


def managed_policies(partition: str | None = None) -> list[str]:
    """The AWS managed policies of the backup role: backup and restore of every supported
    service (under `service-role/`), and S3's own pair, which AWS Backup needs in addition."""
    part = partition or lookups.partition()
    return [
        f"arn:{part}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        f"arn:{part}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
        f"arn:{part}:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
        f"arn:{part}:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
    ]


class BackupPlan(Component):
    """Backup vault(s), a daily plan with cross-Region copy, and the role AWS Backup uses."""

    TYPE = "soundstack:backup:BackupPlan"

    def __init__(
        self,
        name: str,
        args: BackupArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        if args.replica_region == ctx.region:
            raise ValueError(
                f"BackupArgs.replica_region={args.replica_region} (config "
                "resilience.replica_region) is the stack's own Region; a "
                "copy there survives no regional outage: pick another Region, e.g. eu-central-1"
            )
        self.args = args
        self.key = EncryptionKey(
            self.child_name("key"),
            EncryptionKeyArgs(description=f"Backup vault of {ctx.project}-{ctx.stack}"),
            ctx,
            opts=self.child_opts(),
        )
        self.vault = self._vault("vault", self.key.arn, None)
        self.replica_key: EncryptionKey | None = None
        self.replica_vault: aws.backup.Vault | None = None
        copy_actions = []
        if args.replica_region is not None:
            self.replica_key = EncryptionKey(
                self.child_name("replica-key"),
                EncryptionKeyArgs(
                    description=f"Backup copies of {ctx.project}-{ctx.stack} "
                    f"({args.replica_region})",
                    region=args.replica_region,
                ),
                ctx,
                opts=self.child_opts(),
            )
            self.replica_vault = self._vault("replica", self.replica_key.arn, args.replica_region)
            copy_actions.append(
                {
                    "destination_vault_arn": self.replica_vault.arn,
                    "lifecycle": {"delete_after": args.retention_days},
                }
            )
        self.plan = aws.backup.Plan(
            self.child_name("plan"),
            name=self.physical_name("", "backup"),
            rules=[
                {
                    "rule_name": "daily",
                    "target_vault_name": self.vault.name,
                    "schedule": args.schedule,
                    "start_window": args.start_window_minutes,
                    "completion_window": args.completion_window_minutes,
                    "lifecycle": {"delete_after": args.retention_days},
                    "copy_actions": copy_actions,
                    "recovery_point_tags": self.tags(),
                }
            ],
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self.role = ServiceRole(
            self.child_name("role"),
            ServiceRoleArgs(
                services=["backup.amazonaws.com"], managed_policy_arns=managed_policies()
            ),
            ctx,
            opts=self.child_opts(),
        )
        # Monitoring sends these events to the alerts topic (components/monitoring.py).
        vault_name = self.physical_name("vault", "backup")
        vault_arn = (
            f"arn:{lookups.partition()}:backup:{ctx.region}:{lookups.account_id()}:"
            f"backup-vault:{vault_name}"
        )
        self.add_alert_event(
            "job-failures",
            "AWS Backup and copy jobs of the stack's vault that failed, were aborted, expired "
            "or partly failed",
            failed_job_events(vault_name, vault_arn),
        )
        self.register_outputs(
            {"plan_id": self.plan.id, "vault_arn": self.vault.arn, "role_arn": self.role.role_arn}
        )

    def _vault(self, role: str, key_arn: pulumi.Input[str], region: str | None) -> aws.backup.Vault:
        vault = aws.backup.Vault(
            self.child_name(role),
            name=self.physical_name(role, "backup"),
            kms_key_arn=key_arn,
            # A prod vault keeps its recovery points through a stray `pulumi destroy`.
            force_destroy=not self.ctx.is_prod,
            region=region,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        if self.args.vault_lock:
            aws.backup.VaultLockConfiguration(
                self.child_name(f"{role}-lock"),
                backup_vault_name=vault.name,
                changeable_for_days=self.args.lock_changeable_days,
                # No maximum: a locked maximum could never be raised again.
                min_retention_days=self.args.retention_days,
                region=region,
                opts=self.child_opts(),
            )
        return vault

    def protect(self, store: str, arn: pulumi.Input[str]) -> aws.backup.Selection:
        """Back `store` (an RDS instance or cluster, a Neptune cluster, an S3 bucket) up daily.
        An S3 bucket must be versioned (`components.buckets.private_bucket` always is)."""
        return aws.backup.Selection(
            self.child_name(store),
            name=self.physical_name(store, "backup"),
            plan_id=self.plan.id,
            iam_role_arn=self.role.role_arn,
            resources=[arn],
            opts=self.child_opts(),
        )

    def replicate_instance_backups(
        self, store: str, instance: aws.rds.Instance, retention_days: int
    ) -> aws.rds.InstanceAutomatedBackupsReplication:
        """Replicate an RDS instance's automated backups (snapshots and transaction logs, so
        point-in-time restore) to the replica Region, encrypted with the key there."""
        if self.replica_key is None or self.args.replica_region is None:
            raise ValueError(
                f"{self.logical_name}.replicate_instance_backups: no replica Region; set "
                "BackupArgs.replica_region (config resilience.replica_region), or do not "
                "replicate (config resilience.replicate_rds_backups: false)"
            )
        low, high = RDS_RETENTION_RANGE
        if not low <= retention_days <= high:
            raise ValueError(
                f"replicated backup retention {retention_days}: RDS keeps {low} to {high} days"
            )
        return aws.rds.InstanceAutomatedBackupsReplication(
            self.child_name(f"{store}-replication"),
            source_db_instance_arn=instance.arn,
            kms_key_id=self.replica_key.arn,
            retention_period=retention_days,
            region=self.args.replica_region,
            opts=self.child_opts(),
        )
