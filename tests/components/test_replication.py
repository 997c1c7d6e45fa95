"""Bucket replicas in another Region (components/replication.py) as the stacks register them:
the replica and its key, versioning on both sides, the replication rule (RTC, metrics, SSE-KMS,
delete markers), the replication role's exact statements, and the alarms on lag and failures."""

from __future__ import annotations

import json

import pulumi
import pytest

from soundstack.components import buckets, replication
from soundstack.components.base import Component
from soundstack.stacks.loader import ConfigError, load_config, load_stack
from tests.conftest import make_ctx, one, run_program
from tests.test_config import config

REPLICATED = [("media", "music"), ("web", "site")]
CONFIG = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"


@pytest.mark.parametrize(("owner", "role"), REPLICATED)
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_bucket_replicates_to_a_kms_encrypted_versioned_replica_in_the_replica_region(
    request, stack, owner, role
):
    synth = request.getfixturevalue(stack)
    source = one(synth, f"{owner}-{role}-bucket")
    replica = one(synth, f"{owner}-{role}-replica-bucket")
    assert replica.inputs["region"] == "eu-central-1" and "region" not in source.inputs
    assert replica.inputs["bucket"] == f"soundstack-{stack}-{owner}-{role}-replica-123456789012"
    for bucket in (f"{owner}-{role}", f"{owner}-{role}-replica"):
        versioning = one(synth, f"{bucket}-versioning").inputs
        assert versioning["versioningConfiguration"] == {"status": "Enabled"}
        assert one(synth, f"{bucket}-ownership").inputs["rule"] == {
            "objectOwnership": "BucketOwnerEnforced"
        }
    key = one(synth, f"{owner}-{role}-replica-key-key")
    assert key.inputs["region"] == "eu-central-1" and key.inputs["enableKeyRotation"] is True
    (sse,) = one(synth, f"{owner}-{role}-replica-encryption").inputs["rules"]
    assert sse["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.outputs["arn"]
    }  # fmt: skip
    assert key.outputs["arn"].startswith("arn:aws:kms:eu-central-1:")
    # its access logs stay in its Region ("same AWS Region" as the source of the logs)
    logging = one(synth, f"{owner}-{role}-replica-logging").inputs
    assert logging["targetBucket"] == f"soundstack-{stack}-{owner}-{role}-replica-logs-123456789012"
    assert one(synth, f"{owner}-{role}-replica-logs-bucket").inputs["region"] == "eu-central-1"


@pytest.mark.parametrize(("owner", "role"), REPLICATED)
def test_replication_rule_has_rtc_metrics_kms_and_delete_markers(prod, owner, role):
    config = one(prod, f"{owner}-{role}-replication-config")
    assert config.inputs["bucket"] == f"soundstack-prod-{owner}-{role}-123456789012"
    assert config.inputs["role"] == (
        f"arn:aws:iam::123456789012:role/soundstack-prod-{owner}-{role}-replication"
    )
    (rule,) = config.inputs["rules"]
    key = one(prod, f"{owner}-{role}-replica-key-key").outputs["arn"]
    assert rule == {
        "id": f"{role}-to-eu-central-1",
        "status": "Enabled",
        "priority": 1,
        "filter": {},
        "deleteMarkerReplication": {"status": "Enabled"},
        "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
        "destination": {
            "bucket": f"arn:aws:s3:::soundstack-prod-{owner}-{role}-replica-123456789012",
            "encryptionConfiguration": {"replicaKmsKeyId": key},
            "replicationTime": {"status": "Enabled", "time": {"minutes": 15}},
            "metrics": {"status": "Enabled", "eventThreshold": {"minutes": 15}},
        },
    }
    # S3 refuses the configuration until both buckets are versioned.
    after = {d.split("::")[-1] for d in config.dependencies}
    assert {f"{owner}-{role}-versioning", f"{owner}-{role}-replica-versioning"} <= after
    assert f"{owner}-{role}-replication-encrypt-replicas" in after  # the role can work


@pytest.mark.parametrize(("owner", "role"), REPLICATED)
def test_replication_role_holds_awss_least_privilege_only(prod, owner, role):
    trust = json.loads(one(prod, f"{owner}-{role}-replication-role").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": ["s3.amazonaws.com"]},
         "Action": "sts:AssumeRole"}
    ]  # fmt: skip
    statements = {
        p.name.removeprefix(f"{owner}-{role}-replication-"): json.loads(p.inputs["policy"])
        ["Statement"][0]
        for p in prod.by_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.startswith(f"{owner}-{role}-replication-")
    }  # fmt: skip
    source = f"arn:aws:s3:::soundstack-prod-{owner}-{role}-123456789012"
    replica = f"arn:aws:s3:::soundstack-prod-{owner}-{role}-replica-123456789012"
    source_key = one(prod, f"{owner}-key-key").outputs["arn"]
    replica_key = one(prod, f"{owner}-{role}-replica-key-key").outputs["arn"]
    assert {k: (s["Action"], s["Resource"]) for k, s in statements.items()} == {
        "read-replication-configuration": (
            ["s3:GetReplicationConfiguration", "s3:ListBucket"], [source]),
        "read-source-versions": (
            ["s3:GetObjectVersionAcl", "s3:GetObjectVersionForReplication",
             "s3:GetObjectVersionTagging"], [f"{source}/*"]),
        "write-replicas": (
            ["s3:ReplicateDelete", "s3:ReplicateObject", "s3:ReplicateTags"], [f"{replica}/*"]),
        "decrypt-source": (["kms:Decrypt"], [source_key]),
        "encrypt-replicas": (["kms:Decrypt", "kms:Encrypt"], [replica_key]),
    }  # fmt: skip
    assert statements["decrypt-source"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [source, f"{source}/*"]},
    }
    assert statements["encrypt-replicas"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-central-1.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [replica, f"{replica}/*"]},
    }


