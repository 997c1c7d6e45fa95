"""Music delivery: a private, encrypted bucket behind CloudFront that serves audio only to
signed URLs and cover art (`covers/*`) to anyone.

Flow: the ingest pipeline writes audio into the bucket (`grant_write`); listeners ask the
Catalog service for a stream URL, which signs a short-lived CloudFront URL with the private key
it reads from Secrets Manager (`grant_sign`, `app_services.media_signing.CloudFrontSigner`);
CloudFront checks the signature against the key group, then fetches the object through Origin
Access Control. The bucket has no public path at all.

Cover art is public artwork, as on every streaming service: one ordered behaviour serves
`covers/*` (GET and HEAD) without a signature, so each image has one stable URL that browsers and
the edge cache for a year (`Cache-Control: immutable` from the catalog; keys are content hashes).
Signed cover URLs would change with every expiry (no browser cache, a signature per image per
listing) to protect nothing licensed. Geo restriction, WAF, OAC and the origin group apply to
both behaviours.

Surviving a Region (`replica_region`): the music bucket replicates to a bucket in that Region
(components.replication: S3 RTC, its own KMS key, alarms on lag and failures), and the
distribution serves from an origin group that fails over to the replica on 403, 404 and 5xx.
Signed URLs are unaffected: CloudFront checks the signature against the key group at the edge,
before choosing an origin, and the replica admits the same distribution through its own OAC.
The behaviours allow GET, HEAD (and OPTIONS for audio) only, as origin groups require, and run no
function or Lambda@Edge (an origin-request trigger would fire once per origin tried).

Signing keys: the stack config lists one or two public keys (`edge.signing_public_keys`), each
becoming a CloudFront public key in the key group the distribution trusts. The private key
never passes through Pulumi: `soundstack signing-key rotate <stack>` generates a pair, stores the
private half in the secret this component creates (empty until then), and prints the public
half to add to the config; two entries let the old key keep working while the new one rolls out.
`remind_key_age` has a scheduled function publish how long the active key has been active and
alarms once that exceeds `edge.signing_key_max_age_days`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_aws as aws

from soundstack.components import buckets, cdn, edge, lookups, replication
from soundstack.components.base import Component, StackContext
from soundstack.components.iam import Grantee
from soundstack.policies.territories import territory_problems

#: Metric and schedule of the signing-key age (app_services/reminders/handler.py publishes the
#: metric in `MediaDelivery.key_age_namespace`; keep them in step).
KEY_AGE_METRIC = "SigningKeyAgeDays"
KEY_AGE_SCHEDULE = "rate(1 hour)"
#: The one path served without a signature: cover art, which the catalog stores under
#: `covers/<sha256>.<ext>` (app_services.catalog.domain.Cover). CloudFront path patterns are
#: case-sensitive and matched before the default behaviour; this one requires no key group.
COVERS_PATH = "covers/*"


#: Where uploads land (`notify_uploads`) and where ingest stores cover art (`grant_ingest`;
#: app_services/catalog/domain.py writes `covers/<hash>.<ext>`).
UPLOADS_PREFIX = "uploads/"
COVERS_PREFIX = "covers/"
# FilterRule, Value (CloudFormation AWS::S3::Bucket FilterRule): "The maximum length is 1,024
# characters."
FILTER_VALUE_MAX_LEN = 1024


class ScheduledFunction(Grantee, Protocol):
    """A Lambda function a schedule or a bucket notification can invoke
    (components.function.ServiceFunction is one)."""

    @property
    def arn(self) -> pulumi.Output[str]: ...

    @property
    def function_name(self) -> pulumi.Output[str]: ...


_PEM = re.compile(
    r"^-----BEGIN PUBLIC KEY-----\s+[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----\s*$", re.S
)


def _check_prefix(prefix: str, arg: str) -> None:
    """A key prefix of a folder: not empty, ending in `/`, no wildcard (S3 filters match
    prefixes literally), within S3's filter value length."""
    if not prefix.endswith("/") or "*" in prefix or len(prefix) > FILTER_VALUE_MAX_LEN:
        raise ValueError(
            f"{arg}={prefix!r}: use a folder prefix ending in '/', without '*' (S3 filters "
            f"match it literally), at most {FILTER_VALUE_MAX_LEN} characters, e.g. "
            f"{UPLOADS_PREFIX!r}"
        )


