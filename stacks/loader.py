"""Read a stack's configuration (from the Pulumi runtime or a stack file) and validate it once.

`load_config` is the single entry point: it merges the stack's values over its environment
profile, validates the result with `PlatformConfig`, applies the prod rules, and raises
`ConfigError` naming every bad key, its value and the fix before any resource is registered.
Schema problems and prod-rule problems come in one report: a broken prod file is fixed in one
round. (Checks spanning sections, `stacks/limits.py` and the model's cross-section validators,
need a schema-valid file and run once it is.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

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

    def __init__(
        self, source: str, problems: list[str], what: str = "invalid SoundStack configuration"
    ) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{what} in {source}:\n" + "\n".join(f"  - {p}" for p in problems))


def read_yaml(path: Path) -> Any:
    """A YAML file's document; a syntax error is a ConfigError naming the file, line and column
    (never a parser traceback)."""
    try:
        return yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "not valid YAML"
        raise ConfigError(
            shown(path),
            [
                f"{where}{problem}; fix the YAML there (indentation, a missing `:`, or a value "
                "holding `: ` or `#` that needs quotes)"
            ],
            what="YAML syntax error",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(shown(path), [f"{exc}; fix the YAML"], what="YAML syntax error") from None


def shown(path: Path) -> str:
    """`path` as a person typed it: relative to the working directory when under it."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


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


def _pydantic_problems(errors: Iterable[Any]) -> list[str]:
    problems = []
    for err in errors:
        loc = _dotted(err["loc"])
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
            if isinstance(value, Mapping):  # a section's own check: its message names the keys
                problems.append(f"{NAMESPACE}:{loc}: {msg}" if loc else msg)
            else:
                problems.append(f"{NAMESPACE}:{loc}={json.dumps(value)}: {msg}{_fix(err, loc)}")
    return problems


#: pydantic's type errors → what to write instead.
_KINDS = {"int": "a whole number", "float": "a number", "bool": "true or false", "string": "text",
          "list": "a list", "dict": "a mapping of keys", "model": "a mapping of keys"}  # fmt: skip


def _fix(err: Mapping[str, Any], loc: str) -> str:
    """The fix pydantic's message leaves out (a validator of ours already names one)."""
    ctx = err.get("ctx") or {}
    kind = str(err["type"])
    for bound, word in (("le", "or less"), ("ge", "or more"), ("lt", None), ("gt", None)):
        if bound in ctx and kind.endswith(("_equal", "_than")):
            if word is None:
                return f"; set {loc} to a value that fits"
            return f"; set {loc}: {ctx[bound]} {word}"
    if kind == "literal_error":
        return f"; set {loc} to one of {ctx.get('expected')}"
    if kind.endswith("too_short"):
        return f"; set {loc} (at least {ctx.get('min_length')})"
    if kind.endswith("too_long"):
        return f"; shorten {loc} (at most {ctx.get('max_length')})"
    for prefix, what in _KINDS.items():
        if kind.startswith(f"{prefix}_"):
            return f"; set {loc} to {what}"
    return ""


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
        if isinstance(raw, str) and raw.startswith(("[", "{")):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.append(f"{full_key}: not valid JSON ({exc}); fix the value")
                continue
        sections[key] = value

    environment = sections.pop("environment", stack if stack in PROFILES else None)
    known_environment = environment in PROFILES
    if not known_environment:
        problems.append(
            f"{NAMESPACE}:environment={json.dumps(environment)}: must be one of dev, staging, "
            f"prod; set `{NAMESPACE}:environment` in the stack file (stack {stack!r} is not "
            "one of those names)"
        )
    merged = _deep_merge(PROFILES[environment] if known_environment else {}, sections)
    merged["environment"] = environment if known_environment else "dev"
    merged["region"] = values.get("aws:region")
    skip = set()  # problems already named above: pydantic would repeat them
    if not known_environment:
        skip.add("environment")
    if merged["region"] is None:
        problems.append("aws:region is required; run `pulumi config set aws:region eu-west-1`")
        skip.add("region")

    try:
        config = PlatformConfig.model_validate(merged)
    except ValidationError as exc:
        errors = [e for e in exc.errors() if _dotted(e["loc"][:1]) not in skip]
        problems += _pydantic_problems(errors)
        if environment == "prod":  # the prod rules too, on what the schema could read
            bad = {_dotted(e["loc"]) for e in errors}
            problems += _prod_problems(lambda key: _raw_value(merged, key), bad)
        raise ConfigError(source, problems) from None

    if environment == "prod":
        data = config.model_dump()
        problems += _prod_problems(lambda key: _lookup(data, key), set())
    # AWS limits spanning sections: Redshift's three AZs, each subnet's address budget.
    problems.extend(f"{NAMESPACE}:{p}" for p in aws_limit_problems(config))
    if problems:
        raise ConfigError(source, problems)
    return config


