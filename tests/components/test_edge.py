"""Edge protection: web ACLs, WAF logging, associations and Shield only where enabled."""

from __future__ import annotations

import re

import pulumi
import pytest

from soundstack.components.base import Component
from soundstack.components.edge import (
    MANAGED_RULE_GROUPS,
    EdgeArgs,
    EdgeProtection,
    EmergencyContact,
)
from tests.conftest import make_ctx, one, run_program

STACKS = ["dev", "prod"]


def _rate_rules(acl):
    return {
        r["name"]: (
            r["statement"]["rateBasedStatement"]["limit"],
            r["statement"]["rateBasedStatement"].get("scopeDownStatement"),
        )
        for r in acl["rules"]
        if "rateBasedStatement" in r["statement"]
    }


@pytest.mark.parametrize(("stack", "limit"), [("dev", 1000), ("prod", 2000)])
def test_every_acl_runs_managed_groups_and_per_ip_rate_rules(request, stack, limit):
    synth = request.getfixturevalue(stack)
    for role, scope in (("cloudfront", "CLOUDFRONT"), ("media", "CLOUDFRONT"),
                        ("regional", "REGIONAL")):  # fmt: skip
        acl = one(synth, f"edge-{role}-acl").inputs
        assert acl["scope"] == scope
        assert acl["defaultAction"] == {"allow": {}}
        managed = [
            r["statement"]["managedRuleGroupStatement"]["name"]
            for r in acl["rules"]
            if "managedRuleGroupStatement" in r["statement"]
        ]
        assert managed == list(MANAGED_RULE_GROUPS)
        rates = [r for r in acl["rules"] if "rateBasedStatement" in r["statement"]]
        for rate in rates:
            assert rate["statement"]["rateBasedStatement"]["aggregateKeyType"] == "IP"
            assert rate["statement"]["rateBasedStatement"]["evaluationWindowSec"] == 300
            assert rate["action"] == {"block": {}}
        assert len({r["priority"] for r in acl["rules"]}) == len(acl["rules"])
        for rule in [*acl["rules"], acl]:
            assert rule["visibilityConfig"]["cloudwatchMetricsEnabled"] is True
    assert _rate_rules(one(synth, "edge-cloudfront-acl").inputs)["rate-limit-per-ip"][0] == limit
    assert one(synth, "edge-cloudfront-acl").inputs["region"] == "us-east-1"
    assert one(synth, "edge-media-acl").inputs["region"] == "us-east-1"
    assert "region" not in one(synth, "edge-regional-acl").inputs


def test_rate_rules_are_sized_per_distribution(prod):
    """Audio (many range requests, listeners behind carrier NAT) gets its own, higher limit; the
    web app's API and Cognito's sign-in calls get stricter ones than pages and assets."""
    web = _rate_rules(one(prod, "edge-cloudfront-acl").inputs)
    media = _rate_rules(one(prod, "edge-media-acl").inputs)
    regional = _rate_rules(one(prod, "edge-regional-acl").inputs)
    assert media == {"rate-limit-per-ip": (20_000, None)}
    assert web["rate-limit-per-ip"] == (2000, None)
    api_limit, api_scope = web["rate-limit-api"]
    assert api_limit == 1000
    match = api_scope["byteMatchStatement"]
    assert (match["fieldToMatch"], match["positionalConstraint"], match["searchString"]) == (
        {"uriPath": {}}, "STARTS_WITH", "/api/")  # fmt: skip
    sign_in_limit, sign_in_scope = regional["rate-limit-sign-in"]
    assert sign_in_limit == 300 and regional["rate-limit-per-ip"] == (2000, None)
    target, path = (s["regexMatchStatement"] for s in sign_in_scope["orStatement"]["statements"])
    assert target["fieldToMatch"] == {"singleHeader": {"name": "x-amz-target"}}
    assert re.search(target["regexString"], "AWSCognitoIdentityProviderService.InitiateAuth")
    assert not re.search(target["regexString"], "AWSCognitoIdentityProviderService.GetUser")
    assert re.search(path["regexString"], "/oauth2/token")
    assert not re.search(path["regexString"], "/catalog/tracks")
    assert all(0 < len(m["regexString"]) <= 512 for m in (target, path))  # RegexPatternString


