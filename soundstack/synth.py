"""Run the real `platform/` program under Pulumi mocks and record everything it registers.

This is the offline engine behind `soundstack preview`: no AWS credentials, no Pulumi CLI.
Each run gets a fresh event loop, fresh mocks, a fresh root stack and a cleared RPC/output
tracker, and cancels whatever it left pending before closing its loop, so runs can follow each
other in one process (tests run dev and prod back to back) even after one of them failed.

`first_preview=True` runs the program as `pulumi preview` of a stack that does not exist yet:
ids and computed outputs are unknown (what depends on them is recorded as pulumi-policy's
unknown sentinel), names Pulumi generates are known.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from soundstack.mocks import OFFLINE_RELEASE, EstateMocks
from soundstack.stacks.loader import (
    NAMESPACE,
    SECRET_KEYS,
    SECRET_PLACEHOLDER,
    read_stack_file,
    stack_file,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
MASK = "[secret]"
UNKNOWN = rpc.UNKNOWN  # the engine's unknown string, which pulumi-policy also uses
UNKNOWN_SHOWN = "[unknown]"  # how an unknown value is printed


@dataclass
class Resource:
    """One registration, as the engine saw it (Pulumi's camelCase input names)."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]  # secrets unwrapped: what a policy sees
    masked_inputs: dict[str, Any]  # secrets replaced by MASK: what may be printed
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    provider: str | None
    protect: bool
    id: str | None = None  # what the mocks answered as the physical id (None for components)
    outputs: dict[str, Any] = field(default_factory=dict)  # planned outputs (unknowns kept)


@dataclass
class Synthesis:
    """Everything one mocked run registered."""

    stack: str
    resources: list[Resource]
    outputs: dict[str, Any]  # secret outputs replaced by MASK
    secret_outputs: list[str]
    errors: list[str] = field(default_factory=list)
    first_preview: bool = False  # recorded as the first preview of a new stack
    invokes: dict[str, int] = field(default_factory=dict)  # data-source token → calls made

    def by_type(self, type_token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_token]

    def component_of(self, resource: Resource) -> Resource | None:
        """The outermost SoundStack component above (or being) `resource`."""
        by_urn = {r.urn: r for r in self.resources}
        found = None
        node: Resource | None = resource
        while node is not None:
            if node.type.startswith("soundstack:"):
                found = node
            node = by_urn.get(node.parent) if node.parent else None
        return found


def _unwrap(value: Any, mask: bool) -> Any:
    if isinstance(value, Unknown) or value == UNKNOWN:
        return UNKNOWN_SHOWN if mask else UNKNOWN
    if rpc.is_rpc_secret(value):
        return MASK if mask else _unwrap(value["value"], mask)
    if isinstance(value, dict):
        return {k: _unwrap(v, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, mask) for v in value]
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return {"asset": type(value).__name__, "path": getattr(value, "path", None)}
    if isinstance(value, pulumi.Resource):
        return getattr(value, "_name", type(value).__name__)
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf carries every number as a double
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also keeps parent, dependencies and options of each registration."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Resource] = []
        self.invokes: dict[str, int] = {}

    def Invoke(self, request: Any) -> Any:
        self.invokes[request.tok] = self.invokes.get(request.tok, 0) + 1
        return super().Invoke(request)

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = rpc.deserialize_properties(request.object)
        outputs = rpc.deserialize_properties(response.object) if request.custom else {}
        self.registrations.append(
            Resource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=bool(request.custom),
                inputs=_unwrap(inputs, mask=False),
                masked_inputs=_unwrap(inputs, mask=True),
                dependencies=sorted(set(request.dependencies)),
                property_dependencies={
                    k: sorted(v.urns) for k, v in request.propertyDependencies.items()
                },
                provider=request.provider or None,
                protect=bool(request.protect),
                id=response.id or None,
                outputs=_unwrap(outputs, mask=False),
            )
        )
        return response


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.messages.append(record.getMessage())


