"""Observability of one stack: the CloudTrail audit trail, alarms and a dashboard.

- `AuditTrail`: a multi-region CloudTrail trail with log file validation, KMS encryption, a
  dedicated locked-down S3 bucket (access-logged, CIS 3.4) and CloudWatch Logs delivery, plus
  data events for writes to the music bucket; with `notifications`, CloudTrail announces every
  log file it delivers on an SNS topic of its own (KMS) for a SIEM or log pipeline to follow.
- `Monitoring`: the SNS alerts topic (KMS) with its e-mail subscription, one alarm per
  `Signal` the components offered (`ctx.signals`) with the stack's threshold for its key, one
  EventBridge rule per `AlertEvent` (`ctx.alert_events`) sending the matching events to the
  same topic, and a CloudWatch dashboard generated from the signals. Build it LAST, after every
  component that offers signals. An alarm can only notify a topic of its own region, so signals
  kept in another region (CloudFront's, in us-east-1) get their alarms, and an alerts topic with
  the same key policy and subscription, in that region.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from soundstack.components import lookups
from soundstack.components.base import AlertEvent, Component, Signal, StackContext, json_document
from soundstack.components.buckets import Bucket, bucket_policy, log_bucket, private_bucket
from soundstack.components.iam import ServiceRole, ServiceRoleArgs
from soundstack.components.kms import EncryptionKey, EncryptionKeyArgs
from soundstack.components.logs import log_group
from soundstack.components.messaging import deny_insecure_transport

#: Alarm threshold per signal key (production values; stacks override some in their profile).
#: Units follow the metric: counts per period, milliseconds, percent, bytes or seconds.
DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "errors": 5,  # function errors per period
    "throttles": 1,  # throttled invocations per period
    "duration": 10_000,  # ms
    "5xx": 5,  # server errors per period (API Gateway, load balancers)
    "cdn_5xx_rate": 5,  # percent of a CloudFront distribution's requests answered with 5xx
    "latency": 2_000,  # ms
    "cpu": 80,  # percent
    "free_storage": 10 * 1024**3,  # bytes left (alarms below it)
    "memory": 80,  # percent used
    "queue_age": 300,  # seconds the oldest message waited
    "dlq_depth": 0,  # any message in a dead-letter queue
    "iterator_age": 60_000,  # ms a stream consumer lags behind
    "failures": 0,  # failed runs of a scheduled job
    # S3 RTC replicates "99.99 percent of those objects within 15 minutes": seconds behind.
    "replication_latency": 900,
    "replication_failures": 0,  # objects S3 could not replicate
}

#: Statistics CloudWatch spells as percentiles (`p99`, `tm90` …) go in `extended_statistic`.
_PERCENTILE = re.compile(r"^(p|tm|wm|tc|ts)\d+(\.\d+)?$")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# --- Audit trail ------------------------------------------------------------------------------


@dataclass
class AuditTrailArgs:
    """Where the trail delivers. Defaults: a year in CloudWatch Logs, every region, validated."""

    #: Days the trail's CloudWatch log group keeps events (PCI DSS 10.5.1 wants ≥ 365 in prod).
    retention_days: int = 365
    #: KMS key of the CloudWatch log group; None: a key of the component's own.
    logs_kms_key_arn: pulumi.Input[str] | None = None
    #: ARN of the music bucket: its object writes are recorded as data events.
    music_bucket_arn: pulumi.Input[str] | None = None
    #: Bucket receiving the trail bucket's S3 server access logs; None makes one for the trail.
    access_logs: Bucket | None = None
    #: Days S3 server access logs of the trail bucket are kept when the trail makes its own.
    access_log_retention_days: int = 365
    #: Publish a notification for every log file delivered, on a KMS-encrypted SNS topic only
    #: this trail may publish to (`AuditTrail.notifications_topic`; subscribe a SIEM queue).
    notifications: bool = True


class AuditTrail(Component):
    """A multi-region, validated, KMS-encrypted CloudTrail trail to S3 and CloudWatch Logs."""

    TYPE = "soundstack:monitoring:AuditTrail"

    def __init__(
        self,
        name: str,
        args: AuditTrailArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        account = lookups.account_id()
        part = lookups.partition()
        trail_name = self.physical_name("", "cloudtrail")
        trail_arn = f"arn:{part}:cloudtrail:{ctx.region}:{account}:trail/{trail_name}"
        bucket_arn = f"arn:{part}:s3:::{self.s3_bucket_name('logs')}"
        source = {"aws:SourceArn": trail_arn}

        # CIS 3.5 / CloudTrail.2: only this trail may encrypt with the key (AWS's CloudTrail
        # key policy, bound to the trail ARN and the account's trails' encryption context).
        self.key = EncryptionKey(
            self.child_name("key"),
            EncryptionKeyArgs(
                description=f"CloudTrail log files of {ctx.project}-{ctx.stack}",
                extra_statements=[
                    {
                        "Sid": "CloudTrailEncryptLogs",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudtrail.amazonaws.com"},
                        "Action": "kms:GenerateDataKey*",
                        "Resource": "*",
                        "Condition": {
                            "StringEquals": source,
                            "StringLike": {
                                "kms:EncryptionContext:aws:cloudtrail:arn": (
                                    f"arn:{part}:cloudtrail:*:{account}:trail/*"
                                )
                            },
                        },
                    },
                    {
                        "Sid": "CloudTrailDescribeKey",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudtrail.amazonaws.com"},
                        "Action": "kms:DescribeKey",
                        "Resource": "*",
                        "Condition": {"StringEquals": source},
                    },
                ],
            ),
            ctx,
            opts=self.child_opts(),
        )
        logs = args.access_logs or log_bucket(self, "access-logs", args.access_log_retention_days)
        # A dedicated bucket: TLS only, no public access, KMS, versioned, access-logged; only
        # this trail (aws:SourceArn) may check its ACL and write under AWSLogs/<account>/.
        self.bucket = private_bucket(self, "logs", self.key.arn, logs, intelligent_tiering=False)
        bucket_policy_ = bucket_policy(
            self,
            "logs",
            self.bucket,
            [
                {
                    "Sid": "CloudTrailAclCheck",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:GetBucketAcl",
                    "Resource": bucket_arn,
                    "Condition": {"StringEquals": source},
                },
                {
                    "Sid": "CloudTrailWrite",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{bucket_arn}/AWSLogs/{account}/*",
                    "Condition": {
                        "StringEquals": {**source, "s3:x-amz-acl": "bucket-owner-full-control"}
                    },
                },
            ],
        )

        self.log_group = log_group(
            self,
            "trail",
            args.retention_days,
            args.logs_kms_key_arn,
            arg="AuditTrailArgs.retention_days",
        )
        delivery = ServiceRole(
            self.child_name("cloudwatch"),
            ServiceRoleArgs(
                assume_role_policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                                "Condition": {"StringEquals": source},
                            }
                        ],
                    }
                )
            ),
            ctx,
            opts=self.child_opts(),
        )
        delivery.grant(
            "DeliverTrailEvents",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [pulumi.Output.concat(self.log_group.arn, ":log-stream:*")],
        )

        self._topic_ready: list[pulumi.Resource] = []
        self.notifications_topic = (
            self._notifications_topic(f"arn:{part}:sns:{ctx.region}:{account}", trail_arn)
            if args.notifications
            else None
        )
        selectors: list[dict[str, Any]] = [
            {
                "name": "Management events",
                "field_selectors": [{"field": "eventCategory", "equals": ["Management"]}],
            }
        ]
        if args.music_bucket_arn is not None:
            selectors.append(
                {
                    "name": "Music bucket writes",
                    "field_selectors": [
                        {"field": "eventCategory", "equals": ["Data"]},
                        {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                        {"field": "readOnly", "equals": ["false"]},
                        {
                            "field": "resources.ARN",
                            "starts_withs": [pulumi.Output.concat(args.music_bucket_arn, "/")],
                        },
                    ],
                }
            )
        self.trail = aws.cloudtrail.Trail(
            self.child_name("trail"),
            name=trail_name,
            s3_bucket_name=self.bucket.name,
            is_multi_region_trail=True,  # CIS 3.1
            include_global_service_events=True,
            enable_log_file_validation=True,  # CIS 3.2
            kms_key_id=self.key.arn,
            cloud_watch_logs_group_arn=pulumi.Output.concat(self.log_group.arn, ":*"),
            cloud_watch_logs_role_arn=delivery.role_arn,
            advanced_event_selectors=selectors,
            sns_topic_name=self.notifications_topic.name if self.notifications_topic else None,
            tags=self.tags(),
            opts=self.child_opts(
                depends_on=[*self.bucket.settled, bucket_policy_, delivery, *self._topic_ready]
            ),
        )
        self.arn: pulumi.Output[str] = self.trail.arn
        self.register_outputs({"arn": self.arn, "bucket": self.bucket.name})

    def _notifications_topic(self, arn_prefix: str, trail_arn: str) -> aws.sns.Topic:
        """The topic CloudTrail notifies of each log file delivery, as CloudTrail documents it
        (Amazon SNS topic policy for CloudTrail): SNS:Publish for `cloudtrail.amazonaws.com`
        with the security best practice's `aws:SourceArn` condition ("The value of this key is
        the ARN of the trail"), and, the topic being KMS-encrypted, "you must also enable
        compatibility between the event source (CloudTrail) and the encrypted topic by adding
        the following statement to the policy of the AWS KMS key" (kms:GenerateDataKey* and
        kms:Decrypt). CloudTrail checks the topic policy when the trail is created or updated
        (InsufficientSnsTopicPolicyException), so the trail waits for it."""
        ctx = self.ctx
        name = self.physical_name("notifications", "sns")
        key = EncryptionKey(
            self.child_name("notifications-key"),
            EncryptionKeyArgs(
                description=f"CloudTrail log delivery notifications of {ctx.project}-{ctx.stack}",
                extra_statements=[
                    {
                        "Sid": "CloudTrailEncryptsNotifications",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudtrail.amazonaws.com"},
                        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                        "Resource": "*",
                    }
                ],
            ),
            ctx,
            opts=self.child_opts(),
        )
        topic = aws.sns.Topic(
            self.child_name("notifications"),
            name=name,
            kms_master_key_id=key.arn,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        policy = aws.sns.TopicPolicy(
            self.child_name("notifications-policy"),
            arn=topic.arn,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AWSCloudTrailSNSPolicy",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudtrail.amazonaws.com"},
                            "Action": "SNS:Publish",
                            "Resource": f"{arn_prefix}:{name}",
                            "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
                        },
                        deny_insecure_transport("sns", f"{arn_prefix}:{name}"),
                    ],
                }
            ),
            opts=self.child_opts(),
        )
        self._topic_ready = [policy, key]
        return topic


# --- Alarms and dashboard --------------------------------------------------------------------


@dataclass
class MonitoringArgs:
    """Who hears alarms and when. Defaults are the production thresholds."""

    #: Address subscribed to the alerts topic (AWS sends a confirmation mail); None: no mail.
    alarm_email: str | None = None
    #: Threshold per signal key; keys missing here take `DEFAULT_THRESHOLDS`.
    thresholds: Mapping[str, float] = field(default_factory=dict)
    #: Periods looked at, of which `datapoints_to_alarm` must breach (3 of 3 … 1 of 1).
    evaluation_periods: int = 3
    datapoints_to_alarm: int = 2
    #: Audit trail settings; None builds no trail (e.g. an organisation trail covers the account).
    trail: AuditTrailArgs | None = field(default_factory=AuditTrailArgs)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.thresholds) - set(DEFAULT_THRESHOLDS))
        if unknown:
            raise ValueError(
                f"MonitoringArgs.thresholds (config monitoring.thresholds) has unknown keys "
                f"{unknown}; use signal keys "
                f"{sorted(DEFAULT_THRESHOLDS)}"
            )
        if not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise ValueError(
                f"MonitoringArgs.datapoints_to_alarm={self.datapoints_to_alarm} must be between "
                f"1 and evaluation_periods={self.evaluation_periods}"
            )


class Monitoring(Component):
    """Alerts topic, one alarm per signal and a stack dashboard, plus the audit trail."""

    TYPE = "soundstack:monitoring:Monitoring"

    def __init__(
        self,
        name: str,
        args: MonitoringArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        thresholds = {**DEFAULT_THRESHOLDS, **args.thresholds}
        signals = list(ctx.signals)

        self.trail = (
            AuditTrail(self.child_name("audit"), args.trail, ctx, opts=self.child_opts())
            if args.trail is not None
            else None
        )
        events = list(ctx.alert_events)
        self.topic = self._alerts_topic("alerts", None, args.alarm_email, bool(events))
        self.topic_arn: pulumi.Output[str] = self.topic.arn
        #: Alerts topic per region holding signals: the stack's region, then e.g. us-east-1.
        self.topics: dict[str, aws.sns.Topic] = {ctx.region: self.topic}
        for region in dict.fromkeys(s.region for s in signals):
            if region is not None and region not in self.topics:
                self.topics[region] = self._alerts_topic(
                    f"alerts-{region}", region, args.alarm_email
                )

        ids = _alarm_ids(signals)
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        for alarm_id, signal in zip(ids, signals, strict=True):
            if signal.threshold is None and signal.key not in thresholds:
                raise ValueError(
                    f"{signal.component} offers a signal with key {signal.key!r}, which has no "
                    f"threshold; use one of {sorted(thresholds)} or add the key to "
                    "components.monitoring.DEFAULT_THRESHOLDS"
                )
            threshold = thresholds[signal.key] if signal.threshold is None else signal.threshold
            self.alarms[alarm_id] = self._alarm(alarm_id, signal, threshold, args)
        #: One EventBridge rule per offered event pattern, sending its events to `topic`.
        self.event_rules = {
            f"{e.component}-{e.role}": self._event_rule(e) for e in _unique_events(events)
        }
        if self.event_rules:
            self._topic_policy(list(self.event_rules.values()))

        self.dashboard = aws.cloudwatch.Dashboard(
            self.child_name("dashboard"),
            dashboard_name=self.physical_name("", "dashboard"),
            dashboard_body=dashboard_body(
                signals, [a.arn for a in self.alarms.values()], ctx.region
            ),
            opts=self.child_opts(),
        )
        self.register_outputs(
            {"topic_arn": self.topic_arn, "dashboard": self.dashboard.dashboard_name}
        )

    def _alerts_topic(
        self, role: str, region: str | None, email: str | None, events: bool = False
    ) -> aws.sns.Topic:
        """A KMS-encrypted alerts topic in `region` (None: the stack's) and its e-mail subscription.

        CloudWatch publishes alarm notifications into the encrypted topic, so it may use the key
        (AWS's documented grant for alarms to SSE topics; CloudWatch sends no source account to
        KMS here). With `events`, EventBridge rules publish too: SNS's "Enable compatibility
        between event sources from AWS services and encrypted topics" grant for
        `events.amazonaws.com`, without source conditions, which EventBridge's KMS requests do
        not carry (a conditioned grant would drop every event).
        """
        ctx = self.ctx
        statements: list[dict[str, Any]] = [
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            }
        ]
        if events:
            statements.append(
                {
                    "Sid": "EventBridgeRulesPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                }
            )
        key = EncryptionKey(
            self.child_name(f"{role}-key"),
            EncryptionKeyArgs(
                description=f"Alerts topic of {ctx.project}-{ctx.stack}"
                + (f" in {region}" if region else ""),
                extra_statements=statements,
                region=region,
            ),
            ctx,
            opts=self.child_opts(),
        )
        topic = aws.sns.Topic(
            self.child_name(role),
            name=self.physical_name(role, "sns"),
            kms_master_key_id=key.arn,
            region=region,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        if email:
            aws.sns.TopicSubscription(
                self.child_name(f"{role}-email"),
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                region=region,
                opts=self.child_opts(),
            )
        return topic

    def _event_rule(self, event: AlertEvent) -> aws.cloudwatch.EventRule:
        """A rule on the default event bus matching `event.pattern`, targeting the alerts topic."""
        role = f"{event.component}-{event.role}"
        rule = aws.cloudwatch.EventRule(
            self.child_name(f"event-{role}"),
            name=self.physical_name(f"event-{role}", "event_rule"),
            description=event.description,
            event_pattern=json.dumps(event.pattern),
            tags=self.tags(),
            opts=self.child_opts(),
        )
        aws.cloudwatch.EventTarget(
            self.child_name(f"event-{role}-alerts"),
            rule=rule.name,
            arn=self.topic.arn,
            opts=self.child_opts(),
        )
        return rule

    def _topic_policy(self, rules: Sequence[aws.cloudwatch.EventRule]) -> aws.sns.TopicPolicy:
        """Who may publish to the stack region's alerts topic once event rules do: its alarms
        ("grants permissions to the CloudWatch alarms service to publish messages to the SNS
        topic", limited by `aws:SourceArn` to this account's alarms) and these rules (EventBridge:
        "Your Amazon SNS topic's resource-based policy must allow EventBridge"). The account's
        own principals keep publishing through their IAM policies."""
        ctx = self.ctx
        part, account = lookups.partition(), lookups.account_id()
        return aws.sns.TopicPolicy(
            self.child_name("alerts-policy"),
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, *(r.arn for r in rules)).apply(
                lambda arns: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "CloudWatchAlarmsPublish",
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": "sns:Publish",
                                "Resource": arns[0],
                                "Condition": {
                                    "ArnLike": {
                                        "aws:SourceArn": (
                                            f"arn:{part}:cloudwatch:{ctx.region}:{account}:alarm:*"
                                        )
                                    }
                                },
                            },
                            {
                                "Sid": "EventRulesPublish",
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sns:Publish",
                                "Resource": arns[0],
                                "Condition": {"ArnEquals": {"aws:SourceArn": sorted(arns[1:])}},
                            },
                            deny_insecure_transport("sns", arns[0]),
                        ],
                    }
                )
            ),
            opts=self.child_opts(),
        )

    def _alarm(
        self, alarm_id: str, signal: Signal, threshold: float, args: MonitoringArgs
    ) -> aws.cloudwatch.MetricAlarm:
        percentile = bool(_PERCENTILE.match(signal.statistic))
        topic = self.topics[signal.region or self.ctx.region]
        return aws.cloudwatch.MetricAlarm(
            self.child_name(f"alarm-{alarm_id}"),
            name=self.physical_name(alarm_id, "alarm"),
            alarm_description=(
                f"{signal.label} ({signal.component}): {signal.statistic} of "
                f"{signal.namespace} {signal.metric} {signal.comparison} {threshold:g}"
            ),
            namespace=signal.namespace,
            metric_name=signal.metric,
            dimensions=dict(signal.dimensions),
            statistic=None if percentile else signal.statistic,
            extended_statistic=signal.statistic if percentile else None,
            period=signal.period_seconds,
            evaluation_periods=args.evaluation_periods,
            datapoints_to_alarm=args.datapoints_to_alarm,
            threshold=threshold,
            comparison_operator=signal.comparison,
            treat_missing_data="notBreaching",
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            region=signal.region,
            tags=self.tags(),
            opts=self.child_opts(),
        )


def _unique_events(events: Sequence[AlertEvent]) -> list[AlertEvent]:
    """The offered events, refusing two with the same component and role (one rule name)."""
    seen = [f"{e.component}-{e.role}" for e in events]
    duplicates = sorted({r for r in seen if seen.count(r) > 1})
    if duplicates:
        raise ValueError(f"alert events {duplicates} repeat component and role; name them apart")
    return list(events)


def _alarm_ids(signals: Sequence[Signal]) -> list[str]:
    """`<component>-<key>`, with the label's slug added where a component repeats a key."""
    plain = [f"{s.component}-{s.key}" for s in signals]
    ids = [
        f"{p}-{_slug(s.label)}" if plain.count(p) > 1 else p
        for p, s in zip(plain, signals, strict=True)
    ]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"signals {duplicates} repeat component, key and label; label them apart")
    return ids