@pytest.mark.parametrize(("stack", "retention"), [("dev", 30), ("prod", 365)])
def test_acls_log_to_encrypted_groups_with_retention_and_redaction(request, stack, retention):
    synth = request.getfixturevalue(stack)
    groups = {
        "cloudfront": one(synth, "edge-cloudfront-waf-logs"),
        "regional": one(synth, "edge-regional-waf-logs"),
    }
    assert groups["cloudfront"].inputs["region"] == "us-east-1"
    key = one(synth, "edge-cloudfront-logs-key").inputs
    assert key["region"] == "us-east-1" and key["enableKeyRotation"] is True
    for role, group in groups.items():
        assert group.inputs["name"].startswith("aws-waf-logs-")
        assert group.inputs["retentionInDays"] == retention
        assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:")
        logging = one(synth, f"edge-{role}-acl-logging")
        assert logging.inputs["logDestinationConfigs"] == [
            f"arn:aws:logs:{'us-east-1' if role == 'cloudfront' else 'eu-west-1'}:123456789012:"
            f"log-group:{group.inputs['name']}"
        ]
        assert one(synth, f"edge-{role}-acl").urn in logging.property_dependencies["resourceArn"]
        headers = {f["singleHeader"]["name"] for f in logging.inputs["redactedFields"]}
        assert headers == {"authorization", "cookie"}


@pytest.mark.parametrize("stack", STACKS)
def test_each_distribution_uses_its_own_cloudfront_acl(request, stack):
    synth = request.getfixturevalue(stack)
    for distribution, acl in (("web-distribution", "edge-cloudfront-acl"),
                              ("media-distribution", "edge-media-acl")):  # fmt: skip
        assert one(synth, distribution).property_dependencies["webAclId"] == [one(synth, acl).urn]
    assert (
        one(synth, "web-distribution").inputs["webAclId"] == synth.outputs["cloudfront_web_acl_arn"]
    )


def test_dev_has_no_shield_at_all(dev):
    shield = [r for r in dev.resources if r.type.startswith("aws:shield/")]
    assert shield == []
    assert not dev.by_type("aws:route53/healthCheck:HealthCheck")


def test_prod_shields_both_distributions(prod):
    (subscription,) = prod.by_type("aws:shield/subscription:Subscription")
    assert subscription.inputs["skipDestroy"] is True and subscription.protect is True
    protections = {p.name: p for p in prod.by_type("aws:shield/protection:Protection")}
    assert set(protections) == {"media-distribution-shield", "web-distribution-shield"}
    for name, protection in protections.items():
        distribution = one(prod, name.removesuffix("-shield"))
        assert protection.property_dependencies["resourceArn"] == [distribution.urn]
        assert subscription.urn in protection.dependencies
    (check,) = prod.by_type("aws:route53/healthCheck:HealthCheck")
    assert check.inputs["fqdn"] == "music.example.com" and check.inputs["type"] == "HTTPS"
    (health,) = prod.by_type(
        "aws:shield/protectionHealthCheckAssociation:ProtectionHealthCheckAssociation"
    )
    assert protections["web-distribution-shield"].urn in health.dependencies
    responses = prod.by_type(
        "aws:shield/applicationLayerAutomaticResponse:ApplicationLayerAutomaticResponse"
    )
    assert {r.inputs["action"] for r in responses} == {"BLOCK"} and len(responses) == 2
    # Proactive engagement needs a support plan and a phone number: off unless configured.
    assert not prod.by_type("aws:shield/proactiveEngagement:ProactiveEngagement")


def _engagement(**kwargs):
    def program():
        ctx = make_ctx(environment="prod", stack="test")
        EdgeProtection("edge", EdgeArgs(**kwargs), ctx)

    return run_program(program).by_type("aws:shield/proactiveEngagement:ProactiveEngagement")


