"""OpenSearch per stack, and what its grant verbs add."""

from __future__ import annotations

import json

import pytest

from components.search import HTTPS_PORT, Search, SearchArgs
from stacks.loader import ConfigError, load_config
from tests.components.datatier import (
    DATA_KEY,
    assert_no_secret_inputs,
    ingress_into,
    policies,
    run,
    sg_of,
    sources,
    under,
)


def test_prod_spreads_three_nodes_over_three_zones_with_dedicated_masters(prod):
    (domain,) = prod.by_type("aws:opensearch/domain:Domain")
    cluster = domain.inputs["clusterConfig"]
    assert cluster["instanceCount"] == 3 and cluster["zoneAwarenessEnabled"] is True
    assert cluster["zoneAwarenessConfig"] == {"availabilityZoneCount": 3}
    assert cluster["dedicatedMasterEnabled"] is True and cluster["dedicatedMasterCount"] == 3
    assert domain.inputs["vpcOptions"]["subnetIds"] == prod.outputs["isolated_subnet_ids"]


def test_dev_is_one_node_in_one_isolated_subnet(dev):
    (domain,) = dev.by_type("aws:opensearch/domain:Domain")
    cluster = domain.inputs["clusterConfig"]
    assert cluster["instanceCount"] == 1 and cluster["zoneAwarenessEnabled"] is False
    assert "zoneAwarenessConfig" not in cluster
    assert domain.inputs["vpcOptions"]["subnetIds"] == dev.outputs["isolated_subnet_ids"][:1]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_domain_is_encrypted_https_only_fine_grained_and_logged(request, stack):
    synth = request.getfixturevalue(stack)
    (domain,) = synth.by_type("aws:opensearch/domain:Domain")
    i = domain.inputs
    assert i["encryptAtRest"]["enabled"] is True
    assert i["encryptAtRest"]["kmsKeyId"] != synth.outputs["logs_kms_key_arn"]
    assert i["nodeToNodeEncryption"] == {"enabled": True}
    assert i["domainEndpointOptions"] == {
        "enforceHttps": True,
        "tlsSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10",
    }
    fgac = i["advancedSecurityOptions"]
    assert fgac["enabled"] is True and fgac["internalUserDatabaseEnabled"] is False
    assert fgac["anonymousAuthEnabled"] is False
    assert fgac["masterUserOptions"]["masterUserArn"].endswith(
        f"role/soundstack-{stack}-search-admin"
    )
    assert {o["logType"] for o in i["logPublishingOptions"]} == {
        "ES_APPLICATION_LOGS",
        "INDEX_SLOW_LOGS",
        "SEARCH_SLOW_LOGS",
        "AUDIT_LOGS",
    }
    (statement,) = json.loads(i["accessPolicies"])["Statement"]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert not any(a.endswith("*") for a in statement["Action"])
    sg = sg_of(synth, "search-search-sg")
    assert not sg.inputs.get("ingress")
    assert all(sources(r) and r.inputs["fromPort"] == 443 for r in ingress_into(synth, sg))
    assert_no_secret_inputs(under(synth, "search"))


def test_read_and_write_grants_are_scoped_to_the_domain_and_open_443_once():
    def build(e):
        s = Search("s", SearchArgs(network=e.network, kms_key_arn=DATA_KEY), e.ctx)
        s.grant_read(e.granted)
        s.grant_write(e.granted)

    synth, _ = run(build)
    granted = policies(synth, "granted")
    domain = "arn:aws:es:eu-west-1:123456789012:domain/soundstack-test-s/*"
    assert granted["SearchS"] == {
        "Sid": "SearchS",
        "Effect": "Allow",
        "Action": ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost"],
        "Resource": [domain],
    }
    assert granted["IndexS"]["Action"] == [
        "es:ESHttpDelete",
        "es:ESHttpPatch",
        "es:ESHttpPost",
        "es:ESHttpPut",
    ]
    (rule,) = ingress_into(synth, sg_of(synth, "s-search-sg"))
    assert sources(rule) == [sg_of(synth, "granted-client-app-sg").urn]
    assert rule.inputs["fromPort"] == HTTPS_PORT


@pytest.mark.parametrize(
    ("count", "zone_awareness", "message"),
    [(4, True, "multiple of 3"), (1, True, "spread evenly")],
)
def test_node_counts_that_cannot_spread_over_the_zones_are_refused(count, zone_awareness, message):
    def build(e):
        with pytest.raises(ValueError, match=message):
            Search(
                "s",
                SearchArgs(
                    network=e.network,
                    kms_key_arn=DATA_KEY,
                    instance_count=count,
                    zone_awareness=zone_awareness,
                ),
                e.ctx,
            )

    run(build)


def test_a_stack_asking_for_opensearch_serverless_is_told_it_is_not_offered():
    values = {"aws:region": "eu-west-1", "soundstack:search": {"serverless": True}}
    with pytest.raises(ConfigError, match=r"search\.serverless=true.*search\.serverless: false"):
        load_config("dev", values)
