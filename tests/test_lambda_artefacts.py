"""`soundstack sign-lambda`: reproducible zips, Signer jobs on them (a fake Signer answering as
the API documents; moto has no StartSigningJob), the record `pulumi up` reads, against moto's
S3 and SSM."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from soundstack import lambda_artefacts as la
from soundstack.cli import main
from soundstack.components.lookups import signed_code_parameter
from soundstack.components.signing import SignedCode

BUCKET = "soundstack-prod-deps-assets"
OUTPUTS = {
    "region": "eu-west-1",
    "lambda_assets_bucket": BUCKET,
    "code_signing_profile_name": "soundstack_prod_code_signing_abc",
    "code_signing_profile_version_arn": "arn:aws:signer:eu-west-1:1:/signing-profiles/p/v1",
}
PARAMETER = signed_code_parameter("soundstack", "prod")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


class FakeSigner:
    """StartSigningJob as documented: reads the exact source version, writes the signed zip at
    `prefix + jobId + ".zip"` (as measured on AWSLambda-SHA384-ECDSA), answers
    DescribeSigningJob with `signedObject.s3` and `signatureExpiresAt`."""

    def __init__(self, s3: Any, validity_days: int = 365):
        self.s3, self.validity = s3, validity_days
        self.jobs: dict[str, dict[str, str]] = {}

    def start_signing_job(self, *, source, destination, profileName, clientRequestToken):
        src, dst = source["s3"], destination["s3"]
        data = self.s3.get_object(Bucket=src["bucketName"], Key=src["key"],
                                  VersionId=src["version"])["Body"].read()  # fmt: skip
        job_id = f"job-{len(self.jobs) + 1}"
        key = f"{dst['prefix']}{job_id}.zip"
        self.s3.put_object(Bucket=dst["bucketName"], Key=key, Body=data + b"signed")
        self.jobs[job_id] = {"profile": profileName, "token": clientRequestToken, "key": key}
        return {"jobId": job_id}

    def get_waiter(self, name):
        assert name == "successful_signing_job"
        return type("Waiter", (), {"wait": lambda self, **kw: None})()

    def describe_signing_job(self, *, jobId):
        return {
            "jobId": jobId, "status": "Succeeded",
            "signedObject": {"s3": {"bucketName": BUCKET, "key": self.jobs[jobId]["key"]}},
            "signatureExpiresAt": NOW + timedelta(days=self.validity),
        }  # fmt: skip


@pytest.fixture
def clients(fake_aws_credentials):
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket=BUCKET,
                         CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})  # fmt: skip
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield s3, boto3.client("ssm", region_name="eu-west-1")


def test_zips_are_reproducible_and_hold_what_lambda_expects(tmp_path: Path):
    assert la.code_zip() == la.code_zip()
    names = zipfile.ZipFile(BytesIO(la.code_zip())).namelist()
    assert (
        "app_services/catalog/handler.py" in names and "app_services/reminders/handler.py" in names
    )
    assert not [n for n in names if "/tests/" in n or n.startswith("app_services/web/")]
    (tmp_path / "python" / "pkg").mkdir(parents=True)
    (tmp_path / "python" / "pkg" / "__init__.py").write_text("x = 1\n")
    first = la.layer_zip(tmp_path)
    (tmp_path / "python" / "pkg" / "__init__.py").touch()  # a new mtime changes nothing
    assert la.layer_zip(tmp_path) == first
    assert zipfile.ZipFile(BytesIO(first)).namelist() == ["python/pkg/__init__.py"]
    with pytest.raises(la.SigningError, match="run `make layer` first"):
        la.layer_zip(tmp_path / "missing")


def test_signs_both_zips_and_records_the_signed_objects(clients):
    s3, ssm = clients
    signer = FakeSigner(s3)
    zips = {"code": b"code-v1", "layer": b"layer-v1"}
    record = la.sign(OUTPUTS, zips, s3, signer, ssm, PARAMETER, now=NOW)
    assert record["signed"] == ["code", "layer"]
    assert {j["profile"] for j in signer.jobs.values()} == {OUTPUTS["code_signing_profile_name"]}
    # the record `pulumi up` reads names the signed objects Signer wrote
    stored = ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    signed = SignedCode.from_record(stored)
    assert signed.bucket == BUCKET
    assert signed.code_key.startswith("lambda-code/signed/code-")
    body = s3.get_object(Bucket=BUCKET, Key=signed.code_key)["Body"].read()
    assert body == b"code-v1signed"
    # the sources went to the versioned bucket under the unsigned prefix
    unsigned = s3.list_objects_v2(Bucket=BUCKET, Prefix=la.UNSIGNED_PREFIX)["Contents"]
    assert len(unsigned) == 2


def test_a_current_record_is_reused_and_anything_else_signs_again(clients):
    s3, ssm = clients
    signer = FakeSigner(s3)
    zips = {"code": b"code-v1", "layer": b"layer-v1"}
    la.sign(OUTPUTS, zips, s3, signer, ssm, PARAMETER, now=NOW)
    again = la.sign(OUTPUTS, zips, s3, signer, ssm, PARAMETER, now=NOW + timedelta(days=1))
    assert again["signed"] == [] and len(signer.jobs) == 2
    changed = la.sign(OUTPUTS, {**zips, "code": b"code-v2"}, s3, signer, ssm, PARAMETER, now=NOW)
    assert changed["signed"] == ["code", "layer"] and len(signer.jobs) == 4
    new_profile = {**OUTPUTS, "code_signing_profile_version_arn": OUTPUTS[
        "code_signing_profile_version_arn"].replace("v1", "v2")}  # fmt: skip
    assert la.sign(new_profile, {**zips, "code": b"code-v2"}, s3, signer, ssm, PARAMETER,
                   now=NOW)["signed"]  # fmt: skip
    # signatures expiring within 30 days are renewed before Lambda would refuse them
    late = NOW + timedelta(days=365 - 29)
    assert la.sign(new_profile, {**zips, "code": b"code-v2"}, s3, signer, ssm, PARAMETER,
                   now=late)["signed"] == ["code", "layer"]  # fmt: skip


def test_outputs_of_a_stack_never_deployed_with_enforce_fail_clearly(clients):
    s3, ssm = clients
    with pytest.raises(la.SigningError, match="code_signing_profile_name, code_signing_profile_"):
        la.sign({"region": "eu-west-1", "lambda_assets_bucket": BUCKET}, {}, s3, None, ssm,
                PARAMETER)  # fmt: skip


def test_the_cli_reports_a_missing_layer_or_outputs(tmp_path, capsys, monkeypatch):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"region": "eu-west-1"}))
    assert main(["sign-lambda", "prod", "--outputs", str(outputs)]) == 1
    assert "stack outputs lambda_assets_bucket, code_signing_profile_name" in (
        capsys.readouterr().err
    )
    monkeypatch.setattr(la, "layer_zip", lambda: (_ for _ in ()).throw(
        la.SigningError("build/layer/python does not exist: run `make layer` first")))  # fmt: skip
    outputs.write_text(json.dumps(OUTPUTS))
    assert main(["sign-lambda", "prod", "--outputs", str(outputs)]) == 1
    assert "run `make layer` first" in capsys.readouterr().err
