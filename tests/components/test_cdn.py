"""CloudFront building blocks (components/cdn.py) as both distributions register them: origin
groups failing over to the bucket replicas, and standard logging v2 into log buckets whose ACLs
are disabled."""

from __future__ import annotations

import json

import pytest

from soundstack.components.cdn import FAILOVER_STATUS_CODES
from tests.conftest import one

DISTRIBUTIONS = [("media", "music"), ("web", "site")]


@pytest.mark.parametrize(("owner", "role"), DISTRIBUTIONS)
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_default_behaviour_fails_over_to_the_replica_through_its_own_oac(
    request, stack, owner, role
):
    synth = request.getfixturevalue(stack)
    distribution = one(synth, f"{owner}-distribution").inputs
    origins = {o["originId"]: o for o in distribution["origins"]}
    primary, secondary = origins[role], origins[f"{role}-replica"]
    assert (
        primary["domainName"]
        == f"soundstack-{stack}-{owner}-{role}-123456789012.s3.eu-west-1.amazonaws.com"
    )
    assert secondary["domainName"] == (
        f"soundstack-{stack}-{owner}-{role}-replica-123456789012.s3.eu-central-1.amazonaws.com"
    )
    # each bucket through its own OAC, SigV4 signed
    assert primary["originAccessControlId"] == one(synth, f"{owner}-{role}-oac").inputs["name"]
    replica_oac = one(synth, f"{owner}-{role}-replica-oac").inputs
    assert secondary["originAccessControlId"] == replica_oac["name"]
    assert (replica_oac["signingBehavior"], replica_oac["originAccessControlOriginType"]) == (
        "always", "s3"
    )  # fmt: skip
    # fail over within 2 x 5 s instead of CloudFront's default 3 x 10 s
    assert (primary["connectionAttempts"], primary["connectionTimeout"]) == (2, 5)
    (group,) = distribution["originGroups"]
    assert group == {
        "originId": f"{role}-failover",
        "failoverCriteria": {"statusCodes": [403, 404, 500, 502, 503, 504]},
        "members": [{"originId": role}, {"originId": f"{role}-replica"}],
    }
    behaviour = distribution["defaultCacheBehavior"]
    assert behaviour["targetOriginId"] == f"{role}-failover"
    # origin groups serve GET, HEAD and OPTIONS only
    assert sorted(behaviour["allowedMethods"]) == ["GET", "HEAD", "OPTIONS"]
    assert FAILOVER_STATUS_CODES == (403, 404, 500, 502, 503, 504)


@pytest.mark.parametrize(("owner", "role", "actions"),
                         [("media", "music", ["s3:GetObject"]),
                          ("web", "site", ["s3:GetObject", "s3:ListBucket"])])  # fmt: skip