def dashboard_body(
    signals: Sequence[Signal], alarm_arns: Sequence[pulumi.Input[str]], region: str
) -> pulumi.Output[str]:
    """A dashboard: a row per component with one graph per signal, then every alarm's state."""
    widgets: list[dict[str, Any]] = []
    y = 0
    components = list(dict.fromkeys(s.component for s in signals))
    for component in components:
        widgets.append(
            {
                "type": "text",
                "x": 0,
                "y": y,
                "width": 24,
                "height": 1,
                "properties": {"markdown": f"## {component}"},
            }
        )
        y += 1
        own = [s for s in signals if s.component == component]
        for i, signal in enumerate(own):
            dims = [part for k, v in signal.dimensions.items() for part in (k, v)]
            widgets.append(
                {
                    "type": "metric",
                    "x": (i % 3) * 8,
                    "y": y + (i // 3) * 6,
                    "width": 8,
                    "height": 6,
                    "properties": {
                        "title": signal.label,
                        "region": signal.region or region,
                        "view": "timeSeries",
                        "stat": signal.statistic,
                        "period": signal.period_seconds,
                        "metrics": [
                            [signal.namespace, signal.metric, *dims, {"label": signal.label}]
                        ],
                    },
                }
            )
        y += ((len(own) + 2) // 3) * 6
    if alarm_arns:
        widgets.append(
            {
                "type": "alarm",
                "x": 0,
                "y": y,
                "width": 24,
                "height": 2 + len(alarm_arns) // 4,
                "properties": {"title": "Alarms", "alarms": list(alarm_arns)},
            }
        )
    if not widgets:
        widgets.append(
            {
                "type": "text",
                "x": 0,
                "y": 0,
                "width": 24,
                "height": 2,
                "properties": {"markdown": "No component of this stack offers metrics yet."},
            }
        )
    return json_document({"widgets": widgets})
