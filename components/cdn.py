"""CloudFront building blocks shared by the media and web distributions.

CloudFront is global but its viewer certificates (ACM), CLOUDFRONT-scope web ACLs and log
delivery sources live in us-east-1. Those resources set pulumi-aws 7's per-resource `region`
argument instead of using a second provider, so they keep the default provider's credentials,
profile and assumed role.

- `s3_origins`: a private bucket as an origin through OAC and, with a replica
  (components.replication), an origin group failing over to the replica on 403, 404 and 5xx.
  CloudFront "fails over to the secondary origin only when the HTTP method of the viewer request
  is GET, HEAD, or OPTIONS", and refuses a behaviour allowing more: "The parameter
  AllowedMethods cannot include POST, PUT, PATCH, or DELETE for a cached behavior associated
  with an origin group" (policy `deploy-cloudfront-origin-group`).
- `access_logs`: standard logging v2, delivered by CloudWatch Logs into the owner's log bucket
  under its bucket policy. Legacy standard logging is not used: "Your bucket must have access
  control list (ACL) enabled", and every bucket here has ACLs disabled (FSBP S3.12).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from soundstack.components import buckets
from soundstack.components.base import Component
from soundstack.components.kms import EncryptionKey, EncryptionKeyArgs
from soundstack.components.replication import Replica

#: Where CloudFront looks for certificates and CLOUDFRONT-scope web ACLs.
CLOUDFRONT_REGION = "us-east-1"
#: What makes an origin group try the replica: the primary refuses (403: OAC or a missing
#: object without s3:ListBucket), lacks the object (404), or fails (5xx).
FAILOVER_STATUS_CODES = (403, 404, 500, 502, 503, 504)
#: Route 53 hosted zone of every `*.cloudfront.net` name (alias targets).
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
#: Viewer TLS policy for custom domains (TLS 1.2+, modern ciphers only).
MIN_VIEWER_TLS = "TLSv1.2_2021"
#: AWS managed cache and origin-request policies (their ids are the same in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
#: Managed policies that forward the viewer's Host header, which an `execute-api` origin
#: rejects (403): AllViewer and AllViewerAndCloudFrontHeaders-2022-06.
HOST_FORWARDING_POLICIES = (
    "216adef6-5c7f-47e4-b989-5492eafa07d3",
    "33f36d7e-f396-46d9-90e0-52428a34d9dc",
)
#: Header the web distribution adds to every request to the API origin, with a secret value the
#: API's edge authorizer checks. AWS: "If the header names and values that you specify are not
#: already present in the viewer request, CloudFront adds them to the origin request. If a
#: header is present, CloudFront overwrites the header value before forwarding the request to
#: the origin." A viewer therefore cannot supply or replace it.
ORIGIN_VERIFY_HEADER = "x-origin-verify"
#: The viewer's country as CloudFront determines it from the IP address ("the two-letter country
#: code for the viewer's country", ISO 3166-1 alpha-2). CloudFront adds it only when a cache or
#: origin request policy of the behaviour names it; the catalog's stream endpoint checks a
#: track's territories against it.
VIEWER_COUNTRY_HEADER = "CloudFront-Viewer-Country"


@dataclass(frozen=True)
class CustomDomain:
    """A DNS name served by a distribution, in a Route 53 hosted zone the stack may write to."""

    name: str
    zone_id: str


def origin_access_control(owner: Component, role: str) -> aws.cloudfront.OriginAccessControl:
    """OAC that signs every origin request with SigV4 (CloudFront.13: no public bucket)."""
    return aws.cloudfront.OriginAccessControl(
        owner.child_name(f"{role}-oac"),
        name=owner.physical_name(role),
        description=f"CloudFront to the {role} bucket of {owner.logical_name}",
        origin_access_control_origin_type="s3",
        signing_behavior="always",
        signing_protocol="sigv4",
        opts=owner.child_opts(),
    )


def oac_statement(
    bucket_arn: str, distribution_arn: str, actions: Sequence[str], sid: str
) -> dict[str, Any]:
    """Bucket-policy statement letting exactly one distribution (through OAC) run `actions`."""
    resources = [f"{bucket_arn}/*"]
    if any(not a.endswith("Object") for a in actions):  # e.g. s3:ListBucket
        resources.insert(0, bucket_arn)
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": sorted(actions),
        "Resource": resources,
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
    }


def viewer_certificate(owner: Component, domain: CustomDomain | None) -> dict[str, Any]:
    """An ACM certificate in us-east-1, DNS-validated in the domain's zone, with TLS 1.2_2021;
    without a domain, CloudFront's default `*.cloudfront.net` certificate (whose TLS policy
    CloudFront fixes itself: serve a custom domain to enforce TLS 1.2_2021)."""
    if domain is None:
        return {"cloudfront_default_certificate": True}
    cert = aws.acm.Certificate(
        owner.child_name("certificate"),
        domain_name=domain.name,
        validation_method="DNS",
        region=CLOUDFRONT_REGION,
        tags=owner.tags(),
        opts=owner.child_opts(),
    )
    option = cert.domain_validation_options.apply(lambda options: options[0])
    record = aws.route53.Record(
        owner.child_name("certificate-validation-record"),
        zone_id=domain.zone_id,
        name=option.apply(lambda o: o.resource_record_name),
        type=option.apply(lambda o: o.resource_record_type),
        records=[option.apply(lambda o: o.resource_record_value)],
        ttl=300,
        allow_overwrite=True,
        opts=owner.child_opts(),
    )
    validation = aws.acm.CertificateValidation(
        owner.child_name("certificate-validation"),
        certificate_arn=cert.arn,
        validation_record_fqdns=[record.fqdn],
        region=CLOUDFRONT_REGION,
        opts=owner.child_opts(),
    )
    return {
        "acm_certificate_arn": validation.certificate_arn,
        "ssl_support_method": "sni-only",
        "minimum_protocol_version": MIN_VIEWER_TLS,
    }


def alias_records(
    owner: Component, domain: CustomDomain | None, distribution: aws.cloudfront.Distribution
) -> None:
    """A and AAAA alias records pointing the custom domain at the distribution."""
    if domain is None:
        return
    for record_type in ("A", "AAAA"):
        aws.route53.Record(
            owner.child_name(f"alias-{record_type.lower()}"),
            zone_id=domain.zone_id,
            name=domain.name,
            type=record_type,
            aliases=[
                {
                    "name": distribution.domain_name,
                    "zone_id": CLOUDFRONT_ZONE_ID,
                    "evaluate_target_health": False,
                }
            ],
            opts=owner.child_opts(),
        )


def security_headers_policy(
    owner: Component, role: str, content_security_policy: pulumi.Input[str] | None = None
) -> aws.cloudfront.ResponseHeadersPolicy:
    """HSTS (2 years, subdomains, preload), nosniff, frame DENY, strict referrer policy and,
    when given, a Content-Security-Policy; all override what the origin sends."""
    headers: dict[str, Any] = {
        "strict_transport_security": {
            "access_control_max_age_sec": 63072000,
            "include_subdomains": True,
            "preload": True,
            "override": True,
        },
        "content_type_options": {"override": True},
        "frame_options": {"frame_option": "DENY", "override": True},
        "referrer_policy": {
            "referrer_policy": "strict-origin-when-cross-origin",
            "override": True,
        },
    }
    if content_security_policy is not None:
        headers["content_security_policy"] = {
            "content_security_policy": content_security_policy,
            "override": True,
        }
    return aws.cloudfront.ResponseHeadersPolicy(
        owner.child_name(f"{role}-headers"),
        name=owner.physical_name(f"{role}-headers"),
        comment=f"security headers for {owner.logical_name}",
        security_headers_config=headers,
        opts=owner.child_opts(),
    )


def access_logs(
    owner: Component, distribution: aws.cloudfront.Distribution, logs: buckets.Bucket
) -> aws.cloudwatch.LogDelivery:
    """Standard logging v2: the distribution's access logs delivered by CloudWatch Logs to
    `logs` (a `log_bucket(..., cloudfront_logs=True)`), under `AWSLogs/<account>/CloudFront/`
    then the distribution id and the hour.

    A CloudFront delivery source, its destination and the delivery are made in us-east-1
    (CloudFront's Region; policy `deploy-cloudfront-us-east-1`); the bucket may be elsewhere.
    Names: "Minimum length of 1. Maximum length of 60. Pattern: [\\w-]*"."""
    name = owner.physical_name("cloudfront-logs", "log_delivery")
    source = aws.cloudwatch.LogDeliverySource(
        owner.child_name("access-log-source"),
        name=name,
        log_type="ACCESS_LOGS",
        resource_arn=distribution.arn,
        region=CLOUDFRONT_REGION,
        tags=owner.tags(),
        opts=owner.child_opts(),
    )
    destination = aws.cloudwatch.LogDeliveryDestination(
        owner.child_name("access-log-destination"),
        name=name,
        output_format="w3c",
        delivery_destination_configuration={"destination_resource_arn": logs.arn},
        region=CLOUDFRONT_REGION,
        tags=owner.tags(),
        opts=owner.child_opts(),
    )
    return aws.cloudwatch.LogDelivery(
        owner.child_name("access-log-delivery"),
        delivery_source_name=source.name,
        delivery_destination_arn=destination.arn,
        s3_delivery_configurations=[
            {
                "suffix_path": "{DistributionId}/{yyyy}/{MM}/{dd}/{HH}",
                "enable_hive_compatible_path": False,
            }
        ],
        region=CLOUDFRONT_REGION,
        tags=owner.tags(),
        # The bucket policy admits delivery.logs.amazonaws.com before the first delivery.
        opts=owner.child_opts(depends_on=list(logs.settled)),
    )


def geo_restriction(countries: Sequence[str]) -> dict[str, Any]:
    """CloudFront serves only viewers in `countries` (a whitelist of ISO 3166-1 alpha-2 codes,
    sorted so a reordering is no diff); none given: no restriction. CloudFront's GeoRestriction:
    "whitelist: The Location elements specify the countries in which you want CloudFront to
    distribute your content"; a viewer elsewhere gets 403."""
    if not countries:
        return {"restriction_type": "none"}
    return {"restriction_type": "whitelist", "locations": sorted(countries)}


def offer_error_rate(
    owner: Component, label: str, distribution: aws.cloudfront.Distribution
) -> None:
    """Offer the distribution's 5xx error rate (percent of requests) for alarms and dashboard.

    CloudFront publishes its metrics only in us-east-1, with the dimension `Region=Global`.
    """
    owner.add_signal(
        "cdn_5xx_rate",
        label,
        "AWS/CloudFront",
        "5xxErrorRate",
        {"DistributionId": distribution.id, "Region": "Global"},
        statistic="Average",
        region=CLOUDFRONT_REGION,
    )


def origin_key_and_logs(
    owner: Component, contents: str, log_retention_days: int
) -> tuple[EncryptionKey, buckets.Bucket]:
    """For a private S3 origin behind CloudFront: the KMS key its objects are encrypted with
    (which OAC reads as `cloudfront.amazonaws.com`) and the bucket that takes both the origin's
    server access logs and the distribution's standard logs."""
    ctx = owner.ctx
    key = EncryptionKey(
        owner.child_name("key"),
        EncryptionKeyArgs(
            description=f"{contents} of {ctx.project}-{ctx.stack}",
            service_principals=["cloudfront.amazonaws.com"],
        ),
        ctx,
        opts=owner.child_opts(),
    )
    return key, buckets.log_bucket(owner, "access-logs", log_retention_days, cloudfront_logs=True)


@dataclass(frozen=True)
class S3Origins:
    """A private bucket as a distribution's origin, optionally grouped with its replica."""

    origins: list[dict[str, Any]]
    origin_groups: list[dict[str, Any]]
    #: What the bucket's behaviours target: the origin group, or the bucket's origin.
    target_origin_id: str


def s3_origins(
    owner: Component, role: str, bucket: buckets.Bucket, replica: Replica | None
) -> S3Origins:
    """`bucket` through its own OAC (CloudFront.13); with `replica`, an origin group that sends
    a request to the replica (through another OAC) when the primary fails to connect, times
    out, or answers 403, 404 or 5xx."""
    primary: dict[str, Any] = {
        "origin_id": role,
        "domain_name": bucket.regional_domain_name,
        "origin_access_control_id": origin_access_control(owner, role).id,
    }
    if replica is None:
        return S3Origins([primary], [], role)
    # "By default, CloudFront tries to connect to the primary origin in an origin group for as
    # long as 30 seconds (3 connection attempts of 10 seconds each) before failing over":
    # a listener waits at most 2 x 5 s instead.
    primary.update(connection_attempts=2, connection_timeout=5)
    secondary = {
        "origin_id": f"{role}-replica",
        "domain_name": replica.bucket.regional_domain_name,
        "origin_access_control_id": origin_access_control(owner, f"{role}-replica").id,
    }
    group = {
        "origin_id": f"{role}-failover",
        "failover_criteria": {"status_codes": list(FAILOVER_STATUS_CODES)},
        "members": [{"origin_id": role}, {"origin_id": f"{role}-replica"}],
    }
    return S3Origins([primary, secondary], [group], f"{role}-failover")


def serve_bucket(
    owner: Component,
    role: str,
    bucket: buckets.Bucket,
    replica: Replica | None,
    distribution: aws.cloudfront.Distribution,
    domain: CustomDomain | None,
    actions: Sequence[str],
    sid: str,
    label: str,
) -> pulumi.Output[str]:
    """Finish a private-bucket distribution: alias records for the custom domain, its 5xx
    signal, and the policies of the bucket and its replica admitting only this distribution
    (through OAC) to `actions`. Returns the host name viewers use (the custom domain when there
    is one)."""
    alias_records(owner, domain, distribution)
    offer_error_rate(owner, label, distribution)
    served = [(role, bucket)] + ([(f"{role}-replica", replica.bucket)] if replica else [])
    for policy_role, target in served:
        buckets.bucket_policy(
            owner,
            policy_role,
            target,
            pulumi.Output.all(target.arn, distribution.arn).apply(
                lambda a: [oac_statement(a[0], a[1], actions, sid)]
            ),
        )
    if domain is not None:
        return pulumi.Output.from_input(domain.name)
    return distribution.domain_name
