"""Enforcement levels are part of the contract: `policies/levels.txt` pins every policy's level
per stack, and the pack with `policies/config/<stack>.json` must produce exactly that."""

from __future__ import annotations

import copy

import pytest
from soundstack.engine import CONFIG_DIR, evaluate, levels, load_config

from soundstack import cli
from soundstack.policies.registry import specs
from tests.policies.helpers import pinned_levels

PINNED = pinned_levels()


def test_every_policy_of_the_pack_has_exactly_one_row():
    names = {spec.name for spec in specs()}
    for stack, table in PINNED.items():
        missing, extra = sorted(names - set(table)), sorted(set(table) - names)
        assert not missing, f"add a row to policies/levels.txt for {missing}"
        assert not extra, f"policies/levels.txt names policies the pack lacks: {extra} ({stack})"


def test_every_stack_config_has_a_column():
    configured = {path.stem for path in CONFIG_DIR.glob("*.json")}
    assert configured <= set(PINNED), f"add a column to policies/levels.txt for {configured}"


@pytest.mark.parametrize("stack", sorted(PINNED))
def test_pack_and_stack_config_give_the_pinned_levels(stack):
    effective = levels(load_config(stack))
    changed = {
        name: f"{PINNED[stack][name]} → {level}"
        for name, level in effective.items()
        if PINNED[stack].get(name) != level
    }
    assert changed == {}, f"{stack}: levels differ from policies/levels.txt"


def test_a_publicly_accessible_database_fails_the_prod_preview(prod, monkeypatch, capsys):
    assert [v for v in evaluate(prod) if v.level == "mandatory"] == []
    public = copy.deepcopy(prod)
    db = next(r for r in public.resources if r.type == "aws:rds/instance:Instance")
    db.inputs["publiclyAccessible"] = True
    monkeypatch.setattr(cli, "synthesize_stack", lambda *_a, **_k: public)
    assert cli.main(["preview", "prod"]) == 1
    out = capsys.readouterr().out
    assert "mandatory  rds-not-public" in out
    mandatory = {(v.policy, v.urn) for v in evaluate(public) if v.level == "mandatory"}
    assert mandatory == {("rds-not-public", db.urn)}
