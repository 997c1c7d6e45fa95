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

from soundstack import cli
from soundstack.app_services.catalog import service as catalog_service
from soundstack.app_services.catalog.api import routes as catalog_routes
from soundstack.app_services.core.asgi import AsgiApp, bearer
from soundstack.app_services.core.errors import Unauthorized
from soundstack.app_services.core.gateway import Gateway
from soundstack.app_services.core.serve import serve_in_thread
from soundstack.app_services.playlist import service as playlist_service

from .conftest import FIXTURES, TEST_DSN, new_user


@pytest.fixture
def server(aws, service_env) -> Iterator[str]:
    catalog_service.catalog.cache_clear()
    playlist_service.playlists.cache_clear()
    running = serve_in_thread()
    yield running.url
    running.stop()
    catalog_service.catalog.cache_clear()
    playlist_service.playlists.cache_clear()


def request(
    url: str,
    method: str = "GET",
    body: object = None,
    user: str | None = None,
    country: str | None = None,
):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if user:
        req.add_header("x-claim-sub", user)
    if country:
        req.add_header("CloudFront-Viewer-Country", country)
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
    app = importlib.import_module(f"soundstack.app_services.{module}.asgi").app

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


def test_head_and_options_are_answered_not_501(server, db):
    import http.client
    from urllib.parse import urlsplit

    user = new_user(db)
    pid = request(f"{server}/playlists", "POST", {"name": "Heads"}, user)[1]["playlist_id"]
    conn = http.client.HTTPConnection(urlsplit(server).netloc, timeout=10)
    conn.request("GET", f"/playlists/{pid}", headers={"x-claim-sub": user})
    got = conn.getresponse()
    length = len(got.read())
    conn.request("HEAD", f"/playlists/{pid}", headers={"x-claim-sub": user})
    head = conn.getresponse()
    assert (head.status, head.read()) == (200, b"")
    assert head.headers["content-length"] == str(length)
    conn.request("OPTIONS", f"/playlists/{pid}")
    options = conn.getresponse()
    options.read()
    assert options.status == 204
    assert set(options.headers["allow"].split(", ")) == {
        "GET",
        "HEAD",
        "PATCH",
        "DELETE",
        "OPTIONS",
    }
    conn.request("OPTIONS", "/nowhere")
    assert conn.getresponse().status == 404


