"""policies/alerting.py: CloudTrail notifications and failed-backup alerts, on hand-made
compliant and violating stacks and on the prod program with the control removed."""

from __future__ import annotations

import copy
import json

import pytest

from soundstack.engine import evaluate
from tests.policies.helpers import Stack

PROD = {"environment": "prod"}
TRAIL_ARN = "arn:aws:cloudtrail:eu-west-1:1:trail/t"
TOPIC_ARN = "arn:aws:sns:eu-west-1:1:notes"
KEY_ARN = "arn:aws:kms:eu-west-1:1:key/k"


def _doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _publish(service, condition=None):
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "SNS:Publish",
                 "Resource": TOPIC_ARN}  # fmt: skip
    return {**statement, "Condition": condition} if condition else statement


def _key_grant(service):
    return {"Effect": "Allow", "Principal": {"Service": service},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*"}  # fmt: skip


def _topic(s: Stack, publish: list | None, key_statements: list | None):
    key = None
    if key_statements is not None:
        key = s.add("aws:kms/key:Key", "key", {"arn": KEY_ARN, "policy": _doc(*key_statements)})
    props = {"name": "notes", "arn": TOPIC_ARN, "tags": PROD}
    if key is not None:
        props["kmsMasterKeyId"] = KEY_ARN
    topic = s.add("aws:sns/topic:Topic", "notes", props, {"kmsMasterKeyId": [key]} if key else {})
    if publish is not None:
        s.add("aws:sns/topicPolicy:TopicPolicy", "notes-policy",
              {"arn": TOPIC_ARN, "policy": _doc(*publish)}, {"arn": [topic]})  # fmt: skip
    return topic


def _trail_stack(publish, key_statements, notify=True):
    s = Stack()
    topic = _topic(s, publish, key_statements)
    props = {"name": "t", "tags": PROD, **({"snsTopicName": "notes"} if notify else {})}
    s.add("aws:cloudtrail/trail:Trail", "trail", props,
          {"snsTopicName": [topic]} if notify else {})  # fmt: skip
    return s


SOURCE = {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}


def test_cloudtrail_sns_notifications():
    good = _trail_stack([_publish("cloudtrail.amazonaws.com", SOURCE)],
                        [_key_grant("cloudtrail.amazonaws.com")])  # fmt: skip
    assert good.check("cloudtrail-sns-notifications") == []
    silent = _trail_stack(None, None, notify=False)
    assert [m for _, m in silent.check("cloudtrail-sns-notifications")] == [
        "trail trail notifies no SNS topic; set monitoring.trail_notifications: true"
    ]
    assert silent.check("cloudtrail-sns-notifications", {"environments": ["dev"]}) == []


@pytest.mark.parametrize(
    ("publish", "key", "expected"),
    [
        (None, None, "does not allow cloudtrail.amazonaws.com to publish"),  # SNS's default
        ([_publish("cloudtrail.amazonaws.com")], None, "without an aws:SourceArn condition"),
        ([_publish("events.amazonaws.com", SOURCE)], None, "does not allow cloudtrail"),
        ([_publish("cloudtrail.amazonaws.com", SOURCE)], [_key_grant("cloudwatch.amazonaws.com")],
         "KMS key of topic notes does not let cloudtrail.amazonaws.com use it"),
    ],
)  # fmt: skip
def test_cloudtrail_notifications_that_could_never_arrive_fail_everywhere(publish, key, expected):
    s = _trail_stack(publish, key)
    for resource in s.resources:  # a dev stack: the permissions are checked anyway
        if "tags" in resource.props:
            resource.props["tags"]["environment"] = "dev"
    found = s.check("cloudtrail-sns-notifications")
    assert len(found) == 1 and expected in found[0][1], found


def _backup_stack(pattern, publish, key_statements):
    s = Stack()
    s.add("aws:backup/plan:Plan", "plan", {"name": "p", "tags": PROD})
    topic = _topic(s, publish, key_statements)
    if pattern is not None:
        rule = s.add("aws:cloudwatch/eventRule:EventRule", "failed",
                     {"name": "r", "eventPattern": json.dumps(pattern), "tags": PROD})  # fmt: skip
        s.add("aws:cloudwatch/eventTarget:EventTarget", "failed-alerts",
              {"rule": "r", "arn": TOPIC_ARN}, {"rule": [rule], "arn": [topic]})  # fmt: skip
    return s


FAILED = {"source": ["aws.backup"],
          "detail-type": ["Backup Job State Change", "Copy Job State Change"],
          "detail": {"state": ["FAILED", "ABORTED", "EXPIRED", "PARTIAL"]}}  # fmt: skip
EVENTS = [_publish("events.amazonaws.com", {"ArnEquals": {"aws:SourceArn": ["arn:r"]}})]


def test_backup_failure_alerts():
    assert (
        _backup_stack(FAILED, EVENTS, [_key_grant("events.amazonaws.com")]).check(
            "backup-failure-alerts"
        )
        == []
    )
    (silent,) = _backup_stack(None, None, None).check("backup-failure-alerts")
    assert silent[0] == "plan" and "fails silently" in silent[1]
    # only completed jobs, or only failed copies: backup failures still go unnoticed
    completed = {**FAILED, "detail": {"state": ["COMPLETED"]}}
    assert _backup_stack(completed, EVENTS, None).check("backup-failure-alerts") != []
    # a rule whose topic refuses EventBridge, or whose key does, never delivers
    (refused,) = _backup_stack(FAILED, None, None).check("backup-failure-alerts")
    assert "does not allow events.amazonaws.com to publish" in refused[1]
    (no_key,) = _backup_stack(FAILED, EVENTS, [_key_grant("cloudwatch.amazonaws.com")]).check(
        "backup-failure-alerts"
    )
    assert "does not let events.amazonaws.com use it" in no_key[1]


@pytest.mark.parametrize(
    ("drop", "policy"),
    [
        ({"aws:sns/topicPolicy:TopicPolicy"}, "cloudtrail-sns-notifications"),
        ({"aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget"},
         "backup-failure-alerts"),
        ({"aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget"},
         "signing-key-age-alarm"),
        ({"aws:lambda/permission:Permission"}, "signing-key-age-alarm"),
    ],
)  # fmt: skip
def test_prod_without_the_control_fails_its_policy(prod, drop, policy):
    assert not [v for v in evaluate(prod) if v.policy == policy]
    broken = copy.deepcopy(prod)
    gone = {r.urn for r in broken.resources if r.type in drop}
    broken.resources = [r for r in broken.resources if r.urn not in gone]
    for r in broken.resources:
        r.property_dependencies = {
            k: [u for u in v if u not in gone] for k, v in r.property_dependencies.items()
        }
    mandatory = [v for v in evaluate(broken) if v.policy == policy and v.level == "mandatory"]
    assert mandatory, f"prod without {drop} passes {policy}"


FN_ARN = "arn:aws:lambda:eu-west-1:1:function:reminders"
RULE_ARN = "arn:aws:events:eu-west-1:1:rule/key-age"


def _key_age_stack(*, alarm=True, schedule=True, permission=True):
    s = Stack()
    s.add("aws:cloudfront/keyGroup:KeyGroup", "signers", {"name": "signers"})
    fn = s.add("aws:lambda/function:Function", "reminders",
               {"name": "reminders", "arn": FN_ARN, "tags": PROD})  # fmt: skip
    if schedule:
        rule = s.add("aws:cloudwatch/eventRule:EventRule", "key-age",
                     {"name": "key-age", "arn": RULE_ARN, "scheduleExpression": "rate(1 hour)",
                      "tags": PROD})  # fmt: skip
        s.add("aws:cloudwatch/eventTarget:EventTarget", "key-age-check",
              {"rule": "key-age", "arn": FN_ARN}, {"rule": [rule], "arn": [fn]})  # fmt: skip
        if permission:
            s.add("aws:lambda/permission:Permission", "key-age-invoke",
                  {"principal": "events.amazonaws.com", "function": "reminders",
                   "sourceArn": RULE_ARN}, {"function": [fn], "sourceArn": [rule]})  # fmt: skip
    if alarm:
        s.add("aws:cloudwatch/metricAlarm:MetricAlarm", "key-age-alarm",
              {"metricName": "SigningKeyAgeDays", "threshold": 180,
               "alarmActions": ["arn:aws:sns:eu-west-1:1:alerts"], "tags": PROD})  # fmt: skip
    return s


def test_signing_key_age_alarm():
    assert _key_age_stack().check("signing-key-age-alarm") == []
    (unwatched,) = _key_age_stack(alarm=False).check("signing-key-age-alarm")
    assert (
        unwatched[0] == "signers"
        and "no alarm with an action on SigningKeyAgeDays" in (unwatched[1])
    )
    (unmeasured,) = _key_age_stack(schedule=False).check("signing-key-age-alarm")
    assert "but no schedule watches" in unmeasured[1]
    # a schedule EventBridge may not invoke measures nothing, in any stack
    (refused,) = _key_age_stack(permission=False).check(
        "signing-key-age-alarm", {"environments": []}
    )
    assert refused[0] == "key-age" and "no Lambda permission" in refused[1]
    assert _key_age_stack(alarm=False).check("signing-key-age-alarm", {"environments": []}) == []
