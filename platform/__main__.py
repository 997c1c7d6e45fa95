"""The SoundStack estate: one Pulumi program composed from `components/` for the selected stack.

Run by `pulumi up` (Pulumi.yaml: `main: platform/`) and, under mocks, by `soundstack preview`.
This directory is not a Python package on purpose: `platform` is a standard-library module.
Sections follow the order resources depend on each other: foundation, edge and identity,
data and messaging, compute and API, then analytics, observability and delivery.
"""

import dataclasses
import json
from typing import Any

import pulumi

from soundstack.components import lookups
from soundstack.components.analytics import Analytics, AnalyticsArgs
from soundstack.components.api import (
    DEFAULT_ROUTES,
    EdgeSecret,
    EdgeSecretArgs,
    HttpApi,
    HttpApiArgs,
    WebSocketApi,
    WebSocketApiArgs,
)
from soundstack.components.backup import BackupArgs, BackupPlan
from soundstack.components.bootstrap import deploy_role_arn
from soundstack.components.cache import Cache, CacheArgs
from soundstack.components.cdn import CustomDomain
from soundstack.components.cluster import Cluster, ClusterArgs, NodeGroupSpec, WorkloadSpec
from soundstack.components.database import GRAPH_USERS, SERVICE_USERS, Database, DatabaseArgs
from soundstack.components.edge import EdgeArgs, EdgeProtection, EmergencyContact
from soundstack.components.function import (
    DEFAULT_LAYER_DIR,
    ActivitySettings,
    AuthSettings,
    CatalogSettings,
    DependencyLayer,
    DependencyLayerArgs,
    FeedSettings,
    FunctionCode,
    PaymentSettings,
    RecommendationSettings,
    ReminderSettings,
    ServiceFunction,
    ServiceFunctionArgs,
    ServiceSettings,
)
from soundstack.components.graph import Graph, GraphArgs
from soundstack.components.identity import (
    TRIGGER_TIMEOUT_SECONDS,
    IdentityArgs,
    SocialLogin,
    UserDirectory,
)
from soundstack.components.kms import EncryptionKey, EncryptionKeyArgs
from soundstack.components.media import MediaArgs, MediaDelivery
from soundstack.components.messaging import Messaging, MessagingArgs
from soundstack.components.monitoring import AuditTrailArgs, Monitoring, MonitoringArgs
from soundstack.components.network import Network, NetworkArgs
from soundstack.components.pipeline import DeployRunner, DeployRunnerArgs, Pipeline, PipelineArgs
from soundstack.components.provider_secrets import ProviderSecrets, ProviderSecretsArgs
from soundstack.components.search import Search, SearchArgs, SearchCollection, SearchCollectionArgs
from soundstack.components.signing import CodeSigning, CodeSigningArgs, SignedCode
from soundstack.components.web import WebApp, WebArgs
from soundstack.stacks.loader import ConfigError
from soundstack.stacks.runtime import load_from_pulumi, secret, stack_context

config = load_from_pulumi()  # fails here, before any resource, on a bad config
ctx = stack_context(config)

# --- Foundation: keys and network ----------------------------------------------------------
logs_key = EncryptionKey(
    "logs",
    EncryptionKeyArgs(
        description=f"CloudWatch Logs of {ctx.project}-{ctx.stack}",
        service_principals=[f"logs.{config.region}.amazonaws.com"],
    ),
    ctx,
)
network = Network(
    "network",
    NetworkArgs(
        cidr=config.network.cidr,
        az_count=config.network.az_count,
        nat_gateways=config.network.nat_gateways,
        flow_log_retention_days=config.network.flow_log_retention_days,
        kms_key_arn=logs_key.arn,
        min_private_azs=config.network.min_private_azs,
        interface_endpoints=config.network.interface_endpoints,
    ),
    ctx,
)

# --- Identity, media delivery, web hosting and edge protection ------------------------------
# The HTTP API cannot carry WAF or Shield itself: it is served only through the web
# distribution's /api/* behaviour (WebArgs.api_domain), which has the CloudFront web ACL and
# Shield protection; its edge authorizer refuses requests without CloudFront's origin header.
edge = EdgeProtection(
    "edge",
    EdgeArgs(
        rate_limit=config.edge.waf_rate_limit,
        api_rate_limit=config.edge.api_rate_limit,
        media_rate_limit=config.edge.media_rate_limit,
        sign_in_rate_limit=config.edge.sign_in_rate_limit,
        shield_advanced=config.edge.shield_advanced,
        log_retention_days=config.edge.log_retention_days,
        kms_key_arn=logs_key.arn,
        proactive_engagement=config.edge.proactive_engagement.enabled,
        emergency_contacts=[
            EmergencyContact(**c.model_dump()) for c in config.edge.proactive_engagement.contacts
        ],
    ),
    ctx,
)


