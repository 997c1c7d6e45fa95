"""`soundstack` command line: offline preview, policy check and insight of a Pulumi project.

The project commands (preview, check, diagram, cost, diff, plan, capacity) run the Pulumi project
of the working directory (the nearest `Pulumi.yaml` at or above it; `-C DIR` runs as if started
in DIR, like `pulumi -C`), or the bundled SoundStack estate when there is none or `--bundled`
asks for it (soundstack/project.py).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from pulumi import RunError
from pulumi.config import ConfigMissingError, ConfigTypeError

from soundstack.insight.commands import add_commands
from soundstack.preview import document, render
from soundstack.project import Project
from soundstack.stacks.loader import ConfigError, shown
from soundstack.synth import PROJECT_DIR, synthesize_stack

FIRST_PREVIEW_HELP = (
    "run as the first `pulumi preview` of a new stack: ids and computed outputs unknown, "
    "policies that cannot judge a value skip only that resource (noted as advisory)"
)


POLICY_CONFIG_HELP = (
    "policy pack config (Pulumi's --policy-pack-config JSON: policy → level or settings); "
    "default: the pack's config for the stack's name (policies/config/<stack>.json: dev, staging, "
    "prod), else for its `<project>:environment`, else every policy at its default level"
)


def project_options(top: bool) -> argparse.ArgumentParser:
    """`-C DIR` and `--bundled`, accepted before the command and after it."""
    options = argparse.ArgumentParser(add_help=False)
    # After the command, an option left out must not reset what was given before it.
    unset: object = argparse.SUPPRESS
    options.add_argument(
        "-C",
        "--cwd",
        metavar="DIR",
        default=None if top else unset,
        help="run as if started in DIR: its Pulumi.yaml (or the nearest above) is the project",
    )
    options.add_argument(
        "--bundled",
        action="store_true",
        default=False if top else unset,
        help="run the bundled SoundStack estate even where a Pulumi.yaml is found",
    )
    return options


def deployed_stack_options() -> argparse.ArgumentParser:
    """The deployed stack a command works on and where its outputs come from (publish-web,
    sign-lambda, redrive)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("stack", help="stack name (reads `pulumi stack output --json --stack`)")
    options.add_argument(
        "--outputs", metavar="FILE", help="stack outputs as JSON instead of asking pulumi"
    )
    return options


def resolve_project(args: argparse.Namespace) -> Project:
    """The project a command runs: `--bundled`, else the nearest `Pulumi.yaml` (an error when
    `-C` named a directory without one), else the bundled estate."""
    if args.bundled:
        return Project.bundled()
    found = Project.find(Path.cwd())
    if found is not None:
        return found
    if args.cwd is not None:
        raise ConfigError(
            shown(Path.cwd()),
            [
                "no Pulumi.yaml here or in any directory above: a project needs one (`pulumi new "
                'python`, or see README "Using a component in your own program"); --bundled '
                "runs the SoundStack estate"
            ],
            "no Pulumi project",
        )
    return Project.bundled()


def _pack_config(args: argparse.Namespace) -> tuple[dict[str, object], str]:
    from soundstack.engine import pack_config

    environment = args.project.environment(args.stack)
    path = Path(args.policy_config) if args.policy_config else None
    return pack_config(args.stack, environment, path)


def _preview(args: argparse.Namespace) -> int:
    from soundstack.engine import evaluate

    config, _ = _pack_config(args)
    synth = synthesize_stack(args.stack, args.project, first_preview=args.first_preview)
    violations = evaluate(synth, config)
    if args.json:
        json.dump(document(synth, violations), sys.stdout, indent=2, sort_keys=False)
        sys.stdout.write("\n")
    else:
        print(render(synth, violations))
    if synth.errors:
        print("\n".join(["errors during the mocked run:", *synth.errors]), file=sys.stderr)
        return 1
    return 1 if any(v.level == "mandatory" for v in violations) else 0


#: What the reference services' commands import beyond the base install (`soundstack[services]`).
SERVICE_DEPENDENCIES = (
    "psycopg",
    "pydantic_settings",
    "redis",
    "uvicorn",
    "websockets",
    "moto",
    "stripe",
)


