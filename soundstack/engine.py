"""Run the pack in-process against a mocked `Synthesis`, as the Pulumi analyzer would.

Each resource becomes the `ResourceValidationArgs` pulumi-policy builds (type, props wrapped in
its unknown-checking proxy, URN, name, options, per-policy config, stack tags); the whole stack
becomes `StackValidationArgs` of `PolicyResource`s with parents, dependencies and property
dependencies resolved, plus the `pulumi:pulumi:Stack` resource whose props are the outputs.

Failures stay local: a policy that raises on one resource reports a violation of itself naming
that resource and the error, and every other resource and policy is still judged. A value that
is unknown (first preview) skips only what reads it, noted as an advisory "can't run during
preview" entry as the analyzer does.

`first_preview=True` evaluates a synthesis recorded with `synthesize(..., first_preview=True)`
as `pulumi preview` of a new stack would: properties decoded as pulumi-policy's analyzer decodes
them (through a protobuf Struct, so every number is a float), unknowns as its sentinels, and
stack policies seeing each resource's planned outputs (computed ones unknown).

Config uses Pulumi's `--policy-pack-config` format, read from `policies/config/<stack>.json`:
`{"all": "advisory", "<policy>": "disabled" | {"enforcementLevel": "...", "<prop>": value}}`.
`pack_config` picks it for any project's stack: a file the user names (`--policy-config`), else
the pack's config of the stack's name, else of its environment, else the pack's own levels.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from soundstack.policies import registry
from soundstack.policies.core import SKIPPED, crash_message
from soundstack.preview import Violation
from soundstack.stacks.loader import ConfigError
from soundstack.synth import Resource, Synthesis

CONFIG_DIR = Path(__file__).resolve().parent / "policies" / "config"


@dataclass(frozen=True)
class PolicySetting:
    level: EnforcementLevel
    properties: Mapping[str, Any]


def load_config(stack: str, config_dir: Path = CONFIG_DIR) -> dict[str, Any]:
    """The pack config of `stack` (`config/<stack>.json`), or {} when the stack has none."""
    path = config_dir / f"{stack}.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of policy name → level or settings")
    return data


def pack_config(
    stack: str,
    environment: str | None = None,
    path: Path | None = None,
    config_dir: Path = CONFIG_DIR,
) -> tuple[dict[str, Any], str]:
    """The pack config for a stack and where it came from: `path` when given (Pulumi's
    `--policy-pack-config` file), else `config/<stack>.json` (the bundled stacks' own), else
    `config/<environment>.json` (a stack of another project that is dev, staging or prod), else
    none: every policy at its default level."""
    if path is not None:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(
                str(path), [f"cannot read the policy config ({exc}); pass a JSON file of "
                            "policy name → level or settings, as `pulumi --policy-pack-config`"],
                "invalid policy config",
            ) from None  # fmt: skip
        if not isinstance(data, dict):
            raise ConfigError(str(path), ["expected a JSON object of policy name → level or "
                                          "settings"], "invalid policy config")  # fmt: skip
        return data, str(path)
    for name in (stack, environment):
        if name is not None and (config_dir / f"{name}.json").is_file():
            return load_config(name, config_dir), f"the pack's config for {name}"
    return {}, "the pack's default levels"


def settings_for(policy: Policy, config: Mapping[str, Any]) -> PolicySetting:
    """Enforcement level and properties of `policy`: its own entry, else `all`, else its
    default (mandatory when the policy sets none, as the pack does)."""
    level = policy.enforcement_level or EnforcementLevel.MANDATORY
    properties: dict[str, Any] = {}
    for key in ("all", policy.name):
        entry = config.get(key)
        if isinstance(entry, str):
            level = EnforcementLevel(entry)
        elif isinstance(entry, Mapping):
            if "enforcementLevel" in entry:
                level = EnforcementLevel(entry["enforcementLevel"])
            if key == policy.name:
                properties = {k: v for k, v in entry.items() if k != "enforcementLevel"}
    return PolicySetting(level, properties)


def _options(resource: Resource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )


def _props(values: Mapping[str, Any], first_preview: bool = False) -> Any:
    if not first_preview:
        # The proxy is built of new dicts and lists (the values in them are JSON scalars):
        # what a policy does to it never reaches the recorded inputs.
        return unknown_checking_proxy(dict(values))
    struct = struct_pb2.Struct()
    struct.update(dict(values))
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def stack_resources(
    synth: Synthesis,
    first_preview: bool = False,
    props: Mapping[str, Any] | None = None,
    options: Mapping[str, PolicyResourceOptions] | None = None,
) -> list[PolicyResource]:
    """The stack as `AnalyzeStack` sees it, the root `pulumi:pulumi:Stack` (outputs) included;
    in a first preview each resource's props are its planned outputs (computed ones unknown).
    `props` (not first preview) and `options`: each resource's (by URN) where the caller has
    them already."""
    project = synth.project
    root_urn = f"urn:pulumi:{synth.stack}::{project}::pulumi:pulumi:Stack::{project}-{synth.stack}"
    root = PolicyResource(
        "pulumi:pulumi:Stack",
        _props(synth.outputs, first_preview),
        root_urn,
        f"{project}-{synth.stack}",
        PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), []),
        None,
        None,
        [],
        {},
    )
    resources = [root]
    by_urn = {root_urn: root}
    for r in synth.resources:
        if first_preview:
            resource_props = _props({**r.inputs, **r.outputs}, first_preview)
        else:
            resource_props = props[r.urn] if props is not None else _props(r.inputs)
        policy_resource = PolicyResource(
            r.type,
            resource_props,
            r.urn,
            r.name,
            options[r.urn] if options is not None else _options(r),
            None,
            None,
            [],
            {},
        )
        resources.append(policy_resource)
        by_urn[r.urn] = policy_resource
    for r in synth.resources:
        resource = by_urn[r.urn]
        resource.parent = by_urn.get(r.parent) if r.parent else None
        resource.dependencies = [by_urn[d] for d in r.dependencies if d in by_urn]
        resource.property_dependencies = {
            prop: [by_urn[d] for d in deps if d in by_urn]
            for prop, deps in r.property_dependencies.items()
        }
    return resources


def evaluate(
    synth: Synthesis,
    config: Mapping[str, Any] | None = None,
    policies: Sequence[Policy] | None = None,
    first_preview: bool | None = None,
) -> list[Violation]:
    """Violations of the pack (or of `policies`) in `synth`, with `config` (default: the
    stack's `config/<stack>.json`); `first_preview` (default: how `synth` was recorded) is
    described in the module docstring."""
    first_preview = synth.first_preview if first_preview is None else first_preview
    config = load_config(synth.stack) if config is None else config
    policies = registry.policies() if policies is None else policies
    violations: list[Violation] = []
    stack_tags: dict[str, str] = {}
    props = {r.urn: _props(r.inputs, first_preview) for r in synth.resources}
    options = {r.urn: _options(r) for r in synth.resources}
    of_type: dict[str, list[int]] = {}
    for index, r in enumerate(synth.resources):
        of_type.setdefault(r.type, []).append(index)
    resources: list[PolicyResource] | None = None
    for policy in policies:
        setting = settings_for(policy, config)
        if setting.level == EnforcementLevel.DISABLED:
            continue
        level = "advisory" if setting.level == EnforcementLevel.ADVISORY else "mandatory"

        def report_at(urn: str, name: str = policy.name, lvl: str = level) -> Any:
            def report(message: str, at: str | None = None) -> None:
                violations.append(Violation(name, at or urn, lvl, message))

            return report

        def skipped(urn: str, message: str, name: str = policy.name) -> None:
            violations.append(
                Violation(name, urn, "advisory", f"can't run policy during preview: {message}")
            )

        token = SKIPPED.set(skipped)
        try:
            if isinstance(policy, ResourceValidationPolicy):
                types: frozenset[str] = getattr(policy, "resource_types", frozenset())
                checked = (
                    [
                        synth.resources[i]
                        for i in sorted(i for t in types for i in of_type.get(t, []))
                    ]
                    if types
                    else synth.resources
                )
                for r in checked:
                    args = ResourceValidationArgs(
                        r.type,
                        props[r.urn],
                        r.urn,
                        r.name,
                        options[r.urn],
                        None,
                        dict(setting.properties),
                        stack_tags,
                    )
                    _run(policy, args, report_at(r.urn), r.name, r.urn, skipped)
            elif isinstance(policy, StackValidationPolicy):
                resources = resources or stack_resources(synth, first_preview, props, options)
                args_stack = StackValidationArgs(resources, dict(setting.properties), stack_tags)
                _run(policy, args_stack, report_at(""), "the stack", "", skipped)
        finally:
            SKIPPED.reset(token)
    return violations


def _run(
    policy: Any,
    args: ResourceValidationArgs | StackValidationArgs,
    report: Any,
    subject: str,
    urn: str,
    skipped: Any,
) -> None:
    """Run one policy on one resource (or the stack), keeping any failure local to it."""
    try:
        policy.validate(args, report)
    except _NotApplicableError:
        return
    except UnknownValueError as exc:
        skipped(urn, exc.message)
    except Exception as exc:
        report(crash_message(subject, exc))


def levels(config: Mapping[str, Any], policies: Sequence[Policy] | None = None) -> dict[str, str]:
    """Effective enforcement level of each policy under `config` (for reports)."""
    policies = registry.policies() if policies is None else policies
    return {p.name: settings_for(p, config).level.value for p in policies}
