"""OpenSearch per stack, and what its grant verbs add."""

from __future__ import annotations

import json

import pytest

from soundstack.components.base import Signal
from soundstack.components.iam import ServiceRole, ServiceRoleArgs
from soundstack.components.search import (
    AOSS_READ,
    AOSS_WRITE,
    HTTPS_PORT,
    Search,
    SearchArgs,
    SearchCollection,
    SearchCollectionArgs,
)
from soundstack.stacks.loader import ConfigError, load_config
from tests.components.datatier import (
    DATA_KEY,
    Client,
    assert_no_secret_inputs,
    ingress_into,
    policies,
    run,
    sg_of,
    sources,
    under,
)

DOMAIN = "aws:opensearch/domain:Domain"
COLLECTION = "aws:opensearch/serverlessCollection:ServerlessCollection"
SECURITY_POLICY = "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy"
ACCESS_POLICY = "aws:opensearch/serverlessAccessPolicy:ServerlessAccessPolicy"
VPC_ENDPOINT = "aws:opensearch/serverlessVpcEndpoint:ServerlessVpcEndpoint"


def test_prod_spreads_three_nodes_over_three_zones_with_dedicated_masters(prod):
    (domain,) = prod.by_type("aws:opensearch/domain:Domain")
    cluster = domain.inputs["clusterConfig"]
    assert cluster["instanceCount"] == 3 and cluster["zoneAwarenessEnabled"] is True
    assert cluster["zoneAwarenessConfig"] == {"availabilityZoneCount": 3}
    assert cluster["dedicatedMasterEnabled"] is True and cluster["dedicatedMasterCount"] == 3
    assert domain.inputs["vpcOptions"]["subnetIds"] == prod.outputs["isolated_subnet_ids"]


def test_staging_is_a_two_node_domain_without_dedicated_masters(staging):
    (domain,) = staging.by_type(DOMAIN)
    cluster = domain.inputs["clusterConfig"]
    assert cluster["instanceCount"] == 2 and cluster["dedicatedMasterEnabled"] is False
    assert not staging.by_type(COLLECTION)


@pytest.mark.parametrize("stack", ["staging", "prod"])
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


# -- OpenSearch Serverless ---------------------------------------------------------------------


def _policy(resource) -> list[dict]:
    return json.loads(resource.inputs["policy"])


def test_serverless_builds_a_collection_without_standby_replicas_and_no_domain(
    dev_serverless_search, prod
):
    assert not dev_serverless_search.by_type(DOMAIN)
    (collection,) = dev_serverless_search.by_type(COLLECTION)
    assert collection.inputs["type"] == "SEARCH"
    assert collection.inputs["standbyReplicas"] == "DISABLED"
    assert collection.inputs["name"] == "soundstack-dev-search"
    assert dev_serverless_search.outputs["search_endpoint"].endswith(
        ".eu-west-1.aoss.amazonaws.com"
    )
    assert not dev_serverless_search.outputs["search_endpoint"].startswith("https://")
    assert len(prod.by_type(DOMAIN)) == 1 and not prod.by_type(COLLECTION)
    assert not prod.by_type(VPC_ENDPOINT) and not prod.by_type(ACCESS_POLICY)


def test_serverless_collection_is_reached_only_through_its_vpc_endpoint(dev_serverless_search):
    (vpce,) = dev_serverless_search.by_type(VPC_ENDPOINT)
    assert vpce.inputs["subnetIds"] == dev_serverless_search.outputs["private_subnet_ids"]
    sg = sg_of(dev_serverless_search, "search-search-sg")
    assert vpce.property_dependencies["securityGroupIds"] == [sg.urn]
    assert not sg.inputs.get("ingress")
    rules = ingress_into(dev_serverless_search, sg)
    assert rules and all(r.inputs["fromPort"] == r.inputs["toPort"] == 443 for r in rules)
    assert all(len(sources(r)) == 1 for r in rules)
    (network,) = [
        p for p in dev_serverless_search.by_type(SECURITY_POLICY) if p.inputs["type"] == "network"
    ]
    (rule,) = _policy(network)
    assert rule["AllowFromPublic"] is False
    assert rule["SourceVPCEs"] == [vpce_id(dev_serverless_search)]
    assert rule["Rules"] == [
        {"ResourceType": "collection", "Resource": ["collection/soundstack-dev-search"]}
    ]
    assert_no_secret_inputs(under(dev_serverless_search, "search"))


def vpce_id(synth) -> str:
    """The id the mocks gave the OpenSearch Serverless VPC endpoint (vpce-…)."""
    (vpce,) = synth.by_type(VPC_ENDPOINT)
    (policy,) = [p for p in synth.by_type(SECURITY_POLICY) if p.inputs["type"] == "network"]
    assert vpce.urn in policy.dependencies
    found = _policy(policy)[0]["SourceVPCEs"][0]
    assert found.startswith("vpce-0")
    return found


