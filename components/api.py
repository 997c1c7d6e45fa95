"""The public API: an HTTP API in front of the service functions and a WebSocket API for the feed.

`HttpApi` maps one route set per service to its function (Lambda proxy, payload 2.0), throttles
each route, and writes JSON access logs. HTTP APIs take no WAF or Shield: the web CloudFront
distribution fronts them on `/api/*` (its origin is `HttpApi.endpoint_domain`). Who may call:

- **edge-only** (`edge_authorizer`, what the platform deploys): every route, public ones included,
  has a Lambda authorizer that admits only requests carrying the origin-verify header CloudFront
  adds (`components.cdn.ORIGIN_VERIFY_HEADER`), so the default `execute-api` endpoint answers
  403 to anyone who skips the distribution and its WAF web ACL; on user routes the same
  authorizer verifies the Cognito token and passes its claims on. No `api.<domain>` then: the
  API's only public name is the web app's `/api/*`.
- **JWT** (`jwt_issuer`/`jwt_audiences`): API Gateway's Cognito JWT authorizer on every route
  except the few that cannot carry a user token (health check, payment-provider webhooks: those
  verify the provider's signature themselves). The endpoint is reachable around CloudFront.

`WebSocketApi` carries the Real-Time Activity Feed: `$connect`, `$disconnect` and `$default`
go to the feed function, which checks the user's token on `$connect` and pushes events back
through the management endpoint (`grant_manage_connections`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pulumi
import pulumi_aws as aws

from soundstack.components import lookups
from soundstack.components.base import Component, StackContext
from soundstack.components.cdn import ORIGIN_VERIFY_HEADER
from soundstack.components.iam import Grantee
from soundstack.components.logs import log_group


class LambdaTarget(Protocol):
    """What a route needs from a function (a `ServiceFunction` is one)."""

    @property
    def function_name(self) -> pulumi.Output[str]: ...

    @property
    def invoke_arn(self) -> pulumi.Output[str]: ...


@dataclass(frozen=True)
class Route:
    """One route: `METHOD /path` on a service's function, with its own throttle."""

    method: str
    path: str
    #: Reachable without a user token. Only for callers that cannot hold one.
    public: bool = False
    #: Steady-state requests per second and burst for this route; None takes the stage default.
    rate_limit: float | None = None
    burst_limit: int | None = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def source_arn_suffix(self) -> str:
        """`<method>/<path>` as Lambda permissions match it (`*` for ANY and path parameters)."""
        method = "*" if self.method == "ANY" else self.method
        path = re.sub(r"\{[^/]+\}", "*", self.path)
        return f"{method}{path}"


def _service_routes(prefix: str, rate: float, burst: int) -> tuple[Route, ...]:
    return (
        Route("ANY", f"/{prefix}", rate_limit=rate, burst_limit=burst),
        Route("ANY", f"/{prefix}/{{proxy+}}", rate_limit=rate, burst_limit=burst),
    )


#: Route sets per function (service package name). Public routes are the exceptions: the load
#: balancer-style health check and the payment providers' webhooks (signed, not user calls).
DEFAULT_ROUTES: Mapping[str, tuple[Route, ...]] = {
    "catalog": (
        *_service_routes("catalog", 500, 1000),
        Route("GET", "/health", public=True, rate_limit=10, burst_limit=20),
    ),
    "playlist": _service_routes("playlists", 200, 400),
    "activity": _service_routes("activity", 500, 1000),
    "recommendation": _service_routes("recommendations", 200, 400),
    "payment": (
        *_service_routes("payments", 50, 100),
        Route("POST", "/payments/webhooks/stripe", public=True, rate_limit=50, burst_limit=100),
        Route("POST", "/payments/webhooks/paypal", public=True, rate_limit=50, burst_limit=100),
    ),
    "feed": _service_routes("feed", 200, 400),
}

#: One JSON object per request (APIGateway.9); `sub` identifies the user, never the token.
HTTP_ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "latency": "$context.responseLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
        "userSub": "$context.authorizer.claims.sub",
    },
    separators=(",", ":"),
)
WEBSOCKET_ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "eventType": "$context.eventType",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "connectionId": "$context.connectionId",
        "integrationError": "$context.integrationErrorMessage",
    },
    separators=(",", ":"),
)


