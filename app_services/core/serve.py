"""`soundstack serve`: the HTTP services on one local port, behind an API Gateway v2 router.

Every request becomes the event API Gateway would send, so handlers run exactly as in Lambda.
PostgreSQL and Redis come from the usual variables (DATABASE_URL, REDIS_URL, ...). AWS APIs go
wherever boto3 points (AWS_ENDPOINT_URL for a moto server or LocalStack), or, with
`--local-aws`, to moto running in-process. A signed-in user is simulated with `x-claim-*`
headers (`-H 'x-claim-sub: <user id>'`): that is why the server binds to loopback by default.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app_services.core.gateway import Gateway, claims_from_headers
from app_services.core.routing import Routes, json_response

# Modules exposing a `routes` table; add a service here to serve it locally.
SERVICES = (
    "app_services.catalog.api",
    "app_services.playlist.api",
    "app_services.activity.handler",
    "app_services.recommendation.handler",
    "app_services.payment.handler",
)
INGEST_PATH = "/_local/ingest"


def gateway(modules: tuple[str, ...] = SERVICES) -> Gateway:
    tables: list[Routes] = [importlib.import_module(m).routes for m in modules]
    return Gateway(tables)


def _local_ingest(query: str) -> dict[str, Any]:
    """POST /_local/ingest?bucket=..&key=..: what S3's notification would trigger."""
    from app_services.catalog.handler import ingest

    params = {k: v[0] for k, v in parse_qs(query).items()}
    if not params.get("bucket") or not params.get("key"):
        return json_response(400, {"error": {"code": "invalid_request", "field": "key"}})
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": params["bucket"]}, "object": {"key": params["key"]}},
    }
    return json_response(200, ingest({"Records": [record]}, None))


def make_server(host: str, port: int, routes: Gateway | None = None) -> ThreadingHTTPServer:
    """A threaded HTTP server dispatching to `routes` (all SERVICES by default)."""
    table = routes or gateway()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _dispatch(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = dict(self.headers.items())
            if url.path == INGEST_PATH and self.command == "POST":
                reply = _local_ingest(url.query)
            else:
                reply = table.dispatch(
                    self.command,
                    url.path,
                    url.query,
                    headers,
                    body,
                    self.client_address[0],
                    claims_from_headers(headers),
                )
            payload = (reply.get("body") or "").encode()
            self.send_response(reply["statusCode"])
            for key, value in reply.get("headers", {}).items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            sys.stderr.write(json.dumps({"access": format % args}) + "\n")

    return ThreadingHTTPServer((host, port), Handler)


def _start_local_aws() -> None:
    """moto in-process for every AWS API, plus the media bucket and a throwaway signing key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": os.environ.get("AWS_REGION", "eu-west-1"),
    }.items():
        os.environ.setdefault(key, value)
    mock_aws().start()
    if not os.environ.get("CLOUDFRONT_SIGNING_SECRET_ID"):
        signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = signing_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        os.environ.setdefault("CLOUDFRONT_KEY_PAIR_ID", "KLOCALDEV")
        os.environ.setdefault("CLOUDFRONT_PRIVATE_KEY_PEM", pem.decode())


def serve(host: str, port: int, *, local_aws: bool = False) -> int:
    """Run until interrupted; prints the routes it serves."""
    if local_aws and not os.environ.get("AWS_ENDPOINT_URL"):
        _start_local_aws()
    table = gateway()
    server = make_server(host, port, table)
    print(f"soundstack serve on http://{host}:{server.server_address[1]}")
    for key in [*table.route_keys, f"POST {INGEST_PATH}?bucket=&key="]:
        print(f"  {key}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def serve_in_thread(host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Start the server on a background thread (tests, benchmarks); `shutdown()` stops it."""
    server = make_server(host, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
