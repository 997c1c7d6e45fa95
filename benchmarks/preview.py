"""Benchmark: the full prod preview (synthesis + policy evaluation) against its floor.

The floor replays the very registrations the prod preview recorded as raw
`pulumi.CustomResource(type, name, inputs)` / `pulumi.ComponentResource` calls (same parents)
under the same mocks: the cost of registering that many resources, without the components'
own work (validation, naming, grants, policy documents) and without the policies.

A second floor replays them through the providers' typed classes (`aws.s3.Bucket`, ...), as
every program registers them: each class also resolves its output-only properties (`arn`,
`id`, ...), an Output apiece that the raw replay does not make. The difference between the two
floors is what the provider SDKs cost, not the components.

Policies are evaluated in-process with `soundstack.engine.evaluate(synthesis)`.

    .venv/bin/python benchmarks/preview.py [--stack prod] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import time
from collections.abc import Callable
from typing import Any

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


#: Python packages of the provider SDKs whose typed classes the typed floor uses.
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


def typed_replay(resources: list[Resource]) -> Callable[[], None]:
    """`replay`, through the providers' typed classes: each registers its output-only
    properties too, as the class's own constructor would."""

    def program() -> None:
        made: dict[str, pulumi.Resource] = {}
        for r in resources:
            opts = pulumi.ResourceOptions(parent=made.get(r.parent or ""))
            cls = typed_class(r.type) if r.custom else None
            if cls is not None:
                props: dict[str, Any] = dict(r.inputs)
                for _, name, _ in _types._py_properties(cls):  # type: ignore[arg-type]
                    props.setdefault(name, None)
                made[r.urn] = resource = cls.__new__(cls)
                pulumi.CustomResource.__init__(resource, r.type, r.name, props, opts)
            elif r.custom:
                made[r.urn] = pulumi.CustomResource(r.type, r.name, dict(r.inputs), opts)
            else:
                made[r.urn] = pulumi.ComponentResource(r.type, r.name, None, opts)

    return program


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """Fastest wall time of `repeat` runs of `work`, and the last result. Each run starts with
    the previous runs' garbage collected and runs with the collector paused, as the `soundstack`
    project commands run (soundstack/cli.py)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        gc.collect()
        with collector_paused():
            start = time.perf_counter()
            result = work()
            best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--stack", default="prod")
    args.add_argument("--repeat", type=int, default=3)
    opts = args.parse_args()

    def preview() -> Synthesis:
        synth = synthesize_stack(opts.stack)
        evaluate(synth)
        return synth

    full, synth = best_of(opts.repeat, preview)
    config, secret = stack_values(opts.stack)
    program = replay(synth.resources)
    floor, replayed = best_of(
        opts.repeat, lambda: synthesize(opts.stack, config, secret, program=program)
    )
    if len(replayed.resources) != len(synth.resources):
        raise SystemExit(
            f"replay registered {len(replayed.resources)} resources, "
            f"the preview {len(synth.resources)}"
        )
    print(f"stack {opts.stack}: {len(synth.resources)} registrations, best of {opts.repeat}")
    print(f"  full preview (synthesis + policies): {full:.3f} s")
    synthesis, _ = best_of(opts.repeat, lambda: synthesize_stack(opts.stack))
    print(f"    synthesis: {synthesis:.3f} s")
    policies, _ = best_of(opts.repeat, lambda: evaluate(synth))
    print(f"    policy evaluation: {policies:.3f} s")
    as_json, _ = best_of(opts.repeat, lambda: json.dumps(document(synth, [])))
    print(f"    JSON document (preview --json, not in the full figure): {as_json:.3f} s")
    calls = sorted(synth.invokes.items())
    invokes = ", ".join(f"{tok.rsplit(':', 1)[-1]} x{n}" for tok, n in calls)
    print(f"  data-source invokes: {sum(synth.invokes.values())} ({invokes})")
    typed, _ = best_of(
        opts.repeat,
        lambda: synthesize(opts.stack, config, secret, program=typed_replay(synth.resources)),
    )
    made = {
        "full": outputs_made(lambda: synthesize_stack(opts.stack)),
        "raw": outputs_made(lambda: synthesize(opts.stack, config, secret, program=program)),
        "typed": outputs_made(
            lambda: synthesize(opts.stack, config, secret, program=typed_replay(synth.resources))
        ),
    }
    print(f"  floor (same registrations replayed raw under the same mocks): {floor:.3f} s")
    print(f"  ratio: {full / floor:.2f}x")
    print(f"  typed floor (replayed through the providers' classes): {typed:.3f} s")
    print(f"  ratio to the typed floor: {full / typed:.2f}x")
    print(
        f"  Outputs made: preview {made['full']:,}, raw floor {made['raw']:,}, "
        f"typed floor {made['typed']:,}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
