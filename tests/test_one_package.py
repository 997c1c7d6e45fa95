"""Everything imports under the one top-level package `soundstack` (the repo's folders are linked
into it: soundstack/components → components/ …); a user's own `components/` never shadows ours."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("components", "stacks", "policies", "app_services")
TOP_LEVEL = re.compile(r"^\s*(?:from|import) (" + "|".join(FOLDERS) + r")\b", re.M)
#: The pack's entry point imports the pack by its folder name (the CLI runs it as a script).
ENTRY_POINTS = {ROOT / "policies" / "__main__.py"}


def sources() -> list[Path]:
    """Every Python file once, by its real path (the links under soundstack/ are not walked)."""
    skip = {".venv", "node_modules", ".git", "build"}
    return [p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts)]


def test_no_source_imports_a_folder_as_a_top_level_package():
    found = [
        f"{p.relative_to(ROOT)}: {m.group(0).strip()}"
        for p in sources()
        if p not in ENTRY_POINTS
        for m in TOP_LEVEL.finditer(p.read_text())
    ]
    assert found == []


def test_the_folders_are_the_soundstack_subpackages():
    for folder in (*FOLDERS, "platform"):
        link = ROOT / "soundstack" / folder
        assert link.is_symlink() and link.resolve() == ROOT / folder


def test_importing_every_module_loads_no_top_level_folder_package():
    code = (
        "import importlib, pkgutil, sys, soundstack\n"
        "for m in pkgutil.walk_packages(soundstack.__path__, 'soundstack.'):\n"
        "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {FOLDERS!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
