"""Licensing territories: music is licensed per country (README "Licensing territories").

The media distribution serves only the licensed countries (CloudFront geo restriction), and the
API learns each listener's country from CloudFront (`CloudFront-Viewer-Country`) to refuse a
track outside its own territories. No FSBP, CIS or PCI control covers content licensing, so both
policies are `custom`. The country codes are checked everywhere against the ISO 3166-1 alpha-2
list (`app_services.core.territories`), since CloudFront takes nothing else; that a
signed-URL distribution restricts at all applies to the environments in its `environments`
config (default `["prod"]`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from .core import (
    ENVIRONMENTS_PROPERTY,
    Settings,
    Spec,
    as_strings,
    get,
    items,
    judging,
    known,
    of_type,
    references,
    resource_policy,
    stack_policy,
)
from .territories import code_problem

POLICIES: list[Spec] = []

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
CACHE_POLICY = "aws:cloudfront/cachePolicy:CachePolicy"
ORIGIN_REQUEST_POLICY = "aws:cloudfront/originRequestPolicy:OriginRequestPolicy"
VIEWER_COUNTRY = "cloudfront-viewer-country"
#: Header behaviours of an origin request policy that send the headers it lists.
_LISTING = ("whitelist", "allViewerAndWhitelistCloudFront")


def _behaviours(props: Mapping[str, Any]) -> list[Any]:
    return [get(props, "defaultCacheBehavior", default={}),
            *items(get(props, "orderedCacheBehaviors"))]  # fmt: skip


@resource_policy(
    POLICIES,
    "cloudfront-geo-restriction",
    "A distribution that serves only signed URLs (the music) is restricted to the licensed "
    "countries with a geo restriction whitelist (`edge.allowed_countries`); every geo "
    'restriction lists ISO 3166-1 alpha-2 codes only. CloudFront: "The Location element is a '
    'two-letter, uppercase country code" and "CloudFront and MaxMind both use ISO 3166 country '
    'codes".',
    ["custom"],
    [DISTRIBUTION],
    config={"environments": ENVIRONMENTS_PROPERTY},
)
def _geo(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    restriction = get(args.props, "restrictions", "geoRestriction", default={})
    kind = get(restriction, "restrictionType", default="none")
    locations = as_strings(get(restriction, "locations"))
    if kind != "none" and not locations:
        report(f"geo restriction {kind} lists no country; list ISO 3166-1 alpha-2 codes", None)
    for location in locations:
        problem = code_problem(location)
        if problem:
            report(f"geo restriction: {problem}", None)
    signed = any(get(b, "trustedKeyGroups") for b in _behaviours(args.props))
    if signed and cfg.applies_to(args.props) and kind != "whitelist":
        report(
            f"serves signed URLs (music) with geo restriction {kind!r}: set "
            "edge.allowed_countries to the countries the catalog is licensed in",
            None,
        )


def _forwards_country(policy: PolicyResource) -> bool:
    """The cache or origin request policy sends `CloudFront-Viewer-Country` to the origin."""
    if policy.resource_type == CACHE_POLICY:
        config = get(policy.props, "parametersInCacheKeyAndForwardedToOrigin", "headersConfig")
        listed = get(config, "headerBehavior") == "whitelist"
    else:
        config = get(policy.props, "headersConfig")
        listed = get(config, "headerBehavior") in _LISTING
    names = [h.lower() for h in as_strings(get(config, "headers", "items"))]
    return listed and VIEWER_COUNTRY in names


def _api_origins(props: Mapping[str, Any]) -> list[str]:
    return [
        str(get(o, "originId"))
        for o in items(get(props, "origins"))
        if ".execute-api." in str(known(o, "domainName") or "")
    ]


@stack_policy(
    POLICIES,
    "cloudfront-viewer-country-to-api",
    "A distribution fronting an API Gateway API sends it the listener's country: a cache "
    "policy or origin request policy of the distribution lists `CloudFront-Viewer-Country`, "
    "which the catalog's stream endpoint checks a track's territories against (without it, "
    "every territory-restricted track is refused). CloudFront adds the header only when a "
    'policy names it: "To receive these headers at your origin but not include them in the '
    'cache key, use an origin request policy".',
    ["custom"],
    [DISTRIBUTION, CACHE_POLICY, ORIGIN_REQUEST_POLICY],
)
def _country(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    policies = list(of_type(args.resources, CACHE_POLICY, ORIGIN_REQUEST_POLICY))
    for distribution in of_type(args.resources, DISTRIBUTION):
        with judging(distribution, report):
            apis = _api_origins(distribution.props)
            if not apis:
                continue
            used = [
                p
                for p in policies
                if references(distribution, "orderedCacheBehaviors", p)
                or references(distribution, "defaultCacheBehavior", p)
            ]
            if not any(_forwards_country(p) for p in used):
                report(
                    f"{distribution.name} sends API origin {', '.join(apis)} no "
                    "CloudFront-Viewer-Country: add it to the API behaviour's cache policy "
                    "headers (components/web.py)",
                    distribution.urn,
                )
