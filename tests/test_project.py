"""The project a command runs: a user's Pulumi project (name, main, stack files, config) or the
bundled estate, found from the package; the policy config chosen for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import soundstack
from soundstack import cli, synth
from soundstack.engine import pack_config
from soundstack.project import Project
from soundstack.stacks.loader import SECRET_PLACEHOLDER, ConfigError
from tests.conftest import soundstack_cli

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(soundstack.__file__).resolve().parent


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


# -- the bundled estate ----------------------------------------------------------------------


def test_the_bundled_estate_is_found_through_the_package_not_the_repository(monkeypatch):
    bundled = Project.bundled()
    assert bundled.name == "soundstack"
    assert bundled.program == PACKAGE / "platform" / "__main__.py"
    assert bundled.stack_file("prod") == PACKAGE / "stacks" / "Pulumi.prod.yaml"
    assert bundled.stacks() == ["dev", "prod", "staging"]
    # Nothing of the bundled run goes through the repository root (a wheel has none).
    monkeypatch.setattr(synth, "PROJECT_DIR", Path("/nonexistent"))
    values, secret = synth.stack_values("dev")
    assert values["soundstack:environment"] == "dev"
    assert "soundstack:api_origin_secret" in secret  # placeholders for the declared secrets


# -- Pulumi.yaml ------------------------------------------------------------------------------


def test_a_project_file_is_read_as_pulumi_reads_it(tmp_path):
    write(tmp_path, {
        "Pulumi.yaml": "name: acme\nruntime:\n  name: python\nmain: infra/\n"
                       "stackConfigDir: stacks\nconfig:\n  aws:region: us-east-1\n"
                       "  size:\n    type: string\n    default: small\n  tier:\n    value: gold\n"
                       "  undeclared:\n    type: string\n",
        "infra/__main__.py": "",
        "stacks/Pulumi.dev.yaml": "config:\n  owner: team\n  acme:size: large\n"
                                  "  acme:db:\n    user: app\n    password:\n      secure: AAAB\n"
                                  "  acme:token:\n    secure: AAAC\n",
    })  # fmt: skip
    project = Project.find(tmp_path / "infra")  # from below, as pulumi finds it
    assert project is not None
    assert (project.name, project.main, project.program) == (
        "acme",
        tmp_path / "infra",
        tmp_path / "infra" / "__main__.py",
    )
    values, secret = project.stack_values("dev")
    assert values == {
        "aws:region": "us-east-1",  # project-level config under the stack's
        "acme:tier": "gold",
        "acme:size": "large",  # the stack overrides the project's default
        "acme:owner": "team",  # no namespace: the project's
        "acme:db": json.dumps({"user": "app", "password": SECRET_PLACEHOLDER}),
        "acme:token": SECRET_PLACEHOLDER,
    }
    assert sorted(secret) == ["acme:db", "acme:token"]
    assert project.environment("dev") == "dev"
    assert not project.uses_platform_config  # only the platform's own namespace is validated


def test_every_problem_of_a_project_file_is_named_with_its_fix(tmp_path):
    write(tmp_path, {"Pulumi.yaml": "name: my project\nruntime: nodejs\nmain: src/\n"})
    with pytest.raises(ConfigError) as err:
        Project.load(tmp_path / "Pulumi.yaml")
    assert [p.split(":", 1)[0] for p in err.value.problems] == ['name="my project"',
                                                                'runtime="nodejs"', 'main="src/"']  # fmt: skip
    assert "set `runtime: python`" in str(err.value)
    assert "does not exist; set `main:`" in str(err.value)
    write(tmp_path, {"Pulumi.yaml": "name: acme\nruntime: python\n", "lib/x.py": ""})
    write(tmp_path, {"Pulumi.yaml": "name: acme\nruntime: python\nmain: lib\n"})
    with pytest.raises(ConfigError, match=r"has no __main__.py; put the program there"):
        Project.load(tmp_path / "Pulumi.yaml")


def test_a_missing_stack_file_lists_the_stacks_and_how_to_make_one(tmp_path):
    write(tmp_path, {"Pulumi.yaml": "name: acme\nruntime: python\n", "__main__.py": "",
                     "Pulumi.dev.yaml": "config: {}\n", "Pulumi.eu.prod.yml": "config: {}\n"})  # fmt: skip
    project = Project.load(tmp_path / "Pulumi.yaml")
    assert project.stacks() == ["dev", "eu.prod"]
    with pytest.raises(ConfigError, match=r"known stacks: dev, eu.prod \(a new stack: `pulumi "):
        project.stack_values("qa")


# -- which project the CLI runs ---------------------------------------------------------------


@pytest.fixture
def recorded(monkeypatch):
    """What `soundstack check` would have synthesized, without synthesizing it."""
    seen: list[Project] = []

    def fake(stack, project=None, first_preview=False):
        seen.append(project)
        return synth.Synthesis(stack, [], {}, [], project=project.name)

    monkeypatch.setattr(cli, "synthesize_stack", fake)
    return seen


def test_without_a_pulumi_yaml_the_cli_runs_the_bundled_estate(tmp_path, monkeypatch, recorded):
    monkeypatch.chdir(tmp_path)
    cli.main(["check", "dev"])
    assert recorded == [Project.bundled()]


def test_bundled_wins_over_a_project_and_c_names_the_project(tmp_path, monkeypatch, recorded):
    write(tmp_path, {"Pulumi.yaml": "name: acme\nruntime: python\n", "__main__.py": "",
                     "Pulumi.dev.yaml": "config: {}\n"})  # fmt: skip
    before = Path.cwd()
    cli.main(["-C", str(tmp_path), "check", "dev"])
    cli.main(["check", "dev", "-C", str(tmp_path), "--bundled"])
    assert [p.name for p in recorded] == ["acme", "soundstack"]
    assert Path.cwd() == before  # -C is undone after the command


def test_c_without_a_project_exits_2_naming_the_way_out(tmp_path, capsys):
    assert cli.main(["-C", str(tmp_path), "preview", "dev"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no Pulumi project in ")
    assert "no Pulumi.yaml here or in any directory above" in err and "--bundled" in err
    assert cli.main(["-C", str(tmp_path / "nope"), "preview", "dev"]) == 2


# -- the user's program -----------------------------------------------------------------------

PROGRAM = '''
"""A user's program with its own `components/` package beside it (which must not shadow ours)."""
import importlib
import pathlib

