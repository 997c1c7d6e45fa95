"""Failures stay local: a crashing policy, an IAM document given as a dict, a failed synthesis
and an auto-named parameter group hide no other verdict."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest
from pulumi_policy import (
    ReportViolation,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE
from soundstack.engine import evaluate

from soundstack.policies.core import SKIPPED, Settings, Spec, judging, stack_policy
from soundstack.synth import Synthesis
from tests.conftest import run_program
from tests.policies.helpers import Stack

ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _found(synth: Synthesis) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for v in evaluate(synth, {}):
        if v.level == "mandatory":
            found.setdefault((v.policy, v.urn.split("::")[-1]), []).append(v.message)
    return found


def _seven() -> None:
    aws.rds.Instance(
        "db",
        engine="postgres",
        instance_class="db.t4g.micro",
        allocated_storage=20,
        backup_retention_period="seven",
        storage_encrypted=False,
    )
    aws.sqs.Queue("plain", sqs_managed_sse_enabled=False)


def test_a_crashing_policy_is_a_violation_of_itself_and_the_rest_still_runs():
    found = _found(run_program(_seven))
    (message,) = found[("rds-backups", "db")]
    assert "could not judge db" in message and "ValueError" in message and "'seven'" in message
    assert ("rds-encrypted", "db") in found  # the same resource, another policy
    assert ("sqs-encrypted", "plain") in found  # another resource


def test_a_policy_outside_the_pack_that_raises_is_reported_not_propagated(broken_queue):
    def boom(args, report):
        raise KeyError("x")

    policy = ResourceValidationPolicy("boom", "raises", boom)
    violations = evaluate(broken_queue, {}, [policy])
    assert [(v.policy, v.urn.split("::")[-1], v.level) for v in violations] == [
        ("boom", "plain", "mandatory")
    ]
    assert "KeyError" in violations[0].message


@pytest.fixture(scope="module")
def broken_queue() -> Synthesis:
    return run_program(lambda: aws.sqs.Queue("plain", sqs_managed_sse_enabled=False))


def _dict_documents() -> None:
    role = aws.iam.Role("app", assume_role_policy=TRUST)
    aws.iam.RolePolicy("app-admin", role=role.id, policy=ADMIN)
    aws.iam.Policy("managed-admin", policy=ADMIN)


def test_iam_documents_given_as_dicts_synthesize_and_are_judged():
    synth = run_program(_dict_documents)
    (role,) = synth.by_type("aws:iam/role:Role")
    assert role.inputs["assumeRolePolicy"] == TRUST
    assert json.loads(role.outputs["assumeRolePolicy"]) == TRUST  # the output type is str
    found = _found(synth)
    assert ("iam-no-full-admin", "app-admin") in found
    assert ("iam-no-full-admin", "managed-admin") in found


def test_a_failed_synthesis_does_not_poison_the_next():
    def failing() -> None:
        queue = aws.sqs.Queue("q")
        queue.arn.apply(lambda _: 1 / 0)

    with pytest.raises(ZeroDivisionError):
        run_program(failing)
    after = run_program(lambda: aws.sqs.Queue("q2"))
    assert [r.name for r in after.resources] == ["q2"]


def _auto_named_parameter_group() -> None:
    group = aws.rds.ParameterGroup(
        "pg", family="postgres17", parameters=[{"name": "rds.force_ssl", "value": "1"}]
    )
    aws.rds.Instance(
        "db",
        engine="postgres",
        instance_class="db.t4g.micro",
        allocated_storage=20,
        parameter_group_name=group.name,
        opts=pulumi.ResourceOptions(),
    )


def test_auto_named_resources_get_a_generated_name_and_keep_their_dependents():
    synth = run_program(_auto_named_parameter_group)
    (group,) = synth.by_type("aws:rds/parameterGroup:ParameterGroup")
    (db,) = synth.by_type("aws:rds/instance:Instance")
    name = group.outputs["name"]
    assert "name" not in group.inputs  # what the program gave; the name is Pulumi's
    assert name.startswith("pg-") and len(name) == len("pg-") + 7 and name == name.lower()
    assert db.inputs["parameterGroupName"] == name
    assert db.property_dependencies["parameterGroupName"] == [group.urn]
    assert ("rds-tls-in-transit", "db") not in _found(synth)


def test_a_given_name_prefix_is_kept():
    synth = run_program(lambda: aws.iam.Role("r", name_prefix="app-", assume_role_policy=TRUST))
    name = synth.resources[0].outputs["name"]
    assert name.startswith("app-") and len(name) == len("app-") + 26


def test_judging_keeps_a_stack_policy_crash_on_one_resource_to_that_resource():
    specs: list[Spec] = []

    @stack_policy(specs, "days", "Retention is a number of days.", ["custom"], [])
    def _days(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
        for r in args.resources:
            with judging(r, report):
                if int(r.props["days"]) < 7:
                    report(f"{r.name} keeps too little", r.urn)

    stack = Stack()
    stack.add("t:m:R", "bad", {"days": "seven"})
    stack.add("t:m:R", "short", {"days": 1})
    found: list[tuple[str, str]] = []

    def collect(message: str, urn: str | None = None) -> None:
        found.append(((urn or "").split("::")[-1], message))

    policy = specs[0].build()
    assert isinstance(policy, StackValidationPolicy)
    policy.validate(
        StackValidationArgs(stack.resources, {}),
        collect,
    )
    assert [name for name, _ in found] == ["bad", "short"]
    assert "could not judge bad: ValueError" in found[0][1]


def test_one_unknown_companion_hides_no_other_bucket_or_rule():
    stack = Stack()
    known_bucket = stack.add("aws:s3/bucket:Bucket", "a", {"bucket": "a"})
    stack.add("aws:s3/bucket:Bucket", "b", {"bucket": "b"})
    stack.add(
        "aws:s3/bucketPolicy:BucketPolicy",
        "a-policy",
        {"bucket": UNKNOWN_STRING_VALUE, "policy": UNKNOWN_STRING_VALUE},
        {"bucket": [known_bucket]},
    )
    lb = stack.add(
        "aws:ec2/securityGroup:SecurityGroup", "lb", {"tags": {"purpose": "load-balancer"}}
    )
    world = {"ipProtocol": "tcp", "cidrIpv4": "0.0.0.0/0"}
    rule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    stack.add(rule, "https", {"securityGroupId": UNKNOWN_STRING_VALUE, "fromPort": 443,
                              "toPort": 443, **world}, {"securityGroupId": [lb]})  # fmt: skip
    stack.add(rule, "rdp", {"securityGroupId": UNKNOWN_STRING_VALUE, "fromPort": 3389,
                            "toPort": 3389, **world})  # fmt: skip
    stack.add(rule, "unknown-cidr", {"securityGroupId": "sg-1", "fromPort": 22, "toPort": 22,
                                     "ipProtocol": "tcp", "cidrIpv4": UNKNOWN_STRING_VALUE})  # fmt: skip
    skipped: list[str] = []
    token = SKIPPED.set(lambda urn, message: skipped.append(urn.split("::")[-1]))
    try:
        assert [name for name, _ in stack.check("s3-tls-only")] == ["b"]
        assert [name for name, _ in stack.check("sg-no-world-ingress")] == ["rdp"]
    finally:
        SKIPPED.reset(token)
    assert skipped == ["a", "unknown-cidr"]
