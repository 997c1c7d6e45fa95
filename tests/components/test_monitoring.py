"""Audit trail, alarms from signals, and the generated dashboard."""

from __future__ import annotations

import json
import re

import pulumi_aws as aws
import pytest

from components.base import Component
from components.monitoring import DEFAULT_THRESHOLDS, AuditTrailArgs, Monitoring, MonitoringArgs
from soundstack.mocks import ACCOUNT_ID
from stacks.loader import ConfigError, load_config, load_stack
from tests.conftest import make_ctx, run_program


class _Queue(Component):
    """A small component offering queue signals, like the messaging tier does."""

    TYPE = "soundstack:tests:Queue"

    def __init__(self, name, ctx, keys=("queue_age", "dlq_depth")):
        super().__init__(name, ctx)
        queue = aws.sqs.Queue(self.child_name("q"), name=self.physical_name("q", "sqs"),
                              opts=self.child_opts())  # fmt: skip
        for key in keys:
            self.add_signal(key, f"{name} {key}", "AWS/SQS", "ApproximateAgeOfOldestMessage",
                            {"QueueName": queue.name}, statistic="Maximum")  # fmt: skip


class _Api(Component):
    TYPE = "soundstack:tests:Api"

    def __init__(self, name, ctx):
        super().__init__(name, ctx)
        api = aws.apigatewayv2.Api(self.child_name("api"), protocol_type="HTTP",
                                   name=self.physical_name("api"), opts=self.child_opts())  # fmt: skip
        self.add_signal("latency", "API p99 latency", "AWS/ApiGateway", "Latency",
                        {"ApiId": api.id}, statistic="p99")  # fmt: skip


def _monitoring_program(thresholds=None, trail=None):
    def program():
        ctx = make_ctx(stack="test")
        _Queue("plays", ctx)
        _Api("api", ctx)
        Monitoring("monitoring", MonitoringArgs(alarm_email="oncall@example.com",
                                                thresholds=thresholds or {}, trail=trail), ctx)  # fmt: skip

    return run_program(program)


def _widgets(synth):
    (dashboard,) = synth.by_type("aws:cloudwatch/dashboard:Dashboard")
    return json.loads(dashboard.inputs["dashboardBody"])["widgets"]


def _dimension_values(widgets):
    values = set()
    for widget in widgets:
        for metric in widget["properties"].get("metrics", []):
            dims = [m for m in metric[2:] if not isinstance(m, dict)]
            values.update(dims[1::2])
    return values