# Music and the web app survive a Region: their buckets replicate there, CloudFront fails over.
bucket_replica_region = (
    config.resilience.replica_region if config.resilience.replicate_buckets else None
)


def custom_domain(prefix: str) -> CustomDomain | None:
    """`<prefix><domain>` in the stack's hosted zone, when both are configured."""
    if config.domain is None or config.edge.hosted_zone_id is None:
        return None
    return CustomDomain(f"{prefix}{config.domain}", config.edge.hosted_zone_id)


media = MediaDelivery(
    "media",
    MediaArgs(
        signing_public_keys=config.edge.signing_public_keys,
        web_acl_arn=edge.media_web_acl_arn,
        price_class=config.edge.price_class,
        log_retention_days=config.edge.log_retention_days,
        domain=custom_domain("media."),
        replica_region=bucket_replica_region,
        allowed_countries=config.edge.allowed_countries,
    ),
    ctx,
)
edge.protect(media, "distribution", media.distribution_arn, application_layer=True)

# --- Data tier and messaging -----------------------------------------------------------------
data_key = EncryptionKey(
    "data",
    EncryptionKeyArgs(
        description=f"Data stores and channels of {ctx.project}-{ctx.stack}",
        # SNS encrypts what it delivers into the (KMS-encrypted) subscriber queues.
        service_principals=["sns.amazonaws.com"],
    ),
    ctx,
)
# One PostgreSQL serves catalog, playlists and user preferences: one database (the project's
# name), one schema and IAM-authenticated role per service (see components/database.py).
graph_in_postgres = config.graph.engine == "postgres"
database = Database(
    "database",
    DatabaseArgs(
        network=network,
        kms_key_arn=data_key.arn,
        log_kms_key_arn=logs_key.arn,
        engine=config.database.engine,
        instance_class=config.database.instance_class,
        allocated_storage_gb=config.database.allocated_storage_gb,
        min_capacity_acu=config.database.min_capacity_acu,
        max_capacity_acu=config.database.max_capacity_acu,
        multi_az=config.database.multi_az,
        backup_retention_days=config.database.backup_retention_days,
        deletion_protection=config.database.deletion_protection,
        final_snapshot=config.database.deletion_protection,
        log_retention_days=config.monitoring.log_retention_days,
        proxy=config.database.proxy,
        users=(*SERVICE_USERS, *GRAPH_USERS) if graph_in_postgres else SERVICE_USERS,
    ),
    ctx,
)
# The activity graph: Neptune, or (graph.engine: postgres, dev) edge tables in the database.
graph = None if graph_in_postgres else Graph(
    "graph",
    GraphArgs(
        network=network,
        kms_key_arn=data_key.arn,
        log_kms_key_arn=logs_key.arn,
        serverless=config.graph.serverless,
        instance_class=config.graph.instance_class,
        min_capacity_ncu=config.graph.min_capacity_ncu,
        max_capacity_ncu=config.graph.max_capacity_ncu,
        reader_count=config.graph.reader_count,
        backup_retention_days=config.graph.backup_retention_days,
        deletion_protection=config.graph.deletion_protection,
        final_snapshot=config.graph.deletion_protection,
        log_retention_days=config.monitoring.log_retention_days,
    ),
    ctx,
)  # fmt: skip
cache = Cache(
    "cache",
    CacheArgs(
        network=network,
        kms_key_arn=data_key.arn,
        log_kms_key_arn=logs_key.arn,
        serverless=config.cache.serverless,
        node_type=config.cache.node_type,
        replicas_per_shard=config.cache.replicas_per_shard,
        multi_az=config.cache.multi_az,
        snapshot_retention_days=config.cache.snapshot_retention_days,
        log_retention_days=config.monitoring.log_retention_days,
    ),
    ctx,
)
search: Search | SearchCollection | None
if config.search.engine == "postgres":
    search = None  # PostgreSQL full-text search over the catalog's own tables (dev)
elif config.search.serverless:
    search = SearchCollection(
        "search",
        SearchCollectionArgs(
            network=network,
            kms_key_arn=data_key.arn,
            standby_replicas=config.search.zone_awareness,
        ),
        ctx,
    )
