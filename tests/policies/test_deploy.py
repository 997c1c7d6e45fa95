"""`deploy-*` policies of policies/deploy.py: AWS API constraints, compliant and violating."""

from __future__ import annotations

import json
from typing import Any

import pytest

from soundstack.policies.deploy import NAME_RULES, RANGES, NameRule, name_problem
from tests.policies.helpers import Stack, check_resource

QUEUE = "aws:sqs/queue:Queue"
FN = "aws:lambda/function:Function"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
DIST = "aws:cloudfront/distribution:Distribution"
ACL = "aws:wafv2/webAcl:WebAcl"
POOL_DOMAIN = "aws:cognito/userPoolDomain:UserPoolDomain"
LOG_SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
CERT = "arn:aws:acm:{}:123456789012:certificate/c9510721-9ab3-e8b5-7e82-0e7aca1a2a22"

#: (rule's first type, property) → (a name AWS accepts, names it refuses).
NAMES: dict[tuple[str, str], tuple[str, list[str]]] = {
    ("aws:s3/bucket:Bucket", "bucket"): ("soundstack-prod-media", [
        "Soundstack", "ab", "-soundstack", "a..b", "192.168.5.4", "xn--abc", "media-s3alias",
        "b" * 64]),
    ("aws:iam/role:Role", "name"): ("soundstack-prod-fn@role", ["a role", "r" * 65]),
    ("aws:iam/rolePolicy:RolePolicy", "name"): ("soundstack-prod-fn-write-logs", ["a/b", "p" * 129]),
    ("aws:lambda/function:Function", "name"): ("soundstack-prod-catalog-fn", ["fn.v2", "f" * 65]),
    ("aws:sqs/queue:Queue", "name"): ("soundstack-prod-plays_dlq", ["plays.queue", "q" * 81]),
    ("aws:sns/topic:Topic", "name"): ("soundstack-prod-alerts", ["alerts!", "t" * 257]),
    ("aws:cloudwatch/eventRule:EventRule", "name"): (
        "soundstack-prod-monitoring-event-backup_1.x", ["backup failures", "r:1", "e" * 65]),
    ("aws:kinesis/stream:Stream", "name"): ("soundstack-prod.listening", ["plays/1", "s" * 129]),
    ("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "name"): (
        "soundstack-prod-delivery", ["a b", "d" * 65]),
    ("aws:opensearch/domain:Domain", "domainName"): ("soundstack-prod-search", [
        "Soundstack-search", "1search", "se", "soundstack-production-search1"]),
    ("aws:opensearch/serverlessCollection:ServerlessCollection", "name"): (
        "soundstack-prod-catalog", ["catalog_idx", "c" * 33]),
    ("aws:rds/instance:Instance", "identifier"): ("soundstack-prod-database", [
        "1database", "data--base", "database-", "d" * 64]),
    ("aws:rds/cluster:Cluster", "clusterIdentifier"): ("soundstack-prod-db", ["db_1", "c" * 64]),
    ("aws:rds/proxy:Proxy", "name"): ("soundstack-prod-proxy", ["proxy--1", "proxy-"]),
    ("aws:elasticache/replicationGroup:ReplicationGroup", "replicationGroupId"): (
        "soundstack-prod-cache", ["soundstack-production-session-cache-01-xy", "cache--a"]),
    ("aws:elasticache/serverlessCache:ServerlessCache", "name"): (
        "soundstack-dev-cache", ["9cache", "c" * 41]),
    ("aws:elasticache/user:User", "userId"): ("soundstack-prod-cache-app", ["app_user", "u" * 41]),
    ("aws:elasticache/userGroup:UserGroup", "userGroupId"): ("soundstack-users", ["1users"]),
    ("aws:ecr/repository:Repository", "name"): ("soundstack/prod-catalog", [
        "Catalog", "catalog-", "c", "a//b"]),
    ("aws:cloudfront/function:Function", "name"): ("soundstack-prod-web_spa", ["spa.rewrite"]),
    ("aws:kms/alias:Alias", "name"): ("alias/soundstack-prod-data", [
        "soundstack-data", "alias/aws/s3", "alias/da ta"]),
    ("aws:secretsmanager/secret:Secret", "name"): ("soundstack-prod-payment-providers", [
        "soundstack-prod-stripe", "secret name"]),
    ("aws:cloudwatch/logDeliverySource:LogDeliverySource", "name"): (
        "soundstack-prod-media-cloudfront-logs", ["media/logs", "l" * 61]),
    ("aws:cloudwatch/logGroup:LogGroup", "name"): ("/aws/lambda/soundstack-prod-fn", [
        "/aws/lambda/fn:1", "/" + "g" * 512]),
    ("aws:redshiftserverless/namespace:Namespace", "namespaceName"): (
        "soundstack-prod-analytics", ["Analytics", "ns"]),
    ("aws:redshiftserverless/workgroup:Workgroup", "workgroupName"): (
        "soundstack-prod-analytics", ["analytics_wg"]),
    ("aws:codebuild/project:Project", "name"): ("soundstack-prod-deploy", ["-deploy", "d"]),
    ("aws:codepipeline/pipeline:Pipeline", "name"): ("soundstack-prod-pipeline", ["pipe line"]),
    ("aws:wafv2/webAcl:WebAcl", "name"): ("soundstack-prod-edge", ["edge.acl", "w" * 129]),
    ("aws:ec2/securityGroup:SecurityGroup", "name"): ("soundstack-prod-fn", ["sg-catalog"]),
    ("aws:cognito/userPool:UserPool", "name"): ("soundstack prod users", ["users!", "u" * 129]),
}  # fmt: skip


