"""`soundstack serve` answers over real HTTP; the ASGI adapter; `soundstack migrate`."""

from __future__ import annotations

import asyncio
import importlib
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import boto3
import psycopg
import pytest
from psycopg import sql

from app_services.catalog import service as catalog_service
from app_services.catalog.api import routes as catalog_routes
from app_services.core.asgi import AsgiApp, bearer
from app_services.core.errors import Unauthorized
from app_services.core.gateway import Gateway
from app_services.core.serve import serve_in_thread
from app_services.playlist import service as playlist_service
from soundstack import cli

from .conftest import FIXTURES, TEST_DSN, new_user


@pytest.fixture
def server(aws, service_env) -> Iterator[str]:
    catalog_service.catalog.cache_clear()
    playlist_service.playlists.cache_clear()
    running = serve_in_thread()
    yield f"http://127.0.0.1:{running.server_address[1]}"
    running.shutdown()
    running.server_close()
    catalog_service.catalog.cache_clear()
    playlist_service.playlists.cache_clear()


def request(url: str, method: str = "GET", body: object = None, user: str | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if user:
        req.add_header("x-claim-sub", user)
    try:
        with urllib.request.urlopen(req, timeout=10) as reply:
            text = reply.read()
            return reply.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_answers_with_the_lambda_routes(server, db):
    user = new_user(db)
    status, created = request(f"{server}/playlists", "POST", {"name": "Local"}, user)
    assert status == 201 and created["name"] == "Local"
    status, got = request(f"{server}/playlists/{created['playlist_id']}", user=user)
    assert (status, got["playlist_id"]) == (200, created["playlist_id"])
    assert request(f"{server}/playlists", "POST", {"name": "x"})[0] == 401
    status, body = request(f"{server}/nowhere")
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_serve_ingests_from_s3_and_searches(server):
    boto3.client("s3").create_bucket(
        Bucket="local-media", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    key = f"uploads/{uuid.uuid4().hex}.opus"
    boto3.client("s3").upload_file(str(FIXTURES / "tone.opus"), "local-media", key)
    status, report = request(f"{server}/_local/ingest?bucket=local-media&key={key}", "POST", {})
    assert status == 200 and len(report["ingested"]) == 1
    status, found = request(f"{server}/catalog/search?q=creme+brulee")
    assert status == 200 and report["ingested"][0] in [t["track_id"] for t in found]


def run_asgi(app: AsgiApp, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], sent[1]["body"]


def test_asgi_app_verifies_bearer_tokens_and_ignores_claim_headers(service_env):
    def verify(token: str) -> dict:
        if token != "good":
            raise Unauthorized("invalid token: bad signature")
        return {"sub": "user-1"}

    app = AsgiApp(Gateway([catalog_routes]), bearer(verify), "catalog")
    path = f"/catalog/tracks/{uuid.uuid4()}/stream"
    assert run_asgi(app, "/healthz", []) == (200, b"ok")
    status, body = run_asgi(app, path, [(b"x-claim-sub", b"forged")])
    assert status == 401  # headers cannot impersonate a user inside the cluster
    status, body = run_asgi(app, path, [(b"authorization", b"Bearer bad")])
    assert (status, json.loads(body)["error"]["code"]) == (401, "unauthorized")
    catalog_service.catalog.cache_clear()
    status, body = run_asgi(app, path, [(b"authorization", b"Bearer good")])
    assert status == 404  # authenticated: the track simply does not exist
    catalog_service.catalog.cache_clear()


@pytest.mark.parametrize(
    ("module", "route"),
    [("catalog", "GET /catalog/search"), ("recommendation", "GET /recommendations/me")],
)
def test_asgi_modules_serve_their_services_routes(module, route):
    app = importlib.import_module(f"app_services.{module}.asgi").app

    assert isinstance(app, AsgiApp)
    assert route in app.gateway.route_keys


def test_migrate_command_applies_then_reports_up_to_date(capsys):
    schema = f"cli_{uuid.uuid4().hex[:10]}"
    try:
        assert cli.main(["migrate", "--dsn", TEST_DSN, "--schema", schema]) == 0
        assert "applied 0001, 0002, 0003" in capsys.readouterr().out
        assert cli.main(["migrate", "--dsn", TEST_DSN, "--schema", schema]) == 0
        assert "up to date" in capsys.readouterr().out
    finally:
        with psycopg.connect(TEST_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
