"""Issue 14: settings faults are the server's, one rule for every request body, README settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TypeVar

import pytest
from pydantic import BaseModel

from soundstack.app_services.core.errors import Misconfigured
from soundstack.app_services.core.events import RequestBody
from soundstack.app_services.core.routing import Routes, build_event
from soundstack.app_services.core.settings import ServiceSettings, load_settings, variables
from soundstack.app_services.payment import handler as payment

from .conftest import TEST_DSN

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
PAYMENT_VARIABLES = ("PAYMENT_SECRET_ARN", "PAYMENT_PLANS", "CHECKOUT_SUCCESS_URL")


def below(cls: type[T]) -> list[type[T]]:
    """Every subclass of `cls`, at any depth."""
    return [c for sub in cls.__subclasses__() for c in (sub, *below(sub))]


def all_settings() -> list[type[ServiceSettings]]:
    """Every settings class of every service (their modules imported first)."""
    import importlib
    import pkgutil

    import app_services

    for module in pkgutil.walk_packages(app_services.__path__, "app_services."):
        importlib.import_module(module.name)

    return [ServiceSettings, *below(ServiceSettings)]


def test_missing_settings_are_a_5xx_naming_the_variable_never_a_400(
    aws: None, service_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    payment.service.cache_clear()
    event = build_event(
        "POST", "/payments/checkout", body='{"provider": "stripe", "plan": "p"}',
        claims={"sub": "u1"},
    )  # fmt: skip

    reply = payment.handler(event)

    body = json.loads(reply["body"])
    assert (reply["statusCode"], body["error"]["code"]) == (500, "misconfigured")
    assert "PAYMENT" not in reply["body"]  # the client learns nothing about the server
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (failure,) = [line for line in logged if line["level"] == "ERROR"]
    assert all(name in failure["detail"] for name in PAYMENT_VARIABLES)
    assert failure["request_id"] == body["error"]["request_id"]


def test_a_settings_error_never_echoes_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHE_TTL_SECONDS", "s3cr3t-value")
    load_settings.cache_clear()
    with pytest.raises(Misconfigured) as bad:
        load_settings(ServiceSettings)
    load_settings.cache_clear()
    assert "CACHE_TTL_SECONDS" in bad.value.message and "s3cr3t" not in bad.value.message


def test_routes_parse_their_settings_at_import_inside_lambda(monkeypatch) -> None:
    for name in PAYMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    load_settings.cache_clear()
    Routes("outside", settings=(payment.PaymentSettings,))  # tests, local server: lazily
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "soundstack-dev-payment")
    with pytest.raises(Misconfigured, match="PAYMENT_SECRET_ARN"):
        Routes("inside", settings=(payment.PaymentSettings,))
    load_settings.cache_clear()


@pytest.mark.parametrize(
    "module",
    [
        "soundstack.app_services.payment.handler",
        "soundstack.app_services.activity.handler",
        "soundstack.app_services.catalog.handler",
        "soundstack.app_services.playlist.handler",
        "soundstack.app_services.recommendation.handler",
        "soundstack.app_services.feed.handler",
    ],
)
def test_a_function_with_broken_settings_fails_its_cold_start(module: str) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_FUNCTION_NAME": "soundstack-dev-fn",
        "DATABASE_URL": TEST_DSN,
        "CACHE_TTL_SECONDS": "0",  # below its minimum: every service reads it
    }
    run = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode != 0
    assert "CACHE_TTL_SECONDS" in run.stdout + run.stderr


def test_every_request_body_forbids_unknown_fields() -> None:
    all_settings()  # imports every service module
    bodies = below(RequestBody)
    assert len(bodies) >= 8
    for body in bodies:
        assert body.model_config.get("extra") == "forbid", body
    # and every body model a route parses is a RequestBody: no plain BaseModel has "Body" in name
    named = [c for c in below(BaseModel) if c.__name__.endswith("Body") and c is not RequestBody]
    stray = [c for c in named if c not in bodies]
    assert stray == []


def test_the_readme_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Reference services", 1)[1].split("\n## ", 1)[0]
    missing = sorted(
        {name for cls in all_settings() for name in variables(cls)} - set(_backticked(section))
    )
    assert missing == []


def _backticked(text: str) -> list[str]:
    return text.split("`")[1::2]
