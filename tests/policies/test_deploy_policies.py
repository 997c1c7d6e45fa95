"""`deploy-*` policies: what AWS refuses at `pulumi up`, on compliant and violating stacks."""

from __future__ import annotations

import pytest

from tests.policies.helpers import Stack

FUNCTION = "aws:lambda/function:Function"
POLICY = "deploy-lambda-reserved-concurrency"


def functions(*reservations):
    stack = Stack()
    for i, reserved in enumerate(reservations):
        props = {"runtime": "python3.13"}
        if reserved is not None:
            props["reservedConcurrentExecutions"] = reserved
        stack.add(FUNCTION, f"fn{i}", props)
    return stack


@pytest.mark.parametrize(
    ("reservations", "config"),
    [
        ([50] * 7, {}),  # prod's 350 within the default quota of 1,000
        ([450, 450], {}),  # exactly quota - 100
        ([None, -1, None], {"account_concurrency_quota": 10}),  # nothing reserved: new account
        ([20] * 7, {"account_concurrency_quota": 240}),
    ],
)
def test_reservations_within_the_quota_pass(reservations, config):
    assert functions(*reservations).check(POLICY, config) == []


@pytest.mark.parametrize(
    ("reservations", "config", "total", "reservable"),
    [
        ([50] * 7, {"account_concurrency_quota": 10}, 350, 0),
        ([5] * 7, {"account_concurrency_quota": 100}, 35, 0),
        ([450, 451], {}, 901, 900),
        ([None, 300, 200], {"account_concurrency_quota": 599}, 500, 499),
    ],
)
def test_reservations_beyond_the_quota_name_quota_code_and_keys(
    reservations, config, total, reservable
):
    (violation,) = functions(*reservations).check(POLICY, config)
    at, message = violation
    assert at == f"fn{reservations.index(max(r for r in reservations if r))}"
    assert f"reserve {total} concurrent executions" in message
    assert f"lets the account reserve {reservable}" in message
    assert "L-B99A9384" in message and "functions.reserved_concurrency" in message


def _signed_stack(*, enforce: bool, inline: bool, uploaded_layer: bool) -> Stack:
    s = Stack()
    config = s.add(
        "aws:lambda/codeSigningConfig:CodeSigningConfig", "csc",
        {"arn": "arn:aws:lambda:eu-west-1:1:code-signing-config:csc-1",
         "policies": {"untrustedArtifactOnDeployment": "Enforce" if enforce else "Warn"}},
    )  # fmt: skip
    refs: dict = {}
    if uploaded_layer:
        upload = s.add("aws:s3/bucketObject:BucketObject", "zip", {"key": "layers/deps.zip"})
        layer = s.add("aws:lambda/layerVersion:LayerVersion", "deps",
                      {"s3Bucket": "b", "s3Key": "layers/deps.zip"}, {"s3Key": [upload]})  # fmt: skip
    else:
        layer = s.add("aws:lambda/layerVersion:LayerVersion", "deps",
                      {"s3Bucket": "b", "s3Key": "lambda-code/signed/layer-job-2.zip"})  # fmt: skip
    refs["layers"] = [layer]
    refs["codeSigningConfigArn"] = [config]
    code = {"code": "archive"} if inline else {"s3Bucket": "b", "s3Key": "lambda-code/signed/c.zip"}
    s.add("aws:lambda/function:Function", "catalog",
          {"codeSigningConfigArn": config.props["arn"], "layers": ["arn:layer"], **code}, refs)  # fmt: skip
    return s


def test_deploy_lambda_signed_code():
    assert (
        _signed_stack(enforce=True, inline=False, uploaded_layer=False).check(
            "deploy-lambda-signed-code"
        )
        == []
    )
    (inline,) = _signed_stack(enforce=True, inline=True, uploaded_layer=False).check(
        "deploy-lambda-signed-code"
    )
    assert inline[0] == "catalog" and "uploads its code unsigned" in inline[1]
    (layer,) = _signed_stack(enforce=True, inline=False, uploaded_layer=True).check(
        "deploy-lambda-signed-code"
    )
    assert "layer deps, uploaded unsigned by Pulumi" in layer[1]
    # under Warn, an unsigned upload deploys (and is only reported by Lambda)
    assert (
        _signed_stack(enforce=False, inline=True, uploaded_layer=True).check(
            "deploy-lambda-signed-code"
        )
        == []
    )


def test_prod_enforces_signed_code_and_fails_without_it(prod):
    import copy

    from soundstack.engine import evaluate

    assert not [v for v in evaluate(prod) if v.policy in ("deploy-lambda-signed-code",
                                                          "lambda-code-signing")]  # fmt: skip
    unsigned = copy.deepcopy(prod)
    fn = next(r for r in unsigned.resources if r.name == "catalog-fn-lambda")
    fn.inputs.pop("s3Key")
    fn.inputs["code"] = {"app_services/catalog/handler.py": "..."}
    warned = copy.deepcopy(prod)
    csc = next(r for r in warned.resources if r.name == "code-signing-config")
    csc.inputs["policies"] = {"untrustedArtifactOnDeployment": "Warn"}
    assert {(v.policy, v.urn) for v in evaluate(unsigned) if v.level == "mandatory"} == {
        ("deploy-lambda-signed-code", fn.urn)
    }
    assert {v.policy for v in evaluate(warned) if v.level == "mandatory"} == {"lambda-code-signing"}
