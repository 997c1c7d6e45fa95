"""The signing-key age reminder: an EventBridge schedule runs `handler` hourly; it measures how
long the active CloudFront URL-signing key has been active and publishes it as the metric
`SigningKeyAgeDays` (namespace `METRIC_NAMESPACE` from the environment, dimension `Secret`),
which an alarm compares
with `edge.signing_key_max_age_days` (components/media.py `MediaDelivery.remind_key_age`).

It reads the secret's metadata only (its versions' staging labels and dates): never the key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from ..core import aws
from ..core.logs import configure
from ..core.settings import ServiceSettings, load_settings
from ..media_signing import active_key_age_days

METRIC_NAME = "SigningKeyAgeDays"

logger = configure("reminders")


class ReminderSettings(ServiceSettings):
    signing_secret_id: str = Field(description="the media component's signing-key secret")
    metric_namespace: str = Field(
        description="CloudWatch namespace the alarm in components/media.py watches"
    )


def _versions(secrets: Any, secret_id: str) -> list[dict[str, Any]]:
    """Every labelled version of the secret (botocore has no paginator for this call)."""
    versions: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        page = secrets.list_secret_version_ids(SecretId=secret_id, MaxResults=100, **token)
        versions += page.get("Versions", [])
        if not page.get("NextToken"):
            return versions
        token = {"NextToken": page["NextToken"]}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Publish the active signing key's age in days; returns what it published."""
    settings = load_settings(ReminderSettings)
    secrets = aws.client("secretsmanager", settings.aws_region)
    described = secrets.describe_secret(SecretId=settings.signing_secret_id)
    versions = _versions(secrets, settings.signing_secret_id)
    age = active_key_age_days(versions, described["CreatedDate"], datetime.now(UTC))
    aws.client("cloudwatch", settings.aws_region).put_metric_data(
        Namespace=settings.metric_namespace,
        MetricData=[
            {
                "MetricName": METRIC_NAME,
                "Dimensions": [{"Name": "Secret", "Value": described["Name"]}],
                "Value": age,
                "Unit": "None",
            }
        ],
    )
    logger.info("signing key age", extra={"secret": described["Name"], "age_days": age})
    return {"secret": described["Name"], "age_days": age}
