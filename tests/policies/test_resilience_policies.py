"""policies/resilience.py: a compliant and a violating stack per policy, and the whole prod
stack failing once its backups, replication or code signing are taken away."""

from __future__ import annotations

import copy

import pytest
from soundstack.engine import evaluate

from tests.policies.helpers import Stack

PROD = {"environment": "prod"}
KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"
REPLICA_KEY = "arn:aws:kms:eu-central-1:123456789012:key/r"
DB_ARN = "arn:aws:rds:eu-west-1:123456789012:db:db"
VAULT_ARN = "arn:aws:backup:eu-west-1:123456789012:backup-vault:v"
REPLICA_ARN = "arn:aws:backup:eu-central-1:123456789012:backup-vault:r"


def _backed_up(*, copy_to=REPLICA_ARN, lock_days=3, min_days=35, keep=35, select=True):
    """A prod database in a daily plan, copied to `copy_to` and locked as given."""
    s = Stack()
    db = s.add("aws:rds/instance:Instance", "db", {"arn": DB_ARN, "tags": PROD})
    vault = s.add(
        "aws:backup/vault:Vault",
        "vault",
        {"name": "v", "arn": VAULT_ARN, "kmsKeyArn": KEY, "tags": PROD},
    )
    replica = s.add(
        "aws:backup/vault:Vault",
        "replica",
        {"name": "r", "arn": REPLICA_ARN, "kmsKeyArn": REPLICA_KEY, "tags": PROD},
    )
    for target in (vault, replica):
        if lock_days is not None:
            s.add(
                "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
                f"{target.name}-lock",
                {"backupVaultName": target.props["name"], "changeableForDays": lock_days,
                 "minRetentionDays": min_days},
                {"backupVaultName": [target]},
            )  # fmt: skip
    rule = {
        "ruleName": "daily",
        "targetVaultName": "v",
        "schedule": "cron(0 3 * * ? *)",
        "lifecycle": {"deleteAfter": keep},
        "copyActions": [{"destinationVaultArn": copy_to}] if copy_to else [],
    }
    plan = s.add("aws:backup/plan:Plan", "plan", {"name": "p", "rules": [rule], "tags": PROD})
    if select:
        s.add(
            "aws:backup/selection:Selection",
            "sel",
            {"planId": "p", "resources": [DB_ARN]},
            {"planId": [plan], "resources": [db]},
        )
    return s, db


def test_backup_plan_coverage():
    good, _ = _backed_up()
    assert good.check("backup-plan-coverage") == []
    bad, _ = _backed_up(select=False)
    assert [n for n, _ in bad.check("backup-plan-coverage")] == ["db"]
    dev = Stack()
    dev.add("aws:neptune/cluster:Cluster", "graph", {"tags": {"environment": "dev"}})
    assert dev.check("backup-plan-coverage") == []
    assert dev.check("backup-plan-coverage", {"environments": ["dev"]}) != []


def test_backup_vault_locked():
    good, _ = _backed_up()
    assert good.check("backup-vault-locked") == []
    unlocked, _ = _backed_up(lock_days=None)
    assert sorted(n for n, _ in unlocked.check("backup-vault-locked")) == ["replica", "vault"]
    cooling, _ = _backed_up(lock_days=2)
    assert any("3 or greater" in m for _, m in cooling.check("backup-vault-locked"))
    too_short, _ = _backed_up(keep=7)
    assert any(
        n == "plan" and "every backup job would fail" in m
        for n, m in too_short.check("backup-vault-locked")
    )
    plain = Stack()
    plain.add("aws:backup/vault:Vault", "v", {"name": "v", "tags": {"environment": "dev"}})
    assert [m for _, m in plain.check("backup-vault-locked")] == [
        "backup vault v has no customer-managed KMS key"
    ]


def test_backup_cross_region_copy():
    good, _ = _backed_up()
    assert good.check("backup-cross-region-copy") == []
    none, _ = _backed_up(copy_to=None)
    assert [n for n, _ in none.check("backup-cross-region-copy")] == ["plan"]
    same_region, _ = _backed_up(copy_to=VAULT_ARN.replace(":v", ":other"))
    assert [n for n, _ in same_region.check("backup-cross-region-copy")] == ["plan"]