else:
    search = Search(
        "search",
        SearchArgs(
            network=network,
            kms_key_arn=data_key.arn,
            log_kms_key_arn=logs_key.arn,
            instance_type=config.search.instance_type,
            instance_count=config.search.instance_count,
            dedicated_master=config.search.dedicated_master,
            zone_awareness=config.search.zone_awareness,
            volume_size_gb=config.search.volume_size_gb,
            log_retention_days=config.monitoring.log_retention_days,
        ),
        ctx,
    )
messaging = Messaging(
    "messaging",
    MessagingArgs(
        kms_key_arn=data_key.arn,
        log_kms_key_arn=logs_key.arn,
        kinesis_mode=config.messaging.kinesis_mode,
        kinesis_shards=config.messaging.kinesis_shards,
        kinesis_retention_hours=config.messaging.kinesis_retention_hours,
        max_receive_count=config.messaging.max_receive_count,
        log_retention_days=config.monitoring.log_retention_days,
    ),
    ctx,
)
# Likes and follows update the recommendation graph; plays reach the feed through Kinesis.
graph_updates = messaging.queue(
    "graph-updates",
    consumer_timeout_seconds=config.functions.timeout_seconds,
    topic="activity",
    filter_policy={"kind": ["like", "follow"]},
)
notifications = messaging.queue(
    "notifications", consumer_timeout_seconds=config.functions.timeout_seconds,
    topic="notifications",
)  # fmt: skip


# --- Compute: service functions, API Gateway, EKS -------------------------------------------
# Lambda behind API Gateway for the request/response services; with `cluster.enabled`, catalog
# and recommendation also run as containers on EKS (README: "Where each service runs").
# Every function runs in the private subnets (Lambda.3): most use VPC-only stores, and auth and
# payment reach AWS through the endpoints and the providers through NAT.
# `make layer` fills build/layer (under the project root); the zip reaches Lambda through the
# layer's assets bucket.
# With `functions.code_signing: enforce`, the code and the layer come from the zips the deploy
# runner had Signer sign (`soundstack sign-lambda`), once it has recorded them: before that (a
# stack's first deploy, from a workstation) nothing signed exists, so the config only warns.
signed_code = None
if config.functions.code_signing == "enforce":
    record = lookups.signed_code_record(ctx.project, ctx.stack)
    signed_code = SignedCode.from_record(record) if record else None
    if signed_code is None:
        pulumi.log.warn(
            "functions.code_signing is enforce, but no signed code is recorded yet "
            f"({lookups.signed_code_parameter(ctx.project, ctx.stack)}): this deploy uploads "
            "the code unsigned under Warn; the deploy runner signs and enforces from its first run"
        )
deps_layer = DependencyLayer(
    "deps",
    DependencyLayerArgs(
        DEFAULT_LAYER_DIR, kms_key_arn=data_key.arn, access_logs=media.logs,
        signed_code=signed_code,
        description="Third-party dependencies of app_services",
    ),
    ctx,
)  # fmt: skip

code_signing = (
    CodeSigning(
        "code-signing",
        CodeSigningArgs(
            untrusted_artifact_on_deployment="Enforce" if signed_code else "Warn",
            artefacts_signed=signed_code is not None,
        ),
        ctx,
    )
    if config.functions.code_signing != "off"
    else None
)


# Through RDS Proxy services use PostgreSQL's default port; straight to the database, its own.
db_port = None if config.database.proxy else database.port


def function_args(service: str, settings: ServiceSettings, in_vpc: bool) -> ServiceFunctionArgs:
    """Sizes from `functions` config; in the private subnets when it talks to VPC-only stores;
    the database's name and port when it connects to it."""
    if settings.db_host is not None:
        settings = dataclasses.replace(settings, db_name=database.db_name, db_port=db_port)
    return ServiceFunctionArgs(
        code=FunctionCode.service(service),
        settings=settings,
        memory_mb=config.functions.memory_mb,
        timeout_seconds=config.functions.timeout_seconds,
        reserved_concurrency=config.functions.reserved_concurrency,
        log_retention_days=config.functions.log_retention_days,
        log_kms_key_arn=logs_key.arn,
        kms_key_arn=data_key.arn,
        network=network if in_vpc else None,
        layer=deps_layer,
        code_signing_config_arn=code_signing.arn if code_signing else None,
        signed_code=signed_code,
    )


graph_settings: dict[str, Any] = (
    {"graph_backend": "postgres"} if graph is None
    else {"graph_backend": "neptune", "neptune_endpoint": graph.endpoint}
)  # fmt: skip


if not config.payments.plans:
    raise ConfigError(
        f"stack {ctx.stack}",
        ["soundstack:payments.plans is empty: the Payment service needs the plans on sale; "
         "add at least one (id, kind, stripe_price_id) under soundstack:payments"],
    )  # fmt: skip
