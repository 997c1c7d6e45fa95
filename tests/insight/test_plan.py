"""The deploy plan's critical path follows dependencies and the dated create-time table."""

from __future__ import annotations

import pytest

from soundstack.insight import plan
from soundstack.insight.estate import load_table
from tests.conftest import run_program
from tests.insight import programs

TIMES = load_table(plan.TABLE)


def _path_is_a_chain(p: plan.Plan) -> None:
    for before, after in zip(p.critical_path, p.critical_path[1:], strict=False):
        assert after.finish - after.minutes == pytest.approx(before.finish)
    assert p.critical_path[-1].finish == p.total_minutes


def test_a_multi_az_database_serialises_the_deploy():
    p = plan.build(run_program(lambda: programs.database(multi_az=True)))
    names = [s.resource.name for s in p.critical_path]
    assert names[-1] == "db-instance"
    assert {"network-vpc", "network-isolated-0", "db-subnets"} <= set(names)
    minutes = TIMES["types"]["aws:rds/instance:Instance"]["when"][0][2]
    assert p.critical_path[-1].minutes == minutes
    assert [s.resource.name for s in p.serialising] == ["db-instance"]
    _path_is_a_chain(p)


def test_single_az_database_takes_the_default_time():
    p = plan.build(run_program(lambda: programs.database(multi_az=False)))
    assert p.critical_path[-1].minutes == TIMES["types"]["aws:rds/instance:Instance"]["minutes"]


def test_network_alone_waits_for_its_nat_gateway():
    p = plan.build(run_program(lambda: programs.network("single")))
    assert "aws:ec2/natGateway:NatGateway" in {s.resource.type for s in p.critical_path}
    _path_is_a_chain(p)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_has_a_consistent_plan(request, stack):
    p = plan.build(request.getfixturevalue(stack))
    _path_is_a_chain(p)
    assert p.total_minutes >= max(s.minutes for s in p.slowest)


def test_prod_critical_path_contains_the_cluster_or_a_database(prod):
    slow = {"eks:index:Cluster", "aws:eks/cluster:Cluster", "aws:rds/instance:Instance",
            "aws:rds/clusterInstance:ClusterInstance", "aws:opensearch/domain:Domain",
            "aws:neptune/clusterInstance:ClusterInstance",
            "aws:elasticache/replicationGroup:ReplicationGroup"}  # fmt: skip
    p = plan.build(prod)
    assert slow & {s.resource.type for s in p.critical_path}
    assert "min" in plan.render(p)


def test_kubernetes_objects_start_after_the_cluster_their_provider_talks_to(prod):
    steps, _ = plan.schedule(prod)
    (eks,) = prod.by_type("eks:index:Cluster")
    k8s = [r for r in prod.resources if r.type.startswith("kubernetes:")]
    assert k8s
    for r in k8s:
        step = steps[r.urn]
        assert step.finish - step.minutes >= steps[eks.urn].finish - 1e-9, r.name
