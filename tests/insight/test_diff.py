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
