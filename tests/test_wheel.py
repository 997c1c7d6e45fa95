"""The distribution as a platform engineer at another company gets it: the wheel, installed with
only the base extra into a fresh venv outside the repo, used from a directory that has its own
`components/` folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The reference services' runtime (the `services` extra): never installed by the base package.
SERVICE_DISTRIBUTIONS = ("psycopg", "redis", "stripe", "mutagen", "joserfc", "uvicorn", "moto")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _no_checkout_on_the_path() -> Iterator[None]:
    """The fresh venv's commands see no PYTHONPATH: one pointing at a checkout (as when the
    suite runs from a worktree with `PYTHONPATH=<worktree>`) would import soundstack from there
    instead of from the installed wheel."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PYTHONPATH", raising=False)
        yield


def run(*cmd: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, check=False, timeout=600
    )
    assert out.returncode == 0, f"{cmd}: exit {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    # from a copy: an in-tree build would leave build/lib/ in the checkout
    src = dist / "src"
    skip = (
        ".venv",
        "node_modules",
        ".git",
        "build",
        "dist",
        "*.egg-info",
        "__pycache__",
        ".*_cache",
    )
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(*skip))
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, src, cwd=dist)
    (found,) = dist.glob("soundstack-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (outside the repo) with the wheel and its base dependencies only."""
    env = tmp_path_factory.mktemp("venv")
    venv.create(env, with_pip=True)
    run(env / "bin" / "python", "-m", "pip", "install", "--quiet", wheel, cwd=env)
    return env


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's repo with its own `components` package (PyPI has one of that name too)."""
    work = tmp_path_factory.mktemp("acme")
    (work / "components").mkdir()
    (work / "components" / "__init__.py").write_text("")
    (work / "components" / "network.py").write_text("OURS = True\n")
    return work


def test_the_wheel_holds_one_top_level_package_and_the_bundled_estate(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"soundstack", wheel.name.split("-py3")[0] + ".dist-info"}
    for shipped in (
        "soundstack/platform/__main__.py",
        "soundstack/stacks/Pulumi.prod.yaml",
        "soundstack/policies/config/prod.json",
        "soundstack/policies/levels.txt",
        "soundstack/policies/PulumiPolicy.yaml",
        "soundstack/components/templates/listening_dashboard.json.j2",
        "soundstack/insight/data/prices_eu-west-1.json",
        "soundstack/app_services/migrations/0001_accounts.sql",
    ):
        assert shipped in names
    assert not [n for n in names if "/web/" in n or "__pycache__" in n]


def test_base_install_has_no_service_runtime(installed: Path) -> None:
    listed = run(
        installed / "bin" / "python", "-m", "pip", "list", "--format=freeze", cwd=installed
    )
    have = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert not have & {*SERVICE_DISTRIBUTIONS, "psycopg-binary"}


def test_components_import_beside_a_users_own_components_folder(
    installed: Path, workdir: Path
) -> None:
    code = (
        "import importlib, pkgutil, soundstack\n"
        "import soundstack.components.network as n\n"
        "assert n.Network and 'site-packages' in n.__file__, n.__file__\n"
        "import components.network as theirs\n"
        "assert theirs.OURS\n"
        "skip = ('soundstack.app_services', )\n"
        "for m in pkgutil.walk_packages(soundstack.__path__, 'soundstack.'):\n"
        "    if not m.name.startswith(skip) and not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
    )
    run(installed / "bin" / "python", "-c", code, cwd=workdir)


def test_the_installed_cli_previews_the_bundled_prod_stack(installed: Path, workdir: Path) -> None:
    out = run(installed / "bin" / "soundstack", "preview", "prod", cwd=workdir)
    assert "Policy violations (0 mandatory" in out.stdout, out.stdout


def test_the_installed_cli_previews_an_example_program_of_its_own(
    installed: Path, workdir: Path
) -> None:
    """examples/orders-api (its own handler code and a grant) from the user's directory."""
    example = workdir / "orders-api"
    shutil.copytree(ROOT / "examples" / "orders-api", example)
    out = run(
        installed / "bin" / "soundstack", "-C", example, "preview", "dev", "--json", cwd=workdir
    )
    document = json.loads(out.stdout)
    assert not [v for v in document["violations"] if v["level"] == "mandatory"]
    functions = [r for r in document["resources"] if r["type"] == "aws:lambda/function:Function"]
    assert [f["name"] for f in functions] == ["orders-fn-lambda"], functions


def test_the_services_commands_name_the_extra_they_need(installed: Path, workdir: Path) -> None:
    for command in ("serve", "migrate"):
        out = subprocess.run(
            [str(installed / "bin" / "soundstack"), command],
            cwd=workdir, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert out.returncode == 2, out.stderr
        assert "pip install 'soundstack[services]'" in out.stderr and "Traceback" not in out.stderr


def test_the_installed_pack_loads_under_the_pulumi_cli_contract(
    installed: Path, workdir: Path
) -> None:
    """`soundstack policy-pack` writes a pack bound to this venv; started as the Pulumi CLI
    starts a Python pack (its virtualenv's python on `__main__.py`), it loads every policy and
    announces its gRPC port on stdout."""
    out = run(installed / "bin" / "soundstack", "policy-pack", "--out", "pack", cwd=workdir)
    pack = Path(out.stdout.strip())
    assert pack == workdir / "pack"
    assert f"virtualenv: {installed}" in (pack / "PulumiPolicy.yaml").read_text()
    server = subprocess.Popen(
        [str(installed / "bin" / "python"), str(pack / "__main__.py")],
        cwd=pack, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        assert port.isdigit(), server.stderr.read() if server.stderr else port
    finally:
        server.kill()
        server.wait()