def test_rds_backup_replication():
    s, db = _backed_up()
    assert [n for n, _ in s.check("rds-backup-replication")] == ["db"]
    s.add(
        "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
        "repl",
        {"sourceDbInstanceArn": DB_ARN, "kmsKeyId": REPLICA_KEY, "region": "eu-central-1"},
        {"sourceDbInstanceArn": [db]},
    )
    assert s.check("rds-backup-replication") == []
    wrong_key = Stack()
    wrong_key.add(
        "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
        "repl",
        {"sourceDbInstanceArn": DB_ARN, "kmsKeyId": KEY, "region": "eu-central-1"},
    )
    assert any("use a key created in eu-central-1" in m
               for _, m in wrong_key.check("rds-backup-replication"))  # fmt: skip


@pytest.mark.parametrize("status", ["Enabled", "Suspended", None])
def test_deploy_backup_s3_versioning(status):
    s = Stack()
    bucket = s.add("aws:s3/bucket:Bucket", "events", {"bucket": "events", "arn": "arn:aws:s3:::e"})
    if status:
        s.add(
            "aws:s3/bucketVersioning:BucketVersioning",
            "events-versioning",
            {"bucket": "events", "versioningConfiguration": {"status": status}},
            {"bucket": [bucket]},
        )
    assert s.check("deploy-backup-s3-versioning") == []  # not backed up: nothing to require
    s.add("aws:backup/selection:Selection", "sel", {"resources": ["arn:aws:s3:::e"]})
    found = s.check("deploy-backup-s3-versioning")
    assert (found == []) is (status == "Enabled")


def test_lambda_code_signing():
    s = Stack()
    config = s.add(
        "aws:lambda/codeSigningConfig:CodeSigningConfig",
        "csc",
        {"arn": "arn:aws:lambda:eu-west-1:1:code-signing-config:csc-1",
         "allowedPublishers": {"signingProfileVersionArns": ["arn:aws:signer:::p/1"]},
         "policies": {"untrustedArtifactOnDeployment": "Warn"}},
    )  # fmt: skip
    s.add(
        "aws:lambda/function:Function",
        "signed",
        {"codeSigningConfigArn": config.props["arn"], "tags": PROD},
        {"codeSigningConfigArn": [config]},
    )
    assert s.check("lambda-code-signing") == []
    assert [n for n, _ in s.check("lambda-code-signing", {"untrustedArtifactOnDeployment":
                                                          "Enforce"})] == ["csc"]  # fmt: skip
    s.add("aws:lambda/function:Function", "unsigned", {"tags": PROD})
    s.add("aws:lambda/function:Function", "image", {"packageType": "Image", "tags": PROD})
    assert [n for n, _ in s.check("lambda-code-signing")] == ["unsigned"]


@pytest.mark.parametrize(
    ("dropped", "policy"),
    [
        ("aws:backup/selection:Selection", "backup-plan-coverage"),
        ("aws:backup/vaultLockConfiguration:VaultLockConfiguration", "backup-vault-locked"),
        ("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
         "rds-backup-replication"),
        ("aws:lambda/codeSigningConfig:CodeSigningConfig", "lambda-code-signing"),
    ],
)  # fmt: skip
def test_prod_without_the_control_fails_its_policy(prod, dropped, policy):
    assert not [v for v in evaluate(prod) if v.policy == policy]
    broken = copy.deepcopy(prod)
    gone = {r.urn for r in broken.resources if r.type == dropped}
    broken.resources = [r for r in broken.resources if r.urn not in gone]
    for r in broken.resources:
        r.inputs.pop("codeSigningConfigArn", None)
        r.property_dependencies = {
            k: [u for u in v if u not in gone] for k, v in r.property_dependencies.items()
        }
    mandatory = [v for v in evaluate(broken) if v.policy == policy and v.level == "mandatory"]
    assert mandatory, f"prod without {dropped} passes {policy}"
