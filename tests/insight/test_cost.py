"""The cost estimate's numbers: prices follow the registered resources and the dated table."""

from __future__ import annotations

import pytest

from soundstack.insight import cost
from soundstack.insight.estate import load_table
from tests.conftest import run_program
from tests.insight import programs

TABLE = load_table(cost.PRICE_TABLE)
HOURS = TABLE["hours_per_month"]


def test_one_more_nat_gateway_costs_exactly_that_nat_more():
    single = cost.estimate(run_program(lambda: programs.network("single")))
    per_az = cost.estimate(run_program(lambda: programs.network("per_az")))
    nat_and_its_address = (TABLE["nat_gateway_hour"] + TABLE["public_ipv4_hour"]) * HOURS
    assert per_az.total - single.total == pytest.approx(nat_and_its_address, abs=0.011)
    # processing is the assumed traffic shared out, so it does not grow with the NAT count
    processing = [i for i in per_az.items if i.basis.endswith("processed (assumed)")]
    assert len(processing) == 2
    assert sum(i.monthly for i in processing) == pytest.approx(
        per_az.assumptions["nat_gb"] * TABLE["nat_gateway_gb"], abs=0.011
    )


def test_multi_az_database_costs_twice_the_same_single_az_instance():
    def db_cost(multi_az):
        report = cost.estimate(run_program(lambda: programs.database(multi_az)))
        return sum(i.monthly for i in report.items if i.resource == "db-instance")

    single = db_cost(False)
    hourly = TABLE["rds"]["postgres"]["db.r7g"] * HOURS
    assert single == pytest.approx(hourly + 100 * TABLE["rds"]["storage_gb_month"]["gp3"], abs=0.02)
    assert db_cost(True) == pytest.approx(2 * single, abs=0.02)


def test_instance_sizes_scale_from_the_family_price():
    bigger = cost.estimate(run_program(lambda: programs.database(False, "db.r7g.2xlarge")))
    (instance,) = [i for i in bigger.items if i.basis.startswith("1 x db.r7g.2xlarge")]
    assert instance.monthly == pytest.approx(
        4 * TABLE["rds"]["postgres"]["db.r7g"] * HOURS, abs=0.01
    )


def test_traffic_overrides_are_checked_and_applied():
    assert cost.traffic_profile("dev", {"monthly_streams": 7})["monthly_streams"] == 7
    with pytest.raises(KeyError, match="monthly_stream"):
        cost.traffic_profile("dev", {"monthly_stream": 7})


def test_dev_is_cheaper_than_staging_and_prod(dev, staging, prod):
    totals = {s.stack: cost.estimate(s).total for s in (dev, staging, prod)}
    assert 0 < totals["dev"] < totals["staging"] < totals["prod"]
    assert totals["dev"] < totals["prod"] / 4


def test_shield_advanced_is_charged_once_and_only_in_prod(dev, staging, prod):
    def shield(synth):
        return sum(
            i.monthly for i in cost.estimate(synth).items if i.type.startswith("aws:shield/")
        )

    assert shield(prod) == TABLE["shield_advanced_month"]
    assert shield(dev) == shield(staging) == 0


def test_prod_drivers_are_sorted_and_explain_the_total(prod):
    report = cost.estimate(prod)
    drivers = report.drivers(5)
    assert [d.monthly for d in drivers] == sorted((d.monthly for d in drivers), reverse=True)
    assert sum(i.monthly for i in report.by_resource()) == pytest.approx(report.total, abs=0.05)
    assert sum(usd for _, usd in report.by_component()) == pytest.approx(report.total, abs=0.05)
    text = cost.render(report)
    assert "Estimated" in text and TABLE["date"] in text and drivers[0].resource in text


def test_cloudfront_tiers_are_widths_priced_one_after_the_other():
    tiers = TABLE["cloudfront"]["gb_out_tier_widths"]
    # by hand: first 10 TB at 0.085, next 40 TB at 0.080, the remaining 26,925 GB at 0.060
    assert cost._tiered(78_125, tiers) == pytest.approx(
        10_240 * 0.085 + 40_960 * 0.080 + 26_925 * 0.060, abs=0.001
    )
    assert cost._tiered(78_125, tiers) == pytest.approx(5762.70, abs=0.001)
    assert cost._tiered(5_000, tiers) == pytest.approx(5_000 * 0.085)
    # past 5 PB (10 + 40 + 100 + 350 + 524 TB + 4 PB) every GB costs the open tier's price
    five_pb = sum(w for w, _ in tiers[:-1])
    assert cost._tiered(five_pb + 1_000, tiers) - cost._tiered(five_pb, tiers) == pytest.approx(
        1_000 * 0.020
    )


def test_log_groups_are_priced_for_ingestion_and_retention(prod):
    report = cost.estimate(prod)
    groups = prod.by_type("aws:cloudwatch/logGroup:LogGroup")
    logs = [i for i in report.items if i.type == "aws:cloudwatch/logGroup:LogGroup"]
    assert len(logs) == 2 * len(groups) > 0
    share = report.assumptions["log_gb"] / len(groups)
    ingested = sum(i.monthly for i in logs if i.basis.endswith("ingested (assumed)"))
    assert ingested == pytest.approx(report.assumptions["log_gb"] * 0.57, abs=0.01 * len(groups))
    year = next(g for g in groups if g.inputs.get("retentionInDays") == 365)
    kept = next(i for i in logs if i.resource == year.name and i.basis.endswith("kept"))
    assert kept.monthly == pytest.approx(share * 365 / 30 * 0.03, abs=0.011)


def test_the_music_replica_costs_a_second_copy_and_the_cross_region_uploads(prod, dev):
    report = cost.estimate(prod)
    items = {i.resource: i for i in report.by_resource()}
    t, rep = report.assumptions, TABLE["s3_replication"]
    metrics = rep["metrics_per_rule"] * TABLE["cloudwatch"]["metric_month"]
    copy = t["media_storage_gb"] * TABLE["s3_standard_gb_month"]
    moved = t["media_upload_gb"] * (rep["inter_region_gb"] + rep["rtc_gb"])
    assert items["media-music-replication-config"].monthly == pytest.approx(
        metrics + copy + moved, abs=0.011
    )
    # the primary still holds all the audio: the replica does not halve it
    assert items["media-music-bucket"].monthly == pytest.approx(copy, abs=0.011)
    assert items["media-music-replica-bucket"].monthly == 0
    assert items["web-site-replication-config"].monthly == pytest.approx(metrics, abs=0.011)
    assert not [i for i in cost.estimate(dev).items if i.type == cost.REPLICATION]


def test_cloudfront_v2_logs_are_priced_per_gb_delivered(prod):
    items = {i.resource: i for i in cost.estimate(prod).by_resource()}
    t = cost.traffic_profile("prod")
    gb = t["monthly_streams"] * t["edge_requests_per_stream"] * t["cdn_log_kb_per_request"] / 2**20
    tiers = TABLE["cloudwatch"]["vended_logs_s3_gb_tiers"]
    assert gb < tiers[0][0]  # prod's volume stays in the first tier
    assert items["media-access-log-delivery"].monthly == pytest.approx(gb * tiers[0][1], abs=0.011)
    assert items["web-access-log-delivery"].monthly == 0  # page and API requests: not modelled
