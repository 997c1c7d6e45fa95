"""README "Using a component in your own program", run as written: its three files in an empty
directory, and every `soundstack` command of its shell block run there by the CLI."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import soundstack_cli

ROOT = Path(__file__).resolve().parent.parent
SECTION = re.compile(r"<!-- BEGIN own-program.*?-->(.*?)<!-- END own-program -->", re.S)
FILE = re.compile(r"\*\*`([^`]+)`\*\*\n\n```\w+\n(.*?)```", re.S)
SHELL = re.compile(r"```sh\n(.*?)```", re.S)


def section() -> str:
    (text,) = SECTION.findall((ROOT / "README.md").read_text())
    return text


def files() -> dict[str, str]:
    return dict(FILE.findall(section()))


def commands() -> list[list[str]]:
    """The `soundstack …` lines of the section's shell block, comments stripped."""
    (block,) = SHELL.findall(section())
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("soundstack ")]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("acme-infra")
    for name, text in files().items():
        (directory / name).write_text(text)
    return directory


def test_the_section_shows_the_three_files_install_preview_check_and_pulumi_up():
    assert set(files()) == {"Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py"}
    (block,) = SHELL.findall(section())
    assert "pip install soundstack" in block
    assert "pulumi up" in block
    assert [c[:2] for c in commands()][:3] == [["preview", "dev"], ["preview", "dev"],
                                               ["check", "dev"]]  # fmt: skip


def test_every_command_of_the_section_succeeds_in_the_project(project):
    for args in commands():
        result = soundstack_cli("-C", str(project), *args)
        assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
        if args == ["check", "dev"]:
            assert (
                "project acme-infra, stack dev: policy config from the pack's config for dev"
                in (result.stdout)
            )
            assert "0 mandatory and 0 advisory violations" in result.stdout


def test_the_preview_is_the_users_program_under_its_project_name_and_config(project):
    result = soundstack_cli("-C", str(project), "preview", "dev", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert all("::acme-infra::" in r["urn"] for r in doc["resources"])
    types = {r["type"] for r in doc["resources"]}
    assert {"soundstack:network:Network", "aws:ec2/vpc:Vpc", "aws:cloudtrail/trail:Trail"} <= types
    (vpc,) = [r for r in doc["resources"] if r["type"] == "aws:ec2/vpc:Vpc"]
    assert vpc["inputs"]["cidrBlock"] == "10.40.0.0/16"
    assert vpc["inputs"]["tags"]["project"] == "acme-infra"
    assert vpc["inputs"]["tags"]["owner"] == "platform-team"  # acme-infra:owner from the stack
    assert vpc["inputs"]["tags"]["Name"].startswith("acme-infra-dev-")
    assert [v for v in doc["violations"] if v["level"] == "mandatory"] == []
    assert doc["outputs"]["vpc_id"].startswith("vpc-")


def test_the_same_commands_work_when_started_inside_the_project(project):
    """`soundstack preview dev` in the directory itself (no -C), as the README runs it."""
    inner = project / "sub"
    inner.mkdir(exist_ok=True)  # and from below it: the nearest Pulumi.yaml above, as pulumi
    for cwd in (project, inner):
        result = soundstack_cli("preview", "dev", cwd=cwd)
        assert result.returncode == 0, result.stderr
        assert "stack 'dev' (project 'acme-infra')" in result.stdout
