"""`soundstack serve`: the HTTP services on one local port, under uvicorn, behind an API Gateway
v2 router, with the edge the cloud puts around them (`core.local_edge`).

Every request becomes the event API Gateway would send, so handlers run exactly as in Lambda.
PostgreSQL and Redis come from the usual variables (DATABASE_URL, REDIS_URL, ...). AWS APIs go
wherever boto3 points (AWS_ENDPOINT_URL for a moto server or LocalStack), or, with
`--local-aws`, to a moto server this command starts on loopback and provisions with what the
services use (`provision`); then the port also serves the signed media, the payment providers'
hosted pages (their doubles) and, with `--web`, the built app. The live feed's WebSocket API
and its stream consumer run whenever ACTIVITY_STREAM_NAME names a stream. A signed-in user is
simulated with `x-claim-*` headers (`-H 'x-claim-sub: <user id>'`) and the feed takes the user
id as its token: that is why the server binds to loopback by default.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote_plus

from pydantic import BaseModel, Field, StringConstraints

from .asgi import AsgiApp
from .db import Database
from .errors import ServiceError
from .events import HttpApiEvent, RequestBody
from .gateway import Gateway, claims_from_headers
from .local_edge import LocalCheckout, LocalEdge, LocalMedia, LocalOrigins, Site
from .routing import Response, Routes
from .settings import ServiceSettings, load_settings

if TYPE_CHECKING:
    from ..payment.local import LocalProviders

# Modules exposing a `routes` table, relative to the services package; add a service here to
# serve it locally.
SERVICES = (
    "catalog.api",
    "playlist.api",
    "activity.handler",
    "recommendation.handler",
    "payment.handler",
)
INGEST_PATH = "/_local/ingest"
#: What `--local-aws` creates (names are local only; the cloud's come from the stack).
MEDIA_BUCKET = "soundstack-local-media"
ACTIVITY_STREAM = "soundstack-local-activity"
SIGN_IN_PATH = "/_local/sign-in"

local = Routes("local")


class IngestQuery(BaseModel):
    bucket: str = Field(MEDIA_BUCKET, min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)


@local.route(f"POST {INGEST_PATH}")
def ingest(request: HttpApiEvent) -> dict[str, Any]:
    """What the bucket's notification would trigger: the catalog's S3 ingest for one object.

    The key arrives decoded once from the query string; S3 notifications URL-encode keys (the
    ingest decodes them), so it is encoded here exactly as S3 would (`+` and `%` survive).
    """
    from ..catalog.handler import ingest as run_ingest

    query = request.query_model(IngestQuery)
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": query.bucket}, "object": {"key": quote_plus(query.key)}},
    }
    return run_ingest({"Records": [record]}, None)


class SignInBody(RequestBody):
    user_id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\s]+$")]
    display_name: str = Field("", max_length=100)


@functools.cache
def _accounts() -> Database:
    return Database(load_settings(ServiceSettings))


@local.route(f"POST {SIGN_IN_PATH}")
def sign_in(request: HttpApiEvent) -> Response:
    """What a Cognito sign-up does before the first sign-in, at once: the post-confirmation
    trigger queues the profile, the auth service's profile writer inserts it. The app's local
    "sign in as" calls this, so a local user has the profile a subscription needs."""
    from ..auth.domain import NewProfile, create_profile
    from ..auth.repository import ProfileRepository

    body = request.json_body(SignInBody)
    name = body.display_name.strip() or body.user_id
    profile = NewProfile(
        user_id=body.user_id, email=f"{body.user_id}@users.localhost", display_name=name
    )
    created = create_profile(profile, ProfileRepository(_accounts()))
    return Response(201 if created else 200, {"user_id": body.user_id, "display_name": name})


def gateway(modules: tuple[str, ...] = SERVICES) -> Gateway:
    package = __package__.rpartition(".")[0]  # the services package, however it is installed
    tables: list[Routes] = [importlib.import_module(f"{package}.{m}").routes for m in modules]
    return Gateway([*tables, local])


def local_app(table: Gateway | None = None) -> AsgiApp:
    """The local ASGI app: claims from `x-claim-*` headers (loopback only), no token check."""
    return AsgiApp(table or gateway(), claims_from_headers, "local")


@dataclass
class LocalAws:
    """A moto server on loopback (a real endpoint: boto3, curl and the AWS CLI reach it)."""

    endpoint: str
    stop: Any


def start_local_aws(port: int = 4566) -> LocalAws:
    """Start moto's server on 127.0.0.1:`port` (0: any free port); `local_aws_environment`
    points boto3 at it."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request (polled)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    host, bound = moto.get_host_and_port()
    return LocalAws(f"http://{host}:{bound}", moto.stop)


