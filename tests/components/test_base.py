"""`json_document`: the JSON `pulumi.Output.json_dumps` gives, at a fraction of the Outputs."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from soundstack.components.base import json_document
from soundstack.synth import MASK, UNKNOWN_SHOWN, Resource, outputs_made
from tests.conftest import run_program


def _documents(
    build: Any, first_preview: bool = False
) -> tuple[Resource, Resource, dict[str, Resource]]:
    """Register the same document twice, through `json_document` and `Output.json_dumps`."""

    def program() -> None:
        role = aws.iam.Role("role", assume_role_policy="{}")
        topic = aws.sns.Topic("topic")
        for name, encode in (("ours", json_document), ("pulumi", pulumi.Output.json_dumps)):
            aws.iam.RolePolicy(name, role=role.id, policy=encode(build(role, topic)))

    synth = run_program(program, first_preview=first_preview)
    by_name = {r.name: r for r in synth.resources}
    return by_name["ours"], by_name["pulumi"], by_name


def _statement(role: aws.iam.Role, topic: aws.sns.Topic) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Publish",
                "Effect": "Allow",
                "Action": ("sns:Publish",),
                "Resource": [topic.arn, topic.arn.apply(lambda a: f"{a}:*")],
                "Condition": {"ArnEquals": {"aws:SourceArn": role.arn}, "Bool": {"x": True}},
            },
            # An Output whose value is itself a document, and a number.
            topic.arn.apply(lambda a: {"Sid": "Deep", "Resource": [a], "Condition": {"n": 1}}),
        ],
    }


def test_same_json_and_dependencies_as_output_json_dumps():
    ours, theirs, by_name = _documents(_statement)
    assert ours.inputs["policy"] == theirs.inputs["policy"]
    document = json.loads(ours.inputs["policy"])
    assert document["Statement"][0]["Resource"][1].endswith(":*")
    assert document["Statement"][1]["Condition"] == {"n": 1}
    assert set(ours.property_dependencies["policy"]) == {
        by_name["role"].urn,
        by_name["topic"].urn,
    }
    assert set(ours.dependencies) == set(theirs.dependencies)


def test_a_document_without_outputs():
    ours, theirs, _ = _documents(lambda role, topic: {"Statement": [], "n": [1, 2.5, None]})
    assert (
        ours.inputs["policy"] == theirs.inputs["policy"] == '{"Statement": [], "n": [1, 2.5, null]}'
    )


def test_unknown_until_every_output_in_it_is_known():
    ours, theirs, _ = _documents(_statement, first_preview=True)
    assert ours.masked_inputs["policy"] == theirs.masked_inputs["policy"] == UNKNOWN_SHOWN


def test_secret_when_an_output_in_it_is():
    ours, theirs, _ = _documents(
        lambda role, topic: {"Token": pulumi.Output.secret("s3cret"), "Arn": topic.arn}
    )
    assert ours.masked_inputs["policy"] == theirs.masked_inputs["policy"] == MASK
    assert json.loads(ours.inputs["policy"])["Token"] == "s3cret"


def _outputs_made(encode: Any) -> int:
    """Outputs a run makes registering a 20-statement policy, one of them naming an Output,
    encoded by `encode` (None: a plain string instead)."""

    def program() -> None:
        topic = aws.sns.Topic("topic")
        statements: list[dict[str, Any]] = [
            {"Sid": f"S{i}", "Action": ["a:B", "c:D"], "Resource": ["arn:aws:sns:::x"]}
            for i in range(20)
        ]
        if encode:
            statements[-1]["Resource"] = [topic.arn]
        document = {"Statement": statements}
        aws.iam.Policy("policy", policy=encode(document) if encode else json.dumps(document))

    return outputs_made(lambda: run_program(program))


def test_far_fewer_outputs_than_json_dumps():
    base = _outputs_made(None)
    ours = _outputs_made(json_document) - base
    theirs = _outputs_made(pulumi.Output.json_dumps) - base
    assert ours == 1 and theirs > 200, (ours, theirs)