def stack_values(stack: str, project_dir: Path = PROJECT_DIR) -> tuple[dict[str, str], list[str]]:
    """A stack file's config as the engine passes it: JSON strings, with placeholders for every
    secret the file cannot supply offline."""
    values, secret = read_stack_file(stack_file(stack, project_dir / "stacks"))
    for key in SECRET_KEYS:
        full = f"{NAMESPACE}:{key}"
        if full not in values:
            values[full] = SECRET_PLACEHOLDER
            secret.append(full)
    as_engine = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    return as_engine, secret


def synthesize(
    stack: str,
    config: Mapping[str, str],
    secret_keys: list[str],
    program: Callable[[], None] | None = None,
    project_dir: Path = PROJECT_DIR,
    first_preview: bool = False,
    release: str | None = OFFLINE_RELEASE,
) -> Synthesis:
    """Run `program` (default: `platform/__main__.py`) under mocks with `config` for `stack`;
    `release` is the image tag the account has recorded for it (None: a first deploy)."""
    region = config.get("aws:region", "eu-west-1")
    mocks = EstateMocks(region, first_preview=first_preview, release=release)
    monitor = RecordingMonitor(mocks)
    errors = _ErrorLog()
    logger = logging.getLogger(f"soundstack.synth.{stack}")
    logger.handlers = [errors]
    logger.propagate = False

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # The engine records where each resource was declared (a full `traceback.extract_stack()`
    # per registration, ~15% of a prod synthesis); the mock monitor keeps none of it, so the
    # offline run skips it. A real `pulumi up` is untouched.
    stack_trace = pulumi_resource._get_stack_trace
    pulumi_resource._get_stack_trace = _no_stack_trace
    # What is loaded now (pulumi_aws alone is hundreds of thousands of objects) lives for the
    # whole process: frozen out of the collector, with a higher first threshold, a run's many
    # short-lived outputs no longer trigger full passes over it (halves a prod synthesis).
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, *thresholds[1:])
    try:
        settings.ROOT.set(None)
        settings.SETTINGS.rpc_manager.clear()
        settings.SETTINGS.outputs.clear()
        pulumi.runtime.set_all_config(dict(config), secret_keys)
        pulumi.runtime.set_mocks(
            mocks,
            project=NAMESPACE,
            stack=stack,
            preview=first_preview,
            logger=logger,
            monitor=monitor,
        )
        main = project_dir / "platform" / "__main__.py"

        def run() -> None:
            if program is not None:
                program()
            else:
                runpy.run_path(str(main), run_name="__main__")

        _sync_await(run_pulumi_func(run))
        root = settings.get_root_resource()
        outputs: dict[str, Any] = {}
        secret_outputs = []
        for key, value in sorted(getattr(root, "outputs", {}).items()):
            out = pulumi.Output.from_input(value)
            if _sync_await(out.is_secret()):
                secret_outputs.append(key)
                outputs[key] = MASK
            else:
                outputs[key] = _unwrap(_sync_await(out.future()), mask=True)
    finally:
        pulumi_resource._get_stack_trace = stack_trace
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        _close(loop)
    return Synthesis(
        stack,
        monitor.registrations,
        outputs,
        secret_outputs,
        errors.messages,
        first_preview,
        monitor.invokes,
    )


def _no_stack_trace() -> Any:
    """An empty stack trace: what the engine gets when no user frame is found."""
    return pulumi_resource.source_pb2.StackTrace()


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what a (possibly failed) run left pending, then forget it: nothing of this run's
    loop may be awaited by the next one ("Event loop is closed")."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    settings.ROOT.set(None)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    loop.close()
    asyncio.set_event_loop(None)


def synthesize_stack(
    stack: str, project_dir: Path = PROJECT_DIR, first_preview: bool = False
) -> Synthesis:
    """Run the platform program for `stacks/Pulumi.<stack>.yaml`."""
    config, secret = stack_values(stack, project_dir)
    return synthesize(stack, config, secret, project_dir=project_dir, first_preview=first_preview)