def test_one_alarm_per_signal_each_reporting_to_the_alerts_topic():
    synth = _monitoring_program(thresholds={"queue_age": 120})
    (topic,) = synth.by_type("aws:sns/topic:Topic")
    topic_arn = f"arn:aws:sns:eu-west-1:123456789012:{topic.inputs['name']}"
    alarms = {
        a.inputs["name"]: a.inputs for a in synth.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert set(alarms) == {
        "soundstack-test-monitoring-plays-queue-age",
        "soundstack-test-monitoring-plays-dlq-depth",
        "soundstack-test-monitoring-api-latency",
    }
    for alarm in alarms.values():
        assert alarm["alarmActions"] == [topic_arn] and alarm["okActions"] == [topic_arn]
    assert alarms["soundstack-test-monitoring-plays-queue-age"]["threshold"] == 120
    assert (
        alarms["soundstack-test-monitoring-plays-dlq-depth"]["threshold"]
        == DEFAULT_THRESHOLDS["dlq_depth"]
    )
    latency = alarms["soundstack-test-monitoring-api-latency"]
    assert latency["extendedStatistic"] == "p99" and "statistic" not in latency
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
    (sub,) = synth.by_type("aws:sns/topicSubscription:TopicSubscription")
    assert (sub.inputs["protocol"], sub.inputs["endpoint"]) == ("email", "oncall@example.com")


def test_dashboard_graphs_exactly_the_signals_of_the_program():
    synth = _monitoring_program()
    widgets = _widgets(synth)
    queue_names = {q.inputs["name"] for q in synth.by_type("aws:sqs/queue:Queue")}
    api_ids = {a.inputs["name"] for a in synth.by_type("aws:apigatewayv2/api:Api")}
    assert _dimension_values(widgets) == queue_names | api_ids
    titles = [w["properties"]["title"] for w in widgets if w["type"] == "metric"]
    assert titles == ["plays queue_age", "plays dlq_depth", "API p99 latency"]
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    alarm_arns = {f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{a.inputs['name']}"
                  for a in synth.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")}  # fmt: skip
    assert set(alarm_widget["properties"]["alarms"]) == alarm_arns
    assert [w["properties"]["markdown"] for w in widgets if w["type"] == "text"] == [
        "## plays",
        "## api",
    ]


def test_a_signal_without_threshold_or_a_repeated_one_is_refused_or_told_apart():
    errors = []

    def program():
        ctx = make_ctx(stack="test")
        _Queue("odd", ctx, keys=("concurrency",))
        with pytest.raises(ValueError) as err:
            Monitoring("monitoring", MonitoringArgs(trail=None), ctx)
        errors.append(str(err.value))

    run_program(program)
    assert "'concurrency', which has no threshold" in errors[0]

    def repeated():
        ctx = make_ctx(stack="test")
        comp = _Queue("plays", ctx, keys=())
        comp.add_signal("dlq_depth", "plays DLQ", "AWS/SQS", "M", {"QueueName": "a"})
        comp.add_signal("dlq_depth", "likes DLQ", "AWS/SQS", "M", {"QueueName": "b"})
        Monitoring("monitoring", MonitoringArgs(trail=None), ctx)

    names = {
        a.inputs["name"]
        for a in run_program(repeated).by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert names == {"soundstack-test-monitoring-plays-dlq-depth-plays-dlq",
                     "soundstack-test-monitoring-plays-dlq-depth-likes-dlq"}  # fmt: skip
    with pytest.raises(ValueError, match="unknown keys"):
        MonitoringArgs(thresholds={"cpu_percent": 90})


@pytest.mark.parametrize(("stack", "retention"), [("dev", 90), ("prod", 365)])
def test_trail_is_multi_region_validated_encrypted_and_logged(request, stack, retention):
    synth = request.getfixturevalue(stack)
    (trail,) = synth.by_type("aws:cloudtrail/trail:Trail")
    t = trail.inputs
    assert t["isMultiRegionTrail"] is True and t["enableLogFileValidation"] is True
    assert t["includeGlobalServiceEvents"] is True
    assert t["kmsKeyId"].startswith("arn:aws:kms:")
    (group,) = [
        g
        for g in synth.by_type("aws:cloudwatch/logGroup:LogGroup")
        if g.name == "monitoring-audit-trail-logs"
    ]
    assert (
        t["cloudWatchLogsGroupArn"]
        == f"arn:aws:logs:eu-west-1:123456789012:log-group:{group.inputs['name']}:*"
    )
    assert group.inputs["retentionInDays"] == retention
    (media_bucket,) = [
        b for b in synth.by_type("aws:s3/bucket:Bucket") if b.name == "media-music-bucket"
    ]
    (writes,) = [s for s in t["advancedEventSelectors"] if s["name"] == "Music bucket writes"]
    fields = {f["field"]: f for f in writes["fieldSelectors"]}
    assert fields["readOnly"]["equals"] == ["false"]
    assert fields["resources.ARN"]["startsWiths"] == [
        f"arn:aws:s3:::{media_bucket.inputs['bucket']}/"
    ]


def test_trail_bucket_admits_only_this_trail_over_tls_and_is_access_logged(prod):
    (trail,) = prod.by_type("aws:cloudtrail/trail:Trail")
    trail_arn = f"arn:aws:cloudtrail:eu-west-1:123456789012:trail/{trail.inputs['name']}"
    bucket = trail.inputs["s3BucketName"]
    (policy,) = [
        p
        for p in prod.by_type("aws:s3/bucketPolicy:BucketPolicy")
        if p.name == "monitoring-audit-logs-policy"
    ]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    write = statements["CloudTrailWrite"]
    assert write["Resource"] == f"arn:aws:s3:::{bucket}/AWSLogs/123456789012/*"
    assert write["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    assert (
        statements["CloudTrailAclCheck"]["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    )
    (block,) = [b for b in prod.by_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
                if b.name == "monitoring-audit-logs-public-access"]  # fmt: skip
    assert all(
        block.inputs[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    (logging,) = [
        b
        for b in prod.by_type("aws:s3/bucketLogging:BucketLogging")
        if b.name == "monitoring-audit-logs-logging"
    ]
    assert logging.inputs["targetBucket"] != bucket
    (key,) = [k for k in prod.by_type("aws:kms/key:Key") if k.name == "monitoring-audit-key-key"]
    key_statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    encrypt = key_statements["CloudTrailEncryptLogs"]
    assert encrypt["Condition"]["StringEquals"] == {"aws:SourceArn": trail_arn}
    assert encrypt["Action"] == "kms:GenerateDataKey*"


def test_trail_delivery_role_writes_only_to_its_log_group(prod):
    policies = {p.name: json.loads(p.inputs["policy"])["Statement"][0] for p in prod.by_type("aws:iam/rolePolicy:RolePolicy")
                if p.name.startswith("monitoring-audit-cloudwatch")}  # fmt: skip
    (statement,) = policies.values()
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == [
        "arn:aws:logs:eu-west-1:123456789012:log-group:/soundstack/prod/monitoring-audit/trail:log-stream:*"
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_stack_alarm_targets_the_alerts_topic(request, stack):
    synth = request.getfixturevalue(stack)
    (topic,) = [t for t in synth.by_type("aws:sns/topic:Topic") if t.name == "monitoring-alerts"]
    topic_arn = f"arn:aws:sns:eu-west-1:123456789012:{topic.inputs['name']}"
    alarms = [
        a
        for a in synth.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.name.startswith("monitoring-alarm-")
    ]
    assert alarms, "the stack's components offer signals, so monitoring makes alarms"
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [topic_arn], alarm.name
        assert alarm.inputs["okActions"] == [topic_arn], alarm.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_dashboard_references_only_resources_of_that_stack(request, stack):
    synth = request.getfixturevalue(stack)
    widgets = _widgets(synth)
    values = _dimension_values(widgets)
    assert values
    known: set[str] = {ACCOUNT_ID, "eu-west-1"}  # e.g. OpenSearch's ClientId, WAF's Region

    def collect(value):
        if isinstance(value, str):
            known.add(value)
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    for resource in synth.resources:
        if resource.type not in (
            "aws:cloudwatch/dashboard:Dashboard",
            "aws:cloudwatch/metricAlarm:MetricAlarm",
        ):
            collect(resource.inputs)
            collect(resource.name)
    # the mocks give resources their physical name (or logical name) as id; ElastiCache names
    # its member nodes `<replication group>-001`, `-002` …
    unknown = {v for v in values if v not in known and re.sub(r"-\d{3}$", "", v) not in known}
    assert not unknown
    other = "prod" if stack == "dev" else "dev"
    assert not any(f"-{other}-" in v for v in values)


def test_thresholds_are_stack_config_with_production_defaults():
    dev, prod = load_stack("dev"), load_stack("prod")
    assert prod.monitoring.thresholds == dict(DEFAULT_THRESHOLDS)
    assert dev.monitoring.thresholds["errors"] > prod.monitoring.thresholds["errors"]
    assert dev.monitoring.thresholds["dlq_depth"] == 0  # a dead letter is always worth a look
    with pytest.raises(
        ConfigError, match=r"monitoring\.thresholds.*unknown signal keys \['cpu_pct'\]"
    ):
        load_config("dev", {"aws:region": "eu-west-1", "soundstack:owner": "o", "soundstack:cost_centre": "c",
                            "soundstack:monitoring": {"thresholds": {"cpu_pct": 1}}})  # fmt: skip


def test_monitoring_without_signals_still_renders_a_valid_dashboard():
    def program():
        Monitoring("monitoring", MonitoringArgs(trail=AuditTrailArgs()), make_ctx(stack="test"))

    synth = run_program(program)
    (widget,) = _widgets(synth)
    assert widget["type"] == "text"
    assert not synth.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert not synth.by_type("aws:sns/topicSubscription:TopicSubscription")
    (trail,) = synth.by_type("aws:cloudtrail/trail:Trail")
    assert [s["name"] for s in trail.inputs["advancedEventSelectors"]] == ["Management events"]
