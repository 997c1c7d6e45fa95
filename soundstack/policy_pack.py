"""`soundstack policy-pack`: the pack as a directory the Pulumi CLI can load from an installed
package (`pulumi preview --policy-pack "$(soundstack policy-pack)"`).

The repository's `policies/PulumiPolicy.yaml` names the repo's `.venv`; inside site-packages that
path means nothing. This writes a two-file pack bound to the interpreter running `soundstack`:
its `PulumiPolicy.yaml` names that virtualenv, and its `__main__.py` runs the installed pack's
entry point (`soundstack/policies/__main__.py`), so the policies are exactly the installed ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

import soundstack

PACK_DIR = Path(soundstack.__file__).resolve().parent / "policies"

_MAIN = '''"""Runs the installed SoundStack policy pack (written by `soundstack policy-pack`)."""

import runpy

runpy.run_path({entry!r}, run_name="__main__")
'''


def write(out: Path) -> Path:
    """Write the pack into `out` (created if needed); returns its absolute path."""
    out = out.absolute()
    out.mkdir(parents=True, exist_ok=True)
    in_venv = sys.prefix != sys.base_prefix
    options = f"  options:\n    virtualenv: {sys.prefix}\n" if in_venv else ""
    (out / "PulumiPolicy.yaml").write_text(
        "# Written by `soundstack policy-pack`; runs the pack installed in the environment below.\n"
        f"runtime:\n  name: python\n{options}"
        f"description: SoundStack controls ({PACK_DIR})\n"
    )
    (out / "__main__.py").write_text(_MAIN.format(entry=str(PACK_DIR / "__main__.py")))
    return out


def config_file(stack: str) -> Path | None:
    """The pack's own `--policy-pack-config` for a bundled stack name, if it has one."""
    path = PACK_DIR / "config" / f"{stack}.json"
    return path if path.is_file() else None
