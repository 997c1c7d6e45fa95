"""CloudFront signed URLs for music streams (canned policy, RSA-SHA1 as CloudFront requires).

The Catalog service builds one `CloudFrontSigner` at start-up with `from_secret` (the private key
lives only in Secrets Manager; see components/media.py) and calls `signed_url` per stream.

Secret format (written by `soundstack signing-key rotate|activate`, read here):

    {"active": {"key_pair_id": "K2JCJMDEHXQW5F", "private_key_pem": "-----BEGIN ...",
                "created_at": "...", "activated_at": "..."},
     "pending": {"private_key_pem": "...", "public_key_pem": "...", "created_at": "..."} | null}

Key age: `activate` writes the secret version holding the new active key with the staging label
`ACTIVE_KEY_STAGE`, which stays on that version when later rotations add versions. The key-age
reminder (app_services/reminders) reads that version's creation date from the secret's
metadata (`active_key_age_days`), never the key itself.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .core.hosts import is_loopback_host

#: The query parameters a canned-policy signature adds, last in the URL, in this order.
SIGNING_PARAMS = ("Expires", "Signature", "Key-Pair-Id")

#: Staging label of the secret version that made the current active key active.
ACTIVE_KEY_STAGE = "SOUNDSTACK_ACTIVE_KEY"


def active_key_age_days(
    versions: Iterable[Mapping[str, Any]], secret_created: datetime, now: datetime
) -> float:
    """Days since the active signing key was activated: the creation date of the secret version
    labelled `ACTIVE_KEY_STAGE` (ListSecretVersionIds' `Versions`). Without one (no key
    activated yet, or one activated before the label existed) the secret's own creation date:
    no key it holds is older, so the reminder comes early, never late."""
    since = next(
        (v["CreatedDate"] for v in versions if ACTIVE_KEY_STAGE in v.get("VersionStages", [])),
        secret_created,
    )
    return round((now - since).total_seconds() / 86400, 2)


class SecretsClient(Protocol):
    """The one Secrets Manager call the signer needs (a boto3 `secretsmanager` client fits)."""

    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]: ...


class SigningKeyMissing(RuntimeError):
    """The secret holds no active signing key yet."""


def cloudfront_b64(data: bytes) -> str:
    """Base64 with the characters CloudFront wants in query strings (+ → -, = → _, / → ~)."""
    return base64.b64encode(data).decode().translate(str.maketrans("+=/", "-_~"))


def cloudfront_b64decode(text: str) -> bytes:
    """The inverse of `cloudfront_b64` (ValueError when it is not that alphabet)."""
    try:
        return base64.b64decode(text.translate(str.maketrans("-_~", "+=/")), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not CloudFront base64: {exc}") from None


def canned_policy(url: str, expires: int) -> str:
    """The policy CloudFront rebuilds from the URL and `Expires` (no whitespace, exact order)."""
    return json.dumps(
        {
            "Statement": [
                {"Resource": url, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}
            ]
        },
        separators=(",", ":"),
    )


class CloudFrontSigner:
    """Signs URLs with one CloudFront key pair (a public key in the distribution's key group)."""

    def __init__(self, key_pair_id: str, private_key_pem: bytes) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
            raise ValueError("CloudFront signing keys must be RSA keys of at least 2048 bits")
        self.key_pair_id = key_pair_id
        self._key = key

    @classmethod
    def from_secret(cls, secrets_client: SecretsClient, secret_id: str) -> CloudFrontSigner:
        """Load the active key from the Secrets Manager secret the media component created."""
        value = secrets_client.get_secret_value(SecretId=secret_id)["SecretString"]
        active = (json.loads(value) or {}).get("active")
        if not active:
            raise SigningKeyMissing(
                f"secret {secret_id} has no active signing key; run `soundstack signing-key "
                "rotate <stack>`, add the printed public key, `pulumi up`, then `soundstack "
                "signing-key activate <stack>`"
            )
        return cls(active["key_pair_id"], active["private_key_pem"].encode())

    def signed_url(self, url: str, expires_at: datetime) -> str:
        """`url` plus `Expires`, `Signature` and `Key-Pair-Id`, valid until `expires_at`."""
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware (e.g. datetime.now(UTC) + ...)")
        if expires_at <= datetime.now(UTC):
            raise ValueError("expires_at is in the past")
        parts = urlsplit(url)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and is_loopback_host(parts.hostname)
        ):
            raise ValueError(
                f"{url} is not an https URL; the distribution serves HTTPS only (plain http is "
                "for a loopback host: `soundstack serve`)"
            )
        expires = int(expires_at.timestamp())
        signature = self._key.sign(
            canned_policy(url, expires).encode(), padding.PKCS1v15(), hashes.SHA1()
        )
        separator = "&" if "?" in url else "?"
        return (
            f"{url}{separator}Expires={expires}&Signature={cloudfront_b64(signature)}"
            f"&Key-Pair-Id={self.key_pair_id}"
        )


class SignatureRejected(Exception):
    """CloudFront would answer 403 to this URL; the message says why."""


def public_keys_from_secret(secret_string: str) -> dict[str, rsa.RSAPublicKey]:
    """The trusted key group of a local media server: the active key of the signing secret
    (the format `soundstack signing-key` writes), by key pair id."""
    active = (json.loads(secret_string) or {}).get("active")
    if not active:
        return {}
    key = serialization.load_pem_private_key(active["private_key_pem"].encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the active signing key is not an RSA key")
    return {active["key_pair_id"]: key.public_key()}


def verify_signed_url(
    url: str, public_keys: Mapping[str, rsa.RSAPublicKey], now: datetime | None = None
) -> None:
    """Check a canned-policy signed URL as CloudFront does before serving it: the signing
    parameters come last, the key pair is in the trusted key group, the signature covers the
    base URL (with its own query parameters) and the expiry, and the expiry has not passed.
    Raises `SignatureRejected` naming what is wrong."""
    parts = urlsplit(url)
    segments = parts.query.split("&") if parts.query else []
    pairs = [tuple(segment.partition("=")[::2]) for segment in segments]
    names = [name for name, _ in pairs]
    if "Policy" in names:
        raise SignatureRejected("custom policies (Policy=) are not issued by the catalog")
    if tuple(names[-3:]) != SIGNING_PARAMS or any(names.count(n) > 1 for n in SIGNING_PARAMS):
        raise SignatureRejected("Expires, Signature and Key-Pair-Id must end the query string")
    expires_text, signature, key_pair_id = (value for _, value in pairs[-3:])
    key = public_keys.get(key_pair_id)
    if key is None:
        raise SignatureRejected(f"Key-Pair-Id {key_pair_id!r} is not in the trusted key group")
    try:
        expires = int(expires_text)
        raw_signature = cloudfront_b64decode(signature)
    except ValueError as exc:
        raise SignatureRejected(f"malformed Expires or Signature: {exc}") from None
    own_query = "&".join(segments[:-3])
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, own_query, ""))
    try:
        key.verify(
            raw_signature, canned_policy(base, expires).encode(), padding.PKCS1v15(), hashes.SHA1()
        )
    except InvalidSignature:
        raise SignatureRejected("the signature does not match the URL and expiry") from None
    if (now or datetime.now(UTC)).timestamp() >= expires:
        raise SignatureRejected("the URL has expired")