def key_fingerprint(public_key_pem: str) -> str:
    """Short, stable id of a public key (SHA-256 of its base64 body), used in resource names."""
    body = "".join(public_key_pem.strip().splitlines()[1:-1])
    return hashlib.sha256(body.encode()).hexdigest()[:10]


@dataclass
class MediaArgs:
    """Music delivery settings. Defaults: every edge location, a year of access logs, old object
    versions kept 30 days, audio moved to Intelligent-Tiering on upload, no replica."""

    #: PEM public keys (1 or 2) whose private halves sign stream URLs; see the module docstring.
    signing_public_keys: Sequence[str]
    #: ARN of the CLOUDFRONT-scope WAF web ACL (components.edge.EdgeProtection.media_web_acl_arn);
    #: None: an ACL of the component's own (AWS managed rule groups, a per-IP limit of
    #: `edge.MEDIA_RATE_LIMIT` requests per 5 minutes, logs kept `log_retention_days`).
    web_acl_arn: pulumi.Input[str] | None = None
    price_class: str = "PriceClass_All"
    log_retention_days: int = 365
    noncurrent_version_days: int = 30
    #: Serve from this name (ACM certificate in us-east-1 + alias records) with TLS 1.2_2021.
    domain: cdn.CustomDomain | None = None
    #: Replicate the music to this Region and fail over to it (see the module docstring).
    replica_region: str | None = None
    #: ISO 3166-1 alpha-2 codes of the countries the music is licensed in: CloudFront answers
    #: 403 to viewers elsewhere (geo restriction whitelist). Empty: no geo restriction.
    allowed_countries: Sequence[str] = ()

    def __post_init__(self) -> None:
        problems = territory_problems(self.allowed_countries)
        if problems:
            raise ValueError(f"edge.allowed_countries: {'; '.join(problems)}")
        keys = list(self.signing_public_keys)
        if not 1 <= len(keys) <= 2:
            raise ValueError(
                f"MediaArgs.signing_public_keys (config edge.signing_public_keys) has "
                f"{len(keys)} keys: list 1 or 2 PEM public keys (`soundstack signing-key rotate "
                "<stack>` or `openssl rsa -pubout` of a 2048-bit RSA key)"
            )
        for key in keys:
            if not _PEM.match(key.strip()):
                raise ValueError(
                    f"MediaArgs.signing_public_keys (config edge.signing_public_keys) entry "
                    f"{key[:40]!r}… is not a PEM public key; paste the -----BEGIN PUBLIC KEY----- "
                    "block `soundstack signing-key rotate` printed"
                )
        if len({key_fingerprint(k) for k in keys}) != len(keys):
            raise ValueError(
                "MediaArgs.signing_public_keys (config edge.signing_public_keys) lists the same "
                "key twice; remove one"
            )


