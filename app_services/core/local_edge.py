"""The edge of `soundstack serve`: what CloudFront, the WebSocket API and the payment providers'
hosted pages are in the cloud, played on one loopback port and told apart by host name
(`*.localhost` always resolves to loopback, RFC 6761):

- `http://127.0.0.1:<port>`, the web distribution (`WebApp`): the built app with `config.json`
  and the stack's security headers and CSP; `/api/*` goes to the API with the prefix removed
  (the API also still answers at `/`).
- `http://media.localhost:<port>`, the media distribution: objects of the media bucket, only for
  a URL signed with a trusted key and not expired (checked as CloudFront does), with `Range`;
  cover art (`covers/*`, GET and HEAD) without a signature, as its own cache behaviour does.
- `ws://feed.localhost:<port>`, the feed's WebSocket API (`app_services.feed.local`).
- `http://checkout.localhost:<port>`, Stripe's and PayPal's hosted pages: pay or cancel a
  checkout the doubles (`payment.doubles`) created; paying delivers the provider's signed
  webhook to the payment service, then sends the buyer back to the app.
"""

from __future__ import annotations

import asyncio
import html
import logging
import mimetypes
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from .gateway import Gateway

logger = logging.getLogger("serve")
Scope = dict[str, Any]
Reply = tuple[int, dict[str, str], bytes]
#: Security headers every distribution's response headers policy sets (components/cdn.py),
#: less HSTS, which a browser ignores over plain http.
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}


