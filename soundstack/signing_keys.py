"""`soundstack signing-key rotate|activate <stack>`: roll the CloudFront URL-signing key.

The private key goes straight from this process into the stack's Secrets Manager secret (which
components/media.py creates empty); Pulumi only ever sees the public key. Rotation:

1. `rotate`: make an RSA 2048 key pair, store it as `pending` (the active key keeps signing),
   print the public key;
2. add that key to `edge.signing_public_keys` (keep the old one) and `pulumi up`: CloudFront now
   accepts URLs signed by either key;
3. `activate`: find the new key's CloudFront id, make it the active signing key (services pick
   it up when they next load the secret); the secret version it writes carries the staging
   label `ACTIVE_KEY_STAGE`, from which the key-age reminder counts (`edge.
   signing_key_max_age_days`: an alarm fires once the active key is older);
4. once the old key's last URLs have expired, drop it from the config and `pulumi up`.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from soundstack.app_services.media_signing import ACTIVE_KEY_STAGE
from soundstack.components.naming import physical_name

#: The media component's logical name in platform/__main__.py and its secret's role.
MEDIA_COMPONENT = "media"
SECRET_ROLE = "signing-key"


def secret_name(stack: str, project: str = "soundstack") -> str:
    """Name of the stack's signing-key secret (the same rule the media component uses)."""
    return physical_name(project, stack, f"{MEDIA_COMPONENT}-{SECRET_ROLE}", "secret")


def new_key_pair() -> tuple[str, str]:
    """(private PKCS#8 PEM, public SubjectPublicKeyInfo PEM) of a fresh RSA 2048 key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _normalise(pem: str) -> str:
    return "".join(pem.split())


def _read(secrets: Any, secret_id: str) -> dict[str, Any]:
    try:
        value = secrets.get_secret_value(SecretId=secret_id)["SecretString"]
    except secrets.exceptions.ResourceNotFoundException as exc:
        # Also raised when the secret exists but has no value yet (first rotation).
        if "value" not in str(exc).lower() and "version" not in str(exc).lower():
            raise
        return {"active": None, "pending": None}
    return json.loads(value)


def rotate(secrets: Any, secret_id: str, now: datetime | None = None) -> str:
    """Store a new key pair as `pending`; return its public PEM for the stack config."""
    state = _read(secrets, secret_id)
    private, public = new_key_pair()
    state["pending"] = {
        "private_key_pem": private,
        "public_key_pem": public,
        "created_at": (now or datetime.now(UTC)).isoformat(),
    }
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(state))
    return public


def activate(secrets: Any, cloudfront: Any, secret_id: str, now: datetime | None = None) -> str:
    """Make the pending key the active one; return its CloudFront public key id. The version
    written is AWSCURRENT (what services read) and `ACTIVE_KEY_STAGE` (when the key-age
    reminder counts from; Secrets Manager moves a label that another version holds)."""
    state = _read(secrets, secret_id)
    pending = state.get("pending")
    if not pending:
        raise LookupError(f"{secret_id} has no pending key; run `soundstack signing-key rotate`")
    wanted = _normalise(pending["public_key_pem"])
    key_id = None
    for page in cloudfront.get_paginator("list_public_keys").paginate():
        for item in page.get("PublicKeyList", {}).get("Items", []):
            encoded = (
                item.get("EncodedKey")
                or cloudfront.get_public_key(Id=item["Id"])["PublicKey"]["PublicKeyConfig"][
                    "EncodedKey"
                ]
            )
            if _normalise(encoded) == wanted:
                key_id = item["Id"]
    if key_id is None:
        raise LookupError(
            "CloudFront has no public key matching the pending key yet: add it to "
            "edge.signing_public_keys and run `pulumi up` first"
        )
    active = {
        "key_pair_id": key_id,
        "private_key_pem": pending["private_key_pem"],
        "created_at": pending.get("created_at"),
        "activated_at": (now or datetime.now(UTC)).isoformat(),
    }
    secrets.put_secret_value(
        SecretId=secret_id,
        SecretString=json.dumps({"active": active, "pending": None}),
        VersionStages=["AWSCURRENT", ACTIVE_KEY_STAGE],
    )
    return key_id


def run(action: str, stack: str, secret_id: str | None = None) -> int:
    """CLI entry point: AWS clients from the ambient credentials, region from the stack file."""
    import boto3

    from soundstack.stacks.loader import load_stack

    region = load_stack(stack).region
    secret_id = secret_id or secret_name(stack)
    secrets = boto3.client("secretsmanager", region_name=region)
    if action == "rotate":
        public = rotate(secrets, secret_id)
        print(f"stored a new pending signing key in {secret_id}.")
        print("add this public key to soundstack:edge.signing_public_keys (keep the current one),")
        print(f"run `pulumi up`, then `soundstack signing-key activate {stack}`:\n")
        print(public)
        return 0
    try:
        key_id = activate(secrets, boto3.client("cloudfront", region_name="us-east-1"), secret_id)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{secret_id}: now signing with CloudFront key {key_id}. Remove the old public key")
    print("from edge.signing_public_keys once URLs signed with it have expired.")
    return 0
