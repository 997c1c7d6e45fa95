"""A read-only view of a `Synthesis` shared by the insight commands: owners, edges, settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import Any

from soundstack.synth import Resource, Synthesis

#: Owner of resources registered outside any SoundStack component.
STACK_OWNER = "(stack)"


def load_table(name: str) -> dict[str, Any]:
    """A dated data table shipped in `soundstack/insight/data/`."""
    text = resources.files("soundstack.insight").joinpath("data", name).read_text()
    table: dict[str, Any] = json.loads(text)
    return table


def is_component(resource: Resource) -> bool:
    return resource.type.startswith("soundstack:")


@dataclass
class Estate:
    """Indexes over one synthesis: resources by URN, each resource's owning component."""

    synth: Synthesis

    @cached_property
    def by_urn(self) -> dict[str, Resource]:
        return {r.urn: r for r in self.synth.resources}

    @cached_property
    def owners(self) -> dict[str, str]:
        """URN → name of the outermost SoundStack component above it (`Synthesis.component_of`)."""
        found: dict[str, str] = {}
        for r in self.synth.resources:
            owner = self.synth.component_of(r)
            found[r.urn] = owner.name if owner is not None else STACK_OWNER
        return found

    @cached_property
    def components(self) -> dict[str, Resource]:
        """Top-level components by name, in registration order."""
        return {
            r.name: r
            for r in self.synth.resources
            if is_component(r) and self.owners[r.urn] == r.name
        }

    def owner(self, resource: Resource) -> str:
        return self.owners[resource.urn]

    def custom(self) -> Iterator[Resource]:
        """Every cloud resource (component resources excluded)."""
        return (r for r in self.synth.resources if r.custom and not is_component(r))

    @property
    def environment(self) -> str:
        """The stack's environment (its `environment` output, else the stack name)."""
        return str(self.synth.outputs.get("environment") or self.synth.stack)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested inputs as `{"a.b[0].c": leaf}`; empty containers are kept as leaves."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{i}]"))
        return out
    if isinstance(value, str) and value[:1] in "{[":
        try:
            parsed = json.loads(value)  # policy documents and other JSON strings
        except ValueError:
            return {prefix: value}
        if isinstance(parsed, dict | list):
            return flatten(parsed, prefix)
    return {prefix: value}


def dig(inputs: dict[str, Any], *path: str, default: Any = None) -> Any:
    """`inputs[path[0]][path[1]]…`, tolerating missing keys and one-element lists."""
    node: Any = inputs
    for key in path:
        if isinstance(node, list):
            node = node[0] if node else None
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return default if node is None else node