def test_every_name_rule_has_cases():
    assert {(r.types[0], r.prop) for r in NAME_RULES} == set(NAMES)


@pytest.mark.parametrize("rule", NAME_RULES, ids=lambda r: f"{r.types[0]}.{r.prop}")
def test_names_aws_accepts_pass_and_others_fail(rule: NameRule):
    good, bad = NAMES[(rule.types[0], rule.prop)]
    assert name_problem(rule, good) is None
    assert check_resource("deploy-resource-names", rule.types[0], {rule.prop: good}) == []
    for value in bad:
        found = check_resource("deploy-resource-names", rule.types[0], {rule.prop: value})
        assert len(found) == 1 and "AWS:" in found[0], value
    for other in rule.types[1:]:
        assert check_resource("deploy-resource-names", other, {rule.prop: bad[0]}) != []


def test_fifo_names_and_cognito_prefix_domains():
    check = check_resource
    assert check("deploy-resource-names", QUEUE, {"name": "plays.fifo", "fifoQueue": True}) == []
    assert check("deploy-resource-names", QUEUE, {"name": "plays", "fifoQueue": True}) != []
    assert check("deploy-resource-names", QUEUE, {"name": "plays.fifo"}) != []
    assert check("deploy-resource-names", POOL_DOMAIN, {"domain": "soundstack-prod-auth"}) == []
    for bad in ("Soundstack", "-auth", "auth-", "a" * 64, "auth.example"):
        assert check("deploy-resource-names", POOL_DOMAIN, {"domain": bad}) != [], bad
    custom = {"domain": "auth.music.example.com", "certificateArn": CERT.format("us-east-1")}
    assert check("deploy-resource-names", POOL_DOMAIN, custom) == []


@pytest.mark.parametrize(("key", "limits"), list(RANGES.items()), ids=str)
def test_ranges(key, limits):
    (type_token, prop), (low, high, _) = key, limits
    assert check_resource("deploy-value-ranges", type_token, {prop: low}) == []
    assert check_resource("deploy-value-ranges", type_token, {prop: high}) == []
    assert check_resource("deploy-value-ranges", type_token, {prop: high + 1}) != []
    if low > 0:
        assert check_resource("deploy-value-ranges", type_token, {prop: low - 1}) != []


