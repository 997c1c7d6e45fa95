"""Edge protection: web ACLs, WAF logging, associations and Shield only where enabled."""

from __future__ import annotations

import pulumi
import pytest

from components.base import Component
from components.edge import MANAGED_RULE_GROUPS, EdgeArgs, EdgeProtection
from tests.conftest import make_ctx, run_program

STACKS = ["dev", "prod"]


def one(synth, name: str):
    (found,) = [r for r in synth.resources if r.name == name]
    return found


@pytest.mark.parametrize(("stack", "limit"), [("dev", 1000), ("prod", 2000)])
def test_both_acls_run_managed_groups_and_a_rate_rule_from_config(request, stack, limit):
    synth = request.getfixturevalue(stack)
    for role, scope in (("cloudfront", "CLOUDFRONT"), ("regional", "REGIONAL")):
        acl = one(synth, f"edge-{role}-acl").inputs
        assert acl["scope"] == scope
        assert acl["defaultAction"] == {"allow": {}}
        managed = [
            r["statement"]["managedRuleGroupStatement"]["name"]
            for r in acl["rules"]
            if "managedRuleGroupStatement" in r["statement"]
        ]
        assert managed == list(MANAGED_RULE_GROUPS)
        (rate,) = [r for r in acl["rules"] if "rateBasedStatement" in r["statement"]]
        assert rate["statement"]["rateBasedStatement"]["limit"] == limit
        assert rate["statement"]["rateBasedStatement"]["aggregateKeyType"] == "IP"
        assert rate["action"] == {"block": {}}
        assert len({r["priority"] for r in acl["rules"]}) == len(acl["rules"])
        for rule in [*acl["rules"], acl]:
            assert rule["visibilityConfig"]["cloudwatchMetricsEnabled"] is True
    assert one(synth, "edge-cloudfront-acl").inputs["region"] == "us-east-1"
    assert "region" not in one(synth, "edge-regional-acl").inputs


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
def test_every_distribution_uses_the_cloudfront_acl(request, stack):
    synth = request.getfixturevalue(stack)
    acl = one(synth, "edge-cloudfront-acl")
    distributions = synth.by_type("aws:cloudfront/distribution:Distribution")
    assert {d.name for d in distributions} >= {"media-distribution", "web-distribution"}
    for distribution in distributions:
        assert distribution.property_dependencies["webAclId"] == [acl.urn]
        assert distribution.inputs["webAclId"] == synth.outputs["cloudfront_web_acl_arn"]


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
    (engagement,) = prod.by_type("aws:shield/proactiveEngagement:ProactiveEngagement")
    assert engagement.inputs["emergencyContacts"] == [{"emailAddress": "oncall@example.com"}]


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
    with pytest.raises(ValueError, match=r"edge\.waf_rate_limit=5"):
        EdgeArgs(rate_limit=5)


def test_edge_config_accepts_only_pem_public_keys_and_zone_ids():
    from stacks.loader import ConfigError, load_config, load_stack

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
