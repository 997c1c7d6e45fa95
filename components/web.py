"""Web app hosting: the React single-page app on S3 behind CloudFront, with the API under /api.

Requests flow:
- `/api/*` (only when `api_domain` is given) goes to the API Gateway HTTP API, uncached, with
  the viewer's headers (but not `Host`: API Gateway answers 403 to a Host that is not its own),
  query strings, `Authorization` and `CloudFront-Viewer-Country` (licensing territories)
  forwarded and the `/api` prefix removed (`/api/tracks`
  reaches the API as `/tracks`). This is how the API gets the distribution's WAF web ACL and
  Shield protection: HTTP APIs cannot be associated with WAF. With `api_origin_secret`, every
  request to the API carries `cdn.ORIGIN_VERIFY_HEADER` with that value, which the API's edge
  authorizer requires: a request that skipped the distribution is refused.
- everything else is served from the private bucket through Origin Access Control; a
  CloudFront Function rewrites paths without a file extension to `/index.html`, so client-side
  routes load the app (SPA fallback) while missing assets still return 404 and API errors are
  never replaced by the app.

Every response carries HSTS, a Content-Security-Policy, nosniff, `X-Frame-Options: DENY` and a
strict referrer policy.

Surviving a Region (`replica_region`): the site bucket replicates there (components.replication)
and the default behaviour serves from an origin group that fails over to the replica on 403,
404 and 5xx; a deploy publishes to the primary only and replication carries it over. The
default behaviour allows GET, HEAD and OPTIONS, as origin groups require; its viewer-request
function runs once per viewer request, before an origin is chosen. `/api/*` targets the API
origin directly (all methods, no origin group).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from soundstack.components import buckets, cdn, edge, replication
from soundstack.components.base import Component, StackContext
from soundstack.components.iam import Grantee

#: Viewer-request function of the default behaviour: client-side routes load the app.
SPA_REWRITE = """\
function handler(event) {
  var request = event.request;
  var last = request.uri.split('/').pop();
  if (last.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}
"""

#: Viewer-request function of `/api/*`: the API's routes do not carry the `/api` prefix.
API_PREFIX_STRIP = """\
function handler(event) {
  var request = event.request;
  request.uri = request.uri.replace(/^\\/api(?=\\/|$)/, '') || '/';
  return request;
}
"""

API_PATH = "/api/*"


@dataclass
class WebArgs:
    """SPA hosting settings. Defaults: every edge location, a year of access logs, no API
    behaviour until `api_domain` is set, CSP limited to this site plus the given sources, no
    replica."""

    #: ARN of the CLOUDFRONT-scope WAF web ACL (components.edge.EdgeProtection); None: an ACL
    #: of the component's own (AWS managed rule groups, per-IP limits of `edge.WEB_RATE_LIMIT`
    #: requests per 5 minutes and `edge.API_RATE_LIMIT` on /api/, logs kept
    #: `log_retention_days`).
    web_acl_arn: pulumi.Input[str] | None = None
    #: Host name of the HTTP API (e.g. `abc123.execute-api.eu-west-1.amazonaws.com`).
    api_domain: pulumi.Input[str] | None = None
    #: Value of the origin-verify header sent to the API (a Pulumi secret; the edge authorizer
    #: of `components.api.HttpApi` accepts only requests carrying it).
    api_origin_secret: pulumi.Input[str] | None = None
    #: Serve from this name (ACM certificate in us-east-1 + alias records) with TLS 1.2_2021.
    domain: cdn.CustomDomain | None = None
    price_class: str = "PriceClass_All"
    log_retention_days: int = 365
    #: Extra `connect-src` origins (e.g. the hosted UI's token endpoint, the feed's wss origin).
    connect_sources: Sequence[pulumi.Input[str]] = field(default_factory=list)
    #: Extra `media-src` and `img-src` origins (the music distribution: audio and cover art).
    media_sources: Sequence[pulumi.Input[str]] = field(default_factory=list)
    #: Replicate the site to this Region and fail over to it (see the module docstring).
    replica_region: str | None = None

    def __post_init__(self) -> None:
        if self.api_origin_secret is not None and self.api_domain is None:
            raise ValueError(
                "WebArgs.api_origin_secret is set without api_domain: the header goes to the "
                "API origin; set api_domain (HttpApi.endpoint_domain) or drop the secret"
            )


def content_security_policy(connect: Sequence[str], media: Sequence[str]) -> str:
    """A CSP that lets the app load only its own code and talk only to the listed origins
    (`media`: audio and images)."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            " ".join(["img-src 'self'", *media]),  # cover art comes from the media CDN
            " ".join(["media-src 'self'", *media]),
            " ".join(["connect-src 'self'", *connect]),
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "object-src 'none'",
            "upgrade-insecure-requests",
        ]
    )


