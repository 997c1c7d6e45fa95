"""Run one policy of the pack on hand-made inputs, in the shapes the analyzer passes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from soundstack.policies.registry import policies

POLICIES: dict[str, Any] = {p.name: p for p in policies()}
OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def urn(type_token: str, name: str) -> str:
    return f"urn:pulumi:test::soundstack::{type_token}::{name}"


def check_resource(
    policy: str, type_token: str, props: Mapping[str, Any], config: Mapping | None = None
) -> list[str]:
    """Messages `policy` reports for one resource."""
    found: list[str] = []
    args = ResourceValidationArgs(
        type_token,
        unknown_checking_proxy(dict(props)),
        urn(type_token, "r"),
        "r",
        OPTIONS,
        None,
        dict(config or {}),
    )
    POLICIES[policy].validate(args, lambda message, _urn=None: found.append(message))
    return found


class Stack:
    """A hand-built stack: `add` resources, naming which other resources a property came from."""

    def __init__(self) -> None:
        self.resources: list[PolicyResource] = []

    def add(
        self,
        type_token: str,
        name: str,
        props: Mapping[str, Any],
        refs: Mapping[str, Sequence[PolicyResource]] | None = None,
        depends_on: Sequence[PolicyResource] = (),
    ) -> PolicyResource:
        """`refs`: the resources each property came from; the resource's dependencies are
        those and `depends_on`, as the engine reports them."""
        property_dependencies = {k: list(v) for k, v in (refs or {}).items()}
        dependencies = {r.urn: r for deps in property_dependencies.values() for r in deps}
        dependencies.update((r.urn, r) for r in depends_on)
        resource = PolicyResource(
            type_token,
            unknown_checking_proxy(dict(props)),
            urn(type_token, name),
            name,
            OPTIONS,
            None,
            None,
            list(dependencies.values()),
            property_dependencies,
        )
        self.resources.append(resource)
        return resource

    def check(self, policy: str, config: Mapping | None = None) -> list[tuple[str, str]]:
        """(resource name or '', message) of each violation `policy` reports."""
        found: list[tuple[str, str]] = []

        def report(message: str, at: str | None = None) -> None:
            found.append(((at or "").split("::")[-1], message))

        POLICIES[policy].validate(StackValidationArgs(self.resources, dict(config or {})), report)
        return found


LEVELS_FILE = Path(__file__).resolve().parents[2] / "policies" / "levels.txt"


def pinned_levels() -> dict[str, dict[str, str]]:
    """`policies/levels.txt` as {stack: {policy: level}} (the pinned contract)."""
    lines = [line.split() for line in LEVELS_FILE.read_text().splitlines() if line.strip()]
    header = next(line for line in lines if line[:2] == ["#", "policy"])[2:]
    table: dict[str, dict[str, str]] = {stack: {} for stack in header}
    for row in lines:
        if row[0].startswith("#"):
            continue
        assert len(row) == len(header) + 1, f"levels.txt row {row}: one level per stack {header}"
        for stack, level in zip(header, row[1:], strict=True):
            table[stack][row[0]] = level
    return table