@pytest.mark.parametrize(("owner", "role"), REPLICATED)
def test_replication_lag_and_failures_alarm_through_the_alerts_topic(prod, owner, role):
    alarms = {a.inputs["metricName"]: a.inputs
              for a in prod.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
              if a.inputs.get("dimensions", {}).get("SourceBucket")
              == f"soundstack-prod-{owner}-{role}-123456789012"}  # fmt: skip
    assert set(alarms) == {"ReplicationLatency", "OperationsFailedReplication"}
    topic = prod.outputs["alerts_topic_arn"]
    for alarm in alarms.values():
        assert alarm["namespace"] == "AWS/S3"
        assert alarm["dimensions"] == {
            "SourceBucket": f"soundstack-prod-{owner}-{role}-123456789012",
            "DestinationBucket": f"soundstack-prod-{owner}-{role}-replica-123456789012",
            "RuleId": f"{role}-to-eu-central-1",
        }
        assert alarm["alarmActions"] == [topic] and "region" not in alarm
    latency, failed = alarms["ReplicationLatency"], alarms["OperationsFailedReplication"]
    assert (latency["statistic"], latency["threshold"]) == ("Maximum", 900)  # RTC's 15 minutes
    assert (failed["statistic"], failed["threshold"]) == ("Sum", 0)


def test_dev_replicates_nothing(dev):
    assert dev.by_type(CONFIG) == []
    assert not [r for r in dev.resources if "replica" in r.name]
    for name in ("media-distribution", "web-distribution"):
        assert "originGroups" not in one(dev, name).inputs


class _Owner(Component):
    TYPE = "soundstack:test:Owner"


def test_replicate_refuses_the_sources_own_region_or_a_non_region():
    def program(region: str):
        def build() -> None:
            owner = _Owner("o", make_ctx("prod"))
            logs = buckets.log_bucket(owner, "logs", 30)
            source = buckets.private_bucket(owner, "data", None, logs)
            replication.replicate(owner, "data", source, "arn:aws:kms:eu-west-1:1:key/k",
                                  region, 30)  # fmt: skip
            pulumi.export("ok", True)

        return build

    with pytest.raises(ValueError, match="is the Region of bucket data: a replica there survives"):
        run_program(program("eu-west-1"))
    with pytest.raises(ValueError, match="'Frankfurt' is not an AWS Region"):
        run_program(program("Frankfurt"))
    assert run_program(program("eu-central-1")).by_type(CONFIG)


def test_profiles_replicate_staging_and_prod_but_not_dev():
    dev, staging, prod = (load_stack(s) for s in ("dev", "staging", "prod"))
    assert not dev.resilience.replicate_buckets
    assert staging.resilience.replicate_buckets and prod.resilience.replicate_buckets
    assert staging.resilience.replica_region == prod.resilience.replica_region == "eu-central-1"
    # what the bootstrap's deploy role must be allowed to call
    assert dev.regions() == ["eu-west-1", "us-east-1"]
    assert prod.regions() == staging.regions() == ["eu-central-1", "eu-west-1", "us-east-1"]


@pytest.mark.parametrize(
    ("stack", "resilience", "expected"),
    [
        ("prod", {"replicate_buckets": False},
         "soundstack:resilience.replicate_buckets=false is not allowed in prod: music and the web "
         "app must keep streaming when the stack's Region is down; set "
         "resilience.replicate_buckets: true"),
        ("staging", {"replica_region": None},
         "resilience.replica_region is not set, but backups or buckets are copied there"),
        ("staging", {"replica_region": "eu-west-1"}, "is the stack's own Region"),
        ("staging", {"replica_region": "frankfurt"}, "not an AWS region; use e.g. eu-central-1"),
    ],
)  # fmt: skip
def test_bucket_replication_config_is_validated(stack, resilience, expected):
    with pytest.raises(ConfigError) as err:
        load_config(stack, config(resilience={"replica_region": "eu-central-1", **resilience}))
    assert expected in str(err.value)
    # off, no replica Region is needed
    load_config("staging", config(resilience={"replica_region": None, "replicate_buckets": False}))