def local_aws_environment(endpoint: str) -> dict[str, str]:
    """The variables that send boto3 to `endpoint` with throwaway credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        "AWS_REGION": os.environ.get("AWS_REGION", "eu-west-1"),
    }


def provision(
    region: str, origins: LocalOrigins | None = None, providers: LocalProviders | None = None
) -> dict[str, str]:
    """Create what the services use in the (local) AWS boto3 points at: the media bucket, the
    activity stream and topic, the CloudFront signing key secret (a key generated here) and the
    payment providers' secret (the doubles' keys); returns the settings that name them, with
    the local edge's media host and the app's checkout return URLs when `origins` are given."""
    import boto3
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from ..payment.local import LOCAL_PLANS, PAYPAL_WEBHOOK_ID

    s3 = boto3.client("s3", region_name=region)
    s3.create_bucket(Bucket=MEDIA_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    kinesis = boto3.client("kinesis", region_name=region)
    kinesis.create_stream(StreamName=ACTIVITY_STREAM, ShardCount=1)
    topic = boto3.client("sns", region_name=region).create_topic(Name="activity")["TopicArn"]
    secrets = boto3.client("secretsmanager", region_name=region)
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signing = {"active": {"key_pair_id": "KLOCALDEV", "private_key_pem": pem.decode()}}
    signing_arn = secrets.create_secret(
        Name="soundstack-local-signing-key", SecretString=json.dumps({**signing, "pending": None})
    )["ARN"]
    payment_arn = secrets.create_secret(
        Name="soundstack-local-payment-providers",
        SecretString=json.dumps(providers.secret() if providers else {}),
    )["ARN"]
    app = origins.app if origins else "http://localhost"
    settings = {
        "ACTIVITY_STREAM_NAME": ACTIVITY_STREAM,
        "ACTIVITY_TOPIC_ARN": topic,
        "GRAPH_BACKEND": "postgres",
        "CLOUDFRONT_SIGNING_SECRET_ID": signing_arn,
        "PAYMENT_SECRET_ARN": payment_arn,
        "PAYMENT_PLANS": json.dumps(LOCAL_PLANS),
        "PAYPAL_WEBHOOK_ID": PAYPAL_WEBHOOK_ID,
        # the app's hash route; Stripe appends `?session_id=…`, which then stays in the hash
        "CHECKOUT_SUCCESS_URL": f"{app}/?checkout=success#/subscription",
        "CHECKOUT_CANCEL_URL": f"{app}/?checkout=cancelled#/subscription",
    }
    if origins:
        settings |= {"CDN_DOMAIN": origins.media_host, "CDN_SCHEME": "http"}
    return settings


#: Settings a local run needs that differ from a deployed one's, unless the caller set them.
#: No CloudFront stands in front locally, so a stream request without `CloudFront-Viewer-Country`
#: is not refused for a track's territories; send the header (`-H 'CloudFront-Viewer-Country:
#: FR'`) to try one. Deployed, the same request is refused (`viewer_country_unknown`).
LOCAL_DEFAULTS = {"VIEWER_COUNTRY_SOURCE": "local"}


def apply_local_defaults() -> None:
    """Set `LOCAL_DEFAULTS` in the environment where the caller left them unset."""
    for key, value in LOCAL_DEFAULTS.items():
        os.environ.setdefault(key, value)


def check_settings(table: Gateway) -> list[str]:
    """Each service's settings parsed at start-up: the problems, one line per service."""
    problems = []
    for routes in table.tables:
        try:
            routes.check_settings()
        except ServiceError as exc:
            problems.append(f"{routes.service}: {exc.message}")
    return problems


@dataclass
class LocalServer:
    """A running uvicorn server (tests, benchmarks); `stop()` ends it."""

    url: str
    server: Any
    thread: threading.Thread
    closers: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        for close in self.closers:
            close()


