"""The architecture picture: AWS icons grouped by where things run, tiers as rows, data paths as
labelled edges, drawn from the registrations; the README's prod picture never drifts."""

from __future__ import annotations

import itertools
import re
import xml.dom.minidom

import pytest

from soundstack.cli import main
from soundstack.insight import commands, docs, picture
from soundstack.synth import PROJECT_DIR
from tests.conftest import stack_synthesis

REGION = "region eu-west-1"
PRIVATE = [REGION, "VPC", "private subnets"]
ISOLATED = [REGION, "VPC", "isolated subnets"]


@pytest.fixture(scope="module")
def prod_picture(prod):
    return picture.build(prod)


@pytest.fixture(scope="module")
def prod_svg(prod_picture):
    return prod_picture.render("svg")


def clusters_of(dot_source: str) -> dict[str, list[str]]:
    """Node id → the clusters it is drawn in, outermost first, from the Graphviz source."""
    path: list[str] = []
    found = {}
    for line in dot_source.splitlines():
        opening = re.match(r'\s*subgraph "?cluster_(.*?)"? \{$', line)
        if opening:
            path.append(opening.group(1))
        elif line.strip() == "}" and path:
            path.pop()
        elif node := re.match(r"\s*(n_\w+) \[", line):
            found[node.group(1)] = list(path)
    return found


def node_id(p: picture.Picture, component: str, service: str) -> str:
    (node,) = [n for n in p.nodes.values() if (n.component, n.service) == (component, service)]
    return picture._node_id(node.key)


def test_nodes_are_grouped_by_where_they_run(prod_picture):
    where = clusters_of(prod_picture.render("dot").decode())
    expected = {
        ("media", "CloudFront"): ["global edge (us-east-1)"],
        ("web", "CloudFront"): ["global edge (us-east-1)"],
        ("edge", "Shield Advanced"): ["global edge (us-east-1)"],
        ("api", "API Gateway"): [REGION],
        ("identity", "Cognito"): [REGION],
        ("media", "S3"): [REGION],
        ("network", "NAT gateways"): [REGION, "VPC", "public subnets"],
        ("catalog-fn", "Lambda"): PRIVATE,
        ("cluster", "EKS"): [*PRIVATE, "EKS cluster"],
        ("cluster", "catalog pods"): [*PRIVATE, "EKS cluster"],
        ("database", "RDS"): ISOLATED,
        ("search", "OpenSearch"): ISOLATED,
        ("graph", "Neptune"): ISOLATED,
        ("cache", "ElastiCache"): ISOLATED,
        ("analytics", "Firehose"): [REGION],
    }
    for (component, service), clusters in expected.items():
        assert where[node_id(prod_picture, component, service)] == clusters, (component, service)
    # the regional WAF (Cognito's) is a node of its own beside the CLOUDFRONT one
    wafs = {n.place for n in prod_picture.nodes.values() if n.service == "WAF"}
    assert wafs == {"global", "region"}


def test_functions_dead_letter_queues_and_keys_are_not_drawn_apart(prod_picture):
    services = {(n.component, n.service) for n in prod_picture.nodes.values()}
    assert ("catalog-fn", "SQS") not in services and ("messaging", "SQS") in services
    assert ("media", "KMS") not in services and ("data", "KMS") in services


