"""Defaults pass the pack: every component, built with only its required arguments, registers
nothing the policy pack (at its own default levels) refuses.

Each component gets a tiny program: the component with its required args only and, where one
of those is another component's handle (a network, a KMS key, a stream …), that component built
with its required args only too. Every program also holds an `AuditTrail` (required args only):
`stack-audit-trail` asks each stack for one, whatever the components.

Prod adds rules no single component can satisfy by its defaults, because they are about how a
stack composes components or need a choice only the stack can make (`COMPOSED_IN_PROD`); prod
is checked to violate nothing else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pulumi
import pulumi_aws as aws
import pytest

from soundstack.components import (
    analytics,
    api,
    backup,
    bootstrap,
    cache,
    cluster,
    database,
    edge,
    function,
    graph,
    iam,
    identity,
    kms,
    media,
    messaging,
    monitoring,
    network,
    pipeline,
    provider_secrets,
    search,
    signing,
    web,
)
from soundstack.components.base import StackContext
from soundstack.engine import evaluate
from soundstack.stacks.loader import load_stack
from tests.conftest import make_ctx, run_program
from tests.test_conventions import all_component_classes

#: Prod rules about composition, and what satisfies each (none is a default of one component).
COMPOSED_IN_PROD = {
    "backup-plan-coverage": "a BackupPlan protecting the store (BackupPlan.protect)",
    "backup-cross-region-copy": "BackupArgs.replica_region: a Region only the stack can pick",
    "rds-backup-replication": "BackupPlan.replicate_instance_backups to the replica Region",
    "lambda-code-signing": "a CodeSigning config and signed artefacts from the pipeline",
    "s3-replication": "replication.replicate to a replica Region (resilience.replica_region): "
    "only the stack can pick it",
    "cloudfront-origin-failover": "an origin group needs the replica bucket above",
    "backup-failure-alerts": "Monitoring taking the plan's failure events (Component.add_alert_event)",
    "cloudfront-geo-restriction": "MediaArgs.allowed_countries: the countries the catalog is "
    "licensed in, which only the business knows",
    "signing-key-age-alarm": "a scheduled function for MediaDelivery.remind_key_age",
    "stack-edge-protection": "Shield Advanced (USD 3,000 a month, a yearly commitment): "
    "EdgeProtection with shield_advanced and EdgeProtection.protect",
}
#: The bootstrap's deploy role manages every service of the estate by design (README
#: "Deploying for real"): its `svc:*` statements, inside a permissions boundary of the same
#: services, are what the once-per-account admin program creates, outside any stack's pack.
BY_DESIGN = {"soundstack:bootstrap:DeployRoles": {"iam-no-wildcard-actions"}}


def key(ctx: StackContext) -> pulumi.Output[str]:
    return kms.EncryptionKey("key", kms.EncryptionKeyArgs("test data"), ctx).arn


def net(ctx: StackContext) -> network.Network:
    return network.Network("network", network.NetworkArgs(), ctx)


def fn(ctx: StackContext, service: str = "catalog") -> function.ServiceFunction:
    return function.ServiceFunction(
        f"{service}-fn", function.ServiceFunctionArgs(function.FunctionCode.service(service)), ctx
    )


def http_api(ctx: StackContext) -> api.HttpApi:
    """One authorizer is required; the pack wants the edge one (`deploy-api-behind-web-acl`):
    WAF cannot be associated with an HTTP API, so it is served only as a web app's /api/*,
    whose requests carry the origin-verify header the gate checks (`apigw-waf`)."""
    http = api.HttpApi(
        "api",
        api.HttpApiArgs(
            functions={service: fn(ctx, service) for service in api.DEFAULT_ROUTES},
            edge_authorizer=fn(ctx, "auth"),
        ),
        ctx,
    )
    web.WebApp(
        "web",
        web.WebArgs(api_domain=http.endpoint_domain, api_origin_secret="origin-value"),
        ctx,
    )
    return http


def pem() -> str:
    return load_stack("dev").edge.signing_public_keys[0]


BUILDERS: dict[str, Callable[[StackContext], object]] = {
    "soundstack:analytics:Analytics": lambda c: analytics.Analytics(
        "analytics",
        analytics.AnalyticsArgs(
            net(c), messaging.Stream("stream", messaging.StreamArgs(key(c)), c).arn
        ),
        c,
    ),
    "soundstack:api:EdgeSecret": lambda c: api.EdgeSecret(
        "edge-secret", api.EdgeSecretArgs("origin-value", key(c)), c
    ),
    "soundstack:api:HttpApi": http_api,
    "soundstack:api:WebSocketApi": lambda c: api.WebSocketApi("feed", api.WebSocketApiArgs(), c),
    "soundstack:backup:BackupPlan": lambda c: backup.BackupPlan("backup", backup.BackupArgs(), c),
    "soundstack:bootstrap:DeployRoles": lambda c: bootstrap.DeployRoles(
        "deploy",
        bootstrap.DeployRolesArgs(["test"], ["arn:aws:iam::123456789012:role/PlatformAdmin"]),
        c,
    ),
    "soundstack:cache:Cache": lambda c: cache.Cache("cache", cache.CacheArgs(net(c), key(c)), c),
    "soundstack:cluster:Cluster": lambda c: cluster.Cluster(
        "cluster", cluster.ClusterArgs(net(c), "example.com"), c
    ),
    "soundstack:cluster:Workload": lambda c: cluster.Cluster(
        "cluster",
        cluster.ClusterArgs(
            net(c), "example.com", workloads=[cluster.WorkloadSpec("catalog", "/catalog")]
        ),
        c,
    ),
    "soundstack:database:Database": lambda c: database.Database(
        "db", database.DatabaseArgs(net(c), key(c)), c
    ),
    "soundstack:edge:EdgeProtection": lambda c: edge.EdgeProtection("edge", edge.EdgeArgs(), c),
    "soundstack:function:DependencyLayer": lambda c: function.DependencyLayer(
        "deps", function.DependencyLayerArgs(), c
    ),
    "soundstack:function:ServiceFunction": fn,
    "soundstack:graph:Graph": lambda c: graph.Graph("graph", graph.GraphArgs(net(c), key(c)), c),
    # A role needs someone who may assume it: `services` (or a trust policy) is required.
    "soundstack:iam:ServiceRole": lambda c: iam.ServiceRole(
        "role", iam.ServiceRoleArgs(services=["lambda.amazonaws.com"]), c
    ),
    "soundstack:identity:UserDirectory": lambda c: identity.UserDirectory(
        "identity",
        identity.IdentityArgs(["https://example.com/callback"], ["https://example.com/"]),
        c,
    ),
    "soundstack:kms:EncryptionKey": key,
    "soundstack:media:MediaDelivery": lambda c: media.MediaDelivery(
        "media", media.MediaArgs([pem()]), c
    ),
    "soundstack:messaging:Messaging": lambda c: messaging.Messaging(
        "messaging", messaging.MessagingArgs(key(c)), c
    ),
    "soundstack:messaging:Queue": lambda c: messaging.Queue(
        "queue", messaging.QueueArgs(key(c)), c
    ),
    "soundstack:messaging:Stream": lambda c: messaging.Stream(
        "stream", messaging.StreamArgs(key(c)), c
    ),
    "soundstack:messaging:Topic": lambda c: messaging.Topic(
        "topic", messaging.TopicArgs(key(c)), c
    ),
    "soundstack:monitoring:AuditTrail": lambda c: monitoring.AuditTrail(
        "trail", monitoring.AuditTrailArgs(), c
    ),
    "soundstack:monitoring:Monitoring": lambda c: monitoring.Monitoring(
        "monitoring", monitoring.MonitoringArgs(), c
    ),
    "soundstack:network:Network": net,
    "soundstack:pipeline:DeployRunner": lambda c: pipeline.DeployRunner(
        "runner",
        pipeline.DeployRunnerArgs(net(c), "arn:aws:iam::123456789012:role/deploy", key(c)),
        c,
    ),
    "soundstack:pipeline:Pipeline": lambda c: pipeline.Pipeline(
        "pipeline",
        pipeline.PipelineArgs(
            net(c),
            "acme/platform",
            "arn:aws:codeconnections:eu-west-1:123456789012:connection/0a1b2c3d",
        ),
        c,
    ),
    "soundstack:provider_secrets:ProviderSecrets": lambda c: provider_secrets.ProviderSecrets(
        "payment", provider_secrets.ProviderSecretsArgs(["stripe", "paypal"], key(c)), c
    ),
    "soundstack:search:Search": lambda c: search.Search(
        "search", search.SearchArgs(net(c), key(c)), c
    ),
    "soundstack:search:SearchCollection": lambda c: search.SearchCollection(
        "search", search.SearchCollectionArgs(net(c), key(c)), c
    ),
    "soundstack:signing:CodeSigning": lambda c: signing.CodeSigning(
        "signing", signing.CodeSigningArgs(), c
    ),
    "soundstack:web:WebApp": lambda c: web.WebApp("web", web.WebArgs(), c),
}
#: Components that are (or hold) the audit trail themselves.
WITH_TRAIL = {"soundstack:monitoring:AuditTrail", "soundstack:monitoring:Monitoring"}
TOKENS = sorted(cls.TYPE for cls in all_component_classes())


def test_every_component_has_a_program():
    assert sorted(BUILDERS) == TOKENS


@functools.cache
def mandatory(token: str, environment: str) -> list[tuple[str, str, str]]:
    """(policy, resource, message) of each mandatory violation of `token`'s program."""

    def program() -> None:
        ctx = make_ctx(environment, stack="test")
        BUILDERS[token](ctx)
        if token not in WITH_TRAIL:
            monitoring.AuditTrail("audit", monitoring.AuditTrailArgs(), ctx)

    synth = run_program(program)
    assert synth.by_type(token), f"the program builds no {token}"
    return [
        (v.policy, v.urn.rsplit("::", 1)[-1], v.message)
        for v in evaluate(synth, config={})
        if v.level == "mandatory" and v.policy not in BY_DESIGN.get(token, set())
    ]


