"""Outbound HTTPS calls to non-boto3 APIs (Neptune openCypher, PayPal): one small seam.

A client builds an `HttpCall` and hands it to a `Send` function. In Lambda that is `send_urllib`
(standard library only); tests pass a function that records the call and answers it, so what
would go over the wire (URL, headers, SigV4 signature, body) is asserted exactly.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import UpstreamError


@dataclass(frozen=True)
class HttpCall:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Send = Callable[[HttpCall], HttpReply]


def send_urllib(call: HttpCall, timeout_seconds: float = 10.0) -> HttpReply:
    """Send over HTTPS with the standard library; HTTP error statuses are returned, not raised."""
    if not call.url.startswith("https://"):
        raise ValueError(f"refusing a non-TLS URL: {call.url}")
    request = urllib.request.Request(
        call.url, data=call.body or None, headers=call.headers, method=call.method
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as reply:
            return HttpReply(reply.status, reply.read())
    except urllib.error.HTTPError as exc:
        return HttpReply(exc.code, exc.read())
    except (urllib.error.URLError, TimeoutError) as exc:
        raise UpstreamError(f"{call.method} {call.url} failed: {exc}") from exc


def sigv4_sign(call: HttpCall, service: str, region: str, credentials: Any) -> HttpCall:
    """`call` with AWS Signature V4 headers (Authorization, X-Amz-Date, session token).

    `credentials` is a botocore credentials object (boto3.Session().get_credentials()).
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=call.method, url=call.url, data=call.body, headers=call.headers)
    SigV4Auth(credentials.get_frozen_credentials(), service, region).add_auth(request)
    return HttpCall(call.method, call.url, dict(request.headers.items()), call.body)
