"""CloudFront distributions and WAF web ACLs."""

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


@resource_policy(
    POLICIES,
    "cloudfront-logging",
    "Every distribution writes standard access logs.",
    ["FSBP CloudFront.5", "PCI 10.2.1"],
    [DISTRIBUTION],
)
def _logging(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not present(args.props, "loggingConfig", "bucket"):
        report("no logging_config; log to the owner's log bucket", None)


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