redis_url = pulumi.Output.concat("rediss://", cache.endpoint, ":", str(cache.port))
# Auth serves the user pool's triggers, so it exists before the pool (it reads the pool id from
# each trigger event) and the pool is created here rather than with the edge. Cognito waits 5 s
# for a trigger: the triggers never touch the database; post confirmation queues the profile and
# the profile writer (same code, its own function, the only one with database access) inserts it.
profiles_queue = messaging.queue(
    "profiles", consumer_timeout_seconds=config.functions.timeout_seconds
)
auth_fn = ServiceFunction(
    "auth-fn",
    dataclasses.replace(
        function_args("auth", AuthSettings(profile_queue_url=profiles_queue.url), in_vpc=True),
        timeout_seconds=TRIGGER_TIMEOUT_SECONDS,
    ),
    ctx,
)
profiles_queue.grant_send(auth_fn)
profiles_fn = ServiceFunction(
    "profiles-fn",
    function_args(
        "auth",
        ServiceSettings(db_host=database.client_endpoint, db_user="accounts", db_schema="accounts"),
        in_vpc=True,
    ),
    ctx,
)
# Two pollers at most: the writer must not take the concurrency the triggers need.
profiles_queue.trigger(profiles_fn.function_name, profiles_fn, max_concurrency=2)


def social_login(provider: str) -> SocialLogin | None:
    """Client id from config, client secret from `pulumi config set --secret`."""
    if not getattr(config.identity, f"{provider}_enabled"):
        return None
    client_secret = secret(f"{provider}_client_secret")
    if client_secret is None:
        raise ConfigError(
            f"stack {ctx.stack}",
            [
                f"soundstack:{provider}_client_secret is not set; run `pulumi config set --secret "
                f"soundstack:{provider}_client_secret <value>` or set "
                f"identity.{provider}_enabled: false"
            ],
        )
    return SocialLogin(getattr(config.identity, f"{provider}_client_id"), client_secret)


identity = UserDirectory(
    "identity",
    IdentityArgs(
        callback_urls=config.identity.callback_urls,
        logout_urls=config.identity.logout_urls,
        mfa=config.identity.mfa,
        advanced_security=config.identity.advanced_security,
        deletion_protection=config.identity.deletion_protection,
        google=social_login("google"),
        facebook=social_login("facebook"),
        pre_sign_up=auth_fn.arn,
        post_confirmation=auth_fn.arn,
    ),
    ctx,
)
edge.associate(identity, "user-pool", identity.user_pool_arn)
identity.grant_link_identities(auth_fn)
database.grant_connect(profiles_fn, user="accounts")
# One JSON secret with the Stripe and PayPal keys (app_services.payment.handler.ProviderSecrets).
payment_secrets = ProviderSecrets(
    "payment-secrets", ProviderSecretsArgs(["providers"], data_key.arn), ctx
)
client_ids = identity.web_client_id.apply(lambda c: f'["{c}"]')
# The API's edge authorizer: admits only requests carrying CloudFront's origin-verify header
# (`pulumi config set --secret soundstack:api_origin_secret "$(openssl rand -hex 32)"`), then
# verifies the user's token on user routes.
api_origin_secret = secret("api_origin_secret")
if api_origin_secret is None:
    raise ConfigError(
        f"stack {ctx.stack}",
        ["soundstack:api_origin_secret is not set: CloudFront proves requests to the API with it; "
         'run `pulumi config set --secret soundstack:api_origin_secret "$(openssl rand -hex 32)"`'],
    )  # fmt: skip
