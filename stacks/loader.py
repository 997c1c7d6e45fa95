"""Read a stack's configuration (from the Pulumi runtime or a stack file) and validate it once.

`load_config` is the single entry point: it merges the stack's values over its environment
profile, validates the result with `PlatformConfig`, applies the prod rules, and raises
`ConfigError` naming every bad key, its value and the fix before any resource is registered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from soundstack.stacks.limits import aws_limit_problems
from soundstack.stacks.model import PlatformConfig
from soundstack.stacks.profiles import PROD_RULES, PROFILES

NAMESPACE = "soundstack"
STACKS_DIR = Path(__file__).resolve().parent

#: Config keys that must be Pulumi secrets (`pulumi config set --secret soundstack:<key>`).
SECRET_KEYS = ("google_client_secret", "facebook_client_secret", "api_origin_secret")

#: What the offline preview puts in place of a secret it cannot decrypt.
SECRET_PLACEHOLDER = "offline-preview-placeholder"


class ConfigError(ValueError):
    """A stack configuration that must not reach `pulumi up`; lists every problem found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            f"invalid SoundStack configuration in {source}:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        node = node[part]
    return node


def _pydantic_problems(exc: ValidationError, merged: Mapping[str, Any]) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            problems.append(
                f"{NAMESPACE}:{loc} is not a known key; remove it or fix its spelling "
                f"(see stacks/README.md for every key)"
            )
        elif err["type"] == "missing":
            problems.append(f"{NAMESPACE}:{loc} is required; set it in the stack file")
        else:
            value = err.get("input")
            shown = json.dumps(value) if not isinstance(value, Mapping) else "{...}"
            problems.append(f"{NAMESPACE}:{loc}={shown}: {msg}")
    return problems


def load_config(
    stack: str,
    values: Mapping[str, Any],
    secret_keys: Iterable[str] = (),
    source: str | None = None,
) -> PlatformConfig:
    """Validate the `namespace:key` → value map of one stack and return its `PlatformConfig`.

    Values may be plain (from a stack file) or JSON strings (as the Pulumi engine passes them).
    """
    source = source or f"stack {stack}"
    secrets = set(secret_keys)
    problems: list[str] = []
    sections: dict[str, Any] = {}
    for full_key, raw in values.items():
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE:
            continue
        if key in SECRET_KEYS:
            if full_key not in secrets:
                problems.append(
                    f"{full_key} is stored in plain text but must be a secret; remove it from "
                    f"the stack file and run `pulumi config set --secret {full_key} <value>`"
                )
            continue
        value = raw
        if isinstance(raw, str) and raw[:1] in "[{":
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.append(f"{full_key}: not valid JSON ({exc}); fix the value")
                continue
        sections[key] = value

    environment = sections.pop("environment", stack if stack in PROFILES else None)
    if environment not in PROFILES:
        problems.append(
            f"{NAMESPACE}:environment={json.dumps(environment)}: must be one of dev, staging, "
            f"prod; set `{NAMESPACE}:environment` in the stack file (stack {stack!r} is not "
            "one of those names)"
        )
        raise ConfigError(source, problems)
    merged = _deep_merge(PROFILES[environment], sections)
    merged["environment"] = environment
    merged["region"] = values.get("aws:region")
    if merged["region"] is None:
        problems.append("aws:region is required; run `pulumi config set aws:region eu-west-1`")
        raise ConfigError(source, problems)

    try:
        config = PlatformConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(source, problems + _pydantic_problems(exc, merged)) from None

    if environment == "prod":
        data = config.model_dump()
        for rule in PROD_RULES:
            value = _lookup(data, rule.key)
            if not rule.ok(value):
                problems.append(
                    f"{NAMESPACE}:{rule.key}={json.dumps(value)} is not allowed in prod: "
                    f"{rule.why}; set {rule.fix} (or remove the key to take the prod profile)"
                )
    # AWS limits spanning sections: Redshift's three AZs, each subnet's address budget.
    problems.extend(f"{NAMESPACE}:{p}" for p in aws_limit_problems(config))
    if problems:
        raise ConfigError(source, problems)
    return config


def stack_file(stack: str, stacks_dir: Path = STACKS_DIR) -> Path:
    """`stacks/Pulumi.<stack>.yaml`, or a ConfigError listing the stacks that exist."""
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name.split(".")[1] for p in stacks_dir.glob("Pulumi.*.yaml"))
        raise ConfigError(str(path), [f"no such stack file; known stacks: {', '.join(known)}"])
    return path


def read_stack_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The `config:` map of a stack file and the keys stored as `secure:` values.

    Secure values cannot be decrypted offline; they come back as `SECRET_PLACEHOLDER`.
    """
    document = yaml.safe_load(path.read_text()) or {}
    values: dict[str, Any] = {}
    secret: list[str] = []
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            values[key] = SECRET_PLACEHOLDER
            secret.append(key)
        else:
            values[key] = value
    return values, secret


def load_stack(stack: str, stacks_dir: Path = STACKS_DIR) -> PlatformConfig:
    """Validate `stacks/Pulumi.<stack>.yaml` without Pulumi (tests, CLI)."""
    path = stack_file(stack, stacks_dir)
    values, secret = read_stack_file(path)
    return load_config(stack, values, secret, source=str(path))
