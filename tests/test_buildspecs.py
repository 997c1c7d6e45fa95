"""Every buildspec the estate registers (and every Jenkinsfile step) parses and runs only what
exists: make targets of the Makefile, scripts and Dockerfiles of the repository, the policy pack,
stack files, and CLIs the CodeBuild image has or the buildspec installs first."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
#: On CodeBuild's Amazon Linux 2023 standard image (bash, AWS CLI v2, Docker, curl, jq, make,
#: the selected Python) or shell builtins; anything else must be installed by the buildspec.
IMAGE_TOOLS = {"aws", "bash", "curl", "docker", "echo", "export", "jq", "make", "python3", "sh",
               "for", "do", "done", "then", "fi", "if", "exit", "test", "["}  # fmt: skip
INSTALLED_BY = {"pulumi": "get.pulumi.com", ".venv/bin/pip": "-m venv .venv",
                ".venv/bin/soundstack": "-m venv .venv"}  # fmt: skip


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {t for t in re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.M) if t[0] != "."}


def simple_commands(command: str) -> list[list[str]]:
    """A shell line cut into simple commands (pipes, &&, ||, ;, braces, subshells)."""
    parts = re.split(r"\|\||&&|\||;|\{|\}|\$\(|\)", command)
    found = []
    for part in parts:
        try:
            words = shlex.split(part.replace(">/dev/null", " ").replace("2>&1", " "))
        except ValueError:
            words = part.split()
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            words = words[1:]  # VAR=value prefix or assignment
        if words:
            found.append(words)
    return found


def check_command(command: str, installed: str, where: str) -> list[str]:
    problems = []
    targets = make_targets()
    for words in simple_commands(command):
        tool = words[0]
        if tool in INSTALLED_BY:
            if INSTALLED_BY[tool] not in installed:
                problems.append(f"{where}: {tool} is used but not installed first")
        elif tool not in IMAGE_TOOLS:
            problems.append(f"{where}: {tool!r} is not on the build image: {command}")
        if tool == "make":
            problems += [f"{where}: no Makefile target {t!r}" for t in words[1:]
                         if not t.startswith("-") and "=" not in t and t not in targets]  # fmt: skip
        script = words[1] if tool in ("bash", "sh") and len(words) > 1 else "-"
        if not script.startswith("-") and not (ROOT / script).is_file():
            problems.append(f"{where}: script {words[1]} is not in the repository")
        for flag, check in (("--file", lambda p: (ROOT / p).is_file()),
                            ("--policy-pack", lambda p: (ROOT / p / "PulumiPolicy.yaml").is_file()),
                            ("--policy-pack-config", lambda p: (ROOT / p).is_file()),
                            ("--stack", lambda s: (ROOT / "stacks" / f"Pulumi.{s}.yaml").is_file())):  # fmt: skip
            if flag in words:
                value = words[words.index(flag) + 1]
                if "$" not in value and not check(value):
                    problems.append(f"{where}: {flag} {value} does not exist")
        if (
            words[:3] == ["pulumi", "stack", "select"]
            and not (ROOT / "stacks" / f"Pulumi.{words[3]}.yaml").is_file()
        ):
            problems.append(f"{where}: no stack file for {words[3]}")
    return problems


def buildspec_problems(name: str, text: str) -> list[str]:
    spec = yaml.safe_load(text)
    problems = []
    if spec.get("version") != 0.2:
        problems.append(f"{name}: buildspec version {spec.get('version')!r}, expected 0.2")
    phases = spec.get("phases") or {}
    if not phases.get("build", {}).get("commands"):
        problems.append(f"{name}: no build commands")
    installed = " ".join(phases.get("install", {}).get("commands", []))
    for phase in ("install", "pre_build", "build", "post_build"):
        for command in phases.get(phase, {}).get("commands", []):
            problems += check_command(command, installed, f"{name} {phase}")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_buildspec_parses_and_runs_only_what_exists(stack, request):
    synth = request.getfixturevalue(stack)
    projects = synth.by_type("aws:codebuild/project:Project")
    assert projects
    problems = [p for project in projects
                for p in buildspec_problems(f"{stack}/{project.name}", project.inputs["source"]["buildspec"])]  # fmt: skip
    assert not problems, "\n".join(problems)


def test_jenkinsfile_steps_run_only_what_exists():
    text = (ROOT / "Jenkinsfile").read_text()
    blocks = re.findall(r"sh '([^']+)'", text) + re.findall(r'sh """(.*?)"""', text, re.S)
    blocks += re.findall(r"sh '''(.*?)'''", text, re.S)
    targets = make_targets()
    used = {t for block in blocks for words in simple_commands(block.replace("\n", ";"))
            if words[0] == "make" for t in words[1:]}  # fmt: skip
    assert used and used <= targets, used - targets


def test_the_checker_finds_what_is_missing():
    bad = yaml.safe_dump({"version": 0.2, "phases": {"build": {"commands": [
        "make nope", "bash .ci/absent", "pulumi up --stack nowhere", "kubectl apply -f x",
        "pulumi preview --policy-pack policies --policy-pack-config policies/config/qa.json",
        "docker build --file app_services/none/Dockerfile ."]}}})  # fmt: skip
    problems = "\n".join(buildspec_problems("bad", bad))
    for expected in ("no Makefile target 'nope'", "script .ci/absent", "pulumi is used but not "
                     "installed", "--stack nowhere", "'kubectl' is not on the build image",
                     "--file app_services/none/Dockerfile",
                     "--policy-pack-config policies/config/qa.json does not exist"):  # fmt: skip
        assert expected in problems
    good = yaml.safe_dump({"version": 0.2, "phases": {
        "install": {"commands": ["curl -fsSL https://get.pulumi.com | sh"]},
        "build": {"commands": ["make layer", "pulumi up --stack prod --policy-pack policies"]}}})  # fmt: skip
    assert buildspec_problems("good", good) == []
