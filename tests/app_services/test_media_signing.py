"""The stream-URL signer: signatures CloudFront would accept, verified with the public key."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from moto import mock_aws

from soundstack.app_services.core.hosts import is_loopback_host
from soundstack.app_services.media_signing import (
    CloudFrontSigner,
    SignatureRejected,
    SigningKeyMissing,
    canned_policy,
    public_keys_from_secret,
    verify_signed_url,
)

URL = "https://media.music.example.com/tracks/abc/320k.mp3"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def verify(public: rsa.RSAPublicKey, signed: str) -> dict[str, str]:
    """Check a signed URL the way CloudFront does; return its signing parameters."""
    parts = urlsplit(signed)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = re.split(r"[?&]Expires=", signed, maxsplit=1)[0]
    raw = params["Signature"].translate(str.maketrans("-_~", "+=/"))
    public.verify(
        base64.b64decode(raw),
        canned_policy(base, int(params["Expires"])).encode(),
        padding.PKCS1v15(),
        hashes.SHA1(),
    )
    return params


def test_signed_url_verifies_with_the_public_key_and_carries_expiry_and_key_id(key):
    expires_at = datetime.now(UTC) + timedelta(minutes=5)
    signed = CloudFrontSigner("K2JCJMDEHXQW5F", pem(key)).signed_url(URL, expires_at)
    params = verify(key.public_key(), signed)
    assert params["Expires"] == str(int(expires_at.timestamp()))
    assert params["Key-Pair-Id"] == "K2JCJMDEHXQW5F"
    assert not set(params["Signature"]) & set("+=/")  # CloudFront-safe alphabet only
    assert signed.startswith(URL + "?Expires=")


def test_existing_query_strings_are_kept_and_signed(key):
    url = URL + "?format=aac"
    signed = CloudFrontSigner("KID", pem(key)).signed_url(url, datetime.now(UTC) + timedelta(1))
    assert signed.startswith(url + "&Expires=")
    verify(key.public_key(), signed)


def test_a_tampered_url_or_another_key_does_not_verify(key):
    signed = CloudFrontSigner("KID", pem(key)).signed_url(URL, datetime.now(UTC) + timedelta(1))
    with pytest.raises(InvalidSignature):
        verify(key.public_key(), signed.replace("abc", "xyz"))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidSignature):
        verify(other.public_key(), signed)


def test_canned_policy_is_compact_json_in_cloudfront_order():
    assert canned_policy("https://x/a", 1767225600) == (
        '{"Statement":[{"Resource":"https://x/a","Condition":{"DateLessThan":'
        '{"AWS:EpochTime":1767225600}}}]}'
    )


def test_bad_inputs_are_refused(key):
    signer = CloudFrontSigner("KID", pem(key))
    with pytest.raises(ValueError, match="timezone-aware"):
        signer.signed_url(URL, datetime.now() + timedelta(1))
    with pytest.raises(ValueError, match="in the past"):
        signer.signed_url(URL, datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(ValueError, match="not an https URL"):
        signer.signed_url("http://x/a.mp3", datetime.now(UTC) + timedelta(1))
    with pytest.raises(ValueError, match="not an https URL"):
        signer.signed_url("http://localhost.example.com/a.mp3", datetime.now(UTC) + timedelta(1))
    local = signer.signed_url("http://media.localhost:8080/a.mp3", datetime.now(UTC) + timedelta(1))
    assert local.startswith("http://media.localhost:8080/a.mp3?Expires=")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="at least 2048"):
        CloudFrontSigner("KID", pem(small))


def test_from_secret_loads_the_active_key(key, fake_aws_credentials):
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        client.create_secret(Name="empty")
        client.put_secret_value(SecretId="empty", SecretString='{"active": null}')
        with pytest.raises(SigningKeyMissing, match="signing-key activate"):
            CloudFrontSigner.from_secret(client, "empty")
        active = {"key_pair_id": "KACTIVE", "private_key_pem": pem(key).decode()}
        client.create_secret(Name="keys", SecretString=json.dumps({"active": active}))
        signer = CloudFrontSigner.from_secret(client, "keys")
    signed = signer.signed_url(URL, datetime.now(UTC) + timedelta(minutes=1))
    assert verify(key.public_key(), signed)["Key-Pair-Id"] == "KACTIVE"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("media.localhost", True), ("127.0.0.1", True), ("[::1]", True),
     ("127.8.0.1", True), ("example.com", False), ("localhost.example.com", False),
     ("10.0.0.1", False), (None, False)],
)  # fmt: skip
def test_loopback_hosts(host, loopback):
    assert is_loopback_host(host) is loopback


# --- What `soundstack serve` checks before it serves media, as CloudFront does ------------------


def test_a_url_the_catalog_signed_is_accepted_until_it_expires(key):
    keys = {"KID": key.public_key()}
    expires_at = datetime.now(UTC) + timedelta(minutes=5)
    url = "http://media.localhost:8080/uploads/a%20b.ogg?format=aac"
    signed = CloudFrontSigner("KID", pem(key)).signed_url(url, expires_at)

    verify_signed_url(signed, keys)
    verify_signed_url(signed, keys, now=expires_at - timedelta(seconds=1))
    with pytest.raises(SignatureRejected, match="expired"):
        verify_signed_url(signed, keys, now=expires_at)


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        (lambda u: u.replace("a%20b", "c"), "does not match"),
        (lambda u: u.replace("format=aac", "format=flac"), "does not match"),
        (lambda u: u.replace("Expires=", "Expires=9"), "does not match"),
        (lambda u: u.replace("Key-Pair-Id=KID", "Key-Pair-Id=KOTHER"), "trusted key group"),
        (lambda u: u.split("&Key-Pair-Id")[0], "must end the query string"),
        (lambda u: u + "&extra=1", "must end the query string"),
        (lambda u: u.replace("Signature=", "Signature=*"), "malformed"),
        (lambda u: u.replace("Expires=", "Policy=x&Expires="), "custom policies"),
        (lambda u: u.replace("http://media.localhost:8080", "http://127.0.0.1:8080"),
         "does not match"),
    ],
)  # fmt: skip
def test_a_tampered_or_incomplete_url_is_rejected(key, tamper, why):
    url = "http://media.localhost:8080/uploads/a%20b.ogg?format=aac"
    signed = CloudFrontSigner("KID", pem(key)).signed_url(url, datetime.now(UTC) + timedelta(1))
    with pytest.raises(SignatureRejected, match=why):
        verify_signed_url(tamper(signed), {"KID": key.public_key()})


def test_another_keys_signature_is_rejected(key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signed = CloudFrontSigner("KID", pem(other)).signed_url(URL, datetime.now(UTC) + timedelta(1))
    with pytest.raises(SignatureRejected, match="does not match"):
        verify_signed_url(signed, {"KID": key.public_key()})


def test_the_trusted_keys_are_the_active_key_of_the_signing_secret(key):
    active = {"key_pair_id": "KACTIVE", "private_key_pem": pem(key).decode()}
    keys = public_keys_from_secret(json.dumps({"active": active, "pending": None}))
    assert list(keys) == ["KACTIVE"]
    assert keys["KACTIVE"].public_numbers() == key.public_key().public_numbers()
    assert public_keys_from_secret('{"active": null}') == {}
