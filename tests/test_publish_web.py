"""`soundstack publish-web` against moto's S3 and CloudFront: keys, types, cache headers,
config.json, the order that keeps the live app intact, stale objects, and the CSP the
published config needs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from soundstack.cli import main
from soundstack.publish_web import (
    IMMUTABLE,
    NO_CACHE,
    REQUIRED_OUTPUTS,
    PublishError,
    publish,
    runtime_config,
    wait_for_invalidation,
)
from soundstack.synth import PROJECT_DIR

REGION = "eu-west-1"
STACKS = ["dev", "staging", "prod"]


def build(root: Path, tag: str) -> Path:
    """A Vite-like build: hashed assets, a source map, an unhashed public file."""
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(f'<script src="./assets/index-{tag}.js"></script>{tag}')
    (root / "assets" / f"index-{tag}.js").write_text(f"console.log('{tag}')")
    (root / "assets" / f"index-{tag}.js.map").write_text("{}")
    (root / "assets" / f"index-{tag}.css").write_text("body{}")
    (root / "favicon.svg").write_text("<svg/>")
    return root


@pytest.fixture
def estate(fake_aws_credentials, tmp_path):
    """A site bucket with SSE-KMS by default, a distribution, and the stack outputs naming them."""
    with mock_aws():
        key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket="soundstack-dev-web-site",
            CreateBucketConfiguration={"LocationConstraint": REGION},
        )
        cloudfront = boto3.client("cloudfront", region_name="us-east-1")
        distribution = cloudfront.create_distribution(
            DistributionConfig={
                "CallerReference": "web",
                "Comment": "web",
                "Enabled": True,
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "site",
                            "DomainName": "soundstack-dev-web-site.s3.eu-west-1.amazonaws.com",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        }
                    ],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": "site",
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "MinTTL": 0,
                    "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                },
            }
        )["Distribution"]
        outputs = {
            "region": REGION,
            "web_url": "https://d111.cloudfront.net",
            "web_bucket": "soundstack-dev-web-site",
            "web_kms_key_arn": key_arn,
            "web_distribution_id": distribution["Id"],
            "api_url": "https://d111.cloudfront.net/api",
            "feed_websocket_url": "wss://abc.execute-api.eu-west-1.amazonaws.com/dev",
            "media_domain": "d222.cloudfront.net",
            "user_pool_id": "eu-west-1_AbC",
            "web_client_id": "client123",
            "hosted_ui_domain": "soundstack-dev-auth.auth.eu-west-1.amazoncognito.com",
            "vpc_id": "vpc-1",  # other outputs are ignored
        }
        file = tmp_path / "outputs.json"
        file.write_text(json.dumps(outputs))
        yield {"s3": s3, "cloudfront": cloudfront, "outputs": outputs, "file": file}


def head(s3, key: str) -> dict:
    return s3.head_object(Bucket="soundstack-dev-web-site", Key=key)


def body(s3, key: str) -> bytes:
    return s3.get_object(Bucket="soundstack-dev-web-site", Key=key)["Body"].read()


def invalidations(estate) -> list[dict]:
    dist = estate["outputs"]["web_distribution_id"]
    found = estate["cloudfront"].list_invalidations(DistributionId=dist)["InvalidationList"]
    return [
        estate["cloudfront"].get_invalidation(DistributionId=dist, Id=i["Id"])["Invalidation"]
        for i in found.get("Items", [])
    ]


def test_publish_uploads_the_build_with_types_cache_headers_and_config(estate, tmp_path, capsys):
    dist = build(tmp_path / "dist", "aaa")
    argv = ["publish-web", "dev", "--outputs", str(estate["file"]), "--dist", str(dist)]
    assert main([*argv, "--wait"]) == 0
    assert "invalidation" in capsys.readouterr().out

    s3 = estate["s3"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="soundstack-dev-web-site")["Contents"]}
    assert keys == {
        "index.html",
        "config.json",
        "favicon.svg",
        "assets/index-aaa.js",
        "assets/index-aaa.css",
    }  # no source map
    expected = {
        "index.html": ("text/html; charset=utf-8", NO_CACHE),
        "config.json": ("application/json; charset=utf-8", NO_CACHE),
        "favicon.svg": ("image/svg+xml; charset=utf-8", NO_CACHE),
        "assets/index-aaa.js": ("text/javascript; charset=utf-8", IMMUTABLE),
        "assets/index-aaa.css": ("text/css; charset=utf-8", IMMUTABLE),
    }
    for key, (ctype, cache) in expected.items():
        meta = head(s3, key)
        assert (meta["ContentType"], meta["CacheControl"]) == (ctype, cache), key
        assert meta["ServerSideEncryption"] == "aws:kms"
        assert meta["SSEKMSKeyId"] == estate["outputs"]["web_kms_key_arn"]
    assert IMMUTABLE == "public, max-age=31536000, immutable" and NO_CACHE == "no-cache"

    assert json.loads(body(s3, "config.json")) == {
        "mode": "cognito",
        "apiUrl": "/api",
        "feedUrl": "wss://abc.execute-api.eu-west-1.amazonaws.com/dev",
        "mediaUrl": "https://d222.cloudfront.net",
        "region": "eu-west-1",
        "userPoolId": "eu-west-1_AbC",
        "clientId": "client123",
        "hostedUiDomain": "soundstack-dev-auth.auth.eu-west-1.amazoncognito.com",
    }
    (invalidation,) = invalidations(estate)
    assert sorted(invalidation["InvalidationBatch"]["Paths"]["Items"]) == [
        "/config.json",
        "/index.html",
    ]


def test_a_failed_upload_leaves_the_live_index_html_untouched(estate, tmp_path):
    outputs, s3 = estate["outputs"], estate["s3"]
    publish(outputs, build(tmp_path / "old", "old"), s3, estate["cloudfront"])
    live = body(s3, "index.html")

    class FailingS3:
        """S3 whose upload of the new build's script fails (a network error, a denied key)."""

        def __getattr__(self, name):
            return getattr(s3, name)

        def put_object(self, **kwargs):
            if kwargs["Key"] == "assets/index-new.css":
                raise OSError("connection reset")
            return s3.put_object(**kwargs)

    with pytest.raises(PublishError, match=r"index-new\.css failed.*live index\.html is unchanged"):
        publish(
            outputs,
            build(tmp_path / "new", "new"),
            FailingS3(),
            estate["cloudfront"],
            keep_days=0,
            now=datetime.now(UTC) + timedelta(days=30),
        )
    assert body(s3, "index.html") == live
    assert body(s3, "assets/index-old.js")  # nothing of the live build was pruned
    assert len(invalidations(estate)) == 1  # only the first publish's


