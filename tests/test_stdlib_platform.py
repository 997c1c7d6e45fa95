"""`platform/` is a Pulumi program directory, never a package that shadows the stdlib module."""

import importlib
import pkgutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_platform_is_stdlib_after_importing_every_soundstack_module():
    pkg = importlib.import_module("soundstack")
    for info in pkgutil.walk_packages(pkg.__path__, "soundstack."):
        if info.name.endswith("__main__"):
            continue  # a pack's entry point starts a server
        importlib.import_module(info.name)
    import platform

    assert Path(platform.__file__).parent == Path(sysconfig.get_paths()["stdlib"])
    assert platform.python_version().startswith(f"{sys.version_info.major}.")


def test_platform_is_stdlib_with_repo_root_first_on_path():
    code = "import platform, sys; print(platform.__file__); platform.system()"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert Path(out.stdout.strip()).parent == Path(sysconfig.get_paths()["stdlib"])


def test_platform_directory_is_not_a_package():
    assert not (ROOT / "platform" / "__init__.py").exists()
    assert [p.name for p in (ROOT / "platform").glob("*.py")] == ["__main__.py"]
