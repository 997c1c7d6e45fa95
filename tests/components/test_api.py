"""HTTP and WebSocket APIs: who may call what, throttles, logs, and the feed's connections."""

from __future__ import annotations

import json

import pulumi
import pytest

from soundstack.components.api import (
    DEFAULT_ROUTES,
    EdgeSecret,
    EdgeSecretArgs,
    HttpApi,
    HttpApiArgs,
    Route,
    WebSocketApi,
    WebSocketApiArgs,
)
from soundstack.components.cdn import ORIGIN_VERIFY_HEADER
from soundstack.components.iam import ServiceRole, ServiceRoleArgs
from tests.conftest import make_ctx, run_program

PUBLIC = {"GET /health", "POST /payments/webhooks/stripe", "POST /payments/webhooks/paypal"}
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Test"


class FakeFunction:
    """What a route needs from a function: its name and invoke ARN."""

    def __init__(self, service: str) -> None:
        self.service = service

    @property
    def function_name(self) -> pulumi.Output[str]:
        return pulumi.Output.from_input(self.service)

    @property
    def invoke_arn(self) -> pulumi.Output[str]:
        arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{self.service}"
        return pulumi.Output.from_input(
            f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{arn}/invocations"
        )


def build_http(**overrides):
    def program():
        functions = {s: FakeFunction(s) for s in DEFAULT_ROUTES}
        args = {"jwt_issuer": ISSUER, "jwt_audiences": ["web-client"], "functions": functions,
                "cors_origins": ["https://music.example.com"], **overrides}  # fmt: skip
        HttpApi("api", HttpApiArgs(**args), make_ctx(stack="test"))

    return run_program(program)


def routes_by_key(synth, api_name_suffix="-http"):
    apis = {a.urn: a for a in synth.by_type("aws:apigatewayv2/api:Api")}
    http_ids = {a.id for a in apis.values() if a.inputs["protocolType"] == "HTTP"}
    return {
        r.inputs["routeKey"]: r
        for r in synth.by_type("aws:apigatewayv2/route:Route")
        if r.inputs["apiId"] in http_ids
    }


def assert_authorization(synth):
    (authorizer,) = [a for a in synth.by_type("aws:apigatewayv2/authorizer:Authorizer")
                     if a.inputs["authorizerType"] == "JWT"]  # fmt: skip
    routes = routes_by_key(synth)
    assert set(routes) >= PUBLIC
    for key, route in routes.items():
        if key in PUBLIC:
            assert route.inputs["authorizationType"] == "NONE", key
            assert "authorizerId" not in route.inputs, key
        else:
            assert route.inputs["authorizationType"] == "JWT", key
            assert route.inputs["authorizerId"] == authorizer.id, key
    return authorizer, routes


def test_every_route_but_health_and_webhooks_needs_a_cognito_token():
    synth = build_http()
    authorizer, routes = assert_authorization(synth)
    assert authorizer.inputs["jwtConfiguration"] == {"issuer": ISSUER, "audiences": ["web-client"]}
    assert authorizer.inputs["identitySources"] == ["$request.header.Authorization"]
    prefixes = {key.split()[1].split("/")[1] for key in routes}
    assert prefixes >= {"catalog", "playlists", "activity", "recommendations", "payments", "feed"}


def test_each_route_may_invoke_only_its_function_through_this_api():
    synth = build_http()
    permissions = synth.by_type("aws:lambda/permission:Permission")
    routes = routes_by_key(synth)
    assert len(permissions) == len(routes)
    execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:"
    for p in permissions:
        assert p.inputs["principal"] == "apigateway.amazonaws.com"
        assert p.inputs["sourceArn"].startswith(execution_arn)
        assert p.inputs["sourceArn"].count("/") >= 3  # api/stage/method/path, never api/*
    stripe = next(p for p in permissions if p.name.endswith("webhooks-stripe"))
    assert stripe.inputs["function"] == "payment"
    assert stripe.inputs["sourceArn"].endswith("/*/POST/payments/webhooks/stripe")
    proxy = next(p for p in permissions if p.name.endswith("any-catalog-proxy"))
    assert proxy.inputs["sourceArn"].endswith("/*/*/catalog/*")
    for integration in synth.by_type("aws:apigatewayv2/integration:Integration"):
        assert integration.inputs["integrationType"] == "AWS_PROXY"
        assert integration.inputs["payloadFormatVersion"] == "2.0"