def test_log_retention_and_cloudfront_function_size():
    group = "aws:cloudwatch/logGroup:LogGroup"
    assert check_resource("deploy-value-ranges", group, {"retentionInDays": 365}) == []
    assert check_resource("deploy-value-ranges", group, {"retentionInDays": 0}) == []
    assert check_resource("deploy-value-ranges", group, {"retentionInDays": 366}) != []
    function = "aws:cloudfront/function:Function"
    small = "function handler(event) { return event.request; }"
    assert check_resource("deploy-value-ranges", function, {"code": small}) == []
    assert check_resource("deploy-value-ranges", function, {"code": small + " " * 10240}) != []


@pytest.mark.parametrize(
    ("type_token", "props", "violations"),
    [
        ("aws:rds/instance:Instance", {"backupWindow": "02:00-03:00", "maintenanceWindow": "sun:03:30-sun:04:30"}, 0),
        ("aws:rds/instance:Instance", {"backupWindow": "02:00-02:20"}, 1),
        ("aws:rds/instance:Instance", {"backupWindow": "2:00-3:00"}, 1),
        ("aws:rds/instance:Instance", {"backupWindow": "03:00-04:00", "maintenanceWindow": "sun:03:30-sun:04:30"}, 1),
        ("aws:rds/cluster:Cluster", {"preferredBackupWindow": "23:30-00:30", "preferredMaintenanceWindow": "sun:23:50-mon:00:10"}, 1),
        ("aws:rds/cluster:Cluster", {"preferredBackupWindow": "23:30-00:30", "preferredMaintenanceWindow": "sun:01:00-sun:02:00"}, 0),
        ("aws:neptune/cluster:Cluster", {"preferredMaintenanceWindow": "sunday:03:30-sun:04:30"}, 1),
        ("aws:elasticache/replicationGroup:ReplicationGroup", {"snapshotWindow": "02:00-03:00", "maintenanceWindow": "sun:03:30-sun:04:30"}, 0),
        ("aws:elasticache/replicationGroup:ReplicationGroup", {"snapshotWindow": "02:00-02:45"}, 1),
    ],
)  # fmt: skip
def test_backup_windows(type_token, props, violations):
    assert len(check_resource("deploy-backup-windows", type_token, props)) == violations


def sqs_stack(visibility: int | None, timeout: int | None) -> Stack:
    stack = Stack()
    queue = stack.add(
        QUEUE,
        "plays",
        {"name": "plays", **({"visibilityTimeoutSeconds": visibility} if visibility else {})},
    )
    fn = stack.add(FN, "fn", {"name": "rec-fn", **({"timeout": timeout} if timeout else {})})
    stack.add(
        ESM,
        "esm",
        {"eventSourceArn": "arn:aws:sqs:eu-west-1:123456789012:plays", "functionName": "rec-fn"},
        refs={"eventSourceArn": [queue], "functionName": [fn]},
    )
    return stack  # fmt: skip


def test_sqs_visibility_covers_function_timeout():
    policy = "deploy-sqs-visibility-covers-function-timeout"
    assert sqs_stack(90, 15).check(policy) == []
    assert sqs_stack(None, None).check(policy) == []  # AWS defaults: 30 s and 3 s
    assert sqs_stack(15, 15).check(policy) == []
    assert [name for name, _ in sqs_stack(30, 60).check(policy)] == ["esm"]
    assert sqs_stack(None, 120).check(policy) != []


