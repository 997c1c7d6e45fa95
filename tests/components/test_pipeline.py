"""CodePipeline from the repository to every stack, its CodeBuild projects, and Jenkins."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from soundstack.components.network import Network, NetworkArgs
from soundstack.components.pipeline import (
    BUILD_IMAGE,
    DeployRunnerArgs,
    Pipeline,
    PipelineArgs,
)
from soundstack.stacks.loader import ConfigError, load_config
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


def test_dev_has_no_pipeline_but_its_own_deploy_runner(dev):
    assert not dev.by_type("aws:codepipeline/pipeline:Pipeline")
    assert [p.inputs["name"] for p in dev.by_type("aws:codebuild/project:Project")] == [
        "soundstack-dev-deploy"
    ]


def test_build_projects_run_in_private_subnets_logged_and_only_images_privileged(prod):
    projects = {p.name: p for p in prod.by_type("aws:codebuild/project:Project")}
    assert set(projects) == {"pipeline-test", "pipeline-images", "deploy-runner-project"}
    private = {
        s.urn
        for s in prod.by_type("aws:ec2/subnet:Subnet")
        if s.inputs["tags"]["tier"] == "private"
    }
    groups = {g.inputs["name"]: g.inputs for g in prod.by_type("aws:cloudwatch/logGroup:LogGroup")}
    for name, project in projects.items():
        assert project.inputs["environment"]["privilegedMode"] is (name == "pipeline-images"), name
        assert project.inputs["environment"]["image"] == BUILD_IMAGE
        assert set(project.property_dependencies["vpcConfig"]) >= private
        assert len(project.inputs["vpcConfig"]["securityGroupIds"]) == 1
        logs = project.inputs["logsConfig"]["cloudwatchLogs"]
        assert logs["status"] == "ENABLED" and groups[logs["groupName"]]["retentionInDays"] == 365
        assert project.inputs["encryptionKey"].startswith("arn:aws:kms:")
        assert not project.inputs["environment"].get("environmentVariables") or all(
            "TOKEN" not in v["name"] for v in project.inputs["environment"]["environmentVariables"])  # fmt: skip


def test_the_test_stage_installs_postgres_and_redis_on_the_amazon_linux_build_image(prod):
    # The CodeBuild image is Amazon Linux 2023: Debian's pg_ctlcluster (.ci/services) is absent.
    assert "amazonlinux" in BUILD_IMAGE
    (project,) = [
        p for p in prod.by_type("aws:codebuild/project:Project") if p.name == "pipeline-test"
    ]
    spec = yaml.safe_load(project.inputs["source"]["buildspec"])
    install = spec["phases"]["install"]
    assert install["runtime-versions"] == {"python": "3.11"}
    assert install["commands"] == ["bash .ci/codebuild-services"]
    assert spec["phases"]["build"]["commands"] == ["make install lint test"]
    script = "\n".join(line for line in (ROOT / ".ci" / "codebuild-services").read_text().splitlines()
                        if not line.startswith("#"))  # fmt: skip
    assert "dnf install" in script and "apt-get" not in script and "pg_ctlcluster" not in script
    assert "--auth=trust" in script and "createdb" in script and " test" in script
    assert "6379" in script and "5432" in script


def test_each_stack_deploys_through_its_own_runner_inside_its_vpc(staging, prod):
    _, stages = _stages(prod)
    for stack, synth in (("staging", staging), ("prod", prod)):
        (deploy,) = [a for a in stages[f"Deploy-{stack}"] if a["category"] == "Build"]
        (runner,) = [p for p in synth.by_type("aws:codebuild/project:Project")
                     if p.name == "deploy-runner-project"]  # fmt: skip
        # The pipeline starts the project the stack itself owns (CodeBuild in the stack's VPC).
        assert deploy["configuration"]["ProjectName"] == runner.inputs["name"]
        assert runner.inputs["name"] == f"soundstack-{stack}-deploy"
        assert runner.inputs["serviceRole"] == (
            f"arn:aws:iam::123456789012:role/soundstack-{stack}-deploy")  # fmt: skip
        subnets = synth.by_type("aws:ec2/subnet:Subnet")
        zones = sum(s.inputs["tags"]["tier"] == "public" for s in subnets)
        # the stack's own zones (a third private subnet for Redshift is not one of them)
        private = {
            s.urn for s in subnets if s.name in {f"network-private-{i}" for i in range(zones)}
        }
        assert set(runner.property_dependencies["vpcConfig"]) >= private
        assert runner.inputs["buildTimeout"] == 120
        # The private endpoint admits the runner: 443 from its security group.
        (group,) = runner.inputs["vpcConfig"]["securityGroupIds"]
        (rule,) = [r for r in synth.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
                   if r.inputs.get("referencedSecurityGroupId") == group]  # fmt: skip
        assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["ipProtocol"]) == (
            443, 443, "tcp")  # fmt: skip
        (eks,) = synth.by_type("eks:index:Cluster")
        assert eks.urn in rule.property_dependencies["securityGroupId"]
    statements = [s for p in prod.by_type("aws:iam/rolePolicy:RolePolicy")
                  for s in json.loads(p.inputs["policy"])["Statement"]]  # fmt: skip
    (run,) = [s for s in statements if s.get("Sid") == "RunBuilds"]
    for stack in ("staging", "prod"):
        assert f"arn:aws:codebuild:eu-west-1:123456789012:project/soundstack-{stack}-deploy" in (
            run["Resource"])  # fmt: skip


def test_runner_builds_the_layer_records_the_release_once_images_exist_then_deploys(prod):
    (secret,) = [s for s in prod.by_type("aws:secretsmanager/secret:Secret")
                 if s.name == "deploy-runner-pulumi-token"]  # fmt: skip
    secret_arn = f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{secret.inputs['name']}-"
    (runner,) = [p for p in prod.by_type("aws:codebuild/project:Project")
                 if p.name == "deploy-runner-project"]  # fmt: skip
    spec = yaml.safe_load(runner.inputs["source"]["buildspec"])
    assert spec["env"]["secrets-manager"]["PULUMI_ACCESS_TOKEN"].startswith(secret_arn)
    commands = spec["phases"]["build"]["commands"]

    def at(prefix):
        return [i for i, c in enumerate(commands) if c.startswith(prefix)]

    (layer,) = at("make layer")
    checks = at("aws ecr describe-images")
    (record,) = at("aws ssm put-parameter")
    (preview,) = at("pulumi preview")
    (up,) = at("pulumi up")
    assert layer < min(checks) and max(checks) < record < preview < up
    repos = {r.inputs["name"] for r in prod.by_type("aws:ecr/repository:Repository")}
    assert {commands[i].split("--repository-name ")[1].split()[0] for i in checks} == repos
    assert all('imageTag="$TAG"' in commands[i] for i in checks)
    assert "--name /soundstack/prod/release/image-tag" in commands[record]
    assert commands[at('TAG="$CODEBUILD_RESOLVED_SOURCE_VERSION"')[0]]
    for i in (preview, up):
        assert (
            "--stack prod --policy-pack policies --policy-pack-config policies/config/prod.json"
            in commands[i]
        )
    assert "--yes" in commands[up]
    # prod enforces code signing: the layer and code are signed (and recorded) before the deploy
    (sign,) = at(".venv/bin/soundstack sign-lambda")
    assert commands[sign] == ".venv/bin/soundstack sign-lambda prod"
    assert layer < sign < preview and at("pulumi stack select prod")[0] < sign
    # then the web client, onto the bucket and distribution that `pulumi up` just made
    (node,) = at("bash .ci/node")
    (web,) = at("make web")
    (publish,) = at(".venv/bin/soundstack publish-web")
    assert up < node < web < publish
    assert commands[publish] == ".venv/bin/soundstack publish-web prod --wait"
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.11", "nodejs": "22"}


def test_each_build_role_holds_only_its_stage_permissions(prod):
    def actions(prefix):
        return {a for p in prod.by_type("aws:iam/rolePolicy:RolePolicy") if p.name.startswith(prefix)
                for a in json.loads(p.inputs["policy"])["Statement"][0]["Action"]}  # fmt: skip

    assert "secretsmanager:GetSecretValue" not in actions("pipeline-test-build-")
    assert "sts:AssumeRole" not in actions("pipeline-images-build-")
    assert not {a for a in actions("pipeline-") if a.startswith(("iam:", "sts:"))}
    pipeline_actions = actions("pipeline-pipeline-")
    assert {"codeconnections:UseConnection", "codebuild:StartBuild"} <= pipeline_actions


def test_jenkins_takes_the_test_stage_through_a_custom_action():
    synth = _pipeline(jenkins_url="https://jenkins.example.com/", jenkins_project="soundstack-ci")
    (action_type,) = synth.by_type("aws:codepipeline/customActionType:CustomActionType")
    assert (action_type.inputs["category"], action_type.inputs["providerName"]) == (
        "Test",
        "soundstack-jenkins",  # <project>-jenkins
    )
    assert (
        action_type.inputs["settings"]["entityUrlTemplate"]
        == "https://jenkins.example.com/job/{Config:ProjectName}/"
    )
    _, stages = _stages(synth)
    (test,) = stages["Test"]
    assert (test["owner"], test["provider"]) == ("Custom", "soundstack-jenkins")
    assert test["configuration"] == {"ProjectName": "soundstack-ci"}
    assert "pipeline-test" not in {p.name for p in synth.by_type("aws:codebuild/project:Project")}


def test_jenkins_job_and_provider_default_to_the_project_and_a_bad_provider_names_the_fix():
    synth = _pipeline(jenkins_url="https://jenkins.example.com/")
    _, stages = _stages(synth)
    (test,) = stages["Test"]
    assert test["configuration"] == {"ProjectName": "soundstack"}  # make_ctx's project
    named = _pipeline(jenkins_url="https://jenkins.example.com/", jenkins_provider="AcmeJenkins")
    (action_type,) = named.by_type("aws:codepipeline/customActionType:CustomActionType")
    assert action_type.inputs["providerName"] == "AcmeJenkins"
    with pytest.raises(ValueError, match=r"jenkins_provider='Acme Jenkins'.*1 to 35"):
        PipelineArgs(network=None, repository="a/b", connection_arn=CONNECTION,  # type: ignore[arg-type]
                     jenkins_provider="Acme Jenkins")  # fmt: skip


def test_jenkinsfile_has_the_same_stages_and_commands():
    text = (ROOT / "Jenkinsfile").read_text()
    assert re.findall(r"stage\('([^']+)'\)", text) == [
        "Test", "Images", "Deploy staging", "Approve prod", "Deploy prod"]  # fmt: skip
    assert "sh 'make check'" in text
    assert "--policy-pack policies" in text and "pulumi up" in text and "input message" in text
    deploy = text[text.index("def deploy(") :]
    order = [deploy.index(s) for s in ("make layer", "aws ecr describe-images",
                                       "aws ssm put-parameter", "pulumi preview", "pulumi up")]  # fmt: skip
    assert order == sorted(order)
    assert "$REGISTRY/$repo:$TAG" in text and 'repo="soundstack-$stack-cluster-$service"' in text


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


def test_images_are_built_once_and_pushed_to_every_environments_repository(staging, prod):
    (images,) = [p for p in prod.by_type("aws:codebuild/project:Project")
                 if p.name == "pipeline-images"]  # fmt: skip
    commands = yaml.safe_load(images.inputs["source"]["buildspec"])["phases"]["build"]["commands"]
    registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    repos = {r.inputs["name"] for synth in (staging, prod)
             for r in synth.by_type("aws:ecr/repository:Repository")}  # fmt: skip
    assert len(repos) == 4
    for service in ("catalog", "recommendation"):
        assert sum(f"--file app_services/{service}/Dockerfile" in c for c in commands) == 1
    pushed = {c.split(f'docker push "{registry}/')[1].split(":")[0] for c in commands
              if "docker push" in c}  # fmt: skip
    assert pushed == repos
    # Immutable tags: a retried execution skips what it already pushed instead of failing.
    assert all(c.startswith("aws ecr describe-images") and "||" in c
               for c in commands if "docker push" in c)  # fmt: skip
    statements = [s for p in prod.by_type("aws:iam/rolePolicy:RolePolicy")
                  for s in json.loads(p.inputs["policy"])["Statement"]]  # fmt: skip
    (push,) = [s for s in statements if s.get("Sid") == "PushServiceImages"]
    assert {arn.rsplit("/", 1)[1] for arn in push["Resource"]} == repos
    assert "ecr:DescribeImages" in push["Action"]


def test_pipeline_validates_the_runner_timeout():
    with pytest.raises(ValueError, match="5 to 2160 minutes"):
        DeployRunnerArgs(network=object(), role_arn="r", kms_key_arn="k", timeout_minutes=3000)  # type: ignore[arg-type]


def test_a_runner_of_a_stack_that_does_not_enforce_signs_nothing(staging, dev):
    for synth in (staging, dev):
        (runner,) = [p for p in synth.by_type("aws:codebuild/project:Project")
                     if p.name == "deploy-runner-project"]  # fmt: skip
        assert "sign-lambda" not in runner.inputs["source"]["buildspec"]
