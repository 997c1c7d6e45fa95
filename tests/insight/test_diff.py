"""Stack diff: resources one stack lacks and the settings whose values differ."""

from __future__ import annotations

from soundstack.insight import diff

NAT = "aws:ec2/natGateway:NatGateway"


def test_dev_vs_prod_reports_the_nat_gateway_count(dev, prod):
    d = diff.compare(dev, prod)
    assert d.counts[NAT] == (len(dev.by_type(NAT)), len(prod.by_type(NAT)))
    assert d.counts[NAT][0] < d.counts[NAT][1]
    extra = {r.name for r in d.only_b if r.type == NAT}
    assert len(extra) == d.counts[NAT][1] - d.counts[NAT][0]
    assert not {r.name for r in d.only_a if r.type == NAT}
    assert f"{NAT}: {d.counts[NAT][0]} → {d.counts[NAT][1]}" in diff.render(d)


def test_settings_differ_by_value_not_by_stack_name(dev, prod):
    d = diff.compare(dev, prod)
    paths = {(s.name, s.path): s for s in d.settings}
    retention = paths[("network-flow-logs", "retentionInDays")]
    assert (retention.a, retention.b) == (30, 365)
    assert not [s for s in d.settings if s.path in ("tags.stack", "tags.environment")]
    raw = diff.compare(dev, prod, normalise=False)
    assert [s for s in raw.settings if s.path == "tags.stack"]


def test_a_stack_does_not_differ_from_itself(staging):
    d = diff.compare(staging, staging)
    assert not (d.only_a or d.only_b or d.settings or d.counts)


def test_ids_the_mocks_made_compare_as_the_resources_they_name(staging, prod):
    d = diff.compare(staging, prod)
    made = [s for s in d.settings if any(
        isinstance(v, str) and any(p in v for p in ("subnet-", "rtb-", "vpc-0", "sg-0"))
        for v in (s.a, s.b))]  # fmt: skip
    assert made == []
    raw = diff.compare(staging, prod, normalise=False)
    assert any(isinstance(s.a, str) and s.a.startswith("sg-0") for s in raw.settings)
    # the cluster's security group (an output of the EKS cluster) compares as that reference
    paths = {(s.name, s.path) for s in d.settings}
    assert ("database-from-cluster-catalog-5432-ingress", "referencedSecurityGroupId") not in paths


def test_the_differing_part_of_a_long_value_is_never_cut():
    a = "x" * 80 + "AAA" + "y" * 80
    b = "x" * 80 + "BBBB" + "y" * 80
    shown_a, shown_b = diff._shorten(a, b)
    assert "AAA" in shown_a and "BBBB" in shown_b
    assert shown_a != shown_b
    assert shown_a.startswith("…") and shown_a.endswith("…")
    assert len(shown_a) < len(a)
    assert diff._shorten("short", "other") == ("short", "other")
