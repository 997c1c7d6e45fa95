"""Neptune per stack, and what its grant verbs add."""

from __future__ import annotations

import pytest

from soundstack.components.graph import NEPTUNE_PORT, Graph, GraphArgs
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


def test_dev_is_serverless_without_reader(dev_neptune):
    dev = dev_neptune
    (cluster,) = dev.by_type("aws:neptune/cluster:Cluster")
    assert cluster.inputs["serverlessV2ScalingConfiguration"] == {
        "minCapacity": 1,
        "maxCapacity": 2.5,
    }
    (writer,) = dev.by_type("aws:neptune/clusterInstance:ClusterInstance")
    assert writer.inputs["instanceClass"] == "db.serverless"
    assert cluster.inputs["deletionProtection"] is False


def test_prod_has_a_reader_deletion_protection_and_a_week_of_backups(prod):
    (cluster,) = prod.by_type("aws:neptune/cluster:Cluster")
    i = cluster.inputs
    assert "serverlessV2ScalingConfiguration" not in i
    assert i["deletionProtection"] is True and i["skipFinalSnapshot"] is False
    assert i["finalSnapshotIdentifier"] == "soundstack-prod-graph-final"
    assert i["backupRetentionPeriod"] >= 7 and i["copyTagsToSnapshot"] is True
    instances = prod.by_type("aws:neptune/clusterInstance:ClusterInstance")
    assert sorted(x.name for x in instances) == ["graph-reader-1", "graph-writer"]
    assert {x.inputs["instanceClass"] for x in instances} == {"db.r6g.large"}
    assert sorted(x.inputs["promotionTier"] for x in instances) == [0, 1]


@pytest.mark.parametrize("stack", ["dev_neptune", "prod"])
def test_graph_is_encrypted_iam_only_audited_and_isolated(request, stack):
    synth = request.getfixturevalue(stack)
    (cluster,) = synth.by_type("aws:neptune/cluster:Cluster")
    i = cluster.inputs
    assert i["storageEncrypted"] is True
    assert i["kmsKeyArn"].startswith("arn:aws:kms:")
    assert i["kmsKeyArn"] != synth.outputs["logs_kms_key_arn"]
    assert i["iamDatabaseAuthenticationEnabled"] is True
    assert i["enableCloudwatchLogsExports"] == ["audit"]
    (params,) = synth.by_type("aws:neptune/clusterParameterGroup:ClusterParameterGroup")
    assert params.inputs["family"] == "neptune1.4"
    assert {p["name"]: p["value"] for p in params.inputs["parameters"]} == {
        "neptune_enable_audit_log": "1",
        "neptune_enforce_ssl": "1",
    }
    (subnets,) = synth.by_type("aws:neptune/subnetGroup:SubnetGroup")
    assert subnets.inputs["subnetIds"] == synth.outputs["isolated_subnet_ids"]
    sg = sg_of(synth, "graph-graph-sg")
    assert not sg.inputs.get("ingress")
    assert cluster.property_dependencies["vpcSecurityGroupIds"] == [sg.urn]
    assert all(sources(r) and r.inputs["fromPort"] == 8182 for r in ingress_into(synth, sg))
    assert_no_secret_inputs(under(synth, "graph"))


def _graph(e):
    return Graph("g", GraphArgs(network=e.network, kms_key_arn=DATA_KEY), e.ctx)


def test_grants_name_the_cluster_resource_and_open_8182_to_the_grantee_only():
    def build(e):
        g = _graph(e)
        g.grant_connect(e.granted)
        g.grant_read(e.bystander)

    synth, _ = run(build)
    (connect,) = policies(synth, "granted").values()
    assert connect["Action"] == ["neptune-db:connect"]
    (arn,) = connect["Resource"]
    assert arn.startswith("arn:aws:neptune-db:eu-west-1:123456789012:cluster-") and arn[-2:] == "/*"
    (read,) = policies(synth, "bystander").values()
    assert read["Action"] == ["neptune-db:GetQueryStatus", "neptune-db:ReadDataViaQuery"]
    assert read["Resource"] == [arn]
    rules = ingress_into(synth, sg_of(synth, "g-graph-sg"))
    assert sorted(tuple(sources(r)) for r in rules) == sorted(
        (sg_of(synth, f"{who}-client-app-sg").urn,) for who in ("granted", "bystander")
    )
    assert {(r.inputs["fromPort"], r.inputs["toPort"]) for r in rules} == {(NEPTUNE_PORT,) * 2}


def test_two_verbs_for_one_grantee_open_the_port_once_and_signals_offer_cpu():
    seen: list[str] = []

    def build(e):
        g = _graph(e)
        g.grant_connect(e.granted)
        g.grant_read(e.granted)
        seen.extend(s.key for s in e.ctx.signals if s.component == "g")

    synth, _ = run(build)
    assert len(ingress_into(synth, sg_of(synth, "g-graph-sg"))) == 1
    assert set(policies(synth, "granted")) == {"ConnectG", "ReadG"}
    assert seen == ["cpu"]


def test_serverless_capacity_must_be_ordered():
    with pytest.raises(ValueError, match=r"exceeds graph\.max_capacity_ncu"):
        GraphArgs(
            network=None,  # type: ignore[arg-type]
            kms_key_arn=DATA_KEY,
            serverless=True,
            min_capacity_ncu=8,
            max_capacity_ncu=2,
        )


def _env(synth, function):
    (fn,) = [f for f in synth.by_type("aws:lambda/function:Function") if f.name == function]
    return fn.inputs["environment"]["variables"]


def test_dev_keeps_the_graph_in_postgresql_and_runs_no_neptune(dev):
    assert not [r for r in dev.resources if r.type.startswith("aws:neptune/")]
    assert "graph_endpoint" not in dev.outputs
    for service in ("activity", "recommendation", "feed"):
        env = _env(dev, f"{service}-fn-lambda")
        assert env["GRAPH_BACKEND"] == "postgres" and "NEPTUNE_ENDPOINT" not in env, service
    # the feed reads who follows whom as its own read-only role (migration 0340)
    feed = _env(dev, "feed-fn-lambda")
    assert (feed["DB_USER"], feed["DB_SCHEMA"]) == ("feed", "activity")
    assert _env(dev, "activity-fn-lambda")["DB_USER"] == "activity"


def test_staging_and_prod_keep_neptune(staging, prod):
    for synth in (staging, prod):
        assert synth.by_type("aws:neptune/cluster:Cluster")
        env = _env(synth, "feed-fn-lambda")
        assert env["GRAPH_BACKEND"] == "neptune" and env["NEPTUNE_ENDPOINT"]
        assert "DB_USER" not in env
