"""`soundstack publish-web <stack>`: put the built web client (`make web`) on the stack's site
bucket, after `pulumi up`.

A separate command rather than resources in the Pulumi program: pulumi_aws has no CloudFront
invalidation resource, a program should not shell out to make one, and one S3 object resource
per hashed file would make every build a replace-and-delete diff in `pulumi up`.

Order, so that a viewer never gets an `index.html` whose files are missing:
1. every file of `dist/` except `index.html` (skipping `*.map`), then `config.json` written from
   the stack outputs; a failure here leaves the live `index.html` (and so the live app) as it
   was;
2. `index.html`: from now on new viewers load the new build;
3. a CloudFront invalidation of `/index.html` and `/config.json` (`--wait`: until it completes).
   The SPA rewrite function sends every client route (and `/`) to `/index.html` before the cache
   lookup, so that one path covers them all;
4. objects no longer part of the build are deleted only once they have not been part of any
   publish for `--keep-days` (default 7): a tab opened on the previous build still loads its
   hashed chunks lazily, and edge caches may hold the old `index.html` until the invalidation
   completes. Each publish re-uploads the build's files, so an object's LastModified is the
   last publish that needed it.
"""

from __future__ import annotations

import json
import mimetypes
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from soundstack.app_services.core.local_edge import LocalOrigins, Site

#: Stack outputs `publish-web` reads (platform/__main__.py exports them).
REQUIRED_OUTPUTS = (
    "region",
    "web_url",
    "web_bucket",
    "web_kms_key_arn",
    "web_distribution_id",
    "api_url",
    "feed_websocket_url",
    "media_domain",
    "user_pool_id",
    "web_client_id",
    "hosted_ui_domain",
)
IMMUTABLE = "public, max-age=31536000, immutable"
#: Revalidate every time; with the distribution's CachingOptimized policy (minimum TTL 1 s)
#: CloudFront keeps such a response for at most a second.
NO_CACHE = "no-cache"
ENTRY = "index.html"
CONFIG = "config.json"
#: Paths invalidated after a publish: the only files whose names do not change with the build.
INVALIDATED = ("/index.html", "/config.json")
#: Types by extension, where Python's table is missing or outdated (RFC 9239: text/javascript).
TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".wasm": "application/wasm",
    ".txt": "text/plain",
}


class PublishError(Exception):
    """A publish that cannot start or did not finish (the message says what to do)."""


@dataclass(frozen=True)
class Upload:
    key: str
    body: bytes
    content_type: str
    cache_control: str


def content_type(key: str) -> str:
    """MIME type by extension; text types carry `charset=utf-8`."""
    suffix = Path(key).suffix.lower()
    found = TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"
    if found.startswith("text/") or found in ("application/json", "image/svg+xml"):
        return f"{found}; charset=utf-8"
    return found


def cache_control(key: str) -> str:
    """Hashed build output (Vite's `assets/`) forever; everything else (`index.html`,
    `config.json`, unhashed `public/` files) revalidated on every request."""
    return IMMUTABLE if key.startswith("assets/") else NO_CACHE


def runtime_config(outputs: Mapping[str, Any]) -> dict[str, str]:
    """`config.json` of the app (app_services/web/src/lib/config.ts) from the stack outputs.
    The API is served by the web distribution at `/api`, so the app calls it same-origin."""
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        raise PublishError(
            f"stack outputs {', '.join(missing)} missing: run `pulumi up` with this version of "
            "platform/__main__.py (it exports them), or add them to the --outputs file"
        )
    web = urlsplit(str(outputs["web_url"]))
    api = urlsplit(str(outputs["api_url"]))
    same_origin = (api.scheme, api.netloc) == (web.scheme, web.netloc)
    hosted_ui = str(outputs["hosted_ui_domain"])
    if "/" in hosted_ui or ":" in hosted_ui:
        raise PublishError(f"output hosted_ui_domain={hosted_ui!r} must be a host name")
    feed = str(outputs["feed_websocket_url"])
    if not feed.startswith("wss://"):
        raise PublishError(f"output feed_websocket_url={feed!r} must be a wss:// URL")
    return {
        "mode": "cognito",
        "apiUrl": (api.path.rstrip("/") or "/") if same_origin else str(outputs["api_url"]),
        "feedUrl": feed,
        "mediaUrl": f"https://{outputs['media_domain']}",
        "region": str(outputs["region"]),
        "userPoolId": str(outputs["user_pool_id"]),
        "clientId": str(outputs["web_client_id"]),
        "hostedUiDomain": hosted_ui,
    }


