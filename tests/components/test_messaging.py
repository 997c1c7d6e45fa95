"""Topics, queues and the stream per stack, and what their verbs add."""

from __future__ import annotations

import json

import pytest

from soundstack.components.messaging import Messaging, MessagingArgs, QueueArgs
from tests.components.datatier import (
    DATA_KEY,
    LOGS_KEY,
    assert_no_secret_inputs,
    by_name,
    policies,
    run,
    under,
)


def mine(synth, type_token):
    """Resources of `type_token` inside the platform's `messaging` component."""
    return {r.name: r for r in under(synth, "messaging") if r.type == type_token}


@pytest.mark.parametrize(("stack", "max_receives", "visibility"), [("dev", 3, 90), ("prod", 5, 90)])
def test_every_queue_has_a_dead_letter_queue_and_is_encrypted(
    request, stack, max_receives, visibility
):
    synth = request.getfixturevalue(stack)
    queues = mine(synth, "aws:sqs/queue:Queue")
    arns = {f"arn:aws:sqs:eu-west-1:123456789012:{q.inputs['name']}": q for q in queues.values()}
    dlqs = {q.name for q in queues.values() if q.name.endswith("-dlq")}
    main = [q for q in queues.values() if q.name not in dlqs]
    assert {q.name for q in main} >= {
        "messaging-graph-updates-queue",
        "messaging-notifications-queue",
    }
    for queue in main:
        redrive = json.loads(queue.inputs["redrivePolicy"])
        assert redrive["maxReceiveCount"] == max_receives
        assert arns[redrive["deadLetterTargetArn"]].name in dlqs
    for queue in queues.values():
        assert queue.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
        assert queue.inputs["kmsMasterKeyId"] != synth.outputs["logs_kms_key_arn"]
    graph_updates = queues["messaging-graph-updates-queue"].inputs
    assert graph_updates["visibilityTimeoutSeconds"] == visibility  # six times the function timeout
    assert_no_secret_inputs(under(synth, "messaging"))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_queue_policies_deny_plain_http_and_admit_only_their_topic(request, stack):
    synth = request.getfixturevalue(stack)
    topics = {t.name: t.inputs["name"] for t in mine(synth, "aws:sns/topic:Topic").values()}
    for policy in mine(synth, "aws:sqs/queuePolicy:QueuePolicy").values():
        statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
        deny = statements.pop("DenyInsecureTransport")
        assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for allow in statements.values():
            assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
            assert allow["Action"] == "sqs:SendMessage"
            source = allow["Condition"]["ArnEquals"]["aws:SourceArn"]
            assert source.rsplit(":", 1)[1] in topics.values()
    subs = by_name(synth, "aws:sns/topicSubscription:TopicSubscription")
    graph = subs["messaging-graph-updates-subscription"].inputs
    assert graph["protocol"] == "sqs" and graph["rawMessageDelivery"] is True
    assert json.loads(graph["filterPolicy"]) == {"kind": ["like", "follow"]}
    assert graph["topic"].endswith(":soundstack-" + stack + "-messaging-activity")
    assert "filterPolicy" not in subs["messaging-notifications-subscription"].inputs


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_topics_are_encrypted_log_deliveries_and_trust_only_the_account(request, stack):
    synth = request.getfixturevalue(stack)
    topics = mine(synth, "aws:sns/topic:Topic")
    assert set(topics) == {"messaging-activity-topic", "messaging-notifications-topic"}
    for topic in topics.values():
        assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
        assert topic.inputs["sqsFailureFeedbackRoleArn"].endswith(
            f"role/soundstack-{stack}-messaging-delivery-logs"
        )
    for policy in mine(synth, "aws:sns/topicPolicy:TopicPolicy").values():
        statements = json.loads(policy.inputs["policy"])["Statement"]
        allows = [s for s in statements if s["Effect"] == "Allow"]
        assert [s["Principal"] for s in allows] == [{"AWS": "arn:aws:iam::123456789012:root"}]
        assert any(s["Sid"] == "DenyInsecureTransport" for s in statements)
    groups = {
        g.inputs["name"]
        for g in under(synth, "messaging")
        if g.type == "aws:cloudwatch/logGroup:LogGroup"
    }
    assert f"sns/eu-west-1/123456789012/soundstack-{stack}-messaging-activity/Failure" in groups


