"""The signing-key age reminder against moto: it reads the secret's metadata, never its value,
and publishes the age the alarm watches."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from soundstack import signing_keys
from soundstack.app_services.core.settings import load_settings
from soundstack.app_services.media_signing import ACTIVE_KEY_STAGE, active_key_age_days
from soundstack.app_services.reminders import handler as reminders

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_age_counts_from_the_version_that_activated_the_key():
    created = NOW - timedelta(days=400)
    rotated = {"VersionStages": ["AWSCURRENT"], "CreatedDate": NOW - timedelta(days=2)}
    # the activating version: Secrets Manager moved AWSPREVIOUS onto it, its own label stays
    activated = {
        "VersionStages": ["AWSPREVIOUS", ACTIVE_KEY_STAGE],
        "CreatedDate": NOW - timedelta(days=200, hours=12),
    }
    versions = [rotated, activated]
    assert active_key_age_days(versions, created, NOW) == 200.5
    # nothing activated through the CLI (yet): the secret's age, which no key in it exceeds
    assert active_key_age_days(versions[:1], created, NOW) == 400.0


NAMESPACE = "acme/Media"


@pytest.fixture
def reminder_env(aws, service_env, monkeypatch):
    secrets = boto3.client("secretsmanager")
    arn = secrets.create_secret(Name="soundstack-test-media-signing-key")["ARN"]
    monkeypatch.setenv("SIGNING_SECRET_ID", arn)
    monkeypatch.setenv("METRIC_NAMESPACE", NAMESPACE)
    load_settings.cache_clear()
    yield secrets, arn
    load_settings.cache_clear()


def _published(name: str) -> list[float]:
    stats = boto3.client("cloudwatch").get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=reminders.METRIC_NAME,
        Dimensions=[{"Name": "Secret", "Value": name}],
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(hours=1),
        Period=3600,
        Statistics=["Maximum"],
    )
    return [p["Maximum"] for p in stats["Datapoints"]]


def test_handler_publishes_the_age_of_an_activated_key(reminder_env):
    secrets, arn = reminder_env
    signing_keys.rotate(secrets, arn)
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    pending = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])["pending"]
    cloudfront.create_public_key(PublicKeyConfig={
        "CallerReference": "r", "Name": "k", "EncodedKey": pending["public_key_pem"]})  # fmt: skip
    signing_keys.activate(secrets, cloudfront, arn)
    labelled = [v for v in secrets.list_secret_version_ids(SecretId=arn)["Versions"]
                if ACTIVE_KEY_STAGE in v["VersionStages"]]  # fmt: skip
    assert len(labelled) == 1 and "AWSCURRENT" in labelled[0]["VersionStages"]

    result = reminders.handler({"source": "aws.events"}, None)
    assert result["secret"] == "soundstack-test-media-signing-key"
    assert 0 <= result["age_days"] < 0.01  # just activated
    assert _published(result["secret"]) == [result["age_days"]]


def test_handler_never_reads_the_key(reminder_env, monkeypatch):
    from soundstack.app_services.core import aws as shared

    client = shared.client("secretsmanager", "eu-west-1")

    def refuse(**_):
        raise AssertionError("the reminder read the signing key")

    monkeypatch.setattr(client, "get_secret_value", refuse)
    assert reminders.handler({}, None)["age_days"] >= 0  # a secret with no key yet: its age