def plan(dist: Path, config: Mapping[str, str]) -> list[Upload]:
    """What to upload, in order: the build's files, `config.json`, and `index.html` last."""
    if not (dist / ENTRY).is_file():
        raise PublishError(f"{dist / ENTRY} not found: build the app first (`make web`)")
    files = sorted(
        p
        for p in dist.rglob("*")
        if p.is_file() and p.suffix != ".map" and p.relative_to(dist).as_posix() != CONFIG
    )
    uploads = [
        Upload(key, path.read_bytes(), content_type(key), cache_control(key))
        for path in files
        if (key := path.relative_to(dist).as_posix()) != ENTRY
    ]
    body = (json.dumps(config, indent=2) + "\n").encode()
    uploads.append(Upload(CONFIG, body, content_type(CONFIG), cache_control(CONFIG)))
    entry = (dist / ENTRY).read_bytes()
    uploads.append(Upload(ENTRY, entry, content_type(ENTRY), cache_control(ENTRY)))
    return uploads


def _list(s3: Any, bucket: str) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            found[item["Key"]] = item["LastModified"]
    return found


def publish(
    outputs: Mapping[str, Any],
    dist: Path,
    s3: Any,
    cloudfront: Any,
    *,
    wait: bool = False,
    keep_days: int = 7,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Upload, switch `index.html`, invalidate, prune; returns what was done."""
    if keep_days < 0:
        raise PublishError(f"--keep-days={keep_days}: give 0 or more days")
    uploads = plan(dist, runtime_config(outputs))
    bucket = str(outputs["web_bucket"])
    for upload in uploads:
        try:
            # The bucket encrypts with the site key, which CloudFront's OAC may use. AWS: "If you
            # specify x-amz-server-side-encryption:aws:kms ... but do not provide
            # x-amz-server-side-encryption-aws-kms-key-id, Amazon S3 uses the AWS managed key
            # (aws/s3)" (which CloudFront could not decrypt): the key id is always sent. boto3
            # calls S3 over HTTPS, which the bucket policy requires (aws:SecureTransport).
            s3.put_object(
                Bucket=bucket,
                Key=upload.key,
                Body=upload.body,
                ContentType=upload.content_type,
                CacheControl=upload.cache_control,
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=str(outputs["web_kms_key_arn"]),
                BucketKeyEnabled=True,
            )
        except Exception as exc:
            live = "the live index.html is unchanged" if upload.key != ENTRY else "retry"
            raise PublishError(f"upload of {upload.key} failed ({exc}); {live}") from exc
    invalidation = cloudfront.create_invalidation(
        DistributionId=str(outputs["web_distribution_id"]),
        InvalidationBatch={
            "Paths": {"Quantity": len(INVALIDATED), "Items": list(INVALIDATED)},
            "CallerReference": f"soundstack-publish-web-{uuid.uuid4()}",
        },
    )["Invalidation"]
    status = str(invalidation["Status"])
    if wait:
        status = wait_for_invalidation(
            cloudfront, str(outputs["web_distribution_id"]), invalidation["Id"]
        )
    published = {u.key for u in uploads}
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    stale = sorted(
        key
        for key, modified in _list(s3, bucket).items()
        if key not in published and modified < cutoff
    )
    for start in range(0, len(stale), 1000):  # DeleteObjects takes up to 1,000 keys
        s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": k} for k in stale[start : start + 1000]], "Quiet": True},
        )
    return {
        "bucket": bucket,
        "uploaded": sorted(published),
        "deleted": stale,
        "invalidation_id": invalidation["Id"],
        "invalidation_status": status,
    }


def wait_for_invalidation(
    cloudfront: Any,
    distribution_id: str,
    invalidation_id: str,
    delay: float = 20,
    attempts: int = 60,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Poll until the invalidation completes, at the pace of boto3's `invalidation_completed`
    waiter (20 s, 60 tries); the status is compared without case (moto says `COMPLETED`)."""
    for _ in range(attempts):
        found = cloudfront.get_invalidation(DistributionId=distribution_id, Id=invalidation_id)
        status = str(found["Invalidation"]["Status"])
        if status.lower() == "completed":
            return status
        sleep(delay)
    raise PublishError(
        f"invalidation {invalidation_id} still {status} after {delay * attempts:.0f} s; the "
        "build is live, check it with `aws cloudfront get-invalidation`"
    )


def stack_outputs(stack: str, project_dir: Path) -> dict[str, Any]:
    """`pulumi stack output --json --stack <stack>` of the project."""
    try:
        done = subprocess.run(
            ["pulumi", "stack", "output", "--json", "--stack", stack],
            cwd=project_dir,
            capture_output=True,
            text=True,
            check=True,
        )
    except FileNotFoundError as exc:
        raise PublishError("the pulumi CLI is not on PATH: install it or pass --outputs") from exc
    except subprocess.CalledProcessError as exc:
        raise PublishError(f"pulumi stack output failed: {exc.stderr.strip()}") from exc
    return dict(json.loads(done.stdout))


def load_outputs(stack: str, outputs_file: str | None, project_dir: Path) -> dict[str, Any]:
    """The stack's outputs: from `outputs_file` (JSON) when given, else from Pulumi."""
    if outputs_file:
        return dict(json.loads(Path(outputs_file).read_text(encoding="utf-8")))
    return stack_outputs(stack, project_dir)


def run(
    stack: str,
    outputs_file: str | None,
    dist: Path,
    project_dir: Path,
    wait: bool,
    keep_days: int,
) -> int:
    """The CLI entry: outputs from Pulumi (or a JSON file), boto3 clients, one publish."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        outputs = load_outputs(stack, outputs_file, project_dir)
        region = str(outputs.get("region") or "")
        result = publish(
            outputs,
            dist,
            boto3.client("s3", region_name=region or None),
            boto3.client("cloudfront", region_name="us-east-1"),
            wait=wait,
            keep_days=keep_days,
        )
    except (PublishError, BotoCoreError, ClientError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"published {len(result['uploaded'])} files to s3://{result['bucket']}, deleted "
        f"{len(result['deleted'])} stale, invalidation {result['invalidation_id']} "
        f"{result['invalidation_status']}"
    )
    return 0


def local_site(dist: Path) -> Callable[[LocalOrigins], Site]:
    """`soundstack serve --web`: the build served as the web distribution serves a published
    one, for the server's origins: the same content types and cache headers as `publish`, the
    security headers and the CSP `WebApp` builds (`components.web.content_security_policy`,
    with the local feed and media origins where the stack has its own), and a `config.json`
    for the local server."""
    from soundstack.app_services.core.local_edge import SECURITY_HEADERS, Site
    from soundstack.components.web import content_security_policy

    if not (dist / ENTRY).is_file():
        raise PublishError(f"{dist / ENTRY} is missing: build the web client first (`make web`)")

    def build(origins: LocalOrigins) -> Site:
        csp = content_security_policy(connect=[origins.feed], media=[origins.media])
        config = {"mode": "local", "apiUrl": "/api", "feedUrl": origins.feed,
                  "mediaUrl": origins.media}  # fmt: skip
        headers = {**SECURITY_HEADERS, "content-security-policy": csp}
        return Site(dist, config, headers, content_type, cache_control)

    return build