edge_secret = EdgeSecret("edge-secret", EdgeSecretArgs(api_origin_secret, data_key.arn), ctx)
gate_fn = ServiceFunction(
    "gate-fn",
    function_args(
        "auth",
        AuthSettings(api_origin_secret_arn=edge_secret.arn,
                     cognito_user_pool_id=identity.user_pool_id, cognito_client_ids=client_ids),
        in_vpc=True,
    ),
    ctx,
)  # fmt: skip
edge_secret.grant_read(gate_fn)
# The socket exists before the feed function, which needs its callback URL.
feed_api = WebSocketApi(
    "feed-socket",
    WebSocketApiArgs(
        log_retention_days=config.monitoring.log_retention_days, log_kms_key_arn=logs_key.arn
    ),
    ctx,
)
web_url = f"https://{config.domain}" if config.domain else "https://localhost:5173"
# Without Neptune the feed reads follows from the graph's tables as its own role.
feed_database: dict[str, Any] = (
    {"db_host": database.client_endpoint, "db_user": "feed", "db_schema": "activity"}
    if graph is None else {}
)  # fmt: skip
search_settings: dict[str, Any] = (
    {"search_engine": "postgres"} if search is None
    else {"search_engine": "opensearch", "opensearch_endpoint": search.endpoint,
          "opensearch_service": search.signing_service}
)  # fmt: skip
service_settings: dict[str, tuple[ServiceSettings, bool]] = {
    "catalog": (
        CatalogSettings(
            db_host=database.client_endpoint, db_user="catalog", db_schema="catalog",
            redis_url=redis_url, **search_settings,
            cdn_domain=media.domain_name, cloudfront_signing_secret_id=media.signing_secret_arn,
        ),
        True,
    ),
    "playlist": (
        ServiceSettings(db_host=database.client_endpoint, db_user="playlists",
                        db_schema="playlists", redis_url=redis_url),
        True,
    ),
    "activity": (
        ActivitySettings(activity_stream_name=messaging.stream.stream_name,
                         activity_topic_arn=messaging.topic("activity").arn,
                         db_host=database.client_endpoint, db_user="activity",
                         db_schema="activity", **graph_settings),
        True,
    ),
    "recommendation": (
        RecommendationSettings(**graph_settings, redis_url=redis_url,
                               db_host=database.client_endpoint, db_user="preferences",
                               db_schema="preferences"),
        True,
    ),
    "payment": (
        PaymentSettings(payment_secret_arn=payment_secrets.arns["providers"],
                        db_host=database.client_endpoint, db_user="payments", db_schema="payments",
                        payment_plans=json.dumps([p.model_dump(exclude_none=True)
                                                  for p in config.payments.plans]),
                        checkout_success_url=f"{web_url}/account?checkout=success",
                        checkout_cancel_url=f"{web_url}/account?checkout=cancelled"),
        True,
    ),
    "feed": (
        FeedSettings(redis_url=redis_url, **graph_settings,
                     **feed_database,
                     feed_callback_url=feed_api.management_endpoint,
                     cognito_user_pool_id=identity.user_pool_id, cognito_client_ids=client_ids),
        True,
    ),
}  # fmt: skip
functions = {
    "auth": auth_fn,
    **{
        service: ServiceFunction(f"{service}-fn", function_args(service, settings, in_vpc), ctx)
        for service, (settings, in_vpc) in service_settings.items()
    },
}
# Hourly: how long the active URL-signing key has been active, alarmed past the configured age.
reminders_fn = ServiceFunction(
    "reminders-fn",
    dataclasses.replace(
        function_args(
            "reminders",
            ReminderSettings(
                signing_secret_id=media.signing_secret_arn, metric_namespace=media.key_age_namespace
            ),
            in_vpc=True,
        ),
        reserved_concurrency=None,  # one short run an hour: nothing to reserve for it
    ),
    ctx,
)
media.remind_key_age(reminders_fn, config.edge.signing_key_max_age_days)
# Uploads reach the catalog: S3 invokes the ingest function (asynchronously) for each object
# created under uploads/ in the music bucket; it reads the object's tags and `territories`
# metadata, stores cover art under covers/, upserts the track and indexes it. A failed ingest
# is retried twice, then kept in the function's dead-letter queue (alarmed).
ingest_fn = ServiceFunction(
    "ingest-fn",
    dataclasses.replace(
        function_args(
            "catalog",
            CatalogSettings(
                db_host=database.client_endpoint, db_user="catalog", db_schema="catalog",
                redis_url=redis_url, **search_settings,
                max_ingest_bytes=config.functions.max_ingest_bytes,
            ),
            in_vpc=True,
        ),
        code=FunctionCode.service("catalog", "ingest"),
        memory_mb=config.functions.ingest_memory_mb,
        timeout_seconds=config.functions.ingest_timeout_seconds,
        duration_alarm_ms=config.functions.ingest_timeout_seconds * 800,  # 80% of the timeout
    ),
    ctx,
)  # fmt: skip
media.grant_ingest(ingest_fn)
database.grant_connect(ingest_fn, user="catalog")
cache.grant_connect(ingest_fn)
if search is not None:
    search.grant_write(ingest_fn)
media.notify_uploads(ingest_fn)
# Each function gets exactly what its service uses, through the stores' verbs.
media.grant_read(functions["catalog"])
media.grant_sign(functions["catalog"])
database.grant_connect(functions["catalog"], user="catalog")
cache.grant_connect(functions["catalog"])
if search is not None:
    search.grant_read(functions["catalog"])
    search.grant_write(functions["catalog"])