def test_proactive_engagement_sends_contacts_with_a_phone_number():
    contacts = [EmergencyContact("oncall@example.com", "+353155501234", "24/7, English"),
                EmergencyContact("sre@example.com")]  # fmt: skip
    (engagement,) = _engagement(proactive_engagement=True, emergency_contacts=contacts)
    assert engagement.inputs["enabled"] is True
    assert engagement.inputs["emergencyContacts"] == [
        {"emailAddress": "oncall@example.com", "phoneNumber": "+353155501234",
         "contactNotes": "24/7, English"},
        {"emailAddress": "sre@example.com"},
    ]  # fmt: skip
    assert _engagement(emergency_contacts=contacts) == []  # off unless asked


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"emergency_contacts": [EmergencyContact("oncall@example.com")]},
         "You must provide at least one phone number in the emergency contact list"),
        ({"emergency_contacts": [EmergencyContact("oncall@example.com", "01 555 1234")]},
         r"phone='01 555 1234' is not an E\.164 number"),
        ({"emergency_contacts": [EmergencyContact("oncall", "+353155501234")]},
         "is not an e-mail address"),
        ({"emergency_contacts": [EmergencyContact("a@example.com", "+353155501234")] * 11},
         "Shield takes at most 10"),
        ({"shield_advanced": False, "emergency_contacts": []}, "edge.shield_advanced: true"),
    ],
)  # fmt: skip
def test_proactive_engagement_refuses_what_shield_refuses(kwargs, expected):
    with pytest.raises(ValueError, match=expected):
        EdgeArgs(proactive_engagement=True, **kwargs)


def test_proactive_engagement_config_needs_a_phone_and_shield():
    from soundstack.stacks.loader import ConfigError, load_config

    base = {"aws:region": "eu-west-1", "soundstack:owner": "t", "soundstack:cost_centre": "c",
            "soundstack:monitoring": {"alarm_email": "oncall@example.com"},
            "soundstack:resilience": {"replica_region": "eu-central-1"}}  # fmt: skip
    contact: dict[str, str] = {"email": "oncall@example.com"}
    on = {"enabled": True, "contacts": [contact]}
    with pytest.raises(ConfigError, match="at least one phone number"):
        load_config("prod", {**base, "soundstack:edge": {"proactive_engagement": on}})
    contact["phone"] = "+353155501234"
    cfg = load_config("prod", {**base, "soundstack:edge": {"proactive_engagement": on}})
    assert cfg.edge.proactive_engagement.contacts[0].phone == "+353155501234"
    with pytest.raises(ConfigError, match=r"proactive_engagement\.enabled needs shield_advanced"):
        load_config("dev", {**base, "soundstack:edge": {"proactive_engagement": on}})


class _Cluster(Component):
    TYPE = "soundstack:tests:Cluster"


@pytest.mark.parametrize("shield", [True, False])
def test_associate_puts_an_alb_behind_the_regional_acl_and_shields_it_when_enabled(shield):
    alb = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/api/50dc6c495c0c"

    def program():
        ctx = make_ctx(environment="prod", stack="test")
        edge = EdgeProtection("edge", EdgeArgs(shield_advanced=shield), ctx)
        cluster = _Cluster("cluster", ctx)
        edge.associate(cluster, "alb", alb, shield=True)
        pulumi.export("regional", edge.regional_web_acl_arn)

    synth = run_program(program)
    (assoc,) = synth.by_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert assoc.inputs == {"resourceArn": alb, "webAclArn": synth.outputs["regional"]}
    assert (assoc.parent or "").endswith("::cluster")
    protections = synth.by_type("aws:shield/protection:Protection")
    assert [p.inputs["resourceArn"] for p in protections] == ([alb] if shield else [])
    assert not synth.by_type("aws:shield/proactiveEngagement:ProactiveEngagement")


def test_rate_limit_out_of_range_fails_clearly():
    with pytest.raises(ValueError, match=r"EdgeArgs\.rate_limit=5 \(config edge\.waf_rate_limit\)"):
        EdgeArgs(rate_limit=5)
    with pytest.raises(
        ValueError,
        match=r"EdgeArgs\.media_rate_limit=5 \(config edge\.media_rate_limit\): .* 20000",
    ):
        EdgeArgs(media_rate_limit=5)


def test_edge_config_accepts_only_pem_public_keys_and_zone_ids():
    from soundstack.stacks.loader import ConfigError, load_config, load_stack

    base = {"aws:region": "eu-west-1", "soundstack:owner": "t", "soundstack:cost_centre": "c"}
    pem = load_stack("dev").edge.signing_public_keys[0]
    ok = load_config("dev", {**base, "soundstack:edge": {"signing_public_keys": [pem]}})
    assert ok.edge.signing_public_keys == [pem]
    for edge, message in (
        (
            {"signing_public_keys": ["-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----"]},
            "is not a PEM public key",
        ),
        ({"signing_public_keys": [pem, pem, pem]}, "at most 2"),
        ({"hosted_zone_id": "example.com"}, "not a Route 53 hosted zone id"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_config("dev", {**base, "soundstack:edge": edge})