def test_stage_throttles_each_route_and_logs_json_to_a_kept_group():
    synth = build_http(log_retention_days=365)
    (stage,) = synth.by_type("aws:apigatewayv2/stage:Stage")
    assert stage.inputs["name"] == "$default" and stage.inputs["autoDeploy"] is True
    settings = {s["routeKey"]: s for s in stage.inputs["routeSettings"]}
    assert set(settings) == set(routes_by_key(synth))
    assert settings["POST /payments/webhooks/stripe"]["throttlingRateLimit"] == 50
    assert settings["ANY /catalog/{proxy+}"]["throttlingRateLimit"] == 500
    assert all(s["throttlingBurstLimit"] > 0 for s in settings.values())
    log_format = json.loads(stage.inputs["accessLogSettings"]["format"])
    assert {"requestId", "status", "routeKey", "ip"} <= set(log_format)
    (group,) = synth.by_type("aws:cloudwatch/logGroup:LogGroup")
    assert stage.inputs["accessLogSettings"]["destinationArn"].endswith(group.inputs["name"])
    assert group.inputs["retentionInDays"] == 365


def test_cors_allows_only_the_configured_origins():
    synth = build_http(cors_origins=["https://music.example.com", "http://localhost:5173"])
    (api,) = synth.by_type("aws:apigatewayv2/api:Api")
    cors = api.inputs["corsConfiguration"]
    assert cors["allowOrigins"] == ["https://music.example.com", "http://localhost:5173"]
    assert "*" not in cors["allowOrigins"] and "authorization" in cors["allowHeaders"]
    synth = build_http(cors_origins=[])
    (api,) = synth.by_type("aws:apigatewayv2/api:Api")
    assert "corsConfiguration" not in api.inputs


def test_custom_domain_only_when_configured():
    assert not build_http().by_type("aws:apigatewayv2/domainName:DomainName")
    synth = build_http(domain="music.example.com", hosted_zone_id="Z0123456789ABC")
    (domain,) = synth.by_type("aws:apigatewayv2/domainName:DomainName")
    assert domain.inputs["domainName"] == "api.music.example.com"
    config = domain.inputs["domainNameConfiguration"]
    assert config["endpointType"] == "REGIONAL" and config["securityPolicy"] == "TLS_1_2"
    (cert,) = synth.by_type("aws:acm/certificate:Certificate")
    assert cert.inputs["domainName"] == "api.music.example.com"
    (mapping,) = synth.by_type("aws:apigatewayv2/apiMapping:ApiMapping")
    assert mapping.inputs["stage"] == "$default"
    alias = [r for r in synth.by_type("aws:route53/record:Record") if r.inputs["type"] == "A"]
    assert alias[0].inputs["name"] == "api.music.example.com"


def test_route_table_mistakes_fail_before_any_resource():
    functions = {s: FakeFunction(s) for s in DEFAULT_ROUTES}
    dup = {"catalog": (Route("GET", "/x"),), "feed": (Route("GET", "/x"),)}
    with pytest.raises(ValueError, match="mapped more than once"):
        HttpApiArgs(jwt_issuer=ISSUER, jwt_audiences=["a"], functions=functions, routes=dup)
    with pytest.raises(ValueError, match="without a function"):
        HttpApiArgs(jwt_issuer=ISSUER, jwt_audiences=["a"], functions={}, routes=DEFAULT_ROUTES)


