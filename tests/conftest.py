"""Shared fixtures: mocked runs of whole stacks (cached per session) and of small programs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from soundstack.components.base import StackContext
from soundstack.synth import Resource, Synthesis, stack_values, synthesize, synthesize_stack

_CACHE: dict[str, Synthesis] = {}
ROOT = Path(__file__).resolve().parent.parent


def soundstack_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`soundstack <args>` as a user runs it, with this tree's code (not whatever `soundstack`
    the venv has installed); never raises on a non-zero exit."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "soundstack.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def stack_synthesis(stack: str, first_preview: bool = False) -> Synthesis:
    """The platform program's registrations for a stack file (computed once per session), as
    an offline run or as the first preview of a new stack."""
    key = f"{stack}:first-preview" if first_preview else stack
    if key not in _CACHE:
        _CACHE[key] = synthesize_stack(stack, first_preview=first_preview)
    return _CACHE[key]


def stack_variant(stack: str, section: str, overrides: dict[str, object]) -> Synthesis:
    """A stack file's run with `soundstack:<section>` keys overridden (merged over the file's)."""
    config, secret = stack_values(stack)
    key = f"soundstack:{section}"
    config[key] = json.dumps({**json.loads(config.get(key, "{}")), **overrides})
    return synthesize(stack, config, secret)


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials boto3 accepts, for moto or a Stubber to answer; no profile, so no real
    account's are ever picked up."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def dev_serverless_search() -> Synthesis:
    """Dev with `search.serverless: true`: the OpenSearch Serverless path on a whole stack."""
    return stack_variant("dev", "search", {"engine": "opensearch", "serverless": True})


@pytest.fixture(scope="session")
def dev_neptune() -> Synthesis:
    """Dev with `graph.engine: neptune`: the dev profile's Neptune Serverless on a whole stack."""
    return stack_variant("dev", "graph", {"engine": "neptune"})


@pytest.fixture(scope="session")
def dev() -> Synthesis:
    return stack_synthesis("dev")


@pytest.fixture(scope="session")
def staging() -> Synthesis:
    return stack_synthesis("staging")


@pytest.fixture(scope="session")
def prod() -> Synthesis:
    return stack_synthesis("prod")


def make_ctx(environment: str = "dev", stack: str | None = None) -> StackContext:
    return StackContext(
        project="soundstack",
        stack=stack or environment,
        environment=environment,  # type: ignore[arg-type]
        region="eu-west-1",
        owner="tests",
        cost_centre="cc-tests",
    )


def one(synth: Synthesis, name: str, type_token: str | None = None) -> Resource:
    """The one registration named `name` (of type `type_token`, if given)."""
    (found,) = [r for r in synth.resources
                if r.name == name and (type_token is None or r.type == type_token)]  # fmt: skip
    return found


def run_program(
    program: Callable[[], None], stack: str = "test", first_preview: bool = False
) -> Synthesis:
    """Run a small program (building one or two components) under the estate mocks."""
    config = {"aws:region": "eu-west-1"}
    return synthesize(stack, config, [], program=program, first_preview=first_preview)


@pytest.fixture(scope="session", autouse=True)
def _one_top_level_package() -> Iterator[None]:
    """After the whole run: nothing was imported as a top-level `components`, `stacks`, … (the
    repo root is on sys.path here, so a stray import would pass here and fail once installed)."""
    yield
    folders = {"components", "stacks", "policies", "app_services"}
    stray = sorted(name for name in sys.modules if name.split(".")[0] in folders)
    assert stray == [], f"imported outside the soundstack package: {stray}"
