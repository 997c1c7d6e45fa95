"""The planted-misconfiguration program, judged offline and as a first preview: every planted
misconfiguration is reported on its resource, no compliant twin is, and a first preview's
unknowns hide nothing but what they make unknowable."""

from __future__ import annotations

import copy

import pytest
from pulumi_policy import ResourceValidationPolicy

from soundstack.engine import evaluate
from soundstack.policies import registry
from soundstack.preview import Violation
from soundstack.synth import Synthesis
from tests.conftest import run_program
from tests.policies import planted

MODES = {"offline": False, "first-preview": True}


@pytest.fixture(scope="module", params=list(MODES))
def judged(request) -> tuple[Synthesis, list[Violation]]:
    synth = run_program(planted.program, stack="prod", first_preview=MODES[request.param])
    return synth, evaluate(synth, {})


def _by_resource(violations: list[Violation], level: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for v in violations:
        if v.level == level:
            found.setdefault(v.urn.split("::")[-1], set()).add(v.policy)
    return found


@pytest.mark.parametrize("resource", sorted(planted.EXPECTED))
def test_every_planted_misconfiguration_is_reported_on_its_resource(judged, resource):
    _, violations = judged
    found = _by_resource(violations, "mandatory").get(resource, set())
    assert planted.EXPECTED[resource] - found == set()


@pytest.mark.parametrize("resource", sorted(planted.CLEAN))
def test_compliant_twins_are_not_reported(judged, resource):
    _, violations = judged
    found = _by_resource(violations, "mandatory").get(resource, set())
    assert found & planted.CLEAN[resource] == set()


def test_the_program_registers_every_named_resource(judged):
    synth, _ = judged
    names = {r.name for r in synth.resources}
    assert set(planted.EXPECTED) | set(planted.CLEAN) <= names
    assert synth.errors == []


def test_a_first_preview_skips_only_what_is_unknown():
    synth = run_program(planted.program, stack="prod", first_preview=True)
    skipped = {
        (v.policy, v.urn.split("::")[-1])
        for v in evaluate(synth, {})
        if v.message.startswith("can't run policy during preview")
    }
    # the good bucket's TLS policy is built from its ARN: unknowable, so skipped, not failed
    assert ("s3-tls-only", "good-bucket") in skipped
    # a KMS key ARN unknown until deploy is still a key that is set: judged, not skipped
    assert {("sqs-encrypted", "queue"), ("secrets-cmk", "secret")} & skipped == set()
    # nothing planted is skipped: each verdict rests on known values
    assert {(p, r) for r, ps in planted.EXPECTED.items() for p in ps} & skipped == set()
    policy = next(r for r in synth.resources if r.name == "good-bucket-policy")
    assert policy.inputs["policy"] == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def test_skipping_resources_of_other_types_changes_no_verdict(judged):
    """The engine skips the resource types a policy does not check; run on every resource
    instead (as the analyzer does), each policy reports exactly the same."""
    synth, violations = judged
    typed = registry.policies()
    assert any(getattr(p, "resource_types", None) for p in typed)
    untyped = [
        ResourceValidationPolicy(
            name=p.name,
            description=p.description,
            validate=p.validate,
            enforcement_level=p.enforcement_level,
        )
        if isinstance(p, ResourceValidationPolicy)
        else p
        for p in typed
    ]
    assert not any(getattr(p, "resource_types", None) for p in untyped)
    assert sorted(evaluate(synth, {}, untyped), key=repr) == sorted(violations, key=repr)


def test_a_policy_writing_to_its_props_changes_no_recorded_input(judged):
    """Policies share each resource's props; what one writes stays out of `synth.resources`."""
    synth, _ = judged
    before = copy.deepcopy([(r.inputs, r.masked_inputs) for r in synth.resources])

    def scribble(args, report) -> None:
        tags = args.props.get("tags")
        if tags is not None:
            tags["scribbled"] = "yes"
        for key in list(args.props):
            args.props[key] = "scribbled"

    vandal = ResourceValidationPolicy(name="vandal", description="writes", validate=scribble)
    evaluate(synth, {}, [vandal])
    assert [(r.inputs, r.masked_inputs) for r in synth.resources] == before
