"""ServiceRole holds exactly what it is granted; broad grants are refused."""

from __future__ import annotations

import json

import pytest

from soundstack.components.iam import ServiceRole, ServiceRoleArgs, check_actions
from tests.conftest import make_ctx, run_program


def test_grants_become_one_named_inline_policy_each():
    def program():
        role = ServiceRole("catalog-fn", ServiceRoleArgs(services=["lambda.amazonaws.com"]),
                           make_ctx(stack="test"))  # fmt: skip
        role.grant("ReadMusicBucket", ["s3:GetObject"], ["arn:aws:s3:::music/*"])
        role.grant(
            "SendIngestQueue", ["sqs:SendMessage"], ["arn:aws:sqs:eu-west-1:1:q"],
            conditions={"Bool": {"aws:SecureTransport": "true"}},
        )  # fmt: skip

    synth = run_program(program)
    (role,) = synth.by_type("aws:iam/role:Role")
    assert role.inputs["name"] == "soundstack-test-catalog-fn"
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": ["lambda.amazonaws.com"]}
    assert "managedPolicyArns" not in role.inputs
    policies = {
        p.name: json.loads(p.inputs["policy"])
        for p in synth.by_type("aws:iam/rolePolicy:RolePolicy")
    }
    assert set(policies) == {"catalog-fn-read-music-bucket", "catalog-fn-send-ingest-queue"}
    (read,) = policies["catalog-fn-read-music-bucket"]["Statement"]
    assert read == {"Sid": "ReadMusicBucket", "Effect": "Allow", "Action": ["s3:GetObject"],
                    "Resource": ["arn:aws:s3:::music/*"]}  # fmt: skip
    (send,) = policies["catalog-fn-send-ingest-queue"]["Statement"]
    assert send["Condition"] == {"Bool": {"aws:SecureTransport": "true"}}


@pytest.mark.parametrize("action", ["*", "s3:*", "s3", "s3:"])
def test_broad_actions_are_refused(action):
    with pytest.raises(ValueError, match="too broad"):
        check_actions([action])


def test_named_and_prefix_actions_are_allowed():
    check_actions(["s3:GetObject", "kms:GenerateDataKey*"])


def test_duplicate_or_empty_grants_and_admin_policies_are_refused():
    errors = []

    def program():
        ctx = make_ctx(stack="test")
        role = ServiceRole("fn", ServiceRoleArgs(services=["lambda.amazonaws.com"]), ctx)
        role.grant("ReadA", ["s3:GetObject"], ["arn:aws:s3:::a/*"])
        for call in (
            lambda: role.grant("ReadA", ["s3:GetObject"], ["arn:aws:s3:::b/*"]),
            lambda: role.grant("ReadB", ["s3:GetObject"], []),
            lambda: role.grant("read-b", ["s3:GetObject"], ["arn:aws:s3:::b/*"]),
            lambda: ServiceRole("admin", ServiceRoleArgs(
                services=["lambda.amazonaws.com"],
                managed_policy_arns=["arn:aws:iam::aws:policy/AdministratorAccess"]), ctx),
            lambda: ServiceRole("nobody", ServiceRoleArgs(), ctx),
        ):  # fmt: skip
            with pytest.raises(ValueError) as err:
                call()
            errors.append(str(err.value))

    run_program(program)
    assert "already has a grant named 'ReadA'" in errors[0]
    assert "names no resources" in errors[1]
    assert "must be alphanumeric" in errors[2]
    assert "is an admin policy" in errors[3]
    assert "needs `services` or `assume_role_policy`" in errors[4]