class WebApp(Component):
    """The SPA's bucket and CloudFront distribution (optionally fronting the API)."""

    TYPE = "soundstack:web:WebApp"

    def __init__(
        self,
        name: str,
        args: WebArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.key, self.logs = cdn.origin_key_and_logs(
            self, "web app assets", args.log_retention_days
        )
        self.site = buckets.private_bucket(
            self,
            "site",
            self.key.arn,
            self.logs,
            noncurrent_version_days=30,
            intelligent_tiering=False,
        )
        self.replica: replication.Replica | None = None
        if args.replica_region is not None:
            self.replica = replication.replicate(
                self, "site", self.site, self.key.arn, args.replica_region,
                args.log_retention_days, intelligent_tiering=False,
                key_service_principals=["cloudfront.amazonaws.com"],
            )  # fmt: skip
        site_origins = cdn.s3_origins(self, "site", self.site, self.replica)
        rewrite = self._function("spa-rewrite", SPA_REWRITE, "client-side routes load index.html")
        csp = pulumi.Output.all(
            pulumi.Output.all(*args.connect_sources), pulumi.Output.all(*args.media_sources)
        ).apply(lambda s: content_security_policy(s[0], s[1]))
        headers = cdn.security_headers_policy(self, "site", csp)

        origins = list(site_origins.origins)
        behaviours: list[dict] = []
        if args.api_domain is not None:
            origins.append(
                {
                    "origin_id": "api",
                    "domain_name": args.api_domain,
                    "custom_origin_config": {
                        "http_port": 80,
                        "https_port": 443,
                        "origin_protocol_policy": "https-only",
                        "origin_ssl_protocols": ["TLSv1.2"],
                    },
                    "custom_headers": [
                        {
                            "name": cdn.ORIGIN_VERIFY_HEADER,
                            "value": pulumi.Output.secret(args.api_origin_secret),
                        }
                    ]
                    if args.api_origin_secret is not None
                    else None,
                }
            )
            behaviours.append(self._api_behaviour(headers.id))

        web_acl_arn = (
            args.web_acl_arn
            if args.web_acl_arn is not None
            else edge.own_cloudfront_web_acl(
                self,
                [
                    edge.RateRule("rate-limit-api", edge.API_RATE_LIMIT, edge.API_SCOPE),
                    edge.RateRule("rate-limit-per-ip", edge.WEB_RATE_LIMIT),
                ],
                args.log_retention_days,
            ).arn
        )
        self.distribution = aws.cloudfront.Distribution(
            self.child_name("distribution"),
            comment=f"{ctx.project}-{ctx.stack} web app",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class=args.price_class,
            default_root_object="index.html",
            aliases=[args.domain.name] if args.domain else None,
            web_acl_id=web_acl_arn,
            origins=origins,
            origin_groups=site_origins.origin_groups or None,
            default_cache_behavior={
                "target_origin_id": site_origins.target_origin_id,
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD", "OPTIONS"],
                "cached_methods": ["GET", "HEAD"],
                "compress": True,
                "cache_policy_id": cdn.CACHING_OPTIMIZED,
                "response_headers_policy_id": headers.id,
                "function_associations": [
                    {"event_type": "viewer-request", "function_arn": rewrite.arn}
                ],
            },
            ordered_cache_behaviors=behaviours or None,
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate=cdn.viewer_certificate(self, args.domain),
            tags=self.tags(),
            opts=self.child_opts(),
        )
        cdn.access_logs(self, self.distribution, self.logs)
        #: Host name of the app (custom domain when configured).
        self.domain_name: pulumi.Output[str] = cdn.serve_bucket(
            self, "site", self.site, self.replica, self.distribution, args.domain,
            ["s3:GetObject", "s3:ListBucket"], "CloudFrontReadsSite", "web 5xx error rate",
        )  # fmt: skip

        self.bucket_name: pulumi.Output[str] = self.site.name
        #: The key objects must be written with (`soundstack publish-web` names it).
        self.kms_key_arn: pulumi.Output[str] = self.key.arn
        self.distribution_arn: pulumi.Output[str] = self.distribution.arn
        self.distribution_id: pulumi.Output[str] = self.distribution.id
        self.url: pulumi.Output[str] = pulumi.Output.concat("https://", self.domain_name)
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "distribution_arn": self.distribution_arn,
                "url": self.url,
            }
        )

    def _function(self, role: str, code: str, comment: str) -> aws.cloudfront.Function:
        return aws.cloudfront.Function(
            self.child_name(role),
            name=self.physical_name(role, "cloudfront"),
            runtime="cloudfront-js-2.0",
            code=code,
            comment=comment,
            publish=True,
            tags=self.tags(),
            opts=self.child_opts(),
        )

    def _api_behaviour(self, headers_policy_id: pulumi.Input[str]) -> dict:
        # Caching "disabled" the only way that still forwards Authorization: TTLs of 0-1 s with
        # the header in the cache key (a managed CachingDisabled policy would drop it). The
        # viewer's country rides along the same way: "All URL query strings, HTTP headers, and
        # cookies that you include in the cache key (using a cache policy) are automatically
        # included in origin requests", whatever the managed origin request policy adds.
        api_cache = aws.cloudfront.CachePolicy(
            self.child_name("api-cache"),
            name=self.physical_name("api-cache"),
            comment="API: no caching; Authorization, viewer country and query strings forwarded",
            min_ttl=0,
            default_ttl=0,
            max_ttl=1,
            parameters_in_cache_key_and_forwarded_to_origin={
                "cookies_config": {"cookie_behavior": "none"},
                "headers_config": {
                    "header_behavior": "whitelist",
                    "headers": {"items": ["Authorization", cdn.VIEWER_COUNTRY_HEADER]},
                },
                "query_strings_config": {"query_string_behavior": "all"},
                "enable_accept_encoding_gzip": True,
                "enable_accept_encoding_brotli": True,
            },
            opts=self.child_opts(),
        )
        strip = self._function("api-prefix", API_PREFIX_STRIP, "remove /api before the API")
        return {
            "path_pattern": API_PATH,
            "target_origin_id": "api",
            "viewer_protocol_policy": "https-only",
            "allowed_methods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
            "cached_methods": ["GET", "HEAD"],
            "compress": True,
            "cache_policy_id": api_cache.id,
            "origin_request_policy_id": cdn.ALL_VIEWER_EXCEPT_HOST_HEADER,
            "response_headers_policy_id": headers_policy_id,
            "function_associations": [{"event_type": "viewer-request", "function_arn": strip.arn}],
        }

    def grant_deploy(self, grantee: Grantee) -> None:
        """Publish a build: replace the site's objects and invalidate the distribution."""
        sid = "".join(p.capitalize() for p in re.split(r"[^a-zA-Z0-9]", self.logical_name))
        grantee.grant(
            f"Deploy{sid}Objects",
            ["s3:PutObject", "s3:DeleteObject", "s3:GetObject", "s3:ListBucket"],
            [self.site.arn, self.site.arn.apply(lambda a: f"{a}/*")],
        )
        grantee.grant(
            f"Encrypt{sid}Objects",
            ["kms:GenerateDataKey", "kms:Decrypt"],
            [self.key.arn],
            {"StringEquals": {"kms:ViaService": f"s3.{self.ctx.region}.amazonaws.com"}},
        )
        grantee.grant(
            f"Invalidate{sid}", ["cloudfront:CreateInvalidation"], [self.distribution.arn]
        )
