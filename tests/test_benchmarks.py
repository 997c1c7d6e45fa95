"""benchmarks/preview.py's floors replay what a preview registered: the program floor exactly
(same inputs, parents and dependencies), so its figure is the cost of that very graph."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from soundstack.synth import Synthesis, stack_values, synthesize

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_preview", ROOT / "benchmarks/preview.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _replayed(bench: ModuleType, synth: Synthesis, make: str) -> Synthesis:
    config, secret = stack_values(synth.stack)
    return synthesize(synth.stack, config, secret, program=getattr(bench, make)(synth.resources))


def test_the_program_floor_registers_exactly_what_the_preview_did(bench, staging):
    replayed = _replayed(bench, staging, "program_replay")
    bench.same_registrations(replayed, staging, "program floor")  # exits on any difference
    assert any(r.property_dependencies.get("role") for r in replayed.resources)


def test_the_raw_floor_drops_the_dependencies_and_the_check_sees_it(bench, staging):
    replayed = _replayed(bench, staging, "replay")
    assert len(replayed.resources) == len(staging.resources)
    with pytest.raises(SystemExit, match=r"registered .* differently: dependencies"):
        bench.same_registrations(replayed, staging, "raw floor")
