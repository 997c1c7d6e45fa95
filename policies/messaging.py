"""SNS, SQS and Kinesis: encrypted, and every queue backed by a dead-letter queue.

A queue is a dead-letter queue when another resource sends its failures there (a queue's
`redrivePolicy`, a function's `deadLetterConfig` or on-failure destination, an event source
mapping's or subscription's `redrivePolicy`) or when it carries the tag `purpose: dead-letter`.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from .core import (
    Settings,
    Spec,
    get,
    judging,
    of_type,
    present,
    references,
    resource_policy,
    stack_policy,
    tags_of,
    truthy,
)

POLICIES: list[Spec] = []

TOPIC = "aws:sns/topic:Topic"
QUEUE = "aws:sqs/queue:Queue"
STREAM = "aws:kinesis/stream:Stream"
#: Properties through which a resource names the queue its failures go to.
FAILURE_TARGET_PROPS = ("redrivePolicy", "deadLetterConfig", "destinationConfig")


@resource_policy(
    POLICIES,
    "sns-encrypted",
    "SNS topics encrypt at rest with a KMS key.",
    ["FSBP SNS.1"],
    [TOPIC],
)
def _sns(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not present(args.props, "kmsMasterKeyId"):
        report("no kms_master_key_id; use the messaging KMS key", None)


@resource_policy(
    POLICIES,
    "sqs-encrypted",
    "SQS queues encrypt at rest, with a KMS key or explicitly with SSE-SQS.",
    ["FSBP SQS.1"],
    [QUEUE],
)
def _sqs(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not (
        present(args.props, "kmsMasterKeyId") or truthy(get(args.props, "sqsManagedSseEnabled"))
    ):
        report("neither kms_master_key_id nor sqs_managed_sse_enabled is set", None)


@stack_policy(
    POLICIES,
    "sqs-dead-letter-queue",
    "Every SQS queue either has a redrive policy to a dead-letter queue or is one.",
    ["custom"],
    [QUEUE],
)
def _dlq(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    queues = list(of_type(args.resources, QUEUE))
    for queue in queues:
        with judging(queue, report):
            if present(queue.props, "redrivePolicy"):
                continue
            if tags_of(queue.props).get("purpose") == "dead-letter":
                continue
            targeted = any(
                references(other, prop, queue)
                for other in args.resources
                if other is not queue
                for prop in FAILURE_TARGET_PROPS
            )
            if not targeted:
                report(
                    f"queue {queue.name} has no redrive_policy; give it a dead-letter queue",
                    queue.urn,
                )


@resource_policy(
    POLICIES,
    "kinesis-encrypted",
    "Kinesis data streams encrypt at rest with KMS.",
    ["FSBP Kinesis.1"],
    [STREAM],
)
def _kinesis(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if get(args.props, "encryptionType") != "KMS" or not present(args.props, "kmsKeyId"):
        report("encryption_type is not KMS with a kms_key_id", None)
