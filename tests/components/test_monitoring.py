"""Audit trail, alarms from signals, and the generated dashboard."""

from __future__ import annotations

import json
import re

import pulumi_aws as aws
import pytest
from moto.events.models import EventPattern

from soundstack.components.base import Component
from soundstack.components.monitoring import (
    DEFAULT_THRESHOLDS,
    AuditTrailArgs,
    Monitoring,
    MonitoringArgs,
)
from soundstack.mocks import ACCOUNT_ID
from soundstack.stacks.loader import ConfigError, load_config, load_stack
from tests.conftest import make_ctx, one, run_program


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
    api_ids = {a.id for a in synth.by_type("aws:apigatewayv2/api:Api")}
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


def _region(resource, default="eu-west-1"):
    return resource.inputs.get("region", default)


def _alerts_topics(synth):
    """Alerts topic ARN → region, for the monitoring component's topics."""
    return {
        f"arn:aws:sns:{_region(t)}:{ACCOUNT_ID}:{t.inputs['name']}": _region(t)
        for t in synth.by_type("aws:sns/topic:Topic")
        if t.name.startswith("monitoring-alerts")
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_stack_alarm_targets_an_alerts_topic_in_its_own_region(request, stack):
    synth = request.getfixturevalue(stack)
    topics = _alerts_topics(synth)
    assert sorted(topics.values()) == ["eu-west-1", "us-east-1"]
    alarms = [
        a
        for a in synth.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.name.startswith("monitoring-alarm-")
    ]
    assert alarms, "the stack's components offer signals, so monitoring makes alarms"
    for alarm in alarms:
        (target,) = alarm.inputs["alarmActions"]
        assert alarm.inputs["okActions"] == [target], alarm.name
        assert topics.get(target) == _region(alarm), alarm.name
    # each topic is encrypted with a key of its own region and mails the same on-call address
    keys = {k.name: _region(k) for k in synth.by_type("aws:kms/key:Key")}
    subscriptions = {
        s.inputs["topic"]: s.inputs["endpoint"]
        for s in synth.by_type("aws:sns/topicSubscription:TopicSubscription")
        if s.name.startswith("monitoring-alerts")
    }
    for topic in synth.by_type("aws:sns/topic:Topic"):
        if topic.name.startswith("monitoring-alerts"):
            region = _region(topic)
            assert topic.inputs["kmsMasterKeyId"].startswith(f"arn:aws:kms:{region}:")
            assert keys[f"{topic.name}-key-key"] == region
    assert len(subscriptions) == 2 and set(subscriptions) == set(topics)
    assert len(set(subscriptions.values())) == 1


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cloudfront_5xx_rate_alarms_watch_every_distribution_from_us_east_1(request, stack):
    synth = request.getfixturevalue(stack)
    distributions = {d.urn: d for d in synth.by_type("aws:cloudfront/distribution:Distribution")}
    assert {d.name for d in distributions.values()} == {"media-distribution", "web-distribution"}
    alarms = [a for a in synth.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
              if a.inputs["namespace"] == "AWS/CloudFront"]  # fmt: skip
    watched = set()
    for alarm in alarms:
        a = alarm.inputs
        assert (a["metricName"], a["statistic"]) == ("5xxErrorRate", "Average")
        assert a["region"] == "us-east-1"
        assert a["threshold"] == load_stack(stack).monitoring.thresholds["cdn_5xx_rate"]
        (urn,) = alarm.property_dependencies["dimensions"]
        assert a["dimensions"] == {"DistributionId": distributions[urn].id, "Region": "Global"}
        watched.add(urn)
    assert watched == set(distributions)

    cdn_widgets = [w["properties"] for w in _widgets(synth) if w["type"] == "metric"
                   and w["properties"]["metrics"][0][0] == "AWS/CloudFront"]  # fmt: skip
    assert {p["region"] for p in cdn_widgets} == {"us-east-1"}
    assert _dimension_values([{"properties": p} for p in cdn_widgets]) == {
        d.id for d in distributions.values()
    } | {"Global"}
    other = {w["properties"]["region"] for w in _widgets(synth) if w["type"] == "metric"
             and w["properties"]["metrics"][0][0] != "AWS/CloudFront"}  # fmt: skip
    assert other == {"eu-west-1"}


def test_signals_of_another_region_get_their_alarm_and_alerts_topic_there():
    def program():
        ctx = make_ctx(stack="test")
        _Queue("plays", ctx, keys=("queue_age",))
        edge = _Queue("edge", ctx, keys=())
        edge.add_signal("cdn_5xx_rate", "edge 5xx rate", "AWS/CloudFront", "5xxErrorRate",
                        {"DistributionId": "E123", "Region": "Global"}, statistic="Average",
                        region="us-east-1")  # fmt: skip
        Monitoring("monitoring", MonitoringArgs(alarm_email="oncall@example.com", trail=None), ctx)

    synth = run_program(program)
    topics = {t.name: t for t in synth.by_type("aws:sns/topic:Topic")}
    assert set(topics) == {"monitoring-alerts", "monitoring-alerts-us-east-1"}
    assert "region" not in topics["monitoring-alerts"].inputs
    assert topics["monitoring-alerts-us-east-1"].inputs["region"] == "us-east-1"
    alarms = {a.inputs["name"]: a.inputs for a in synth.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")}  # fmt: skip
    regional = alarms["soundstack-test-monitoring-plays-queue-age"]
    edge = alarms["soundstack-test-monitoring-edge-cdn-5xx-rate"]
    assert "region" not in regional and edge["region"] == "us-east-1"
    assert regional["alarmActions"] == [
        f"arn:aws:sns:eu-west-1:{ACCOUNT_ID}:{topics['monitoring-alerts'].inputs['name']}"
    ]
    east_topic = topics["monitoring-alerts-us-east-1"].inputs["name"]
    east_topic_arn = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:{east_topic}"
    assert edge["alarmActions"] == edge["okActions"] == [east_topic_arn]
    assert edge["threshold"] == DEFAULT_THRESHOLDS["cdn_5xx_rate"]
    keys = {k.name: k.inputs for k in synth.by_type("aws:kms/key:Key")}
    east = keys["monitoring-alerts-us-east-1-key-key"]
    assert east["region"] == "us-east-1" and east["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(east["policy"])["Statement"]}
    publish = statements["CloudWatchAlarmsPublish"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    (alias,) = [a for a in synth.by_type("aws:kms/alias:Alias")
                if a.name == "monitoring-alerts-us-east-1-key-alias"]  # fmt: skip
    assert alias.inputs["region"] == "us-east-1"
    subscriptions = {s.name: s.inputs for s in synth.by_type("aws:sns/topicSubscription:TopicSubscription")}  # fmt: skip
    assert subscriptions["monitoring-alerts-us-east-1-email"]["region"] == "us-east-1"
    assert subscriptions["monitoring-alerts-us-east-1-email"]["endpoint"] == "oncall@example.com"
    regions = {w["properties"]["title"]: w["properties"]["region"]
               for w in _widgets(synth) if w["type"] == "metric"}  # fmt: skip
    assert regions == {"plays queue_age": "eu-west-1", "edge 5xx rate": "us-east-1"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_dashboard_references_only_resources_of_that_stack(request, stack):
    synth = request.getfixturevalue(stack)
    widgets = _widgets(synth)
    values = _dimension_values(widgets)
    assert values
    # e.g. OpenSearch's ClientId, WAF's Region, CloudFront's Region
    known: set[str] = {ACCOUNT_ID, "eu-west-1", "Global"}

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
            collect(resource.id)
    # every resource's id (what the mocks answered) counts as known; ElastiCache names
    # its member nodes `<replication group>-001`, `-002` …; an OpenSearch Serverless collection
    # id is the first label of its endpoint (which the catalog's settings carry)
    known |= {k.split(".", 1)[0] for k in known if k.endswith(".aoss.amazonaws.com")}
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


def test_prod_trail_notifies_a_topic_only_it_may_publish_to(prod, dev):
    trail = one(prod, "monitoring-audit-trail", "aws:cloudtrail/trail:Trail")
    trail_arn = f"arn:aws:cloudtrail:eu-west-1:123456789012:trail/{trail.inputs['name']}"
    topic = one(prod, "monitoring-audit-notifications", "aws:sns/topic:Topic")
    assert trail.inputs["snsTopicName"] == topic.inputs["name"]
    policy = one(prod, "monitoring-audit-notifications-policy", "aws:sns/topicPolicy:TopicPolicy")
    assert policy.urn in trail.dependencies  # CloudTrail checks the policy at CreateTrail
    publish, deny = json.loads(policy.inputs["policy"])["Statement"]
    assert publish["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert publish["Action"] == "SNS:Publish"
    assert publish["Resource"] == f"arn:aws:sns:eu-west-1:123456789012:{topic.inputs['name']}"
    assert publish["Condition"] == {"StringEquals": {"aws:SourceArn": trail_arn}}
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    key = one(prod, "monitoring-audit-notifications-key-key", "aws:kms/key:Key")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    grant = statements["CloudTrailEncryptsNotifications"]
    assert grant["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert grant["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    # dev keeps no notification topic
    assert (
        "snsTopicName"
        not in one(dev, "monitoring-audit-trail", "aws:cloudtrail/trail:Trail").inputs
    )
    assert not [t for t in dev.by_type("aws:sns/topic:Topic") if "audit" in t.name]


class _Vault(Component):
    """A component offering a failure event, like the backup plan does."""

    TYPE = "soundstack:tests:Vault"

    def __init__(self, name, ctx):
        super().__init__(name, ctx)
        self.add_alert_event("failed", "failed jobs", {"source": ["aws.backup"],
                                                       "detail": {"state": ["FAILED"]}})  # fmt: skip


def test_offered_events_reach_the_alerts_topic_through_a_rule():
    def program():
        ctx = make_ctx(stack="test")
        _Vault("vault", ctx)
        _Queue("plays", ctx)
        Monitoring("monitoring", MonitoringArgs(alarm_email="oncall@example.com", trail=None), ctx)

    synth = run_program(program)
    (rule,) = synth.by_type("aws:cloudwatch/eventRule:EventRule")
    assert rule.inputs["name"] == "soundstack-test-monitoring-event-vault-failed"
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.backup"],
        "detail": {"state": ["FAILED"]},
    }
    topic = one(synth, "monitoring-alerts", "aws:sns/topic:Topic")
    (target,) = synth.by_type("aws:cloudwatch/eventTarget:EventTarget")
    assert target.inputs["arn"] == topic.outputs["arn"]
    assert target.inputs["rule"] == rule.inputs["name"]
    (policy,) = synth.by_type("aws:sns/topicPolicy:TopicPolicy")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    events = statements["EventRulesPublish"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert events["Condition"] == {"ArnEquals": {"aws:SourceArn": [rule.outputs["arn"]]}}
    # the alarms keep publishing under the policy that now exists
    alarms = statements["CloudWatchAlarmsPublish"]
    assert alarms["Condition"] == {
        "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*"}
    }
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"
    key = one(synth, "monitoring-alerts-key-key", "aws:kms/key:Key")
    grants = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert grants["EventBridgeRulesPublish"] == {
        "Sid": "EventBridgeRulesPublish",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
    }  # no source conditions: EventBridge's KMS requests carry none


def test_without_offered_events_the_topic_keeps_its_default_policy():
    synth = _monitoring_program()
    assert synth.by_type("aws:cloudwatch/eventRule:EventRule") == []
    assert synth.by_type("aws:sns/topicPolicy:TopicPolicy") == []
    key = one(synth, "monitoring-alerts-key-key", "aws:kms/key:Key")
    sids = {s["Sid"] for s in json.loads(key.inputs["policy"])["Statement"]}
    assert "EventBridgeRulesPublish" not in sids


def test_prod_pages_on_failed_backup_and_copy_jobs(prod, dev):
    rule = one(prod, "monitoring-event-backup-job-failures", "aws:cloudwatch/eventRule:EventRule")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["source"] == ["aws.backup"]
    assert set(pattern["detail-type"]) == {"Backup Job State Change", "Copy Job State Change"}
    assert {"FAILED", "ABORTED", "EXPIRED"} <= set(pattern["detail"]["state"])
    assert "COMPLETED" not in pattern["detail"]["state"]
    # Only this stack's vault: both stacks of one account share the default event bus.
    matches = EventPattern(None, pattern).matches_event
    vault = "soundstack-prod-backup-vault"
    arn = f"arn:aws:backup:eu-west-1:123456789012:backup-vault:{vault}"
    other = "soundstack-staging-backup-vault"
    assert matches(_backup_event("Backup Job State Change", backupVaultName=vault))
    assert matches(_backup_event("Copy Job State Change", sourceBackupVaultArn=arn))
    assert not matches(_backup_event("Backup Job State Change", backupVaultName=other))
    assert not matches(_backup_event("Copy Job State Change", sourceBackupVaultArn=arn[:-4]))
    assert not matches(_backup_event("Backup Job State Change", "COMPLETED", backupVaultName=vault))
    # dev runs no backup plan: its only rule is the signing-key age schedule
    assert [r.name for r in dev.by_type("aws:cloudwatch/eventRule:EventRule")] == ["media-key-age"]


def _backup_event(kind: str, state: str = "FAILED", **detail: str) -> dict[str, object]:
    """An AWS Backup event as its examples show them (`detail` fields as named there)."""
    return {
        "version": "0",
        "detail-type": kind,
        "source": "aws.backup",
        "account": "123456789012",
        "region": "eu-west-1",
        "resources": [],
        "detail": {"state": state, **detail},
    }


def test_a_signal_may_fix_its_own_threshold():
    class _Aged(Component):
        TYPE = "soundstack:tests:Aged"

        def __init__(self, name, ctx):
            super().__init__(name, ctx)
            self.add_signal("key_age", "key age", "Custom", "AgeDays", {"Stack": "t"},
                            statistic="Maximum", threshold=90)  # fmt: skip

    def program():
        ctx = make_ctx(stack="test")
        _Aged("keys", ctx)
        Monitoring("monitoring", MonitoringArgs(trail=None), ctx)

    (alarm,) = run_program(program).by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.inputs["threshold"] == 90 and alarm.inputs["metricName"] == "AgeDays"
