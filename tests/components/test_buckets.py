"""components/buckets.py: buckets in another Region keep their access logs in that Region."""

from __future__ import annotations

import json

import pulumi
import pytest

from soundstack.components import buckets
from soundstack.components.base import Component
from soundstack.synth import stack_values, synthesize
from tests.conftest import make_ctx, run_program


class _Owner(Component):
    TYPE = "soundstack:test:Owner"


def test_a_bucket_in_another_region_logs_only_to_a_log_bucket_of_that_region():
    def program(log_region: str | None):
        def build() -> None:
            owner = _Owner("o", make_ctx("prod"))
            logs = buckets.log_bucket(owner, "logs", 30, region=log_region)
            data = buckets.private_bucket(owner, "data", None, logs, region="eu-central-1")
            buckets.bucket_policy(owner, "data", data)
            pulumi.export("ok", True)

        return build

    with pytest.raises(
        ValueError,
        match=r"bucket data \(eu-central-1\) cannot log to a bucket "
        r"in eu-west-1; S3 server access logs stay",
    ):
        run_program(program(None))
    synth = run_program(program("eu-central-1"))
    regions = {
        r.name: r.inputs.get("region") for r in synth.resources if r.type.startswith("aws:s3/")
    }
    assert set(regions.values()) == {"eu-central-1"}, regions  # every companion, the policy too
    assert len(regions) == 15  # 7 resources of the log bucket, 8 of the data bucket


def test_legacy_bucket_names_keep_a_deployed_stacks_buckets(dev):
    """Every bucket ends in the account id; `soundstack:legacy_bucket_names: true` keeps the
    names a stack deployed before that has (a new name would replace the bucket)."""
    config, secret = stack_values("dev")
    config["soundstack:legacy_bucket_names"] = "true"
    legacy = synthesize("dev", config, secret)
    names = {r.name: r.inputs["bucket"] for r in dev.by_type("aws:s3/bucket:Bucket")}
    kept = {r.name: r.inputs["bucket"] for r in legacy.by_type("aws:s3/bucket:Bucket")}
    assert names and names.keys() == kept.keys()
    for logical, name in names.items():
        assert name.endswith("-123456789012"), name
        assert kept[logical] == name.removesuffix("-123456789012"), logical
    # Nothing (a trail's bucket ARN, an assets key) still names the new-style buckets.
    everything = json.dumps([r.inputs for r in legacy.resources])
    assert not [n for n in names.values() if n in everything]
