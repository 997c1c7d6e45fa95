"""Conventions every component and every registered resource keep, checked on whole stacks."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from soundstack.policies.schema import is_taggable

import components
from soundstack.components.base import REQUIRED_TAGS, Component

TOKEN = re.compile(r"^soundstack:[a-z_]+:[A-Z][A-Za-z0-9]+$")


def all_component_classes() -> list[type[Component]]:
    for info in pkgutil.iter_modules(components.__path__, "components."):
        importlib.import_module(info.name)
    found, todo = [], list(Component.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("components."):
            found.append(cls)
    return found


def test_every_component_has_a_three_segment_token_naming_its_module():
    classes = all_component_classes()
    assert len(classes) >= 2
    for cls in classes:
        assert TOKEN.match(cls.TYPE), cls
        assert cls.TYPE.split(":")[1] == cls.__module__.split(".")[-1], cls
        assert cls.TYPE.split(":")[2] == cls.__name__, cls


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_taggable_resource_carries_the_required_tags(request, stack):
    synth = request.getfixturevalue(stack)
    taggable = [r for r in synth.resources if is_taggable(r.type)]
    assert len(taggable) > 20
    for resource in taggable:
        tags = resource.inputs.get("tags") or {}
        missing = [k for k in REQUIRED_TAGS if not tags.get(k)]
        assert not missing, f"{resource.urn} lacks tags {missing}"
        assert tags["stack"] == stack


def test_taggable_is_read_from_the_sdk():
    assert is_taggable("aws:ec2/vpc:Vpc")
    assert not is_taggable("aws:ec2/routeTableAssociation:RouteTableAssociation")
    assert not is_taggable("soundstack:network:Network")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_cloud_resource_lives_under_a_component(request, stack):
    synth = request.getfixturevalue(stack)
    for resource in synth.resources:
        if resource.custom:
            owner = synth.component_of(resource)
            assert owner is not None, f"{resource.urn} is not parented to a component"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_child_names_are_prefixed_by_their_component(request, stack):
    synth = request.getfixturevalue(stack)
    by_urn = {r.urn: r for r in synth.resources}
    for resource in synth.resources:
        parent = by_urn.get(resource.parent or "")
        if parent is not None:
            assert resource.name.startswith(f"{parent.name}-"), resource.urn


#: Types whose `name` is not a stack-global physical name, and why.
NAME_SCOPED = {
    "aws:route53/record:Record": "a DNS name under the stack's own domain",
    "aws:apigatewayv2/stage:Stage": "unique within its API, which carries the stack name",
    "aws:glue/catalogTable:CatalogTable": "unique within its Glue database, named per stack",
    "aws:quicksight/dataSet:DataSet": "a display name; the data set id carries the stack name",
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_physical_names_carry_project_and_stack(request, stack):
    synth = request.getfixturevalue(stack)
    named = [
        r
        for r in synth.resources
        if r.custom and isinstance(r.inputs.get("name"), str) and r.type not in NAME_SCOPED
    ]
    assert len(named) > 50
    for resource in named:
        name = resource.inputs["name"]
        assert f"soundstack-{stack}-" in name or name.startswith(
            (f"/soundstack/{stack}/", f"alias/soundstack-{stack}-")
        ), resource.urn
