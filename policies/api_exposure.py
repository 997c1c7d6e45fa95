"""Every path to an HTTP API passes the web ACL: the API answers only what CloudFront forwarded.

HTTP APIs cannot be associated with a WAF web ACL, and their default `execute-api` endpoint (and
any custom domain) is reachable from the internet. The estate serves the API through the web
distribution's `/api/*` behaviour, whose origin adds a secret origin-verify header, and guards
every route with a Lambda authorizer that requires that header (`components.api`, edge-only).
This policy holds a stack to that design; it also catches what makes the origin fail on a real
deploy (the viewer's `Host` forwarded to `execute-api`, or the endpoint CloudFront uses disabled).
"""

from __future__ import annotations

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from .core import (
    ENVIRONMENTS_PROPERTY,
    Settings,
    Spec,
    get,
    items,
    linked,
    of_type,
    references,
    stack_environment,
    stack_policy,
    truthy,
)

POLICIES: list[Spec] = []

API = "aws:apigatewayv2/api:Api"
ROUTE = "aws:apigatewayv2/route:Route"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
#: `components.cdn.ORIGIN_VERIFY_HEADER` (a test keeps the two equal).
ORIGIN_VERIFY_HEADER = "x-origin-verify"
#: AWS managed origin request policies that forward the viewer's Host: AllViewer and
#: AllViewerAndCloudFrontHeaders-2022-06 (`components.cdn.HOST_FORWARDING_POLICIES`).
HOST_FORWARDING_POLICIES = (
    "216adef6-5c7f-47e4-b989-5492eafa07d3",
    "33f36d7e-f396-46d9-90e0-52428a34d9dc",
)


def _guarding_authorizer(
    route: PolicyResource, authorizers: list[PolicyResource], header: str
) -> bool:
    """The route's authorizer is a Lambda (REQUEST) authorizer keyed on the origin header."""
    if get(route.props, "authorizationType") != "CUSTOM":
        return False
    source = f"$request.header.{header}".lower()
    return any(
        linked(route, "authorizerId", a, "name")
        and get(a.props, "authorizerType") == "REQUEST"
        and source in [str(s).lower() for s in items(get(a.props, "identitySources"))]
        for a in authorizers
    )


def _api_origins(distribution: PolicyResource, api: PolicyResource) -> list[object]:
    """The distribution's origins that point at `api`'s endpoint (when the endpoint is not
    known yet, every custom origin of a distribution built from the API)."""
    endpoint = get(api.props, "apiEndpoint")
    origins = items(get(distribution.props, "origins"))
    if isinstance(endpoint, str) and endpoint:
        host = endpoint.removeprefix("https://")
        return [o for o in origins if get(o, "domainName") == host]
    if references(distribution, "origins", api):
        return [o for o in origins if get(o, "customOriginConfig")]
    return []


def _sends_header(origin: object, header: str) -> bool:
    return any(
        str(get(h, "name", default="")).lower() == header and get(h, "value")
        for h in items(get(origin, "customHeaders"))
    )


def _forwards_host(distribution: PolicyResource, origin_id: str) -> bool:
    for behaviour in items(get(distribution.props, "orderedCacheBehaviors")):
        if get(behaviour, "targetOriginId") != origin_id:
            continue
        if get(behaviour, "originRequestPolicyId") in HOST_FORWARDING_POLICIES:
            return True
        forwarded = [str(h).lower() for h in items(get(behaviour, "forwardedValues", "headers"))]
        if "host" in forwarded or "*" in forwarded:
            return True
    return False


@stack_policy(
    POLICIES,
    "deploy-api-behind-web-acl",
    "No path to an HTTP API skips the web ACL: every route has a Lambda authorizer that "
    "requires the origin-verify header, and a distribution with a WAF web ACL is the API's "
    "origin and adds that header without forwarding the viewer's Host (API Gateway rejects "
    "a foreign Host) to an execute-api endpoint the API keeps enabled.",
    ["FSBP APIGateway.4", "FSBP CloudFront.6", "PCI 6.4.2"],
    [API, ROUTE, AUTHORIZER, DISTRIBUTION],
    config={
        "environments": ENVIRONMENTS_PROPERTY,
        "header": {
            "type": "string",
            "default": ORIGIN_VERIFY_HEADER,
            "description": "name of the header CloudFront adds and the authorizer requires",
        },
    },
)
def _behind_web_acl(args: StackValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    environment = stack_environment(args.resources)
    if environment is not None and environment not in cfg["environments"]:
        return
    header = str(cfg["header"]).lower()
    routes = list(of_type(args.resources, ROUTE))
    authorizers = list(of_type(args.resources, AUTHORIZER))
    protected = [d for d in of_type(args.resources, DISTRIBUTION) if get(d.props, "webAclId")]
    for api in of_type(args.resources, API):
        if get(api.props, "protocolType") != "HTTP":
            continue
        for route in routes:
            if linked(route, "apiId", api, "name") and not _guarding_authorizer(
                route, authorizers, header
            ):
                report(
                    f"route {get(route.props, 'routeKey')!r} of HTTP API {api.name} answers "
                    f"requests that did not pass the web ACL (on execute-api or a custom "
                    f"domain): give it a REQUEST authorizer whose identity sources include "
                    f"$request.header.{header} (components.api HttpApiArgs.edge_authorizer)",
                    route.urn,
                )
        fronted = [(d, o) for d in protected for o in _api_origins(d, api)]
        if not fronted:
            report(
                f"HTTP API {api.name} is not the origin of a distribution with a web ACL; serve "
                "it as the web distribution's /api/* origin (WebArgs.api_domain)",
                api.urn,
            )
        for distribution, origin in fronted:
            origin_id = str(get(origin, "originId", default=""))
            if not _sends_header(origin, header):
                report(
                    f"distribution {distribution.name} sends no {header} header to the API "
                    f"origin {origin_id!r}: the edge authorizer will refuse every request; set "
                    "WebArgs.api_origin_secret",
                    distribution.urn,
                )
            if _forwards_host(distribution, origin_id):
                report(
                    f"distribution {distribution.name} forwards the viewer's Host header to the "
                    f"API origin {origin_id!r}; API Gateway answers 403 to a Host that is not "
                    "its own: use the managed AllViewerExceptHostHeader origin request policy",
                    distribution.urn,
                )
            if truthy(get(api.props, "disableExecuteApiEndpoint")):
                report(
                    f"HTTP API {api.name} disables its execute-api endpoint, which is the "
                    f"origin of distribution {distribution.name}; keep it enabled (the edge "
                    "authorizer guards it) or point the origin at a custom domain",
                    api.urn,
                )