class MediaDelivery(Component):
    """Private music bucket + CloudFront (OAC; signed URLs but for `covers/*`) + the signing-key
    secret."""

    TYPE = "soundstack:media:MediaDelivery"

    def __init__(
        self,
        name: str,
        args: MediaArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.key, self.logs = cdn.origin_key_and_logs(
            self, "music files and URL-signing key", args.log_retention_days
        )
        self.music = buckets.private_bucket(
            self, "music", self.key.arn, self.logs, args.noncurrent_version_days
        )
        #: The music bucket's notification configuration (`notify_uploads`; S3 keeps one).
        self.notification: aws.s3.BucketNotification | None = None
        self.replica: replication.Replica | None = None
        if args.replica_region is not None:
            self.replica = replication.replicate(
                self, "music", self.music, self.key.arn, args.replica_region,
                args.log_retention_days, args.noncurrent_version_days,
                key_service_principals=["cloudfront.amazonaws.com"],
            )  # fmt: skip
        origins = cdn.s3_origins(self, "music", self.music, self.replica)

        self.public_keys = [
            aws.cloudfront.PublicKey(
                self.child_name(f"signing-{key_fingerprint(pem)}"),
                name=self.physical_name(f"signing-{key_fingerprint(pem)}"),
                encoded_key=pem.strip() + "\n",
                comment=f"verifies stream URLs of {ctx.project}-{ctx.stack}",
                opts=self.child_opts(),
            )
            for pem in args.signing_public_keys
        ]
        self.key_group = aws.cloudfront.KeyGroup(
            self.child_name("signers"),
            name=self.physical_name("signers"),
            items=[k.id for k in self.public_keys],
            comment="keys whose signed URLs the music distribution accepts",
            opts=self.child_opts(),
        )
        #: CloudWatch namespace of the signing-key age (`ReminderSettings.metric_namespace`).
        self.key_age_namespace = f"{ctx.project}/Media"
        self.signing_secret = aws.secretsmanager.Secret(
            self.child_name("signing-key"),
            name=self.physical_name("signing-key", "secret"),
            description=(
                "CloudFront URL-signing private key (JSON). Written only by "
                "`soundstack signing-key rotate`; never by Pulumi."
            ),
            kms_key_id=self.key.arn,
            recovery_window_in_days=30 if ctx.is_prod else 7,
            tags=self.tags(),
            opts=self.child_opts(),
        )

        self.cache_policy = aws.cloudfront.CachePolicy(
            self.child_name("audio-cache"),
            name=self.physical_name("audio-cache"),
            comment="audio: immutable objects, long TTLs; Range requests are served by CloudFront "
            "from the cached object, signed-URL query strings stay out of the cache key",
            min_ttl=86400,
            default_ttl=30 * 86400,
            max_ttl=365 * 86400,
            parameters_in_cache_key_and_forwarded_to_origin={
                "cookies_config": {"cookie_behavior": "none"},
                "headers_config": {"header_behavior": "none"},
                "query_strings_config": {"query_string_behavior": "none"},
                "enable_accept_encoding_gzip": False,
                "enable_accept_encoding_brotli": False,
            },
            opts=self.child_opts(),
        )
        headers = cdn.security_headers_policy(self, "audio")
        web_acl_arn = (
            args.web_acl_arn
            if args.web_acl_arn is not None
            else edge.own_cloudfront_web_acl(
                self,
                [edge.RateRule("rate-limit-per-ip", edge.MEDIA_RATE_LIMIT)],
                args.log_retention_days,
            ).arn
        )
        self.distribution = aws.cloudfront.Distribution(
            self.child_name("distribution"),
            comment=f"{ctx.project}-{ctx.stack} music (signed URLs; covers/* public)",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class=args.price_class,
            aliases=[args.domain.name] if args.domain else None,
            web_acl_id=web_acl_arn,
            origins=origins.origins,
            origin_groups=origins.origin_groups or None,
            default_cache_behavior={
                "target_origin_id": origins.target_origin_id,
                "viewer_protocol_policy": "https-only",
                "allowed_methods": ["GET", "HEAD", "OPTIONS"],
                "cached_methods": ["GET", "HEAD"],
                "compress": False,  # audio is already compressed
                "cache_policy_id": self.cache_policy.id,
                "response_headers_policy_id": headers.id,
                "trusted_key_groups": [self.key_group.id],
            },
            ordered_cache_behaviors=[
                {
                    # Cover art is public artwork under content-hashed keys: one unsigned URL
                    # per image, cached by browsers and the edge for a year. Audio stays
                    # signed: only keys under covers/ match this pattern.
                    "path_pattern": COVERS_PATH,
                    "target_origin_id": origins.target_origin_id,
                    "viewer_protocol_policy": "https-only",
                    "allowed_methods": ["GET", "HEAD"],
                    "cached_methods": ["GET", "HEAD"],
                    "compress": False,  # JPEG and PNG are already compressed
                    "cache_policy_id": self.cache_policy.id,
                    "response_headers_policy_id": headers.id,
                }
            ],
            restrictions={"geo_restriction": cdn.geo_restriction(args.allowed_countries)},
            viewer_certificate=cdn.viewer_certificate(self, args.domain),
            tags=self.tags(),
            opts=self.child_opts(),
        )
        cdn.access_logs(self, self.distribution, self.logs)
        #: Host name stream URLs use (custom domain when configured).
        self.domain_name: pulumi.Output[str] = cdn.serve_bucket(
            self, "music", self.music, self.replica, self.distribution, args.domain,
            ["s3:GetObject"], "CloudFrontReadsAudio", "music 5xx error rate",
        )  # fmt: skip
        self.bucket_name: pulumi.Output[str] = self.music.name
        self.bucket_arn: pulumi.Output[str] = self.music.arn
        self.distribution_arn: pulumi.Output[str] = self.distribution.arn
        self.distribution_id: pulumi.Output[str] = self.distribution.id
        self.signing_key_ids: list[pulumi.Output[str]] = [k.id for k in self.public_keys]
        self.signing_secret_arn: pulumi.Output[str] = self.signing_secret.arn
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "distribution_arn": self.distribution_arn,
                "domain_name": self.domain_name,
                "signing_key_ids": self.signing_key_ids,
                "signing_secret_arn": self.signing_secret_arn,
            }
        )

    def _kms_condition(self) -> dict[str, dict[str, str]]:
        return {"StringEquals": {"kms:ViaService": f"s3.{self.ctx.region}.amazonaws.com"}}

    def _sid(self, verb: str) -> str:
        return verb + "".join(p.capitalize() for p in re.split(r"[^a-zA-Z0-9]", self.logical_name))

    def grant_read(self, grantee: Grantee) -> None:
        """Read audio objects (and decrypt them through S3 only)."""
        grantee.grant(
            self._sid("ReadAudio"), ["s3:GetObject"], [self.music.arn.apply(lambda a: f"{a}/*")]
        )
        grantee.grant(
            self._sid("DecryptAudio"), ["kms:Decrypt"], [self.key.arn], self._kms_condition()
        )

    def grant_write(self, grantee: Grantee) -> None:
        """Upload audio objects, including multipart uploads (encrypting through S3 only)."""
        grantee.grant(
            self._sid("WriteAudio"),
            ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            [self.music.arn.apply(lambda a: f"{a}/*")],
        )
        grantee.grant(
            self._sid("EncryptAudio"),
            ["kms:GenerateDataKey", "kms:Decrypt"],
            [self.key.arn],
            self._kms_condition(),
        )

    def grant_ingest(
        self, grantee: Grantee, uploads: str = UPLOADS_PREFIX, covers: str = COVERS_PREFIX
    ) -> None:
        """What ingest does to the bucket, and nothing else: read uploaded objects under
        `uploads` (GetObject, which HeadObject also needs) and put cover art under `covers`
        (a single PutObject), decrypting and encrypting with the bucket key through S3 only."""
        for prefix in (uploads, covers):
            _check_prefix(prefix, "prefix")
        grantee.grant(
            self._sid("ReadUploads"),
            ["s3:GetObject"],
            [self.music.arn.apply(lambda a: f"{a}/{uploads}*")],
        )
        grantee.grant(
            self._sid("WriteCovers"),
            ["s3:PutObject"],
            [self.music.arn.apply(lambda a: f"{a}/{covers}*")],
        )
        # GetObject of an SSE-KMS object needs kms:Decrypt; PutObject needs kms:GenerateDataKey.
        grantee.grant(
            self._sid("UseMusicKey"),
            ["kms:Decrypt", "kms:GenerateDataKey"],
            [self.key.arn],
            self._kms_condition(),
        )

    def notify_uploads(self, function: ScheduledFunction, prefix: str = UPLOADS_PREFIX) -> None:
        """Invoke `function` (asynchronously, once per object) for every object created under
        `prefix` in the music bucket: a Lambda permission for s3.amazonaws.com bound to this
        bucket and account, then the bucket's notification configuration, after it.

        S3 tests the destination when the configuration is put (PutBucketNotificationConfiguration:
        "In the case of Lambda destinations, Amazon S3 verifies that the Lambda function
        permissions grant Amazon S3 permission to invoke the function from the Amazon S3
        bucket"); without the permission it fails with "InvalidArgument: Unable to validate the
        following destination configurations", hence `depends_on`. A bucket has one notification
        configuration, and each put "replaces the existing notification configuration with the
        configuration you include in the request body": a second BucketNotification resource
        would silently undo the first, so this may be called once. `prefix` may not cover
        `COVERS_PREFIX`, where ingest writes, or every cover would invoke it again."""
        _check_prefix(prefix, "notify_uploads prefix")
        if COVERS_PREFIX.startswith(prefix):
            raise ValueError(
                f"notify_uploads prefix={prefix!r} covers {COVERS_PREFIX!r}, where ingest writes "
                "cover art: each cover would invoke ingest again; use a prefix of its own, "
                f"e.g. {UPLOADS_PREFIX!r}"
            )
        if self.notification is not None:
            raise ValueError(
                f"{self.logical_name}: the music bucket already has its notification "
                "configuration (notify_uploads was called before); S3 keeps one per bucket and "
                "each PutBucketNotificationConfiguration replaces it whole, so a second "
                "BucketNotification would undo the first: call notify_uploads once"
            )
        permission = aws.lambda_.Permission(
            self.child_name("uploads-invoke"),
            action="lambda:InvokeFunction",
            function=function.function_name,
            principal="s3.amazonaws.com",
            source_arn=self.music.arn,
            source_account=lookups.account_id(),
            opts=self.child_opts(),
        )
        self.notification = aws.s3.BucketNotification(
            self.child_name("music-notification"),
            bucket=self.music.name,
            lambda_functions=[
                aws.s3.BucketNotificationLambdaFunctionArgs(
                    lambda_function_arn=function.arn,
                    events=["s3:ObjectCreated:*"],
                    filter_prefix=prefix,
                )
            ],
            opts=self.child_opts(depends_on=[permission, *self.music.settled]),
        )

    def remind_key_age(self, checker: ScheduledFunction, max_age_days: int) -> None:
        """Alarm when the active signing key has been active longer than `max_age_days`.

        `checker` runs `app_services.reminders.handler.handler` hourly (EventBridge rule; its
        invoke permission bound to the rule's ARN) and publishes `KEY_AGE_METRIC` from the
        secret's metadata only: it may describe the secret and list its versions, never read
        its value, and put metrics in `key_age_namespace` only. Two signals go to monitoring:
        the age against `max_age_days`, and any failed run (an age that stopped being
        measured must not pass as a young key)."""
        if not 1 <= max_age_days <= 3650:
            raise ValueError(
                f"edge.signing_key_max_age_days={max_age_days}: use 1 to 3650 days, e.g. 180"
            )
        checker.grant(
            self._sid("DescribeSigningKey"),
            ["secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"],
            [self.signing_secret.arn],
        )
        # PutMetricData has no resource type: "*", narrowed to the namespace by its condition key.
        checker.grant(
            self._sid("PublishKeyAge"),
            ["cloudwatch:PutMetricData"],
            ["*"],
            {"StringEquals": {"cloudwatch:namespace": self.key_age_namespace}},
        )
        schedule = aws.cloudwatch.EventRule(
            self.child_name("key-age"),
            name=self.physical_name("key-age", "event_rule"),
            description=f"measure the age of the active signing key of {self.logical_name}",
            schedule_expression=KEY_AGE_SCHEDULE,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        permission = aws.lambda_.Permission(
            self.child_name("key-age-invoke"),
            action="lambda:InvokeFunction",
            function=checker.function_name,
            principal="events.amazonaws.com",
            source_arn=schedule.arn,
            opts=self.child_opts(),
        )
        aws.cloudwatch.EventTarget(
            self.child_name("key-age-check"),
            rule=schedule.name,
            arn=checker.arn,
            opts=self.child_opts(depends_on=[permission]),
        )
        self.add_signal(
            "signing_key_age", "active signing key age (days)", self.key_age_namespace,
            KEY_AGE_METRIC, {"Secret": self.signing_secret.name}, statistic="Maximum",
            period_seconds=3600, threshold=max_age_days,
        )  # fmt: skip
        self.add_signal(
            "failures", "signing key age check failures", "AWS/Lambda", "Errors",
            {"FunctionName": checker.function_name}, period_seconds=3600,
        )  # fmt: skip

    def grant_sign(self, grantee: Grantee) -> None:
        """Read the URL-signing private key from Secrets Manager (to issue stream URLs)."""
        grantee.grant(
            self._sid("ReadSigningKey"),
            ["secretsmanager:GetSecretValue"],
            [self.signing_secret.arn],
        )
        grantee.grant(
            self._sid("DecryptSigningKey"),
            ["kms:Decrypt"],
            [self.key.arn],
            {"StringEquals": {"kms:ViaService": f"secretsmanager.{self.ctx.region}.amazonaws.com"}},
        )
