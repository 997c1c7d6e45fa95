"""A Pulumi project as the offline tooling runs it: its name, its program and its stack files.

The project commands of the CLI (preview, check, diagram, cost, diff, plan, capacity) find the
project the way the Pulumi CLI does: the nearest `Pulumi.yaml` at or above the working directory
(`soundstack -C DIR` starts from DIR, like `pulumi -C`). With none, or with `--bundled`, they run
the estate shipped inside this package: `soundstack/platform/__main__.py` with
`soundstack/stacks/Pulumi.<stack>.yaml`, located from the package itself (an installed wheel has
no repository around it).

A stack's config is what `pulumi up` would pass: the project's own `config:` values from
`Pulumi.yaml`, overridden by `Pulumi.<stack>.yaml`; a key without a namespace belongs to the
project (`owner` is `<project>:owner`). `secure:` values cannot be decrypted offline: each becomes
a placeholder and its key stays a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soundstack.stacks.loader import (
    NAMESPACE,
    SECRET_KEYS,
    SECRET_PLACEHOLDER,
    ConfigError,
    known_stacks,
    read_stack_file,
    read_yaml,
    shown,
    stack_file,
)

#: The installed `soundstack` package: the bundled program and stack files live under it.
PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")
#: Pulumi: "Name of the project containing alphanumeric characters, hyphens, underscores, and
#: periods."
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
#: Keys of a project-level config entry declared with a schema (`{type: string, default: x}`).
_SCHEMA_KEYS = {"type", "default", "value", "description", "secret", "items"}
ENVIRONMENTS = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Project:
    """Name, program (`main`: a directory holding `__main__.py`, or a file), where the stack
    files live, and the project-level config of `Pulumi.yaml` (namespaced keys)."""

    name: str
    root: Path
    main: Path
    stack_config_dir: Path
    config: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def bundled(cls) -> Project:
        """The SoundStack estate shipped in this package (project `soundstack`)."""
        return cls(NAMESPACE, PACKAGE_DIR, PACKAGE_DIR / "platform", PACKAGE_DIR / "stacks")

    @classmethod
    def find(cls, start: Path) -> Project | None:
        """The project of the nearest `Pulumi.yaml` at or above `start`, as Pulumi finds it."""
        for directory in (start.absolute(), *start.absolute().parents):
            for name in PROJECT_FILES:
                if (directory / name).is_file():
                    return cls.load(directory / name)
        return None

    @classmethod
    def load(cls, path: Path) -> Project:
        """Read a `Pulumi.yaml`; every problem that stops the offline run, in one ConfigError."""
        document = read_yaml(path)
        if not isinstance(document, Mapping):
            problem = "not a Pulumi project file: set `name:` and `runtime: python` at the top"
            raise ConfigError(shown(path), [problem], "invalid project")
        problems = []
        name = document.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            problems.append(
                f"name={json.dumps(name)}: set `name: <project>` (letters, digits, hyphens, "
                "underscores and periods)"
            )
        runtime = document.get("runtime")
        runtime_name = runtime.get("name") if isinstance(runtime, Mapping) else runtime
        if runtime_name != "python":
            problems.append(
                f"runtime={json.dumps(runtime_name)}: the offline preview runs Python programs; "
                "set `runtime: python` (other runtimes: `pulumi preview` with the policy pack)"
            )
        root = path.parent.absolute()
        main = root / str(document.get("main") or ".")
        if main.is_dir() and not (main / "__main__.py").is_file():
            problems.append(
                f"main={json.dumps(document.get('main', '.'))}: {shown(main)} has no __main__.py; "
                "put the program there, or set `main:` to the program's directory or file"
            )
        elif not main.exists():
            problems.append(
                f"main={json.dumps(document.get('main'))}: {shown(main)} does not exist; set "
                "`main:` to the program's directory (holding __main__.py) or file, relative "
                "to Pulumi.yaml"
            )
        config = document.get("config") or {}
        if not isinstance(config, Mapping):
            problems.append("config: must be a mapping of `<key>: value` (project-level config)")
            config = {}
        if problems:
            raise ConfigError(shown(path), problems, "invalid project")
        assert isinstance(name, str)
        stacks = root / str(document.get("stackConfigDir") or ".")
        return cls(name, root, main, stacks, _project_config(name, config))

    @property
    def program(self) -> Path:
        """The file Python runs: `main/__main__.py`, or `main` itself."""
        return self.main / "__main__.py" if self.main.is_dir() else self.main

    @property
    def uses_platform_config(self) -> bool:
        """Whether the program reads the platform's config (`stacks/model.py`): the bundled
        estate and any project named `soundstack` (this repository's own `Pulumi.yaml`)."""
        return self.name == NAMESPACE

    def stacks(self) -> list[str]:
        return known_stacks(self.stack_config_dir)

    def stack_file(self, stack: str) -> Path:
        """`Pulumi.<stack>.yaml` in the stack config directory, or a ConfigError naming the
        stacks that exist."""
        return stack_file(stack, self.stack_config_dir)

    def stack_values(self, stack: str) -> tuple[dict[str, str], list[str]]:
        """The stack's config as the engine passes it (`<namespace>:<key>` → string, JSON for
        anything but a string), and its secret keys; placeholders for what cannot be decrypted
        offline (and, in the platform's namespace, for its declared secrets a deployer sets with
        `pulumi config set --secret`)."""
        values, secret = read_stack_file(self.stack_file(stack))
        merged = {**self.config, **{self._qualified(k): v for k, v in values.items()}}
        secret = [self._qualified(k) for k in secret]
        if self.uses_platform_config:
            for key in SECRET_KEYS:
                full = f"{NAMESPACE}:{key}"
                if full not in merged:
                    merged[full] = SECRET_PLACEHOLDER
                    secret.append(full)
        as_engine = {k: v if isinstance(v, str) else json.dumps(v) for k, v in merged.items()}
        return as_engine, secret

    def environment(self, stack: str) -> str | None:
        """dev, staging or prod: the stack's `<project>:environment` value, else its name when
        it is one of those; None otherwise."""
        values, _ = read_stack_file(self.stack_file(stack))
        declared = {self._qualified(k): v for k, v in values.items()}.get(
            f"{self.name}:environment"
        )
        for candidate in (declared, stack):
            if candidate in ENVIRONMENTS:
                return str(candidate)
        return None

    def _qualified(self, key: str) -> str:
        return key if ":" in key else f"{self.name}:{key}"


def _project_config(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """`Pulumi.yaml`'s `config:` as values: a plain value, or a declared key's `value` (else its
    `default`); declared keys without either pass nothing."""
    values: dict[str, Any] = {}
    for key, entry in config.items():
        full = str(key) if ":" in str(key) else f"{name}:{key}"
        if isinstance(entry, Mapping) and entry and set(entry) <= _SCHEMA_KEYS:
            if "value" in entry:
                values[full] = entry["value"]
            elif "default" in entry:
                values[full] = entry["default"]
        else:
            values[full] = entry
    return values