def test_websocket_routes_logs_and_connection_management():
    def program():
        ctx = make_ctx(stack="test")
        socket = WebSocketApi("feed-socket", WebSocketApiArgs(), ctx)
        socket.route_to(FakeFunction("feed"))
        role = ServiceRole("feed-fn", ServiceRoleArgs(services=["lambda.amazonaws.com"]), ctx)
        socket.grant_manage_connections(role)
        pulumi.export("management", socket.management_endpoint)
        pulumi.export("url", socket.url)

    synth = run_program(program)
    (api,) = synth.by_type("aws:apigatewayv2/api:Api")
    assert api.inputs["protocolType"] == "WEBSOCKET"
    keys = {r.inputs["routeKey"] for r in synth.by_type("aws:apigatewayv2/route:Route")}
    assert keys == {"$connect", "$disconnect", "$default"}
    (stage,) = synth.by_type("aws:apigatewayv2/stage:Stage")
    assert stage.inputs["name"] == "test"
    assert stage.inputs["defaultRouteSettings"]["loggingLevel"] == "ERROR"
    assert synth.by_type("aws:apigateway/account:Account")
    assert json.loads(stage.inputs["accessLogSettings"]["format"])["connectionId"]
    sources = sorted(p.inputs["sourceArn"].rsplit("/", 1)[1]
                     for p in synth.by_type("aws:lambda/permission:Permission"))  # fmt: skip
    (authorizer,) = synth.by_type("aws:apigatewayv2/authorizer:Authorizer")
    assert sources == sorted(["$connect", "$default", "$disconnect", str(authorizer.id)])
    assert authorizer.inputs["authorizerType"] == "REQUEST"
    assert authorizer.inputs["identitySources"] == ["route.request.querystring.token"]
    routes = {r.inputs["routeKey"]: r.inputs for r in synth.by_type("aws:apigatewayv2/route:Route")}
    assert routes["$connect"]["authorizationType"] == "CUSTOM"
    assert routes["$connect"]["authorizerId"] == authorizer.id
    assert routes["$disconnect"]["authorizationType"] == "NONE"
    (policy,) = synth.by_type("aws:iam/rolePolicy:RolePolicy")
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Action"] == ["execute-api:ManageConnections"]
    (resource,) = statement["Resource"]
    assert resource.startswith("arn:aws:execute-api:eu-west-1:123456789012:")
    assert resource.endswith("/test/*/@connections/*")
    assert synth.outputs["url"].startswith("wss://")
    assert synth.outputs["management"] == "https://" + synth.outputs["url"].removeprefix("wss://")


def assert_edge_only(synth):
    """Every HTTP route needs CloudFront's origin-verify header (checked by the edge authorizer);
    user routes need a token as well. No JWT authorizer and no api.<domain> remain."""
    found = [a for a in synth.by_type("aws:apigatewayv2/authorizer:Authorizer")
             if a.inputs["authorizerType"] == "REQUEST"
             and a.inputs.get("authorizerPayloadFormatVersion") == "2.0"]  # fmt: skip
    authorizers = {a.inputs["name"]: a.inputs for a in found}
    ids = {a.inputs["name"]: a.id for a in found}  # what routes refer to (the engine's id)
    user, public = sorted(authorizers, key=lambda n: "public" in n)
    origin = f"$request.header.{ORIGIN_VERIFY_HEADER}"
    assert authorizers[user]["identitySources"] == [origin, "$request.header.Authorization"]
    assert authorizers[public]["identitySources"] == [origin]
    for config in authorizers.values():
        assert config["enableSimpleResponses"] is True
        assert 0 < config["authorizerResultTtlInSeconds"] <= 3600
    routes = routes_by_key(synth)
    assert set(routes) >= PUBLIC
    for key, route in routes.items():
        assert route.inputs["authorizationType"] == "CUSTOM", key
        assert route.inputs["authorizerId"] == ids[public if key in PUBLIC else user], key
    assert not [a for a in synth.by_type("aws:apigatewayv2/authorizer:Authorizer")
                if a.inputs["authorizerType"] == "JWT"]  # fmt: skip
    assert not synth.by_type("aws:apigatewayv2/domainName:DomainName")
    return authorizers, routes


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_api_answers_only_requests_that_came_through_cloudfront(request, stack):
    synth = request.getfixturevalue(stack)
    assert_edge_only(synth)
    (gate,) = [f for f in synth.by_type("aws:lambda/function:Function")
               if f.name == "gate-fn-lambda"]  # fmt: skip
    env = gate.inputs["environment"]["variables"]
    (secret,) = [r for r in synth.by_type("aws:secretsmanager/secret:Secret")
                 if r.name == "edge-secret-secret"]  # fmt: skip
    assert env["API_ORIGIN_SECRET_ARN"].startswith("arn:aws:secretsmanager:")
    assert env["COGNITO_USER_POOL_ID"] and env["COGNITO_CLIENT_IDS"].startswith('["')
    (version,) = [r for r in synth.by_type("aws:secretsmanager/secretVersion:SecretVersion")
                  if r.name == "edge-secret-value"]  # fmt: skip
    assert version.inputs["secretString"] == "offline-preview-placeholder"  # the config secret
    assert version.masked_inputs["secretString"] == "[secret]"
    assert secret.inputs["kmsKeyId"]
    role_policies = " ".join(p.inputs["policy"] for p in synth.by_type("aws:iam/rolePolicy:RolePolicy")
                             if p.name.startswith("gate-fn"))  # fmt: skip
    assert "ReadOriginVerifySecret" in role_policies
    authorizer_invokes = [p.inputs for p in synth.by_type("aws:lambda/permission:Permission")
                          if "/authorizers/" in p.inputs["sourceArn"]
                          and p.inputs["principal"] == "apigateway.amazonaws.com"
                          and p.inputs["function"] == gate.inputs["name"]]  # fmt: skip
    assert len(authorizer_invokes) == 2
    (api,) = [a for a in synth.by_type("aws:apigatewayv2/api:Api")
              if a.inputs["protocolType"] == "HTTP"]  # fmt: skip
    origins = api.inputs["corsConfiguration"]["allowOrigins"]
    assert ("http://localhost:5173" in origins) == (stack == "dev")
    if stack == "prod":
        assert origins == ["https://music.example.com"]
    assert synth.outputs["api_url"] == synth.outputs["web_url"] + "/api"


