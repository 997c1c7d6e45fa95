"""CodePipeline from the repository to every stack, its CodeBuild projects, and Jenkins."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from components.network import Network, NetworkArgs
from components.pipeline import JENKINS_PROVIDER, Pipeline, PipelineArgs
from stacks.loader import ConfigError, load_config
from tests.conftest import make_ctx, run_program

CONNECTION = "arn:aws:codeconnections:eu-west-1:123456789012:connection/abc"
ROOT = Path(__file__).resolve().parents[2]


def _pipeline(**kwargs):
    def program():
        ctx = make_ctx("prod", stack="prod")
        net = Network("net", NetworkArgs(az_count=2, nat_gateways="single"), ctx)
        Pipeline("pipeline", PipelineArgs(network=net, repository="example/soundstack",
                                          connection_arn=CONNECTION, **kwargs), ctx)  # fmt: skip

    return run_program(program)


def _stages(synth):
    (pipeline,) = synth.by_type("aws:codepipeline/pipeline:Pipeline")
    return pipeline, {s["name"]: s["actions"] for s in pipeline.inputs["stages"]}


def test_prod_pipeline_runs_tests_images_then_each_stack_with_prod_behind_approval(prod):
    pipeline, stages = _stages(prod)
    assert pipeline.inputs["pipelineType"] == "V2"
    assert list(stages) == ["Source", "Test", "Images", "Deploy-staging", "Deploy-prod"]
    (source,) = stages["Source"]
    assert source["provider"] == "CodeStarSourceConnection"
    assert source["configuration"]["ConnectionArn"].startswith("arn:aws:codeconnections:")
    assert source["configuration"]["FullRepositoryId"] == "example-org/soundstack"
    approvals = [a for a in stages["Deploy-prod"] if a["category"] == "Approval"]
    (deploy,) = [a for a in stages["Deploy-prod"] if a["category"] == "Build"]
    assert [a["provider"] for a in approvals] == ["Manual"]
    assert approvals[0]["runOrder"] < deploy["runOrder"]
    assert not [a for a in stages["Deploy-staging"] if a["category"] == "Approval"]
    store = pipeline.inputs["artifactStores"][0]
    assert store["encryptionKey"]["type"] == "KMS" and store["encryptionKey"]["id"].startswith(
        "arn:aws:kms:"
    )
    (trigger,) = pipeline.inputs["triggers"]
    assert trigger["gitConfiguration"]["pushes"] == [{"branches": {"includes": ["main"]}}]


def test_dev_has_no_pipeline(dev):
    assert not dev.by_type("aws:codepipeline/pipeline:Pipeline")
    assert not dev.by_type("aws:codebuild/project:Project")


def test_build_projects_run_in_private_subnets_logged_and_only_images_privileged(prod):
    projects = {p.name: p for p in prod.by_type("aws:codebuild/project:Project")}
    assert set(projects) == {
        "pipeline-test",
        "pipeline-images",
        "pipeline-deploy-staging",
        "pipeline-deploy-prod",
    }
    private = {
        s.urn
        for s in prod.by_type("aws:ec2/subnet:Subnet")
        if s.inputs["tags"]["tier"] == "private"
    }
    groups = {g.inputs["name"]: g.inputs for g in prod.by_type("aws:cloudwatch/logGroup:LogGroup")}
    for name, project in projects.items():
        assert project.inputs["environment"]["privilegedMode"] is (name == "pipeline-images"), name
        assert set(project.property_dependencies["vpcConfig"]) >= private
        assert len(project.inputs["vpcConfig"]["securityGroupIds"]) == 1
        logs = project.inputs["logsConfig"]["cloudwatchLogs"]
        assert logs["status"] == "ENABLED" and groups[logs["groupName"]]["retentionInDays"] == 365
        assert project.inputs["encryptionKey"].startswith("arn:aws:kms:")
        assert not project.inputs["environment"].get("environmentVariables") or all(
            "TOKEN" not in v["name"] for v in project.inputs["environment"]["environmentVariables"])  # fmt: skip
    assert "make check" in projects["pipeline-test"].inputs["source"]["buildspec"]


def test_deploy_reads_the_token_from_secrets_manager_and_previews_with_policies_first(prod):
    (secret,) = [
        s
        for s in prod.by_type("aws:secretsmanager/secret:Secret")
        if s.name == "pipeline-pulumi-token"
    ]
    assert not [v for v in prod.by_type("aws:secretsmanager/secretVersion:SecretVersion")
                if v.name.startswith("pipeline-")]  # fmt: skip
    secret_arn = f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{secret.inputs['name']}-"
    (project,) = [
        p for p in prod.by_type("aws:codebuild/project:Project") if p.name == "pipeline-deploy-prod"
    ]
    spec = yaml.safe_load(project.inputs["source"]["buildspec"])
    assert spec["env"]["secrets-manager"]["PULUMI_ACCESS_TOKEN"].startswith(secret_arn)
    commands = spec["phases"]["build"]["commands"]
    preview = next(i for i, c in enumerate(commands) if c.startswith("pulumi preview"))
    up = next(i for i, c in enumerate(commands) if c.startswith("pulumi up"))
    assert preview < up
    assert "--policy-pack policies" in commands[preview] and "--stack prod" in commands[preview]
    assert "--yes" in commands[up]


def test_each_build_role_holds_only_its_stage_permissions(prod):
    def actions(prefix):
        return {a for p in prod.by_type("aws:iam/rolePolicy:RolePolicy") if p.name.startswith(prefix)
                for a in json.loads(p.inputs["policy"])["Statement"][0]["Action"]}  # fmt: skip

    deploy = actions("pipeline-deploy-prod-build-")
    assert "sts:AssumeRole" in deploy and "secretsmanager:GetSecretValue" in deploy
    assert not {a for a in deploy if a.startswith(("ecr:", "iam:", "cloudformation:"))}
    assert "secretsmanager:GetSecretValue" not in actions("pipeline-test-build-")
    assert "sts:AssumeRole" not in actions("pipeline-images-build-")
    (assume,) = [json.loads(p.inputs["policy"])["Statement"][0] for p in prod.by_type("aws:iam/rolePolicy:RolePolicy")
                 if p.name == "pipeline-deploy-prod-build-assume-deploy-role"]  # fmt: skip
    assert assume["Resource"] == ["arn:aws:iam::123456789012:role/soundstack-prod-deploy"]
    pipeline_actions = actions("pipeline-pipeline-")
    assert {"codeconnections:UseConnection", "codebuild:StartBuild"} <= pipeline_actions


def test_jenkins_takes_the_test_stage_through_a_custom_action():
    synth = _pipeline(jenkins_url="https://jenkins.example.com/", jenkins_project="soundstack-ci")
    (action_type,) = synth.by_type("aws:codepipeline/customActionType:CustomActionType")
    assert (action_type.inputs["category"], action_type.inputs["providerName"]) == (
        "Test",
        JENKINS_PROVIDER,
    )
    assert (
        action_type.inputs["settings"]["entityUrlTemplate"]
        == "https://jenkins.example.com/job/{Config:ProjectName}/"
    )
    _, stages = _stages(synth)
    (test,) = stages["Test"]
    assert (test["owner"], test["provider"]) == ("Custom", JENKINS_PROVIDER)
    assert test["configuration"] == {"ProjectName": "soundstack-ci"}
    assert "pipeline-test" not in {p.name for p in synth.by_type("aws:codebuild/project:Project")}


def test_images_are_pushed_only_to_the_given_repositories():
    def program():
        import pulumi_aws as aws

        ctx = make_ctx("prod", stack="prod")
        net = Network("net", NetworkArgs(az_count=2, nat_gateways="single"), ctx)
        repo = aws.ecr.Repository("catalog-repo", name="soundstack-prod-catalog")  # a workload's
        Pipeline("pipeline", PipelineArgs(network=net, repository="example/soundstack", connection_arn=CONNECTION,
                                          images={"catalog": repo}), ctx)  # fmt: skip

    synth = run_program(program)
    (push,) = [json.loads(p.inputs["policy"])["Statement"][0] for p in synth.by_type("aws:iam/rolePolicy:RolePolicy")
               if p.name == "pipeline-images-build-push-service-images"]  # fmt: skip
    assert push["Resource"] == [
        "arn:aws:ecr:eu-west-1:123456789012:repository/soundstack-prod-catalog"
    ]
    (project,) = [
        p for p in synth.by_type("aws:codebuild/project:Project") if p.name == "pipeline-images"
    ]
    spec = project.inputs["source"]["buildspec"]
    assert (
        "--file app_services/catalog/Dockerfile" in spec
        and 'docker push "$CATALOG_REPOSITORY:$TAG"' in spec
    )


def test_jenkinsfile_has_the_same_stages_and_commands():
    text = (ROOT / "Jenkinsfile").read_text()
    assert re.findall(r"stage\('([^']+)'\)", text) == [
        "Test", "Images", "Deploy staging", "Approve prod", "Deploy prod"]  # fmt: skip
    assert "sh 'make check'" in text
    assert "--policy-pack policies" in text and "pulumi up" in text and "input message" in text


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ({"enabled": True}, "needs repository"),
        ({"connection_arn": "arn:aws:iam::123456789012:role/x"}, "not a CodeConnections"),
        ({"jenkins_url": "http://jenkins"}, "must use https"),
        ({"environments": ["staging", "staging"]}, "list each stack once"),
    ],
)
def test_bad_pipeline_config_fails_clearly(pipeline, message):
    values = {"aws:region": "eu-west-1", "soundstack:owner": "o", "soundstack:cost_centre": "c",
              "soundstack:pipeline": pipeline}  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        load_config("dev", values)


def test_prod_pipeline_builds_and_pushes_the_cluster_images(prod):
    (images,) = [p for p in prod.by_type("aws:codebuild/project:Project")
                 if p.name == "pipeline-images"]  # fmt: skip
    spec = images.inputs["source"]["buildspec"]
    for service in ("catalog", "recommendation"):
        assert f"--file app_services/{service}/Dockerfile" in spec
        assert f'docker push "${service.upper()}_REPOSITORY:$TAG"' in spec
    statements = [s for p in prod.by_type("aws:iam/rolePolicy:RolePolicy")
                  for s in json.loads(p.inputs["policy"])["Statement"]]  # fmt: skip
    (push,) = [s for s in statements if s.get("Sid") == "PushServiceImages"]
    repos = {r.inputs["name"] for r in prod.by_type("aws:ecr/repository:Repository")}
    assert len(repos) == 2
    assert {arn.rsplit("/", 1)[1] for arn in push["Resource"]} == repos
