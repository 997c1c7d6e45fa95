"""`soundstack serve`: the HTTP services on one local port, under uvicorn, behind an API Gateway
v2 router.

Every request becomes the event API Gateway would send, so handlers run exactly as in Lambda.
PostgreSQL and Redis come from the usual variables (DATABASE_URL, REDIS_URL, ...). AWS APIs go
wherever boto3 points (AWS_ENDPOINT_URL for a moto server or LocalStack), or, with
`--local-aws`, to a moto server this command starts on loopback and provisions with what the
services use (`provision`). A signed-in user is simulated with `x-claim-*` headers
(`-H 'x-claim-sub: <user id>'`): that is why the server binds to loopback by default.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from pydantic import BaseModel, Field

from .asgi import AsgiApp
from .errors import ServiceError
from .events import HttpApiEvent
from .gateway import Gateway, claims_from_headers
from .routing import Routes

# Modules exposing a `routes` table; add a service here to serve it locally.
SERVICES = (
    "app_services.catalog.api",
    "app_services.playlist.api",
    "app_services.activity.handler",
    "app_services.recommendation.handler",
    "app_services.payment.handler",
)
INGEST_PATH = "/_local/ingest"
#: What `--local-aws` creates (names are local only; the cloud's come from the stack).
MEDIA_BUCKET = "soundstack-local-media"
ACTIVITY_STREAM = "soundstack-local-activity"
LOCAL_PLANS = [{"id": "premium_monthly", "kind": "subscription", "stripe_price_id": "price_local"}]

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


def gateway(modules: tuple[str, ...] = SERVICES) -> Gateway:
    tables: list[Routes] = [importlib.import_module(m).routes for m in modules]
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
    from moto.server import ThreadedMotoServer

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


def provision(region: str) -> dict[str, str]:
    """Create what the services use in the (local) AWS boto3 points at: the media bucket, the
    activity stream and topic, the CloudFront signing key secret (a key generated here) and the
    payment providers' secret; returns the settings that name them."""
    import boto3
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

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
        Name="soundstack-local-payment-providers", SecretString="{}"
    )["ARN"]
    return {
        "ACTIVITY_STREAM_NAME": ACTIVITY_STREAM,
        "ACTIVITY_TOPIC_ARN": topic,
        "GRAPH_BACKEND": "postgres",
        "CLOUDFRONT_SIGNING_SECRET_ID": signing_arn,
        "PAYMENT_SECRET_ARN": payment_arn,
        "PAYMENT_PLANS": json.dumps(LOCAL_PLANS),
        "CHECKOUT_SUCCESS_URL": "https://localhost/account?checkout=success",
        "CHECKOUT_CANCEL_URL": "https://localhost/account?checkout=cancelled",
    }


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

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _uvicorn(app: AsgiApp, sock: socket.socket) -> Any:
    import uvicorn

    config = uvicorn.Config(
        app, lifespan="off", access_log=False, log_level="warning", timeout_keep_alive=30
    )
    return uvicorn.Server(config)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket. Created as IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on
    sockets whose `proto` says TCP, and without it every kept-alive reply (headers, then body)
    waits ~40 ms for the client's delayed ACK (Nagle)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def serve_in_thread(host: str = "127.0.0.1", port: int = 0) -> LocalServer:
    """Start the server on a background thread and wait until it accepts connections."""
    sock = _listen(host, port)
    server = _uvicorn(local_app(), sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the local server did not start")
        time.sleep(0.01)
    return LocalServer(f"http://{host}:{sock.getsockname()[1]}", server, thread)


def serve(host: str, port: int, *, local_aws: bool = False, aws_port: int = 4566) -> int:
    """Run until interrupted; prints the routes it serves and what is misconfigured."""
    apply_local_defaults()
    aws = None
    if local_aws and not os.environ.get("AWS_ENDPOINT_URL"):
        aws = start_local_aws(aws_port)
        os.environ.update(local_aws_environment(aws.endpoint))
        for key, value in provision(os.environ["AWS_REGION"]).items():
            os.environ.setdefault(key, value)  # what the caller set wins
        print(f"local AWS (moto) on {aws.endpoint}: bucket {MEDIA_BUCKET}, stream, topic, secrets")
        print(f"  upload: curl -T track.mp3 {aws.endpoint}/{MEDIA_BUCKET}/uploads/track.mp3")
    table = gateway()
    for problem in check_settings(table):
        print(f"settings invalid, its routes answer 500: {problem}")
    sock = _listen(host, port)
    print(f"soundstack serve on http://{host}:{sock.getsockname()[1]}")
    for key in table.route_keys:
        print(f"  {key}")
    try:
        _uvicorn(local_app(table), sock).run(sockets=[sock])
    finally:
        sock.close()
        if aws is not None:
            aws.stop()
    return 0
