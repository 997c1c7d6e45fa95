"""`soundstack sign-lambda <stack>`: have AWS Signer sign the Lambda code and layer a stack
deploys, so its code signing config can enforce (components/signing.py).

The stack's deploy runner runs it after `make layer` and before `pulumi up`
(components/pipeline.py `deploy_commands`):

1. zip the functions' code (`components.function.code_archive`: the files `pulumi up` would
   otherwise upload) and the layer directory `make layer` filled, reproducibly (sorted entries,
   fixed timestamps and modes), so the same sources give the same bytes and SHA-256;
2. unless the stack's record already holds signatures of both digests, made with the profile
   version the config trusts and valid for `RESIGN_DAYS` more days: upload each zip to the
   layer's assets bucket (Signer: "Your S3 source bucket must be version enabled" and "You must
   ensure the S3 buckets are from the same Region as the signing profile"; the assets bucket is
   both), start a signing job with the stack's profile and wait for it (`SuccessfulSigningJob`);
   Signer writes the signed zip under `SIGNED_PREFIX` and names it in `signedObject.s3.key`;
3. write the record (`lookups.signed_code_parameter`): the bucket and the two signed keys, the
   digests, the profile version and the signatures' expiry. `pulumi up` reads it
   (`lookups.signed_code_record`) and deploys every function and the layer from those objects.

Profile name, version and bucket come from the stack outputs (`code_signing_profile_name`,
`code_signing_profile_version_arn`, `lambda_assets_bucket`), which exist once the stack has been
deployed (its first deploy, from a workstation, runs under Warn).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pulumi

from soundstack.components.function import DEFAULT_LAYER_DIR, FunctionCode
from soundstack.components.lookups import signed_code_parameter

UNSIGNED_PREFIX = "lambda-code/unsigned/"
SIGNED_PREFIX = "lambda-code/signed/"
#: Sign again when a recorded signature expires within this many days (Lambda refuses an
#: expired signature at deployment: the code signing config's "Expiry" check).
RESIGN_DAYS = 30
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


class SigningError(RuntimeError):
    """A signing job that did not produce a signed object, or outputs that are missing."""


def reproducible_zip(files: Iterable[tuple[str, Path]]) -> bytes:
    """A deflated zip of `(archive name, path)` pairs: sorted, with fixed dates and modes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return out.getvalue()


def code_zip() -> bytes:
    """The reference services' code archive (the files `ServiceFunction` would upload for
    `FunctionCode.service(...)`)."""
    assets = FunctionCode.service("catalog").archive().assets
    return reproducible_zip(
        (name, Path(asset.path))
        for name, asset in assets.items()
        if isinstance(asset, pulumi.FileAsset)
    )


def layer_zip(layer_dir: Path = DEFAULT_LAYER_DIR) -> bytes:
    """The dependency layer `make layer` filled (`python/...` at the archive root)."""
    if not (layer_dir / "python").is_dir():
        raise SigningError(f"{layer_dir}/python does not exist: run `make layer` first")
    files = [p for p in layer_dir.rglob("*") if p.is_file()]
    return reproducible_zip((p.relative_to(layer_dir).as_posix(), p) for p in files)


@dataclass(frozen=True)
class Target:
    """What the stack's outputs say to sign with, and where."""

    bucket: str
    profile_name: str
    profile_version_arn: str

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any]) -> Target:
        keys = ("lambda_assets_bucket", "code_signing_profile_name",
                "code_signing_profile_version_arn")  # fmt: skip
        missing = [k for k in keys if not outputs.get(k)]
        if missing:
            raise SigningError(
                f"stack outputs {', '.join(missing)} missing: deploy the stack once with "
                "functions.code_signing: enforce (it creates the profile), then sign"
            )
        return cls(*(str(outputs[k]) for k in keys))


def _current(record: Mapping[str, Any] | None, digests: Mapping[str, str], target: Target,
             now: datetime) -> bool:  # fmt: skip
    """The record already signs these digests with this profile version, long enough."""
    if not record:
        return False
    expires = datetime.fromisoformat(str(record.get("signature_expires", "1970-01-01T00:00Z")))
    return (
        record.get("bucket") == target.bucket
        and record.get("profile_version_arn") == target.profile_version_arn
        and all(record.get(f"{name}_sha256") == digest for name, digest in digests.items())
        and expires > now + timedelta(days=RESIGN_DAYS)
    )


