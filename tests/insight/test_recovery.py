"""Recovery per data store, read from the registrations: what each stack replicates, backs up
and where, and the RPO that follows."""

from __future__ import annotations

import copy

from soundstack.insight import docs, recovery


def _rows(synth):
    return {r.store: r for r in recovery.analyse(synth)}


def test_prod_database_is_replicated_backed_up_locked_and_copied(prod):
    db = _rows(prod)["database"]
    assert db.replicated == "Multi-AZ standby; automated backups → eu-central-1"
    assert db.backups == (
        "continuous (PITR), 14 d; AWS Backup daily 03:00 UTC, kept 35 d, vault locked"
    )
    assert db.where == "eu-west-1, eu-central-1"
    assert db.rpo == "≈ 5 min; Region lost: minutes (replicated transaction logs)"
    graph, events = _rows(prod)["graph (Neptune)"], _rows(prod)["analytics bucket"]
    assert graph.rpo.endswith("Region lost: ≤ 24 h (daily copy)")
    assert events.where == "eu-west-1, eu-central-1" and "vault locked" in events.backups


def test_dev_has_only_the_stores_own_backups(dev):
    rows = _rows(dev)
    assert rows["database"].replicated == "Aurora, single AZ"
    assert rows["database"].backups == "continuous (PITR), 1 d"
    assert rows["database"].rpo.endswith("Region lost: not recoverable")
    assert rows["analytics bucket"].backups == "object versions"
    assert rows["analytics bucket"].rto == "minutes (copy a version back)"


def test_the_rpo_follows_the_registrations(prod):
    without = copy.deepcopy(prod)
    without.resources = [r for r in without.resources if r.type != recovery.RDS_REPLICATION]
    db = _rows(without)["database"]
    assert db.rpo == "≈ 5 min; Region lost: ≤ 24 h (daily copy)"
    assert db.replicated == "Multi-AZ standby"


def test_the_readme_section_lists_every_store_per_stack_and_its_procedure(dev, staging, prod):
    section = docs.SECTIONS["recovery"]({"dev": dev, "staging": staging, "prod": prod})
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| ")]
    pairs = {(store.strip(), stack.strip()) for store, stack in rows[1:]}
    for stack in ("dev", "staging", "prod"):
        assert {("database", stack), ("analytics bucket", stack), ("music bucket", stack)} <= pairs
    # dev's graph is tables in its database (graph.engine: postgres): the database row covers it
    assert {s for store, s in pairs if store == "graph (Neptune)"} == {"staging", "prod"}
    for procedure in ("**Database**", "**Graph**", "**Buckets**", "**Cache**", "**Search**"):
        assert procedure in section


def test_prod_music_and_site_survive_the_region_through_replicas_and_failover(prod, dev):
    for store in ("music bucket", "web site bucket"):
        row = _rows(prod)[store]
        assert row.replicated == "3+ AZs (S3); replicated → eu-central-1"
        assert row.where == "eu-west-1, eu-central-1"
        assert row.rpo == "0 (previous version); Region lost: ≤ 15 min (S3 RTC)"
        assert row.rto.endswith("Region lost: ≤ 10 s (CloudFront origin failover)")
        assert _rows(dev)[store].rpo == "0 (previous version); Region lost: lost"
    # the table follows the registrations: no origin group, no automatic failover
    no_groups = copy.deepcopy(prod)
    for r in no_groups.resources:
        if r.type == recovery.DISTRIBUTION:
            r.inputs.pop("originGroups", None)
    assert "origin failover" not in _rows(no_groups)["music bucket"].rto
    # no replication rule: the music is lost with the Region (no backup plan covers it)
    unreplicated = copy.deepcopy(prod)
    unreplicated.resources = [r for r in unreplicated.resources
                              if r.type != recovery.BUCKET_REPLICATION]  # fmt: skip
    assert _rows(unreplicated)["music bucket"].rpo.endswith("Region lost: lost")