def test_earlier_builds_stay_for_the_grace_period_then_go(estate, tmp_path):
    outputs, s3, cloudfront = estate["outputs"], estate["s3"], estate["cloudfront"]
    publish(outputs, build(tmp_path / "old", "old"), s3, cloudfront)
    new = build(tmp_path / "new", "new")
    soon = publish(outputs, new, s3, cloudfront, now=datetime.now(UTC) + timedelta(days=1))
    assert soon["deleted"] == []
    assert body(s3, "assets/index-old.js")  # a tab on the old build still loads its chunks
    assert body(s3, "index.html").endswith(b"new")

    later = publish(outputs, new, s3, cloudfront, now=datetime.now(UTC) + timedelta(days=8))
    assert later["deleted"] == ["assets/index-old.css", "assets/index-old.js"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="soundstack-dev-web-site")["Contents"]}
    assert "assets/index-new.js" in keys and "assets/index-old.js" not in keys


class ReportingCloudFront:
    """Answers get_invalidation with the given statuses, in turn."""

    def __init__(self, *statuses: str) -> None:
        self.statuses = iter(statuses)

    def get_invalidation(self, DistributionId, Id):
        assert (DistributionId, Id) == ("E1", "I1")
        return {"Invalidation": {"Status": next(self.statuses)}}


