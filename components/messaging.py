"""Channels between services: SNS topics, SQS queues with dead-letter queues, a Kinesis stream.

- `Topic`: SNS encrypted with the data key, delivery status logged to CloudWatch, TLS only. Its
  policy names only the account (so nobody outside it can publish or subscribe) and no
  principal inside it: a service publishes only once `grant_publish` gave its role
  `sns:Publish`. The alerts topic belongs to monitoring, not here.
- `Queue`: SQS per consumer, encrypted with the data key, TLS only, a dead-letter queue after
  `max_receive_count` failed receives, visibility timeout six times the consumer's timeout (what
  Lambda needs to retry a batch), and optionally subscribed to a topic with raw delivery and a
  filter policy. `trigger(...)` wires it to a Lambda function.
- `Stream`: Kinesis on demand or provisioned, encrypted with the data key, with enhanced fan-out
  consumers; `subscribe_function(...)` wires a consumer to a Lambda function that bisects failing
  batches, drops records older than `max_record_age_seconds` and sends what it gives up on to a
  failure queue.
- `Messaging`: the platform's set (activity and notifications topics, the listening stream with
  its `feed` consumer) and the factory for per-consumer queues (`queue(...)`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from soundstack.components import access, lookups
from soundstack.components.base import Component, StackContext, json_document
from soundstack.components.iam import Grantee, ServiceRole, ServiceRoleArgs
from soundstack.components.logs import log_group

#: Longest visibility timeout SQS accepts (12 hours).
MAX_VISIBILITY_SECONDS = 43_200
#: SQS keeps dead letters the longest it can (14 days) so nobody loses a failed message.
DLQ_RETENTION_SECONDS = 1_209_600


def deny_insecure_transport(service: str, resource: pulumi.Input[str]) -> dict[str, Any]:
    """Resource-policy statement refusing every `service` call on `resource` made without TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": f"{service}:*",
        "Resource": resource,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


# -- topics ------------------------------------------------------------------------------------
@dataclass
class TopicArgs:
    """An SNS topic encrypted with `kms_key_arn` whose deliveries are logged."""

    kms_key_arn: pulumi.Input[str]
    #: Role SNS uses to write delivery status logs (see `Messaging`); None disables them.
    delivery_log_role_arn: pulumi.Input[str] | None = None
    #: Percentage of successful deliveries logged (failures are always logged).
    success_sample_rate: int = 10
    #: KMS key of the log groups (its policy admits CloudWatch Logs); None: a key of the
    #: component's own.
    log_kms_key_arn: pulumi.Input[str] | None = None
    log_retention_days: int = 365


class Topic(Component):
    """An SNS topic only granted publishers can publish to."""

    TYPE = "soundstack:messaging:Topic"

    def __init__(
        self,
        name: str,
        args: TopicArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.kms_key_arn = args.kms_key_arn
        self.topic_name = self.physical_name("", "sns")
        part, account = lookups.partition(), lookups.account_id()
        feedback: dict[str, Any] = {}
        logs: list[aws.cloudwatch.LogGroup] = []
        if args.delivery_log_role_arn is not None:
            # SNS writes to these fixed names; creating them first sets retention and KMS.
            base = delivery_log_group_name(ctx.region, account, self.topic_name)
            logs = [
                log_group(
                    self,
                    role,
                    args.log_retention_days,
                    args.log_kms_key_arn,
                    name=group,
                    arg="TopicArgs.log_retention_days",
                )
                for role, group in (("delivery", base), ("delivery-failures", f"{base}/Failure"))
            ]
            for protocol in ("sqs", "lambda"):
                feedback |= {
                    f"{protocol}_success_feedback_role_arn": args.delivery_log_role_arn,
                    f"{protocol}_failure_feedback_role_arn": args.delivery_log_role_arn,
                    f"{protocol}_success_feedback_sample_rate": args.success_sample_rate,
                }
        self.topic = aws.sns.Topic(
            self.child_name("topic"),
            name=self.topic_name,
            kms_master_key_id=args.kms_key_arn,
            tags=self.tags(),
            opts=self.child_opts(depends_on=logs),
            **feedback,
        )
        self.arn: pulumi.Output[str] = self.topic.arn
        aws.sns.TopicPolicy(
            self.child_name("policy"),
            arn=self.topic.arn,
            policy=json_document(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "OnlyThisAccountWithIamGrants",
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:{part}:iam::{account}:root"},
                            "Action": ["sns:GetTopicAttributes", "sns:Publish", "sns:Subscribe"],
                            "Resource": self.topic.arn,
                        },
                        deny_insecure_transport("sns", self.topic.arn),
                    ],
                }
            ),
            opts=self.child_opts(),
        )
        self.add_signal(
            "errors",
            f"{name} failed deliveries",
            "AWS/SNS",
            "NumberOfNotificationsFailed",
            {"TopicName": self.topic.name},
        )
        self.register_outputs({"arn": self.arn})

    def grant_publish(self, grantee: Grantee) -> None:
        """Let `grantee` publish to the topic (and encrypt with its key)."""
        access.grant(grantee, access.sid("Publish", self.logical_name), ["sns:Publish"], [self.arn])
        access.grant(
            grantee,
            access.sid("Publish", self.logical_name, "key"),
            access.KMS_ENCRYPT,
            [self.kms_key_arn],
        )


