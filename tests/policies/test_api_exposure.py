"""deploy-api-behind-web-acl: compliant and violating stacks, by hand and from the programs."""

from __future__ import annotations

import pytest
from soundstack.engine import evaluate

from soundstack.components import cdn
from soundstack.components.api import DEFAULT_ROUTES, HttpApi, HttpApiArgs
from soundstack.components.web import WebApp, WebArgs
from soundstack.policies import api_exposure
from tests.components.test_api import ISSUER, FakeFunction
from tests.conftest import make_ctx, run_program
from tests.policies.helpers import Stack

POLICY = "deploy-api-behind-web-acl"
PROD = {"environment": "prod"}
HOST = "abc123.execute-api.eu-west-1.amazonaws.com"
ORIGIN = "$request.header.x-origin-verify"


def build(
    *,
    route_auth: str = "CUSTOM",
    sources: tuple[str, ...] = (ORIGIN, "$request.header.Authorization"),
    header: bool = True,
    request_policy: str = cdn.ALL_VIEWER_EXCEPT_HOST_HEADER,
    web_acl: bool = True,
    disabled: bool = False,
    tags: dict | None = None,
) -> Stack:
    stack = Stack()
    api = stack.add(
        "aws:apigatewayv2/api:Api",
        "api",
        {
            "name": "api-http",
            "protocolType": "HTTP",
            "apiEndpoint": f"https://{HOST}",
            "disableExecuteApiEndpoint": disabled,
            "tags": tags if tags is not None else PROD,
        },
    )
    authorizer = stack.add(
        "aws:apigatewayv2/authorizer:Authorizer",
        "edge",
        {"name": "edge", "apiId": "api-http", "authorizerType": "REQUEST",
         "identitySources": list(sources)},
        {"apiId": [api]},
    )  # fmt: skip
    stack.add(
        "aws:apigatewayv2/route:Route",
        "route",
        {"apiId": "api-http", "routeKey": "ANY /playlists", "authorizationType": route_auth,
         "authorizerId": "edge" if route_auth == "CUSTOM" else None},
        {"apiId": [api], "authorizerId": [authorizer] if route_auth == "CUSTOM" else []},
    )  # fmt: skip
    origin: dict[str, object] = {
        "originId": "api",
        "domainName": HOST,
        "customOriginConfig": {"httpsPort": 443},
    }
    if header:
        origin["customHeaders"] = [{"name": "x-origin-verify", "value": "s3cr3t"}]
    stack.add(
        "aws:cloudfront/distribution:Distribution",
        "web",
        {
            "webAclId": "arn:aws:wafv2:us-east-1:1:global/webacl/w/1" if web_acl else None,
            "origins": [{"originId": "site", "domainName": "b.s3.amazonaws.com"}, origin],
            "orderedCacheBehaviors": [
                {"pathPattern": "/api/*", "targetOriginId": "api",
                 "originRequestPolicyId": request_policy}
            ],
            "tags": PROD,
        },
        {"origins": [api]},
    )  # fmt: skip
    return stack


def test_compliant_edge_only_api_passes():
    assert build().check(POLICY) == []


@pytest.mark.parametrize(
    ("change", "where", "text"),
    [
        ({"route_auth": "JWT"}, "route", "did not pass the web ACL"),
        ({"route_auth": "NONE"}, "route", "did not pass the web ACL"),
        ({"sources": ("$request.header.Authorization",)}, "route", "did not pass the web ACL"),
        ({"header": False}, "web", "sends no x-origin-verify header"),
        ({"request_policy": cdn.HOST_FORWARDING_POLICIES[0]}, "web", "forwards the viewer's Host"),
        ({"request_policy": cdn.HOST_FORWARDING_POLICIES[1]}, "web", "forwards the viewer's Host"),
        ({"web_acl": False}, "api", "not the origin of a distribution with a web ACL"),
        ({"disabled": True}, "api", "disables its execute-api endpoint"),
    ],
)
def test_each_way_around_the_web_acl_is_reported(change, where, text):
    found = build(**change).check(POLICY)
    assert [n for n, _ in found] == [where]
    assert text in found[0][1]


def test_applies_to_prod_only_by_default():
    assert build(route_auth="NONE", tags={"environment": "dev"}).check(POLICY) == []
    assert build(route_auth="NONE", tags={"environment": "dev"}).check(
        POLICY, {"environments": ["dev", "prod"]}
    )


def test_policy_and_components_agree_on_the_header_and_host_policies():
    assert api_exposure.ORIGIN_VERIFY_HEADER == cdn.ORIGIN_VERIFY_HEADER
    assert api_exposure.HOST_FORWARDING_POLICIES == cdn.HOST_FORWARDING_POLICIES


def _program(edge_only: bool) -> list[str]:
    """An API and the web distribution in prod, as the platform wired them before (JWT routes,
    public routes open, api.<domain>) or now (edge-only); the policy's messages on it."""

    def program() -> None:
        ctx = make_ctx("prod", stack="prod")
        functions = {s: FakeFunction(s) for s in DEFAULT_ROUTES}
        if edge_only:
            args = HttpApiArgs(functions=functions, edge_authorizer=FakeFunction("gate"))
        else:
            args = HttpApiArgs(functions=functions, jwt_issuer=ISSUER, jwt_audiences=["web"],
                               domain="music.example.com", hosted_zone_id="Z0123456789ABC")  # fmt: skip
        api = HttpApi("api", args, ctx)
        WebApp(
            "web",
            WebArgs(
                web_acl_arn="arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/1",
                api_domain=api.endpoint_domain,
                api_origin_secret="s3cr3t" if edge_only else None,
            ),
            ctx,
        )

    return [v.message for v in evaluate(run_program(program, stack="prod")) if v.policy == POLICY]


def test_the_old_wiring_fails_in_prod_and_the_edge_only_one_passes():
    old = _program(edge_only=False)
    routes = sum(len(r) for r in DEFAULT_ROUTES.values())
    assert len([m for m in old if "did not pass the web ACL" in m]) == routes
    assert any("sends no x-origin-verify header" in m for m in old)
    assert _program(edge_only=True) == []
