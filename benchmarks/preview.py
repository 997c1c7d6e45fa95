"""Benchmark: the full prod preview (synthesis + policy evaluation) against two floors.

Both floors replay the very registrations the prod preview recorded, under the same mocks,
without the components' own work (validation, naming, grants, policy documents, exports) and
without the policies:

- the program floor, as a program without components would make them: through the providers'
  classes (`aws.s3.Bucket(...)`, which also resolve their output-only properties and add their
  aliases), each after what it depends on, with the same property dependencies and
  `depends_on` (checked: the replay registers exactly what the preview did);
- the raw floor, as bare `pulumi.CustomResource(type, name, inputs)` calls with resolved
  values: no provider classes and no dependencies (the floor issue 16 first measured).

Each round runs the preview and both floors in turn; the figures are the best of the rounds
(the speed of this shared 2-core machine drifts by a quarter from run to run). Policies are
evaluated in-process with `soundstack.engine.evaluate(synthesis)`.

    .venv/bin/python benchmarks/preview.py [--stack prod] [--repeat 7]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import pulumi
from pulumi import _types

from soundstack.cli import collector_paused
from soundstack.engine import evaluate
from soundstack.preview import document
from soundstack.synth import (
    Resource,
    Synthesis,
    outputs_made,
    stack_values,
    synthesize,
    synthesize_stack,
)


def replay(resources: list[Resource]) -> Callable[[], None]:
    """A program registering `resources` directly, with their recorded inputs and parents."""

    def program() -> None:
        made: dict[str, pulumi.Resource] = {}
        for r in resources:
            opts = pulumi.ResourceOptions(parent=made.get(r.parent or ""))
            if r.custom:
                made[r.urn] = pulumi.CustomResource(r.type, r.name, dict(r.inputs), opts)
            else:
                made[r.urn] = pulumi.ComponentResource(r.type, r.name, None, opts)

    return program


#: Issue 16's bound on the full preview against the program floor (README: why that floor).
TARGET_RATIO = 1.3

#: Python packages of the provider SDKs whose classes the program floor uses.
SDKS = {"aws": "pulumi_aws", "kubernetes": "pulumi_kubernetes"}


def typed_class(token: str) -> type[pulumi.CustomResource] | None:
    """The provider SDK class registering `token` (`aws:s3/bucket:Bucket`: `aws.s3.Bucket`;
    `kubernetes:apps/v1:Deployment`: `kubernetes.apps.v1.Deployment`), None for others."""
    package, module, name = token.split(":")
    if package not in SDKS:
        return None
    group, _, version = module.partition("/")
    if package == "kubernetes":
        path = [group.split(".")[0], version]
    else:
        path = [] if group == "index" else [group + "_" if group == "lambda" else group]
    found = getattr(importlib.import_module(".".join([SDKS[package], *path])), name, None)
    return found if isinstance(found, type) and issubclass(found, pulumi.CustomResource) else None


def _program_order(resources: list[Resource]) -> list[Resource]:
    """`resources` with each one after its parent and after what it depends on, the order a
    program has to create them in (the recorded order is sorted by URN)."""
    by_urn = {r.urn: r for r in resources}
    done: set[str] = set()
    ordered: list[Resource] = []
    for resource in resources:
        todo = [(resource, False)]
        while todo:
            node, ready = todo.pop()
            if node.urn in done:
                continue
            if ready:
                done.add(node.urn)
                ordered.append(node)
                continue
            todo.append((node, True))
            for urn in (node.parent, *node.dependencies):
                if urn in by_urn and urn not in done:
                    todo.append((by_urn[urn], False))
    return ordered


def _asset(value: Any) -> Any:
    """A recorded asset (`{"asset": "FileArchive", "path": ...}`: the recording keeps no
    content) as an asset of its class again, which the providers' classes require; an
    `AssetArchive` comes back empty, so the floor serialises less than the preview did."""
    if isinstance(value, dict) and set(value) == {"asset", "path"}:
        cls = getattr(pulumi, str(value["asset"]))
        return cls({}) if cls is pulumi.AssetArchive else cls(value["path"])
    return value


def _computed_from(resources: list[pulumi.Resource], value: Any) -> pulumi.Output[Any]:
    """`value` as an input computed from `resources`' outputs: known once they have registered,
    carrying them as its dependencies (one Output, like `bucket.arn` passed on as it is)."""

    async def registered() -> Any:
        for resource in resources:
            await resource.urn.future()
        return value

    async def known() -> bool:
        return True

    return pulumi.Output(set(resources), registered(), known())


def _py_names(cls: type) -> dict[str, str]:
    """A provider class's Python name of each property, by its wire name (`bucketPrefix`:
    `bucket_prefix`)."""
    return {wire: py for py, wire, _ in _types._py_properties(cls)}


def _output_named(recorded: Resource, value: Any) -> str | None:
    """The attribute of `recorded`'s resource object that is an Output with value `value`, as
    a program passes `bucket.arn` on (`id`, or a provider class's output property); None when
    no single output of it has that value."""
    if not recorded.custom:
        return None
    if value == recorded.id:
        return "id"
    cls = typed_class(recorded.type)
    if cls is None:
        return None
    names = _py_names(cls)
    for key, output in recorded.outputs.items():
        if output == value and isinstance(getattr(cls, names.get(key, ""), None), property):
            return names[key]
    return None


class _Registration(NamedTuple):
    """What `program_replay` registers for one recorded resource, worked out before the run:
    the class and keyword arguments, and each property computed from other resources."""

    resource: Resource
    cls: type[pulumi.CustomResource] | None
    inputs: dict[str, Any]
    #: (argument, dependencies' URNs, the dependency's attribute passed on or None)
    computed: list[tuple[str, list[str], str | None]]
    depends_on: list[str]


def _plan(r: Resource, by_urn: dict[str, Resource]) -> _Registration:
    cls = typed_class(r.type) if r.custom else None
    names = _py_names(cls) if cls is not None else {}
    inputs = {names.get(k, k): _asset(v) for k, v in r.inputs.items()}
    computed = []
    through_inputs: set[str] = set()
    for prop, urns in r.property_dependencies.items():
        if urns and prop in r.inputs:
            single = _output_named(by_urn[urns[0]], r.inputs[prop]) if len(urns) == 1 else None
            computed.append((names.get(prop, prop), urns, single))
            through_inputs.update(urns)
    depends_on = [u for u in r.dependencies if u not in through_inputs]
    return _Registration(r, cls, inputs, computed, depends_on)


def program_replay(resources: list[Resource]) -> Callable[[], None]:
    """The same registrations as a program without components would make them: through the
    providers' classes (`aws.s3.Bucket(name, bucket=..., opts=...)`: their argument handling
    and aliases included; pulumi-eks's cluster as the remote component it is), each after its
    parent and its dependencies, each property computed from other resources an Output of
    theirs (the very output when the value is one, else an Output computed from them), the rest
    of its dependencies `depends_on`. What the components add on top of this is their own work:
    validation, naming, grants, documents, exports. Everything about the recording is worked
    out before the program runs: it only makes the registrations."""
    by_urn = {r.urn: r for r in resources}
    plans = [_plan(r, by_urn) for r in _program_order(resources)]

    def program() -> None:
        made: dict[str, pulumi.Resource] = {}
        for plan in plans:
            r = plan.resource
            opts = pulumi.ResourceOptions(parent=made.get(r.parent or ""))
            if not r.custom and not r.inputs:
                made[r.urn] = pulumi.ComponentResource(r.type, r.name, None, opts)
                continue
            inputs = dict(plan.inputs)
            for name, urns, passed_on in plan.computed:
                inputs[name] = (
                    getattr(made[urns[0]], passed_on)
                    if passed_on
                    else _computed_from([made[u] for u in urns], inputs[name])
                )
            opts.depends_on = [made[u] for u in plan.depends_on]
            if plan.cls is not None:
                made[r.urn] = plan.cls(r.name, opts=opts, **inputs)
            elif r.custom:
                made[r.urn] = pulumi.CustomResource(r.type, r.name, inputs, opts)
            else:
                made[r.urn] = pulumi.ComponentResource(r.type, r.name, inputs, opts, remote=True)

    return program


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of one run of `work` and its result: the previous runs' garbage collected
    first, the collector paused during it, as the `soundstack` project commands run
    (soundstack/cli.py)."""
    gc.collect()
    with collector_paused():
        start = time.perf_counter()
        result = work()
        return time.perf_counter() - start, result


def best_of(repeat: int, **works: Callable[[], Any]) -> dict[str, float]:
    """Fastest time of each of `works` over `repeat` rounds, each round running every one of
    them in turn: a machine that slows down for a while slows all of them alike."""
    best = dict.fromkeys(works, float("inf"))
    for _ in range(repeat):
        for name, work in works.items():
            best[name] = min(best[name], timed(work)[0])
    return best


def same_registrations(replayed: Synthesis, synth: Synthesis, what: str) -> None:
    """Stop unless `replayed` registered what `synth` did (type, parent, inputs, dependencies)."""
    by_urn = {r.urn: r for r in replayed.resources}
    keys = ("type", "custom", "parent", "inputs", "dependencies", "property_dependencies")
    for r in synth.resources:
        other = by_urn.get(r.urn)
        differs = [k for k in keys if other is None or getattr(other, k) != getattr(r, k)]
        if differs:
            raise SystemExit(f"{what} registered {r.urn} differently: {', '.join(differs)}")
    if len(by_urn) != len(synth.resources):
        raise SystemExit(f"{what} registered {len(by_urn)} resources, not {len(synth.resources)}")


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--stack", default="prod")
    args.add_argument("--repeat", type=int, default=7)
    opts = args.parse_args()
    stack = opts.stack

    synth = synthesize_stack(stack)
    config, secret = stack_values(stack)
    raw, program = replay(synth.resources), program_replay(synth.resources)
    same_registrations(timed(lambda: synthesize(stack, config, secret, program=program))[1],
                       synth, "the program floor")  # fmt: skip
    works = {
        "full": lambda: evaluate(synthesize_stack(stack)),
        "raw": lambda: synthesize(stack, config, secret, program=raw),
        "program": lambda: synthesize(stack, config, secret, program=program),
        "synthesis": lambda: synthesize_stack(stack),
        "policies": lambda: evaluate(synth),
        "json": lambda: json.dumps(document(synth, [])),
    }
    best = best_of(opts.repeat, **works)
    made = {name: outputs_made(works[name]) for name in ("full", "raw", "program")}
    calls = sorted(synth.invokes.items())
    invokes = ", ".join(f"{tok.rsplit(':', 1)[-1]} x{n}" for tok, n in calls)
    print(f"stack {stack}: {len(synth.resources)} registrations, best of {opts.repeat} rounds")

    print(f"  full preview (synthesis + policies): {best['full']:.3f} s")
    print(f"    synthesis: {best['synthesis']:.3f} s")
    print(f"    policy evaluation: {best['policies']:.3f} s")
    print(f"    JSON document (preview --json, not in the full figure): {best['json']:.3f} s")
    print(f"  data-source invokes: {sum(synth.invokes.values())} ({invokes})")
    for name, label, target in (
        ("program", "program floor (the same registrations, dependencies and provider classes)",
         f" (target <= {TARGET_RATIO}x)"),
        ("raw", "raw floor (the same registrations as bare CustomResource calls, no dependencies)",
         ""),
    ):  # fmt: skip
        print(f"  {label}: {best[name]:.3f} s, ratio {best['full'] / best[name]:.2f}x{target}")
    print(f"  Outputs made: preview {made['full']:,}, program floor {made['program']:,}, "
          f"raw floor {made['raw']:,}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
