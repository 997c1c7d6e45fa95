"""policies/licensing.py: geo restriction of the music and the viewer's country to the API, on
hand-made compliant and violating stacks and on the prod program with the control removed."""

from __future__ import annotations

import copy

from soundstack.engine import evaluate
from tests.policies.helpers import Stack, check_resource

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
CACHE_POLICY = "aws:cloudfront/cachePolicy:CachePolicy"
ORIGIN_REQUEST_POLICY = "aws:cloudfront/originRequestPolicy:OriginRequestPolicy"
PROD = {"environment": "prod"}
SIGNED = {"defaultCacheBehavior": {"trustedKeyGroups": ["kg-1"]}, "tags": PROD}
API = {"originId": "api", "domainName": "abc123.execute-api.eu-west-1.amazonaws.com"}


def _geo(restriction: dict, props: dict = SIGNED, config: dict | None = None) -> list[str]:
    return check_resource(
        "cloudfront-geo-restriction",
        DISTRIBUTION,
        {**props, "restrictions": {"geoRestriction": restriction}},
        config,
    )


def test_geo_restriction_of_the_music_in_prod():
    licensed = {"restrictionType": "whitelist", "locations": ["GB", "IE"]}
    assert _geo(licensed) == []
    (unrestricted,) = _geo({"restrictionType": "none"})
    assert "set edge.allowed_countries" in unrestricted
    assert _geo({"restrictionType": "blacklist", "locations": ["US"]})  # allows the unlicensed
    # the web app (no signed URLs) and dev stay unrestricted; dev may opt in through config
    assert _geo({"restrictionType": "none"}, {"tags": PROD}) == []
    dev = {**SIGNED, "tags": {"environment": "dev"}}
    assert _geo({"restrictionType": "none"}, dev) == []
    assert _geo({"restrictionType": "none"}, dev, {"environments": ["dev", "prod"]}) != []


def test_geo_restriction_codes_are_what_cloudfront_accepts_everywhere():
    dev = {"tags": {"environment": "dev"}}
    found = _geo({"restrictionType": "whitelist", "locations": ["GB", "UK", "ie"]}, dev)
    assert found == [
        "geo restriction: 'UK' is not an ISO 3166-1 alpha-2 country code (use GB)",
        "geo restriction: 'ie' is not an ISO 3166-1 alpha-2 country code "
        '(write it upper-case: "IE")',
    ]
    assert _geo({"restrictionType": "whitelist", "locations": []}, dev) == [
        "geo restriction whitelist lists no country; list ISO 3166-1 alpha-2 codes"
    ]


def _api_stack(cache_headers: list[str], origin_request: dict | None = None) -> Stack:
    s = Stack()
    cache = s.add(
        CACHE_POLICY,
        "api-cache",
        {"name": "api-cache", "parametersInCacheKeyAndForwardedToOrigin": {
            "headersConfig": {"headerBehavior": "whitelist",
                              "headers": {"items": cache_headers}}}},
    )  # fmt: skip
    used = [cache]
    if origin_request is not None:
        used.append(s.add(ORIGIN_REQUEST_POLICY, "api-origin", {"headersConfig": origin_request}))
    s.add(
        DISTRIBUTION,
        "web",
        {"origins": [{"originId": "site", "domainName": "b.s3.eu-west-1.amazonaws.com"}, API],
         "orderedCacheBehaviors": [{"pathPattern": "/api/*", "targetOriginId": "api"}]},
        {"orderedCacheBehaviors": used},
    )  # fmt: skip
    return s


def test_viewer_country_reaches_the_api():
    assert (
        _api_stack(["Authorization", "CloudFront-Viewer-Country"]).check(
            "cloudfront-viewer-country-to-api"
        )
        == []
    )
    (missing,) = _api_stack(["Authorization"]).check("cloudfront-viewer-country-to-api")
    assert missing[0] == "web" and "no CloudFront-Viewer-Country" in missing[1]
    # an origin request policy listing it does as well; one sending only viewer headers not
    listing = {"headerBehavior": "allViewerAndWhitelistCloudFront",
               "headers": {"items": ["cloudfront-viewer-country"]}}  # fmt: skip
    assert _api_stack(["Authorization"], listing).check("cloudfront-viewer-country-to-api") == []
    viewer_only = {"headerBehavior": "allExcept", "headers": {"items": ["host"]}}
    assert _api_stack(["Authorization"], viewer_only).check("cloudfront-viewer-country-to-api")
    # a distribution without an API origin is not concerned
    s = Stack()
    s.add(DISTRIBUTION, "media", {"origins": [{"originId": "m", "domainName": "m.s3.x"}]})
    assert s.check("cloudfront-viewer-country-to-api") == []


def test_prod_without_the_controls_fails_them(prod):
    assert not [v for v in evaluate(prod) if v.policy.startswith(("cloudfront-geo",
                                                                    "cloudfront-viewer-country"))]  # fmt: skip
    broken = copy.deepcopy(prod)
    media = next(r for r in broken.resources if r.name == "media-distribution")
    media.inputs["restrictions"] = {"geoRestriction": {"restrictionType": "none"}}
    cache = next(r for r in broken.resources if r.name == "web-api-cache")
    headers = cache.inputs["parametersInCacheKeyAndForwardedToOrigin"]["headersConfig"]
    headers["headers"]["items"] = ["Authorization"]
    found = {(v.policy, v.urn) for v in evaluate(broken) if v.level == "mandatory"}
    web = next(r for r in broken.resources if r.name == "web-distribution")
    assert found == {
        ("cloudfront-geo-restriction", media.urn),
        ("cloudfront-viewer-country-to-api", web.urn),
    }