def _sign_one(s3: Any, signer: Any, target: Target, name: str, data: bytes, digest: str,
              stamp: str) -> dict[str, Any]:  # fmt: skip
    """Upload `data`, sign it, wait; the finished job (DescribeSigningJob)."""
    key = f"{UNSIGNED_PREFIX}{name}-{digest[:16]}.zip"
    put = s3.put_object(Bucket=target.bucket, Key=key, Body=data, ContentType="application/zip")
    job = signer.start_signing_job(
        source={"s3": {"bucketName": target.bucket, "key": key, "version": put["VersionId"]}},
        destination={"s3": {"bucketName": target.bucket, "prefix": f"{SIGNED_PREFIX}{name}-"}},
        profileName=target.profile_name,
        # one job per content and run: a retried call within the run reuses it
        clientRequestToken=f"{name}-{digest[:24]}-{stamp}",
    )
    signer.get_waiter("successful_signing_job").wait(
        jobId=job["jobId"], WaiterConfig={"Delay": 5, "MaxAttempts": 120}
    )
    done = dict(signer.describe_signing_job(jobId=job["jobId"]))
    if done.get("status") != "Succeeded" or not done.get("signedObject", {}).get("s3"):
        raise SigningError(f"signing job {job['jobId']} ({name}): {done.get('statusReason')}")
    return done


def sign(
    outputs: Mapping[str, Any],
    zips: Mapping[str, bytes],
    s3: Any,
    signer: Any,
    ssm: Any,
    parameter: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Sign `zips` ({"code": …, "layer": …}) unless the record at `parameter` already does;
    write and return the record."""
    moment = now or datetime.now(UTC)
    target = Target.from_outputs(outputs)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in zips.items()}
    try:
        found = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
        record: dict[str, Any] | None = json.loads(found)
    except ssm.exceptions.ParameterNotFound:
        record = None
    if _current(record, digests, target, moment):
        return dict(record or {}) | {"signed": []}
    stamp = moment.strftime("%Y%m%dT%H%M%S")
    jobs = {name: _sign_one(s3, signer, target, name, data, digests[name], stamp)
            for name, data in zips.items()}  # fmt: skip
    expires = min(_when(job["signatureExpiresAt"]) for job in jobs.values())
    record = {
        "bucket": target.bucket,
        "code_key": jobs["code"]["signedObject"]["s3"]["key"],
        "layer_key": jobs["layer"]["signedObject"]["s3"]["key"],
        "code_sha256": digests["code"],
        "layer_sha256": digests["layer"],
        "profile_version_arn": target.profile_version_arn,
        "signature_expires": expires.isoformat(),
    }
    ssm.put_parameter(Name=parameter, Value=json.dumps(record), Type="String", Overwrite=True)
    return record | {"signed": sorted(jobs)}


def _when(value: Any) -> datetime:
    """A timestamp as boto3 returns it (datetime) or as JSON carries it (ISO string)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def run(
    stack: str, outputs_file: str | None, project_dir: Path, project: str = "soundstack"
) -> int:
    """CLI entry: outputs from Pulumi (or a file), the zips, boto3 clients, one signing."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError

    from soundstack.publish_web import PublishError, load_outputs

    try:
        outputs = load_outputs(stack, outputs_file, project_dir)
        Target.from_outputs(outputs)  # before zipping: say first what the stack lacks
        region = str(outputs.get("region") or "") or None
        zips = {"code": code_zip(), "layer": layer_zip()}
        record = sign(
            outputs, zips,
            boto3.client("s3", region_name=region), boto3.client("signer", region_name=region),
            boto3.client("ssm", region_name=region), signed_code_parameter(project, stack),
        )  # fmt: skip
    except (SigningError, PublishError, BotoCoreError, ClientError, WaiterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    what = ", ".join(record["signed"]) or "nothing (the recorded signatures still hold)"
    print(f"signed {what}: s3://{record['bucket']}/{record['code_key']} and {record['layer_key']}")
    return 0
