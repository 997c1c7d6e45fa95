"""The insight subcommands of the `soundstack` CLI: diagram, cost, diff, plan, capacity, docs."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from soundstack.insight import capacity, cost, diagram, diff, docs, picture, plan
from soundstack.project import Project
from soundstack.synth import PROJECT_DIR, Synthesis, synthesize_stack

_STACK_HELP = "stack name: its Pulumi.<stack>.yaml (bundled estate: dev, staging or prod)"


def _synth(stack: str, project: Project | None = None) -> Synthesis:
    synth = synthesize_stack(stack, project)
    if synth.errors:
        print("\n".join(["errors during the mocked run:", *synth.errors]), file=sys.stderr)
    return synth


def _diagram(args: argparse.Namespace) -> int:
    out = Path(args.out or f"diagram-{args.stack}.mmd")
    if out.suffix == ".mmd":
        diagram.write(diagram.build(_synth(args.stack, args.project)), out)
    else:
        problem = picture.missing() or picture.unsupported(out)
        if problem:
            print(problem, file=sys.stderr)
            return 2
        picture.write(picture.build(_synth(args.stack, args.project)), out)
    print(f"wrote {out}")
    return 0


def _cost(args: argparse.Namespace) -> int:
    overrides = {
        key: value
        for key, value in (
            ("monthly_streams", args.monthly_streams),
            ("avg_mb_per_stream", args.avg_mb_per_stream),
            ("api_requests_per_stream", args.api_requests_per_stream),
            ("nat_gb", args.nat_gb),
            ("serverless_load", args.serverless_load),
        )
        if value is not None
    }
    report = cost.estimate(_synth(args.stack, args.project), overrides)
    if args.json:
        document = {
            "stack": report.stack,
            "estimate": True,
            "table_date": report.table["date"],
            "region": report.table["region"],
            "total_usd": round(report.total, 2),
            "components": dict(report.by_component()),
            "items": [asdict(i) for i in report.items],
            "assumptions": report.assumptions,
            "unpriced": dict(report.unpriced),
        }
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(cost.render(report, args.top))
    return 0


def _diff(args: argparse.Namespace) -> int:
    result = diff.compare(
        _synth(args.a, args.project), _synth(args.b, args.project), normalise=not args.raw
    )
    if args.json:
        json.dump(diff.as_json(result), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(diff.render(result))
    return 0


def _plan(args: argparse.Namespace) -> int:
    print(plan.render(plan.build(_synth(args.stack, args.project))))
    return 0


def _capacity(args: argparse.Namespace) -> int:
    overrides: dict[str, float] = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"--set {item}: use key=value, e.g. --set pod_rps=200", file=sys.stderr)
            return 2
        overrides[key] = float(value)
    try:
        m = capacity.model(overrides, args.peak_factor)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    synth = _synth(args.stack, args.project)
    listeners = args.listeners
    if args.find_limit:
        first = capacity.analyse(synth, 1, m).first
        if first is not None and first.saturates_at is not None:
            listeners = first.saturates_at
    result = capacity.analyse(synth, listeners, m)
    if args.json:
        json.dump(capacity.as_json(result), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(capacity.render(result))
    return 0


def _docs(args: argparse.Namespace) -> int:
    readme = PROJECT_DIR / "README.md"
    synths = {s: _synth(s) for s in docs.STACKS}
    current = docs.update(readme, synths, check=args.check)
    stale = docs.update_files(PROJECT_DIR, synths, check=args.check)
    if args.check and (stale or not current):
        for path in ([] if current else [readme]) + stale:
            print(f"{path} is stale: run `soundstack docs`", file=sys.stderr)
        return 1
    print(f"{readme}: generated sections {'up to date' if current else 'rewritten'}")
    for path in stale:
        print(f"{path}: rewritten")
    return 0


def add_commands(sub: argparse._SubParsersAction, options: argparse.ArgumentParser) -> None:
    """Register the insight subcommands on the `soundstack` parser; those that run a project
    take its `options` (`-C DIR`, `--bundled`)."""
    p = sub.add_parser(
        "diagram", parents=[options], help="architecture picture (.svg/.png) or component diagram"
    )
    p.add_argument("stack", help=_STACK_HELP)
    p.add_argument(
        "--out",
        help="file to write: .svg, .png or .dot (AWS icons, grouped by where things run) "
        "or .mmd (Mermaid component diagram; the default: diagram-<stack>.mmd)",
    )
    p.set_defaults(run=_diagram, project_command=True)

    p = sub.add_parser(
        "cost", parents=[options], help="ESTIMATED monthly cost per component (dated price table)"
    )
    p.add_argument("stack", help=_STACK_HELP)
    p.add_argument("--monthly-streams", type=float, help="streams a month (default: per env)")
    p.add_argument("--avg-mb-per-stream", type=float, help="MB delivered per stream")
    p.add_argument("--api-requests-per-stream", type=float, help="API calls per stream")
    p.add_argument("--nat-gb", type=float, help="GB a month through the NAT gateways")
    p.add_argument("--serverless-load", type=float, help="0-1: where serverless capacity sits")
    p.add_argument("--top", type=int, default=8, help="how many cost drivers to list")
    p.add_argument("--json", action="store_true", help="machine-readable estimate")
    p.set_defaults(run=_cost, project_command=True)

    p = sub.add_parser(
        "diff", parents=[options], help="resources and settings that differ between two stacks"
    )
    p.add_argument("a", help=_STACK_HELP)
    p.add_argument("b", help=_STACK_HELP)
    p.add_argument("--raw", action="store_true", help="do not replace stack names by <stack>")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_diff, project_command=True)

    p = sub.add_parser(
        "plan", parents=[options], help="critical path and estimated time of a first deploy"
    )
    p.add_argument("stack", help=_STACK_HELP)
    p.set_defaults(run=_plan, project_command=True)

    p = sub.add_parser(
        "capacity", parents=[options], help="which limit saturates first as listeners grow"
    )
    p.add_argument("stack", help=_STACK_HELP)
    p.add_argument(
        "--listeners",
        type=float,
        default=10_000,
        help="concurrent listeners in the busy hour (default 10,000)",
    )
    p.add_argument(
        "--peak-factor",
        type=float,
        default=1.5,
        help="short peaks over the busy hour's average rates (default 1.5)",
    )
    p.add_argument(
        "--find-limit",
        action="store_true",
        help="bisect the listener count at which the first limit saturates",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a per-listener load assumption (data/capacity_model.json)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable table")
    p.set_defaults(run=_capacity, project_command=True)

    p = sub.add_parser("docs", help="regenerate README's generated sections (diagram, costs)")
    p.add_argument("--check", action="store_true", help="only check; exit 1 when stale")
    p.set_defaults(run=_docs)