database.grant_connect(functions["playlist"], user="playlists")
cache.grant_connect(functions["playlist"])
messaging.stream.grant_put(functions["activity"])
messaging.topic("activity").grant_publish(functions["activity"])
database.grant_connect(functions["activity"], user="activity")
if graph is not None:
    graph.grant_connect(functions["activity"])
    graph.grant_connect(functions["recommendation"])
    graph.grant_read(functions["feed"])
else:
    database.grant_connect(functions["feed"], user="feed")
cache.grant_connect(functions["recommendation"])
graph_updates.trigger(functions["recommendation"].function_name, functions["recommendation"])
payment_secrets.grant_read(functions["payment"])
database.grant_connect(functions["payment"], user="payments")
database.grant_connect(functions["recommendation"], user="preferences")
messaging.topic("notifications").grant_publish(functions["payment"])
cache.grant_connect(functions["feed"])
messaging.stream.subscribe_function(functions["feed"].function_name, functions["feed"], "feed")

web_origins = [f"https://{config.domain}"] if config.domain else []
if config.environment == "dev":
    web_origins.append("http://localhost:5173")
api = HttpApi(
    "api",
    HttpApiArgs(
        functions={s: f for s, f in functions.items() if s in DEFAULT_ROUTES},
        edge_authorizer=gate_fn,
        cors_origins=web_origins,
        log_retention_days=config.monitoring.log_retention_days,
        log_kms_key_arn=logs_key.arn,
    ),
    ctx,
)
feed_api.route_to(functions["feed"])
feed_api.grant_manage_connections(functions["feed"])
websocket = feed_api

cluster: Cluster | None = None
if config.cluster.enabled and config.domain is None:
    raise ConfigError(
        f"stack {ctx.stack}",
        [
            "soundstack:cluster.enabled=true needs soundstack:domain: the cluster's ingress "
            "serves HTTPS on apps.<domain>; set domain: music.example.com or "
            "cluster.enabled: false"
        ],
    )
if config.cluster.enabled and config.domain is not None:
    asgi_environment = {
        "COGNITO_USER_POOL_ID": identity.user_pool_id,
        "COGNITO_CLIENT_IDS": client_ids,
        "REDIS_URL": redis_url,
    }
    cluster = Cluster(
        "cluster",
        ClusterArgs(
            network=network,
            domain=config.domain,
            version=config.cluster.version,
            public_endpoint=config.cluster.public_endpoint,
            public_access_cidrs=config.cluster.public_access_cidrs,
            system_nodes=NodeGroupSpec(**config.cluster.system_nodes.model_dump()),
            worker_nodes=(
                NodeGroupSpec(**config.cluster.worker_nodes.model_dump())
                if config.cluster.spot_workers
                else None
            ),
            admin_role_arns=config.cluster.admin_role_arns,
            deploy_role_arn=deploy_role_arn(ctx),
            # Recorded by the deploy runner once the images exist; None: AWS side only.
            image_tag=lookups.release_image_tag(ctx.project, ctx.stack),
            log_retention_days=config.monitoring.log_retention_days,
            log_kms_key_arn=logs_key.arn,
            web_acl_arn=edge.regional_web_acl_arn,
            shield_subscription=edge.subscription,
            hosted_zone_id=config.edge.hosted_zone_id,
            workloads=[
                WorkloadSpec(
                    "catalog", "/catalog",
                    environment={
                        **asgi_environment, "DB_HOST": database.client_endpoint,
                        "DB_NAME": database.db_name,
                        **({"DB_PORT": str(db_port)} if db_port else {}),
                        "DB_USER": "catalog", "DB_SCHEMA": "catalog",
                        **{k.upper(): v for k, v in search_settings.items()},
                        "CDN_DOMAIN": media.domain_name,
                        "CLOUDFRONT_SIGNING_SECRET_ID": media.signing_secret_arn,
                        # The ingress ALB adds no trusted country: territory-restricted
                        # tracks stream only through the web distribution's /api/*.
                        "VIEWER_COUNTRY_SOURCE": "none",
                    },
                ),
                WorkloadSpec(
                    "recommendation", "/recommendations",
                    environment={**asgi_environment,
                                 **{k.upper(): v for k, v in graph_settings.items()}},
                ),
            ],
        ),
        ctx,
    )  # fmt: skip
    pods = cluster.workloads
    media.grant_read(pods["catalog"])
    media.grant_sign(pods["catalog"])
    database.grant_connect(pods["catalog"], user="catalog")
    cache.grant_connect(pods["catalog"])
    if search is not None:
        search.grant_read(pods["catalog"])
    if graph is not None:
        graph.grant_read(pods["recommendation"])
    cache.grant_connect(pods["recommendation"])

