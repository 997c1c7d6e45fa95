"""Run a Pulumi program under mocks and record everything it registers.

This is the offline engine behind `soundstack preview`: no AWS credentials, no Pulumi CLI. The
program is a `Project`'s (soundstack/project.py: the user's own, found by its `Pulumi.yaml`, or
the bundled estate, `platform/__main__.py`), run under the project's name and with its stack's
config, or any callable (`synthesize(..., program=...)`, tests).
Each run gets a fresh event loop, fresh mocks, a fresh root stack and a cleared RPC/output
tracker, and cancels whatever it left pending before closing its loop, so runs can follow each
other in one process (tests run dev and prod back to back) even after one of them failed.

`first_preview=True` runs the program as `pulumi preview` of a stack that does not exist yet:
ids and computed outputs are unknown (what depends on them is recorded as pulumi-policy's
unknown sentinel), names Pulumi generates are known.

Output is stable: the same inputs give the same `Synthesis`, byte for byte once printed.
Registrations reach the mock monitor from Pulumi's worker threads in whatever order they finish,
so the recorded resources are put in tree order (each parent before its children, siblings by
URN); mock ids and generated names are digests of type and name, never random.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import runpy
import sys
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
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from soundstack.components.function import LAYER_DIR_REQUIRED
from soundstack.mocks import OFFLINE_RELEASE, EstateMocks
from soundstack.project import Project
from soundstack.stacks.loader import NAMESPACE, load_config, shown

#: The repository around this package (README, web client): only its own tooling uses it
#: (`soundstack docs`, `publish-web`'s default build); programs and stacks come from `Project`.
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
    project: str = NAMESPACE  # the Pulumi project's name (the bundled estate: soundstack)

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
        #: The event loops the mock monitor gives the SDK's worker threads (one each, which
        #: Pulumi never closes): `close_thread_loops` closes them when the run ends.
        self.thread_loops: set[asyncio.AbstractEventLoop] = set()

    def _thread_loop(self) -> None:
        self.thread_loops.add(_ensure_event_loop())

    def close_thread_loops(self) -> None:
        """Close the worker threads' loops (never running: they only hold futures), rather
        than leave each with its socket pair for the garbage collector."""
        for loop in self.thread_loops:
            loop.close()
        self.thread_loops.clear()

    def Invoke(self, request: Any) -> Any:
        self._thread_loop()
        self.invokes[request.tok] = self.invokes.get(request.tok, 0) + 1
        return super().Invoke(request)

    def RegisterResource(self, request: Any) -> Any:
        self._thread_loop()
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


def stack_values(stack: str, project: Project | None = None) -> tuple[dict[str, str], list[str]]:
    """A stack's config as the engine passes it (default: the bundled estate's stack files);
    see `Project.stack_values`."""
    return (project or Project.bundled()).stack_values(stack)


def tree_order(resources: list[Resource]) -> list[Resource]:
    """`resources` with each parent before its children and siblings sorted by URN: the same
    list whatever order the registrations arrived in."""
    urns = {r.urn for r in resources}
    children: dict[str | None, list[Resource]] = {}
    for r in resources:
        children.setdefault(r.parent if r.parent in urns else None, []).append(r)
    ordered: list[Resource] = []
    stack = sorted(children.get(None, []), key=lambda r: r.urn, reverse=True)
    while stack:
        node = stack.pop()
        ordered.append(node)
        stack.extend(sorted(children.get(node.urn, []), key=lambda r: r.urn, reverse=True))
    return ordered


def synthesize(
    stack: str,
    config: Mapping[str, str],
    secret_keys: list[str],
    program: Callable[[], None] | None = None,
    project: Project | str | None = None,
    first_preview: bool = False,
    release: str | None = OFFLINE_RELEASE,
) -> Synthesis:
    """Run `program` (default: the project's `main`) under mocks with `config` for `stack`, as
    `project` (default: the bundled estate; a name: the bundled estate's program under that
    project name, or `program` under it); `release` is the image tag the account has recorded
    for it (None: a first deploy)."""
    if not isinstance(project, Project):
        bundled = Project.bundled()
        project = bundled if project is None else dataclasses.replace(bundled, name=project)
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
    # Nothing here zips a layer directory: previewing without `make layer` is fine.
    layer_dir_required = LAYER_DIR_REQUIRED.set(False)
    root_directory = settings.SETTINGS.root_directory
    try:
        settings.ROOT.set(None)
        settings.SETTINGS.rpc_manager.clear()
        settings.SETTINGS.outputs.clear()
        pulumi.runtime.set_all_config(dict(config), secret_keys)
        pulumi.runtime.set_mocks(
            mocks,
            project=project.name,
            stack=stack,
            preview=first_preview,
            logger=logger,
            monitor=monitor,
        )
        # What the Pulumi CLI passes the program: the directory of its Pulumi.yaml. The bundled
        # estate has none of its own (the package is no place for `make layer`'s build/): the
        # working directory stands in, as outside a run.
        own_root = project.root != Project.bundled().root
        settings.SETTINGS.root_directory = str(project.root) if own_root else None
        main = project.program

        def run() -> None:
            if program is not None:
                program()
            else:
                _run_main(main)

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
        LAYER_DIR_REQUIRED.reset(layer_dir_required)
        settings.SETTINGS.root_directory = root_directory
        pulumi_resource._get_stack_trace = stack_trace
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        _close(loop)
        monitor.close_thread_loops()
    return Synthesis(
        stack,
        tree_order(monitor.registrations),
        outputs,
        secret_outputs,
        errors.messages,
        first_preview,
        dict(sorted(monitor.invokes.items())),
        project.name,
    )


def outputs_made(work: Callable[[], Any]) -> int:
    """How many Outputs one run of `work` makes (a synthesis, say): the unit of the SDK's work,
    which benchmarks/preview.py prints and tests bound."""
    made = 0
    track = pulumi.Output._track

    def counting(output: pulumi.Output[Any]) -> None:
        nonlocal made
        made += 1
        track(output)

    setattr(pulumi.Output, "_track", counting)  # noqa: B010 (mypy refuses assigning a method)
    try:
        work()
    finally:
        setattr(pulumi.Output, "_track", track)  # noqa: B010
    return made


def _run_main(main: Path) -> None:
    """Run a project's program file as Pulumi's Python host does (`runpy.run_path` from the
    program's directory), with that directory importable (the program's own modules); both
    undone after."""
    directory = main.parent
    previous = Path.cwd()
    sys.path.insert(0, str(directory))
    os.chdir(directory)
    try:
        runpy.run_path(str(main), run_name="__main__")
    finally:
        os.chdir(previous)
        sys.path.remove(str(directory))


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
    stack: str, project: Project | None = None, first_preview: bool = False
) -> Synthesis:
    """Run a project's program (default: the bundled estate) for its `Pulumi.<stack>.yaml`.

    A program that reads the platform's config has its stack file validated first, so every
    problem is reported against the file (`ConfigError`) before anything runs."""
    project = project or Project.bundled()
    config, secret = project.stack_values(stack)
    if project.uses_platform_config:
        load_config(stack, config, secret, source=shown(project.stack_file(stack)))
    return synthesize(stack, config, secret, project=project, first_preview=first_preview)
