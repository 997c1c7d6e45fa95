"""The example programs (`examples/`): each a Pulumi project of its own, previewed offline the
way `pulumi preview` would run it (its project name, its stack file's config, its root) and
clean under the policy pack."""

from __future__ import annotations

import json
import os
import runpy
import uuid
from pathlib import Path

import psycopg
import pytest

from soundstack.engine import evaluate, load_config
from soundstack.project import Project
from soundstack.synth import Synthesis, synthesize_stack
from tests import test_own_program as own_program

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def preview_project(project_dir: Path, stack: str = "dev") -> Synthesis:
    """Run the Pulumi project in `project_dir` for `stack` under the mocks, as `soundstack -C
    <dir> preview <stack>` does: its `Pulumi.yaml` names the project and the program, its
    `Pulumi.<stack>.yaml` gives the config."""
    project = Project.find(project_dir)
    assert project is not None and project.root == project_dir
    return synthesize_stack(stack, project)


@pytest.fixture(scope="module")
def orders() -> Synthesis:
    return preview_project(EXAMPLES / "orders-api")


@pytest.fixture(scope="module")
def media() -> Synthesis:
    return preview_project(EXAMPLES / "media-delivery")


@pytest.mark.parametrize("example", ["orders", "media"])
def test_each_example_is_clean_under_the_pack(request, example):
    synth = request.getfixturevalue(example)
    assert synth.errors == []
    assert [v for v in evaluate(synth, config={}) if v.level == "mandatory"] == []


@pytest.mark.parametrize(("example", "project"), [("orders", "acme-orders"),
                                                  ("media", "acme-media")])  # fmt: skip
def test_examples_name_everything_after_their_own_project(request, example, project):
    synth = request.getfixturevalue(example)
    assert {r.urn.split("::")[1] for r in synth.resources} == {project}
    named = [r.inputs["name"] for r in synth.resources
             if r.custom and isinstance(r.inputs.get("name"), str)]  # fmt: skip
    assert len(named) > 10
    assert not [n for n in named if "soundstack" in n]
    assert all(r.inputs["tags"]["project"] == project for r in synth.resources
               if isinstance(r.inputs.get("tags"), dict) and "project" in r.inputs["tags"])  # fmt: skip


def test_orders_function_runs_its_own_handler_in_the_vpc_and_connects_as_orders(orders):
    (fn,) = orders.by_type("aws:lambda/function:Function")
    assert fn.inputs["handler"] == "orders.handler.handler"
    assert fn.inputs["vpcConfig"]["subnetIds"]
    env = fn.inputs["environment"]["variables"]
    assert (env["DB_USER"], env["DB_NAME"], env["DB_PORT"]) == ("orders", "acme_orders", "5432")
    (proxy,) = orders.by_type("aws:rds/proxy:Proxy")
    assert env["DB_HOST"] == proxy.outputs["endpoint"]
    # the grant: rds-db:connect as `orders`, nothing else of the database
    statements = [
        s
        for p in orders.by_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.startswith("orders-fn-role-")
        for s in json.loads(p.inputs["policy"])["Statement"]
    ]
    (connect,) = [s for s in statements if s["Action"] == ["rds-db:connect"]]
    assert connect["Resource"][0].endswith("/orders")
    (db,) = orders.by_type("aws:rds/instance:Instance")
    assert (db.inputs["dbName"], db.inputs["username"]) == ("acme_orders", "acme_order_admin")
    assert db.inputs["instanceClass"] == "db.t4g.medium"  # dev: burstable by default
    # the layer comes from the example's own build/layer, never from the installed package
    (zip_,) = orders.by_type("aws:s3/bucketObject:BucketObject")
    assert zip_.inputs["source"]["path"] == str(EXAMPLES / "orders-api" / "build" / "layer")


def test_media_serves_signed_urls_on_the_sites_own_domain(media):
    (dist,) = media.by_type("aws:cloudfront/distribution:Distribution")
    assert dist.inputs["aliases"] == ["media.example.com"]
    assert dist.inputs["defaultCacheBehavior"]["trustedKeyGroups"]
    assert dist.inputs["webAclId"]  # the component's own web ACL
    (cert,) = media.by_type("aws:acm/certificate:Certificate")
    assert cert.inputs["domainName"] == "media.example.com"
    keys = media.by_type("aws:cloudfront/publicKey:PublicKey")
    assert len(keys) == 1
    # the site's backend signs URLs with a role of its own that reads the signing key only
    statements = [
        s
        for p in media.by_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.startswith("site-signer-")
        for s in json.loads(p.inputs["policy"])["Statement"]
    ]
    assert sorted(a for s in statements for a in s["Action"]) == [
        "kms:Decrypt",
        "secretsmanager:GetSecretValue",
    ]


def test_the_orders_handler_places_and_reads_orders_in_postgresql(monkeypatch):
    """The example's own code, against the real PostgreSQL (a schema of its own)."""
    dsn = os.environ.get(
        "SOUNDSTACK_TEST_DSN", "host=127.0.0.1 port=5432 dbname=test user=postgres"
    )
    schema = f"orders_example_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        monkeypatch.setenv("DATABASE_URL", f"{dsn} options=-csearch_path={schema}")
        module = runpy.run_path(str(EXAMPLES / "orders-api" / "orders" / "handler.py"))
        handler = module["handler"]
        placed = handler({"action": "place", "customer": "c-1", "total_cents": 1299}, None)
        assert handler({"action": "get", "id": placed["id"]}, None) == {
            "id": placed["id"],
            "customer": "c-1",
            "total_cents": 1299,
        }
        assert handler({"action": "get", "id": str(uuid.uuid4())}, None) == {"error": "not found"}
        assert "error" in handler({"action": "place", "customer": "c-1", "total_cents": -5}, None)
        assert "unknown action" in handler({"action": "cancel"}, None)["error"]
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_the_readme_project_as_prod_is_clean_under_the_packs_prod_config(tmp_path):
    """README "Using a component in your own program", its files as written, run as a prod stack
    (its dev stack file with `environment: prod`) under the pack's prod levels."""
    for name, text in own_program.files().items():
        (tmp_path / name).write_text(text)
    dev = (tmp_path / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.prod.yaml").write_text(dev.replace("environment: dev", "environment: prod"))
    synth = synthesize_stack("prod", Project.find(tmp_path))
    assert synth.project == "acme-infra"
    assert synth.by_type("aws:ec2/vpc:Vpc") and synth.outputs["vpc_id"]
    assert [v for v in evaluate(synth, load_config("prod")) if v.level == "mandatory"] == []
