"""Buckets behind CloudFront survive a Region, and CloudFront logs without ACLs: a compliant and
a violating stack per policy (s3-replication, cloudfront-origin-failover, deploy-s3-replication,
deploy-s3-access-log-region, cloudfront-logging-v2), and the prod stack failing once its
replicas, failover or v2 logging are taken away."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from soundstack.engine import evaluate
from tests.policies.helpers import Stack, check_resource

PROD = {"environment": "prod"}
BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
DIST = "aws:cloudfront/distribution:Distribution"
LOG_SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
LOG_DELIVERY = "aws:cloudwatch/logDelivery:LogDelivery"
REPLICA_KEY = "arn:aws:kms:eu-central-1:123456789012:key/r"
DIST_ARN = "arn:aws:cloudfront::123456789012:distribution/E123"


def rule(**overrides: Any) -> dict[str, Any]:
    """The rule components.replication writes, with `overrides` merged into it."""
    base: dict[str, Any] = {
        "id": "music-to-eu-central-1",
        "status": "Enabled",
        "priority": 1,
        "filter": {},
        "deleteMarkerReplication": {"status": "Enabled"},
        "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
        "destination": {
            "bucket": "arn:aws:s3:::music-r",
            "encryptionConfiguration": {"replicaKmsKeyId": REPLICA_KEY},
            "replicationTime": {"status": "Enabled", "time": {"minutes": 15}},
            "metrics": {"status": "Enabled", "eventThreshold": {"minutes": 15}},
        },
    }
    for key, value in overrides.items():
        if value is None:
            base.pop(key, None)
        elif key == "destination":
            base["destination"] = {**base["destination"], **value}
        else:
            base[key] = value
    return base


def served(
    *,
    rules: list[dict[str, Any]] | None = None,
    replica_region: str | None = "eu-central-1",
    versioned: tuple[bool, bool] = (True, True),
    group: bool = True,
    codes: tuple[int, ...] = (403, 404, 500, 502, 503, 504),
    replica_domain_region: str = "eu-central-1",
) -> Stack:
    """A prod music bucket behind CloudFront, replicated and failed over as components make it."""
    s = Stack()
    music = s.add(BUCKET, "music", {"bucket": "music-b", "tags": PROD})
    replica = s.add(
        BUCKET,
        "replica",
        {"bucket": "music-r", "tags": PROD,
         **({"region": replica_region} if replica_region else {})},
    )  # fmt: skip
    for bucket, on in zip((music, replica), versioned, strict=True):
        if on:
            s.add(
                VERSIONING,
                f"{bucket.name}-versioning",
                {
                    "bucket": bucket.props["bucket"],
                    "versioningConfiguration": {"status": "Enabled"},
                },
                {"bucket": [bucket]},
            )
    s.add(
        ENCRYPTION,
        "music-encryption",
        {"bucket": "music-b",
         "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]},
        {"bucket": [music]},
    )  # fmt: skip
    if rules is not None:
        s.add(REPLICATION, "music-replication", {"bucket": "music-b", "rules": rules},
              {"bucket": [music], "rules": [replica]})  # fmt: skip
    origins = [
        {"originId": "music", "domainName": "music-b.s3.eu-west-1.amazonaws.com",
         "originAccessControlId": "oac"},
        {"originId": "music-replica",
         "domainName": f"music-r.s3.{replica_domain_region}.amazonaws.com",
         "originAccessControlId": "oac-r"},
    ]  # fmt: skip
    groups = [
        {"originId": "music-failover", "failoverCriteria": {"statusCodes": list(codes)},
         "members": [{"originId": "music"}, {"originId": "music-replica"}]}
    ]  # fmt: skip
    s.add(
        DIST,
        "dist",
        {
            "tags": PROD,
            "origins": origins if group else origins[:1],
            **({"originGroups": groups} if group else {}),
            "defaultCacheBehavior": {
                "targetOriginId": "music-failover" if group else "music",
                "allowedMethods": ["GET", "HEAD", "OPTIONS"],
            },
        },
    )
    return s


def test_s3_replication():
    assert served(rules=[rule()]).check("s3-replication") == []
    failing = {
        "no configuration": served(rules=None),
        "rule disabled": served(rules=[rule(status="Disabled")]),
        "same Region": served(rules=[rule()], replica_region=None),
        "no RTC": served(rules=[rule(destination={"replicationTime": {"status": "Disabled"}})]),
        "no metrics": served(rules=[rule(destination={"metrics": {"status": "Disabled"}})]),
    }
    for why, stack in failing.items():
        assert [n for n, _ in stack.check("s3-replication")] == ["music"], why
    # Only prod by default: dev's buckets may live in one Region.
    dev = served(rules=None)
    for resource in dev.resources:
        if "tags" in resource.props:
            resource.props["tags"]["environment"] = "dev"
    assert dev.check("s3-replication") == []
    assert dev.check("s3-replication", {"environments": ["dev"]}) != []


def test_cloudfront_origin_failover():
    assert served(rules=[rule()]).check("cloudfront-origin-failover") == []
    (no_group,) = served(rules=[rule()], group=False).check("cloudfront-origin-failover")
    assert no_group[0] == "dist" and "serves S3 origin music without failover" in no_group[1]
    (partial,) = served(rules=[rule()], codes=(403, 404)).check("cloudfront-origin-failover")
    assert "does not fail over on [500, 502, 503, 504]" in partial[1]
    (same,) = served(rules=[rule()], replica_domain_region="eu-west-1").check(
        "cloudfront-origin-failover"
    )
    assert "fails over within eu-west-1" in same[1]


def test_deploy_s3_replication_states_what_s3_refuses_or_skips():
    policy = "deploy-s3-replication"
    assert served(rules=[rule()]).check(policy) == []
    cases = {
        "source bucket music is not versioned": served(rules=[rule()], versioned=(False, True)),
        "destination bucket replica is not versioned": served(
            rules=[rule()], versioned=(True, False)
        ),
        "without destination encryption_configuration.replica_kms_key_id": served(
            rules=[rule(destination={"encryptionConfiguration": None})]
        ),
        "S3 would replicate none of its objects": served(
            rules=[rule(sourceSelectionCriteria=None)]
        ),
        "replica key is in eu-west-1, the destination bucket in eu-central-1": served(
            rules=[rule(destination={"encryptionConfiguration": {
                "replicaKmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/k"}})]
        ),
        "Replication Time Control needs metrics status Enabled": served(
            rules=[rule(destination={"metrics": {"status": "Disabled"}})]
        ),
        "Replication Time Control takes 15 minutes only": served(
            rules=[rule(destination={"replicationTime": {"status": "Enabled",
                                                         "time": {"minutes": 30}}})]
        ),
        "a rule with a filter needs delete_marker_replication and priority": served(
            rules=[rule(priority=None)]
        ),
    }  # fmt: skip
    for expected, stack in cases.items():
        messages = [m for _, m in stack.check(policy)]
        assert len(messages) == 1 and expected in messages[0], (expected, messages)


def test_deploy_s3_access_log_region():
    def stack(log_region: str | None) -> Stack:
        s = Stack()
        replica = s.add(BUCKET, "replica", {"bucket": "music-r", "region": "eu-central-1"})
        logs = s.add(
            BUCKET, "logs", {"bucket": "logs-r", **({"region": log_region} if log_region else {})}
        )
        s.add(
            LOGGING,
            "replica-logging",
            {"bucket": "music-r", "targetBucket": "logs-r"},
            {"bucket": [replica], "targetBucket": [logs]},
        )
        return s  # fmt: skip

    assert stack("eu-central-1").check("deploy-s3-access-log-region") == []
    (violation,) = stack(None).check("deploy-s3-access-log-region")
    assert violation == (
        "replica-logging",
        "bucket replica (eu-central-1) logs to logs (provider Region); give it a log bucket in "
        "its own Region",
    )


def _distribution_logging(*, v2: bool = True, legacy: bool = False) -> Stack:
    s = Stack()
    dist = s.add(
        DIST,
        "dist",
        {"arn": DIST_ARN, **({"loggingConfig": {"bucket": "logs.s3.amazonaws.com"}} if legacy
                             else {})},
    )  # fmt: skip
    if v2:
        source = s.add(
            LOG_SOURCE, "source",
            {"name": "cf", "logType": "ACCESS_LOGS", "resourceArn": DIST_ARN,
             "region": "us-east-1"},
            {"resourceArn": [dist]},
        )  # fmt: skip
        s.add(LOG_DELIVERY, "delivery", {"deliverySourceName": "cf"},
              {"deliverySourceName": [source]})  # fmt: skip
    return s


def test_cloudfront_logging_v2():
    assert _distribution_logging().check("cloudfront-logging-v2") == []
    (missing,) = _distribution_logging(v2=False).check("cloudfront-logging-v2")
    assert missing[0] == "dist" and "no standard logging v2 delivery" in missing[1]
    (legacy,) = _distribution_logging(legacy=True).check("cloudfront-logging-v2")
    assert "legacy standard logging" in legacy[1] and "needs bucket ACLs" in legacy[1]
    # a delivery source of another kind does not count
    other = _distribution_logging()
    other.resources[1].props["logType"] = "CONNECTION_LOGS"  # type: ignore[index]
    assert [n for n, _ in other.check("cloudfront-logging-v2")] == ["dist"]


@pytest.mark.parametrize(
    ("remove", "policy"),
    [
        ("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "s3-replication"),
        ("aws:cloudwatch/logDelivery:LogDelivery", "cloudfront-logging-v2"),
    ],
)
def test_prod_fails_without_its_replicas_or_its_v2_logging(prod, remove, policy):
    assert [v for v in evaluate(prod) if v.level == "mandatory"] == []
    stripped = copy.deepcopy(prod)
    stripped.resources = [r for r in stripped.resources if r.type != remove]
    failed = {v.urn.split("::")[-1] for v in evaluate(stripped)
              if v.level == "mandatory" and v.policy == policy}  # fmt: skip
    expected = (
        {"media-music-bucket", "web-site-bucket"}
        if policy == "s3-replication"
        else {"media-distribution", "web-distribution"}
    )
    assert failed == expected


def test_prod_fails_when_a_distribution_serves_s3_without_its_origin_group(prod):
    stripped = copy.deepcopy(prod)
    (dist,) = [r for r in stripped.resources if r.name == "media-distribution"]
    dist.inputs.pop("originGroups")
    dist.inputs["defaultCacheBehavior"]["targetOriginId"] = "music"
    failed = {(v.policy, v.urn.split("::")[-1]) for v in evaluate(stripped)
              if v.level == "mandatory"}  # fmt: skip
    assert failed == {("cloudfront-origin-failover", "media-distribution")}


def test_deploy_cloudfront_origin_group_names_what_cloudfront_refuses():
    def dist(members: list[str], codes: list[int], methods: list[str]) -> dict[str, Any]:
        return {
            "origins": [{"originId": "a"}, {"originId": "b"}],
            "originGroups": [{"originId": "g", "members": [{"originId": m} for m in members],
                              "failoverCriteria": {"statusCodes": codes}}],
            "defaultCacheBehavior": {"targetOriginId": "g", "allowedMethods": methods},
            "orderedCacheBehaviors": [{"pathPattern": "/api/*", "targetOriginId": "a",
                                       "allowedMethods": ["GET", "HEAD", "POST", "PUT"]}],
        }  # fmt: skip

    policy, read = "deploy-cloudfront-origin-group", ["GET", "HEAD", "OPTIONS"]
    assert check_resource(policy, DIST, dist(["a", "b"], [403, 404, 500], read)) == []
    assert check_resource(policy, DIST, dist(["a"], [500], read)) == [
        "origin group g has 1 members; it takes exactly 2"
    ]
    assert check_resource(policy, DIST, dist(["a", "c"], [500], read)) == [
        "origin group g names ['c'], not origins of the distribution"
    ]
    assert check_resource(policy, DIST, dist(["a", "b"], [429], read)) == [
        "origin group g fails over on [429]; choose from [400, 403, 404, 416, 500, 502, 503, 504]"
    ]
    (methods,) = check_resource(policy, DIST, dist(["a", "b"], [500], [*read, "POST"]))
    assert methods.startswith("behaviour default is served by origin group g but allows ['POST']")
