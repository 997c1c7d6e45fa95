"""First-deploy plan: the dependency graph's critical path under typical AWS create times.

Each resource waits for its dependencies, for its explicit provider (a Kubernetes provider
exists only once its cluster does) and for its parent component's dependencies, which gate
everything built under it; a component finishes when all its children have. Create times
come from the dated table `data/create_times.json` (unknown types take its small default).
Assumes unlimited `pulumi up` parallelism and no API throttling, so the estimate is a floor.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from soundstack.insight.estate import Estate, dig, is_component, load_table
from soundstack.synth import Resource, Synthesis

TABLE = "create_times.json"


@dataclass(frozen=True)
class Step:
    resource: Resource
    component: str
    minutes: float  # its own create time
    finish: float  # minutes after the deploy starts


@dataclass
class Plan:
    stack: str
    total_minutes: float
    critical_path: list[Step]  # first to last
    slowest: list[Step]  # the slowest resources anywhere in the stack
    table: dict[str, Any]

    @property
    def serialising(self) -> list[Step]:
        """Critical-path resources that take real time (≥ 1 minute): these set the deploy time."""
        return [s for s in self.critical_path if s.minutes >= 1]


def create_minutes(r: Resource, table: dict[str, Any]) -> float:
    """Typical create time of `r` from the table (its `when` overrides first)."""
    if is_component(r):
        return float(table["component_minutes"])
    entry = table["types"].get(r.type)
    if entry is None:
        return float(table["default_minutes"])
    for path, value, minutes in entry.get("when", []):
        found = dig(r.inputs, *path.split("."))
        if (value == "*" and found) or (value != "*" and found == value):
            return float(minutes)
    return float(entry["minutes"])


def schedule(synth: Synthesis) -> tuple[dict[str, Step], dict[str, str | None]]:
    """Every resource's step by URN, and the predecessor that finished last before each."""
    estate = Estate(synth)
    table = load_table(TABLE)
    children: dict[str, list[str]] = defaultdict(list)
    for r in synth.resources:
        if r.parent in estate.by_urn:
            children[r.parent].append(r.urn)

    finish: dict[str, float] = {}
    cause: dict[str, str | None] = {}  # the predecessor that finished last
    gates: dict[str, tuple[float, str | None]] = {}

    def done(urn: str) -> float:
        """When `urn` (and, for a component, everything under it) has been created."""
        if urn in finish:
            return finish[urn]
        r = estate.by_urn[urn]
        finish[urn] = 0.0  # guards against cycles in malformed input
        start, before = gate(r)
        end, last = start + create_minutes(r, table), before
        if is_component(r):
            for child in children[urn]:
                if done(child) > end:
                    end, last = finish[child], child
        finish[urn], cause[urn] = end, last
        return end

    def gate(r: Resource) -> tuple[float, str | None]:
        """Start time of `r`: its dependencies' finish, and its parent component's gate."""
        if r.urn in gates:
            return gates[r.urn]
        start, last = 0.0, None
        provider = (r.provider or "").rpartition("::")[0]  # `<urn>::<id>`
        for dep in [*r.dependencies, provider]:
            if dep in estate.by_urn and dep != r.parent and done(dep) > start:
                start, last = finish[dep], dep
        parent = estate.by_urn.get(r.parent or "")
        if parent is not None:
            parent_start, parent_last = gate(parent)
            if parent_start > start:
                start, last = parent_start, parent_last
        gates[r.urn] = (start, last)
        return start, last

    for r in synth.resources:
        done(r.urn)
    steps = {
        r.urn: Step(r, estate.owner(r), create_minutes(r, table), finish[r.urn])
        for r in synth.resources
    }
    return steps, cause


def build(synth: Synthesis) -> Plan:
    """The critical path of a first `pulumi up` of `synth`."""
    table = load_table(TABLE)
    steps, cause = schedule(synth)
    custom = [s for s in steps.values() if not is_component(s.resource)]
    if not custom:
        return Plan(synth.stack, 0.0, [], [], table)
    end = max(custom, key=lambda s: (s.finish, s.minutes))
    path: list[Step] = []
    urn: str | None = end.resource.urn
    while urn is not None:
        step = steps[urn]
        if not is_component(step.resource):
            path.append(step)
        urn = cause.get(urn)
    slowest = sorted(custom, key=lambda s: (-s.minutes, s.resource.name))[:5]
    return Plan(synth.stack, end.finish, path[::-1], slowest, table)


def render(plan: Plan) -> str:
    lines = [
        f"Estimated first deploy of stack {plan.stack!r}: ~{plan.total_minutes:.0f} min "
        f"(typical AWS create times of {plan.table['date']}; unlimited parallelism assumed).",
        "",
        "Critical path (start → finish):",
    ]
    for s in plan.critical_path:
        lines.append(f"  {s.finish - s.minutes:6.1f} → {s.finish:6.1f} min  {s.minutes:5.1f}  "
                     f"{s.resource.name}  [{s.resource.type}]  ({s.component})")  # fmt: skip
    names = ", ".join(f"{s.resource.name} ({s.minutes:g} min)" for s in plan.serialising)
    lines += ["", f"Serialised by: {names or 'nothing slower than a minute'}", "",
              "Slowest resources anywhere:"]  # fmt: skip
    lines += [
        f"  {s.minutes:5.1f} min  {s.resource.name}  [{s.resource.type}]" for s in plan.slowest
    ]
    return "\n".join(lines)