def delivery_log_group_name(region: str, account: str, topic_name: str) -> str:
    """The log group SNS writes a topic's delivery status to (AWS fixes this name)."""
    return f"sns/{region}/{account}/{topic_name}"


# -- queues ------------------------------------------------------------------------------------
@dataclass
class QueueArgs:
    """A queue for one consumer, with its dead-letter queue."""

    kms_key_arn: pulumi.Input[str]
    #: Timeout of the consumer (e.g. the Lambda function); visibility is six times it.
    consumer_timeout_seconds: int = 30
    #: Receives before a message moves to the dead-letter queue.
    max_receive_count: int = 5
    message_retention_seconds: int = 345_600
    #: Topic this queue subscribes to (raw delivery: the body is the published message).
    topic: Topic | None = None
    #: SNS filter policy, e.g. `{"kind": ["like", "follow"]}`; None takes every message.
    filter_policy: Mapping[str, Any] | None = None
    filter_policy_scope: Literal["MessageAttributes", "MessageBody"] = "MessageAttributes"

    def __post_init__(self) -> None:
        if not 1 <= self.consumer_timeout_seconds <= MAX_VISIBILITY_SECONDS // 6:
            raise ValueError(
                f"QueueArgs.consumer_timeout_seconds={self.consumer_timeout_seconds}: use 1 to "
                f"{MAX_VISIBILITY_SECONDS // 6} (visibility is six times it, at most 12 hours)"
            )
        if self.filter_policy is not None and self.topic is None:
            raise ValueError(
                "QueueArgs.filter_policy needs the topic it filters; set QueueArgs.topic"
            )


