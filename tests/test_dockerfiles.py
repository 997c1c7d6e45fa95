"""The EKS images (app_services/<service>/Dockerfile): what their pods need at run time is in them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILES = sorted((ROOT / "app_services").glob("*/Dockerfile"))


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def rds_bundle_url() -> str:
    (url,) = re.findall(r"^RDS_CA_BUNDLE_URL \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    return url


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_image_verifies_the_database_certificate_against_the_rds_and_system_roots(
    dockerfile: Path,
) -> None:
    steps = instructions(dockerfile)
    env = {k: v for kind, args in steps if kind == "ENV" for k, _, v in [args.partition("=")]}
    bundle = env["DB_SSLROOTCERT"]
    (added,) = [args.split() for kind, args in steps if kind == "ADD" and "://" in args]
    assert added[0] == rds_bundle_url()
    (writes,) = [args for kind, args in steps if kind == "RUN" and f"> {bundle}" in args]
    assert added[1] in writes and "/etc/ssl/certs/ca-certificates.crt" in writes
    # set before the app runs: the ENV comes before USER/CMD
    kinds = [kind for kind, _ in steps]
    assert kinds.index("ENV", kinds.index("ADD")) < kinds.index("USER") < kinds.index("CMD")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_image_runs_its_services_asgi_app_as_a_numeric_non_root_user(dockerfile: Path) -> None:
    steps = dict(instructions(dockerfile))
    assert steps["USER"].isdigit() and steps["USER"] != "0"
    module = re.search(r'"(app_services\.[\w.]+):app"', steps["CMD"])
    assert module is not None
    assert (ROOT / (module.group(1).replace(".", "/") + ".py")).is_file()
    assert module.group(1) == f"app_services.{dockerfile.parent.name}.asgi"
