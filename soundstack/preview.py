"""The offline preview: what a stack would create, as a table or as one stable JSON document.

JSON format (version 1, relied on by CI and the insight commands; see README "Preview JSON"):

    {"stack": str,
     "resources": [{"urn", "type", "name", "parent", "inputs", "dependencies"}],
     "outputs": {name: value},
     "violations": [{"policy", "urn", "level", "message"}]}

`inputs` are the properties as registered (Pulumi's camelCase names) with every secret replaced
by "[secret]"; `parent` is a URN or null; `dependencies` lists URNs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from soundstack.synth import Synthesis


@dataclass(frozen=True)
class Violation:
    policy: str
    urn: str
    level: str  # "mandatory" or "advisory"
    message: str


def document(synth: Synthesis, violations: list[Violation]) -> dict[str, Any]:
    """The preview as the documented JSON document."""
    return {
        "stack": synth.stack,
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "inputs": r.masked_inputs,
                "dependencies": r.dependencies,
            }
            for r in synth.resources
        ],
        "outputs": synth.outputs,
        "violations": [
            {"policy": v.policy, "urn": v.urn, "level": v.level, "message": v.message}
            for v in violations
        ],
    }


def service_of(type_token: str) -> str:
    """`aws:ec2/vpc:Vpc` → `ec2`; `eks:index:Cluster` → `eks`; components keep their package."""
    package, module, _ = type_token.split(":")
    if package == "aws":
        return module.split("/")[0]
    if package == "kubernetes":
        return "k8s " + module.split("/")[0]
    return package


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*headers), line.format(*("-" * w for w in widths))]
    out += [line.format(*map(str, row)) for row in rows]
    return "\n".join(o.rstrip() for o in out)


def render(synth: Synthesis, violations: list[Violation]) -> str:
    """Human-readable preview: resources by component and AWS service, outputs, violations."""
    counts: Counter[tuple[str, str]] = Counter()
    for r in synth.resources:
        if r.type.startswith("soundstack:"):
            continue
        owner = synth.component_of(r)
        component = f"{owner.name} ({owner.type.split(':', 1)[1]})" if owner else "(none)"
        counts[(component, service_of(r.type))] += 1
    rows = [[c, s, str(n)] for (c, s), n in sorted(counts.items())]
    total = sum(counts.values())
    parts = [
        f"SoundStack offline preview of stack {synth.stack!r} (project {synth.project!r}): "
        f"{total} resources "
        f"in {len({c for c, _ in counts})} components (mocked; nothing was deployed)",
        "",
        _table(["component", "service", "resources"], rows),
        "",
        "Outputs:",
        _table(["name", "value"], [[k, _short(v)] for k, v in synth.outputs.items()]),
        "",
    ]
    mandatory = [v for v in violations if v.level == "mandatory"]
    if violations:
        parts.append(f"Policy violations ({len(mandatory)} mandatory, "
                     f"{len(violations) - len(mandatory)} advisory):")  # fmt: skip
        parts.append(_table(["level", "policy", "resource", "message"],
                            [[v.level, v.policy, v.urn.split("::")[-1], v.message]
                             for v in violations]))  # fmt: skip
    else:
        parts.append("Policy violations: none")
    return "\n".join(parts)


def _short(value: Any, width: int = 90) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
