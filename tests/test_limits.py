"""Limits spanning config sections (stacks/limits.py): Redshift's three AZs, the address budget."""

from __future__ import annotations

import ipaddress

import pytest

from soundstack.stacks.limits import demand, usable_addresses
from soundstack.stacks.loader import ConfigError, load_config, load_stack

PROD = {
    "aws:region": "eu-west-1",
    "soundstack:environment": "prod",
    "soundstack:owner": "team",
    "soundstack:cost_centre": "cc-1",
    "soundstack:monitoring": {"alarm_email": "oncall@example.com"},
    "soundstack:resilience": {"replica_region": "eu-central-1"},
}


def test_dev_and_staging_profiles_give_redshift_serverless_three_private_zones():
    for stack in ("dev", "staging"):
        cfg = load_stack(stack)
        assert cfg.network.az_count == 2 and cfg.network.min_private_azs == 3


@pytest.mark.parametrize("network", [{"az_count": 2}, {"az_count": 2, "min_private_azs": 2}])
def test_serverless_in_two_zones_fails_naming_the_keys(network):
    with pytest.raises(ConfigError) as err:
        load_config("dev", {**PROD, "soundstack:environment": "dev",
                            "soundstack:network": {**network, "min_private_azs": network.get("min_private_azs", 0)}})  # fmt: skip
    (problem,) = err.value.problems
    assert problem.startswith("soundstack:analytics.redshift_mode=serverless")
    assert "span across three Availability Zones" in problem
    assert "network.min_private_azs: 3" in problem


def test_provisioned_redshift_runs_in_two_zones():
    cfg = load_config("dev", {**PROD, "soundstack:environment": "dev",
                              "soundstack:network": {"min_private_azs": 0},
                              "soundstack:analytics": {"redshift_mode": "provisioned"}})  # fmt: skip
    assert cfg.network.min_private_azs == 0


def test_a_slash_24_prod_vpc_is_refused_naming_the_cidr_and_the_fix():
    with pytest.raises(ConfigError) as err:
        load_config("prod", {**PROD, "soundstack:network": {"cidr": "10.30.0.0/24"}})
    (problem,) = err.value.problems
    assert problem.startswith("soundstack:network.cidr=10.30.0.0/24 carves /28 subnets")
    assert "11 usable addresses" in problem and "EKS nodes and pods" in problem
    assert "RDS Proxy 10" in problem and "interface endpoints 8" in problem
    assert "use a /16 to /19 block, e.g. network.cidr: 10.30.0.0/16" in problem


def test_the_suggested_prefix_is_the_boundary():
    load_config("prod", {**PROD, "soundstack:network": {"cidr": "10.30.0.0/19"}})
    with pytest.raises(ConfigError, match=r"network\.cidr=10\.30\.0\.0/20"):
        load_config("prod", {**PROD, "soundstack:network": {"cidr": "10.30.0.0/20"}})


def test_a_lambda_only_dev_fits_a_small_vpc():
    """Without EKS the budget is small: a /22 (/26 subnets, 59 addresses) holds dev."""
    cfg = load_config("dev", {**PROD, "soundstack:environment": "dev",
                              "soundstack:network": {"cidr": "10.10.0.0/22"}})  # fmt: skip
    assert max(sum(t.values()) for t in demand(cfg).values()) <= usable_addresses("10.10.0.0/22")


def test_budget_uses_the_subnets_the_network_registers(dev):
    subnets = dev.by_type("aws:ec2/subnet:Subnet")
    sizes = {ipaddress.ip_network(s.inputs["cidrBlock"]).num_addresses - 5 for s in subnets}
    assert sizes == {usable_addresses(load_stack("dev").network.cidr)}


def test_eks_demand_counts_a_vpc_cni_address_per_pod():
    cfg = load_stack("prod")
    eks = demand(cfg)["private"]["EKS nodes and pods"]
    # m7g.large: 3 ENIs x 10 addresses; system 6 nodes and workers 10 over 3 zones, +2 surge each.
    assert eks == (2 + 2) * 30 + (4 + 2) * 30