def test_cloudfront_certificates_and_web_acls_live_in_us_east_1():
    policy = "deploy-cloudfront-us-east-1"
    east, west = CERT.format("us-east-1"), CERT.format("eu-west-1")
    assert check_resource(policy, DIST, {"viewerCertificate": {"acmCertificateArn": east}}) == []
    assert (
        check_resource(policy, DIST, {"viewerCertificate": {"cloudfrontDefaultCertificate": True}})
        == []
    )
    assert check_resource(policy, DIST, {"viewerCertificate": {"acmCertificateArn": west}}) != []
    assert check_resource(policy, ACL, {"scope": "CLOUDFRONT", "region": "us-east-1"}) == []
    assert check_resource(policy, ACL, {"scope": "REGIONAL"}) == []
    assert check_resource(policy, ACL, {"scope": "CLOUDFRONT"}) != []
    assert (
        check_resource(policy, POOL_DOMAIN, {"domain": "auth.example.com", "certificateArn": east})
        == []
    )
    assert (
        check_resource(policy, POOL_DOMAIN, {"domain": "auth.example.com", "certificateArn": west})
        != []
    )
    # CloudFront standard logging v2: the distribution's delivery source lives in us-east-1.
    cloudfront = {
        "logType": "ACCESS_LOGS",
        "resourceArn": "arn:aws:cloudfront::123456789012:distribution/E123",
    }
    assert check_resource(policy, LOG_SOURCE, {**cloudfront, "region": "us-east-1"}) == []
    assert check_resource(policy, LOG_SOURCE, cloudfront) != []
    assert check_resource(policy, LOG_SOURCE, {**cloudfront, "region": "eu-west-1"}) != []
    bedrock = {
        "logType": "APPLICATION_LOGS",
        "resourceArn": "arn:aws:bedrock:eu-west-1:123456789012:knowledge-base/K",
    }
    assert check_resource(policy, LOG_SOURCE, bedrock) == []  # fmt: skip


#: One compliant and one violating input per resource policy, for the pack-wide case table.
RESOURCE_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("deploy-resource-names", QUEUE, {"name": "plays"}, {"name": "plays.queue"}),
    ("deploy-value-ranges", QUEUE, {"messageRetentionSeconds": 345600},
     {"messageRetentionSeconds": 30}),
    ("deploy-backup-windows", "aws:rds/instance:Instance", {"backupWindow": "02:00-03:00"},
     {"backupWindow": "02:00-02:10"}),
    ("deploy-cloudfront-us-east-1", ACL, {"scope": "CLOUDFRONT", "region": "us-east-1"},
     {"scope": "CLOUDFRONT", "region": "eu-west-1"}),
    ("deploy-iam-catalogue", "aws:iam/rolePolicy:RolePolicy",
     {"policy": '{"Statement": [{"Effect": "Allow", "Action": "xray:PutTraceSegments", '
                '"Resource": "*"}]}'},
     {"policy": '{"Statement": [{"Effect": "Allow", "Action": "elasticloadbalancing:SetWebAcl", '
                '"Resource": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:'
                'loadbalancer/app/a/b"}]}'}),
    ("deploy-waf-log-destination", "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
     {"logDestinationConfigs": ["arn:aws:s3:::aws-waf-logs-edge"]},
     {"logDestinationConfigs": ["arn:aws:s3:::edge-logs"]}),
    ("deploy-cognito-feature-plan", "aws:cognito/userPool:UserPool",
     {"userPoolTier": "PLUS", "userPoolAddOns": {"advancedSecurityMode": "ENFORCED"}},
     {"userPoolAddOns": {"advancedSecurityMode": "AUDIT"}}),
]  # fmt: skip


def test_iam_catalogue_policy_skips_only_configured_exceptions():
    (bad,) = [c[3] for c in RESOURCE_CASES if c[0] == "deploy-iam-catalogue"]
    name_rule = "r needs-star elasticloadbalancing:SetWebAcl"
    config = {"exceptions": [f"issue 12 item 5: {name_rule}"]}
    policy, role_policy = "deploy-iam-catalogue", "aws:iam/rolePolicy:RolePolicy"
    assert check_resource(policy, role_policy, bad, config) == []
    assert check_resource(policy, role_policy, bad, {"exceptions": ["x: other needs-star a:B"]})
    trust = {
        "assumeRolePolicy": '{"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",'
        ' "Principal": {"Service": "lambda.amazonaws.com"}}]}'
    }
    assert check_resource(policy, "aws:iam/role:Role", trust) == []
    queue_policy = {
        "policy": {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sqs:Send",
                    "Resource": "arn:aws:sqs:eu-west-1:123456789012:q",
                }
            ]
        }
    }
    assert check_resource(policy, "aws:sqs/queuePolicy:QueuePolicy", queue_policy) != []


