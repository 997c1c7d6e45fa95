"""The cache per stack, and what its grant verbs add."""

from __future__ import annotations

import pytest

from soundstack.components.cache import REDIS_PORT, Cache, CacheArgs
from tests.components.datatier import (
    DATA_KEY,
    assert_no_secret_inputs,
    by_name,
    ingress_into,
    policies,
    run,
    sg_of,
    sources,
    under,
)


def test_dev_is_a_serverless_cache_in_isolated_subnets(dev):
    (cache,) = dev.by_type("aws:elasticache/serverlessCache:ServerlessCache")
    assert cache.inputs["engine"] == "valkey"
    assert cache.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    assert cache.inputs["kmsKeyId"] != dev.outputs["logs_kms_key_arn"]
    assert cache.inputs["subnetIds"] == dev.outputs["isolated_subnet_ids"]
    assert cache.inputs["userGroupId"] == "soundstack-dev-cache-users"
    assert not dev.by_type("aws:elasticache/replicationGroup:ReplicationGroup")


def test_prod_replicates_across_zones_fails_over_and_keeps_a_week_of_snapshots(prod):
    (group,) = prod.by_type("aws:elasticache/replicationGroup:ReplicationGroup")
    i = group.inputs
    assert i["numCacheClusters"] == 2
    assert i["automaticFailoverEnabled"] is True and i["multiAzEnabled"] is True
    assert i["atRestEncryptionEnabled"] is True and i["kmsKeyId"].startswith("arn:aws:kms:")
    assert i["transitEncryptionEnabled"] is True and i["transitEncryptionMode"] == "required"
    assert i["snapshotRetentionLimit"] >= 7 and i["autoMinorVersionUpgrade"] is True
    assert i["userGroupIds"] == ["soundstack-prod-cache-users"]
    assert "authToken" not in i
    assert {c["logType"] for c in i["logDeliveryConfigurations"]} == {"slow-log", "engine-log"}
    (subnets,) = prod.by_type("aws:elasticache/subnetGroup:SubnetGroup")
    assert subnets.inputs["subnetIds"] == prod.outputs["isolated_subnet_ids"]
    assert i["subnetGroupName"] == subnets.inputs["name"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_shared_password_default_user_off_app_user_signs_in_with_iam(request, stack):
    synth = request.getfixturevalue(stack)
    users = by_name(synth, "aws:elasticache/user:User")
    default, app = users["cache-default-user"].inputs, users["cache-app-user"].inputs
    assert default["userName"] == "default" and default["accessString"].startswith("off")
    assert app["authenticationMode"] == {"type": "iam"}
    assert app["userId"] == app["userName"]  # IAM authentication requires it
    sg = sg_of(synth, "cache-cache-sg")
    assert not sg.inputs.get("ingress")
    assert all(sources(r) and r.inputs["fromPort"] == 6379 for r in ingress_into(synth, sg))
    assert_no_secret_inputs(under(synth, "cache"))


@pytest.mark.parametrize("serverless", [False, True])
def test_grant_connect_names_the_cache_and_the_app_user_and_opens_6379(serverless):
    def build(e):
        c = Cache(
            "c", CacheArgs(network=e.network, kms_key_arn=DATA_KEY, serverless=serverless), e.ctx
        )
        c.grant_connect(e.granted)

    synth, _ = run(build)
    (statement,) = policies(synth, "granted").values()
    assert statement["Action"] == ["elasticache:Connect"]
    kind = "serverlesscache" if serverless else "replicationgroup"
    assert statement["Resource"] == [
        f"arn:aws:elasticache:eu-west-1:123456789012:{kind}:soundstack-test-c",
        "arn:aws:elasticache:eu-west-1:123456789012:user:soundstack-test-c-app",
    ]
    (rule,) = ingress_into(synth, sg_of(synth, "c-cache-sg"))
    assert sources(rule) == [sg_of(synth, "granted-client-app-sg").urn]
    assert rule.inputs["fromPort"] == rule.inputs["toPort"] == REDIS_PORT
    assert not policies(synth, "bystander")


def test_replication_group_offers_memory_of_its_primary():
    seen = {}

    def build(e):
        Cache("c", CacheArgs(network=e.network, kms_key_arn=DATA_KEY), e.ctx)
        seen.update({s.key: s for s in e.ctx.signals if s.component == "c"})

    run(build)
    assert seen["memory"].metric == "DatabaseMemoryUsagePercentage"


def test_multi_az_without_a_replica_is_refused():
    with pytest.raises(ValueError, match="replicas_per_shard"):
        CacheArgs(network=None, kms_key_arn=DATA_KEY, replicas_per_shard=0)  # type: ignore[arg-type]