def _prod_problems(value_of: Any, bad: set[str]) -> list[str]:
    """A problem for each prod rule the config breaks; rules on keys in `bad` (whose value
    the schema refused, already reported) are skipped."""
    problems = []
    for rule in PROD_RULES:
        if any(rule.key == b or rule.key.startswith(f"{b}.") or b.startswith(f"{rule.key}.")
               for b in bad):  # fmt: skip
            continue
        try:
            value = value_of(rule.key)
        except (KeyError, TypeError, ValidationError):
            continue  # a section that is not a mapping: its schema problem says so
        if not rule.ok(value):
            problems.append(
                f"{NAMESPACE}:{rule.key}={json.dumps(value)} is not allowed in prod: "
                f"{rule.why}; set {rule.fix} (or remove the key to take the prod profile)"
            )
    return problems


def _raw_value(merged: Mapping[str, Any], dotted: str) -> Any:
    """The value `PlatformConfig` would hold at `section.field` for a file whose schema fails
    elsewhere: the file's value (coerced as the schema coerces it), else the model default."""
    section, field = dotted.split(".")
    default = PlatformConfig.model_fields[section].default
    raw = merged.get(section, {})
    if not isinstance(raw, Mapping):
        raise TypeError(section)
    if field not in raw:
        return getattr(default, field)
    annotation = type(default).model_fields[field].annotation
    return TypeAdapter(annotation).validate_python(raw[field])


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if not str(p).startswith("function-after"))


def stack_file(stack: str, stacks_dir: Path = STACKS_DIR) -> Path:
    """`<stacks_dir>/Pulumi.<stack>.yaml` (or `.yml`), or a ConfigError listing the stacks that
    exist."""
    for suffix in (".yaml", ".yml"):
        path = stacks_dir / f"Pulumi.{stack}{suffix}"
        if path.is_file():
            return path
    known = ", ".join(known_stacks(stacks_dir)) or "none"
    raise ConfigError(
        shown(stacks_dir / f"Pulumi.{stack}.yaml"),
        [
            f"no such stack file; known stacks: {known} (a new stack: `pulumi stack init {stack}`, "
            "then `pulumi config set aws:region <region>`)"
        ],
    )


def known_stacks(stacks_dir: Path) -> list[str]:
    """Names of the stacks with a `Pulumi.<stack>.yaml` (or `.yml`) file in `stacks_dir`."""
    names = {
        p.name.removeprefix("Pulumi.").rsplit(".", 1)[0]
        for p in [*stacks_dir.glob("Pulumi.*.yaml"), *stacks_dir.glob("Pulumi.*.yml")]
    }
    return sorted(names)


def read_stack_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The `config:` map of a stack file and the keys holding a `secure:` value.

    Secure values cannot be decrypted offline: each one, at the top or inside a structured
    value, comes back as `SECRET_PLACEHOLDER`, and its key is listed as secret.
    """
    document = read_yaml(path) or {}
    config = document.get("config") if isinstance(document, Mapping) else None
    if not isinstance(config, Mapping | None):
        raise ConfigError(
            shown(path), ["`config:` must be a mapping of `<namespace>:<key>: value` entries"]
        )
    values: dict[str, Any] = {}
    secret: list[str] = []
    for key, value in (config or {}).items():
        plain, is_secret = _without_secure(value)
        values[str(key)] = plain
        if is_secret:
            secret.append(str(key))
    return values, secret


def _without_secure(value: Any) -> tuple[Any, bool]:
    """`value` with every `{secure: <ciphertext>}` leaf replaced by the placeholder, and whether
    there was one."""
    if isinstance(value, Mapping) and set(value) == {"secure"}:
        return SECRET_PLACEHOLDER, True
    if isinstance(value, Mapping):
        pairs = {k: _without_secure(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_without_secure(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def load_stack(stack: str, stacks_dir: Path = STACKS_DIR) -> PlatformConfig:
    """Validate `stacks/Pulumi.<stack>.yaml` without Pulumi (tests, CLI)."""
    path = stack_file(stack, stacks_dir)
    values, secret = read_stack_file(path)
    return load_config(stack, values, secret, source=shown(path))
