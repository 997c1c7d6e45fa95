"""Catalog wiring: settings and dependencies, built once per cold start and shared by handlers."""

from __future__ import annotations

import functools
import logging
import tempfile
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from ..core import aws
from ..core.cache import Cache
from ..core.db import Database
from ..core.logs import configure
from ..core.settings import ServiceSettings, load_settings
from ..core.subscriptions import SubscriptionReader
from . import domain
from .domain import SearchEngine
from .repository import CatalogRepository, S3Objects


class CatalogSettings(ServiceSettings):
    search_engine: str = Field("postgres", pattern="^(postgres|opensearch)$")
    opensearch_endpoint: str | None = Field(None, description="VPC endpoint of the domain")
    opensearch_index: str = "tracks"
    opensearch_service: str = Field(
        "es", pattern="^(es|aoss)$", description="SigV4 service: es (domain), aoss (serverless)"
    )
    cdn_domain: str = Field("media.localhost", description="CloudFront domain serving media")
    cdn_scheme: Literal["https", "http"] = Field(
        "https", description="http only for a loopback cdn_domain (soundstack serve's media)"
    )
    cloudfront_signing_secret_id: str | None = Field(
        None, description="Secrets Manager secret with the active signing key (media component)"
    )
    cloudfront_key_pair_id: str | None = Field(None, description="local runs: public key id")
    cloudfront_private_key_pem: str | None = Field(None, description="local runs: PEM key")
    stream_url_ttl_seconds: int = Field(300, ge=30, le=3600)
    viewer_country_source: Literal["cloudfront", "none", "local"] = Field(
        "none",
        description="who tells the listener's country for track territories: cloudfront (the "
        "CloudFront-Viewer-Country header the web distribution adds; behind the API), none (no "
        "trusted source, e.g. the EKS ingress: restricted tracks are refused), local (the "
        "header if a developer sends one, else allowed: `soundstack serve`)",
    )
    max_ingest_bytes: int = Field(500 * 1024 * 1024, ge=1)

    @model_validator(mode="after")
    def _plain_http_is_local(self) -> CatalogSettings:
        from ..core.hosts import is_loopback_host

        if self.cdn_scheme == "http" and not is_loopback_host(self.cdn_domain.rsplit(":", 1)[0]):
            raise ValueError(
                f"cdn_scheme: http is only for a loopback cdn_domain (soundstack serve), not "
                f"{self.cdn_domain!r}; CloudFront serves media over https"
            )
        return self


@dataclass
class Catalog:
    settings: CatalogSettings
    store: CatalogRepository
    engine: SearchEngine
    cache: Cache
    subscriptions: SubscriptionReader
    workdir: str

    @functools.cached_property
    def objects(self) -> S3Objects:
        return S3Objects(aws.client("s3", self.settings.aws_region))

    @functools.cached_property
    def signer(self) -> Any:
        """The CloudFront URL signer, its key read from Secrets Manager on first use."""
        from ..media_signing import CloudFrontSigner

        s = self.settings
        if s.cloudfront_signing_secret_id:
            secrets = aws.client("secretsmanager", s.aws_region)
            return CloudFrontSigner.from_secret(secrets, s.cloudfront_signing_secret_id)
        if not (s.cloudfront_private_key_pem and s.cloudfront_key_pair_id):
            raise RuntimeError("set CLOUDFRONT_SIGNING_SECRET_ID (the media component's secret)")
        return CloudFrontSigner(s.cloudfront_key_pair_id, s.cloudfront_private_key_pem.encode())

    @property
    def log(self) -> logging.Logger:
        return configure("catalog", self.settings.log_level)

    def ingest(self, bucket: str, key: str) -> dict[str, Any]:
        """Ingest one uploaded object into the catalog (see `domain.ingest`)."""
        from .audio import read_metadata

        return domain.ingest(
            store=self.store,
            engine=self.engine,
            cache=self.cache,
            objects=self.objects,
            read_metadata=read_metadata,
            bucket=bucket,
            key=key,
            workdir=self.workdir,
            max_bytes=self.settings.max_ingest_bytes,
        )


def _engine(settings: CatalogSettings, store: CatalogRepository) -> SearchEngine:
    if settings.search_engine == "postgres":
        return store
    import boto3

    from ..core.outbound import send_urllib
    from .opensearch import OpenSearchEngine

    if not settings.opensearch_endpoint:
        raise RuntimeError("SEARCH_ENGINE=opensearch needs OPENSEARCH_ENDPOINT")
    credentials = boto3.Session().get_credentials()
    return OpenSearchEngine(
        settings.opensearch_endpoint,
        settings.opensearch_index,
        settings.aws_region,
        credentials,
        send_urllib,
        service=settings.opensearch_service,
    )


@functools.cache
def catalog() -> Catalog:
    """The catalog's dependencies for this process (settings read once, connections lazy)."""
    settings = load_settings(CatalogSettings)
    configure("catalog", settings.log_level)
    db = Database(settings)
    store = CatalogRepository(db)
    return Catalog(
        settings=settings,
        store=store,
        engine=_engine(settings, store),
        cache=Cache.from_url(settings.redis_url, settings.cache_prefix, settings.cache_ttl_seconds),
        subscriptions=SubscriptionReader(db),
        workdir=tempfile.gettempdir(),
    )
