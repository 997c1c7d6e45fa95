"""Alerting the platform relies on: CloudTrail's delivery notifications, failed backup jobs on
the alerts topic, and the signing-key age reminder (components/monitoring.py, backup.py,
media.py).

None of these is a published FSBP or CIS control (CIS's CloudTrail section covers metric filters
on the trail's log group, which `cloudtrail-cloudwatch-logs` keeps possible), so they are
`custom`. What each requires of a prod stack applies to the environments in its
`environments` config (default `["prod"]`); the permissions AWS needs for a notification to
arrive at all (topic and key policies) are checked everywhere, because a missing one fails
silently: the trail or rule deploys and no message is ever delivered.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from .core import (
    ENVIRONMENTS_PROPERTY,
    Settings,
    Spec,
    as_strings,
    get,
    judging,
    known,
    linked,
    of_type,
    policy_statements,
    present,
    stack_environment,
    stack_policy,
)

POLICIES: list[Spec] = []

TRAIL = "aws:cloudtrail/trail:Trail"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
KMS_KEY = "aws:kms/key:Key"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
BACKUP_PLAN = "aws:backup/plan:Plan"
SCOPE: dict[str, Mapping[str, Any]] = {"environments": ENVIRONMENTS_PROPERTY}
#: What a service needs on a KMS key to publish into a topic encrypted with it (SNS: "Enable
#: compatibility between event sources from AWS services and encrypted topics").
TOPIC_KEY_ACTIONS = ("kms:GenerateDataKey*", "kms:Decrypt")
#: Backup job states that leave no recovery point (components.backup.failed_job_events).
FAILED_STATES = ("FAILED", "ABORTED", "EXPIRED")


def _in_scope(resources: Sequence[PolicyResource], cfg: Settings) -> bool:
    environment = stack_environment(resources)
    return environment is None or environment in cfg["environments"]


def _services(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    return as_strings(principal.get("Service")) if isinstance(principal, Mapping) else []


def _grants(statement: Mapping[str, Any], service: str, actions: Sequence[str]) -> bool:
    """The statement allows `service` every one of `actions` (wildcards on either side)."""
    if statement.get("Effect") != "Allow" or service not in _services(statement):
        return False
    allowed = [a.lower() for a in as_strings(statement.get("Action"))]
    return all(
        any(fnmatch.fnmatchcase(action.lower(), a) or a == action.lower() for a in allowed)
        for action in actions
    )


def _source_conditioned(statement: Mapping[str, Any]) -> bool:
    """The statement limits the caller with `aws:SourceArn` or `aws:SourceAccount`."""
    conditions = statement.get("Condition")
    if not isinstance(conditions, Mapping):
        return False
    keys = [k.lower() for block in conditions.values() if isinstance(block, Mapping) for k in block]
    return any(k in ("aws:sourcearn", "aws:sourceaccount") for k in keys)


def _topic_of(resources: Sequence[PolicyResource], owner: PolicyResource, prop: str) -> Any:
    """The stack's topic `owner.<prop>` names (by dependency, name or ARN), or None."""
    for topic in of_type(resources, TOPIC):
        if linked(owner, prop, topic, "name", "arn"):
            return topic
    return None


def _topic_statements(resources: Sequence[PolicyResource], topic: PolicyResource) -> list | None:
    """Statements of the topic's TopicPolicy; None when it has none (SNS's default policy). A
    policy not known yet (built from outputs in a first preview) raises UnknownValueError, which
    skips the judgement (`judging`) instead of reading it as empty."""
    found = None
    for policy in of_type(resources, TOPIC_POLICY):
        if linked(policy, "arn", topic, "arn"):
            found = (found or []) + policy_statements(get(policy.props, "policy"))
    return found


def _key_statements(resources: Sequence[PolicyResource], topic: PolicyResource) -> list | None:
    """Statements of the stack's KMS key the topic is encrypted with; None if not in the stack."""
    for key in of_type(resources, KMS_KEY):
        if linked(topic, "kmsMasterKeyId", key, "arn", "keyId"):
            return policy_statements(get(key.props, "policy"))
    return None


