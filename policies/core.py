"""Shared machinery of the pack: a `Spec` per policy (controls, level, config), and helpers that
read pulumi-aws properties the way the policy engine passes them.

Props arrive as read-only Mappings/Sequences (pulumi-policy's unknown-checking proxies), never
plain dicts or lists, so every helper here tests `Mapping`/`Sequence`, not `dict`/`list`.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

#: Framework prefixes a control reference may carry (see ../shared/CONTROLS.md).
FRAMEWORKS = {
    "FSBP": "AWS Foundational Security Best Practices",
    "CIS": "CIS AWS Foundations Benchmark v3.0.0",
    "PCI": "PCI DSS v4.0.1",
    "custom": "SoundStack custom control (no published control)",
}

#: Config property every environment-scoped policy takes: the environments it applies to.
ENVIRONMENTS_PROPERTY = {
    "type": "array",
    "items": {"type": "string"},
    "default": ["prod"],
    "description": "environments (the resource's `environment` tag) the rule applies to",
}

#: Where a stack policy's per-resource skip (an unknown value during preview) is noted: the
#: offline engine sets a callback `(urn, message)`; under the real analyzer nothing listens, and a
#: skipped resource is simply not judged (the others still are).
SKIPPED: ContextVar[Callable[[str, str], None] | None] = ContextVar("skipped", default=None)

ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation, "Settings"], None]
StackCheck = Callable[[StackValidationArgs, ReportViolation, "Settings"], None]


class Settings:
    """A policy's configuration: what the engine passed, else the schema's defaults."""

    def __init__(self, given: Mapping[str, Any] | None, schema: Mapping[str, Mapping[str, Any]]):
        self._given = dict(given or {})
        self._schema = schema

    def __getitem__(self, key: str) -> Any:
        if key in self._given:
            return self._given[key]
        return self._schema[key].get("default")

    def applies_to(self, props: Mapping[str, Any]) -> bool:
        """True when the resource's `environment` tag is one this policy applies to. A resource
        without that tag is held to the strictest rule (treated as in scope)."""
        env = environment_of(props)
        return env is None or env in self["environments"]


@dataclass(frozen=True)
class Spec:
    """One policy of the pack: its name, what it checks, the controls it enforces and how."""

    name: str
    summary: str
    controls: tuple[str, ...]
    check: ResourceCheck | StackCheck
    kind: str  # "resource" or "stack"
    types: tuple[str, ...] = ()  # resource types checked; () means every type
    level: EnforcementLevel = MANDATORY
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return f"{self.summary} Controls: {', '.join(self.controls)}."

    def build(self) -> Policy:
        """The pulumi-policy object the analyzer (and the offline engine) runs."""
        schema = (
            PolicyConfigSchema(properties={k: dict(v) for k, v in self.config.items()})
            if self.config
            else None
        )
        if self.kind == "stack":
            stack_check: StackCheck = self.check  # type: ignore[assignment]

            def validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
                try:
                    stack_check(args, report, Settings(args.get_config(), self.config))
                except (UnknownValueError, _NotApplicableError):
                    raise  # the analyzer's own handling: an advisory "can't run during preview"
                except Exception as exc:
                    report(crash_message("the stack", exc), None)

            return StackValidationPolicy(
                name=self.name,
                description=self.description,
                validate=validate_stack,
                enforcement_level=self.level,
                config_schema=schema,
                tags=list(self.controls),
            )
        resource_check: ResourceCheck = self.check  # type: ignore[assignment]
        types = frozenset(self.types)

        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if types and args.resource_type not in types:
                return
            try:
                resource_check(args, report, Settings(args.get_config(), self.config))
            except (UnknownValueError, _NotApplicableError):
                raise  # the analyzer's own handling: an advisory "can't run during preview"
            except Exception as exc:
                report(crash_message(args.name, exc), None)

        return TypedResourcePolicy(
            types,
            name=self.name,
            description=self.description,
            validate=validate,
            enforcement_level=self.level,
            config_schema=schema,
            tags=list(self.controls),
        )


class TypedResourcePolicy(ResourceValidationPolicy):
    """A resource policy that names the resource types it checks (empty: every type), so the
    offline engine need not build arguments for the others, which its `validate` would ignore."""

    def __init__(self, resource_types: frozenset[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resource_types = resource_types


Check = TypeVar("Check", ResourceCheck, StackCheck)


def _declare(
    kind: str,
    registry: list[Spec],
    name: str,
    summary: str,
    controls: Sequence[str],
    types: Sequence[str],
    level: EnforcementLevel,
    config: Mapping[str, Mapping[str, Any]] | None,
) -> Callable[[Check], Check]:
    def wrap(check: Check) -> Check:
        registry.append(
            Spec(
                name, summary, tuple(controls), check, kind, tuple(types), level, dict(config or {})
            )
        )
        return check

    return wrap


def resource_policy(
    registry: list[Spec],
    name: str,
    summary: str,
    controls: Sequence[str],
    types: Sequence[str],
    level: EnforcementLevel = MANDATORY,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[ResourceCheck], ResourceCheck]:
    """Declare a resource policy checking `types`; the decorated function reports violations."""
    return _declare("resource", registry, name, summary, controls, types, level, config)


def stack_policy(
    registry: list[Spec],
    name: str,
    summary: str,
    controls: Sequence[str],
    types: Sequence[str],
    level: EnforcementLevel = MANDATORY,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[StackCheck], StackCheck]:
    """Declare a stack policy (it sees every resource; `types` documents what it looks at)."""
    return _declare("stack", registry, name, summary, controls, types, level, config)


def crash_message(subject: str, exc: BaseException) -> str:
    """The violation a policy reports when its check raised on `subject` (fail closed)."""
    return (
        f"the policy could not judge {subject}: {type(exc).__name__}: {exc}; fix the value "
        "(or the policy) so it can be checked"
    )


@contextmanager
def judging(resource: PolicyResource, report: ReportViolation) -> Iterator[None]:
    """Judge one resource inside a stack policy: an unknown value (first preview) skips only
    this resource, and a crash becomes a violation naming it, so neither hides another
    resource's verdict."""
    try:
        yield
    except UnknownValueError as exc:
        note = SKIPPED.get()
        if note is not None:
            note(resource.urn, exc.message)
    except _NotApplicableError:
        raise
    except Exception as exc:
        report(crash_message(resource.name, exc), resource.urn)


