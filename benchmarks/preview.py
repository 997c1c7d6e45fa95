"""Benchmark: the full prod preview (synthesis + policy evaluation) against its floor.

The floor replays the very registrations the prod preview recorded as raw
`pulumi.CustomResource(type, name, inputs)` / `pulumi.ComponentResource` calls (same parents)
under the same mocks: the cost of registering that many resources, without the components'
own work (validation, naming, grants, policy documents) and without the policies.

Policies are evaluated with `policies.engine.evaluate(synthesis)` when the policy pack provides
it; otherwise only the synthesis is timed and the output says so.

    .venv/bin/python benchmarks/preview.py [--stack prod] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from collections.abc import Callable
from typing import Any

import pulumi

from soundstack.preview import document
from soundstack.synth import Resource, Synthesis, stack_values, synthesize, synthesize_stack


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


def policy_evaluator() -> Callable[[Synthesis], Any] | None:
    """`policies.engine.evaluate` if the policy pack offers it."""
    try:
        engine = importlib.import_module("soundstack.engine")
    except ImportError:
        return None
    evaluate = getattr(engine, "evaluate", None)
    return evaluate if callable(evaluate) else None


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """Fastest wall time of `repeat` runs of `work`, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--stack", default="prod")
    args.add_argument("--repeat", type=int, default=3)
    opts = args.parse_args()

    evaluate = policy_evaluator()

    def preview() -> Synthesis:
        synth = synthesize_stack(opts.stack)
        if evaluate is not None:
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
    what = "synthesis + policies" if evaluate else "synthesis only (no policies/engine.py yet)"
    print(f"stack {opts.stack}: {len(synth.resources)} registrations, best of {opts.repeat}")
    print(f"  full preview ({what}): {full:.3f} s")
    synthesis, _ = best_of(opts.repeat, lambda: synthesize_stack(opts.stack))
    print(f"    synthesis: {synthesis:.3f} s")
    if evaluate is not None:
        policies, _ = best_of(opts.repeat, lambda: evaluate(synth))
        print(f"    policy evaluation: {policies:.3f} s")
    as_json, _ = best_of(opts.repeat, lambda: json.dumps(document(synth, [])))
    print(f"    JSON document (preview --json, not in the full figure): {as_json:.3f} s")
    calls = sorted(synth.invokes.items())
    invokes = ", ".join(f"{tok.rsplit(':', 1)[-1]} x{n}" for tok, n in calls)
    print(f"  data-source invokes: {sum(synth.invokes.values())} ({invokes})")
    print(f"  floor (same registrations replayed raw under the same mocks): {floor:.3f} s")
    print(f"  ratio: {full / floor:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