def _publish_problems(
    resources: Sequence[PolicyResource], topic: PolicyResource, service: str, source: bool
) -> list[str]:
    """Why `service` cannot publish to `topic`: its topic policy (with a source condition when
    `source`) or its key policy lacks the grant."""
    problems = []
    statements = _topic_statements(resources, topic)
    publish = [s for s in statements or [] if _grants(s, service, ["sns:Publish"])]
    if not publish:
        problems.append(f"the policy of topic {topic.name} does not allow {service} to publish")
    elif source and not any(_source_conditioned(s) for s in publish):
        problems.append(
            f"topic {topic.name} lets {service} publish without an aws:SourceArn condition"
        )
    key = _key_statements(resources, topic)
    if key is not None and not any(_grants(s, service, TOPIC_KEY_ACTIONS) for s in key):
        problems.append(
            f"the KMS key of topic {topic.name} does not let {service} use it "
            f"({', '.join(TOPIC_KEY_ACTIONS)})"
        )
    return problems


@stack_policy(
    POLICIES,
    "cloudtrail-sns-notifications",
    "A trail announces every log file it delivers on an SNS topic of the stack, whose policy "
    "lets cloudtrail.amazonaws.com publish only with an aws:SourceArn condition (CloudTrail's "
    'security best practice: "The value of this key is the ARN of the trail") and whose KMS '
    'key lets CloudTrail encrypt: "To use an AWS KMS-encrypted Amazon SNS topic to send '
    "notifications, you must also enable compatibility between the event source (CloudTrail) "
    "and the encrypted topic by adding the following statement to the policy of the AWS KMS "
    'key."',
    ["custom"],
    [TRAIL, TOPIC, TOPIC_POLICY, KMS_KEY],
    config=SCOPE,
)
def _trail_notifications(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    scoped = _in_scope(args.resources, cfg)
    for trail in of_type(args.resources, TRAIL):
        with judging(trail, report):
            if not present(trail.props, "snsTopicName"):
                if scoped:
                    report(
                        f"trail {trail.name} notifies no SNS topic; set "
                        "monitoring.trail_notifications: true",
                        trail.urn,
                    )
                continue
            topic = _topic_of(args.resources, trail, "snsTopicName")
            if topic is None:
                continue  # a topic outside the stack: its owner grants CloudTrail
            for problem in _publish_problems(args.resources, topic, "cloudtrail.amazonaws.com",
                                             source=True):  # fmt: skip
                report(f"trail {trail.name}: {problem}", trail.urn)


def _matches_failed_backups(rule: PolicyResource) -> bool:
    pattern = known(rule.props, "eventPattern")
    try:
        parsed = json.loads(pattern) if isinstance(pattern, str) else pattern
    except ValueError:
        return False
    if not isinstance(parsed, Mapping) or "aws.backup" not in as_strings(parsed.get("source")):
        return False
    kinds = as_strings(parsed.get("detail-type"))
    states = as_strings(get(parsed, "detail", "state"))
    return "Backup Job State Change" in kinds and all(s in states for s in FAILED_STATES)


@stack_policy(
    POLICIES,
    "backup-failure-alerts",
    "A stack with a backup plan sends every FAILED, ABORTED or EXPIRED AWS Backup job to an "
    'SNS topic through an EventBridge rule (AWS Backup "sends events to Amazon EventBridge '
    'when the state of a backup or copy job changes"). Wherever a rule targets a topic of the '
    "stack, the topic's policy lets events.amazonaws.com publish (EventBridge: \"Your Amazon "
    "SNS topic's resource-based policy must allow EventBridge\") and its KMS key lets "
    "EventBridge encrypt.",
    ["custom"],
    [BACKUP_PLAN, EVENT_RULE, EVENT_TARGET, TOPIC, TOPIC_POLICY, KMS_KEY],
    config=SCOPE,
)
def _backup_alerts(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    targets = list(of_type(args.resources, EVENT_TARGET))
    alerted = False
    for rule in of_type(args.resources, EVENT_RULE):
        with judging(rule, report):
            mine = [t for t in targets if linked(t, "rule", rule, "name")]
            topics = [t for t in (_topic_of(args.resources, m, "arn") for m in mine) if t]
            elsewhere = [m for m in mine if ":sns:" in str(known(m.props, "arn") or "")]
            if _matches_failed_backups(rule) and (topics or elsewhere):
                alerted = True
            for topic in topics:  # last: a policy unknown in a first preview skips only this
                for problem in _publish_problems(args.resources, topic, "events.amazonaws.com",
                                                 source=False):  # fmt: skip
                    report(f"rule {rule.name}: {problem}", rule.urn)
    plans = list(of_type(args.resources, BACKUP_PLAN))
    if plans and not alerted and _in_scope(args.resources, cfg):
        report(
            f"backup plan {plans[0].name} fails silently: no EventBridge rule sends its FAILED, "
            "ABORTED and EXPIRED jobs to an SNS topic (components.backup.BackupPlan offers one "
            "to Monitoring)",
            plans[0].urn,
        )


KEY_GROUP = "aws:cloudfront/keyGroup:KeyGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
#: The metric the key-age reminder publishes (components.media.KEY_AGE_METRIC).
KEY_AGE_METRIC = "SigningKeyAgeDays"


def _invocable(rule: PolicyResource, fn: PolicyResource, permissions: list[PolicyResource]) -> bool:
    """A Lambda permission lets events.amazonaws.com invoke `fn` for `rule` (by its ARN)."""
    return any(
        known(p.props, "principal") == "events.amazonaws.com"
        and linked(p, "function", fn, "name", "arn")
        and linked(p, "sourceArn", rule, "arn")
        for p in permissions
    )


@stack_policy(
    POLICIES,
    "signing-key-age-alarm",
    "A stack serving signed URLs (a CloudFront key group) measures how long its active signing "
    "key has been active on a schedule and alarms, to a topic, past its maximum age "
    "(`edge.signing_key_max_age_days`): key rotation is a cryptoperiod, not a memory. Wherever "
    "an EventBridge rule invokes a function of the stack, a Lambda permission lets "
    "events.amazonaws.com invoke it for that rule (without one, EventBridge's invocation is "
    "refused and the schedule measures nothing).",
    ["custom"],
    [KEY_GROUP, ALARM, EVENT_RULE, EVENT_TARGET, FUNCTION, PERMISSION],
    config=SCOPE,
)
def _key_age(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    targets = list(of_type(args.resources, EVENT_TARGET))
    functions = list(of_type(args.resources, FUNCTION))
    permissions = list(of_type(args.resources, PERMISSION))
    scheduled = []
    for rule in of_type(args.resources, EVENT_RULE):
        with judging(rule, report):
            for target in (t for t in targets if linked(t, "rule", rule, "name")):
                for fn in (f for f in functions if linked(target, "arn", f, "arn")):
                    if present(rule.props, "scheduleExpression"):
                        scheduled.append(fn)
                    if not _invocable(rule, fn, permissions):
                        report(
                            f"rule {rule.name} targets function {fn.name}, which no Lambda "
                            "permission lets events.amazonaws.com invoke for this rule",
                            rule.urn,
                        )
    groups = list(of_type(args.resources, KEY_GROUP))
    if not groups or not _in_scope(args.resources, cfg):
        return
    alarmed = [
        a
        for a in of_type(args.resources, ALARM)
        if known(a.props, "metricName") == KEY_AGE_METRIC and present(a.props, "alarmActions")
    ]
    if not alarmed or not scheduled:
        missing = "no alarm with an action on SigningKeyAgeDays" if not alarmed else "no schedule"
        report(
            f"key group {groups[0].name} signs URLs but {missing} watches the active key's "
            "age; call components.media.MediaDelivery.remind_key_age",
            groups[0].urn,
        )
