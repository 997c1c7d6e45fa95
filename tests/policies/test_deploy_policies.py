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


NOTIFY = "deploy-s3-notification-permission"
BUCKET = "aws:s3/bucket:Bucket"
NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
PERMISSION = "aws:lambda/permission:Permission"
FN_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:soundstack-dev-ingest-fn"


def notified(permission: dict | None = None, depend: bool = True, second: bool = False):
    """A bucket whose notification invokes a function, with a permission for S3 (unless
    `permission` is None) that the notification depends on (`depend`)."""
    stack = Stack()
    bucket = stack.add(BUCKET, "music", {"bucket": "music", "arn": "arn:aws:s3:::music"})
    other = stack.add(BUCKET, "other", {"bucket": "other", "arn": "arn:aws:s3:::other"})
    fn = stack.add(FUNCTION, "ingest", {"name": "soundstack-dev-ingest-fn", "arn": FN_ARN})
    allowed = []
    if permission is not None:
        props = {"action": "lambda:InvokeFunction", "function": "soundstack-dev-ingest-fn",
                 "principal": "s3.amazonaws.com", "sourceArn": "arn:aws:s3:::music",
                 "sourceAccount": "123456789012", **permission}  # fmt: skip
        refs = {"sourceArn": [other if props["sourceArn"] == "arn:aws:s3:::other" else bucket]}
        if props["function"] == "soundstack-dev-ingest-fn":
            refs["function"] = [fn]
        allowed = [stack.add(PERMISSION, "invoke", props, refs)]
    for name in ("notification", "again")[: 2 if second else 1]:
        stack.add(
            NOTIFICATION,
            name,
            {"bucket": "music", "lambdaFunctions": [
                {"lambdaFunctionArn": FN_ARN, "events": ["s3:ObjectCreated:*"],
                 "filterPrefix": "uploads/"}]},
            {"bucket": [bucket], "lambdaFunctions": [fn]},
            depends_on=allowed if depend else (),
        )  # fmt: skip
    return stack


def test_a_notification_after_its_permission_for_the_bucket_passes():
    assert notified({}).check(NOTIFY) == []


@pytest.mark.parametrize(
    ("stack", "why"),
    [
        (notified(None), "no permission at all"),
        (notified({}, depend=False), "permission exists but the notification may come first"),
        (notified({"sourceArn": "arn:aws:s3:::other"}), "permission for another bucket"),
        (notified({"principal": "events.amazonaws.com"}), "permission for another service"),
        (notified({"function": "soundstack-dev-other-fn"}), "permission for another function"),
    ],
)
def test_a_notification_without_the_permission_s3_validates_is_refused(stack, why):
    found = stack.check(NOTIFY)
    assert [name for name, _ in found] == ["notification"], why
    assert "Unable to validate the following destination configurations" in found[0][1]


def test_two_notifications_on_one_bucket_are_refused():
    found = notified({}, second=True).check(NOTIFY)
    assert [name for name, _ in found] == ["again"]
    assert "replaces it whole" in found[0][1]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_estate_notifies_ingest_after_the_permission(request, stack):
    import copy

    from soundstack.engine import evaluate

    synth = request.getfixturevalue(stack)
    assert not [v for v in evaluate(synth) if v.policy == NOTIFY]
    racing = copy.deepcopy(synth)
    notification = next(r for r in racing.resources if r.name == "media-music-notification")
    permission = next(r for r in racing.resources if r.name == "media-uploads-invoke")
    notification.dependencies.remove(permission.urn)
    assert {(v.policy, v.urn) for v in evaluate(racing) if v.level == "mandatory"} == {
        (NOTIFY, notification.urn)
    }
