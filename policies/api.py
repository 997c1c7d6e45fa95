"""API Gateway: authorization on every route not declared public, logging, throttling, WAF.

Public routes are declared in this pack's config (`apigw-route-authorization.publicRoutes`),
whose default is the list `components.api.DEFAULT_ROUTES` marks `public=True` (a test keeps the
two equal). WebSocket `$disconnect` and `$default` routes are always exempt: API Gateway accepts
an authorizer only on `$connect`.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from .core import (
    ADVISORY,
    Settings,
    Spec,
    get,
    judging,
    linked,
    of_type,
    present,
    resource_policy,
    stack_policy,
)

POLICIES: list[Spec] = []

ROUTE = "aws:apigatewayv2/route:Route"
STAGE = "aws:apigatewayv2/stage:Stage"
API = "aws:apigatewayv2/api:Api"
REST_STAGE = "aws:apigateway/stage:Stage"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
DECLARED_PUBLIC_ROUTES = [
    "GET /health",
    "POST /payments/webhooks/stripe",
    "POST /payments/webhooks/paypal",
]
UNAUTHORIZABLE_ROUTES = ("$disconnect", "$default")


@resource_policy(
    POLICIES,
    "apigw-route-authorization",
    "Every API Gateway v2 route has an authorizer (JWT, IAM or Lambda) unless its route key is "
    "declared public in `publicRoutes` (health check, payment-provider webhooks).",
    ["FSBP APIGateway.8"],
    [ROUTE],
    config={
        "publicRoutes": {
            "type": "array",
            "items": {"type": "string"},
            "default": DECLARED_PUBLIC_ROUTES,
            "description": "route keys that may be called without authorization",
        }
    },
)
def _route_auth(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    key = str(get(args.props, "routeKey", default=""))
    kind = get(args.props, "authorizationType", default="NONE")
    if kind != "NONE" or key in UNAUTHORIZABLE_ROUTES or key in cfg["publicRoutes"]:
        return
    report(
        f"route {key!r} has authorization_type NONE and is not declared public; add the "
        "JWT authorizer or list it in publicRoutes",
        None,
    )


@resource_policy(
    POLICIES,
    "apigw-access-logging",
    "Every API Gateway stage (HTTP, WebSocket, REST) writes access logs with a format.",
    ["FSBP APIGateway.9", "PCI 10.2.1"],
    [STAGE, REST_STAGE],
)
def _access_logs(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    settings = get(args.props, "accessLogSettings", default={})
    if not (present(settings, "destinationArn") and get(settings, "format")):
        report("no access_log_settings (destination and format); log to a CloudWatch group", None)


@resource_policy(
    POLICIES,
    "apigw-execution-logging",
    "WebSocket stages log execution at ERROR or INFO level.",
    ["FSBP APIGateway.1"],
    [STAGE],
    level=ADVISORY,
)
def _execution_logs(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if str(get(args.props, "name", default="")) == "$default":
        return  # HTTP APIs have no execution logging
    level = get(args.props, "defaultRouteSettings", "loggingLevel")
    if level not in ("ERROR", "INFO"):
        report(f"default_route_settings.logging_level is {level!r}; set ERROR or INFO", None)


@resource_policy(
    POLICIES,
    "apigw-throttling",
    "Every API Gateway v2 stage throttles by default (rate and burst limits set).",
    ["custom"],
    [STAGE],
)
def _throttling(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    settings = get(args.props, "defaultRouteSettings", default={})
    for key in ("throttlingRateLimit", "throttlingBurstLimit"):
        if not get(settings, key):
            report(f"default_route_settings.{key} is not set", None)


@stack_policy(
    POLICIES,
    "apigw-waf",
    "REST API stages are associated with a WAF web ACL; HTTP APIs (which WAF cannot attach "
    "to) are the origin of a CloudFront distribution that has one.",
    ["FSBP APIGateway.4", "PCI 6.4.2"],
    [REST_STAGE, API, WEB_ACL_ASSOCIATION, "aws:cloudfront/distribution:Distribution"],
)
def _waf(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    associations = list(of_type(args.resources, WEB_ACL_ASSOCIATION))
    for stage in of_type(args.resources, REST_STAGE):
        with judging(stage, report):
            if not any(linked(a, "resourceArn", stage, "arn") for a in associations):
                report(f"REST stage {stage.name} has no WebAclAssociation", stage.urn)
    protected = [
        d
        for d in of_type(args.resources, "aws:cloudfront/distribution:Distribution")
        if present(d.props, "webAclId")
    ]
    for api in of_type(args.resources, API):
        with judging(api, report):
            if get(api.props, "protocolType") != "HTTP":
                continue
            if not any(linked(d, "origins", api) for d in protected):
                report(
                    f"HTTP API {api.name} is not behind a WAF-protected CloudFront "
                    "distribution; add it as the web distribution's /api/* origin",
                    api.urn,
                )
