"""Music delivery as the platform registers it: private bucket, OAC, signed URLs only."""

from __future__ import annotations

import json

import pulumi
import pytest

from soundstack.components.iam import ServiceRole, ServiceRoleArgs
from soundstack.components.media import MediaArgs, MediaDelivery, key_fingerprint
from soundstack.components.monitoring import DEFAULT_THRESHOLDS
from soundstack.stacks.loader import load_stack
from tests.conftest import make_ctx, one, run_program

STACKS = ["dev", "prod"]


def owned(synth, component: str, type_token: str):
    return [r for r in synth.by_type(type_token) if (synth.component_of(r) or r).name == component]


@pytest.mark.parametrize("stack", STACKS)
def test_music_bucket_is_private_encrypted_versioned_and_logged(request, stack):
    synth = request.getfixturevalue(stack)
    block = one(synth, "media-music-public-access").inputs
    assert all(
        block[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    assert one(synth, "media-music-ownership").inputs["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }
    (rule,) = one(synth, "media-music-encryption").inputs["rules"]
    default = rule["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms" and default["kmsMasterKeyId"].startswith(
        "arn:aws:kms:"
    )
    assert rule["bucketKeyEnabled"] is True
    assert one(synth, "media-music-versioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"
    }
    (lifecycle,) = one(synth, "media-music-lifecycle").inputs["rules"]
    assert lifecycle["transitions"] == [{"days": 0, "storageClass": "INTELLIGENT_TIERING"}]
    assert lifecycle["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    logging = one(synth, "media-music-logging").inputs
    assert logging["targetBucket"] == f"soundstack-{stack}-media-access-logs-123456789012"


@pytest.mark.parametrize("stack", STACKS)
def test_bucket_policy_admits_only_this_distribution_over_tls(request, stack):
    synth = request.getfixturevalue(stack)
    policy = one(synth, "media-music-policy")
    statements = json.loads(policy.inputs["policy"])["Statement"]
    deny, allow = statements
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == ["s3:GetObject"]
    assert allow["Resource"] == [f"arn:aws:s3:::soundstack-{stack}-media-music-123456789012/*"]
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]
    distribution = one(synth, "media-distribution")
    assert source == f"arn:aws:cloudfront::123456789012:distribution/{distribution.id}"
    assert distribution.urn in policy.property_dependencies["policy"]
    assert not [s for s in statements if s["Effect"] == "Allow" and s["Principal"] == "*"]


@pytest.mark.parametrize("stack", STACKS)
def test_distribution_uses_oac_and_trusts_only_the_key_group(request, stack):
    synth = request.getfixturevalue(stack)
    config = load_stack(stack)
    distribution = one(synth, "media-distribution").inputs
    origin = distribution["origins"][
        0
    ]  # prod adds the replica (tests/components/test_replication.py)
    assert origin["originAccessControlId"] and "s3OriginConfig" not in origin
    assert (
        origin["domainName"]
        == f"soundstack-{stack}-media-music-123456789012.s3.eu-west-1.amazonaws.com"
    )
    oac = one(synth, "media-music-oac").inputs
    assert (oac["signingBehavior"], oac["signingProtocol"]) == ("always", "sigv4")
    assert origin["originAccessControlId"] == oac["name"]  # mock id = physical name

    behaviour = distribution["defaultCacheBehavior"]
    group = one(synth, "media-signers").inputs
    assert behaviour["trustedKeyGroups"] == [group["name"]]
    keys = owned(synth, "media", "aws:cloudfront/publicKey:PublicKey")
    assert sorted(group["items"]) == sorted(str(k.id) for k in keys)
    assert len(keys) == len(config.edge.signing_public_keys) == (2 if stack == "prod" else 1)
    assert {k.inputs["encodedKey"].strip() for k in keys} == {
        p.strip() for p in config.edge.signing_public_keys
    }
    assert "trustedSigners" not in behaviour  # no legacy root-account key pairs


@pytest.mark.parametrize(
    ("stack", "price_class"), [("dev", "PriceClass_100"), ("prod", "PriceClass_All")]
)
def test_distribution_is_https_only_http3_uncompressed_and_logged(request, stack, price_class):
    synth = request.getfixturevalue(stack)
    distribution = one(synth, "media-distribution").inputs
    behaviour = distribution["defaultCacheBehavior"]
    assert behaviour["viewerProtocolPolicy"] == "https-only"
    assert behaviour["compress"] is False
    assert set(behaviour["allowedMethods"]) == {"GET", "HEAD", "OPTIONS"}
    assert distribution["httpVersion"] == "http2and3"
    assert distribution["priceClass"] == price_class
    # Standard logging v2 (tests/components/test_cdn.py), no legacy ACL-based logging.
    assert "loggingConfig" not in distribution
    source = one(synth, "media-access-log-source").inputs
    assert source["resourceArn"].endswith(f"distribution/{one(synth, 'media-distribution').id}")
    cache = one(synth, "media-audio-cache").inputs
    params = cache["parametersInCacheKeyAndForwardedToOrigin"]
    assert params["enableAcceptEncodingGzip"] is False
    assert params["enableAcceptEncodingBrotli"] is False
    assert params["queryStringsConfig"] == {"queryStringBehavior": "none"}
    assert cache["defaultTtl"] >= 86400 and cache["maxTtl"] >= cache["defaultTtl"]


def test_prod_serves_a_custom_domain_with_tls_1_2_2021(prod, dev):
    viewer = one(prod, "media-distribution").inputs["viewerCertificate"]
    assert viewer["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert viewer["sslSupportMethod"] == "sni-only"
    cert = one(prod, "media-certificate").inputs
    assert (cert["domainName"], cert["region"]) == ("media.music.example.com", "us-east-1")
    assert viewer["acmCertificateArn"].startswith("arn:aws:acm:us-east-1:")
    assert one(prod, "media-distribution").inputs["aliases"] == ["media.music.example.com"]
    # dev has no domain: CloudFront's default certificate, no ACM resources
    assert one(dev, "media-distribution").inputs["viewerCertificate"] == {
        "cloudfrontDefaultCertificate": True
    }
    assert not owned(dev, "media", "aws:acm/certificate:Certificate")


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_no_private_key_material_in_any_input_or_output(request, stack):
    synth = request.getfixturevalue(stack)
    everything = json.dumps([r.inputs for r in synth.resources]) + json.dumps(synth.outputs)
    assert "PRIVATE KEY" not in everything
    assert "BEGIN PUBLIC KEY" in everything  # the scan does see PEM text
    secret = one(synth, "media-signing-key")
    assert secret.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    versions = synth.by_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert not [v for v in versions if secret.urn in v.dependencies]
    assert "media_signing_secret_arn" in synth.outputs


def _media(program_keys):
    ctx = make_ctx(stack="test")
    media = MediaDelivery("media", MediaArgs(signing_public_keys=program_keys), ctx)
    return ctx, media


def test_grants_are_least_privilege():
    keys = [load_stack("dev").edge.signing_public_keys[0]]

    def program():
        ctx, media = _media(keys)
        reader = ServiceRole("catalog", ServiceRoleArgs(services=["lambda.amazonaws.com"]), ctx)
        writer = ServiceRole("ingest", ServiceRoleArgs(services=["lambda.amazonaws.com"]), ctx)
        media.grant_read(reader)
        media.grant_sign(reader)
        media.grant_write(writer)
        pulumi.export("ok", True)

    synth = run_program(program)
    policies = {
        p.name: json.loads(p.inputs["policy"])["Statement"][0]
        for p in synth.by_type("aws:iam/rolePolicy:RolePolicy")
    }
    read = policies["catalog-read-audio-media"]
    assert read["Action"] == ["s3:GetObject"]
    assert read["Resource"] == ["arn:aws:s3:::soundstack-test-media-music-123456789012/*"]
    decrypt = policies["catalog-decrypt-audio-media"]
    assert decrypt["Action"] == ["kms:Decrypt"]
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    }
    sign = policies["catalog-read-signing-key-media"]
    assert sign["Action"] == ["secretsmanager:GetSecretValue"]
    assert sign["Resource"][0].startswith(
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:soundstack-test-media-signing-key"
    )
    write = policies["ingest-write-audio-media"]
    assert "s3:PutObject" in write["Action"] and "s3:DeleteObject" not in write["Action"]
    assert "s3:GetObject" not in write["Action"]
    assert not any(k.startswith("ingest-read") for k in policies)


def test_key_fingerprint_ignores_line_breaks():
    pem = load_stack("dev").edge.signing_public_keys[0]
    assert key_fingerprint(pem) == key_fingerprint(pem.replace("\n", "\r\n") + "\n\n")


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([], "has 0 keys"),
        (["a", "b", "c"], "has 3 keys"),
        (["-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"], "not a PEM"),
    ],
)
def test_bad_signing_key_lists_fail_clearly(keys, message):
    with pytest.raises(ValueError, match=message):
        MediaArgs(signing_public_keys=keys)
    pem = load_stack("dev").edge.signing_public_keys[0]
    with pytest.raises(ValueError, match="same key twice"):
        MediaArgs(signing_public_keys=[pem, pem + "\n"])


def test_prod_serves_music_only_where_it_is_licensed(prod, dev):
    licensed = load_stack("prod").edge.allowed_countries
    assert {"GB", "IE", "DE", "FR", "NO", "CH"} <= set(licensed) and "US" not in licensed
    restriction = one(prod, "media-distribution").inputs["restrictions"]["geoRestriction"]
    assert restriction == {"restrictionType": "whitelist", "locations": sorted(licensed)}
    # dev lists none: no restriction; the web app is never geo-restricted
    assert one(dev, "media-distribution").inputs["restrictions"]["geoRestriction"] == {
        "restrictionType": "none"
    }
    assert one(prod, "web-distribution").inputs["restrictions"]["geoRestriction"] == {
        "restrictionType": "none"
    }


def test_unknown_country_codes_fail_before_any_resource():
    pem = load_stack("dev").edge.signing_public_keys[0]
    with pytest.raises(ValueError, match=r"edge.allowed_countries: 'UK' is not .* \(use GB\)"):
        MediaArgs(signing_public_keys=[pem], allowed_countries=["GB", "UK"])
    args = MediaArgs(signing_public_keys=[pem], allowed_countries=["IE", "GB"])
    assert list(args.allowed_countries) == ["IE", "GB"]


def test_prod_alarms_when_the_signing_key_outlives_its_age(prod):
    secret = one(prod, "media-signing-key").inputs["name"]
    fn = one(prod, "reminders-fn-lambda")
    assert fn.inputs["handler"] == "app_services.reminders.handler.handler"
    assert secret in fn.inputs["environment"]["variables"]["SIGNING_SECRET_ID"]
    schedule = one(prod, "media-key-age").inputs
    assert schedule["scheduleExpression"] == "rate(1 hour)"
    target = one(prod, "media-key-age-check").inputs
    assert (target["rule"], target["arn"]) == (schedule["name"], fn.outputs["arn"])
    invoke = one(prod, "media-key-age-invoke").inputs
    assert invoke["principal"] == "events.amazonaws.com"
    assert invoke["sourceArn"] == one(prod, "media-key-age").outputs["arn"]
    # what the checker may do: the secret's metadata, and metrics in its namespace only
    grants = {
        r.name.removeprefix("reminders-fn-role-"): json.loads(r.inputs["policy"])["Statement"]
        for r in prod.by_type("aws:iam/rolePolicy:RolePolicy")
        if r.name.startswith("reminders-fn-role-")
    }
    (describe,) = grants["describe-signing-key-media"]
    assert describe["Action"] == [
        "secretsmanager:DescribeSecret",
        "secretsmanager:ListSecretVersionIds",
    ]
    assert describe["Resource"] == [one(prod, "media-signing-key").outputs["arn"]]
    (publish,) = grants["publish-key-age-media"]
    assert publish["Action"] == ["cloudwatch:PutMetricData"]
    assert publish["Condition"] == {"StringEquals": {"cloudwatch:namespace": "soundstack/Media"}}
    # never the key itself, nor its KMS key through Secrets Manager
    assert "GetSecretValue" not in json.dumps(grants)
    assert "secretsmanager." not in json.dumps(grants)
    alarms = {a.name: a.inputs for a in prod.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    age = alarms["monitoring-alarm-media-signing_key_age"]
    assert (age["namespace"], age["metricName"]) == ("soundstack/Media", "SigningKeyAgeDays")
    assert age["threshold"] == load_stack("prod").edge.signing_key_max_age_days == 180
    assert age["dimensions"] == {"Secret": secret}
    assert age["alarmActions"] == [one(prod, "monitoring-alerts").outputs["arn"]]
    failures = alarms["monitoring-alarm-media-failures"]
    assert failures["metricName"] == "Errors" and failures["threshold"] == 0
    assert failures["dimensions"] == {"FunctionName": fn.inputs["name"]}


def test_a_key_age_beyond_ten_years_is_refused():
    def program():
        pem = load_stack("dev").edge.signing_public_keys[0]
        media = MediaDelivery("media", MediaArgs(signing_public_keys=[pem]), make_ctx())
        role = ServiceRole("checker", ServiceRoleArgs(services=["lambda.amazonaws.com"]),
                           make_ctx())  # fmt: skip
        media.remind_key_age(role, 4000)  # type: ignore[arg-type]

    with pytest.raises(Exception, match="signing_key_max_age_days=4000: use 1 to 3650"):
        run_program(program)


@pytest.mark.parametrize("stack", STACKS)
def test_only_cover_art_is_served_without_a_signature(request, stack):
    synth = request.getfixturevalue(stack)
    distribution = one(synth, "media-distribution").inputs
    default = distribution["defaultCacheBehavior"]
    (covers,) = distribution["orderedCacheBehaviors"]
    assert covers["pathPattern"] == "covers/*"
    assert not covers.get("trustedKeyGroups") and not covers.get("trustedSigners")
    assert default["trustedKeyGroups"]  # audio (everything else) still needs a signature
    assert sorted(covers["allowedMethods"]) == sorted(covers["cachedMethods"]) == ["GET", "HEAD"]
    assert covers["viewerProtocolPolicy"] == "https-only"
    # Same origin (group, in prod), cache policy and security headers as the audio.
    for same in ("targetOriginId", "cachePolicyId", "responseHeadersPolicyId"):
        assert covers[same] == default[same]
    assert default["targetOriginId"] == ("music-failover" if stack == "prod" else "music")
    assert one(synth, "media-audio-cache").inputs["defaultTtl"] >= 30 * 86400
    # The geo restriction is the distribution's: it applies to covers as well (prod licenses).
    restriction = distribution["restrictions"]["geoRestriction"]
    assert restriction["restrictionType"] == ("whitelist" if stack == "prod" else "none")


DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


def test_the_pack_refuses_an_unsigned_path_beyond_cover_art_on_the_music_distribution():
    """`cloudfront-signed-unsigned-paths`: the media distribution as built passes; a behaviour
    that serves audio unsigned, or lets anyone write to covers, does not."""
    from tests.policies.helpers import check_resource

    def check(*behaviours: dict, signed: bool = True, config: dict | None = None) -> list[str]:
        props = {
            "defaultCacheBehavior": {"trustedKeyGroups": ["kg-1"] if signed else []},
            "orderedCacheBehaviors": list(behaviours),
        }
        return check_resource("cloudfront-signed-unsigned-paths", DISTRIBUTION, props, config)

    covers = {"pathPattern": "covers/*", "allowedMethods": ["GET", "HEAD"]}
    audio = {"pathPattern": "tracks/*", "allowedMethods": ["GET", "HEAD"]}
    assert check(covers) == []
    assert check({**audio, "trustedKeyGroups": ["kg-1"]}, covers) == []
    (leak,) = check(covers, audio)
    assert "'tracks/*' serves without a signature" in leak
    (writable,) = check({**covers, "allowedMethods": ["GET", "HEAD", "PUT", "POST"]})
    assert "['POST', 'PUT']" in writable
    assert check(audio, signed=False) == []  # the web app: nothing is signed there
    assert check(audio, config={"unsignedPaths": ["covers/*", "tracks/*"]}) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_built_music_distribution_passes_the_unsigned_paths_policy(stack):
    from tests.conftest import stack_synthesis
    from tests.policies.helpers import check_resource

    (distribution,) = [
        r for r in stack_synthesis(stack).by_type(DISTRIBUTION) if r.name == "media-distribution"
    ]
    assert (
        check_resource("cloudfront-signed-unsigned-paths", DISTRIBUTION, distribution.inputs) == []
    )


# -- upload ingest: the bucket notification and the function it invokes ------------------------

NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_uploads_invoke_the_ingest_function_only_after_s3_may_invoke_it(request, stack):
    synth = request.getfixturevalue(stack)
    (notification,) = synth.by_type(NOTIFICATION)  # one configuration for the bucket
    fn = one(synth, "ingest-fn-lambda")
    assert notification.inputs["bucket"] == f"soundstack-{stack}-media-music-123456789012"
    assert notification.inputs["lambdaFunctions"] == [
        {
            "lambdaFunctionArn": f"arn:aws:lambda:eu-west-1:123456789012:function:"
            f"{fn.inputs['name']}",
            "events": ["s3:ObjectCreated:*"],
            "filterPrefix": "uploads/",
        }
    ]
    assert fn.urn in notification.property_dependencies["lambdaFunctions"]
    permission = one(synth, "media-uploads-invoke")
    assert permission.urn in notification.dependencies
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": fn.inputs["name"],
        "principal": "s3.amazonaws.com",
        "sourceArn": f"arn:aws:s3:::soundstack-{stack}-media-music-123456789012",
        "sourceAccount": "123456789012",
    }
    assert one(synth, "media-music-bucket").urn in permission.property_dependencies["sourceArn"]
    assert fn.inputs["handler"] == "app_services.catalog.handler.ingest"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_ingest_function_holds_exactly_what_ingest_needs(request, stack):
    synth = request.getfixturevalue(stack)
    statements = {}
    for policy in synth.by_type("aws:iam/rolePolicy:RolePolicy"):
        if policy.name.startswith("ingest-fn-role-"):
            for statement in json.loads(policy.inputs["policy"])["Statement"]:
                statements[statement["Sid"]] = statement
    search = {"IndexSearch"} if stack == "prod" else set()  # dev searches in PostgreSQL
    assert set(statements) == {
        "WriteOwnLogs", "WriteTraces", "SendDeadLetters", "UseFunctionKey", "ManageVpcInterfaces",
        "ReadUploadsMedia", "WriteCoversMedia", "UseMusicKeyMedia", "ConnectDatabaseAsCatalog",
        "ConnectCache", *search,
    }  # fmt: skip
    music = f"arn:aws:s3:::soundstack-{stack}-media-music-123456789012"
    s3 = [s for s in statements.values() if any(a.startswith("s3:") for a in s["Action"])]
    assert sorted((s["Action"], s["Resource"]) for s in s3) == [
        (["s3:GetObject"], [f"{music}/uploads/*"]),
        (["s3:PutObject"], [f"{music}/covers/*"]),
    ]
    key = statements["UseMusicKeyMedia"]
    assert key["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert key["Resource"] == [one(synth, "media-key-key").outputs["arn"]]
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    assert statements["ConnectDatabaseAsCatalog"]["Resource"][0].endswith("/catalog")
    if search:
        assert "es:ESHttpGet" not in statements["IndexSearch"]["Action"]  # it only indexes


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_failed_ingest_is_kept_and_alarmed_and_the_function_is_sized_for_a_large_upload(
    request, stack
):
    synth = request.getfixturevalue(stack)
    functions = load_stack(stack).functions
    fn = one(synth, "ingest-fn-lambda").inputs
    assert fn["timeout"] == functions.ingest_timeout_seconds == 300
    assert fn["memorySize"] == functions.ingest_memory_mb
    assert fn["environment"]["variables"]["MAX_INGEST_BYTES"] == str(functions.max_ingest_bytes)
    invoke = one(synth, "ingest-fn-async").inputs
    dlq = one(synth, "ingest-fn-dlq").inputs
    assert invoke["maximumRetryAttempts"] == 2
    assert invoke["destinationConfig"]["onFailure"]["destination"].endswith(f":{dlq['name']}")
    alarms = {a.name: a.inputs for a in synth.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    depth = alarms["monitoring-alarm-ingest-fn-dlq_depth"]
    assert depth["dimensions"] == {"QueueName": dlq["name"]} and depth["alarmActions"]
    # a normal ingest runs far past the request functions' 10 s: alarm near the timeout
    assert alarms["monitoring-alarm-ingest-fn-duration"]["threshold"] == 240_000
    request_threshold = {**DEFAULT_THRESHOLDS, **load_stack(stack).monitoring.thresholds}
    assert (
        alarms["monitoring-alarm-catalog-fn-duration"]["threshold"] == request_threshold["duration"]
    )


class _Function:
    """What `notify_uploads` needs of a function: its name and ARN."""

    def __init__(self, name: str) -> None:
        self.function_name = pulumi.Output.from_input(name)
        self.arn = pulumi.Output.from_input(
            f"arn:aws:lambda:eu-west-1:123456789012:function:{name}"
        )


def test_the_music_bucket_gets_one_notification_configuration():
    keys = [load_stack("dev").edge.signing_public_keys[0]]
    refused = []

    def program():
        _, media = _media(keys)
        media.notify_uploads(_Function("ingest"))
        with pytest.raises(ValueError, match="call notify_uploads once") as err:
            media.notify_uploads(_Function("other"), "imports/")
        refused.append(str(err.value))

    synth = run_program(program)
    assert len(synth.by_type(NOTIFICATION)) == 1 and refused
    assert "replaces it whole" in refused[0]
    (permission,) = synth.by_type("aws:lambda/permission:Permission")
    assert permission.inputs["function"] == "ingest"


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("", "ending in '/'"),
        ("uploads", "ending in '/'"),
        ("uploads/*", "without '\\*'"),
        ("c", "ending in '/'"),
        ("x" * 1024 + "/", "at most 1024"),
    ],
)
def test_a_bad_upload_prefix_fails_before_any_resource(prefix, message):
    keys = [load_stack("dev").edge.signing_public_keys[0]]

    def program():
        _, media = _media(keys)
        with pytest.raises(ValueError, match=message):
            media.notify_uploads(_Function("ingest"), prefix)

    synth = run_program(program)
    assert not synth.by_type(NOTIFICATION)
    assert not synth.by_type("aws:lambda/permission:Permission")


def test_an_upload_prefix_over_the_covers_would_loop_and_is_refused():
    keys = [load_stack("dev").edge.signing_public_keys[0]]

    def program():
        _, media = _media(keys)
        with pytest.raises(ValueError, match="each cover would invoke ingest again"):
            media.notify_uploads(_Function("ingest"), "covers/")

    assert not run_program(program).by_type(NOTIFICATION)


def test_grant_ingest_reads_uploads_and_puts_covers_only():
    keys = [load_stack("dev").edge.signing_public_keys[0]]

    def program():
        ctx, media = _media(keys)
        role = ServiceRole("ingest", ServiceRoleArgs(services=["lambda.amazonaws.com"]), ctx)
        media.grant_ingest(role)

    synth = run_program(program)
    statements = [
        json.loads(p.inputs["policy"])["Statement"][0]
        for p in synth.by_type("aws:iam/rolePolicy:RolePolicy")
    ]
    actions = sorted(a for s in statements for a in s["Action"])
    assert actions == ["kms:Decrypt", "kms:GenerateDataKey", "s3:GetObject", "s3:PutObject"]
    resources = {a: s["Resource"] for s in statements for a in s["Action"]}
    assert resources["s3:GetObject"] == [
        "arn:aws:s3:::soundstack-test-media-music-123456789012/uploads/*"
    ]
    assert resources["s3:PutObject"] == [
        "arn:aws:s3:::soundstack-test-media-music-123456789012/covers/*"
    ]
