"""`soundstack serve --local-aws --web`: the app with the stack's CSP, signed media checked as
CloudFront checks them, checkout through the providers' doubles, the live feed over a real
WebSocket; over real HTTP against moto's server, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import websockets

from soundstack.app_services.activity import handler as activity
from soundstack.app_services.catalog import service as catalog_service
from soundstack.app_services.core import aws as shared
from soundstack.app_services.core import serve
from soundstack.app_services.core.local_edge import LocalOrigins
from soundstack.app_services.core.settings import load_settings
from soundstack.app_services.payment import handler as payment
from soundstack.app_services.payment.local import LocalProviders
from soundstack.app_services.playlist import service as playlist_service
from soundstack.components.web import content_security_policy
from soundstack.publish_web import local_site

from .conftest import FIXTURES


@dataclass
class Edge:
    origins: LocalOrigins
    aws: str

    def call(
        self, method: str, path: str, *, host: str | None = None, body: Any = None,
        headers: dict[str, str] | None = None, user: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        """One request to the server as a browser on `host` (default: the app's) sends it."""
        conn = http.client.HTTPConnection("127.0.0.1", self.origins.port, timeout=10)
        sent = {"Host": f"{host or '127.0.0.1'}:{self.origins.port}", **(headers or {})}
        if user:
            sent["x-claim-sub"] = user
        data = body if isinstance(body, bytes | str) or body is None else json.dumps(body)
        conn.request(method, path, body=data, headers=sent)
        reply = conn.getresponse()
        result = reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
        conn.close()
        return result

    def api(self, method: str, path: str, body: Any = None, user: str | None = None) -> Any:
        status, _, raw = self.call(method, f"/api{path}", body=body, user=user)
        return status, json.loads(raw) if raw else None


@pytest.fixture
def edge(service_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Edge]:
    running_aws = serve.start_local_aws(port=0)
    for name, value in serve.local_aws_environment(running_aws.endpoint).items():
        monkeypatch.setenv(name, value)
    sock = serve.listen("127.0.0.1", 0)
    origins = LocalOrigins.of("127.0.0.1", sock.getsockname()[1])
    providers = LocalProviders(origins.checkout)
    for name, value in serve.provision("eu-west-1", origins, providers).items():
        monkeypatch.setenv(name, value)
    for seam in ("stripe_client", "paypal_transport"):  # restored after the test
        monkeypatch.setattr(payment, seam, getattr(payment, seam))
    caches = (shared.client, catalog_service.catalog, playlist_service.playlists,
              activity.service, payment.service, payment.database, load_settings)  # fmt: skip
    for cached in caches:
        cached.cache_clear()
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><script src='./assets/app-1.js'></script>")
    (dist / "assets" / "app-1.js").write_text("console.log('app')")
    app, closers = serve.edge(
        serve.gateway(), origins, site=local_site(dist)(origins), providers=providers,
        media_bucket=serve.MEDIA_BUCKET,
    )  # fmt: skip
    running = serve.start(sock, app, closers)
    yield Edge(origins, running_aws.endpoint)
    running.stop()
    reset = urllib.request.Request(f"{running_aws.endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()  # moto's state is per process
    running_aws.stop()
    for cached in caches:
        cached.cache_clear()


def ingest(edge: Edge, fixture: str) -> str:
    """Upload a fixture to the local media bucket (plain HTTP PUT) and ingest it."""
    key = f"uploads/{uuid.uuid4().hex} {fixture}"
    conn = http.client.HTTPConnection(urllib.parse.urlsplit(edge.aws).netloc, timeout=10)
    conn.request("PUT", f"/{serve.MEDIA_BUCKET}/{urllib.parse.quote(key)}",
                 body=(FIXTURES / fixture).read_bytes())  # fmt: skip
    assert conn.getresponse().status == 200
    status, report = edge.api("POST", f"/_local/ingest?key={urllib.parse.quote(key)}", {})
    assert status == 200, report
    return str(report["ingested"][0])


def sign_in(edge: Edge) -> str:
    user = f"user-{uuid.uuid4().hex[:8]}"
    assert edge.api("POST", "/_local/sign-in", {"user_id": user})[0] == 201
    return user


def test_the_app_is_served_with_the_csp_webapp_builds_and_a_local_config(edge: Edge) -> None:
    o = edge.origins
    status, headers, body = edge.call("GET", "/")

    assert status == 200 and body.startswith(b"<!doctype html>")
    assert headers["content-security-policy"] == content_security_policy([o.feed], [o.media])
    assert "upgrade-insecure-requests" in headers["content-security-policy"]
    assert (headers["x-frame-options"], headers["x-content-type-options"]) == ("DENY", "nosniff")
    assert headers["cache-control"] == "no-cache"
    status, headers, _ = edge.call("GET", "/assets/app-1.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    _, headers, body = edge.call("GET", "/config.json")
    assert json.loads(body) == {"mode": "local", "apiUrl": "/api", "feedUrl": o.feed,
                                "mediaUrl": o.media}  # fmt: skip
    assert edge.call("GET", "/assets/../../etc/passwd")[0] == 404
    assert edge.api("GET", "/health") == (200, {"status": "ok"})  # the API under /api


def test_local_sign_in_creates_the_profile_once(edge: Edge, db) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    body = {"user_id": user, "display_name": "Ada"}
    assert edge.api("POST", "/_local/sign-in", body) == (201, {"user_id": user,
                                                               "display_name": "Ada"})  # fmt: skip
    assert edge.api("POST", "/_local/sign-in", body)[0] == 200
    assert edge.api("POST", "/_local/sign-in", {"user_id": "two words"})[0] == 400
    with db.transaction() as cur:
        cur.execute("SELECT display_name FROM users WHERE user_id = %s", (user,))
        assert cur.fetchone() == {"display_name": "Ada"}


@pytest.mark.parametrize("provider", ["stripe", "paypal"])
def test_premium_playback_after_checkout_through_the_providers_pages(
    edge: Edge, provider: str
) -> None:
    track, user = ingest(edge, "tone.ogg"), sign_in(edge)
    status, refused = edge.api("GET", f"/catalog/tracks/{track}/stream", user=user)
    assert (status, refused["error"]["code"]) == (403, "subscription_required")

    status, redirect = edge.api("POST", "/payments/checkout",
                                {"provider": provider, "plan": "premium_monthly"}, user)  # fmt: skip
    assert status == 201
    page = urllib.parse.urlsplit(redirect["url"])
    assert f"{page.scheme}://{page.netloc}" == edge.origins.checkout
    status, headers, html = edge.call("GET", page.path, host="checkout.localhost")
    plan = b"premium_monthly" if provider == "stripe" else b"P-LOCAL-PREMIUM"  # PayPal's plan
    assert status == 200 and plan in html and user.encode() in html
    assert edge.api("GET", "/payments/subscription", user=user)[0] == 404  # not paid yet
    status, headers, _ = edge.call(
        "POST", page.path, host="checkout.localhost", body="action=pay",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip

    assert status == 303
    assert headers["location"].startswith(f"{edge.origins.app}/?checkout=success#/subscription")
    status, sub = edge.api("GET", "/payments/subscription", user=user)
    assert (status, sub["provider"], sub["status"]) == (200, provider, "active")
    assert edge.api("GET", f"/catalog/tracks/{track}/stream", user=user)[0] == 200
    assert edge.call("GET", page.path, host="checkout.localhost")[0] == 404  # paid: closed


def test_cancelling_on_the_providers_page_returns_without_a_subscription(edge: Edge) -> None:
    user = sign_in(edge)
    redirect = edge.api("POST", "/payments/checkout",
                        {"provider": "stripe", "plan": "pass_30"}, user)[1]  # fmt: skip
    path = urllib.parse.urlsplit(redirect["url"]).path
    status, headers, _ = edge.call("POST", path, host="checkout.localhost", body="action=cancel")
    assert (status, headers["location"]) == (
        303, f"{edge.origins.app}/?checkout=cancelled#/subscription",
    )  # fmt: skip
    assert edge.api("GET", "/payments/subscription", user=user)[0] == 404


def subscribed(edge: Edge) -> str:
    user = sign_in(edge)
    redirect = edge.api("POST", "/payments/checkout",
                        {"provider": "stripe", "plan": "pass_30"}, user)[1]  # fmt: skip
    path = urllib.parse.urlsplit(redirect["url"]).path
    assert edge.call("POST", path, host="checkout.localhost", body="action=pay")[0] == 303
    return user


def test_signed_media_are_served_with_ranges_and_refused_when_tampered(edge: Edge) -> None:
    track, user = ingest(edge, "tone.ogg"), subscribed(edge)
    signed = edge.api("GET", f"/catalog/tracks/{track}/stream", user=user)[1]["url"]
    url = urllib.parse.urlsplit(signed)
    assert f"{url.scheme}://{url.netloc}" == edge.origins.media
    target = f"{url.path}?{url.query}"
    data = (FIXTURES / "tone.ogg").read_bytes()

    status, headers, body = edge.call("GET", target, host="media.localhost")
    assert (status, body, headers["content-type"]) == (200, data, "audio/ogg")
    assert headers["accept-ranges"] == "bytes"
    status, headers, body = edge.call("GET", target, host="media.localhost",
                                      headers={"Range": "bytes=100-199"})  # fmt: skip
    assert (status, body) == (206, data[100:200])
    assert headers["content-range"] == f"bytes 100-199/{len(data)}"
    assert edge.call("GET", target, host="media.localhost",
                     headers={"Range": f"bytes={len(data) + 10}-"})[0] == 416  # fmt: skip

    for bad in (url.path, target.replace("Expires=", "Expires=1"),
                target.replace(".ogg?", ".mp3?"), target.replace("KLOCALDEV", "KOTHER")):  # fmt: skip
        status, _, body = edge.call("GET", bad, host="media.localhost")
        assert status == 403 and b"AccessDenied" in body, bad
    assert edge.call("POST", target, host="media.localhost")[0] == 405


async def _feed_sees_a_friends_play(edge: Edge, listener: str, friend: str, track: str) -> Any:
    uri = f"{edge.origins.feed}/?token={listener}"
    async with websockets.connect(uri, host="127.0.0.1", port=edge.origins.port) as socket:
        await socket.send('{"action":"ping"}')  # $default keeps the connection alive
        play = {"event_id": str(uuid.uuid4()), "track_id": track, "ms_played": 900}
        status, _ = await asyncio.to_thread(edge.api, "POST", "/activity/plays", play, friend)
        assert status == 201
        return json.loads(await asyncio.wait_for(socket.recv(), 10))


def test_a_friends_play_reaches_the_listeners_websocket_live(edge: Edge) -> None:
    track, listener, friend = ingest(edge, "tone.ogg"), sign_in(edge), sign_in(edge)
    assert edge.api("POST", "/activity/follows", {"user_id": friend}, listener)[0] == 201

    message = asyncio.run(_feed_sees_a_friends_play(edge, listener, friend, track))

    assert message["type"] == "activity"
    event = message["event"]
    assert (event["kind"], event["user_id"], event["target_id"]) == ("play", friend, track)


def test_the_feed_refuses_a_connect_without_a_token(edge: Edge) -> None:
    async def connect(query: str) -> None:
        uri = f"{edge.origins.feed}/{query}"
        async with websockets.connect(uri, host="127.0.0.1", port=edge.origins.port):
            pass

    for query in ("", "?token="):
        with pytest.raises(websockets.InvalidStatus) as refused:
            asyncio.run(connect(query))
        assert refused.value.response.status_code == 403


def test_cover_art_is_served_unsigned_and_audio_still_needs_a_signature(edge: Edge) -> None:
    track, user = ingest(edge, "tone.mp3"), subscribed(edge)
    status, found = edge.api("GET", f"/catalog/tracks/{track}", user=user)
    cover = found["cover_key"]
    assert status == 200 and cover.startswith("covers/") and cover.endswith(".png")

    status, headers, body = edge.call("GET", f"/{cover}", host="media.localhost")
    assert (status, headers["content-type"]) == (200, "image/png")
    assert body.startswith(b"\x89PNG")
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["x-content-type-options"] == "nosniff"
    assert edge.call("HEAD", f"/{cover}", host="media.localhost")[0] == 200
    assert edge.call("POST", f"/{cover}", host="media.localhost")[0] == 405

    # The audio's signed URL plays; its path unsigned, however dressed up as a cover, does not.
    signed = urllib.parse.urlsplit(
        edge.api("GET", f"/catalog/tracks/{track}/stream", user=user)[1]["url"]
    )
    assert edge.call("GET", f"{signed.path}?{signed.query}", host="media.localhost")[0] == 200
    audio = signed.path.lstrip("/")
    name = cover.partition("/")[2]
    for probe in (f"/{audio}", f"/covers/../{audio}", f"/covers/%2E%2E/{audio}",
                  f"/covers/./../{audio}", f"/covers//{name}", f"/COVERS/{name}",
                  f"/coversx/{name}"):  # fmt: skip
        status, _, body = edge.call("GET", probe, host="media.localhost")
        assert status == 403 and b"AccessDenied" in body, probe
