"""Deployability of Lambda functions: what AWS refuses at `pulumi up` although a preview passes.

No published control covers these (they are AWS API constraints, not security controls), so
each policy is `custom` and quotes the AWS documentation sentence it enforces.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, StackValidationArgs

from .core import (
    Settings,
    Spec,
    get,
    judging,
    linked,
    of_type,
    present,
    references,
    stack_policy,
)

POLICIES: list[Spec] = []

FUNCTION = "aws:lambda/function:Function"
#: Lambda keeps this many executions of the account's quota unreserved.
UNRESERVED_MINIMUM = 100


@stack_policy(
    POLICIES,
    "deploy-lambda-reserved-concurrency",
    "The stack's reserved concurrency fits the account's Lambda quota. AWS (Configuring reserved "
    'concurrency): "You can reserve up to the Unreserved account concurrency value that is '
    "shown, minus 100 for functions that don't have reserved concurrency.\" Set "
    '`account_concurrency_quota` to the Region\'s "Concurrent executions" quota (Service '
    "Quotas code L-B99A9384; 1,000 by default, often 10 on new accounts), less what other "
    "stacks of the account reserve.",
    ["custom"],
    [FUNCTION],
    config={
        "account_concurrency_quota": {
            "type": "integer",
            "minimum": 1,
            "default": 1000,
            "description": 'the account\'s Lambda "Concurrent executions" quota in the Region '
            "(Service Quotas L-B99A9384), less other stacks' reservations",
        }
    },
)
def _reserved_concurrency(
    args: StackValidationArgs, report: ReportViolation, cfg: Settings
) -> None:
    reserving = []
    for fn in of_type(args.resources, FUNCTION):
        reserved = get(fn.props, "reservedConcurrentExecutions")
        # -1 (the provider's default) and absent mean no reservation.
        if isinstance(reserved, int | float) and reserved > 0:
            reserving.append((fn, int(reserved)))
    total = sum(reserved for _, reserved in reserving)
    quota = int(cfg["account_concurrency_quota"])
    reservable = max(quota - UNRESERVED_MINIMUM, 0)
    if total > reservable:
        biggest, _ = max(reserving, key=lambda pair: pair[1])
        report(
            f"{len(reserving)} functions reserve {total} concurrent executions, but a quota of "
            f"{quota} lets the account reserve {reservable} (Lambda keeps {UNRESERVED_MINIMUM} "
            'unreserved); raise the Lambda quota "Concurrent executions" (Service Quotas code '
            f"L-B99A9384) to {total + UNRESERVED_MINIMUM} and set this policy's "
            "account_concurrency_quota, or lower the reservations (stacks: "
            "functions.reserved_concurrency, null reserves none)",
            biggest.urn,
        )


CODE_SIGNING_CONFIG = "aws:lambda/codeSigningConfig:CodeSigningConfig"
LAYER = "aws:lambda/layerVersion:LayerVersion"
BUCKET_OBJECT = "aws:s3/bucketObject:BucketObject"
BUCKET_OBJECT_V2 = "aws:s3/bucketObjectv2:BucketObjectv2"


@stack_policy(
    POLICIES,
    "deploy-lambda-signed-code",
    "A function whose code signing config enforces deploys only what Signer signed: its code "
    "from an S3 object (not an archive Pulumi uploads) and its layers from objects Pulumi did "
    'not upload either. Lambda: with Enforce it "blocks the deployment of the code package" '
    'that fails the signature check, and "any layers that you add to the function must also be '
    'signed by an allowed signing profile".',
    ["custom"],
    [FUNCTION, CODE_SIGNING_CONFIG, LAYER, BUCKET_OBJECT],
)
def _signed_code(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    enforcing = [
        c
        for c in of_type(args.resources, CODE_SIGNING_CONFIG)
        if get(c.props, "policies", "untrustedArtifactOnDeployment") == "Enforce"
    ]
    uploads = list(of_type(args.resources, BUCKET_OBJECT, BUCKET_OBJECT_V2))
    layers = list(of_type(args.resources, LAYER))
    for fn in of_type(args.resources, FUNCTION):
        with judging(fn, report):
            if not any(linked(fn, "codeSigningConfigArn", c, "arn") for c in enforcing):
                continue
            if present(fn.props, "code") or present(fn.props, "filename"):
                report(
                    f"function {fn.name} uploads its code unsigned under an enforcing code "
                    "signing config: deploy it from the signed object (s3_bucket/s3_key, "
                    "`soundstack sign-lambda`)",
                    fn.urn,
                )
            for layer in (x for x in layers if references(fn, "layers", x)):
                if any(references(layer, "s3Key", upload) for upload in uploads):
                    report(
                        f"function {fn.name} uses layer {layer.name}, uploaded unsigned by "
                        "Pulumi, under an enforcing code signing config; make the layer from "
                        "the signed object",
                        fn.urn,
                    )
