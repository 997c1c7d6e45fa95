"""The offline preview: table, JSON document, masking of secrets, exit codes."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws

from soundstack.cli import main
from soundstack.engine import evaluate
from soundstack.preview import document, service_of
from soundstack.synth import tree_order
from tests.conftest import run_program, stack_synthesis


def _exit_code(stack: str) -> int:
    """1 when the policy pack finds a mandatory violation in the stack, else 0."""
    violations = evaluate(stack_synthesis(stack))
    return 1 if any(v.level == "mandatory" for v in violations) else 0


def test_preview_dev_prints_resources_by_component_and_service(capsys):
    expected = _exit_code("dev")
    assert main(["preview", "dev"]) == expected
    out = capsys.readouterr().out
    assert "offline preview of stack 'dev'" in out
    assert "network (network:Network)" in out
    assert "vpc_id" in out and "vpc-0" in out
    assert "Policy violations (" in out  # the pack ran (policies/; see tests/policies)


def test_preview_prod_json_lists_the_network_with_inputs(capsys):
    assert main(["preview", "prod", "--json"]) == _exit_code("prod")
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"stack", "resources", "outputs", "violations"}
    assert doc["stack"] == "prod"
    for resource in doc["resources"]:
        assert set(resource) == {"urn", "type", "name", "parent", "inputs", "dependencies"}
    (vpc,) = [r for r in doc["resources"] if r["type"] == "aws:ec2/vpc:Vpc"]
    assert vpc["inputs"]["cidrBlock"] == "10.30.0.0/16"
    assert vpc["inputs"]["enableDnsHostnames"] is True
    subnets = [r for r in doc["resources"] if r["type"] == "aws:ec2/subnet:Subnet"]
    assert len(subnets) == 9
    assert all(vpc["urn"] in s["dependencies"] for s in subnets)
    assert doc["outputs"]["vpc_id"].startswith("vpc-")
    assert doc["outputs"]["logs_kms_key_arn"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")


def test_unknown_stack_exits_2_naming_the_known_stacks(capsys):
    assert main(["preview", "qa"]) == 2
    assert "known stacks: dev, prod, staging" in capsys.readouterr().err


def test_secret_inputs_and_outputs_are_masked():
    def program():
        secret = pulumi.Output.secret("s3cr3t-value")
        aws.secretsmanager.SecretVersion("token", secret_id="x", secret_string=secret)
        pulumi.export("token", secret)
        pulumi.export("plain", "visible")

    synth = run_program(program)
    doc = json.dumps(document(synth, []))
    assert "s3cr3t-value" not in doc
    (version,) = synth.by_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert version.masked_inputs["secretString"] == "[secret]"
    assert version.inputs["secretString"] == "s3cr3t-value"  # policies see the value
    assert synth.outputs == {"plain": "visible", "token": "[secret]"}
    assert synth.secret_outputs == ["token"]


def test_service_names_from_type_tokens():
    assert service_of("aws:ec2/vpc:Vpc") == "ec2"
    assert service_of("eks:index:Cluster") == "eks"
    assert service_of("kubernetes:apps/v1:Deployment") == "k8s apps"


def test_preview_json_is_the_same_bytes_in_two_processes():
    """Registrations reach the monitor in whatever order Pulumi's threads finish; the document
    must not show it (nor hash-seed-dependent ordering)."""
    root = Path(__file__).resolve().parent.parent
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONPATH": str(root), "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-m", "soundstack.cli", "preview", "dev", "--json"],
            cwd=root,
            env=env,
            capture_output=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr.decode()[-2000:]
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1]
    doc = json.loads(outputs[0])
    seen: set[str] = set()
    for resource in doc["resources"]:  # tree order: a parent before its children
        assert (
            resource["parent"] is None
            or resource["parent"] in seen
            or (resource["parent"].endswith("::pulumi:pulumi:Stack::soundstack-dev"))
        )
        seen.add(resource["urn"])


def test_tree_order_does_not_depend_on_arrival_order():
    synth = stack_synthesis("dev")
    shuffled = list(synth.resources)
    random.Random(7).shuffle(shuffled)
    assert [r.urn for r in tree_order(shuffled)] == [r.urn for r in synth.resources]
    assert len(tree_order(shuffled)) == len(synth.resources)


def test_a_project_command_pauses_the_collector_only_while_it_runs(capsys):
    assert gc.isenabled()
    main(["preview", "dev", "--json"])
    assert gc.isenabled()
    capsys.readouterr()


def test_a_run_leaves_no_event_loop_open(monkeypatch):
    """Pulumi's mock monitor gives each worker thread an event loop; the run closes them all
    (each holds a socket pair until closed)."""
    made: list[asyncio.AbstractEventLoop] = []
    new_event_loop = asyncio.new_event_loop

    def tracked() -> asyncio.AbstractEventLoop:
        made.append(new_event_loop())
        return made[-1]

    monkeypatch.setattr(asyncio, "new_event_loop", tracked)

    def program() -> None:
        for i in range(8):
            aws.sns.Topic(f"t{i}")

    run_program(program)
    assert len(made) >= 2  # the run's own loop and at least one worker thread's
    assert all(loop.is_closed() for loop in made)