def _services_missing(command: str) -> str | None:
    """Why `command` cannot run on this install (None: it can)."""
    missing = [m for m in SERVICE_DEPENDENCIES if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    return (
        f"`soundstack {command}` runs the reference services, whose runtime this install lacks "
        f"({', '.join(missing)}): pip install 'soundstack[services]'"
    )


def _migrate(args: argparse.Namespace) -> int:
    if (problem := _services_missing("migrate")) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    import psycopg

    from soundstack.app_services.core import migrate
    from soundstack.app_services.core.db import conninfo
    from soundstack.app_services.core.settings import ServiceSettings

    settings = ServiceSettings()
    if args.dsn:
        settings = settings.model_copy(update={"database_url": args.dsn})
    schema = args.schema or settings.db_schema
    with psycopg.connect(conninfo(settings)) as conn:
        applied = migrate.apply(conn, schema)
    print(f"schema {schema}: applied {', '.join(applied) if applied else 'nothing (up to date)'}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    if (problem := _services_missing("serve")) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from soundstack.app_services.core.serve import serve
    from soundstack.publish_web import PublishError, local_site

    try:
        site = local_site(args.web) if args.web else None
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return serve(args.host, args.port, local_aws=args.local_aws, aws_port=args.aws_port, site=site)


def _policy_pack(args: argparse.Namespace) -> int:
    from soundstack.policy_pack import config_file, write

    print(write(args.out))
    for stack in ("dev", "staging", "prod"):
        if (config := config_file(stack)) is not None:
            print(
                f"  --policy-pack-config {config}  (pack levels of stack {stack})", file=sys.stderr
            )
    return 0


def _signing_key(args: argparse.Namespace) -> int:
    from soundstack.signing_keys import run

    return run(args.action, args.stack, args.secret_id)


def _publish_web(args: argparse.Namespace) -> int:
    from soundstack.publish_web import run

    return run(args.stack, args.outputs, args.dist, PROJECT_DIR, args.wait, args.keep_days)


def _sign_lambda(args: argparse.Namespace) -> int:
    from soundstack.lambda_artefacts import run

    return run(args.stack, args.outputs, PROJECT_DIR)


def _redrive(args: argparse.Namespace) -> int:
    from soundstack.redrive import run

    return run(
        args.stack,
        args.outputs,
        PROJECT_DIR,
        queue_name=args.queue,
        replay=args.replay,
        by_copy=args.by_copy,
        max_per_second=args.max_per_second,
        wait=args.wait,
    )


def _check(args: argparse.Namespace) -> int:
    """Only the policy run: violations, an optional audit report, exit 1 on a mandatory one."""
    from soundstack import report
    from soundstack.engine import evaluate, levels
    from soundstack.policies.registry import specs

    config, source = _pack_config(args)
    synth = synthesize_stack(args.stack, args.project, first_preview=args.first_preview)
    violations = evaluate(synth, config)
    print(f"project {synth.project}, stack {args.stack}: policy config from {source}")
    for v in violations:
        print(f"{v.level:<9} {v.policy}  {v.urn.split('::')[-1] or '(stack)'}: {v.message}")
    mandatory = [v for v in violations if v.level == "mandatory"]
    print(f"stack {args.stack}: {len(specs())} policies, {len(mandatory)} mandatory and "
          f"{len(violations) - len(mandatory)} advisory violations")  # fmt: skip
    if args.report:
        render = report.to_html if args.report.endswith((".html", ".htm")) else report.markdown
        with open(args.report, "w", encoding="utf-8") as out:
            types = {r.type for r in synth.resources}
            out.write(render(args.stack, specs(), violations, levels(config), types))
        print(f"report written to {args.report}")
    if synth.errors:
        print("\n".join(["errors during the mocked run:", *synth.errors]), file=sys.stderr)
        return 1
    return 1 if mandatory else 0


STACK_HELP = "stack name: its Pulumi.<stack>.yaml (bundled estate: dev, staging or prod)"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="soundstack",
        description=__doc__,
        parents=[project_options(top=True)],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = top.add_subparsers(dest="command", required=True)
    options = project_options(top=False)
    preview = sub.add_parser(
        "preview",
        parents=[options],
        help="run the project's program under Pulumi mocks for a stack and show what it "
        "defines, with the policy pack's verdicts",
    )
    preview.add_argument("stack", help=STACK_HELP)
    preview.add_argument("--json", action="store_true", help="print one JSON document (README)")
    preview.add_argument("--first-preview", action="store_true", help=FIRST_PREVIEW_HELP)
    preview.add_argument("--policy-config", metavar="FILE", help=POLICY_CONFIG_HELP)
    preview.set_defaults(run=_preview, project_command=True)
    check = sub.add_parser(
        "check",
        parents=[options],
        help="run the policy pack (policies/) against a stack under mocks; exit 1 on a "
        "mandatory violation",
    )
    check.add_argument("stack", help=STACK_HELP)
    check.add_argument(
        "--report", metavar="FILE", help="write an audit report by control (.md, or .html)"
    )
    check.add_argument("--first-preview", action="store_true", help=FIRST_PREVIEW_HELP)
    check.add_argument("--policy-config", metavar="FILE", help=POLICY_CONFIG_HELP)
    check.set_defaults(run=_check, project_command=True)
    mig = sub.add_parser(
        "migrate", help="apply app_services/migrations/*.sql to PostgreSQL (DATABASE_URL or DB_*)"
    )
    mig.add_argument("--dsn", help="libpq DSN (default: DATABASE_URL, else RDS Proxy via DB_*)")
    mig.add_argument("--schema", help="target schema (default: DB_SCHEMA, else public)")
    mig.set_defaults(run=_migrate)
    srv = sub.add_parser(
        "serve", help="run the HTTP services locally behind an API Gateway v2 router (README)"
    )
    srv.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    srv.add_argument("--port", type=int, default=8080)
    srv.add_argument(
        "--local-aws",
        action="store_true",
        help="unless AWS_ENDPOINT_URL is set: start moto's server on 127.0.0.1:AWS_PORT and"
        " create the media bucket, activity stream and topic, and the secrets the services use",
    )
    srv.add_argument(
        "--aws-port", type=int, default=4566, help="port of --local-aws (default 4566)"
    )
    srv.add_argument(
        "--web",
        type=Path,
        metavar="DIST",
        help="also serve this build of the web client (`make web`: app_services/web/dist) at /,"
        " with its config.json and the CSP WebApp sets, the API at /api",
    )
    srv.set_defaults(run=_serve)
    add_commands(sub, options)  # diagram, cost, diff, plan, capacity, docs
    pack = sub.add_parser(
        "policy-pack",
        help="write the installed policy pack as a directory for the Pulumi CLI and print its "
        'path: pulumi preview --policy-pack "$(soundstack policy-pack)"',
    )
    pack.add_argument(
        "--out",
        type=Path,
        default=Path(".soundstack") / "policy-pack",
        help="where to write it (default: .soundstack/policy-pack)",
    )
    pack.set_defaults(run=_policy_pack)
    keys = sub.add_parser(
        "signing-key", help="rotate the CloudFront URL-signing key (soundstack/signing_keys.py)"
    )
    keys.add_argument("action", choices=["rotate", "activate"])
    keys.add_argument("stack", help="stack name (its region and secret name)")
    keys.add_argument("--secret-id", help="override the secret (default: the media component's)")
    keys.set_defaults(run=_signing_key)
    deployed = deployed_stack_options()
    web = sub.add_parser(
        "publish-web",
        parents=[deployed],
        help="after `pulumi up`: upload the built web client (`make web`) to the stack's site "
        "bucket with its config.json, then invalidate index.html and config.json",
    )
    web.add_argument(
        "--dist",
        type=Path,
        default=PROJECT_DIR / "app_services" / "web" / "dist",
        help="the build to publish (default: app_services/web/dist)",
    )
    web.add_argument("--wait", action="store_true", help="wait for the invalidation to complete")
    web.add_argument(
        "--keep-days",
        type=int,
        default=7,
        help="delete files of earlier builds once no publish has needed them for this many "
        "days (default 7: open tabs of the previous build still load their chunks)",
    )
    web.set_defaults(run=_publish_web)
    sign = sub.add_parser(
        "sign-lambda",
        parents=[deployed],
        help="before `pulumi up`: have AWS Signer sign the functions' code and layer with the "
        "stack's profile and record them for a code signing config that enforces",
    )
    sign.set_defaults(run=_sign_lambda)
    redrive = sub.add_parser(
        "redrive",
        parents=[deployed],
        help="list the stack's dead-letter queues and functions' failure queues with their "
        "depth; with --queue NAME --replay, move that DLQ's messages back to the queue they came "
        "from, or invoke the function again with each failed event (soundstack/redrive.py)",
    )
    redrive.add_argument(
        "--queue", metavar="NAME", help="one dead-letter queue (its name in the listing)"
    )
    redrive.add_argument(
        "--replay",
        action="store_true",
        help="move the queue's messages back to its source queue with an SQS move task "
        "(StartMessageMoveTask; none is started while one is running); for a function queue, "
        "invoke the function asynchronously with each record's requestPayload, deleting the "
        "record once Lambda accepted it",
    )
    redrive.add_argument(
        "--by-copy",
        action="store_true",
        help="with --replay: receive, send to the source queue, then delete, from this process "
        "(where SQS move tasks are unavailable); a failed send leaves the message in the DLQ",
    )
    redrive.add_argument(
        "--max-per-second",
        type=int,
        metavar="N",
        help="move task rate, 1 to 500 messages per second (default: SQS chooses)",
    )
    redrive.add_argument(
        "--wait", action="store_true", help="follow the queue's move task until it ends"
    )
    redrive.set_defaults(run=_redrive)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started_in = Path.cwd()
    try:
        if args.cwd is not None:
            try:
                os.chdir(args.cwd)
            except OSError as exc:
                print(f"error: -C {args.cwd}: {exc.strerror}; name an existing directory",
                      file=sys.stderr)  # fmt: skip
                return 2
        if getattr(args, "project_command", False):
            args.project = resolve_project(args)
            with collector_paused():
                return int(args.run(args))
        return int(args.run(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ConfigMissingError, ConfigTypeError) as exc:  # the program's own config reads
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RunError as exc:  # what Pulumi reports without a traceback, as `pulumi up` does
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        os.chdir(started_in)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a project command runs, back as it was after.

    A run imports the pulumi_aws modules its program uses and registers hundreds of resources:
    hundreds of thousands of objects that live until the command ends, which the collector
    would traverse again and again to find almost nothing (prod preview paused: 395 MB at peak
    instead of 385 MB, about half a second faster)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def entry() -> None:
    """The `soundstack` console script: `main`, then exit without the interpreter's final
    collections over everything a run loaded (seconds after a prod preview, for memory the
    process gives back as it exits anyway)."""
    code = main()
    sys.stdout.flush()
    gc.freeze()
    raise SystemExit(code)


if __name__ == "__main__":
    entry()
