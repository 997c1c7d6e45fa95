"""DependencyLayer and ServiceFunction packaging: the layer reaches Lambda through an encrypted
assets bucket, and sizes Lambda refuses fail at construction naming the directory and limit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from soundstack.components import function
from soundstack.components.function import (
    DependencyLayer,
    DependencyLayerArgs,
    ServiceFunction,
    ServiceFunctionArgs,
    ServiceSettings,
    layer_size,
)
from tests.conftest import make_ctx, run_program

MB = 1024 * 1024
KEY = "arn:aws:kms:eu-west-1:123456789012:key/data"


def sparse(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes no disk space."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.truncate(size)
    return path


def layer_dir(tmp_path: Path, size: int) -> Path:
    root = tmp_path / "layer"
    (root / "python" / "dep").mkdir(parents=True)
    (root / "python" / "dep" / "__init__.py").write_text("")
    sparse(root / "python" / "dep" / "data.bin", size)
    return root


def package(tmp_path: Path, payload: bytes | int = b"") -> Path:
    """An `app_services`-shaped package with a `catalog` service and `payload` as data."""
    pkg = tmp_path / "code" / "app_services"
    (pkg / "catalog").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "catalog" / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    if isinstance(payload, int):
        sparse(pkg / "catalog" / "data.bin", payload)
    elif payload:
        (pkg / "catalog" / "data.bin").write_bytes(payload)
    return pkg


def build_layer(root: Path, **kwargs):
    def program():
        DependencyLayer("deps", DependencyLayerArgs(root, **kwargs), make_ctx(stack="test"))

    return run_program(program)


def build_function(source_dir: Path, layer: Path):
    def program():
        ctx = make_ctx(stack="test")
        deps = DependencyLayer("deps", DependencyLayerArgs(layer, kms_key_arn=KEY), ctx)
        ServiceFunction(
            "catalog-fn",
            ServiceFunctionArgs(
                service="catalog", settings=ServiceSettings(), source_dir=source_dir, layer=deps
            ),
            ctx,
        )

    return run_program(program)


def test_layer_is_uploaded_to_an_encrypted_private_versioned_bucket_and_read_from_s3(tmp_path):
    root = layer_dir(tmp_path, 1000)
    synth = build_layer(root, kms_key_arn=KEY)
    (obj,) = synth.by_type("aws:s3/bucketObject:BucketObject")
    (layer,) = synth.by_type("aws:lambda/layerVersion:LayerVersion")
    buckets = {b.inputs["bucket"]: b for b in synth.by_type("aws:s3/bucket:Bucket")}
    assets = buckets[obj.inputs["bucket"]]
    assert assets.name == "deps-assets-bucket"
    # Lambda reads the zip from S3 (no 50 MB direct-upload cap): that exact object version
    assert "code" not in layer.inputs
    assert layer.inputs["s3Bucket"] == obj.inputs["bucket"]
    assert layer.inputs["s3Key"] == obj.inputs["key"] == "lambda-layers/soundstack-test-deps.zip"
    assert layer.inputs["s3ObjectVersion"]
    for prop in ("s3Bucket", "s3Key", "s3ObjectVersion"):
        assert layer.property_dependencies[prop] == [obj.urn], prop
    assert obj.inputs["source"] == {"asset": "FileArchive", "path": str(root)}
    assert obj.inputs["kmsKeyId"] == KEY and obj.inputs["serverSideEncryption"] == "aws:kms"
    assert layer.inputs["compatibleRuntimes"] == ["python3.13"]
    assert layer.inputs["compatibleArchitectures"] == ["arm64"]

    def companion(type_token):
        (found,) = [r for r in synth.by_type(type_token) if r.name.startswith("deps-assets-")]
        return found.inputs

    rule = companion(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}
    assert companion("aws:s3/bucketVersioning:BucketVersioning")["versioningConfiguration"] == {
        "status": "Enabled"
    }
    block = companion("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                  "restrictPublicBuckets"))  # fmt: skip
    (lifecycle,) = companion("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[
        "rules"
    ]
    assert lifecycle["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    statements = json.loads(companion("aws:s3/bucketPolicy:BucketPolicy")["policy"])["Statement"]
    assert statements[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert companion("aws:s3/bucketLogging:BucketLogging")["targetBucket"]


def test_layer_without_a_key_uses_the_aws_managed_s3_key(tmp_path):
    synth = build_layer(layer_dir(tmp_path, 10))
    encryption = [
        r.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        for r in synth.by_type(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
        if r.name == "deps-assets-encryption"
    ]
    assert encryption == [{"sseAlgorithm": "aws:kms"}]


def test_layer_within_lambdas_limit_is_measured(tmp_path):
    root = layer_dir(tmp_path, 200 * MB)
    assert layer_size(root) == 200 * MB
    assert layer_size(tmp_path / "not-built") is None


def test_layer_over_250_mb_unzipped_fails_at_construction_naming_directory_and_limit(tmp_path):
    root = layer_dir(tmp_path, 251 * MB)
    with pytest.raises(ValueError, match=r"250\.0 MB") as err:
        build_layer(root)
    assert str(root) in str(err.value) and "unzipped, including layers" in str(err.value)


def test_layer_without_python_dir_fails_naming_the_directory(tmp_path):
    (tmp_path / "flat").mkdir()
    with pytest.raises(ValueError, match="no python/ subdirectory"):
        build_layer(tmp_path / "flat")


def test_missing_layer_directory_only_warns_so_the_offline_preview_runs(tmp_path):
    synth = build_layer(tmp_path / "not-built")
    assert synth.errors == []
    (obj,) = synth.by_type("aws:s3/bucketObject:BucketObject")
    assert obj.inputs["source"]["path"] == str(tmp_path / "not-built")


def test_function_and_layer_over_250_mb_together_fail_naming_the_code(tmp_path):
    # each fits alone; together they pass Lambda's unzipped limit for a function and its layers
    layer = layer_dir(tmp_path, 240 * MB)
    build_function(package(tmp_path / "small"), layer)
    big = package(tmp_path / "big", 11 * MB)
    with pytest.raises(ValueError, match=r"unpack to more than Lambda's 250\.0 MB") as err:
        build_function(big, layer)
    assert str(big) in str(err.value)


def test_code_archive_over_the_direct_upload_limit_once_zipped_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(function, "DIRECT_UPLOAD_ZIPPED_LIMIT", 1 * MB)
    layer = layer_dir(tmp_path, 10)
    # 2 MB that compress to almost nothing: the zip is what counts
    build_function(package(tmp_path / "zeros", bytes(2 * MB)), layer)
    random = package(tmp_path / "random", os.urandom(2 * MB))
    with pytest.raises(ValueError, match="for a direct upload") as err:
        build_function(random, layer)
    assert str(random) in str(err.value) and "50 MB (zipped" in str(err.value)


def test_function_without_a_shared_layer_builds_its_own_through_s3(tmp_path):
    def program():
        ServiceFunction(
            "fn",
            ServiceFunctionArgs(
                service="catalog", settings=ServiceSettings(), layer_dir=layer_dir(tmp_path, 10)
            ),
            make_ctx(stack="test"),
        )

    synth = run_program(program)
    (layer,) = synth.by_type("aws:lambda/layerVersion:LayerVersion")
    (fn,) = synth.by_type("aws:lambda/function:Function")
    assert layer.inputs["s3Bucket"] and fn.inputs["layers"] == [
        f"arn:aws:lambda:eu-west-1:123456789012:layer:{layer.inputs['layerName']}:1"
    ]


def test_reserving_zero_is_refused_because_it_throttles_every_call():
    with pytest.raises(ValueError, match="reserved_concurrency=0"):
        ServiceFunctionArgs(service="catalog", settings=ServiceSettings(), reserved_concurrency=0)