#: AWS: authorizer result TTL "The maximum value is 3600, or 1 hour" (0 disables caching).
MAX_AUTHORIZER_TTL = 3600


@dataclass
class HttpApiArgs:
    """The HTTP API. Defaults: an authorizer on every non-public route (the edge authorizer on
    every route when given), 100 req/s per route unless the route says otherwise, a year of JSON
    access logs, TLS 1.2 on the custom domain."""

    #: Service package → its function; each gets the route set in `routes`.
    functions: Mapping[str, LambdaTarget]
    #: Cognito user pool issuer (`https://cognito-idp.<region>.amazonaws.com/<pool id>`) and the
    #: app client ids whose tokens API Gateway's JWT authorizer accepts (JWT mode).
    jwt_issuer: pulumi.Input[str] | None = None
    jwt_audiences: Sequence[pulumi.Input[str]] = field(default_factory=list)
    #: Edge-only mode: the function answering Lambda authorizer requests (the auth service's
    #: edge gate: origin-verify header, then the user's token). Replaces the JWT authorizer.
    edge_authorizer: LambdaTarget | None = None
    #: How long API Gateway reuses an edge-authorizer answer for the same header values.
    edge_authorizer_ttl_seconds: int = 300
    routes: Mapping[str, Sequence[Route]] = field(default_factory=lambda: dict(DEFAULT_ROUTES))
    #: Browser origins allowed by CORS (the web app; localhost in dev).
    cors_origins: Sequence[pulumi.Input[str]] = field(default_factory=list)
    default_rate_limit: float = 100
    default_burst_limit: int = 200
    log_retention_days: int = 365
    log_kms_key_arn: pulumi.Input[str] | None = None
    #: `api.<domain>` gets a regional custom domain with an ACM certificate when set.
    domain: str | None = None
    #: Route 53 zone of `domain`: validates the certificate and points `api.<domain>` here.
    hosted_zone_id: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        jwt_any = self.jwt_issuer is not None or bool(self.jwt_audiences)
        jwt_complete = self.jwt_issuer is not None and bool(self.jwt_audiences)
        if (self.edge_authorizer is not None) == jwt_any or jwt_any != jwt_complete:
            raise ValueError(
                "HttpApiArgs needs one authorizer: edge_authorizer (edge-only API behind "
                "CloudFront) or jwt_issuer with jwt_audiences, not both"
            )
        if self.edge_authorizer is not None and self.domain:
            raise ValueError(
                f"HttpApiArgs.domain={self.domain!r} with edge_authorizer: api.<domain> would "
                "answer only requests CloudFront signed; serve the API through the web "
                "distribution's /api/* and set domain=None"
            )
        if not 0 <= self.edge_authorizer_ttl_seconds <= MAX_AUTHORIZER_TTL:
            raise ValueError(
                f"edge_authorizer_ttl_seconds={self.edge_authorizer_ttl_seconds}: API Gateway "
                f"caches authorizer results for 0 to {MAX_AUTHORIZER_TTL} seconds"
            )
        keys = [r.key for routes in self.routes.values() for r in routes]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"routes {duplicates} are mapped more than once; keep one of each")
        unknown = sorted(set(self.routes) - set(self.functions))
        if unknown:
            raise ValueError(
                f"routes name services without a function: {unknown}; pass their functions "
                "or remove their route sets"
            )


