"""Capacity model: each limit's formula against a figure computed by hand from the registrations
and the documented load model (defaults: peak factor 1.5, data/capacity_model.json)."""

from __future__ import annotations

import json
import math

import pytest

from soundstack import cli
from soundstack.insight import capacity

M = capacity.model()
N = 10_000
PEAK_PER_S = 1.5 / 60  # a per-minute rate per listener, at peak, per second


def _row(c: capacity.Capacity, component: str, what: str) -> capacity.Row:
    (row,) = [r for r in c.rows if r.limit.component == component and what in r.limit.what]
    return row


@pytest.fixture(scope="module")
def prod_at_n(prod):
    return capacity.analyse(prod, N, M)


@pytest.fixture(scope="module")
def dev_at_n(dev):
    return capacity.analyse(dev, N, M)


def test_bisection_finds_the_first_listener_count_that_reaches_the_limit():
    limit = capacity.Limit("c", "w", "u", 10.0, lambda n: n * 0.5, "k", "s")
    assert limit.saturates_at() == 20
    assert limit.utilisation(10) == 0.5
    stepped = capacity.Limit("c", "w", "u", 6.0, lambda n: max(2, math.ceil(n / 100)), "k", "s")
    assert stepped.saturates_at() == 501  # ceil(501/100) = 6
    assert capacity.Limit("c", "w", "u", 1.0, lambda n: 0.0, "k", "s").saturates_at() is None


def test_lambda_reserved_concurrency_is_requests_times_duration(prod_at_n, prod):
    # prod runs a cluster: half of the catalog calls reach the pods, half the catalog function
    row = _row(prod_at_n, "catalog-fn", "reserved")
    rps = 1.0 * N * PEAK_PER_S * 0.5  # 125 requests/s
    assert row.demand == pytest.approx(rps * 0.080)  # 10 executions in flight
    (fn,) = [
        r for r in prod.by_type("aws:lambda/function:Function") if r.name == "catalog-fn-lambda"
    ]
    assert row.limit.capacity == fn.inputs["reservedConcurrentExecutions"]
    assert row.saturates_at == pytest.approx(50 / (1.0 * PEAK_PER_S * 0.5 * 0.080), abs=1)


def test_route_throttle_divides_the_stage_setting_by_the_routes_rate(prod_at_n):
    row = _row(prod_at_n, "api", "ANY /catalog/{proxy+}")
    assert row.limit.capacity == 500
    assert row.saturates_at == 40_000  # 500 / (1.0 * 1.5 / 60 * 0.5)


def test_rds_proxy_pool_is_a_share_of_postgres_default_max_connections(prod_at_n):
    row = _row(prod_at_n, "database", "RDS Proxy pool")
    max_connections = 16 * 2**30 / 9_531_392  # db.r7g.large: 16 GiB
    assert row.limit.capacity == pytest.approx(0.90 * max_connections)
    assert "1,802" in row.limit.what


def test_database_and_graph_cpu(prod_at_n, dev_at_n):
    assert _row(dev_at_n, "database", "PostgreSQL CPU").limit.capacity == 2 * 0.25 * 1500
    assert _row(prod_at_n, "database", "PostgreSQL CPU").limit.capacity == 2 * 1500
    graph = _row(prod_at_n, "graph", "Neptune")
    assert graph.limit.capacity == 2 * 2 * 400  # writer + reader, db.r6g.large (2 vCPU)
    calls = (0.35 + 0.1 * 0.5 + 0.05) * N * PEAK_PER_S  # activity, half the recs, feed
    pods = 0.1 * N * PEAK_PER_S * 0.5  # the cluster's recommendation pods
    assert graph.demand == pytest.approx((calls + pods) * 2 + 0.35 * N * PEAK_PER_S)


def test_stream_topic_edge_and_nat(prod_at_n):
    assert _row(prod_at_n, "messaging", "Kinesis").saturates_at == math.ceil(
        200_000 / (0.35 * PEAK_PER_S)
    )
    assert _row(prod_at_n, "messaging", "SNS").limit.capacity == 9_000
    assert _row(prod_at_n, "media", "bandwidth").saturates_at == 937_500  # 150 Gbit/s / 160 kbit/s
    nat = _row(prod_at_n, "network", "NAT")
    assert nat.limit.capacity == 300  # three gateways, 100 Gbit/s each
    assert nat.demand == pytest.approx(4 * N * PEAK_PER_S * 8 / 1e6)


def test_hpa_and_node_slots(prod_at_n):
    hpa = _row(prod_at_n, "cluster", "HPA maxReplicas (catalog)")
    assert (hpa.limit.capacity, hpa.demand) == (6, 2)  # at 10k listeners the minimum suffices
    # ceil(1.0 * 1.5/60 * n * 0.5 / 150) reaches 6 pods just past 60,000 listeners
    assert hpa.saturates_at == 60_001
    slots = _row(prod_at_n, "cluster", "pods the node groups")
    assert slots.limit.capacity == 6 * (29 - 4) + 10 * (29 - 4)


def test_cache_ops_and_serverless_ecpu(prod_at_n, dev_at_n):
    ops = _row(prod_at_n, "cache", "Valkey primary")
    calls = (1.0 * 0.5 + 0.2 + 0.1 * 0.5 + 0.05) * N * PEAK_PER_S
    assert ops.demand == pytest.approx(calls * 2 + 1.5 * N * PEAK_PER_S)
    assert _row(dev_at_n, "cache", "Serverless ECPU").limit.capacity == 5_000_000


def test_rows_are_sorted_by_utilisation_and_the_first_limit_is_the_fewest_listeners(prod_at_n):
    used = [r.utilisation for r in prod_at_n.rows]
    assert used == sorted(used, reverse=True)
    reached = [r.saturates_at for r in prod_at_n.rows if r.saturates_at is not None]
    assert prod_at_n.first is not None and prod_at_n.first.saturates_at == min(reached)


def test_overrides_are_checked_and_change_the_answer(prod):
    with pytest.raises(KeyError, match="pod_rp"):
        capacity.model({"pod_rp": 1})
    with pytest.raises(ValueError, match="peak factor"):
        capacity.model(peak_factor=0.5)
    slower = capacity.analyse(prod, N, capacity.model({"lambda_ms": 160}))
    assert _row(slower, "catalog-fn", "reserved").demand == pytest.approx(20)


def test_cli_find_limit_names_the_bottleneck_figure_and_knob(prod, monkeypatch, capsys):
    monkeypatch.setattr("soundstack.insight.commands.synthesize_stack", lambda s, _d: prod)
    assert cli.main(["capacity", "prod", "--find-limit", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    first = doc["first_bottleneck"]
    assert first["listeners"] == min(r["saturates_at"] for r in doc["limits"] if r["saturates_at"])
    assert first["knob"] and doc["listeners"] == first["listeners"]
    assert cli.main(["capacity", "prod", "--listeners", "20000"]) == 0
    text = capsys.readouterr().out
    assert "First bottleneck:" in text and "| component | limit |" in text
    assert cli.main(["capacity", "prod", "--set", "nope=1"]) == 2