# -- reading properties ------------------------------------------------------------------------


def get(props: Any, *path: str | int, default: Any = None) -> Any:
    """`props[path[0]][path[1]]…`, or `default` when any step is missing or None."""
    node = props
    for step in path:
        if isinstance(step, int):
            if not is_list(node) or step >= len(node):
                return default
        elif not isinstance(node, Mapping) or step not in node:
            return default
        node = node[step]
        if node is None:
            return default
    return node


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def items(value: Any) -> list[Any]:
    """A property that may be absent, one object or a list of them, as a list."""
    if value is None:
        return []
    if is_list(value):
        return list(value)
    return [value]


def truthy(value: Any) -> bool:
    """True for `True` and the provider's string spellings ("true", "1", "on")."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "on", "yes", "enabled")
    return value is True


def plain(value: Any) -> Any:
    """A deep copy as plain dicts and lists (for json and for `==`)."""
    if isinstance(value, Mapping):
        return {k: plain(value[k]) for k in value}
    if is_list(value):
        return [plain(v) for v in value]
    return value


def tags_of(props: Mapping[str, Any]) -> Mapping[str, Any]:
    tags = get(props, "tags", default={})
    return tags if isinstance(tags, Mapping) else {}


def environment_of(props: Mapping[str, Any]) -> str | None:
    value = tags_of(props).get("environment")
    return str(value) if value else None


def policy_statements(document: Any) -> list[Mapping[str, Any]]:
    """Statements of an IAM-style policy given as a JSON string or a mapping; [] if unreadable."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, Mapping):
        return []
    return [s for s in items(document.get("Statement")) if isinstance(s, Mapping)]


def as_strings(value: Any) -> list[str]:
    return [str(v) for v in items(value)]


def matches_any(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def principal_is_public(principal: Any) -> bool:
    """`*` or `{"AWS": "*"}`: anybody on the internet."""
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return "*" in as_strings(principal.get("AWS"))
    return False


# -- stack helpers -------------------------------------------------------------------------------


def of_type(resources: Sequence[PolicyResource], *types: str) -> Iterator[PolicyResource]:
    return (r for r in resources if r.resource_type in types)


def references(resource: PolicyResource, prop: str, target: PolicyResource) -> bool:
    """True when `resource.<prop>` was computed from `target` (the engine's property
    dependencies), which is how a split-style companion names its main resource."""
    deps = resource.property_dependencies.get(prop, [])
    return any(d.urn == target.urn for d in deps)


def known(props: Any, key: str) -> Any:
    """`props[key]` when present and known, else None: never raises on an unknown value."""
    if not isinstance(props, Mapping):
        return None
    try:
        return props[key]
    except (KeyError, UnknownValueError):
        return None


def present(props: Any, *path: str) -> bool:
    """`props[path[0]][path[1]]…` is set, even if its value (or an object on the way) is not
    known yet: an unknown value always comes from another resource's output, e.g. a KMS key
    or a queue created in the same stack."""
    node = props
    for key in path:
        if not isinstance(node, Mapping):
            return False
        try:
            node = node[key]
        except KeyError:
            return False
        except UnknownValueError:
            return True
    return node not in (None, "") and not (is_list(node) and len(node) == 0)


def linked(resource: PolicyResource, prop: str, target: PolicyResource, *target_keys: str) -> bool:
    """`resource.<prop>` refers to `target`: by property dependency, or because its known value
    equals one of `target`'s known identifying properties (name, ARN) as a plain string. An
    unknown value never links (it came from some other resource's output, which the property
    dependencies already name)."""
    if references(resource, prop, target):
        return True
    value = known(resource.props, prop)
    if not isinstance(value, str) or not value:
        return False
    return any(known(target.props, key) == value for key in target_keys)


def linked_by(
    resources: Sequence[PolicyResource],
    prop: str,
    targets: Sequence[PolicyResource],
    *target_keys: str,
) -> dict[str, list[PolicyResource]]:
    """For each of `targets` (by URN), the `resources` whose `<prop>` is `linked` to it: one
    pass over each list instead of a `linked` call per pair."""
    urns = {t.urn for t in targets}
    by_value: dict[str, set[str]] = {}
    for target in targets:
        for key in target_keys:
            value = known(target.props, key)
            if isinstance(value, str) and value:
                by_value.setdefault(value, set()).add(target.urn)
    found: dict[str, list[PolicyResource]] = {urn: [] for urn in urns}
    for resource in resources:
        hits = {d.urn for d in resource.property_dependencies.get(prop, []) if d.urn in urns}
        value = known(resource.props, prop)
        if isinstance(value, str) and value:
            hits |= by_value.get(value, set())
        for urn in hits:
            found[urn].append(resource)
    return found


def stack_environment(resources: Sequence[PolicyResource]) -> str | None:
    """The stack's environment: the `environment` tag its resources carry (None if untagged)."""
    for resource in resources:
        env = environment_of(resource.props)
        if env:
            return env
    return None