@pytest.mark.parametrize(
    ("stack", "hours", "mode", "shards"),
    [("dev", 24, "PROVISIONED", 1), ("prod", 168, "ON_DEMAND", None)],
)
def test_stream_is_encrypted_with_a_fan_out_consumer(request, stack, hours, mode, shards):
    synth = request.getfixturevalue(stack)
    (stream,) = synth.by_type("aws:kinesis/stream:Stream")
    assert stream.inputs["encryptionType"] == "KMS"
    assert stream.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    # dev: one provisioned shard (1 MB/s in, ~$11/month) instead of on-demand's ~$32
    assert stream.inputs["streamModeDetails"] == {"streamMode": mode}
    assert stream.inputs.get("shardCount") == shards
    assert stream.inputs["retentionPeriod"] == hours
    (consumer,) = synth.by_type("aws:kinesis/streamConsumer:StreamConsumer")
    assert consumer.inputs["name"] == f"soundstack-{stack}-messaging-listening-feed"


def _messaging(e, **kwargs):
    return Messaging(
        "m", MessagingArgs(kms_key_arn=DATA_KEY, log_kms_key_arn=LOGS_KEY, **kwargs), e.ctx
    )


def test_channel_verbs_grant_exact_actions_and_the_key():
    def build(e):
        m = _messaging(e)
        m.topic("activity").grant_publish(e.granted)
        m.stream.grant_put(e.granted)
        q = m.queue("plays", consumer_timeout_seconds=60)
        q.grant_send(e.granted)
        q.grant_consume(e.bystander)

    synth, _ = run(build)
    granted = policies(synth, "granted")
    assert granted["PublishMActivity"]["Action"] == ["sns:Publish"]
    assert granted["PublishMActivity"]["Resource"] == [
        "arn:aws:sns:eu-west-1:123456789012:soundstack-test-m-activity"
    ]
    assert granted["PutMListening"]["Action"] == [
        "kinesis:DescribeStreamSummary",
        "kinesis:PutRecord",
        "kinesis:PutRecords",
    ]
    assert granted["PutMListening"]["Resource"] == [
        "arn:aws:kinesis:eu-west-1:123456789012:stream/soundstack-test-m-listening"
    ]
    assert granted["SendMPlays"] == {
        "Sid": "SendMPlays",
        "Effect": "Allow",
        "Action": ["sqs:SendMessage"],
        "Resource": ["arn:aws:sqs:eu-west-1:123456789012:soundstack-test-m-plays"],
    }
    for sid in ("PublishMActivityKey", "PutMListeningKey", "SendMPlaysKey"):
        assert granted[sid]["Resource"] == [DATA_KEY]
        assert "kms:GenerateDataKey" in granted[sid]["Action"]
    consume = policies(synth, "bystander")
    assert "sqs:SendMessage" not in consume["ConsumeMPlays"]["Action"]
    assert consume["ConsumeMPlaysKey"]["Action"] == ["kms:Decrypt"]
    queue = by_name(synth, "aws:sqs/queue:Queue")["m-plays-queue"]
    assert queue.inputs["visibilityTimeoutSeconds"] == 360


