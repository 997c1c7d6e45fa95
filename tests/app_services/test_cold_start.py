"""Cold starts: importing a handler loads the third-party modules its most frequent route needs
and nothing heavier; what only other routes need loads on first use (issue 16).

Each handler is imported in a fresh interpreter (as Lambda's init does), then `sys.modules` is
inspected. The hot routes are those of `benchmarks/services.py` (`HOT`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Dependencies that cost a cold start tens of milliseconds or more, and only some routes use.
HEAVY = frozenset(
    {"boto3", "botocore", "psycopg", "redis", "stripe", "mutagen", "joserfc", "uvicorn", "moto"}
)
#: Per handler: (heavy modules its hot route needs, validators its hot route uses). Those
#: validators must be built at import: moving the hot route's own work to its first request
#: would only hide it from the import time.
HOT = {
    "activity": (
        {"boto3", "botocore", "psycopg"},
        [
            "soundstack.app_services.core.events:HttpApiEvent",
            "soundstack.app_services.activity.domain:PlayBody",
        ],
    ),
    # the edge gate on a public route: origin-verify secret from Secrets Manager, no token
    "auth": ({"boto3", "botocore"}, []),
    "catalog": ({"psycopg", "redis"}, ["soundstack.app_services.core.events:HttpApiEvent"]),
    # fan-out: Neptune is reached with botocore's SigV4; PostgreSQL is not on this path
    "feed": (
        {"boto3", "botocore", "redis"},
        [
            "soundstack.app_services.core.events:KinesisEvent",
            "soundstack.app_services.core.events:SnsEvent",
        ],
    ),
    "payment": ({"psycopg"}, ["soundstack.app_services.core.events:HttpApiEvent"]),
    "playlist": ({"psycopg", "redis"}, ["soundstack.app_services.core.events:HttpApiEvent"]),
    "recommendation": ({"psycopg", "redis"}, ["soundstack.app_services.core.events:HttpApiEvent"]),
    # the hourly key-age check: Secrets Manager metadata and CloudWatch, nothing else
    "reminders": ({"boto3", "botocore"}, []),
}
PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
built = {}
for ref in json.loads(sys.argv[2]):
    module, name = ref.split(":")
    model = getattr(importlib.import_module(module), name)
    built[ref] = type(model.__pydantic_validator__).__name__ == "SchemaValidator"
print(json.dumps({"loaded": sorted({m.split(".")[0] for m in sys.modules}), "built": built}))
"""


def probe(module: str, models: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module, json.dumps(models)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, Any] = json.loads(out.stdout)
    return found


def test_every_handler_has_a_hot_route() -> None:
    assert {p.parent.name for p in (ROOT / "app_services").glob("*/handler.py")} == set(HOT)


@pytest.mark.parametrize("service", sorted(HOT))
def test_import_loads_only_what_the_hot_route_needs(service: str) -> None:
    needed, models = HOT[service]
    found = probe(f"soundstack.app_services.{service}.handler", models)
    loaded = HEAVY & set(found["loaded"])
    assert loaded <= needed, f"{service} imports {sorted(loaded - needed)} at cold start"
    assert found["built"] == dict.fromkeys(models, True), "hot-route validators must be built"


def test_a_deferred_validator_still_validates() -> None:
    """A body of a rare route builds on first use and rejects what it always rejected."""
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import app_services.payment.handler as h, app_services.payment.domain as d\n"
            "from app_services.core.events import parse_model\n"
            "from app_services.core.errors import BadRequest\n"
            "before = type(d.CheckoutBody.__pydantic_validator__).__name__\n"
            "try:\n"
            "    parse_model(d.CheckoutBody, {'provider': 'bitcoin', 'plan': 'x'})\n"
            "except BadRequest as exc:\n"
            "    print(before, exc.field)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert found == ["MockValSer", "provider"]