def test_data_paths_are_labelled_caller_to_callee(prod_picture):
    labels = {(e.source, e.target): e.label for e in prod_picture.edges}
    assert labels["web/CloudFront@global", "api/API Gateway@region"] == "origin"
    assert labels["web/CloudFront@global", "web/S3@region"] == "origin"
    assert labels["edge/WAF@global", "media/CloudFront@global"] == "filters"
    assert labels["edge/Shield Advanced@global", "web/CloudFront@global"] == "protects"
    assert labels["api/API Gateway@region", "catalog-fn/Lambda@private"] == "invokes"
    assert labels["catalog-fn/Lambda@private", "search/OpenSearch@isolated"] == (
        "reads/writes, tcp/443"
    )
    assert labels["cluster/EKS@cluster", "search/OpenSearch@isolated"] == "reads, tcp/443"
    assert labels["messaging/Kinesis@region", "analytics/Firehose@region"] == "feeds"
    assert ("api/API Gateway@region", "web/CloudFront@global") not in labels
    # key use of the shared keys and "runs in" the network are shown by placement, not edges
    assert not [e for e in prod_picture.edges if e.target.startswith(("data/", "network/"))]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_tiers_are_rows_from_edge_to_analytics(request, stack):
    """Every node of a tier is drawn below every node of the tier before it (Graphviz lays
    out every stack's picture: no ranking failure)."""
    drawn = picture.build(request.getfixturevalue(stack))
    text = drawn.render("svg").decode()
    y = {}
    for block in re.findall(r'<g id="node\d+" class="node">(.*?)</g>', text, re.S):
        title = re.search(r"<title>(n_\w+)</title>", block)
        image = re.search(r'<use xlink:href="#icon-[^"]+" x="[^"]+" y="([^"]+)"', block)
        if title and image:
            y[title.group(1)] = float(image.group(1))
    rows = [
        [y[picture._node_id(n.key)] for n in drawn.nodes.values() if n.tier == tier]
        for tier in picture.TIERS
    ]
    assert all(rows) and len(y) == len(drawn.nodes)
    for upper, lower in itertools.pairwise(rows):
        assert max(upper) < min(lower)


def test_svg_stands_alone_and_keeps_the_hub_notes(prod_picture, prod_svg):
    document = xml.dom.minidom.parseString(prod_svg)
    texts = [
        child.data
        for t in document.getElementsByTagName("text")
        if isinstance(child := t.firstChild, xml.dom.minidom.Text)
    ]
    assert "(used by most)" in texts and "(uses most)" in texts
    assert b'xlink:href="/' not in prod_svg  # no path into this machine's site-packages
    defined = {i.getAttribute("id") for i in document.getElementsByTagName("image")}
    used = {u.getAttribute("xlink:href")[1:] for u in document.getElementsByTagName("use")}
    assert used and used <= defined
    clusters, nodes, edges = picture.structure(prod_svg)
    assert len(clusters) == 7 and "cluster_EKS cluster EKS cluster" in clusters
    assert len(nodes) == len(prod_picture.nodes)  # the row anchors are invisible
    assert "n_web_CloudFront_global->n_api_API_Gateway_region origin" in edges


def test_dev_runs_no_cluster_and_is_drawn_without_one(dev):
    dev_picture = picture.build(dev)
    assert not dev_picture.in_place("cluster")
    assert "EKS cluster" not in dev_picture.render("dot").decode()


def test_rendering_is_deterministic(prod_picture, prod_svg):
    assert prod_picture.render("svg") == prod_svg


def test_the_committed_prod_picture_is_current(prod):
    assert docs.update_files(PROJECT_DIR, {"prod": prod}, check=True) == [], (
        "docs/prod-architecture.svg is stale: run `soundstack docs`"
    )


def test_same_tolerates_another_graphviz_layout_but_not_another_picture(prod_svg):
    other_version = prod_svg.replace(b"graphviz version", b"graphviz version 99 was").replace(
        b'x="', b'x="1'
    )
    assert picture.same(prod_svg, other_version)
    changed = other_version.replace(b">origin<", b">fetches<", 1)
    assert not picture.same(prod_svg, changed)
    moved = prod_svg.replace(b'x="', b'x="1')  # same Graphviz, other bytes: stale
    assert not picture.same(prod_svg, moved)


def test_cli_writes_the_picture_by_suffix(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(commands, "_synth", stack_synthesis)
    svg, png = tmp_path / "prod.svg", tmp_path / "prod.png"
    assert main(["diagram", "prod", "--out", str(svg)]) == 0
    root = xml.dom.minidom.parse(str(svg)).documentElement
    assert root is not None and root.tagName == "svg"
    assert main(["diagram", "prod", "--out", str(png)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert main(["diagram", "prod", "--out", str(tmp_path / "prod.txt")]) == 2
    assert ".svg, .png or .dot" in capsys.readouterr().err


def test_cli_names_the_missing_graphviz(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(picture.shutil, "which", lambda _: None)
    assert main(["diagram", "prod", "--out", str(tmp_path / "p.svg")]) == 2
    assert "apt-get install graphviz" in capsys.readouterr().err
