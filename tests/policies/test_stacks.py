"""The pack against whole mocked stacks: defaults pass, deliberately broken programs fail."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from soundstack.engine import evaluate, load_config

from soundstack import cli
from soundstack.synth import Synthesis
from tests.conftest import run_program, stack_synthesis
from tests.policies import planted
from tests.policies.helpers import pinned_levels

#: (stack, policy) of every policy pinned mandatory for that stack in policies/levels.txt: a
#: policy made advisory still has its cases here (and fails tests/policies/test_levels.py).
MANDATORY = [
    (stack, policy)
    for stack, table in pinned_levels().items()
    for policy, level in sorted(table.items())
    if level == "mandatory"
]
#: The pack runs as `soundstack check` does and as the first `pulumi preview` of a new stack.
MODES = {"offline": False, "first-preview": True}
_RESULTS: dict[tuple[str, bool], dict[str, list]] = {}


def _violations(stack: str, first_preview: bool) -> dict[str, list]:
    if (stack, first_preview) not in _RESULTS:
        found: dict[str, list] = {}
        for v in evaluate(stack_synthesis(stack, first_preview)):
            if v.level == "mandatory":
                found.setdefault(v.policy, []).append((v.urn.split("::")[-1], v.message))
        _RESULTS[(stack, first_preview)] = found
    return _RESULTS[(stack, first_preview)]


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("stack", "policy"), MANDATORY)
def test_default_stacks_pass_every_mandatory_policy(stack, policy, mode):
    assert _violations(stack, MODES[mode]).get(policy, []) == []


def _broken() -> None:
    """A program with the classic mistakes: a public bucket, an unencrypted queue without a
    DLQ, a `*` IAM statement, SSH open to the world."""
    aws.s3.Bucket("public", bucket="public-bucket", acl="public-read")
    aws.sqs.Queue("plain", sqs_managed_sse_enabled=False)
    role = aws.iam.Role(
        "app",
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    aws.iam.RolePolicy(
        "app-admin",
        role=role.id,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    aws.ec2.SecurityGroup(
        "bastion",
        ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]}],
    )


@pytest.fixture(scope="module", params=list(MODES))
def broken(request) -> Synthesis:
    return run_program(_broken, first_preview=MODES[request.param])


def _found(synth: Synthesis) -> set[tuple[str, str]]:
    """(policy, resource) of the mandatory violations, in the mode `synth` was recorded in."""
    return {
        (v.policy, v.urn.split("::")[-1]) for v in evaluate(synth, {}) if v.level == "mandatory"
    }


def test_broken_program_shows_the_right_violations(broken):
    found = _found(broken)
    assert {
        ("s3-no-public-acl", "public"),
        ("s3-bucket-public-access-block", "public"),
        ("s3-tls-only", "public"),
        ("s3-kms-encryption", "public"),
        ("sqs-encrypted", "plain"),
        ("sqs-dead-letter-queue", "plain"),
        ("iam-no-full-admin", "app-admin"),
        ("iam-no-wildcard-actions", "app-admin"),
        ("sg-no-world-ingress", "bastion"),
        ("required-cost-tags", "public"),
    } <= found


def test_check_cli_fails_naming_policy_and_resource(broken, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(cli, "synthesize_stack", lambda *_a, **_k: broken)
    report = tmp_path / "report.md"
    assert cli.main(["check", "dev", "--report", str(report)]) == 1
    out = capsys.readouterr().out
    assert "mandatory sqs-encrypted  plain:" in out
    assert "mandatory iam-no-full-admin  app-admin:" in out
    text = report.read_text()
    assert "| FSBP SQS.1 | `sqs-encrypted` | mandatory | 1 violation(s) |" in text


def test_preview_json_lists_the_violations(broken, monkeypatch, capsys):
    monkeypatch.setattr(cli, "synthesize_stack", lambda *_a, **_k: broken)
    assert cli.main(["preview", "dev", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert {"policy": "sqs-encrypted", "level": "mandatory"}.items() <= next(
        v for v in doc["violations"] if v["policy"] == "sqs-encrypted"
    ).items()


@pytest.mark.parametrize("mode", MODES)
def test_a_bare_vpc_reports_only_what_it_lacks(mode):
    def program() -> None:
        aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")

    synth = run_program(program, first_preview=MODES[mode])
    found = _found(synth)
    assert found == {
        ("vpc-flow-logs", "vpc"),
        ("required-cost-tags", "vpc"),
        ("stack-audit-trail", ""),
    }


def _sdk_shapes() -> None:
    """Real SDK resources of types the default stacks do not create, each misconfigured."""
    aws.redshift.Cluster(
        "rs",
        cluster_identifier="rs",
        node_type="dc2.8xlarge",
        publicly_accessible=True,
        encrypted=False,
        tags={"environment": "dev"},
    )
    aws.lambda_.FunctionUrl("url", function_name="fn", authorization_type="NONE")
    aws.eks.Cluster(
        "eks",
        role_arn="arn:r",
        version="1.27",
        vpc_config={"subnet_ids": ["s1"], "endpoint_public_access": True},
    )
    aws.ec2.SecurityGroupRule(
        "rdp",
        type="ingress",
        protocol="tcp",
        from_port=3389,
        to_port=3389,
        cidr_blocks=["0.0.0.0/0"],
        security_group_id="sg-1",
    )
    aws.iam.Policy(
        "broad",
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}
                ],
            }
        ),
    )
    aws.iam.UserPolicyAttachment(
        "admin", user="u", policy_arn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    aws.apigateway.Stage("rest", rest_api="api", deployment="d", stage_name="v1")
    aws.opensearch.ServerlessSecurityPolicy(
        "aoss",
        name="net",
        type="network",
        policy=json.dumps(
            [
                {
                    "Rules": [{"ResourceType": "collection", "Resource": ["collection/x"]}],
                    "AllowFromPublic": True,
                }
            ]
        ),
    )
    aws.s3.BucketAclV2("acl", bucket="b", acl="public-read-write")
    provider = k8s.Provider("k8s", kubeconfig="{}")
    k8s.apps.v1.StatefulSet(
        "db",
        spec={
            "selector": {"match_labels": {"app": "db"}},
            "service_name": "db",
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {
                    "containers": [
                        {
                            "name": "db",
                            "image": "postgres",
                            "security_context": {"privileged": True},
                        }
                    ]
                },
            },
        },
        opts=pulumi.ResourceOptions(provider=provider),
    )


@pytest.mark.parametrize("mode", MODES)
def test_policies_read_the_sdk_property_names_of_types_outside_the_stacks(mode):
    found = _found(run_program(_sdk_shapes, first_preview=MODES[mode]))
    assert {
        ("redshift-not-public", "rs"),
        ("redshift-kms", "rs"),
        ("redshift-tls", "rs"),
        ("redshift-audit-logging", "rs"),
        ("redshift-enhanced-vpc-routing", "rs"),
        ("cost-allowed-instance-classes", "rs"),
        ("lambda-no-public-invoke", "url"),
        ("eks-endpoint-private", "eks"),
        ("eks-secrets-encryption", "eks"),
        ("eks-control-plane-logging", "eks"),
        ("eks-supported-version", "eks"),
        ("sg-no-world-ingress", "rdp"),
        ("iam-no-wildcard-actions", "broad"),
        ("iam-no-admin-managed-policies", "admin"),
        ("apigw-access-logging", "rest"),
        ("apigw-waf", "rest"),
        ("opensearch-serverless-private", "aoss"),
        ("s3-no-public-acl", "acl"),
        ("k8s-no-privileged-or-root", "db"),
        ("k8s-resources", "db"),
    } <= found


def test_stack_config_files_load():
    assert load_config("prod")["cloudfront-custom-certificate"] == "mandatory"
    assert load_config("no-such-stack") == {}


@pytest.mark.slow
def test_dev_with_opensearch_serverless_passes_every_mandatory_policy(dev_serverless_search):
    mandatory = [v for v in evaluate(dev_serverless_search) if v.level == "mandatory"]
    assert mandatory == []
    assert dev_serverless_search.by_type("aws:opensearch/serverlessCollection:ServerlessCollection")


def test_check_cli_first_preview_runs_the_first_preview_mode(monkeypatch, capsys):
    def synthesize(stack, _dir, first_preview=False):
        assert first_preview is True
        return run_program(planted.program, stack="prod", first_preview=True)

    monkeypatch.setattr(cli, "synthesize_stack", synthesize)
    assert cli.main(["check", "prod", "--first-preview"]) == 1
    out = capsys.readouterr().out
    assert "mandatory sg-no-world-ingress  app-rdp:" in out
    assert "advisory  s3-tls-only  good-bucket: can't run policy during preview" in out