class HttpApi(Component):
    """API Gateway HTTP API with one route set per service, guarded by the edge authorizer
    (only what CloudFront forwarded) or by a Cognito JWT authorizer."""

    TYPE = "soundstack:api:HttpApi"

    def __init__(
        self,
        name: str,
        args: HttpApiArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        cors = None
        if args.cors_origins:
            cors = aws.apigatewayv2.ApiCorsConfigurationArgs(
                allow_origins=list(args.cors_origins),
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                allow_headers=["authorization", "content-type", "idempotency-key"],
                expose_headers=["x-request-id"],
                max_age=3600,
            )
        self.api = aws.apigatewayv2.Api(
            self.child_name("api"),
            name=self.physical_name("http"),
            protocol_type="HTTP",
            description=f"SoundStack API ({ctx.stack})",
            cors_configuration=cors,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        #: Authorizer of user routes and of public routes (None: public routes have none).
        self.authorizer: aws.apigatewayv2.Authorizer
        self.public_authorizer: aws.apigatewayv2.Authorizer | None = None
        if args.edge_authorizer is not None:
            self._edge_authorizers(args.edge_authorizer, args.edge_authorizer_ttl_seconds)
        else:
            self.authorizer = aws.apigatewayv2.Authorizer(
                self.child_name("jwt"),
                api_id=self.api.id,
                name=self.physical_name("cognito-jwt"),
                authorizer_type="JWT",
                identity_sources=["$request.header.Authorization"],
                jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(
                    issuer=args.jwt_issuer, audiences=list(args.jwt_audiences)
                ),
                opts=self.child_opts(),
            )

        self.routes: dict[str, aws.apigatewayv2.Route] = {}
        for service, routes in args.routes.items():
            function = args.functions[service]
            integration = aws.apigatewayv2.Integration(
                self.child_name(f"{service}-integration"),
                api_id=self.api.id,
                integration_type="AWS_PROXY",
                integration_uri=function.invoke_arn,
                integration_method="POST",
                payload_format_version="2.0",
                timeout_milliseconds=29_000,
                opts=self.child_opts(),
            )
            for route in routes:
                self._route(service, route, function, integration)

        self.log_group = log_group(self, "access", args.log_retention_days, args.log_kms_key_arn)
        self.stage = aws.apigatewayv2.Stage(
            self.child_name("stage"),
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=self.log_group.arn, format=HTTP_ACCESS_LOG_FORMAT
            ),
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=args.default_rate_limit,
                throttling_burst_limit=args.default_burst_limit,
                detailed_metrics_enabled=True,
            ),
            route_settings=[
                aws.apigatewayv2.StageRouteSettingArgs(
                    route_key=route.key,
                    throttling_rate_limit=route.rate_limit or args.default_rate_limit,
                    throttling_burst_limit=route.burst_limit or args.default_burst_limit,
                    detailed_metrics_enabled=True,
                )
                for routes in args.routes.values()
                for route in routes
            ],
            tags=self.tags(),
            opts=self.child_opts(depends_on=list(self.routes.values())),
        )

        self.endpoint: pulumi.Output[str] = self.api.api_endpoint
        #: Host name CloudFront uses as the `/api/*` origin.
        self.endpoint_domain: pulumi.Output[str] = self.api.api_endpoint.apply(
            lambda url: url.removeprefix("https://")
        )
        self.execution_arn: pulumi.Output[str] = self.api.execution_arn
        self.url: pulumi.Output[str] = self.endpoint
        self.custom_domain: str | None = None
        if args.domain:
            self._custom_domain(args.domain, args.hosted_zone_id)

        dims = {"ApiId": self.api.id}
        self.add_signal("5xx", "API 5xx responses", "AWS/ApiGateway", "5xx", dims)
        self.add_signal(
            "latency", "API latency", "AWS/ApiGateway", "Latency", dims, statistic="Average"
        )
        self.register_outputs(
            {"endpoint": self.endpoint, "url": self.url, "execution_arn": self.execution_arn}
        )

    def _edge_authorizers(self, function: LambdaTarget, ttl_seconds: int) -> None:
        """Two Lambda authorizers on `function`: user routes need the origin-verify header and
        a token, public routes only the header. API Gateway answers 401 itself when an identity
        source is missing and caches each answer per identity-source values for `ttl_seconds`.
        """
        origin = f"$request.header.{ORIGIN_VERIFY_HEADER}"
        made = {}
        for role, sources in (
            ("edge-user", [origin, "$request.header.Authorization"]),
            ("edge-public", [origin]),
        ):
            made[role] = aws.apigatewayv2.Authorizer(
                self.child_name(role),
                api_id=self.api.id,
                name=self.physical_name(role),
                authorizer_type="REQUEST",
                authorizer_uri=function.invoke_arn,
                # AWS: the payload format is "Required for HTTP API Lambda authorizers"; simple
                # responses (isAuthorized + context) need format 2.0.
                authorizer_payload_format_version="2.0",
                enable_simple_responses=True,
                identity_sources=sources,
                authorizer_result_ttl_in_seconds=ttl_seconds,
                opts=self.child_opts(),
            )
            aws.lambda_.Permission(
                self.child_name(f"invoke-{role}"),
                action="lambda:InvokeFunction",
                function=function.function_name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.all(self.api.execution_arn, made[role].id).apply(
                    lambda a: f"{a[0]}/authorizers/{a[1]}"
                ),
                opts=self.child_opts(),
            )
        self.authorizer = made["edge-user"]
        self.public_authorizer = made["edge-public"]

    def _route(
        self,
        service: str,
        route: Route,
        function: LambdaTarget,
        integration: aws.apigatewayv2.Integration,
    ) -> None:
        slug = re.sub(r"[^a-z0-9]+", "-", f"{route.method} {route.path}".lower()).strip("-")
        edge = self.public_authorizer is not None
        authorizer = self.public_authorizer if route.public else self.authorizer
        self.routes[route.key] = aws.apigatewayv2.Route(
            self.child_name(f"route-{slug}"),
            api_id=self.api.id,
            route_key=route.key,
            target=integration.id.apply(lambda i: f"integrations/{i}"),
            authorization_type="CUSTOM" if edge else "NONE" if route.public else "JWT",
            authorizer_id=authorizer.id if authorizer is not None else None,
            opts=self.child_opts(),
        )
        aws.lambda_.Permission(
            self.child_name(f"invoke-{slug}"),
            action="lambda:InvokeFunction",
            function=function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=self.api.execution_arn.apply(
                lambda arn: f"{arn}/*/{route.source_arn_suffix}"
            ),
            opts=self.child_opts(),
        )

    def _custom_domain(self, domain: str, zone_id: pulumi.Input[str] | None) -> None:
        host = f"api.{domain}"
        self.custom_domain = host
        cert = aws.acm.Certificate(
            self.child_name("cert"),
            domain_name=host,
            validation_method="DNS",
            key_algorithm="EC_prime256v1",
            tags=self.tags({"Name": host}),
            opts=self.child_opts(),
        )
        certificate_arn: pulumi.Output[str] = cert.arn
        if zone_id is not None:
            option = cert.domain_validation_options[0]
            record = aws.route53.Record(
                self.child_name("cert-validation"),
                zone_id=zone_id,
                name=option.resource_record_name,
                type=option.resource_record_type,
                records=[option.resource_record_value],
                ttl=300,
                allow_overwrite=True,
                opts=self.child_opts(),
            )
            certificate_arn = aws.acm.CertificateValidation(
                self.child_name("cert-validated"),
                certificate_arn=cert.arn,
                validation_record_fqdns=[record.fqdn],
                opts=self.child_opts(),
            ).certificate_arn
        domain_name = aws.apigatewayv2.DomainName(
            self.child_name("domain"),
            domain_name=host,
            domain_name_configuration=aws.apigatewayv2.DomainNameDomainNameConfigurationArgs(
                certificate_arn=certificate_arn,
                endpoint_type="REGIONAL",
                security_policy="TLS_1_2",
            ),
            tags=self.tags(),
            opts=self.child_opts(),
        )
        aws.apigatewayv2.ApiMapping(
            self.child_name("mapping"),
            api_id=self.api.id,
            domain_name=domain_name.id,
            stage=self.stage.id,
            opts=self.child_opts(),
        )
        if zone_id is not None:
            target = domain_name.domain_name_configuration
            aws.route53.Record(
                self.child_name("alias"),
                zone_id=zone_id,
                name=host,
                type="A",
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=target.target_domain_name,
                        zone_id=target.hosted_zone_id,
                        evaluate_target_health=False,
                    )
                ],
                opts=self.child_opts(),
            )
        self.url = pulumi.Output.from_input(f"https://{host}")


