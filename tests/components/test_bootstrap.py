"""Bootstrap: the `<project>-<stack>-deploy` roles, who may use them and what they may do."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import yaml

from soundstack.components.bootstrap import (
    ESTATE_SERVICES,
    DeployRolesArgs,
    boundary_policy,
    deploy_policy,
    estate_services,
)
from soundstack.synth import synthesize

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "arn:aws:iam::123456789012:role/PlatformAdmin"


@pytest.fixture(scope="module")
def bootstrap():
    """The bootstrap program (bootstrap/__main__.py) with its example stack file, under mocks."""
    config = yaml.safe_load((ROOT / "bootstrap" / "Pulumi.account.yaml").read_text())["config"]
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}

    def program() -> None:
        runpy.run_path(str(ROOT / "bootstrap" / "__main__.py"), run_name="__main__")

    return synthesize("account", values, [], program=program)


def test_bootstrap_program_creates_one_bounded_deploy_role_per_stack(bootstrap):
    assert not bootstrap.errors
    roles = {r.inputs["name"]: r for r in bootstrap.by_type("aws:iam/role:Role")}
    assert set(roles) == {
        "soundstack-dev-deploy",
        "soundstack-staging-deploy",
        "soundstack-prod-deploy",
    }
    policies = {p.inputs["name"]: p for p in bootstrap.by_type("aws:iam/policy:Policy")}
    for name, role in roles.items():
        assert role.inputs["permissionsBoundary"].endswith(f":policy/{name}-boundary")
        assert role.inputs["maxSessionDuration"] == 3 * 3600
        assert f"{name}-policy" in policies
    attached = {(a.inputs["role"], a.inputs["policyArn"].rsplit("/", 1)[1])
                for a in bootstrap.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}  # fmt: skip
    assert attached == {(n, f"{n}-policy") for n in roles}
    outputs = bootstrap.outputs["deploy_role_arns"]
    assert outputs["prod"] == "arn:aws:iam::123456789012:role/soundstack-prod-deploy"


def test_only_the_stacks_runner_and_the_named_admins_may_assume_a_deploy_role(bootstrap):
    (prod,) = [r for r in bootstrap.by_type("aws:iam/role:Role")
               if r.inputs["name"] == "soundstack-prod-deploy"]  # fmt: skip
    trust = json.loads(prod.inputs["assumeRolePolicy"])["Statement"]
    runner, admins = trust
    assert runner["Principal"] == {"Service": "codebuild.amazonaws.com"}
    assert runner["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:codebuild:eu-west-1:123456789012:project/soundstack-prod-deploy"},
    }  # fmt: skip
    assert admins["Principal"] == {"AWS": [ADMIN]}
    assert "*" not in json.dumps([s["Principal"] for s in trust])
    with pytest.raises(ValueError, match="not an IAM role or user ARN"):
        DeployRolesArgs(stacks=["prod"], admin_principal_arns=["arn:aws:iam::123456789012:root"])
    with pytest.raises(ValueError, match="list each stack once"):
        DeployRolesArgs(stacks=["prod", "prod"], admin_principal_arns=[])
    with pytest.raises(ValueError, match="1 to 12 hours"):
        DeployRolesArgs(stacks=["prod"], admin_principal_arns=[], max_session_hours=13)


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_deploy_policy_covers_every_resource_the_stack_registers(stack, request):
    synth = request.getfixturevalue(stack)
    modules = {
        r.type.split(":")[1].split("/")[0] for r in synth.resources if r.type.startswith("aws:")
    }
    assert modules - {"iam"} <= set(ESTATE_SERVICES), modules - set(ESTATE_SERVICES)
    policy = deploy_policy("soundstack", stack, "eu-west-1", "aws", "123456789012")
    (services,) = [s for s in policy["Statement"] if s["Sid"] == "ManageEstateServices"]
    for module in modules - {"iam"}:
        for prefix in ESTATE_SERVICES[module]:
            assert f"{prefix}:*" in services["Action"], (module, prefix)
    assert services["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}
    }
    # IAM writes reach only the stack's own names: every role and policy it creates fits them.
    (own,) = [s for s in policy["Statement"] if s["Sid"] == "ManageOwnRolesAndPolicies"]
    assert own["Resource"][0] == f"arn:aws:iam::123456789012:role/soundstack-{stack}-*"
    for kind in ("role", "policy"):
        for r in synth.by_type(f"aws:iam/{kind}:{kind.title()}"):
            assert r.inputs["name"].startswith(f"soundstack-{stack}-"), r.inputs["name"]
    (runner,) = [
        p
        for p in synth.by_type("aws:codebuild/project:Project")
        if p.name == "deploy-runner-project"
    ]
    assert runner.inputs["serviceRole"].endswith(f":role/soundstack-{stack}-deploy")


def test_the_deploy_role_cannot_make_itself_or_anything_an_administrator():
    policy = deploy_policy("soundstack", "prod", "eu-west-1", "aws", "123456789012")
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["NeverAttachAdminPolicies"]["Effect"] == "Deny"
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in (
        by_sid["NeverAttachAdminPolicies"]["Condition"]["ArnLike"]["iam:PolicyARN"])  # fmt: skip
    itself = by_sid["NeverChangeItself"]
    assert itself["Effect"] == "Deny" and "iam:PassRole" in itself["NotAction"]
    assert "arn:aws:iam::123456789012:role/soundstack-prod-deploy" in itself["Resource"]
    allowed = [a for s in policy["Statement"] if s["Effect"] == "Allow" for a in s["Action"]]
    assert "*" not in allowed and "iam:*" not in allowed
    assert not [a for a in allowed if a.startswith(("organizations:", "account:"))]
    boundary = boundary_policy()
    assert {"iam:CreateUser", "iam:CreateAccessKey"} <= set(boundary["Statement"][1]["Action"])
    assert set(boundary["Statement"][0]["Action"]) == {
        "iam:*",
        *(f"{s}:*" for s in estate_services()),
    }
    # IAM quotas: "Managed policy size: 6,144 characters" (whitespace not counted).
    for document in (policy, boundary):
        assert len(json.dumps(document, separators=(",", ":"))) < 6144


def test_the_bootstrap_project_runs_with_the_repositorys_virtualenv():
    project = yaml.safe_load((ROOT / "bootstrap" / "Pulumi.yaml").read_text())
    platform = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == f"{platform['name']}-bootstrap"
    assert project["runtime"]["name"] == "python"
    venv = (ROOT / "bootstrap" / project["runtime"]["options"]["virtualenv"]).resolve()
    assert venv == (ROOT / platform["runtime"]["options"]["virtualenv"]).resolve()
    stack = yaml.safe_load((ROOT / "bootstrap" / "Pulumi.account.yaml").read_text())["config"]
    assert stack["soundstack-bootstrap:project"] == platform["name"]
    assert set(stack["soundstack-bootstrap:stacks"]) == {
        p.name.split(".")[1] for p in (ROOT / "stacks").glob("Pulumi.*.yaml")}  # fmt: skip
