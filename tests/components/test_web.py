"""SPA hosting: private site bucket, SPA fallback, security headers, the optional /api/*."""

from __future__ import annotations

import json
import shutil
import subprocess

import pulumi
import pytest

from soundstack.app_services.auth import domain as auth_domain
from soundstack.components.cdn import (
    ALL_VIEWER_EXCEPT_HOST_HEADER,
    HOST_FORWARDING_POLICIES,
    ORIGIN_VERIFY_HEADER,
)
from soundstack.components.web import API_PREFIX_STRIP, SPA_REWRITE, WebApp, WebArgs
from tests.conftest import make_ctx, one, run_program

STACKS = ["dev", "prod"]
API_HOST = "abc123.execute-api.eu-west-1.amazonaws.com"


@pytest.mark.parametrize("stack", STACKS)
def test_site_bucket_is_private_and_read_only_by_the_distribution(request, stack):
    synth = request.getfixturevalue(stack)
    block = one(synth, "web-site-public-access").inputs
    assert block["blockPublicPolicy"] is True and block["restrictPublicBuckets"] is True
    deny, allow = json.loads(one(synth, "web-site-policy").inputs["policy"])["Statement"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == ["s3:GetObject", "s3:ListBucket"]
    distribution_id = one(synth, "web-distribution").id
    assert allow["Condition"]["StringEquals"]["AWS:SourceArn"].endswith(f"/{distribution_id}")
    site, *replica, api = sorted(one(synth, "web-distribution").inputs["origins"],
                                 key=lambda o: "originAccessControlId" not in o)  # fmt: skip
    assert site["originAccessControlId"] and site["originId"] == "site"
    assert [r["originId"] for r in replica] == (["site-replica"] if stack != "dev" else [])
    assert "originAccessControlId" not in api


@pytest.mark.parametrize("stack", STACKS)
def test_stack_serves_the_http_api_at_api_through_the_protected_distribution(request, stack):
    synth = request.getfixturevalue(stack)
    distribution = one(synth, "web-distribution").inputs
    (behaviour,) = [
        b for b in distribution["orderedCacheBehaviors"] if b["pathPattern"] == "/api/*"
    ]
    (api_origin,) = [
        o for o in distribution["origins"] if o["originId"] == behaviour["targetOriginId"]
    ]
    (http_api,) = [a for a in synth.by_type("aws:apigatewayv2/api:Api")
                   if a.inputs["protocolType"] == "HTTP"]  # fmt: skip
    assert api_origin["domainName"] == synth.outputs["api_endpoint_domain"]
    assert api_origin["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert distribution["webAclId"].startswith("arn:aws:wafv2:us-east-1:")
    (web_distribution,) = [r for r in synth.resources if r.name == "web-distribution"]
    assert http_api.urn in web_distribution.dependencies


@pytest.mark.parametrize("stack", STACKS)
def test_spa_fallback_and_security_headers(request, stack):
    synth = request.getfixturevalue(stack)
    distribution = one(synth, "web-distribution").inputs
    behaviour = distribution["defaultCacheBehavior"]
    assert behaviour["viewerProtocolPolicy"] == "redirect-to-https"
    assert distribution["defaultRootObject"] == "index.html"
    (assoc,) = behaviour["functionAssociations"]
    rewrite = one(synth, "web-spa-rewrite").inputs
    assert assoc["eventType"] == "viewer-request"
    assert assoc["functionArn"].endswith(rewrite["name"])
    assert rewrite["code"] == SPA_REWRITE and rewrite["runtime"] == "cloudfront-js-2.0"
    assert "customErrorResponses" not in distribution  # API errors are never turned into the app
    headers = one(synth, "web-site-headers").inputs["securityHeadersConfig"]
    hsts = headers["strictTransportSecurity"]
    assert hsts["accessControlMaxAgeSec"] >= 31536000 and hsts["includeSubdomains"] is True
    assert headers["frameOptions"]["frameOption"] == "DENY"
    csp = headers["contentSecurityPolicy"]["contentSecurityPolicy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert f"https://soundstack-{stack}-identity-auth.auth.eu-west-1.amazoncognito.com" in csp
    media = synth.outputs["media_domain"]
    assert f"media-src 'self' https://{media}" in csp
    assert behaviour["responseHeadersPolicyId"] == one(synth, "web-site-headers").inputs["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_api_origin_and_behaviour_come_together(request, stack):
    distribution = one(request.getfixturevalue(stack), "web-distribution").inputs
    api_origins = [o for o in distribution["origins"] if o["originId"] == "api"]
    behaviours = distribution.get("orderedCacheBehaviors") or []
    assert len(api_origins) == len(behaviours) <= 1


def test_no_api_behaviour_without_an_api_domain():
    def program():
        WebApp("web", WebArgs(), make_ctx(stack="test"))

    synth = run_program(program)
    distribution = one(synth, "web-distribution").inputs
    assert [o["originId"] for o in distribution["origins"]] == ["site"]
    assert "orderedCacheBehaviors" not in distribution
    assert not [r for r in synth.resources if r.name in ("web-api-cache", "web-api-prefix")]


def test_api_behaviour_forwards_uncached_with_authorization_to_the_api_origin():
    def program():
        web = WebApp("web", WebArgs(api_domain=API_HOST), make_ctx(stack="test"))
        pulumi.export("url", web.url)

    synth = run_program(program)
    distribution = one(synth, "web-distribution").inputs
    api = next(o for o in distribution["origins"] if o["originId"] == "api")
    assert api["domainName"] == API_HOST
    assert api["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert api["customOriginConfig"]["originSslProtocols"] == ["TLSv1.2"]
    (behaviour,) = distribution["orderedCacheBehaviors"]
    assert behaviour["pathPattern"] == "/api/*" and behaviour["targetOriginId"] == "api"
    assert {"POST", "PUT", "DELETE", "PATCH"} <= set(behaviour["allowedMethods"])
    cache = one(synth, "web-api-cache").inputs
    assert cache["defaultTtl"] == 0 and cache["maxTtl"] <= 1
    params = cache["parametersInCacheKeyAndForwardedToOrigin"]
    # the viewer's country reaches the API (track territories) through the cache key, whatever
    # the managed origin request policy adds
    assert params["headersConfig"] == {
        "headerBehavior": "whitelist",
        "headers": {"items": ["Authorization", "CloudFront-Viewer-Country"]},
    }
    assert behaviour["cachePolicyId"] == cache["name"]
    assert behaviour["originRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    (strip,) = behaviour["functionAssociations"]
    assert strip["functionArn"].endswith(one(synth, "web-api-prefix").inputs["name"])
    # the SPA rewrite stays on the default behaviour only
    default = distribution["defaultCacheBehavior"]["functionAssociations"][0]["functionArn"]
    assert default.endswith("web-spa-rewrite")


def test_prod_uses_its_domain_with_a_us_east_1_certificate_and_alias_records(prod):
    distribution = one(prod, "web-distribution").inputs
    assert distribution["aliases"] == ["music.example.com"]
    assert distribution["viewerCertificate"]["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert one(prod, "web-certificate").inputs["region"] == "us-east-1"
    for record_type in ("a", "aaaa"):
        record = one(prod, f"web-alias-{record_type}").inputs
        assert record["name"] == "music.example.com"
        assert record["aliases"][0]["zoneId"] == "Z2FDTNDATAQYW2"
    assert prod.outputs["web_url"] == "https://music.example.com"


def _run_js(code: str, uri: str) -> str:
    script = code + f"\nconsole.log(handler({{request: {{uri: {json.dumps(uri)}}}}}).uri);"
    return subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run CloudFront JS")
@pytest.mark.parametrize(
    ("uri", "spa", "api"),
    [
        ("/", "/index.html", "/"),
        ("/albums/42", "/index.html", "/albums/42"),
        ("/assets/app.3f2a.js", "/assets/app.3f2a.js", "/assets/app.3f2a.js"),
        ("/api/tracks/7", "/index.html", "/tracks/7"),
        ("/api", "/index.html", "/"),
        ("/apis/x", "/index.html", "/apis/x"),
    ],
)
def test_cloudfront_functions_rewrite_paths(uri, spa, api):
    assert _run_js(SPA_REWRITE, uri) == spa
    assert _run_js(API_PREFIX_STRIP, uri) == api


@pytest.mark.parametrize("stack", STACKS)
def test_csp_connect_src_admits_exactly_the_feed_websocket_origin(request, stack):
    """Browsers apply `connect-src` to WebSocket connections: the feed's `wss://` origin must be
    listed (CSP Level 3 lets 'self' match ws/wss only for the page's own host)."""
    synth = request.getfixturevalue(stack)
    headers = one(synth, "web-site-headers").inputs["securityHeadersConfig"]
    directives = {
        d.split(" ", 1)[0]: d.split(" ")[1:]
        for d in headers["contentSecurityPolicy"]["contentSecurityPolicy"].split("; ")
    }
    feed_url = synth.outputs["feed_websocket_url"]  # wss://<id>.execute-api.<region>...<stage>
    origin = feed_url.rsplit("/", 1)[0]
    assert origin.startswith("wss://") and origin.endswith(".execute-api.eu-west-1.amazonaws.com")
    assert directives["connect-src"] == [
        "'self'",
        f"https://soundstack-{stack}-identity-auth.auth.eu-west-1.amazoncognito.com",
        origin,
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_api_origin_gets_the_secret_origin_header_and_never_the_viewers_host(request, stack):
    synth = request.getfixturevalue(stack)
    distribution = one(synth, "web-distribution")
    (api,) = [o for o in distribution.inputs["origins"] if o["originId"] == "api"]
    assert api["customHeaders"] == [
        {"name": ORIGIN_VERIFY_HEADER, "value": "offline-preview-placeholder"}
    ]
    assert distribution.masked_inputs["origins"] == "[secret]"  # never printed or stored plain
    (behaviour,) = distribution.inputs["orderedCacheBehaviors"]
    assert behaviour["originRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert behaviour["originRequestPolicyId"] not in HOST_FORWARDING_POLICIES
    # the header is the one the auth service's edge gate checks
    assert ORIGIN_VERIFY_HEADER == auth_domain.ORIGIN_VERIFY_HEADER


def test_origin_secret_without_an_api_is_refused():
    with pytest.raises(ValueError, match="api_origin_secret is set without api_domain"):
        WebArgs(api_origin_secret="s")