def test_ingest_keys_with_plus_and_percent_are_decoded_once(server):
    from urllib.parse import quote

    boto3.client("s3").create_bucket(
        Bucket="local-media", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    key = f"uploads/{uuid.uuid4().hex} a+b 100%.opus"
    boto3.client("s3").upload_file(str(FIXTURES / "tone.opus"), "local-media", key)
    url = f"{server}/_local/ingest?bucket=local-media&key={quote(key, safe='')}"
    status, report = request(url, "POST")
    assert status == 200 and len(report["ingested"]) == 1, report


def test_two_hundred_simultaneous_connections_are_all_served(server):
    import http.client
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier
    from urllib.parse import urlsplit

    barrier = Barrier(200)

    def one(_: int) -> int:
        conn = http.client.HTTPConnection(urlsplit(server).netloc, timeout=30)
        barrier.wait()
        conn.request("GET", "/playlists")  # 401 without a user: no database involved
        status = conn.getresponse().status
        conn.close()
        return status

    with ThreadPoolExecutor(200) as pool:
        assert list(pool.map(one, range(200))) == [401] * 200


def test_a_kept_alive_connection_answers_in_milliseconds_not_tens(server):
    import http.client
    import statistics
    import time
    from urllib.parse import urlsplit

    conn = http.client.HTTPConnection(urlsplit(server).netloc, timeout=10)
    took = []
    for _ in range(60):
        start = time.perf_counter()
        conn.request("GET", "/playlists")
        conn.getresponse().read()
        took.append(time.perf_counter() - start)
    # Nagle's algorithm and delayed ACKs cost ~40 ms per kept-alive request on the old server
    assert statistics.median(took[10:]) < 0.02, took


@pytest.fixture
def local_aws(service_env, monkeypatch) -> Iterator[str]:
    """`--local-aws`: moto's server on a free loopback port, provisioned (no in-process mocks)."""
    from soundstack.app_services.activity import handler as activity
    from soundstack.app_services.core import aws as shared
    from soundstack.app_services.core.serve import local_aws_environment, provision, start_local_aws

    running = start_local_aws(port=0)
    for name, value in local_aws_environment(running.endpoint).items():
        monkeypatch.setenv(name, value)  # restored afterwards
    settings = provision("eu-west-1")
    assert set(settings) == set(PROVISIONED)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    caches = (shared.client, catalog_service.catalog, playlist_service.playlists, activity.service)
    for cached in caches:
        cached.cache_clear()
    yield running.endpoint
    reset = urllib.request.Request(f"{running.endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()  # moto's state is per process
    running.stop()
    for cached in caches:
        cached.cache_clear()


PROVISIONED = (
    "ACTIVITY_STREAM_NAME", "ACTIVITY_TOPIC_ARN", "GRAPH_BACKEND", "CLOUDFRONT_SIGNING_SECRET_ID",
    "PAYMENT_SECRET_ARN", "PAYMENT_PLANS", "PAYPAL_WEBHOOK_ID", "CHECKOUT_SUCCESS_URL",
    "CHECKOUT_CANCEL_URL",
)  # fmt: skip


def test_local_aws_is_a_real_endpoint_with_everything_the_services_use(local_aws, db, monkeypatch):
    from soundstack.app_services.core.serve import MEDIA_BUCKET, apply_local_defaults

    monkeypatch.setenv("VIEWER_COUNTRY_SOURCE", "unset")  # restored (unset) afterwards
    monkeypatch.delenv("VIEWER_COUNTRY_SOURCE")
    apply_local_defaults()  # what `soundstack serve` does first
    # an ordinary HTTP PUT (what `curl -T` or `aws s3 cp --endpoint-url` do) uploads a file,
    # here licensed in France only
    key = f"uploads/{uuid.uuid4().hex}.mp3"
    put = urllib.request.Request(
        f"{local_aws}/{MEDIA_BUCKET}/{key}",
        data=(FIXTURES / "tone.mp3").read_bytes(),
        headers={"Content-Type": "audio/mpeg", "x-amz-meta-territories": "FR"},
        method="PUT",
    )
    with urllib.request.urlopen(put, timeout=10) as reply:
        assert reply.status == 200
    running = serve_in_thread()
    try:
        status, report = request(f"{running.url}/_local/ingest?key={key}", "POST")
        assert status == 200 and len(report["ingested"]) == 1, report
        (track_id,) = report["ingested"]
        user = new_user(db)
        with db.transaction() as cur:
            cur.execute(
                "INSERT INTO subscriptions (user_id, provider, status, plan)"
                " VALUES (%s, 'internal', 'active', 'premium_monthly')",
                (user,),
            )
        stream = f"{running.url}/catalog/tracks/{track_id}/stream"
        # no CloudFront locally: no country header, no territory refusal (documented)
        status, signed = request(stream, user=user)
        assert status == 200 and "Signature=" in signed["url"]  # the provisioned signing key
        status, refused = request(stream, user=user, country="DE")
        assert (status, refused["error"]["code"]) == (403, "territory_not_licensed")
        assert request(stream, user=user, country="FR")[0] == 200
        play = {"event_id": str(uuid.uuid4()), "track_id": track_id, "ms_played": 1000}
        assert request(f"{running.url}/activity/plays", "POST", play, user)[0] == 201
        status, plans = request(f"{running.url}/payments/subscription", user=user)
        assert status == 200 and plans["status"] == "active"
    finally:
        running.stop()
