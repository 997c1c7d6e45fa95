"""AWS Backup per stack: a daily plan under a CMK, copied and locked in prod, off in dev."""

from __future__ import annotations

import json

import pytest

from soundstack.components.backup import BackupArgs, BackupPlan, managed_policies
from soundstack.stacks.loader import ConfigError, load_config
from tests.conftest import make_ctx, run_program
from tests.test_config import config

PLAN = "aws:backup/plan:Plan"
VAULT = "aws:backup/vault:Vault"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
SELECTION = "aws:backup/selection:Selection"
REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"


def test_prod_backs_up_daily_copies_to_the_replica_region_and_locks_both_vaults(prod):
    (plan,) = prod.by_type(PLAN)
    (rule,) = plan.inputs["rules"]
    assert rule["schedule"] == "cron(0 3 * * ? *)" and rule["lifecycle"] == {"deleteAfter": 35}
    vaults = {v.name: v for v in prod.by_type(VAULT)}
    assert rule["targetVaultName"] == vaults["backup-vault"].inputs["name"]
    replica = vaults["backup-replica"]
    assert replica.inputs["region"] == "eu-central-1"
    assert replica.inputs["kmsKeyArn"].startswith("arn:aws:kms:eu-central-1:")
    assert vaults["backup-vault"].inputs["kmsKeyArn"].startswith("arn:aws:kms:eu-west-1:")
    (copy,) = rule["copyActions"]
    assert copy["destinationVaultArn"] == replica.outputs["arn"]
    assert copy["destinationVaultArn"].startswith("arn:aws:backup:eu-central-1:")
    assert copy["lifecycle"] == {"deleteAfter": 35}
    assert all(v.inputs["forceDestroy"] is False for v in vaults.values())
    locks = {lock.name: lock.inputs for lock in prod.by_type(LOCK)}
    assert set(locks) == {"backup-vault-lock", "backup-replica-lock"}
    for lock in locks.values():
        assert lock["changeableForDays"] >= 3 and lock["minRetentionDays"] == 35
        assert "maxRetentionDays" not in lock
    assert locks["backup-replica-lock"]["region"] == "eu-central-1"


def test_prod_selects_the_database_the_graph_and_the_analytics_bucket(prod):
    selected = {
        s.name: s.property_dependencies["resources"][0].split("::")[-1]
        for s in prod.by_type(SELECTION)
    }
    assert selected == {
        "backup-database": "database-instance",
        "backup-graph": "graph-cluster",
        "backup-analytics": "analytics-events-bucket",
    }
    (role,) = [r for r in prod.by_type("aws:iam/role:Role") if r.name == "backup-role-role"]
    assert sorted(role.inputs["managedPolicyArns"]) == sorted(managed_policies("aws"))
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": ["backup.amazonaws.com"]}
    assert all(s.inputs["iamRoleArn"] == role.outputs["arn"] for s in prod.by_type(SELECTION))


def test_prod_replicates_rds_automated_backups_with_a_key_in_the_replica_region(prod):
    (replication,) = prod.by_type(REPLICATION)
    (db,) = prod.by_type("aws:rds/instance:Instance")
    i = replication.inputs
    assert i["region"] == "eu-central-1" and i["kmsKeyId"].startswith("arn:aws:kms:eu-central-1:")
    assert i["sourceDbInstanceArn"] == db.outputs["arn"]
    assert i["retentionPeriod"] == db.inputs["backupRetentionPeriod"]


def test_dev_has_no_backup_plan_and_staging_keeps_a_week_unlocked_in_region(dev, staging):
    assert not dev.by_type(PLAN) and not dev.by_type(VAULT) and not dev.by_type(REPLICATION)
    (plan,) = staging.by_type(PLAN)
    (rule,) = plan.inputs["rules"]
    assert rule["lifecycle"] == {"deleteAfter": 7} and not rule.get("copyActions")
    assert len(staging.by_type(VAULT)) == 1 and not staging.by_type(LOCK)
    assert not staging.by_type(REPLICATION) and len(staging.by_type(SELECTION)) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lock_changeable_days": 2}, "ChangeableForDays must be 3 or greater"),
        ({"retention_days": 0}, "AWS Backup keeps 1 to 36500 days"),
        ({"start_window_minutes": 30}, "at least 60"),
    ],
)
def test_args_refuse_what_aws_backup_refuses(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BackupArgs(**kwargs)


def test_a_copy_to_the_stacks_own_region_is_refused():
    def program():
        BackupPlan("b", BackupArgs(replica_region="eu-west-1"), make_ctx("prod"))

    with pytest.raises(ValueError, match="is the stack's own Region"):
        run_program(program)


@pytest.mark.parametrize(
    ("resilience", "expected"),
    [
        ({"replica_region": None}, "resilience.replica_region=null is not allowed in prod"),
        ({"replica_region": "eu-west-1"}, "is the stack's own Region"),
        ({"vault_lock": False}, "resilience.vault_lock=false is not allowed in prod"),
        ({"copy_to_replica": False, "replicate_rds_backups": False},
         "resilience.copy_to_replica=false is not allowed in prod"),
    ],
)  # fmt: skip
def test_prod_config_needs_a_replica_region_copies_and_a_lock(resilience, expected):
    with pytest.raises(ConfigError) as err:
        load_config("prod", config(resilience={"replica_region": "eu-central-1", **resilience}))
    assert expected in str(err.value)


def test_staging_copies_need_a_replica_region():
    with pytest.raises(ConfigError, match=r"resilience\.replica_region is not set"):
        load_config("staging", config(resilience={"replica_region": None,
                                                  "copy_to_replica": True}))  # fmt: skip


def test_aurora_cannot_replicate_automated_backups():
    with pytest.raises(ConfigError, match="replicates automated backups of DB instances only"):
        load_config(
            "staging",
            config(
                database={"engine": "aurora-serverless"},
                resilience={"replica_region": "eu-central-1", "copy_to_replica": True,
                            "replicate_rds_backups": True},
            ),
        )  # fmt: skip