# The web distribution fronts the SPA and, at /api/*, the HTTP API: that is how the API gets the
# CloudFront web ACL and Shield Advanced (HTTP APIs take neither directly).
web = WebApp(
    "web",
    WebArgs(
        web_acl_arn=edge.cloudfront_web_acl_arn,
        domain=custom_domain(""),
        price_class=config.edge.price_class,
        log_retention_days=config.edge.log_retention_days,
        connect_sources=[
            identity.hosted_ui_url,  # the app's only Cognito call: /oauth2/token (PKCE)
            feed_api.origin,  # the activity feed's WebSocket (wss://)
        ],
        media_sources=[pulumi.Output.concat("https://", media.domain_name)],
        api_domain=api.endpoint_domain,
        api_origin_secret=edge_secret.header_value,
        replica_region=bucket_replica_region,
    ),
    ctx,
)
edge.protect(
    web, "distribution", web.distribution_arn, health_check_fqdn=web.domain_name,
    application_layer=True,
)  # fmt: skip

pulumi.export("api_url", pulumi.Output.concat(web.url, "/api"))  # its only way in
pulumi.export("api_endpoint_domain", api.endpoint_domain)
pulumi.export("feed_websocket_url", feed_api.url)
pulumi.export(
    "function_names",
    {**{s: f.function_name for s, f in functions.items()}, "ingest": ingest_fn.function_name},
)
if cluster is not None:
    pulumi.export("cluster_name", cluster.cluster_name)
    pulumi.export("ingress_host", cluster.ingress_host)
    pulumi.export(
        "image_repositories", {s: w.repository.repository_url for s, w in cluster.workloads.items()}
    )


# --- Analytics, observability and delivery --------------------------------------------------
analytics = Analytics(
    "analytics",
    AnalyticsArgs(
        network=network,
        activity_stream_arn=messaging.stream.arn,
        activity_stream_kms_key_arn=messaging.stream.kms_key_arn,
        delivery_format=config.analytics.delivery_format,
        redshift_mode=config.analytics.redshift_mode,
        base_capacity_rpu=config.analytics.redshift_base_capacity_rpu,
        node_type=config.analytics.redshift_node_type,
        nodes=config.analytics.redshift_nodes,
        log_retention_days=config.monitoring.log_retention_days,
        logs_kms_key_arn=logs_key.arn,
        access_logs=media.logs,
        quicksight=config.analytics.quicksight,
    ),
    ctx,
)
# Every deploy of this stack runs here, inside its VPC, as its deploy role (README "Deploying
# for real"): the pipeline of the prod stack starts it for each environment.
runner = DeployRunner(
    "deploy-runner",
    DeployRunnerArgs(
        network=network,
        role_arn=deploy_role_arn(ctx),
        repositories=sorted(w.repository_name for w in cluster.workloads.values())
        if cluster
        else [],
        kms_key_arn=data_key.arn,
        log_retention_days=config.pipeline.log_retention_days,
        logs_kms_key_arn=logs_key.arn,
        sign_lambda=config.functions.code_signing == "enforce",
    ),
    ctx,
)
if cluster is not None:
    cluster.allow_api_from(runner, "build", runner.security_group_id)
# Daily AWS Backup of the stores that hold what cannot be rebuilt (README: "Recovery").
resilience = config.resilience
if resilience.backups:
    backup = BackupPlan(
        "backup",
        BackupArgs(
            retention_days=resilience.backup_retention_days,
            replica_region=resilience.replica_region if resilience.copy_to_replica else None,
            vault_lock=resilience.vault_lock,
        ),
        ctx,
    )
    backup.protect("database", database.arn)
    if graph is not None:
        backup.protect("graph", graph.cluster.arn)
    backup.protect("analytics", analytics.bucket.arn)
    if resilience.replicate_rds_backups:
        backup.replicate_instance_backups(
            "database", database.instance, config.database.backup_retention_days
        )