def test_serverless_collection_is_encrypted_with_the_data_key_before_it_exists(
    dev_serverless_search,
):
    (encryption,) = [
        p
        for p in dev_serverless_search.by_type(SECURITY_POLICY)
        if p.inputs["type"] == "encryption"
    ]
    rule = json.loads(encryption.inputs["policy"])
    assert rule["AWSOwnedKey"] is False
    assert (
        rule["KmsARN"]
        == dev_serverless_search.outputs["data_kms_key_arn"]
        != dev_serverless_search.outputs["logs_kms_key_arn"]
    )
    (collection,) = dev_serverless_search.by_type(COLLECTION)
    assert encryption.urn in collection.dependencies


def _access(synth) -> dict[str, list[list[dict]]]:
    """Role ARN → the rule lists of every data access policy naming it."""
    found: dict[str, list[list[dict]]] = {}
    for p in synth.by_type(ACCESS_POLICY):
        assert p.inputs["type"] == "data" and len(p.inputs["name"]) <= 32
        for entry in _policy(p):
            for principal in entry["Principal"]:
                found.setdefault(principal, []).append(entry["Rules"])
    return found


def _index_rule(permissions) -> list[dict]:
    return [
        {
            "ResourceType": "index",
            "Resource": ["index/soundstack-test-s/*"],
            "Permission": sorted(permissions),
        }
    ]


def _collection_estate(e):
    """A collection, a reader (the estate's granted role) and a writer; the bystander gets
    nothing."""
    s = SearchCollection("s", SearchCollectionArgs(network=e.network, kms_key_arn=DATA_KEY), e.ctx)
    client = Client("writer-client", e.ctx)
    sg = e.network.security_group(client, "app", "writer client")
    writer = ServiceRole(
        "writer",
        ServiceRoleArgs(services=["lambda.amazonaws.com"], security_group_id=sg.id),
        e.ctx,
    )
    s.grant_read(e.granted)
    s.grant_write(writer)


def test_each_grant_is_its_own_access_policy_with_exactly_its_permissions():
    synth, _ = run(_collection_estate)
    access = _access(synth)
    role = "arn:aws:iam::123456789012:role/soundstack-test-{}"
    assert access == {
        role.format("granted"): [_index_rule(AOSS_READ)],
        role.format("writer"): [_index_rule(AOSS_WRITE)],
    }
    assert role.format("bystander") not in access
    assert set(AOSS_READ) == {"aoss:ReadDocument", "aoss:DescribeIndex"}
    assert set(AOSS_WRITE) - set(AOSS_READ) == {
        "aoss:WriteDocument",
        "aoss:CreateIndex",
        "aoss:UpdateIndex",
    }
    (collection_arn,) = policies(synth, "granted")["ApiAccessS"]["Resource"]
    assert collection_arn.startswith("arn:aws:aoss:eu-west-1:123456789012:collection/")
    for who in ("granted", "writer"):
        assert policies(synth, who) == {
            "ApiAccessS": {
                "Sid": "ApiAccessS",
                "Effect": "Allow",
                "Action": ["aoss:APIAccessAll"],
                "Resource": [collection_arn],
            }
        }
    assert policies(synth, "bystander") == {}


def test_only_granted_grantees_reach_the_vpc_endpoint_on_443():
    synth, _ = run(_collection_estate)
    rules = ingress_into(synth, sg_of(synth, "s-search-sg"))
    assert sorted(s for r in rules for s in sources(r)) == sorted(
        [sg_of(synth, "granted-client-app-sg").urn, sg_of(synth, "writer-client-app-sg").urn]
    )
    assert all(r.inputs["fromPort"] == r.inputs["toPort"] == HTTPS_PORT for r in rules)
    assert sg_of(synth, "bystander-client-app-sg").urn not in {s for r in rules for s in sources(r)}


def test_two_verbs_for_one_grantee_add_two_access_policies_one_iam_grant_one_rule():
    def build(e):
        s = SearchCollection(
            "s", SearchCollectionArgs(network=e.network, kms_key_arn=DATA_KEY), e.ctx
        )
        s.grant_read(e.granted)
        s.grant_write(e.granted)
        assert s.signing_service == "aoss"

    synth, _ = run(build)
    access = _access(synth)
    assert list(access) == ["arn:aws:iam::123456789012:role/soundstack-test-granted"]
    (granted,) = access.values()
    assert sorted(granted, key=lambda r: len(r[0]["Permission"])) == [
        _index_rule(AOSS_READ),
        _index_rule(AOSS_WRITE),
    ]
    assert list(policies(synth, "granted")) == ["ApiAccessS"]
    assert len(ingress_into(synth, sg_of(synth, "s-search-sg"))) == 1