def test_wait_polls_until_the_invalidation_completes():
    slept: list[float] = []
    cloudfront = ReportingCloudFront("InProgress", "InProgress", "Completed")
    assert wait_for_invalidation(cloudfront, "E1", "I1", sleep=slept.append) == "Completed"
    assert slept == [20, 20]
    stuck = ReportingCloudFront(*["InProgress"] * 3)
    with pytest.raises(PublishError, match="still InProgress after 60 s; the build is live"):
        wait_for_invalidation(stuck, "E1", "I1", attempts=3, sleep=slept.append)


def test_missing_outputs_and_a_missing_build_are_explained(estate, tmp_path, capsys):
    partial = {k: v for k, v in estate["outputs"].items() if k != "web_kms_key_arn"}
    with pytest.raises(PublishError, match="web_kms_key_arn missing: run `pulumi up`"):
        runtime_config(partial)
    argv = ["publish-web", "dev", "--outputs", str(estate["file"])]
    assert main([*argv, "--dist", str(tmp_path / "none")]) == 1
    assert "build the app first (`make web`)" in capsys.readouterr().err
    assert "Contents" not in estate["s3"].list_objects_v2(Bucket="soundstack-dev-web-site")


def test_a_separate_api_origin_is_kept_absolute(estate):
    outputs = {**estate["outputs"], "api_url": "https://api.example.com/v1"}
    assert runtime_config(outputs)["apiUrl"] == "https://api.example.com/v1"


@pytest.mark.parametrize("stack", STACKS)
def test_the_program_exports_what_publish_web_reads(request, stack):
    outputs = request.getfixturevalue(stack).outputs
    assert set(REQUIRED_OUTPUTS) <= set(outputs)
    config = runtime_config(outputs)
    assert config["apiUrl"] == "/api"  # behind the web distribution, same origin
    assert config["hostedUiDomain"].endswith(".auth.eu-west-1.amazoncognito.com")


def _directives(csp: str) -> dict[str, list[str]]:
    return {d.split(" ")[0]: d.split(" ")[1:] for d in csp.split("; ")}


def _origin(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


def test_the_app_reaches_other_origins_only_through_config_json():
    """The app's own code names no host: every cross-origin URL is built from `config.json`
    (the hosted UI for /oauth2/token, /oauth2/authorize and /logout); the feed URL and the
    media CDN come from it too, and stream URLs from the API are on the media CDN."""
    src = PROJECT_DIR / "app_services" / "web" / "src"
    urls = {
        m
        for path in [*src.rglob("*.ts"), *src.rglob("*.tsx")]
        if not path.name.endswith(".test.ts")
        for m in re.findall(r"(?:https?|wss?)://[^\s`'\")]*", path.read_text())
    }
    hosts = {u.split("://", 1)[1].split("/", 1)[0] for u in urls if "${" in u}
    assert hosts == {"${this.config.hostedUiDomain}", "${config.hostedUiDomain}"}
    literal = {u for u in urls if "${" not in u}
    assert literal <= {"http://next.invalid", "wss://", "ws://"}  # URL() base, validation text


@pytest.mark.parametrize("stack", STACKS)
def test_csp_admits_exactly_what_the_published_config_needs(request, stack):
    """connect-src: the token endpoint's origin and the feed's wss origin; media-src and
    img-src: the media CDN (audio, cover art); nothing else beyond the app's own origin."""
    synth = request.getfixturevalue(stack)
    (headers,) = [r for r in synth.resources if r.name == "web-site-headers"]
    csp = headers.inputs["securityHeadersConfig"]["contentSecurityPolicy"]
    directives = _directives(csp["contentSecurityPolicy"])
    config = runtime_config(synth.outputs)
    assert directives["connect-src"] == [
        "'self'",
        _origin(f"https://{config['hostedUiDomain']}/oauth2/token"),
        _origin(config["feedUrl"]),
    ]
    assert directives["media-src"] == ["'self'", config["mediaUrl"]]
    assert directives["img-src"] == ["'self'", config["mediaUrl"]]