def test_stream_subscription_bisects_skips_stale_records_and_reports_failures():
    def build(e):
        m = _messaging(e)
        m.stream.subscribe_function("soundstack-test-feed", e.granted, max_record_age_seconds=600)
        q = m.queue("mail", consumer_timeout_seconds=30)
        q.trigger("soundstack-test-mailer", e.bystander, max_concurrency=5)

    synth, _ = run(build)
    mappings = by_name(synth, "aws:lambda/eventSourceMapping:EventSourceMapping")
    feed = mappings["m-listening-granted-trigger"].inputs
    consumer = "arn:aws:kinesis:eu-west-1:123456789012:stream/soundstack-test-m-listening/consumer/"
    assert feed["eventSourceArn"].startswith(consumer + "soundstack-test-m-listening-feed:")
    assert feed["bisectBatchOnFunctionError"] is True
    assert feed["maximumRecordAgeInSeconds"] == 600
    assert feed["startingPosition"] == "LATEST"
    assert feed["functionResponseTypes"] == ["ReportBatchItemFailures"]
    failed = "arn:aws:sqs:eu-west-1:123456789012:soundstack-test-m-listening-granted-failed"
    assert feed["destinationConfig"] == {"onFailure": {"destinationArn": failed}}
    queues = by_name(synth, "aws:sqs/queue:Queue")
    assert "m-listening-granted-failed-dlq" in queues  # the failure queue has its own DLQ
    granted = policies(synth, "granted")
    assert granted["ReadMListeningFanOut"]["Action"] == [
        "kinesis:DescribeStreamConsumer",
        "kinesis:SubscribeToShard",
    ]
    assert granted["ReadMListeningFanOut"]["Resource"][0].startswith(consumer)
    assert granted["SendMListeningGrantedFailed"]["Resource"] == [failed]
    mail = mappings["m-mail-bystander-trigger"].inputs
    assert mail["eventSourceArn"] == "arn:aws:sqs:eu-west-1:123456789012:soundstack-test-m-mail"
    assert mail["scalingConfig"] == {"maximumConcurrency": 5}
    assert "ConsumeMMail" in policies(synth, "bystander")


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_program_exports_each_dead_letter_queue_with_its_source(request, stack):
    """`soundstack redrive` reads `dead_letter_queues`: every queue of the set with a DLQ,
    named as the operator names it, each DLQ the one its source's redrive policy targets."""
    synth = request.getfixturevalue(stack)
    exported = synth.outputs["dead_letter_queues"]
    assert set(exported) == {"graph-updates", "notifications", "profiles",
                             "listening-feed-fn-failed"}  # fmt: skip
    queues = {q.inputs["name"]: q for q in mine(synth, "aws:sqs/queue:Queue").values()}
    account = f"arn:aws:sqs:eu-west-1:123456789012:soundstack-{stack}-messaging-"
    for name, entry in exported.items():
        assert entry["source_arn"] == f"{account}{name}"
        assert entry["dlq_arn"] == f"{account}{name}-dlq"
        assert entry["source_url"].endswith(f"/soundstack-{stack}-messaging-{name}")
        assert entry["dlq_url"].endswith(f"/soundstack-{stack}-messaging-{name}-dlq")
        source = queues[entry["source_arn"].rsplit(":", 1)[1]]
        redrive = json.loads(source.inputs["redrivePolicy"])
        assert redrive["deadLetterTargetArn"] == entry["dlq_arn"]


def test_channels_offer_queue_age_dead_letters_and_iterator_age():
    seen: dict[str, set[str]] = {}

    def build(e):
        m = _messaging(e)
        m.queue("mail", consumer_timeout_seconds=30)
        for s in e.ctx.signals:
            seen.setdefault(s.component, set()).add(s.key)

    run(build)
    assert seen["m-mail"] == {"queue_age", "dlq_depth"}
    assert seen["m-listening"] >= {"iterator_age"}
    assert seen["m-activity"] == {"errors"}


def test_bad_queue_and_consumer_requests_fail_clearly():
    with pytest.raises(ValueError, match="consumer_timeout_seconds=9000"):
        QueueArgs(kms_key_arn=DATA_KEY, consumer_timeout_seconds=9000)
    with pytest.raises(ValueError, match="needs the topic"):
        QueueArgs(kms_key_arn=DATA_KEY, filter_policy={"kind": ["play"]})
    errors = []

    def build(e):
        m = _messaging(e)
        for call in (lambda: m.stream.grant_read(e.granted, "billing"), lambda: m.topic("alerts")):
            with pytest.raises((ValueError, KeyError)) as err:
                call()
            errors.append(str(err.value))

    run(build)
    assert "no consumer 'billing'" in errors[0]
    assert "no topic 'alerts'" in errors[1]