def test_a_grantee_outside_the_vpc_cannot_be_granted_the_collection():
    def build(e):
        s = SearchCollection(
            "s", SearchCollectionArgs(network=e.network, kms_key_arn=DATA_KEY), e.ctx
        )
        with pytest.raises(ValueError, match="has no security group"):
            s.grant_read(e.outside)

    run(build)


def test_collection_offers_5xx_and_latency_signals_by_collection():
    box: list[Signal] = []

    def build(e):
        SearchCollection(
            "s",
            SearchCollectionArgs(network=e.network, kms_key_arn=DATA_KEY, standby_replicas=True),
            e.ctx,
        )
        box.extend(sig for sig in e.ctx.signals if sig.component == "s")

    synth, _ = run(build)
    assert {(s.key, s.namespace, s.metric) for s in box} == {
        ("5xx", "AWS/AOSS", "5xx"),
        ("latency", "AWS/AOSS", "SearchRequestLatency"),
    }
    assert all(set(s.dimensions) == {"ClientId", "CollectionId", "CollectionName"} for s in box)
    (collection,) = synth.by_type(COLLECTION)
    assert collection.inputs["standbyReplicas"] == "ENABLED"


def test_catalog_functions_sign_for_aoss_on_a_collection_and_es_on_a_domain(
    dev_serverless_search, prod
):
    def catalog_envs(synth):
        """The search settings of the functions that reach OpenSearch: the API and ingest."""
        found = {
            f.name: f.inputs["environment"]["variables"]
            for f in synth.by_type("aws:lambda/function:Function")
            if "OPENSEARCH_ENDPOINT" in f.inputs["environment"]["variables"]
        }
        assert set(found) == {"catalog-fn-lambda", "ingest-fn-lambda"}
        return found.values()

    serverless = dev_serverless_search
    for env in catalog_envs(serverless):
        assert env["OPENSEARCH_SERVICE"] == "aoss"
        assert env["OPENSEARCH_ENDPOINT"] == serverless.outputs["search_endpoint"]
    assert {env["OPENSEARCH_SERVICE"] for env in catalog_envs(prod)} == {"es"}
    # ingest only writes: its data access policy grants no document reads
    (ingest,) = [
        json.loads(p.inputs["policy"])[0]["Rules"][0]["Permission"]
        for p in serverless.by_type("aws:opensearch/serverlessAccessPolicy:ServerlessAccessPolicy")
        if p.name.startswith("search-ingest-fn")
    ]
    assert "aoss:WriteDocument" in ingest and "aoss:ReadDocument" not in ingest


def test_prod_refuses_opensearch_serverless_and_staging_may_choose_it():
    base = {
        "aws:region": "eu-west-1",
        "soundstack:owner": "t",
        "soundstack:cost_centre": "c",
        "soundstack:monitoring": {"alarm_email": "oncall@example.com"},
        "soundstack:resilience": {"replica_region": "eu-central-1"},
    }
    serverless = {**base, "soundstack:search": {"serverless": True}}
    with pytest.raises(ConfigError) as err:
        load_config("prod", serverless)
    assert (
        "soundstack:search.serverless=true is not allowed in prod: prod search is a domain"
        in str(err.value)
    )
    assert "set search.serverless: false" in str(err.value)
    assert len(err.value.problems) == 1
    assert load_config("prod", base).search.serverless is False
    assert load_config("staging", serverless).search.serverless is True
    assert load_config("dev", base).search.serverless is False  # the cheaper one-node domain


def test_grants_depend_on_the_domain_they_name(prod):
    """`Search.arn` is the domain's output, so a grant is ordered after the domain and its
    policy is known to name it (the diagram draws the grant as reads/writes)."""
    (domain,) = prod.by_type(DOMAIN)
    grants = [
        p
        for p in prod.by_type("aws:iam/rolePolicy:RolePolicy")
        if '"es:ESHttp' in p.inputs["policy"]
    ]
    assert grants
    for grant in grants:
        assert domain.urn in grant.property_dependencies["policy"], grant.name
        (statement,) = json.loads(grant.inputs["policy"])["Statement"]
        assert statement["Resource"] == [f"{domain.outputs['arn']}/*"]


def test_dev_catalog_searches_in_postgresql_and_staging_prod_in_opensearch(dev, staging, prod):
    def catalog_env(synth):
        (fn,) = [f for f in synth.by_type("aws:lambda/function:Function")
                 if f.name == "catalog-fn-lambda"]  # fmt: skip
        return fn.inputs["environment"]["variables"]

    assert not dev.by_type(DOMAIN) and not dev.by_type(COLLECTION)
    assert "search_endpoint" not in dev.outputs
    env = catalog_env(dev)
    assert env["SEARCH_ENGINE"] == "postgres" and "OPENSEARCH_ENDPOINT" not in env
    for synth in (staging, prod):
        assert synth.by_type(DOMAIN)
        env = catalog_env(synth)
        assert env["SEARCH_ENGINE"] == "opensearch" and env["OPENSEARCH_ENDPOINT"]
