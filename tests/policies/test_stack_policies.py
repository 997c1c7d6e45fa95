"""Every stack policy: a compliant and a violating stack, with split-style companions linked
through property dependencies (as the engine passes them) or by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soundstack.policies.core import get
from soundstack.policies.registry import specs
from tests.policies.helpers import Stack

BUCKET = "aws:s3/bucket:Bucket"
PROD = {"environment": "prod"}
TLS_POLICY = json.dumps(
    {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::b"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
    }
)


def _configure(
    stack: Stack,
    bucket,
    *,
    block=True,
    tls=True,
    algorithm="aws:kms",
    versioned=True,
    enforced=True,
) -> None:
    """Companions of `bucket` as components.buckets makes them, minus what is switched off."""
    name = get(bucket.props, "bucket")
    refs = {"bucket": [bucket]}
    if block:
        stack.add(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            f"{name}-pab",
            {"bucket": name, "blockPublicAcls": True},
            refs,
        )
    if tls:
        stack.add(
            "aws:s3/bucketPolicy:BucketPolicy",
            f"{name}-policy",
            {"bucket": name, "policy": TLS_POLICY},
            refs,
        )
    stack.add(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        f"{name}-sse",
        {
            "bucket": name,
            "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm}}],
        },
        refs,
    )
    if versioned:
        stack.add(
            "aws:s3/bucketVersioning:BucketVersioning",
            f"{name}-versioning",
            {"bucket": name, "versioningConfiguration": {"status": "Enabled"}},
            refs,
        )
    if enforced:
        stack.add(
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            f"{name}-owner",
            {"bucket": name, "rule": {"objectOwnership": "BucketOwnerEnforced"}},
            refs,
        )


def split_bucket(stack: Stack, *, kms=True, logged=True, **flags) -> None:
    """A data bucket and its log bucket (SSE-S3, ACLs on), split-resource style."""
    data = stack.add(BUCKET, "data", {"bucket": "data-bucket"})
    _configure(stack, data, algorithm="aws:kms" if kms else "AES256", **flags)
    logs = stack.add(BUCKET, "logs", {"bucket": "logs-bucket"})
    _configure(stack, logs, algorithm="AES256", enforced=False)
    if logged:
        stack.add(
            "aws:s3/bucketLogging:BucketLogging",
            "data-logging",
            {"bucket": "data-bucket", "targetBucket": "logs-bucket"},
            {"bucket": [data], "targetBucket": [logs]},
        )


def whole_bucket(stack: Stack, **overrides) -> None:
    """A bucket configured whole-resource style (nested settings on aws:s3/bucket:Bucket)."""
    props = {
        "bucket": "whole",
        "policy": TLS_POLICY,
        "serverSideEncryptionConfiguration": {
            "rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}
        },
        "versioning": {"enabled": True},
        "logging": {"targetBucket": "elsewhere"},
        **overrides,
    }
    stack.add(BUCKET, "whole", props)


S3_CASES = [
    ("s3-bucket-public-access-block", {"block": False}),
    ("s3-tls-only", {"tls": False}),
    ("s3-kms-encryption", {"kms": False}),
    ("s3-versioning", {"versioned": False}),
    ("s3-acls-disabled", {"enforced": False}),
]


@pytest.mark.parametrize(("policy", "broken"), S3_CASES)
def test_split_style_buckets(policy, broken):
    good, bad = Stack(), Stack()
    split_bucket(good)
    split_bucket(bad, **broken)
    assert good.check(policy) == []
    assert [name for name, _ in bad.check(policy)] == ["data"]


@pytest.mark.parametrize(
    ("policy", "override"),
    [
        ("s3-tls-only", {"policy": None}),
        ("s3-kms-encryption", {"serverSideEncryptionConfiguration": None}),
        ("s3-versioning", {"versioning": {"enabled": False}}),
        ("s3-access-logging", {"logging": None}),
    ],
)
def test_whole_style_buckets(policy, override):
    good, bad = Stack(), Stack()
    whole_bucket(good)
    whole_bucket(bad, **override)
    assert good.check(policy) == []
    assert bad.check(policy) != []


def test_companions_link_by_name_when_no_property_dependency():
    stack = Stack()
    stack.add(BUCKET, "b", {"bucket": "named"})
    stack.add(
        "aws:s3/bucketVersioning:BucketVersioning",
        "v",
        {"bucket": "named", "versioningConfiguration": {"status": "Enabled"}},
    )
    assert stack.check("s3-versioning") == []


def test_log_delivery_buckets_may_use_sse_s3_and_skip_logging():
    stack = Stack()
    split_bucket(stack)
    assert stack.check("s3-kms-encryption") == []
    assert stack.check("s3-access-logging") == []
    assert stack.check("s3-acls-disabled") == []
    unlogged = Stack()
    split_bucket(unlogged, logged=False)  # `logs` is no longer a log target: both need logging
    assert {n for n, _ in unlogged.check("s3-access-logging")} == {"data", "logs"}
    assert {n for n, _ in unlogged.check("s3-kms-encryption")} == {"logs"}


def test_waf_logging():
    good, bad = Stack(), Stack()
    for stack in (good, bad):
        stack.add("aws:wafv2/webAcl:WebAcl", "acl", {"name": "acl"})
    good.add(
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
        "l",
        {"resourceArn": "arn:acl"},
        {"resourceArn": [good.resources[0]]},
    )
    assert good.check("waf-logging") == []
    assert bad.check("waf-logging") == [("acl", "web ACL acl has no WebAclLoggingConfiguration")]


def _rds(stack: Stack, force_ssl: str, proxy_tls: bool = True) -> None:
    params = stack.add(
        "aws:rds/parameterGroup:ParameterGroup",
        "params",
        {"name": "pg", "parameters": [{"name": "rds.force_ssl", "value": force_ssl}]},
    )
    stack.add(
        "aws:rds/instance:Instance",
        "db",
        {"parameterGroupName": "pg"},
        {"parameterGroupName": [params]},
    )
    stack.add("aws:rds/proxy:Proxy", "proxy", {"requireTls": proxy_tls})


def test_rds_tls_in_transit():
    good, bad, bad_proxy = Stack(), Stack(), Stack()
    _rds(good, "1")
    _rds(bad, "0")
    _rds(bad_proxy, "1", proxy_tls=False)
    assert good.check("rds-tls-in-transit") == []
    assert [n for n, _ in bad.check("rds-tls-in-transit")] == ["db"]
    assert [n for n, _ in bad_proxy.check("rds-tls-in-transit")] == ["proxy"]


@pytest.mark.parametrize(
    ("cluster_type", "instance_type"),
    [
        ("aws:rds/cluster:Cluster", "aws:rds/clusterInstance:ClusterInstance"),
        ("aws:neptune/cluster:Cluster", "aws:neptune/clusterInstance:ClusterInstance"),
    ],
)
def test_database_multi_az_counts_cluster_instances(cluster_type, instance_type):
    good, bad, dev = Stack(), Stack(), Stack()
    for stack, count, env in ((good, 2, "prod"), (bad, 1, "prod"), (dev, 1, "dev")):
        cluster = stack.add(
            cluster_type, "c", {"clusterIdentifier": "c1", "tags": {"environment": env}}
        )
        for i in range(count):
            stack.add(
                instance_type,
                f"i{i}",
                {"clusterIdentifier": "c1"},
                {"clusterIdentifier": [cluster]},
            )
    assert good.check("database-multi-az") == []
    assert [n for n, _ in bad.check("database-multi-az")] == ["c"]
    assert dev.check("database-multi-az") == []


def test_database_multi_az_rds_instance():
    stack = Stack()
    stack.add("aws:rds/instance:Instance", "db", {"multiAz": False, "tags": PROD})
    assert stack.check("database-multi-az") != []


def test_neptune_audit_logs():
    def build(export: list[str], audit: str) -> Stack:
        stack = Stack()
        params = stack.add(
            "aws:neptune/clusterParameterGroup:ClusterParameterGroup",
            "p",
            {
                "name": "np",
                "parameters": [
                    {"name": "neptune_enable_audit_log", "value": audit},
                    {"name": "neptune_enforce_ssl", "value": "1"},
                ],
            },
        )
        stack.add(
            "aws:neptune/cluster:Cluster",
            "graph",
            {"enableCloudwatchLogsExports": export, "neptuneClusterParameterGroupName": "np"},
            {"neptuneClusterParameterGroupName": [params]},
        )
        return stack

    assert build(["audit"], "1").check("neptune-audit-logs") == []
    assert len(build([], "0").check("neptune-audit-logs")) == 2


def test_redshift_tls_and_audit_logging():
    good, bad = Stack(), Stack()
    good.add(
        "aws:redshiftserverless/workgroup:Workgroup",
        "wg",
        {"configParameters": [{"parameterKey": "require_ssl", "parameterValue": "true"}]},
    )
    good.add(
        "aws:redshiftserverless/namespace:Namespace",
        "ns",
        {"logExports": ["userlog", "connectionlog", "useractivitylog"]},
    )
    params = good.add(
        "aws:redshift/parameterGroup:ParameterGroup",
        "rp",
        {"name": "rp", "parameters": [{"name": "require_ssl", "value": "true"}]},
    )
    cluster = good.add(
        "aws:redshift/cluster:Cluster",
        "rs",
        {"clusterIdentifier": "rs", "clusterParameterGroupName": "rp"},
        {"clusterParameterGroupName": [params]},
    )
    good.add(
        "aws:redshift/logging:Logging",
        "rl",
        {"clusterIdentifier": "rs"},
        {"clusterIdentifier": [cluster]},
    )
    bad.add("aws:redshiftserverless/workgroup:Workgroup", "wg", {"configParameters": []})
    bad.add("aws:redshiftserverless/namespace:Namespace", "ns", {"logExports": ["userlog"]})
    bad.add("aws:redshift/cluster:Cluster", "rs", {"clusterIdentifier": "rs"})
    assert good.check("redshift-tls") == [] and good.check("redshift-audit-logging") == []
    assert {n for n, _ in bad.check("redshift-tls")} == {"wg", "rs"}
    assert {n for n, _ in bad.check("redshift-audit-logging")} == {"ns", "rs"}


def test_lambda_async_failure_destination():
    good, bad = Stack(), Stack()
    for stack in (good, bad):
        stack.add("aws:lambda/function:Function", "fn", {"name": "soundstack-dev-fn"})
    good.add(
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        "async",
        {
            "functionName": "soundstack-dev-fn",
            "destinationConfig": {"onFailure": {"destination": "arn:sqs"}},
        },
    )
    assert good.check("lambda-async-failure-destination") == []
    assert [n for n, _ in bad.check("lambda-async-failure-destination")] == ["fn"]


def test_apigw_waf_needs_a_protected_distribution_in_front_of_http_apis():
    good, bad = Stack(), Stack()
    for stack, acl in ((good, "arn:acl"), (bad, None)):
        api = stack.add("aws:apigatewayv2/api:Api", "api", {"protocolType": "HTTP"})
        stack.add("aws:apigatewayv2/api:Api", "ws", {"protocolType": "WEBSOCKET"})
        stack.add(
            "aws:cloudfront/distribution:Distribution",
            "web",
            {"webAclId": acl, "origins": [{"originId": "api", "domainName": "x"}]},
            {"origins": [api]},
        )
        stack.add("aws:apigateway/stage:Stage", "rest", {"stageName": "v1"})
    rest = good.resources[-1]
    good.add(
        "aws:wafv2/webAclAssociation:WebAclAssociation",
        "assoc",
        {"resourceArn": "arn:stage"},
        {"resourceArn": [rest]},
    )
    assert good.check("apigw-waf") == []
    assert {n for n, _ in bad.check("apigw-waf")} == {"api", "rest"}


def test_sqs_dead_letter_queue():
    stack = Stack()
    dlq = stack.add("aws:sqs/queue:Queue", "dlq", {"name": "dlq"})
    stack.add(
        "aws:sqs/queue:Queue",
        "work",
        {"redrivePolicy": '{"deadLetterTargetArn": "a"}'},
        {"redrivePolicy": [dlq]},
    )
    stack.add("aws:sqs/queue:Queue", "tagged", {"tags": {"purpose": "dead-letter"}})
    assert stack.check("sqs-dead-letter-queue") == []
    stack.add("aws:sqs/queue:Queue", "lonely", {"name": "lonely"})
    assert [n for n, _ in stack.check("sqs-dead-letter-queue")] == ["lonely"]


def _sg(stack: Stack, port: int, tags: dict, split: bool) -> None:
    rule = {"protocol": "tcp", "fromPort": port, "toPort": port, "cidrBlocks": ["0.0.0.0/0"]}
    if not split:
        stack.add("aws:ec2/securityGroup:SecurityGroup", "sg", {"ingress": [rule], "tags": tags})
        return
    sg = stack.add("aws:ec2/securityGroup:SecurityGroup", "sg", {"tags": tags})
    stack.add(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "rule",
        {
            "securityGroupId": "sg-1",
            "ipProtocol": "tcp",
            "fromPort": port,
            "toPort": port,
            "cidrIpv4": "0.0.0.0/0",
        },
        {"securityGroupId": [sg]},
    )


@pytest.mark.parametrize("split", [False, True])
def test_world_ingress_only_on_load_balancer_web_ports(split):
    lb = {"purpose": "load-balancer"}
    cases = [(443, lb, True), (80, lb, True), (22, lb, False), (443, {}, False)]
    for port, tags, allowed in cases:
        stack = Stack()
        _sg(stack, port, tags, split)
        assert (stack.check("sg-no-world-ingress") == []) is allowed, (port, tags)


def test_security_group_rule_resource():
    stack = Stack()
    stack.add(
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "ssh",
        {
            "type": "ingress",
            "protocol": "tcp",
            "fromPort": 22,
            "toPort": 22,
            "ipv6CidrBlocks": ["::/0"],
            "securityGroupId": "sg-9",
        },
    )
    stack.add(
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "out",
        {
            "type": "egress",
            "protocol": "-1",
            "fromPort": 0,
            "toPort": 0,
            "cidrBlocks": ["0.0.0.0/0"],
            "securityGroupId": "sg-9",
        },
    )
    assert [n for n, _ in stack.check("sg-no-world-ingress")] == ["ssh"]


def test_vpc_flow_logs():
    good, bad = Stack(), Stack()
    vpc = good.add("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})
    good.add("aws:ec2/flowLog:FlowLog", "fl", {"vpcId": "vpc-1"}, {"vpcId": [vpc]})
    bad.add("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})
    assert good.check("vpc-flow-logs") == []
    assert bad.check("vpc-flow-logs") == [("vpc", "VPC vpc has no flow log")]


def test_secrets_rotation():
    good, bad = Stack(), Stack()
    secret = good.add("aws:secretsmanager/secret:Secret", "s", {"name": "s"})
    good.add(
        "aws:secretsmanager/secretRotation:SecretRotation",
        "rot",
        {"secretId": "arn:s"},
        {"secretId": [secret]},
    )
    bad.add("aws:secretsmanager/secret:Secret", "s", {"name": "s"})
    assert good.check("secrets-rotation") == []
    assert bad.check("secrets-rotation") != []


def test_stack_audit_trail():
    good, bad = Stack(), Stack()
    good.add("aws:cloudtrail/trail:Trail", "trail", {"isMultiRegionTrail": True, "tags": PROD})
    bad.add("aws:cloudtrail/trail:Trail", "trail", {"isMultiRegionTrail": False, "tags": PROD})
    assert good.check("stack-audit-trail") == []
    assert bad.check("stack-audit-trail") != []


def test_stack_edge_protection_in_prod_only():
    def build(env: str, protected: bool) -> Stack:
        stack = Stack()
        dist = stack.add(
            "aws:cloudfront/distribution:Distribution",
            "web",
            {"webAclId": "arn:acl", "tags": {"environment": env}},
        )
        lb = stack.add("aws:lb/loadBalancer:LoadBalancer", "alb", {"internal": False})
        stack.add("aws:lb/loadBalancer:LoadBalancer", "inner", {"internal": True})
        if protected:
            for target in (dist, lb):
                stack.add(
                    "aws:shield/protection:Protection",
                    f"{target.name}-shield",
                    {"resourceArn": "arn"},
                    {"resourceArn": [target]},
                )
            stack.add(
                "aws:wafv2/webAclAssociation:WebAclAssociation",
                "alb-waf",
                {"resourceArn": "arn"},
                {"resourceArn": [lb]},
            )
        return stack

    assert build("prod", True).check("stack-edge-protection") == []
    assert {n for n, _ in build("prod", False).check("stack-edge-protection")} == {"web", "alb"}
    assert build("dev", False).check("stack-edge-protection") == []


def test_stack_no_secret_outputs():
    def build(outputs: dict) -> Stack:
        stack = Stack()
        stack.add("pulumi:pulumi:Stack", "soundstack-test", outputs)
        return stack

    fine = {
        "stripe_secret_arn": "arn:aws:secretsmanager:eu-west-1:1:secret:s",
        "db_password": "[secret]",
        "vpc_id": "vpc-1",
    }
    assert build(fine).check("stack-no-secret-outputs") == []
    assert build({"db_password": "hunter2"}).check("stack-no-secret-outputs") != []
    assert build({"config": {"key": "sk_live_123"}}).check("stack-no-secret-outputs") != []


def test_redshift_workgroup_needs_three_zones():
    """More cases in test_deploy_limits.py."""
    stack = Stack()
    subnets = [stack.add("aws:ec2/subnet:Subnet", f"s{i}", {"availabilityZone": f"eu-west-1{z}"})
               for i, z in enumerate("ab")]  # fmt: skip
    stack.add("aws:redshiftserverless/workgroup:Workgroup", "wg", {"subnetIds": ["a", "b"]},
              {"subnetIds": subnets})  # fmt: skip
    assert stack.check("deploy-redshift-serverless-three-azs") != []


def test_every_stack_policy_is_tested():
    # here or in another test module of the pack (test_deploy_policies.py, test_api_exposure.py …)
    source = "".join(p.read_text() for p in sorted(Path(__file__).parent.glob("test_*.py")))
    untested = [s.name for s in specs() if s.kind == "stack" and f'"{s.name}"' not in source]
    assert untested == []


def test_ecr_image_scanning_on_push_or_by_a_registry_rule():
    repo_type = "aws:ecr/repository:Repository"
    stack = Stack()
    stack.add(
        repo_type, "scanned", {"name": "api", "imageScanningConfiguration": {"scanOnPush": True}}
    )
    stack.add(repo_type, "unscanned", {"name": "worker"})
    stack.add(repo_type, "default", {"name": "web", "imageScanningConfiguration": {}})
    assert [name for name, _ in stack.check("ecr-image-scanning")] == ["unscanned", "default"]
    stack.add(
        "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration",
        "registry",
        {
            "scanType": "ENHANCED",
            "rules": [
                {
                    "scanFrequency": "CONTINUOUS_SCAN",
                    "repositoryFilters": [{"filter": "w*", "filterType": "WILDCARD"}],
                }
            ],
        },
    )
    assert stack.check("ecr-image-scanning") == []


def test_sqs_visibility_covers_the_function_timeout():
    """More cases in tests/policies/test_deploy.py."""
    from tests.policies.test_deploy import sqs_stack

    assert sqs_stack(90, 15).check("deploy-sqs-visibility-covers-function-timeout") == []
    assert sqs_stack(30, 60).check("deploy-sqs-visibility-covers-function-timeout") != []


def test_roles_fit_iam_quotas():
    """More cases in tests/policies/test_deploy.py."""
    from tests.policies.test_deploy import iam_stack

    assert iam_stack([4000, 4000]).check("deploy-iam-quotas") == []
    assert iam_stack([6000, 6000]).check("deploy-iam-quotas") != []
