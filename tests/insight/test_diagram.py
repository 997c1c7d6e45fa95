"""The diagram's nodes and edges come from the registrations (grants, rules, subscriptions)."""

from __future__ import annotations

import pytest

from soundstack.insight import diagram
from tests.conftest import run_program
from tests.insight import programs


@pytest.fixture(scope="module")
def wired():
    return diagram.build(run_program(programs.wired))


def edge(d, source, target):
    found = [e for e in d.edges if (e.source, e.target) == (source, target)]
    assert len(found) == 1, d.edges
    return found[0]


def test_a_grant_draws_the_grantee_reading_the_store(wired):
    read = edge(wired, "reader", "store")
    assert read.data and "reads" in read.label
    assert not [e for e in wired.edges if (e.source, e.target) == ("store", "reader")]


def test_ingress_rule_and_subscription_draw_data_paths(wired):
    assert "tcp/5432" in edge(wired, "reader", "store").label
    assert edge(wired, "bus", "reader").label == "sqs"


def test_nodes_are_top_level_components_with_shapes(wired):
    assert set(wired.nodes) == {"network", "store", "reader", "bus"}  # the role is inside reader
    assert wired.shapes["store"] == "store" and wired.shapes["bus"] == "messaging"
    text = wired.mermaid()
    assert text.startswith("graph TD\n")
    assert "c_reader -->|reads, tcp/5432| c_store" in text


def test_write_produces_the_mermaid_file(tmp_path, wired):
    written = diagram.write(wired, tmp_path / "d.mmd")
    assert written.read_text() == wired.mermaid()


@pytest.fixture(scope="module")
def prod_diagram(prod):
    return diagram.build(prod)


def test_search_grants_draw_reads_and_writes(prod_diagram):
    """Grants on the OpenSearch domain depend on it (its ARN is the domain's output); POST
    for `_search` alone is a read."""
    assert edge(prod_diagram, "catalog-fn", "search").label == "reads/writes, tcp/443"
    assert edge(prod_diagram, "cluster", "search").label == "reads, tcp/443"


def test_edges_point_from_caller_to_callee(prod_diagram):
    assert edge(prod_diagram, "web", "api").label == "origin"  # the distribution fetches from it
    assert not [e for e in prod_diagram.edges if (e.source, e.target) == ("api", "web")]
    assert edge(prod_diagram, "api", "catalog-fn").label == "invokes"
    assert edge(prod_diagram, "identity", "auth-fn").label == "invokes"
    assert edge(prod_diagram, "messaging", "feed-fn").label == "triggers"
    assert edge(prod_diagram, "edge", "web").label == "filters"
    assert edge(prod_diagram, "catalog-fn", "media").label == "reads, uses key"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_component_is_drawn(request, stack):
    synth = request.getfixturevalue(stack)
    d = diagram.build(synth)
    tops = {r.name for r in synth.resources
            if r.type.startswith("soundstack:") and r.parent and r.parent.endswith("Stack::soundstack-" + stack)}  # fmt: skip
    assert tops <= set(d.nodes)
    assert all(e.source in d.nodes and e.target in d.nodes for e in d.edges)