def _uvicorn(app: Any, sock: socket.socket) -> Any:
    import uvicorn

    config = uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=30,
        ws="websockets-sansio",  # the feed's WebSocket API (app_services.feed.local)
    )
    return uvicorn.Server(config)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket. Created as IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on
    sockets whose `proto` says TCP, and without it every kept-alive reply (headers, then body)
    waits ~40 ms for the client's delayed ACK (Nagle)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def edge(
    table: Gateway,
    origins: LocalOrigins,
    *,
    site: Site | None = None,
    providers: LocalProviders | None = None,
    media_bucket: str | None = None,
) -> tuple[LocalEdge, list[Callable[[], None]]]:
    """The app `serve` runs: the API behind the local edge. The signed media need
    `media_bucket` (and CLOUDFRONT_SIGNING_SECRET_ID), the hosted checkout pages `providers`
    (installed into the payment service here); the feed's stream consumer runs when
    ACTIVITY_STREAM_NAME is set. Returns the app and what stops its background work."""
    from ..feed.local import start_local_feed

    region = os.environ.get("AWS_REGION", "eu-west-1")
    media = checkout = None
    if media_bucket and os.environ.get("CLOUDFRONT_SIGNING_SECRET_ID"):
        media = LocalMedia(
            aws_client("s3", region), media_bucket, functools.partial(_trusted_keys, region)
        )
    if providers is not None:
        providers.install()
        checkout = LocalCheckout(providers, table, origins.app)
    feed = start_local_feed(region, os.environ.get("ACTIVITY_STREAM_NAME"))
    app = LocalEdge(
        local_app(table), origins, site=site, media=media, feed=feed.sockets, checkout=checkout
    )
    return app, [feed.stop]


def aws_client(service: str, region: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region)


def _trusted_keys(region: str) -> Any:
    """The media distribution's key group: the active key of the signing secret."""
    from ..media_signing import public_keys_from_secret

    secret = aws_client("secretsmanager", region).get_secret_value(
        SecretId=os.environ["CLOUDFRONT_SIGNING_SECRET_ID"]
    )
    return public_keys_from_secret(secret["SecretString"])


def start(
    sock: socket.socket, app: Any, closers: list[Callable[[], None]] | None = None
) -> LocalServer:
    """Run `app` on `sock` on a background thread; returns once it accepts connections."""
    server = _uvicorn(app, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the local server did not start")
        time.sleep(0.01)
    host, port = sock.getsockname()[:2]
    return LocalServer(
        f"http://{LocalOrigins.of(host, port).host}:{port}", server, thread, closers or []
    )


def serve_in_thread(host: str = "127.0.0.1", port: int = 0) -> LocalServer:
    """The API alone on a background thread (tests, benchmarks)."""
    return start(listen(host, port), local_app())


def serve(
    host: str,
    port: int,
    *,
    local_aws: bool = False,
    aws_port: int = 4566,
    site: Callable[[LocalOrigins], Site] | None = None,
) -> int:
    """Run until interrupted; prints the origins, the routes it serves and what is
    misconfigured. `site` builds the web app's origin for the bound port (`--web`)."""
    apply_local_defaults()
    sock = listen(host, port)
    origins = LocalOrigins.of(host, sock.getsockname()[1])
    aws = providers = None
    if local_aws and not os.environ.get("AWS_ENDPOINT_URL"):
        from ..payment.local import LocalProviders

        aws = start_local_aws(aws_port)
        os.environ.update(local_aws_environment(aws.endpoint))
        providers = LocalProviders(origins.checkout)
        for key, value in provision(os.environ["AWS_REGION"], origins, providers).items():
            os.environ.setdefault(key, value)  # what the caller set wins
        print(f"local AWS (moto) on {aws.endpoint}: bucket {MEDIA_BUCKET}, stream, topic, secrets")
        print(f"  upload: curl -T track.mp3 {aws.endpoint}/{MEDIA_BUCKET}/uploads/track.mp3")
    table = gateway()
    for problem in check_settings(table):
        print(f"settings invalid, its routes answer 500: {problem}")
    app, closers = edge(
        table,
        origins,
        site=site(origins) if site else None,
        providers=providers,
        media_bucket=MEDIA_BUCKET if aws else None,
    )
    print(f"soundstack serve on {origins.app} (API also under /api)")
    if site:
        print(f"  web app:  {origins.app}/")
    if aws:
        print(f"  media:    {origins.media} (signed URLs only)")
        print(f"  checkout: {origins.checkout} (Stripe and PayPal doubles)")
    print(f"  feed:     {origins.feed}/?token=<user id>")
    for key in table.route_keys:
        print(f"  {key}")
    try:
        _uvicorn(app, sock).run(sockets=[sock])
    finally:
        sock.close()
        for close in closers:
            close()
        if aws is not None:
            aws.stop()
    return 0
