"""`soundstack signing-key rotate|activate` against moto: the private key reaches only the
secret, the public key is printed, activation binds the CloudFront key id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from moto import mock_aws

from soundstack import signing_keys
from soundstack.app_services.media_signing import ACTIVE_KEY_STAGE, CloudFrontSigner
from soundstack.cli import main


@pytest.fixture
def aws(fake_aws_credentials):
    with mock_aws():
        yield


def test_secret_name_matches_the_media_component(dev, prod):
    for synth in (dev, prod):
        (secret,) = [r for r in synth.resources if r.name == "media-signing-key"]
        assert secret.inputs["name"] == signing_keys.secret_name(synth.stack)


def test_rotate_then_activate_through_the_cli(aws, capsys):
    secret_id = signing_keys.secret_name("dev")
    secrets = boto3.client("secretsmanager", region_name="eu-west-1")
    secrets.create_secret(Name=secret_id)  # as Pulumi creates it: no value

    assert main(["signing-key", "rotate", "dev"]) == 0
    printed = capsys.readouterr().out
    public_pem = printed[printed.index("-----BEGIN PUBLIC KEY-----") :].strip()
    serialization.load_pem_public_key(public_pem.encode())  # a real public key
    assert "PRIVATE KEY" not in printed
    state = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    assert state["active"] is None
    assert state["pending"]["public_key_pem"].strip() == public_pem

    # before `pulumi up` created the CloudFront public key, activation refuses
    assert main(["signing-key", "activate", "dev"]) == 1
    assert "run `pulumi up` first" in capsys.readouterr().err
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    with pytest.raises(LookupError, match="pulumi up"):
        signing_keys.activate(secrets, cloudfront, secret_id)

    created = cloudfront.create_public_key(
        PublicKeyConfig={"CallerReference": "x", "Name": "new", "EncodedKey": public_pem + "\n"}
    )
    key_id = created["PublicKey"]["Id"]
    assert main(["signing-key", "activate", "dev"]) == 0
    assert key_id in capsys.readouterr().out
    state = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    assert state["pending"] is None and state["active"]["key_pair_id"] == key_id
    assert state["active"]["created_at"] and state["active"]["activated_at"]
    # the version that activated the key carries the label the key-age reminder counts from
    (activating,) = [v for v in secrets.list_secret_version_ids(SecretId=secret_id)["Versions"]
                     if ACTIVE_KEY_STAGE in v["VersionStages"]]  # fmt: skip
    assert "AWSCURRENT" in activating["VersionStages"]

    signer = CloudFrontSigner.from_secret(secrets, secret_id)
    url = signer.signed_url("https://d1.cloudfront.net/a.mp3", datetime.now(UTC) + timedelta(1))
    assert url.endswith(f"&Key-Pair-Id={key_id}")


def test_a_second_rotation_keeps_the_active_key_signing(aws):
    secrets = boto3.client("secretsmanager", region_name="eu-west-1")
    active = {"key_pair_id": "KOLD", "private_key_pem": signing_keys.new_key_pair()[0]}
    secrets.create_secret(Name="s", SecretString=json.dumps({"active": active, "pending": None}))
    public = signing_keys.rotate(secrets, "s")
    state = json.loads(secrets.get_secret_value(SecretId="s")["SecretString"])
    assert state["active"] == active
    assert state["pending"]["public_key_pem"] == public
    assert CloudFrontSigner.from_secret(secrets, "s").key_pair_id == "KOLD"


def test_a_missing_secret_is_an_error_not_a_new_secret(aws):
    secrets = boto3.client("secretsmanager", region_name="eu-west-1")
    with pytest.raises(secrets.exceptions.ResourceNotFoundException):
        signing_keys.rotate(secrets, "does-not-exist")