def iam_stack(inline_sizes: list[int], trust_padding: int = 0, managed: int = 1) -> Stack:
    """A role with RolePolicies of about `inline_sizes` characters each (white space added
    too, which IAM does not count)."""
    stack = Stack()
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Sid": "T" * trust_padding,
            }
        ]
    }
    role = stack.add(
        "aws:iam/role:Role",
        "role",
        {
            "name": "soundstack-prod-fn",
            "assumeRolePolicy": trust,
            "managedPolicyArns": [f"arn:aws:iam::aws:policy/P{i}" for i in range(managed)],
        },
    )
    for i, size in enumerate(inline_sizes):
        document = {
            "Statement": [
                {"Sid": "S" * size, "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
            ]
        }
        text = json.dumps(document, indent=4)
        stack.add(
            "aws:iam/rolePolicy:RolePolicy",
            f"p{i}",
            {"role": "soundstack-prod-fn", "policy": text},
            refs={"role": [role]} if i % 2 else None,
        )
    return stack  # fmt: skip


def test_iam_quotas():
    policy = "deploy-iam-quotas"
    assert iam_stack([4000, 4000]).check(policy) == []
    found = iam_stack([6000, 6000]).check(policy)
    assert [n for n, _ in found] == ["role"] and "10240" in found[0][1]
    assert iam_stack([100], trust_padding=2100).check(policy) != []
    assert iam_stack([100], managed=11).check(policy) != []
    assert iam_stack([100], managed=10).check(policy) == []


def test_waf_log_destinations():
    policy, logging = (
        "deploy-waf-log-destination",
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
    )
    acl = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/1"
    group = "arn:aws:logs:{}:123456789012:log-group:{}"
    good = {
        "resourceArn": acl,
        "logDestinationConfigs": [group.format("us-east-1", "aws-waf-logs-edge")],
    }
    assert check_resource(policy, logging, good) == []
    assert (
        check_resource(
            policy, logging, {"logDestinationConfigs": ["arn:aws:s3:::aws-waf-logs-edge"]}
        )
        == []
    )
    assert (
        check_resource(
            policy,
            logging,
            {**good, "logDestinationConfigs": [group.format("us-east-1", "waf-edge")]},
        )
        != []
    )
    assert (
        check_resource(
            policy,
            logging,
            {**good, "logDestinationConfigs": [group.format("eu-west-1", "aws-waf-logs-edge")]},
        )
        != []
    )
    regional = {
        "resourceArn": acl.replace("global", "regional").replace("us-east-1", "eu-west-1"),
        "logDestinationConfigs": [group.format("eu-west-1", "aws-waf-logs-api")],
    }
    assert check_resource(policy, logging, regional) == []
    firehose = "arn:aws:firehose:eu-west-1:123456789012:deliverystream/analytics"
    assert check_resource(policy, logging, {"logDestinationConfigs": [firehose]}) != []


def test_cognito_threat_protection_needs_plus():
    policy, pool = "deploy-cognito-feature-plan", "aws:cognito/userPool:UserPool"
    assert check_resource(policy, pool, {"userPoolTier": "ESSENTIALS"}) == []
    off = {"userPoolTier": "LITE", "userPoolAddOns": {"advancedSecurityMode": "OFF"}}
    assert check_resource(policy, pool, off) == []
    enforced = {
        "userPoolTier": "ESSENTIALS",
        "userPoolAddOns": {"advancedSecurityMode": "ENFORCED"},
    }
    assert check_resource(policy, pool, enforced) != []


def test_linked_by_pairs_exactly_as_linked(prod):
    """`linked_by` (one pass) finds the pairs `linked` finds pair by pair: the prod stack's
    roles and their policies (all 182 of them linked to a role)."""
    from soundstack.engine import stack_resources
    from soundstack.policies.core import linked, linked_by, of_type

    resources = stack_resources(prod)
    roles = list(of_type(resources, "aws:iam/role:Role"))
    policies = list(of_type(resources, "aws:iam/rolePolicy:RolePolicy"))
    found = linked_by(policies, "role", roles, "name", "id")
    expected = {
        role.urn: [p for p in policies if linked(p, "role", role, "name", "id")] for role in roles
    }
    assert found == expected
    assert sum(map(len, found.values())) == len(policies) > 100