def test_edge_only_api_guards_every_route_with_the_edge_authorizer():
    synth = build_http(jwt_issuer=None, jwt_audiences=[], edge_authorizer=FakeFunction("gate"))
    authorizers, _ = assert_edge_only(synth)
    for config in authorizers.values():
        assert config["authorizerUri"].endswith("function:gate/invocations")


def test_one_authorizer_mode_and_no_api_domain_when_edge_only():
    functions = {s: FakeFunction(s) for s in DEFAULT_ROUTES}
    gate = FakeFunction("gate")
    with pytest.raises(ValueError, match="needs one authorizer"):
        HttpApiArgs(functions=functions)
    with pytest.raises(ValueError, match="needs one authorizer"):
        HttpApiArgs(functions=functions, jwt_issuer=ISSUER, jwt_audiences=["a"],
                    edge_authorizer=gate)  # fmt: skip
    with pytest.raises(ValueError, match="needs one authorizer"):
        HttpApiArgs(functions=functions, jwt_issuer=ISSUER)
    with pytest.raises(ValueError, match=r"domain='music.example.com' with edge_authorizer"):
        HttpApiArgs(functions=functions, edge_authorizer=gate, domain="music.example.com")
    with pytest.raises(ValueError, match="0 to 3600 seconds"):
        HttpApiArgs(functions=functions, edge_authorizer=gate, edge_authorizer_ttl_seconds=7200)


def test_edge_secret_sends_the_current_value_and_keeps_both_during_a_rotation():
    def program():
        ctx = make_ctx(stack="test")
        key = "arn:aws:kms:eu-west-1:123456789012:key/k"
        edge = EdgeSecret("edge", EdgeSecretArgs("new-value, old-value", key), ctx)
        role = ServiceRole("reader", ServiceRoleArgs(services=["lambda.amazonaws.com"]), ctx)
        edge.grant_read(role)
        pulumi.export("header", edge.header_value)

    synth = run_program(program)
    assert synth.outputs["header"] == "[secret]"
    (version,) = synth.by_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert version.inputs["secretString"] == "new-value, old-value"
    (secret,) = synth.by_type("aws:secretsmanager/secret:Secret")
    assert secret.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    with pytest.raises(ValueError, match="7 to 30"):
        EdgeSecretArgs("v", "k", recovery_window_days=3)
