"""boto3 clients, created once per cold start and reused across invocations.

boto3 is imported by the first `client()` call, not with this module: a route that never calls
AWS does not pay for it on a cold start. Endpoints follow boto3's own configuration, so
`AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`, ...) points a local run at moto's server without
any code path that exists only for tests.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def client(service: str, region: str) -> Any:
    """The shared boto3 client for `service` in `region`."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10
    )
    return boto3.client(service, region_name=region, config=config)
