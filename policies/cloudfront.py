"""CloudFront distributions and WAF web ACLs: viewer and origin TLS, OAC, WAF, logging (v2),
and the origin-group constraints CloudFront enforces (`deploy-cloudfront-origin-group`)."""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from .core import (
    ADVISORY,
    Settings,
    Spec,
    as_strings,
    get,
    items,
    judging,
    linked,
    of_type,
    present,
    resource_policy,
    stack_policy,
    truthy,
)

POLICIES: list[Spec] = []

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
LOG_SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
LOG_DELIVERY = "aws:cloudwatch/logDelivery:LogDelivery"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
SECURE_VIEWER_POLICIES = ("https-only", "redirect-to-https")
WEAK_ORIGIN_PROTOCOLS = ("SSLv3", "TLSv1", "TLSv1.1")


def _behaviours(props: Mapping) -> list:
    return [
        get(props, "defaultCacheBehavior", default={}),
        *items(get(props, "orderedCacheBehaviors")),
    ]


def _is_s3_origin(origin: Mapping) -> bool:
    domain = str(get(origin, "domainName", default=""))
    return ".s3." in domain or domain.endswith(".s3.amazonaws.com") or "s3-website" in domain


@resource_policy(
    POLICIES,
    "cloudfront-viewer-https",
    "Every cache behaviour of a distribution sends viewers HTTPS only (https-only or "
    "redirect-to-https).",
    ["FSBP CloudFront.3", "PCI 4.2.1"],
    [DISTRIBUTION],
)
def _viewer_https(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    for behaviour in _behaviours(args.props):
        policy = get(behaviour, "viewerProtocolPolicy")
        if policy not in SECURE_VIEWER_POLICIES:
            path = get(behaviour, "pathPattern", default="default")
            report(
                f"behaviour {path} uses viewer_protocol_policy {policy!r}; use "
                "redirect-to-https or https-only",
                None,
            )


@resource_policy(
    POLICIES,
    "cloudfront-viewer-min-tls",
    "A distribution serving its own certificate requires TLS 1.2 or later from viewers.",
    ["PCI 4.2.1"],
    [DISTRIBUTION],
)
def _viewer_tls(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    cert = get(args.props, "viewerCertificate", default={})
    if truthy(get(cert, "cloudfrontDefaultCertificate")):
        return
    version = str(get(cert, "minimumProtocolVersion", default=""))
    if not version.startswith(("TLSv1.2", "TLSv1.3")):
        report(f"minimum_protocol_version is {version or 'unset'}; use TLSv1.2_2021", None)


@resource_policy(
    POLICIES,
    "cloudfront-custom-certificate",
    "A distribution serves a custom domain with its own ACM certificate: CloudFront's default "
    "*.cloudfront.net certificate cannot enforce TLS 1.2.",
    ["PCI 4.2.1"],
    [DISTRIBUTION],
    level=ADVISORY,
)
def _custom_cert(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if truthy(get(args.props, "viewerCertificate", "cloudfrontDefaultCertificate")):
        report(
            "served on the default *.cloudfront.net certificate (TLS 1.0 still accepted); "
            "set a domain so the distribution gets an ACM certificate",
            None,
        )


@resource_policy(
    POLICIES,
    "cloudfront-origin-access-control",
    "S3 origins are reached through origin access control (no public bucket, no website "
    "endpoint, no legacy OAI).",
    ["FSBP CloudFront.13", "FSBP CloudFront.12", "PCI 1.3"],
    [DISTRIBUTION],
)
def _oac(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    for origin in items(get(args.props, "origins")):
        if not _is_s3_origin(origin):
            continue
        origin_id = get(origin, "originId")
        if "s3-website" in str(get(origin, "domainName")):
            report(
                f"origin {origin_id} is an S3 website endpoint (a public bucket); use the "
                "bucket's regional domain with OAC",
                None,
            )
        elif not get(origin, "originAccessControlId"):
            report(f"S3 origin {origin_id} has no origin_access_control_id; add an OAC", None)


@resource_policy(
    POLICIES,
    "cloudfront-origin-tls",
    "Custom origins are fetched over HTTPS with TLS 1.2 (no SSLv3, TLS 1.0 or 1.1).",
    ["FSBP CloudFront.9", "FSBP CloudFront.10", "PCI 4.2.1"],
    [DISTRIBUTION],
)
def _origin_tls(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    for origin in items(get(args.props, "origins")):
        config = get(origin, "customOriginConfig")
        if config is None:
            continue
        origin_id = get(origin, "originId")
        if get(config, "originProtocolPolicy") != "https-only":
            report(
                f"origin {origin_id} origin_protocol_policy is "
                f"{get(config, 'originProtocolPolicy')!r}; use https-only",
                None,
            )
        weak = sorted(
            set(as_strings(get(config, "originSslProtocols"))) & set(WEAK_ORIGIN_PROTOCOLS)
        )
        if weak:
            report(f"origin {origin_id} allows {weak}; list only TLSv1.2", None)


@resource_policy(
    POLICIES,
    "cloudfront-waf",
    "Every distribution is associated with a WAF web ACL.",
    ["FSBP CloudFront.6", "PCI 6.4.2"],
    [DISTRIBUTION],
)
def _waf(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not present(args.props, "webAclId"):
        report("no web_acl_id; attach the edge component's CLOUDFRONT-scope web ACL", None)


@stack_policy(
    POLICIES,
    "cloudfront-logging-v2",
    "Every distribution delivers its access logs through standard logging v2 (a CloudWatch Logs "
    "delivery source of type ACCESS_LOGS for the distribution, and a delivery from it) and none "
    'uses legacy standard logging, which writes through bucket ACLs: "Your bucket must have '
    "access control list (ACL) enabled\". Security Hub's CloudFront.5 check (AWS Config "
    "cloudfront-accesslogs-enabled) recognises only legacy logging, so it stays failed in the "
    "account: suppress it there, with this policy as the compensating control.",
    ["PCI 10.2.1", "FSBP S3.12", "custom"],
    [DISTRIBUTION, LOG_SOURCE, LOG_DELIVERY],
)
def _logging_v2(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    sources = [s for s in of_type(args.resources, LOG_SOURCE)
               if get(s.props, "logType") == "ACCESS_LOGS"]  # fmt: skip
    deliveries = list(of_type(args.resources, LOG_DELIVERY))
    for dist in of_type(args.resources, DISTRIBUTION):
        with judging(dist, report):
            if present(dist.props, "loggingConfig", "bucket"):
                report(
                    f"distribution {dist.name} uses legacy standard logging (logging_config), "
                    "which needs bucket ACLs; remove it and deliver through standard logging v2 "
                    "(components.cdn.access_logs)",
                    dist.urn,
                )
            mine = [s for s in sources if linked(s, "resourceArn", dist, "arn")]
            if not any(linked(d, "deliverySourceName", s, "name") for s in mine
                       for d in deliveries):  # fmt: skip
                report(
                    f"distribution {dist.name} has no standard logging v2 delivery; add a "
                    "LogDeliverySource (ACCESS_LOGS, us-east-1), a LogDeliveryDestination and a "
                    "LogDelivery (components.cdn.access_logs)",
                    dist.urn,
                )


@resource_policy(
    POLICIES,
    "cloudfront-default-root-object",
    "A distribution names a default root object, so `/` never lists or errors from the origin.",
    ["FSBP CloudFront.1"],
    [DISTRIBUTION],
    level=ADVISORY,
)
def _root_object(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not get(args.props, "defaultRootObject"):
        report("no default_root_object; set e.g. index.html", None)


@resource_policy(
    POLICIES,
    "waf-rules",
    "Every WAF web ACL holds at least one rule or rule group.",
    ["FSBP WAF.10", "PCI 6.4.2"],
    [WEB_ACL],
)
def _waf_rules(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not items(get(args.props, "rules")) and not get(args.props, "ruleJson"):
        report("the web ACL has no rules; add the AWS managed rule groups", None)


@resource_policy(
    POLICIES,
    "waf-metrics",
    "A web ACL and each of its rules publish CloudWatch metrics.",
    ["FSBP WAF.12"],
    [WEB_ACL],
)
def _waf_metrics(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not truthy(get(args.props, "visibilityConfig", "cloudwatchMetricsEnabled")):
        report("visibility_config.cloudwatch_metrics_enabled is off for the ACL", None)
    for rule in items(get(args.props, "rules")):
        if not truthy(get(rule, "visibilityConfig", "cloudwatchMetricsEnabled")):
            report(f"rule {get(rule, 'name')} has CloudWatch metrics off", None)


@stack_policy(
    POLICIES,
    "waf-logging",
    "Every WAF web ACL has a logging configuration.",
    ["FSBP WAF.11", "PCI 10.2.1"],
    [WEB_ACL, WEB_ACL_LOGGING],
)
def _waf_logging(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    configs = list(of_type(args.resources, WEB_ACL_LOGGING))
    for acl in of_type(args.resources, WEB_ACL):
        with judging(acl, report):
            if not any(linked(c, "resourceArn", acl, "arn") for c in configs):
                report(f"web ACL {acl.name} has no WebAclLoggingConfiguration", acl.urn)


#: Failover criteria CloudFront accepts. Developer Guide: "You can choose any combination of the
#: following status codes: 403, 404, 500, 502, 503, or 504"; the console now also offers 400
#: and 416.
FAILOVER_STATUS_CODES = (400, 403, 404, 416, 500, 502, 503, 504)
#: What a behaviour served by an origin group may allow (AllowedMethods is one of three sets).
ORIGIN_GROUP_METHODS = ("GET", "HEAD", "OPTIONS")


@resource_policy(
    POLICIES,
    "deploy-cloudfront-origin-group",
    'Origin groups are built as CloudFront accepts them: "An origin group includes two origins '
    '(a primary origin and a secondary origin to failover to)" of the same distribution, '
    "failover status codes among 400, 403, 404, 416, 500, 502, 503 and 504, and a behaviour "
    'served by a group allows only GET, HEAD and OPTIONS: "The parameter AllowedMethods cannot '
    "include POST, PUT, PATCH, or DELETE for a cached behavior associated with an origin "
    'group."',
    ["custom"],
    [DISTRIBUTION],
)
def _origin_groups(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    origin_ids = {get(o, "originId") for o in items(get(args.props, "origins"))}
    groups = {get(g, "originId"): g for g in items(get(args.props, "originGroups"))}
    for group_id, group in groups.items():
        members = [get(m, "originId") for m in items(get(group, "members"))]
        if len(members) != 2:
            report(f"origin group {group_id} has {len(members)} members; it takes exactly 2", None)
        unknown = [m for m in members if m not in origin_ids]
        if unknown:
            report(f"origin group {group_id} names {unknown}, not origins of the distribution",
                   None)  # fmt: skip
        codes = [int(c) for c in items(get(group, "failoverCriteria", "statusCodes"))]
        refused = sorted(set(codes) - set(FAILOVER_STATUS_CODES))
        if not codes or refused:
            report(
                f"origin group {group_id} fails over on {refused or 'no status code'}; choose "
                f"from {list(FAILOVER_STATUS_CODES)}",
                None,
            )
    for behaviour in _behaviours(args.props):
        if get(behaviour, "targetOriginId") not in groups:
            continue
        extra = sorted(
            set(as_strings(get(behaviour, "allowedMethods"))) - set(ORIGIN_GROUP_METHODS)
        )
        if extra:
            path = get(behaviour, "pathPattern", default="default")
            report(
                f"behaviour {path} is served by origin group {get(behaviour, 'targetOriginId')} "
                f"but allows {extra}; allow GET, HEAD and OPTIONS only, or target an origin",
                None,
            )


#: What a signed-URL distribution may serve unsigned: cover art (public artwork), read-only.
UNSIGNED_PATHS = ["covers/*"]
READ_METHODS = ("GET", "HEAD")


@resource_policy(
    POLICIES,
    "cloudfront-signed-unsigned-paths",
    "A distribution whose default behaviour serves only signed URLs (the licensed audio) leaves "
    "unsigned only the path patterns listed in `unsignedPaths` (cover art), and those read-only "
    "(GET, HEAD): a behaviour without trusted key groups is public, whatever the default says.",
    ["custom"],
    [DISTRIBUTION],
    config={
        "unsignedPaths": {
            "type": "array",
            "items": {"type": "string"},
            "default": UNSIGNED_PATHS,
            "description": "path patterns a signed distribution may serve without a signature",
        }
    },
)
def _unsigned_paths(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    default = get(args.props, "defaultCacheBehavior", default={})
    if not get(default, "trustedKeyGroups"):
        return  # not a signed-URL distribution (the web app)
    for behaviour in items(get(args.props, "orderedCacheBehaviors")):
        if get(behaviour, "trustedKeyGroups"):
            continue
        pattern = str(get(behaviour, "pathPattern", default=""))
        if pattern not in cfg["unsignedPaths"]:
            report(
                f"behaviour {pattern!r} serves without a signature on a signed-URL distribution; "
                f"give it the key group, or list it in unsignedPaths (now {cfg['unsignedPaths']})",
                None,
            )
            continue
        writes = sorted(set(as_strings(get(behaviour, "allowedMethods"))) - set(READ_METHODS))
        if writes:
            report(f"unsigned behaviour {pattern!r} allows {writes}; allow GET and HEAD only", None)
