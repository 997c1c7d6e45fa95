"""The pack stays a pack: it imports only the standard library, its own modules and what its
requirements.txt declares; never the soundstack tooling or components."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

PACK = Path(__file__).resolve().parents[2] / "policies"


def imported_top_levels() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in PACK.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(path.name)
    # importlib.import_module(f"pulumi_aws.{…}") in schema.py
    if "pulumi_aws." in (PACK / "schema.py").read_text():
        found.setdefault("pulumi_aws", set()).add("schema.py")
    return found


def declared() -> set[str]:
    lines = (PACK / "requirements.txt").read_text().splitlines()
    names = [re.split(r"[<>=!\[ ]", ln.strip())[0] for ln in lines if ln.strip() and ln[0] != "#"]
    return {n.lower().replace("-", "_") for n in names}


def test_the_pack_imports_only_the_stdlib_itself_and_its_declared_requirements():
    third_party = {
        name: files
        for name, files in imported_top_levels().items()
        if name not in sys.stdlib_module_names and name != "__future__"
    }
    # the entry point imports the pack by its folder name (sys.path set to the folder's parent)
    assert third_party.pop("policies", set()) == {"__main__.py"}
    assert "soundstack" not in third_party
    assert set(third_party) == declared()


def test_the_packs_copy_of_the_territories_is_the_services_own():
    """Both deployables carry the ISO 3166-1 list (neither may import the other)."""
    services = PACK.parent / "app_services" / "core" / "territories.py"
    assert (PACK / "territories.py").read_bytes() == services.read_bytes()