pipeline = (
    Pipeline(
        "pipeline",
        PipelineArgs(
            network=network,
            repository=config.pipeline.repository or "",
            connection_arn=config.pipeline.connection_arn or "",
            branch=config.pipeline.branch,
            environments=config.pipeline.environments,
            jenkins_url=config.pipeline.jenkins_url,
            jenkins_project=config.pipeline.jenkins_project,
            log_retention_days=config.pipeline.log_retention_days,
            logs_kms_key_arn=logs_key.arn,
            access_logs=media.logs,
            # The containerised services' images, built and pushed by the Images stage.
            services=sorted(cluster.workloads) if cluster else [],
        ),
        ctx,
    )
    if config.pipeline.enabled
    else None
)
# Built last: alarms and the dashboard come from the signals every component above offered.
monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        alarm_email=config.monitoring.alarm_email,
        thresholds=config.monitoring.thresholds,
        trail=AuditTrailArgs(
            retention_days=config.monitoring.trail_retention_days,
            logs_kms_key_arn=logs_key.arn,
            music_bucket_arn=media.bucket_arn,
            access_logs=media.logs,
            notifications=config.monitoring.trail_notifications,
        ),
    ),
    ctx,
)

# --- Stack outputs ---------------------------------------------------------------------------
pulumi.export("environment", config.environment)
pulumi.export("region", config.region)
pulumi.export("vpc_id", network.vpc_id)
pulumi.export("private_subnet_ids", network.private_subnet_ids)
pulumi.export("isolated_subnet_ids", network.isolated_subnet_ids)
pulumi.export("logs_kms_key_arn", logs_key.arn)
pulumi.export("data_kms_key_arn", data_key.arn)
pulumi.export("database_endpoint", database.endpoint)
if config.database.proxy:
    pulumi.export("database_proxy_endpoint", database.client_endpoint)
pulumi.export("database_master_secret_arn", database.master_secret_arn)
if graph is not None:
    pulumi.export("graph_endpoint", graph.endpoint)
    pulumi.export("graph_reader_endpoint", graph.reader_endpoint)
pulumi.export("cache_endpoint", cache.endpoint)
if search is not None:
    pulumi.export("search_endpoint", search.endpoint)
pulumi.export("topic_arns", {name: topic.arn for name, topic in messaging.topics.items()})
pulumi.export("listening_stream_arn", messaging.stream.arn)
pulumi.export("queue_urls", {name: queue.url for name, queue in messaging.queues.items()})
pulumi.export(  # soundstack redrive: each dead-letter queue and the queue it takes from
    "dead_letter_queues",
    {
        name: {
            "dlq_arn": queue.dlq_arn,
            "dlq_url": queue.dlq_url,
            "source_arn": queue.arn,
            "source_url": queue.url,
        }
        for name, queue in messaging.dead_letter_queues().items()
    },
)
pulumi.export(  # soundstack redrive: each function's on-failure queue and the function
    "function_failure_queues",
    {
        queue.component: {
            "queue_arn": queue.queue_arn,
            "queue_url": queue.queue_url,
            "function_arn": queue.function_arn,
            "function_name": queue.function_name,
        }
        for queue in ctx.failure_queues
    },
)
pulumi.export("issuer_url", identity.issuer_url)
pulumi.export("web_client_id", identity.web_client_id)
pulumi.export("user_pool_id", identity.user_pool_id)
pulumi.export("user_pool_arn", identity.user_pool_arn)
pulumi.export("hosted_ui_url", identity.hosted_ui_url)
pulumi.export("hosted_ui_domain", identity.hosted_ui_domain)  # soundstack publish-web
pulumi.export("web_url", web.url)
pulumi.export("web_bucket", web.bucket_name)
pulumi.export("web_distribution_id", web.distribution_id)
pulumi.export("web_kms_key_arn", web.kms_key_arn)  # soundstack publish-web
pulumi.export("media_bucket", media.bucket_name)
pulumi.export("media_domain", media.domain_name)
pulumi.export("media_signing_key_ids", media.signing_key_ids)
pulumi.export("media_signing_secret_arn", media.signing_secret_arn)
pulumi.export("cloudfront_web_acl_arn", edge.cloudfront_web_acl_arn)
pulumi.export("regional_web_acl_arn", edge.regional_web_acl_arn)
pulumi.export("analytics_bucket", analytics.bucket.name)
pulumi.export("redshift_endpoint", analytics.endpoint)
pulumi.export("alerts_topic_arn", monitoring.topic_arn)
if monitoring.trail is not None:
    pulumi.export("trail_arn", monitoring.trail.arn)
    if monitoring.trail.notifications_topic is not None:
        pulumi.export("trail_notifications_topic_arn", monitoring.trail.notifications_topic.arn)
if pipeline is not None:
    pulumi.export("pipeline_arn", pipeline.arn)
if code_signing is not None:  # what `soundstack sign-lambda` signs with, and where
    pulumi.export("code_signing_profile_name", code_signing.profile_name)
    pulumi.export("code_signing_profile_version_arn", code_signing.profile_version_arn)
    pulumi.export("lambda_assets_bucket", deps_layer.bucket_name)
