"""Shared fixtures: mocked runs of whole stacks (cached per session) and of small programs."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from soundstack.components.base import StackContext
from soundstack.synth import Synthesis, stack_values, synthesize, synthesize_stack

_CACHE: dict[str, Synthesis] = {}


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


def run_program(
    program: Callable[[], None], stack: str = "test", first_preview: bool = False
) -> Synthesis:
    """Run a small program (building one or two components) under the estate mocks."""
    config = {"aws:region": "eu-west-1"}
    return synthesize(stack, config, [], program=program, first_preview=first_preview)