@dataclass
class EdgeSecretArgs:
    """The origin-verify value: `value` is `current` or, while rotating, `current,previous`
    (the edge authorizer accepts both, CloudFront sends `current`)."""

    value: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    #: Days a deleted secret can still be restored (Secrets Manager: 7 to 30).
    recovery_window_days: int = 7

    def __post_init__(self) -> None:
        if not 7 <= self.recovery_window_days <= 30:
            raise ValueError(
                f"EdgeSecretArgs.recovery_window_days={self.recovery_window_days}: Secrets "
                "Manager allows 7 to 30"
            )


class EdgeSecret(Component):
    """The shared secret that proves a request to the API came through the web distribution.

    Kept in Secrets Manager (KMS-encrypted) for the edge authorizer (`grant_read`), and handed
    to the distribution's API origin as `header_value` (a Pulumi secret: CloudFront stores
    origin headers in its configuration, readable by `cloudfront:GetDistributionConfig`).
    """

    TYPE = "soundstack:api:EdgeSecret"

    def __init__(
        self,
        name: str,
        args: EdgeSecretArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.kms_key_arn = args.kms_key_arn
        self.secret = aws.secretsmanager.Secret(
            self.child_name("secret"),
            # not `…-verify`: Secrets Manager reads a trailing hyphen + six characters as the
            # random suffix of an ARN ("Do not end your secret name with a hyphen followed by six
            # characters").
            name=self.physical_name("origin-verify-value", "secret"),
            description=f"{ORIGIN_VERIFY_HEADER} values the API's edge authorizer accepts",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=args.recovery_window_days,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        value = pulumi.Output.secret(args.value)
        aws.secretsmanager.SecretVersion(
            self.child_name("value"),
            secret_id=self.secret.id,
            secret_string=value,
            opts=self.child_opts(),
        )
        self.arn: pulumi.Output[str] = self.secret.arn
        #: What CloudFront sends: the current value (the first of `current,previous`).
        self.header_value: pulumi.Output[str] = pulumi.Output.secret(
            value.apply(lambda v: v.split(",")[0].strip())
        )
        self.register_outputs({"arn": self.arn})

    def grant_read(self, grantee: Grantee) -> None:
        """Let `grantee` (the edge authorizer) read the accepted values."""
        grantee.grant(
            "ReadOriginVerifySecret",
            ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            [self.arn],
        )
        grantee.grant(
            "DecryptOriginVerifySecret",
            ["kms:Decrypt"],
            [self.kms_key_arn],
            {"StringEquals": {"kms:ViaService": f"secretsmanager.{self.ctx.region}.amazonaws.com"}},
        )


@dataclass
class WebSocketApiArgs:
    """The feed's WebSocket API. Defaults: 100 messages/s per route, a year of access logs."""

    rate_limit: float = 100
    burst_limit: int = 200
    log_retention_days: int = 365
    log_kms_key_arn: pulumi.Input[str] | None = None
    #: Set the region's API Gateway CloudWatch role (needed once per account and region for
    #: WebSocket access logs; turn off if another stack of the account already sets it).
    manage_account_log_role: bool = True


class WebSocketApi(Component):
    """API Gateway WebSocket API for the Real-Time Activity Feed.

    Built before its function (which needs `management_endpoint`); `route_to(function)` then
    sends `$connect`, `$disconnect` and `$default` to it.
    """

    TYPE = "soundstack:api:WebSocketApi"
    ROUTES = ("$connect", "$disconnect", "$default")

    def __init__(
        self,
        name: str,
        args: WebSocketApiArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.api = aws.apigatewayv2.Api(
            self.child_name("api"),
            name=self.physical_name("ws"),
            protocol_type="WEBSOCKET",
            route_selection_expression="$request.body.action",
            description=f"SoundStack activity feed ({ctx.stack})",
            tags=self.tags(),
            opts=self.child_opts(),
        )
        depends: list[pulumi.Resource] = []
        if args.manage_account_log_role:
            depends.append(self._account_log_role())
        self.log_group = log_group(self, "access", args.log_retention_days, args.log_kms_key_arn)
        self.stage_name = ctx.stack
        # Auto-deploy publishes the routes `route_to` adds.
        self.stage = aws.apigatewayv2.Stage(
            self.child_name("stage"),
            api_id=self.api.id,
            name=self.stage_name,
            auto_deploy=True,
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=self.log_group.arn, format=WEBSOCKET_ACCESS_LOG_FORMAT
            ),
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=args.rate_limit,
                throttling_burst_limit=args.burst_limit,
                detailed_metrics_enabled=True,
                # Execution errors only: INFO would log message metadata of every frame.
                logging_level="ERROR",
                data_trace_enabled=False,
            ),
            tags=self.tags(),
            opts=self.child_opts(depends_on=depends),
        )
        #: `wss://` URL clients connect to.
        self.url: pulumi.Output[str] = pulumi.Output.concat(
            self.api.api_endpoint, "/", self.stage_name
        )
        #: `wss://<id>.execute-api.<region>.amazonaws.com`: the origin a page's CSP
        #: `connect-src` must list for browsers to open the socket (a source with a path would
        #: match only that path; the origin is exact and covers the stage).
        self.origin: pulumi.Output[str] = self.api.api_endpoint
        #: HTTPS endpoint the feed posts to (`@connections/<id>`), e.g. boto3 `endpoint_url`.
        self.management_endpoint: pulumi.Output[str] = self.url.apply(
            lambda url: "https://" + url.removeprefix("wss://")
        )
        self.execution_arn: pulumi.Output[str] = self.api.execution_arn
        dims = {"ApiId": self.api.id, "Stage": self.stage_name}
        self.add_signal("5xx", "feed socket errors", "AWS/ApiGateway", "IntegrationError", dims)
        self.register_outputs(
            {
                "url": self.url,
                "origin": self.origin,
                "management_endpoint": self.management_endpoint,
            }
        )

    def route_to(self, function: LambdaTarget) -> None:
        """Send `$connect`, `$disconnect` and `$default` to `function`, which only this API may
        invoke. `$connect` is guarded by a REQUEST authorizer (the same function, token from
        `?token=`): the only WebSocket route AWS lets carry one, and the only way in."""
        integration = aws.apigatewayv2.Integration(
            self.child_name("integration"),
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            integration_uri=function.invoke_arn,
            integration_method="POST",
            opts=self.child_opts(),
        )
        authorizer = aws.apigatewayv2.Authorizer(
            self.child_name("connect-authorizer"),
            api_id=self.api.id,
            name=self.physical_name("connect"),
            authorizer_type="REQUEST",
            authorizer_uri=function.invoke_arn,
            identity_sources=["route.request.querystring.token"],
            opts=self.child_opts(),
        )
        aws.lambda_.Permission(
            self.child_name("invoke-authorizer"),
            action="lambda:InvokeFunction",
            function=function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.all(self.api.execution_arn, authorizer.id).apply(
                lambda a: f"{a[0]}/authorizers/{a[1]}"
            ),
            opts=self.child_opts(),
        )
        for key in self.ROUTES:
            slug = key.removeprefix("$")
            # AWS allows an authorizer on $connect only; the other routes exist only on a
            # connection that $connect admitted.
            guarded = key == "$connect"
            aws.apigatewayv2.Route(
                self.child_name(f"route-{slug}"),
                api_id=self.api.id,
                route_key=key,
                target=integration.id.apply(lambda i: f"integrations/{i}"),
                authorization_type="CUSTOM" if guarded else "NONE",
                authorizer_id=authorizer.id if guarded else None,
                opts=self.child_opts(),
            )
            aws.lambda_.Permission(
                self.child_name(f"invoke-{slug}"),
                action="lambda:InvokeFunction",
                function=function.function_name,
                principal="apigateway.amazonaws.com",
                source_arn=self.api.execution_arn.apply(lambda arn, k=key: f"{arn}/*/{k}"),
                opts=self.child_opts(),
            )

    def _account_log_role(self) -> aws.apigateway.Account:
        role = aws.iam.Role(
            self.child_name("cloudwatch-role"),
            name=self.physical_name("apigw-logs", "iam_role"),
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "apigateway.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            managed_policy_arns=[
                f"arn:{lookups.partition()}:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs"
            ],
            tags=self.tags(),
            opts=self.child_opts(),
        )
        return aws.apigateway.Account(
            self.child_name("account"), cloudwatch_role_arn=role.arn, opts=self.child_opts()
        )

    def grant_manage_connections(self, grantee: Grantee) -> None:
        """Let `grantee` post to, read and close connections of this API's stage."""
        grantee.grant(
            "ManageFeedConnections",
            ["execute-api:ManageConnections"],
            [self.api.execution_arn.apply(lambda arn: f"{arn}/{self.stage_name}/*/@connections/*")],
        )