class Queue(Component):
    """An SQS queue for one consumer, its dead-letter queue and its optional subscription."""

    TYPE = "soundstack:messaging:Queue"

    def __init__(
        self,
        name: str,
        args: QueueArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.kms_key_arn = args.kms_key_arn
        self.dlq = aws.sqs.Queue(
            self.child_name("dlq"),
            name=self.physical_name("dlq", "sqs"),
            kms_master_key_id=args.kms_key_arn,
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self.queue = aws.sqs.Queue(
            self.child_name("queue"),
            name=self.physical_name("", "sqs"),
            kms_master_key_id=args.kms_key_arn,
            kms_data_key_reuse_period_seconds=300,
            visibility_timeout_seconds=min(
                6 * args.consumer_timeout_seconds, MAX_VISIBILITY_SECONDS
            ),
            message_retention_seconds=args.message_retention_seconds,
            receive_wait_time_seconds=20,
            redrive_policy=json_document(
                {"deadLetterTargetArn": self.dlq.arn, "maxReceiveCount": args.max_receive_count}
            ),
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self.arn: pulumi.Output[str] = self.queue.arn
        self.url: pulumi.Output[str] = self.queue.url
        self.dlq_arn: pulumi.Output[str] = self.dlq.arn
        self.dlq_url: pulumi.Output[str] = self.dlq.url
        aws.sqs.RedriveAllowPolicy(
            self.child_name("dlq-sources"),
            queue_url=self.dlq.url,
            redrive_allow_policy=json_document(
                {"redrivePermission": "byQueue", "sourceQueueArns": [self.queue.arn]}
            ),
            opts=self.child_opts(),
        )
        statements: list[Any] = [deny_insecure_transport("sqs", self.queue.arn)]
        if args.topic is not None:
            statements.append(
                {
                    "Sid": "TopicDelivers",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": self.queue.arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": args.topic.arn}},
                }
            )
        policy = aws.sqs.QueuePolicy(
            self.child_name("policy"),
            queue_url=self.queue.url,
            policy=json_document({"Version": "2012-10-17", "Statement": statements}),
            opts=self.child_opts(),
        )
        aws.sqs.QueuePolicy(
            self.child_name("dlq-policy"),
            queue_url=self.dlq.url,
            policy=json_document(
                {
                    "Version": "2012-10-17",
                    "Statement": [deny_insecure_transport("sqs", self.dlq.arn)],
                }
            ),
            opts=self.child_opts(),
        )
        if args.topic is not None:
            aws.sns.TopicSubscription(
                self.child_name("subscription"),
                topic=args.topic.arn,
                protocol="sqs",
                endpoint=self.queue.arn,
                raw_message_delivery=True,
                filter_policy=json.dumps(args.filter_policy) if args.filter_policy else None,
                filter_policy_scope=args.filter_policy_scope if args.filter_policy else None,
                opts=self.child_opts(depends_on=[policy]),
            )
        self.add_signal(
            "queue_age",
            f"{name} oldest message (s)",
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            {"QueueName": self.queue.name},
            statistic="Maximum",
        )
        self.add_signal(
            "dlq_depth",
            f"{name} dead letters",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": self.dlq.name},
            statistic="Maximum",
        )
        self.register_outputs({"arn": self.arn, "url": self.url, "dlq_arn": self.dlq_arn})

    def grant_send(self, grantee: Grantee) -> None:
        """Let `grantee` send messages to the queue (and encrypt with its key)."""
        access.grant(
            grantee, access.sid("Send", self.logical_name), ["sqs:SendMessage"], [self.arn]
        )
        access.grant(
            grantee,
            access.sid("Send", self.logical_name, "key"),
            access.KMS_ENCRYPT,
            [self.kms_key_arn],
        )

    def grant_consume(self, grantee: Grantee) -> None:
        """Let `grantee` receive and delete messages (what an SQS event source needs)."""
        access.grant(
            grantee,
            access.sid("Consume", self.logical_name),
            [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            [self.arn],
        )
        access.grant(
            grantee,
            access.sid("Consume", self.logical_name, "key"),
            access.KMS_DECRYPT,
            [self.kms_key_arn],
        )

    def trigger(
        self,
        function_name: pulumi.Input[str],
        grantee: Grantee,
        batch_size: int = 10,
        max_concurrency: int | None = None,
    ) -> aws.lambda_.EventSourceMapping:
        """Invoke `function_name` (running as `grantee`) with batches from this queue; failed
        items (ReportBatchItemFailures) return to the queue and end in the dead-letter queue."""
        self.grant_consume(grantee)
        return aws.lambda_.EventSourceMapping(
            self.child_name(f"{access.grantee_name(grantee)}-trigger"),
            event_source_arn=self.arn,
            function_name=function_name,
            batch_size=batch_size,
            maximum_batching_window_in_seconds=1 if batch_size > 10 else None,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config={"maximum_concurrency": max_concurrency} if max_concurrency else None,
            tags=self.tags(),
            opts=self.child_opts(),
        )


# -- stream ------------------------------------------------------------------------------------
@dataclass
class StreamArgs:
    """A Kinesis data stream and its enhanced fan-out consumers."""

    kms_key_arn: pulumi.Input[str]
    mode: Literal["ON_DEMAND", "PROVISIONED"] = "ON_DEMAND"
    #: Shards when `mode` is PROVISIONED.
    shards: int = 2
    retention_hours: int = 168
    #: Enhanced fan-out consumers (each gets its own 2 MB/s per shard).
    consumers: Sequence[str] = ("feed",)
    #: Receives before a failure-queue message is dead-lettered.
    max_receive_count: int = 5


class Stream(Component):
    """A Kinesis stream whose consumers read through enhanced fan-out."""

    TYPE = "soundstack:messaging:Stream"

    def __init__(
        self,
        name: str,
        args: StreamArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.args = args
        self.kms_key_arn = args.kms_key_arn
        self.stream = aws.kinesis.Stream(
            self.child_name("stream"),
            name=self.physical_name("", "kinesis"),
            stream_mode_details={"stream_mode": args.mode},
            shard_count=args.shards if args.mode == "PROVISIONED" else None,
            retention_period=args.retention_hours,
            encryption_type="KMS",
            kms_key_id=args.kms_key_arn,
            shard_level_metrics=["IncomingBytes", "OutgoingBytes", "IteratorAgeMilliseconds"],
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self.arn: pulumi.Output[str] = self.stream.arn
        self.stream_name: pulumi.Output[str] = self.stream.name
        self.consumers = {
            consumer: aws.kinesis.StreamConsumer(
                self.child_name(consumer),
                name=self.physical_name(consumer, "kinesis"),
                stream_arn=self.stream.arn,
                tags=self.tags(),
                opts=self.child_opts(),
            )
            for consumer in args.consumers
        }
        #: Failure queues `subscribe_function` created, by the subscribed grantee's name.
        self.failure_queues: dict[str, Queue] = {}
        for consumer, resource in self.consumers.items():
            self.add_signal(
                "iterator_age",
                f"{name} {consumer} behind latest (ms)",
                "AWS/Kinesis",
                "SubscribeToShardEvent.MillisBehindLatest",
                {"StreamName": self.stream.name, "ConsumerName": resource.name},
                statistic="Maximum",
            )
        self.add_signal(
            "throttles",
            f"{name} throttled writes",
            "AWS/Kinesis",
            "WriteProvisionedThroughputExceeded",
            {"StreamName": self.stream.name},
        )
        self.register_outputs({"arn": self.arn})

    def grant_put(self, grantee: Grantee) -> None:
        """Let `grantee` put records on the stream (and encrypt with its key)."""
        access.grant(
            grantee,
            access.sid("Put", self.logical_name),
            ["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStreamSummary"],
            [self.arn],
        )
        access.grant(
            grantee,
            access.sid("Put", self.logical_name, "key"),
            ["kms:GenerateDataKey"],
            [self.kms_key_arn],
        )

    def grant_read(self, grantee: Grantee, consumer: str | None = None) -> None:
        """Let `grantee` read the stream through enhanced fan-out consumer `consumer` (default:
        the first)."""
        resource = self._consumer(consumer)
        access.grant(
            grantee,
            access.sid("Read", self.logical_name),
            [
                "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary",
                "kinesis:GetRecords",
                "kinesis:GetShardIterator",
                "kinesis:ListShards",
            ],
            [self.arn],
        )
        access.grant(
            grantee,
            access.sid("Read", self.logical_name, "fan out"),
            ["kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard"],
            [resource.arn],
        )
        access.grant(
            grantee,
            access.sid("Read", self.logical_name, "key"),
            access.KMS_DECRYPT,
            [self.kms_key_arn],
        )

    def _consumer(self, consumer: str | None) -> aws.kinesis.StreamConsumer:
        key = consumer or next(iter(self.consumers), None)
        if key not in self.consumers:
            raise ValueError(
                f"{self.logical_name} has no consumer {consumer!r}; use one of "
                f"{', '.join(self.consumers) or '(none)'} or add it to StreamArgs.consumers"
            )
        return self.consumers[key]

    def subscribe_function(
        self,
        function_name: pulumi.Input[str],
        grantee: Grantee,
        consumer: str | None = None,
        on_failure: Queue | None = None,
        batch_size: int = 100,
        max_record_age_seconds: int = 3600,
        max_retries: int = 3,
        parallelization_factor: int = 1,
    ) -> aws.lambda_.EventSourceMapping:
        """Invoke `function_name` (running as `grantee`) with records from fan-out `consumer`;
        failing batches are bisected, stale records skipped, and given-up batches described in
        `on_failure` (default: a new `<stream>-<grantee>-failed` queue with its own DLQ)."""
        who = access.grantee_name(grantee)
        resource = self._consumer(consumer)
        self.grant_read(grantee, consumer)
        if on_failure is None:
            on_failure = Queue(
                self.child_name(f"{who}-failed"),
                QueueArgs(
                    kms_key_arn=self.kms_key_arn, max_receive_count=self.args.max_receive_count
                ),
                self.ctx,
                opts=self.child_opts(),
            )
            self.failure_queues[who] = on_failure
        on_failure.grant_send(grantee)
        return aws.lambda_.EventSourceMapping(
            self.child_name(f"{who}-trigger"),
            event_source_arn=resource.arn,
            function_name=function_name,
            starting_position="LATEST",
            batch_size=batch_size,
            bisect_batch_on_function_error=True,
            maximum_record_age_in_seconds=max_record_age_seconds,
            maximum_retry_attempts=max_retries,
            parallelization_factor=parallelization_factor,
            function_response_types=["ReportBatchItemFailures"],
            destination_config={"on_failure": {"destination_arn": on_failure.arn}},
            tags=self.tags(),
            opts=self.child_opts(),
        )


# -- the platform's set ------------------------------------------------------------------------
@dataclass
class MessagingArgs:
    """The platform's topics and stream. Queues are added per consumer with `queue(...)`."""

    kms_key_arn: pulumi.Input[str]
    #: KMS key of the log groups (its policy admits CloudWatch Logs); None: a key of the
    #: component's own.
    log_kms_key_arn: pulumi.Input[str] | None = None
    topics: Sequence[str] = ("activity", "notifications")
    stream: str = "listening"
    stream_consumers: Sequence[str] = ("feed",)
    kinesis_mode: Literal["ON_DEMAND", "PROVISIONED"] = "ON_DEMAND"
    kinesis_shards: int = 2
    kinesis_retention_hours: int = 168
    max_receive_count: int = 5
    log_retention_days: int = 365
    #: Percentage of successful SNS deliveries logged (failures are always logged).
    delivery_success_sample_rate: int = 10


class Messaging(Component):
    """Activity and notification topics, the listening stream, and per-consumer queues."""

    TYPE = "soundstack:messaging:Messaging"

    def __init__(
        self,
        name: str,
        args: MessagingArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.args = args
        part, account = lookups.partition(), lookups.account_id()
        topic_names = {t: ctx.name(self.child_name(t), "sns") for t in args.topics}
        delivery_logs = ServiceRole(
            self.child_name("delivery-logs"),
            ServiceRoleArgs(services=["sns.amazonaws.com"]),
            ctx,
            opts=self.child_opts(),
        )
        groups = [
            f"arn:{part}:logs:{ctx.region}:{account}:log-group:"
            f"{delivery_log_group_name(ctx.region, account, topic)}{suffix}"
            for topic in topic_names.values()
            for suffix in ("", "/Failure")
        ]
        delivery_logs.grant(
            "WriteDeliveryStatusLogs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            [*groups, *(f"{g}:*" for g in groups)],
        )
        self.topics = {
            topic: Topic(
                self.child_name(topic),
                TopicArgs(
                    kms_key_arn=args.kms_key_arn,
                    delivery_log_role_arn=delivery_logs.role_arn,
                    success_sample_rate=args.delivery_success_sample_rate,
                    log_kms_key_arn=args.log_kms_key_arn,
                    log_retention_days=args.log_retention_days,
                ),
                ctx,
                opts=self.child_opts(),
            )
            for topic in args.topics
        }
        self.stream = Stream(
            self.child_name(args.stream),
            StreamArgs(
                kms_key_arn=args.kms_key_arn,
                mode=args.kinesis_mode,
                shards=args.kinesis_shards,
                retention_hours=args.kinesis_retention_hours,
                consumers=args.stream_consumers,
                max_receive_count=args.max_receive_count,
            ),
            ctx,
            opts=self.child_opts(),
        )
        self.queues: dict[str, Queue] = {}
        self.register_outputs(
            {
                "topic_arns": {t: topic.arn for t, topic in self.topics.items()},
                "stream_arn": self.stream.arn,
            }
        )

    def topic(self, name: str) -> Topic:
        """The topic called `name` (e.g. `activity`), or a clear error."""
        if name not in self.topics:
            raise KeyError(
                f"{self.logical_name} has no topic {name!r}; use one of {', '.join(self.topics)} "
                "or add it to MessagingArgs.topics"
            )
        return self.topics[name]

    def queue(
        self,
        name: str,
        consumer_timeout_seconds: int,
        topic: str | None = None,
        filter_policy: Mapping[str, Any] | None = None,
    ) -> Queue:
        """A queue (with DLQ) for one consumer, optionally fed by `topic` through a filter."""
        if name in self.queues:
            raise ValueError(f"{self.logical_name} already has a queue {name!r}")
        self.queues[name] = Queue(
            self.child_name(name),
            QueueArgs(
                kms_key_arn=self.args.kms_key_arn,
                consumer_timeout_seconds=consumer_timeout_seconds,
                max_receive_count=self.args.max_receive_count,
                topic=self.topic(topic) if topic else None,
                filter_policy=filter_policy,
            ),
            self.ctx,
            opts=self.child_opts(),
        )
        return self.queues[name]

    def dead_letter_queues(self) -> dict[str, Queue]:
        """Every queue of the set with a dead-letter queue, by the name an operator gives
        `soundstack redrive --queue`: the consumer queues by their `queue(...)` name, the
        stream's failure queues as `<stream>-<grantee>-failed`."""
        failed = {
            f"{self.args.stream}-{who}-failed": queue
            for who, queue in self.stream.failure_queues.items()
        }
        return {**self.queues, **failed}