@pytest.mark.parametrize("environment", ["dev", "staging"])
@pytest.mark.parametrize("token", TOKENS)
def test_required_args_alone_violate_nothing_mandatory(token, environment):
    assert mandatory(token, environment) == []


@pytest.mark.parametrize("token", TOKENS)
def test_in_prod_required_args_alone_violate_only_composition_rules(token):
    found = mandatory(token, "prod")
    assert [v for v in found if v[0] not in COMPOSED_IN_PROD] == []


def test_every_composition_rule_excused_in_prod_is_met_by_some_component():
    """The prod exemptions stay honest: each is a rule some component's defaults do hit."""
    hit = {policy for token in TOKENS for policy, _, _ in mandatory(token, "prod")}
    assert set(COMPOSED_IN_PROD) <= hit


def test_the_same_evaluation_refuses_a_log_group_without_a_key():
    """What the checks above rely on can fail: a bare log group is refused."""

    def program() -> None:
        ctx = make_ctx("staging", stack="test")
        trail = monitoring.AuditTrail("audit", monitoring.AuditTrailArgs(), ctx)
        aws.cloudwatch.LogGroup(
            "audit-bare-logs",
            retention_in_days=365,
            tags=ctx.tags("test"),
            opts=pulumi.ResourceOptions(parent=trail),
        )

    synth = run_program(program)
    found = {(v.policy, v.urn.rsplit("::", 1)[-1]) for v in evaluate(synth, config={})
             if v.level == "mandatory"}  # fmt: skip
    assert found == {("log-group-encrypted", "audit-bare-logs")}