import pulumi

# The user's own folder (imported by name here only to keep this repository's import check
# about its own folders simple): `components.naming`, beside `soundstack.components`.
team_tag = importlib.import_module("components.naming").team_tag
from soundstack.components.base import StackContext
from soundstack.components.kms import EncryptionKey, EncryptionKeyArgs

config = pulumi.Config()
ctx = StackContext(project=pulumi.get_project(), stack=pulumi.get_stack(), environment="dev",
                   region="eu-west-1", owner=config.require("owner"), cost_centre="cc-1")
EncryptionKey("data", EncryptionKeyArgs(description="data"), ctx)
pulumi.export("project", pulumi.get_project())
pulumi.export("team", team_tag())
pulumi.export("token", config.require_secret("token"))
pulumi.export("cwd", pathlib.Path.cwd().name)
'''


def test_the_users_program_runs_with_its_name_config_secrets_and_own_modules(tmp_path):
    project = write(tmp_path / "acme", {
        "Pulumi.yaml": "name: acme-data\nruntime: python\nmain: infra\n",
        "Pulumi.dev.yaml": "config:\n  aws:region: eu-west-1\n  acme-data:owner: data-team\n"
                           "  acme-data:token:\n    secure: v1:AAAA\n",
        "infra/__main__.py": PROGRAM,
        "infra/components/__init__.py": "",
        "infra/components/naming.py": "def team_tag():\n    return 'team-data'\n",
    })  # fmt: skip
    result = soundstack_cli("-C", str(project), "preview", "dev", "--json")
    doc = json.loads(result.stdout)
    mandatory = {v["policy"] for v in doc["violations"] if v["level"] == "mandatory"}
    assert (result.returncode, mandatory) == (1, {"stack-audit-trail"}), result.stderr  # no trail
    assert doc["outputs"] == {"cwd": "infra", "project": "acme-data", "team": "team-data",
                              "token": "[secret]"}  # fmt: skip
    (key,) = [r for r in doc["resources"] if r["type"] == "aws:kms/key:Key"]
    assert key["urn"].startswith("urn:pulumi:dev::acme-data::")
    assert key["inputs"]["tags"]["owner"] == "data-team"


def test_a_missing_config_key_of_the_program_exits_2_with_pulumis_message(tmp_path):
    project = write(tmp_path, {
        "Pulumi.yaml": "name: acme\nruntime: python\n",
        "Pulumi.dev.yaml": "config:\n  aws:region: eu-west-1\n",
        "__main__.py": "import pulumi\npulumi.export('o', pulumi.Config().require('owner'))\n",
    })  # fmt: skip
    result = soundstack_cli("-C", str(project), "preview", "dev")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Missing required configuration variable 'acme:owner'" in result.stderr


# -- the policy config ------------------------------------------------------------------------


def test_the_pack_config_follows_the_file_then_the_stack_then_the_environment(tmp_path):
    config, source = pack_config("prod")
    assert source == "the pack's config for prod" and config["log-group-retention"]
    assert pack_config("eu-prod", environment="prod") == (config, source)
    assert pack_config("eu-prod") == ({}, "the pack's default levels")
    mine = tmp_path / "levels.json"
    mine.write_text('{"stack-audit-trail": "advisory"}')
    assert pack_config("prod", "prod", mine) == ({"stack-audit-trail": "advisory"}, str(mine))
    mine.write_text("[1]")
    with pytest.raises(ConfigError, match="expected a JSON object of policy name"):
        pack_config("prod", path=mine)


def test_policy_config_sets_the_levels_of_a_users_stack(tmp_path):
    """A bare network: no audit trail in the stack (mandatory by default, CIS 3.1); an
    organisation trail elsewhere makes it advisory through --policy-config."""
    project = write(tmp_path, {
        "Pulumi.yaml": "name: acme\nruntime: python\n",
        "Pulumi.qa.yaml": "config:\n  aws:region: eu-west-1\n  acme:environment: prod\n",
        "__main__.py": "import pulumi\nfrom soundstack.components.base import StackContext\n"
                       "from soundstack.components.network import Network, NetworkArgs\n"
                       "ctx = StackContext(project=pulumi.get_project(), stack='qa', "
                       "environment='prod', region='eu-west-1', owner='o', cost_centre='c')\n"
                       "Network('network', NetworkArgs(), ctx)\n",
        "levels.json": '{"stack-audit-trail": "advisory"}',
    })  # fmt: skip
    strict = soundstack_cli("-C", str(project), "check", "qa")
    assert strict.returncode == 1
    assert "policy config from the pack's config for prod" in strict.stdout  # acme:environment
    assert "mandatory stack-audit-trail  (stack): no multi-region CloudTrail" in strict.stdout
    relaxed = soundstack_cli("-C", str(project), "check", "qa", "--policy-config", "levels.json")
    assert "policy config from levels.json" in relaxed.stdout
    assert "advisory  stack-audit-trail  (stack)" in relaxed.stdout
    assert "mandatory stack-audit-trail" not in relaxed.stdout


@pytest.mark.slow
def test_the_bundled_prod_stack_runs_beside_a_users_own_components_folder(tmp_path):
    """A user's directory holding its own `components/` package (importing it fails here): the
    bundled estate imports nothing of it, templates included (the analytics dashboard)."""
    write(tmp_path, {"components/__init__.py": "raise ImportError('the user components')\n"})
    result = soundstack_cli("check", "prod", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "project soundstack, stack prod: policy config from the pack's config for prod" in (
        result.stdout
    )
    assert "0 mandatory" in result.stdout
