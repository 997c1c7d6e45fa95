"""`soundstack` command line: offline preview of a stack (more commands join here)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from soundstack.preview import document, render
from soundstack.synth import PROJECT_DIR, synthesize_stack
from stacks.loader import ConfigError


def _preview(args: argparse.Namespace) -> int:
    synth = synthesize_stack(args.stack, PROJECT_DIR)
    violations: list = []
    if args.json:
        json.dump(document(synth, violations), sys.stdout, indent=2, sort_keys=False)
        sys.stdout.write("\n")
    else:
        print(render(synth, violations))
    if synth.errors:
        print("\n".join(["errors during the mocked run:", *synth.errors]), file=sys.stderr)
        return 1
    return 1 if any(v.level == "mandatory" for v in violations) else 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="soundstack", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    preview = sub.add_parser(
        "preview", help="run platform/ under Pulumi mocks for a stack and show what it defines"
    )
    preview.add_argument(
        "stack", help="stack name: dev, staging or prod (stacks/Pulumi.<stack>.yaml)"
    )
    preview.add_argument("--json", action="store_true", help="print one JSON document (README)")
    preview.set_defaults(run=_preview)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
