"""`make layer`: the project's pip installs Lambda's wheels, and what Lambda never runs is pruned.

The build runs for real on a local wheel (no index), shaped like the ones that bloated the layer:
console scripts, man pages, a test suite and byte code.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAKE = ["make", "--no-print-directory", "-C", str(ROOT)]


def wheel(directory: Path) -> Path:
    """A pure-Python wheel `demo_pkg` 1.0 with everything `make layer` should drop."""
    files = {
        "demo_pkg/__init__.py": b"VALUE = 1\n",
        "demo_pkg/data.json": b"{}\n",
        "demo_pkg/tests/__init__.py": b"",
        "demo_pkg/tests/test_demo.py": b"def test(): pass\n",
        "demo_pkg/__pycache__/__init__.cpython-311.pyc": b"\0" * 16,
        "demo_pkg-1.0.data/scripts/demo-cli": b"#!python\nprint('hi')\n",
        "demo_pkg-1.0.data/data/share/man/man1/demo.1": b".TH DEMO 1\n",
        "demo_pkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\n",
        "demo_pkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("demo_pkg-1.0.dist-info/RECORD,,")
    path = directory / "demo_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
        zipped.writestr("demo_pkg-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return path


def test_layer_target_runs_the_projects_pip_not_the_systems():
    dry = subprocess.run([*MAKE, "-n", "layer"], capture_output=True, text=True, check=True)
    pip = [line for line in dry.stdout.splitlines() if "pip install" in line]
    assert pip and all(line.lstrip().startswith(".venv/bin/python -m pip ") for line in pip)
    assert "--no-compile" in dry.stdout and "--target build/layer/python" in dry.stdout
    assert "python3 -m pip" not in dry.stdout


def test_layer_target_builds_a_lean_layer(tmp_path: Path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel(wheels)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("demo-pkg==1.0\n")
    layer = tmp_path / "layer"
    (layer / "python" / "stale").mkdir(parents=True)  # a previous build is replaced
    options = f"--no-index --find-links {wheels}"
    rds_ca = tmp_path / "global-bundle.pem"  # stands in for the RDS trust store's download
    rds_ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    build = subprocess.run(
        [*MAKE, "layer", f"LAYER_DIR={layer}", f"LAYER_REQUIREMENTS={requirements}",
         f"LAYER_PIP_OPTIONS={options}", f"RDS_CA_BUNDLE_URL=file://{rds_ca}"],
        check=False, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    python = layer / "python"
    shipped = sorted(p.relative_to(python).as_posix() for p in python.rglob("*") if p.is_file())
    assert "demo_pkg/__init__.py" in shipped and "demo_pkg/data.json" in shipped
    assert any(p.startswith("demo_pkg-1.0.dist-info/") for p in shipped)
    for dropped in ("bin/", "share/", "demo_pkg/tests/", "__pycache__/", "stale"):
        assert not [p for p in shipped if dropped in f"{p}/"], dropped
    assert not [p for p in shipped if p.endswith((".pyc", ".pyo"))]
    # the CA bundle DB_SSLROOTCERT points at (components/function.py DB_CA_BUNDLE)
    assert (python / "db-ca-bundle.pem").read_text() == rds_ca.read_text()