def test_replica_admits_only_the_distribution_over_tls(prod, owner, role, actions):
    policy = one(prod, f"{owner}-{role}-replica-policy")
    assert policy.inputs["region"] == "eu-central-1"
    deny, allow = json.loads(policy.inputs["policy"])["Statement"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == actions
    distribution = one(prod, f"{owner}-distribution")
    assert allow["Condition"] == {
        "StringEquals": {
            "AWS:SourceArn": f"arn:aws:cloudfront::123456789012:distribution/{distribution.id}"
        }
    }
    replica = f"arn:aws:s3:::soundstack-prod-{owner}-{role}-replica-123456789012"
    assert allow["Resource"][-1] == f"{replica}/*"  # fmt: skip
    # CloudFront decrypts replicas with the replica key (OAC + SSE-KMS)
    key_policy = json.loads(one(prod, f"{owner}-{role}-replica-key-key").inputs["policy"])
    (services,) = [s for s in key_policy["Statement"] if s.get("Sid") == "ServicesUseKey"]
    assert services["Principal"] == {"Service": ["cloudfront.amazonaws.com"]}
    assert "kms:Decrypt" in services["Action"]


@pytest.mark.parametrize("owner", ["media", "web"])
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_access_logs_go_through_standard_logging_v2_in_us_east_1(request, stack, owner):
    synth = request.getfixturevalue(stack)
    distribution = one(synth, f"{owner}-distribution")
    assert "loggingConfig" not in distribution.inputs
    source = one(synth, f"{owner}-access-log-source").inputs
    destination = one(synth, f"{owner}-access-log-destination")
    delivery = one(synth, f"{owner}-access-log-delivery").inputs
    name = f"soundstack-{stack}-{owner}-cloudfront-logs"
    assert source == {**source, "name": name, "logType": "ACCESS_LOGS", "region": "us-east-1",
                      "resourceArn": distribution.outputs["arn"]}  # fmt: skip
    assert destination.inputs["region"] == "us-east-1"
    assert destination.inputs["deliveryDestinationConfiguration"] == {
        "destinationResourceArn": f"arn:aws:s3:::soundstack-{stack}-{owner}-access-logs-123456789012"
    }
    assert delivery["deliverySourceName"] == name and delivery["region"] == "us-east-1"
    assert delivery["deliveryDestinationArn"] == destination.outputs["arn"]
    assert delivery["s3DeliveryConfigurations"] == [
        {"suffixPath": "{DistributionId}/{yyyy}/{MM}/{dd}/{HH}", "enableHiveCompatiblePath": False}
    ]
    # the delivery waits for the bucket policy that admits CloudWatch Logs
    assert f"{owner}-access-logs-policy" in {d.split("::")[-1] for d in
                                              one(synth, f"{owner}-access-log-delivery").dependencies}  # fmt: skip


@pytest.mark.parametrize("owner", ["media", "web"])
def test_log_bucket_disables_acls_and_admits_cloudfront_logs_by_policy(prod, owner):
    assert one(prod, f"{owner}-access-logs-ownership").inputs["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }
    assert not prod.by_type("aws:s3/bucketAclV2:BucketAclV2")
    assert not prod.by_type("aws:s3/bucketAcl:BucketAcl")
    statements = {s["Sid"]: s for s in
                  json.loads(one(prod, f"{owner}-access-logs-policy").inputs["policy"])["Statement"]}  # fmt: skip
    bucket = f"arn:aws:s3:::soundstack-prod-{owner}-access-logs-123456789012"
    source = {"StringEquals": {"aws:SourceAccount": "123456789012"},
              "ArnLike": {"aws:SourceArn": "arn:aws:logs:us-east-1:123456789012:*"}}  # fmt: skip
    assert statements["CloudFrontLogsAclCheck"] == {
        "Sid": "CloudFrontLogsAclCheck", "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": ["s3:GetBucketAcl", "s3:ListBucket"], "Resource": bucket, "Condition": source,
    }  # fmt: skip
    write = statements["CloudFrontLogsWrite"]
    assert write["Action"] == "s3:PutObject"
    assert write["Resource"] == f"{bucket}/AWSLogs/123456789012/*"
    assert write["Condition"]["StringEquals"] == {
        "aws:SourceAccount": "123456789012", "s3:x-amz-acl": "bucket-owner-full-control"
    }  # fmt: skip
    assert statements["S3ServerAccessLogs"]["Principal"] == {"Service": "logging.s3.amazonaws.com"}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_bucket_of_every_stack_disables_acls(request, stack):
    synth = request.getfixturevalue(stack)
    owners = {o.inputs["bucket"]: o.inputs["rule"]["objectOwnership"]
              for o in synth.by_type("aws:s3/bucketOwnershipControls:BucketOwnershipControls")}  # fmt: skip
    names = {b.inputs["bucket"] for b in synth.by_type("aws:s3/bucket:Bucket")}
    assert set(owners) == names
    assert set(owners.values()) == {"BucketOwnerEnforced"}