@dataclass(frozen=True)
class LocalOrigins:
    """The local stand-ins' origins for a server reachable at `host:port`."""

    host: str
    port: int

    @classmethod
    def of(cls, bind_host: str, port: int) -> LocalOrigins:
        """The origins for a bound address (a wildcard bind is reached on loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(bind_host, bind_host)
        return cls(f"[{host}]" if ":" in host and not host.startswith("[") else host, port)

    @property
    def app(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def media_host(self) -> str:
        return f"media.localhost:{self.port}"

    @property
    def media(self) -> str:
        return f"http://{self.media_host}"

    @property
    def feed(self) -> str:
        return f"ws://feed.localhost:{self.port}"

    @property
    def checkout(self) -> str:
        return f"http://checkout.localhost:{self.port}"


@dataclass
class Site:
    """The built web client (`dist/`) as the web distribution serves it: `config.json` written
    for this server, the response headers policy on every file, cache headers as
    `soundstack publish-web` uploads them."""

    dist: Path
    config: Mapping[str, Any]
    headers: Mapping[str, str]
    content_type: Callable[[str], str]
    cache_control: Callable[[str], str]

    def answer(self, path: str) -> Reply | None:
        """The file for `path`, or None when the site has no such file (the API's then)."""
        import json

        key = "index.html" if path in ("", "/") else unquote(path.lstrip("/"))
        if key == "config.json":
            body = json.dumps(self.config, indent=2).encode()
        else:
            file = (self.dist / key).resolve()
            if not file.is_relative_to(self.dist.resolve()) or not file.is_file():
                return None
            body = file.read_bytes()
        headers = {
            **self.headers,
            "content-type": self.content_type(key),
            "cache-control": self.cache_control(key),
        }
        return 200, headers, body


#: The media distribution's unsigned behaviour (components.media.COVERS_PATH, `covers/*`),
#: matched case-sensitively as CloudFront matches path patterns.
COVERS_PREFIX = "/covers/"


@dataclass
class LocalMedia:
    """The media distribution: CloudFront's signed-URL check (but for cover art), then the
    object from S3."""

    s3: Any  # boto3 "s3" client
    bucket: str
    #: The trusted key group: key pair id -> public key (re-read when an id is unknown).
    trusted_keys: Callable[[], Mapping[str, Any]]
    _keys: Mapping[str, Any] = field(default_factory=dict)

    def answer(self, method: str, url: str, headers: Mapping[str, str]) -> Reply:
        from botocore.exceptions import ClientError

        from ..media_signing import SignatureRejected, verify_signed_url

        if method not in ("GET", "HEAD"):
            return _error(405, "MethodNotAllowed", "GET and HEAD only")
        key = unquote(url.partition("://")[2].partition("/")[2].partition("?")[0])
        if not _is_cover(key):
            key_id = parse_qs(url.partition("?")[2]).get("Key-Pair-Id", [""])[-1]
            if key_id not in self._keys:
                self._keys = self.trusted_keys()
            try:
                verify_signed_url(url, self._keys)
            except SignatureRejected as exc:
                return _error(403, "AccessDenied", str(exc))
        wanted = {"Bucket": self.bucket, "Key": key}
        if "range" in headers:
            wanted["Range"] = headers["range"]
        try:
            got = (self.s3.head_object if method == "HEAD" else self.s3.get_object)(**wanted)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            status = int(exc.response["ResponseMetadata"].get("HTTPStatusCode") or 500)
            return _error(status, str(code), "the origin refused the object")
        reply = {
            **SECURITY_HEADERS,
            "accept-ranges": "bytes",
            "content-type": _media_type(key, got.get("ContentType")),
            "etag": got.get("ETag", ""),
        }
        if got.get("ContentRange"):
            reply["content-range"] = got["ContentRange"]
        if got.get("CacheControl"):  # CloudFront passes the object's own on to the viewer
            reply["cache-control"] = got["CacheControl"]
        body = b"" if method == "HEAD" else got["Body"].read()
        if method == "HEAD":
            reply["content-length"] = str(got.get("ContentLength", 0))
        return (206 if got.get("ContentRange") else 200), reply, body


def _is_cover(key: str) -> bool:
    """`key` matches the unsigned `covers/*` behaviour. CloudFront compares the decoded path
    with dot segments removed, so `covers/../<audio>` is audio; here any key that is not already
    in that normal form (dot segments, `//`) simply needs a signature."""
    path = "/" + key
    return path.startswith(COVERS_PREFIX) and posixpath.normpath(path) == path


def _media_type(key: str, stored: str | None) -> str:
    """What S3 stored, unless that says nothing (an upload without a type)."""
    if stored and stored not in ("binary/octet-stream", "application/octet-stream"):
        return stored
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def _error(status: int, code: str, message: str) -> Reply:
    body = (
        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{html.escape(code)}</Code>"
        f"<Message>{html.escape(message)}</Message></Error>"
    )
    return status, {**SECURITY_HEADERS, "content-type": "text/xml"}, body.encode()


PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {app}"


@dataclass
class LocalCheckout:
    """The providers' hosted pages for the checkouts the doubles created."""

    providers: Any  # app_services.payment.local.LocalProviders
    gateway: Gateway
    app_origin: str

    def answer(self, method: str, path: str, body: bytes) -> Reply:
        provider, _, object_id = path.strip("/").partition("/")
        pending = self.providers.pending(provider, object_id)
        if pending is None:
            return self._page(404, "Checkout not found", "<p>No open checkout here.</p>")
        if method == "GET":
            return self._form(provider, object_id, pending)
        if method != "POST":
            return _error(405, "MethodNotAllowed", "GET and POST only")
        choice = parse_qs(body.decode()).get("action", [""])[0]
        if choice != "pay":
            return 303, {"location": pending["cancel_url"]}, b""
        webhook = self.providers.pay(provider, object_id)
        delivered = self.gateway.dispatch(
            "POST", f"/payments/webhooks/{provider}", "", webhook.headers, webhook.body
        )
        if delivered["statusCode"] != 200:  # the provider would retry; say so here
            logger.error("local webhook refused", extra={"reply": delivered["body"]})
            detail = html.escape(delivered["body"])
            return self._page(502, "Webhook refused", f"<p>The payment service said {detail}</p>")
        return 303, {"location": pending["return_url"]}, b""

    def _form(self, provider: str, object_id: str, pending: Mapping[str, Any]) -> Reply:
        name = {"stripe": "Stripe", "paypal": "PayPal"}.get(provider, provider)
        action = f"/{quote(provider)}/{quote(object_id)}"
        body = (
            f"<p>Local {html.escape(name)} checkout (a test double: no card, no account).</p>"
            f"<p>Plan <strong>{html.escape(str(pending['plan']))}</strong> for user "
            f"<strong>{html.escape(str(pending['user']))}</strong>.</p>"
            f"<form method='post' action='{action}'>"
            "<button name='action' value='pay'>Pay</button> "
            "<button name='action' value='cancel'>Cancel</button></form>"
        )
        return self._page(200, f"{name} checkout", body)

    def _page(self, status: int, title: str, body: str) -> Reply:
        page = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>body{{font:16px system-ui;"
            "margin:2rem auto;max-width:32rem;padding:0 1rem}button{font:inherit;"
            f"padding:.5rem 1rem}}</style></head><body><h1>{html.escape(title)}</h1>{body}"
            "</body></html>"
        )
        headers = {
            **SECURITY_HEADERS,
            "content-type": "text/html; charset=utf-8",
            "cache-control": "no-store",
            "content-security-policy": PAGE_CSP.format(app=self.app_origin),
        }
        return status, headers, page.encode()


class LocalEdge:
    """The ASGI app of `soundstack serve`: each origin to its stand-in (see the module)."""

    def __init__(
        self,
        api: Any,
        origins: LocalOrigins,
        *,
        site: Site | None = None,
        media: LocalMedia | None = None,
        feed: Any = None,
        checkout: LocalCheckout | None = None,
    ):
        self.api = api
        self.origins = origins
        self.site = site
        self.media = media
        self.feed = feed
        self.checkout = checkout

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.api(scope, receive, send)
            return
        host = _host(scope)
        if scope["type"] == "websocket":
            if self.feed is not None and host == "feed.localhost":
                await self.feed(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if host == "media.localhost" and self.media is not None:
            query = scope.get("query_string", b"").decode("latin-1")
            raw_path = (scope.get("raw_path") or quote(path).encode()).decode("latin-1")
            url = f"http://{self.origins.media_host}{raw_path}" + (f"?{query}" if query else "")
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            reply = await asyncio.to_thread(self.media.answer, method, url, headers)
            await _send(send, reply, head=method == "HEAD")
        elif host == "checkout.localhost" and self.checkout is not None:
            body = await _read(receive)
            reply = await asyncio.to_thread(self.checkout.answer, method, path, body)
            await _send(send, reply)
        elif path == "/api" or path.startswith("/api/"):
            stripped = path[4:] or "/"
            raw = scope.get("raw_path") or path.encode()
            await self.api({**scope, "path": stripped, "raw_path": raw[4:] or b"/"}, receive, send)
        elif (
            self.site is not None
            and method in ("GET", "HEAD")
            and (reply_ := self.site.answer(path))
        ):
            await _send(send, reply_, head=method == "HEAD")
        else:
            await self.api(scope, receive, send)


def _host(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return value.decode("latin-1").rsplit(":", 1)[0].lower() if value else ""
    return ""


async def _read(receive: Any, limit: int = 64 * 1024) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b""
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Any, reply: Reply, head: bool = False) -> None:
    status, headers, body = reply
    pairs = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if "content-length" not in headers:
        pairs.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": pairs})
    await send({"type": "http.response.body", "body": b"" if head else body})
