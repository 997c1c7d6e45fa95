"""The whole platform configuration as one pydantic model, nested by concern.

Every model forbids unknown keys, so a typo fails with the key's name instead of being ignored.
Keys in the stack files are the field names below, under the `soundstack:` namespace.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from soundstack.components.edge import EmergencyContact, contact_problems
from soundstack.components.function import (
    CONCURRENCY_QUOTA_CODE,
    DEFAULT_ACCOUNT_CONCURRENCY,
    TMP_HEADROOM_MB,
    UNRESERVED_MINIMUM,
)
from soundstack.components.logs import VALID_RETENTION_DAYS
from soundstack.components.monitoring import DEFAULT_THRESHOLDS
from soundstack.components.network import (
    CLUSTER_INTERFACE_ENDPOINTS,
    DEFAULT_INTERFACE_ENDPOINTS,
    KNOWN_INTERFACE_ENDPOINTS,
)
from soundstack.policies.territories import territory_problems

Environment = Literal["dev", "staging", "prod"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _retention(value: int) -> int:
    if value not in VALID_RETENTION_DAYS:
        nearest = min(VALID_RETENTION_DAYS, key=lambda d: abs(d - value))
        raise ValueError(f"CloudWatch accepts only {VALID_RETENTION_DAYS}; try {nearest}")
    return value


class NetworkConfig(Section):
    cidr: str = "10.0.0.0/16"
    az_count: int = Field(3, ge=2, le=3)
    nat_gateways: Literal["single", "per_az"] = "per_az"
    flow_log_retention_days: int = 365
    #: Zones the private tier spans at least: a zone beyond az_count gets one private subnet
    #: and nothing else (free), for Redshift Serverless, which needs three AZs.
    min_private_azs: int = Field(0, ge=0, le=3)
    #: AWS services reached through interface endpoints (each ~$8/month per AZ); only those the
    #: stack runs: EKS nodes need ecr.api, ecr.dkr and sts, functions need none of those three.
    interface_endpoints: list[str] = Field(
        default_factory=lambda: list(DEFAULT_INTERFACE_ENDPOINTS), min_length=1
    )

    @field_validator("interface_endpoints")
    @classmethod
    def _endpoints(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(KNOWN_INTERFACE_ENDPOINTS))
        if unknown:
            raise ValueError(
                f"unknown service(s) {unknown}; pick from {list(KNOWN_INTERFACE_ENDPOINTS)}"
            )
        if len(set(value)) != len(value):
            raise ValueError("lists a service twice; keep one entry per service")
        return value

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.ip_network(value)
        except ValueError as exc:
            raise ValueError(f"not a CIDR block ({exc}); use e.g. 10.0.0.0/16") from None
        if not net.is_private or not 16 <= net.prefixlen <= 24:
            raise ValueError("use a private /16 to /24 block, e.g. 10.0.0.0/16")
        return value

    _flow = field_validator("flow_log_retention_days")(classmethod(lambda cls, v: _retention(v)))


class DatabaseConfig(Section):
    """Relational store for catalog, playlists and user preferences."""

    engine: Literal["postgres", "aurora-serverless"] = "postgres"
    instance_class: str = "db.r7g.large"
    allocated_storage_gb: int = Field(100, ge=20, le=65536)
    min_capacity_acu: float = Field(0.5, ge=0, le=256)
    max_capacity_acu: float = Field(8, ge=1, le=256)
    multi_az: bool = True
    backup_retention_days: int = Field(14, ge=1, le=35)
    deletion_protection: bool = True
    #: Services connect through RDS Proxy; false: straight to the database (IAM auth still).
    proxy: bool = True


class GraphConfig(Section):
    """The user-activity graph: Neptune, or (`engine: postgres`) edge tables in the database;
    the Neptune keys below then do not apply."""

    engine: Literal["neptune", "postgres"] = "neptune"
    serverless: bool = False
    instance_class: str = "db.r6g.large"
    min_capacity_ncu: float = Field(1, ge=1, le=128)
    max_capacity_ncu: float = Field(8, ge=1, le=128)
    reader_count: int = Field(1, ge=0, le=15)
    backup_retention_days: int = Field(14, ge=1, le=35)
    deletion_protection: bool = True


class CacheConfig(Section):
    serverless: bool = False
    node_type: str = "cache.r7g.large"
    replicas_per_shard: int = Field(1, ge=0, le=5)
    multi_az: bool = True
    snapshot_retention_days: int = Field(7, ge=0, le=35)


class SearchConfig(Section):
    """Catalog search: an OpenSearch domain, or an OpenSearch Serverless collection.

    `serverless: true` builds a collection; the instance, node and volume keys then do not apply,
    and `zone_awareness` decides the collection's standby replicas in another AZ. Prod keeps the
    domain (see PROD_RULES). `engine: postgres` builds neither: the catalog searches its own
    tables with PostgreSQL full-text search (dev), and no other search key applies."""

    engine: Literal["opensearch", "postgres"] = "opensearch"
    serverless: bool = False
    instance_type: str = "r7g.large.search"
    instance_count: int = Field(3, ge=1, le=80)
    dedicated_master: bool = True
    zone_awareness: bool = True
    volume_size_gb: int = Field(100, ge=10, le=16384)

    @model_validator(mode="after")
    def _engine(self) -> SearchConfig:
        if self.engine == "postgres" and self.serverless:
            raise ValueError(
                "search.serverless: true asks for an OpenSearch collection, but search.engine: "
                "postgres builds none; set search.engine: opensearch, or search.serverless: false"
            )
        return self


class NodeGroupConfig(Section):
    instance_types: list[str] = Field(default_factory=lambda: ["m7g.large"], min_length=1)
    min_size: int = Field(2, ge=0, le=450)
    max_size: int = Field(6, ge=1, le=450)
    desired_size: int = Field(2, ge=0, le=450)

    @model_validator(mode="after")
    def _bounds(self) -> NodeGroupConfig:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                f"need min_size ≤ desired_size ≤ max_size, got {self.min_size} ≤ "
                f"{self.desired_size} ≤ {self.max_size}; adjust the three sizes"
            )
        return self


class ClusterConfig(Section):
    """EKS for the long-running services; a stack may switch it off and run all on Lambda."""

    enabled: bool = True
    version: str = "1.33"
    public_endpoint: bool = False
    public_access_cidrs: list[str] = Field(default_factory=list)
    system_nodes: NodeGroupConfig = NodeGroupConfig()
    spot_workers: bool = True
    worker_nodes: NodeGroupConfig = NodeGroupConfig(
        instance_types=["m7g.large", "m6g.large"], min_size=0, max_size=10, desired_size=2
    )
    #: IAM roles (e.g. the platform team's SSO role) given cluster-admin access entries.
    admin_role_arns: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cidrs(self) -> ClusterConfig:
        for cidr in self.public_access_cidrs:
            if cidr in ("0.0.0.0/0", "::/0"):
                raise ValueError(
                    f"public_access_cidrs contains {cidr}: list your office or VPN ranges instead"
                )
        if self.public_endpoint and not self.public_access_cidrs:
            raise ValueError(
                "public_endpoint: true needs public_access_cidrs (your VPN ranges); "
                "or set public_endpoint: false"
            )
        return self


#: The functions platform/__main__.py runs (`<name>-fn`), each reserving `reserved_concurrency`:
#: the six request services, auth as Cognito triggers, profile writer and API edge gate, and the
#: catalog's upload ingest (the hourly `reminders-fn` reserves nothing and is not counted).
SERVICE_FUNCTIONS = (
    "auth", "profiles", "gate", "catalog", "playlist", "activity", "recommendation", "payment",
    "feed", "ingest",
)  # fmt: skip


class FunctionsConfig(Section):
    memory_mb: int = Field(512, ge=128, le=10240)
    timeout_seconds: int = Field(15, ge=1, le=900)
    #: Executions reserved for (and capping) each service function; null reserves none.
    reserved_concurrency: int | None = Field(50, ge=1, le=1000)
    #: The account's Lambda "Concurrent executions" quota in the stack's Region (Service Quotas
    #: code L-B99A9384; 1,000 by default, new accounts often start at 10): what the stack's
    #: reservations are checked against. Lower it by what other stacks in the account reserve.
    account_concurrency_quota: int = Field(DEFAULT_ACCOUNT_CONCURRENCY, ge=1)
    log_retention_days: int = 365
    #: The catalog's upload ingest (`ingest-fn`, invoked by S3 for each object created under
    #: uploads/): it downloads the whole upload to /tmp, parses its tags and stores its cover,
    #: far longer than a request. Its /tmp holds `max_ingest_bytes` plus headroom; a larger
    #: upload is rejected before it is downloaded.
    ingest_memory_mb: int = Field(1024, ge=128, le=10240)
    ingest_timeout_seconds: int = Field(300, ge=60, le=900)
    max_ingest_bytes: int = Field(500 * 2**20, ge=2**20, le=(10240 - TMP_HEADROOM_MB) * 2**20)
    #: Lambda code signing (components/signing.py): `warn` attaches a code signing config whose
    #: failed checks are reported, not blocked; `enforce` deploys the code and layer the deploy
    #: runner had Signer sign and blocks anything else (README "Lambda code signing").
    code_signing: Literal["off", "warn", "enforce"] = "enforce"

    _ret = field_validator("log_retention_days")(classmethod(lambda cls, v: _retention(v)))

    @model_validator(mode="after")
    def _reservations_fit_the_quota(self) -> FunctionsConfig:
        # Lambda: "You can reserve up to the Unreserved account concurrency value that is shown,
        # minus 100 for functions that don't have reserved concurrency."
        count = len(SERVICE_FUNCTIONS)
        reserved = count * (self.reserved_concurrency or 0)
        reservable = max(self.account_concurrency_quota - UNRESERVED_MINIMUM, 0)
        if reserved > reservable:
            each = reservable // count
            lower = f"lower it to {each}" if each else "set it to null (reserve none)"
            raise ValueError(
                f"functions.reserved_concurrency={self.reserved_concurrency} for {count} "
                f"functions reserves {reserved} executions, but functions."
                f"account_concurrency_quota={self.account_concurrency_quota} lets the stack "
                f"reserve {reservable} (Lambda "
                f"keeps {UNRESERVED_MINIMUM} unreserved); {lower}, or raise the Lambda quota "
                f'"Concurrent executions" (Service Quotas code {CONCURRENCY_QUOTA_CODE}) to '
                f"{reserved + UNRESERVED_MINIMUM} and set functions.account_concurrency_quota"
            )
        return self


class MessagingConfig(Section):
    max_receive_count: int = Field(5, ge=1, le=1000)
    kinesis_mode: Literal["ON_DEMAND", "PROVISIONED"] = "ON_DEMAND"
    kinesis_shards: int = Field(2, ge=1, le=500)
    kinesis_retention_hours: int = Field(168, ge=24, le=8760)


class EmergencyContactConfig(Section):
    email: str
    #: E.164: + country code and number, digits only, e.g. +353155501234.
    phone: str | None = None
    notes: str | None = None


class ProactiveEngagementConfig(Section):
    """Shield proactive engagement: needs Shield Advanced, a Business or Enterprise support plan
    and at least one contact with a phone number."""

    enabled: bool = False
    contacts: list[EmergencyContactConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _contacts(self) -> ProactiveEngagementConfig:
        found = contact_problems(
            [EmergencyContact(**c.model_dump()) for c in self.contacts], "contacts"
        )
        # Malformed contacts are refused even when off; a phone is needed only when on.
        if not self.enabled:
            found = [p for p in found if "has no phone number" not in p]
        if found:
            raise ValueError("; ".join(found))
        return self


class EdgeConfig(Section):
    """WAF limits are per IP address over 5 minutes (components.edge.EdgeArgs)."""

    waf_rate_limit: int = Field(2000, ge=10, le=2_000_000_000)
    api_rate_limit: int = Field(1000, ge=10, le=2_000_000_000)
    media_rate_limit: int = Field(20_000, ge=10, le=2_000_000_000)
    sign_in_rate_limit: int = Field(300, ge=10, le=2_000_000_000)
    shield_advanced: bool = True
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = "PriceClass_All"
    log_retention_days: int = 365
    #: PEM public keys (1, or 2 while rotating) whose private halves sign stream URLs; the
    #: private key lives only in Secrets Manager (`soundstack signing-key rotate <stack>`).
    signing_public_keys: list[str] = Field(default_factory=list, max_length=2)
    #: Days the active signing key may stay active before an alarm asks for a rotation
    #: (`soundstack signing-key rotate`; components/media.py `remind_key_age`).
    signing_key_max_age_days: int = Field(180, ge=1, le=3650)
    #: Route 53 zone of `domain`: with both set, the web app is served on `domain` and music on
    #: `media.<domain>` with ACM certificates (TLS 1.2_2021); otherwise on *.cloudfront.net.
    hosted_zone_id: str | None = None
    proactive_engagement: ProactiveEngagementConfig = ProactiveEngagementConfig()
    #: Countries the music is licensed in (ISO 3166-1 alpha-2, e.g. [GB, IE]): the media
    #: distribution serves only viewers there (CloudFront geo restriction); empty: everywhere.
    #: A track may be narrower still (its territories, set at ingest; README "Licensing").
    allowed_countries: list[str] = Field(default_factory=list)

    _ret = field_validator("log_retention_days")(classmethod(lambda cls, v: _retention(v)))

    @model_validator(mode="after")
    def _engagement(self) -> EdgeConfig:
        if self.proactive_engagement.enabled and not self.shield_advanced:
            raise ValueError(
                "proactive_engagement.enabled needs shield_advanced: true; set both or "
                "proactive_engagement.enabled: false"
            )
        return self

    @field_validator("signing_public_keys")
    @classmethod
    def _pem(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not re.fullmatch(
                r"-----BEGIN PUBLIC KEY-----\s+[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----\s*", key
            ):
                raise ValueError(
                    f"{key[:30]!r}… is not a PEM public key; paste the block that "
                    "`soundstack signing-key rotate <stack>` printed"
                )
        return keys

    @field_validator("allowed_countries", mode="before")
    @classmethod
    def _yaml_booleans(cls, codes: object) -> object:
        if isinstance(codes, list) and any(isinstance(c, bool) for c in codes):
            raise ValueError(
                "holds a true/false: YAML reads a bare NO (Norway) or YES as a boolean; quote it, "
                'e.g. [GB, "NO"]'
            )
        return codes

    @field_validator("allowed_countries")
    @classmethod
    def _countries(cls, codes: list[str]) -> list[str]:
        problems = territory_problems(codes)
        if problems:
            raise ValueError(
                "; ".join(problems) + "; list the countries as in the CloudFront console, e.g. "
                "[GB, IE] (https://www.iso.org/obp/ui/#search/code/)"
            )
        return sorted(codes)

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"Z[A-Z0-9]{4,31}", value):
            raise ValueError("not a Route 53 hosted zone id; use e.g. Z0123456789ABCDEFGHIJ")
        return value


class IdentityConfig(Section):
    mfa: Literal["optional", "required"] = "required"
    advanced_security: bool = True
    deletion_protection: bool = True
    google_enabled: bool = False
    google_client_id: str | None = None
    facebook_enabled: bool = False
    facebook_client_id: str | None = None
    callback_urls: list[str] = Field(default_factory=list)
    logout_urls: list[str] = Field(default_factory=list)

    @field_validator("callback_urls", "logout_urls")
    @classmethod
    def _https(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not (url.startswith("https://") or url.startswith("http://localhost")):
                raise ValueError(f"{url} must use https:// (http is allowed for localhost only)")
        return urls

    @model_validator(mode="after")
    def _client_ids(self) -> IdentityConfig:
        for idp in ("google", "facebook"):
            if getattr(self, f"{idp}_enabled") and not getattr(self, f"{idp}_client_id"):
                raise ValueError(
                    f"{idp}_enabled is true but {idp}_client_id is missing; set "
                    f"identity.{idp}_client_id or identity.{idp}_enabled: false"
                )
        return self


class AnalyticsConfig(Section):
    redshift_mode: Literal["serverless", "provisioned"] = "serverless"
    redshift_base_capacity_rpu: int = Field(8, ge=8, le=1024)
    redshift_node_type: str = "ra3.xlplus"
    redshift_nodes: int = Field(2, ge=1, le=128)
    quicksight: bool = False
    #: Files the activity stream lands as in S3: Parquet (columnar, via the Glue schema) or
    #: GZIP-compressed JSON lines.
    delivery_format: Literal["parquet", "json"] = "parquet"


class MonitoringConfig(Section):
    alarm_email: str | None = None
    log_retention_days: int = 365
    trail_retention_days: int = 365
    #: CloudTrail notifies an SNS topic of every log file it delivers (for a SIEM to follow).
    trail_notifications: bool = True
    #: Alarm threshold per signal key (errors, 5xx, cpu …); unset keys take
    #: components.monitoring.DEFAULT_THRESHOLDS, the production values.
    thresholds: dict[str, float] = Field(default_factory=dict, validate_default=True)

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(DEFAULT_THRESHOLDS))
        if unknown:
            raise ValueError(
                f"unknown signal keys {unknown}; use some of {sorted(DEFAULT_THRESHOLDS)}"
            )
        negative = sorted(k for k, v in value.items() if v < 0)
        if negative:
            raise ValueError(f"thresholds {negative} are negative; use 0 or more")
        return {**DEFAULT_THRESHOLDS, **value}

    _ret = field_validator("log_retention_days", "trail_retention_days")(
        classmethod(lambda cls, v: _retention(v))
    )

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", value):
            raise ValueError("not an e-mail address; use e.g. oncall@example.com")
        return value


class PlanConfig(Section):
    """A product on sale (the Payment service's `Plan`): ids of the provider-side prices."""

    id: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    kind: Literal["subscription", "pass"]
    stripe_price_id: str = Field(pattern=r"^price_[A-Za-z0-9]+$")
    paypal_plan_id: str | None = Field(None, pattern=r"^P-[A-Z0-9]+$")
    amount: str | None = Field(None, pattern=r"^\d+\.\d{2}$")
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    pass_days: int | None = Field(None, ge=1, le=366)

    @model_validator(mode="after")
    def _kind(self) -> PlanConfig:
        if self.kind == "pass" and (self.pass_days is None or self.amount is None):
            raise ValueError(f"plan {self.id}: a pass needs pass_days and amount")
        return self


class PaymentsConfig(Section):
    """Plans the Payment service sells; prices live at Stripe and PayPal, ids only here."""

    plans: list[PlanConfig] = Field(default_factory=list)

    @field_validator("plans")
    @classmethod
    def _unique(cls, plans: list[PlanConfig]) -> list[PlanConfig]:
        ids = [p.id for p in plans]
        if len(ids) != len(set(ids)):
            raise ValueError(f"plan ids must be unique, got {ids}; rename the duplicates")
        return plans


class PipelineConfig(Section):
    enabled: bool = False
    #: `owner/name` of the repository the CodeConnections connection reaches.
    repository: str | None = None
    branch: str = "main"
    connection_arn: str | None = None
    #: Jenkins server that takes over the test stage (CodePipeline custom action); None: CodeBuild.
    jenkins_url: str | None = None
    #: The Jenkins job; None: the project's name.
    jenkins_project: str | None = None
    #: Stacks deployed in order; a manual approval always precedes prod.
    environments: list[Environment] = Field(
        default_factory=lambda: list[Environment](["staging", "prod"])
    )
    log_retention_days: int = 365

    _ret = field_validator("log_retention_days")(classmethod(lambda cls, v: _retention(v)))

    @model_validator(mode="after")
    def _source(self) -> PipelineConfig:
        if self.enabled and not (self.repository and self.connection_arn):
            raise ValueError(
                "enabled: true needs repository (owner/name) and connection_arn (a CodeConnections "
                "connection); set both or pipeline.enabled: false"
            )
        if self.connection_arn and not re.fullmatch(
            r"arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[\w-]+",
            self.connection_arn,
        ):
            raise ValueError(
                f"connection_arn={self.connection_arn} is not a CodeConnections connection ARN; "
                "copy it from the Developer Tools console"
            )
        if self.jenkins_url and not self.jenkins_url.startswith("https://"):
            raise ValueError(f"jenkins_url={self.jenkins_url} must use https://")
        if len(set(self.environments)) != len(self.environments) or not self.environments:
            raise ValueError(
                f"environments={self.environments}: list each stack once, e.g. [staging, prod]"
            )
        return self


class ResilienceConfig(Section):
    """Backups, cross-Region copies and replicas (components/backup.py, replication.py).

    Defaults are prod's: a daily AWS Backup plan kept 35 days, copied to `replica_region`, both
    vaults locked, the RDS instance's automated backups replicated there too, and the music and
    web-site buckets replicated there with CloudFront failing over to the replicas."""

    #: Second Region for backup copies, replicated RDS backups and bucket replicas (e.g.
    #: eu-central-1).
    replica_region: str | None = None
    #: The music and web-site buckets replicate to `replica_region` (S3 Replication Time
    #: Control: 99.99 % within 15 minutes) and their CloudFront distributions fail over to the
    #: replicas on 403, 404 and 5xx.
    replicate_buckets: bool = True
    backups: bool = True
    backup_retention_days: int = Field(35, ge=1, le=36500)
    copy_to_replica: bool = True
    #: Vault Lock in compliance mode: recovery points cannot be deleted before their retention.
    vault_lock: bool = True
    #: RDS for PostgreSQL instances only (AWS does not replicate Aurora's automated backups).
    replicate_rds_backups: bool = True

    @field_validator("replica_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", value):
            raise ValueError("not an AWS region; use e.g. eu-central-1")
        return value

    @property
    def uses_replica(self) -> bool:
        """Something is copied to `replica_region`: backups, RDS backups or buckets."""
        return (
            (self.backups and self.copy_to_replica)
            or self.replicate_rds_backups
            or self.replicate_buckets
        )


class PlatformConfig(Section):
    """Everything one stack of the platform needs, validated before any resource exists."""

    environment: Environment
    region: str
    owner: str = Field(min_length=1)
    cost_centre: str = Field(min_length=1)
    domain: str | None = None
    #: True for a stack deployed before bucket names carried the account id: it keeps the
    #: names it has, since S3 cannot rename a bucket and a new name would replace it.
    legacy_bucket_names: bool = False
    network: NetworkConfig = NetworkConfig()
    database: DatabaseConfig = DatabaseConfig()
    graph: GraphConfig = GraphConfig()
    cache: CacheConfig = CacheConfig()
    search: SearchConfig = SearchConfig()
    cluster: ClusterConfig = ClusterConfig()
    functions: FunctionsConfig = FunctionsConfig()
    messaging: MessagingConfig = MessagingConfig()
    edge: EdgeConfig = EdgeConfig()
    identity: IdentityConfig = IdentityConfig()
    analytics: AnalyticsConfig = AnalyticsConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    pipeline: PipelineConfig = PipelineConfig()
    payments: PaymentsConfig = PaymentsConfig()
    resilience: ResilienceConfig = ResilienceConfig()

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", value):
            raise ValueError("not an AWS region; set aws:region, e.g. eu-west-1")
        return value

    @model_validator(mode="after")
    def _cluster_endpoints(self) -> PlatformConfig:
        chosen = self.network.interface_endpoints
        missing = [e for e in CLUSTER_INTERFACE_ENDPOINTS if e not in chosen]
        if self.cluster.enabled and missing:
            raise ValueError(
                f"network.interface_endpoints lacks {missing}, but cluster.enabled: true: EKS "
                "nodes in private subnets pull images from ECR and get pod credentials from STS "
                f"through them; add {missing} to network.interface_endpoints, or set "
                "cluster.enabled: false"
            )
        return self

    @model_validator(mode="after")
    def _replica(self) -> PlatformConfig:
        r = self.resilience
        copies = r.uses_replica
        # Prod: PROD_RULES reports a missing replica Region along with prod's other problems.
        if copies and r.replica_region is None and self.environment != "prod":
            raise ValueError(
                "resilience.replica_region is not set, but backups or buckets are copied there; "
                "set resilience.replica_region: eu-central-1 (any Region but the stack's), or "
                "resilience.copy_to_replica, resilience.replicate_rds_backups and "
                "resilience.replicate_buckets: false"
            )
        if copies and r.replica_region == self.region:
            raise ValueError(
                f"resilience.replica_region={r.replica_region} is the stack's own Region: a copy "
                "there survives no regional outage; pick another Region"
            )
        if r.replicate_rds_backups and not (r.backups and r.copy_to_replica):
            raise ValueError(
                "resilience.replicate_rds_backups: true uses the backup plan's key in the replica "
                "Region; set resilience.backups and resilience.copy_to_replica: true, or "
                "resilience.replicate_rds_backups: false"
            )
        if r.replicate_rds_backups and self.database.engine != "postgres":
            raise ValueError(
                "resilience.replicate_rds_backups: true needs database.engine: postgres (RDS "
                "replicates automated backups of DB instances only, not Aurora clusters); set "
                "resilience.replicate_rds_backups: false (the backup plan still copies them)"
            )
        return self

    def regions(self) -> list[str]:
        """Every Region a `pulumi up` of this stack calls: its own, us-east-1 (CloudFront's
        certificates, web ACLs and log delivery; IAM and Route 53) and the replica Region when
        anything is copied there (the bootstrap's deploy role is limited to these)."""
        r = self.resilience
        replica = [r.replica_region] if r.uses_replica and r.replica_region else []
        return sorted({self.region, "us-east-1", *replica})

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"([a-z0-9-]+\.)+[a-z]{2,}", value):
            raise ValueError("not a DNS name; use e.g. music.example.com")
        return value
