"""Nothing physical is named after SoundStack unless the project is: names, tags, log groups,
users, namespaces and descriptions come from `pulumi.get_project()` (or args)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

from soundstack.components.base import StackContext
from soundstack.components.database import Database, DatabaseArgs
from soundstack.components.naming import admin_username, database_name, dns_label
from soundstack.components.network import Network, NetworkArgs
from soundstack.components.pipeline import Pipeline, PipelineArgs
from soundstack.synth import Synthesis, stack_values, synthesize

#: Where the word may appear in a project not named soundstack: the `soundstack` CLI commands
#: a description and the deploy runner's buildspec tell people to run.
TOOL_COMMANDS = ("soundstack signing-key", "soundstack publish-web")
CHECKOUT = Path(__file__).resolve().parent.parent


def strings(value: Any) -> Iterator[str]:
    """Every string in a registration's inputs, mapping keys (tag keys, labels) included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def named_after_soundstack(synth: Synthesis) -> list[str]:
    found = []
    for r in synth.resources:
        assert "soundstack" not in r.name.lower()  # logical names come from the program
        for text in strings(r.inputs):
            local = text.startswith(str(CHECKOUT))  # a file of this checkout (the layer's zip)
            if (
                "soundstack" in text.lower()
                and not local
                and not any(c in text for c in TOOL_COMMANDS)
            ):
                found.append(f"{r.type} {r.name}: {text[:120]}")
    return found


def acme_program() -> None:
    ctx = StackContext(project=pulumi.get_project(), stack=pulumi.get_stack(),
                       environment="dev", region="eu-west-1", owner="o", cost_centre="c")  # fmt: skip
    net = Network("network", NetworkArgs(az_count=2, nat_gateways="single"), ctx)
    key = "arn:aws:kms:eu-west-1:123456789012:key/data"
    Database("database", DatabaseArgs(network=net, kms_key_arn=key, engine="aurora-serverless"),
             ctx)  # fmt: skip
    Database("ledger", DatabaseArgs(network=net, kms_key_arn=key, multi_az=False), ctx)
    Pipeline("pipeline", PipelineArgs(network=net, repository="acme/infra",
                                      connection_arn="arn:aws:codeconnections:eu-west-1:"
                                      "123456789012:connection/abc",
                                      jenkins_url="https://jenkins.acme.example"), ctx)  # fmt: skip


def test_a_small_program_under_project_acme_names_nothing_after_soundstack():
    synth = synthesize("dev", {"aws:region": "eu-west-1"}, [], program=acme_program, project="acme")
    assert synth.project == "acme"
    assert named_after_soundstack(synth) == []
    (cluster,) = synth.by_type("aws:rds/cluster:Cluster")
    assert (cluster.inputs["masterUsername"], cluster.inputs["databaseName"]) == ("acme_admin",
                                                                                  "acme")  # fmt: skip
    (instance,) = synth.by_type("aws:rds/instance:Instance")
    assert (instance.inputs["username"], instance.inputs["dbName"]) == ("acme_admin", "acme")
    groups = [g.inputs["name"] for g in synth.by_type("aws:cloudwatch/logGroup:LogGroup")]
    assert groups and all(g.startswith(("/acme/dev/", "/aws/")) for g in groups), groups
    tagged = [r for r in synth.resources if isinstance(r.inputs.get("tags"), dict)]
    assert tagged and all(r.inputs["tags"]["project"] == "acme" for r in tagged)
    (action,) = synth.by_type("aws:codepipeline/customActionType:CustomActionType")
    assert action.inputs["providerName"] == "acme-jenkins"


def _platform(stack: str, project: str, **sections: dict[str, Any]) -> Synthesis:
    config, secret = stack_values(stack)
    for section, overrides in sections.items():
        key = f"soundstack:{section}"
        config[key] = json.dumps({**json.loads(config.get(key, "{}")), **overrides})
    return synthesize(stack, config, secret, project=project)


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_the_whole_platform_under_project_acme_names_nothing_after_soundstack(stack):
    """prod: Kubernetes, provisioned Redshift, RDS; dev with Jenkins: Aurora, Redshift
    Serverless. Only the stack file's own values could still say soundstack."""
    extra: dict[str, dict[str, Any]] = {"pipeline": {"repository": "acme/infra"}}
    if stack == "dev":
        extra["pipeline"] |= {"enabled": True, "jenkins_url": "https://jenkins.acme.example",
                              "connection_arn": "arn:aws:codeconnections:eu-west-1:"
                              "123456789012:connection/abc"}  # fmt: skip
    synth = _platform(stack, "acme", **extra)
    assert synth.errors == []
    assert named_after_soundstack(synth) == []
    if stack == "prod":
        (namespace,) = synth.by_type("kubernetes:core/v1:Namespace")
        assert namespace.inputs["metadata"]["name"] == "acme"
        groups = synth.by_type("aws:eks/nodeGroup:NodeGroup")
        assert groups and all("acme/node-role" in g.inputs["labels"] for g in groups)


def test_the_bundled_project_keeps_its_names(prod):
    """The estate's own project is soundstack: its database, users and namespace are unchanged."""
    (instance,) = prod.by_type("aws:rds/instance:Instance")
    assert (instance.inputs["username"], instance.inputs["dbName"]) == (
        "soundstack_admin",
        "soundstack",
    )
    (namespace,) = prod.by_type("kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == "soundstack"


@pytest.mark.parametrize(
    ("project", "user", "database", "label"),
    [
        ("soundstack", "soundstack_admin", "soundstack", "soundstack"),
        ("acme-infra", "acme_infra_admin", "acme_infra", "acme-infra"),
        ("My.Project_2", "my_project_admin", "my_project_2", "my-project-2"),
        ("42-tools", "db_42_tool_admin", "db_42_tools", "42-tools"),
        ("a-very-long-project-name", "a_very_lon_admin", "a_very_long_project_name",
         "a-very-long-project-name"),
    ],
)  # fmt: skip
def test_names_derived_from_the_project_fit_what_aws_and_kubernetes_accept(
    project, user, database, label
):
    assert (admin_username(project), database_name(project), dns_label(project)) == (
        user,
        database,
        label,
    )
    assert len(admin_username(project)) <= 16 and admin_username(project)[0].isalpha()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"db_name": "my-db"}, "DatabaseArgs.db_name='my-db': RDS takes 1 to 63 letters"),
        ({"master_username": "administrator_01x"},
         "DatabaseArgs.master_username='administrator_01x': RDS takes 1 to 16"),
        ({"master_username": "1admin"}, "set e.g. master_username='app_admin'"),
    ],
)  # fmt: skip
def test_bad_database_names_fail_naming_the_argument_and_the_fix(args, message):
    network = object()
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        DatabaseArgs(network=network, kms_key_arn="arn:aws:kms:::key/k", **args)  # type: ignore[arg-type]
