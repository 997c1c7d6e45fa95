"""Deployability of Lambda functions: what AWS refuses at `pulumi up` although a preview passes.

No published control covers these (they are AWS API constraints, not security controls), so
each policy is `custom` and quotes the AWS documentation sentence it enforces.
"""

from __future__ import annotations

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from .core import (
    Settings,
    Spec,
    get,
    items,
    judging,
    known,
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


BUCKET = "aws:s3/bucket:Bucket"
BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
PERMISSION = "aws:lambda/permission:Permission"


def _notified_bucket(notification: PolicyResource, buckets: list[PolicyResource]) -> str | None:
    """A key naming the bucket a notification configures: its resource's URN when it is in the
    stack, else the bucket name it gives (None while unknown)."""
    found = next((b for b in buckets if linked(notification, "bucket", b, "bucket", "id")), None)
    if found is not None:
        return found.urn
    name = known(notification.props, "bucket")
    return name if isinstance(name, str) and name else None


def _is_bucket_arn(permission: PolicyResource, bucket: PolicyResource | None, name: object) -> bool:
    """The permission's source_arn is the notified bucket's ARN (or, for a bucket outside the
    stack, an S3 bucket ARN ending in its name)."""
    if bucket is not None and linked(permission, "sourceArn", bucket, "arn"):
        return True
    arn = known(permission.props, "sourceArn")
    if not isinstance(arn, str) or not arn.startswith("arn:") or ":s3:::" not in arn:
        return False
    return isinstance(name, str) and arn.endswith(f":::{name}")


def _invokes(permission: PolicyResource, arn: object, targets: list[PolicyResource]) -> bool:
    """The permission is for the function whose ARN is `arn` (one of `targets`)."""
    if any(linked(permission, "function", f, "name", "arn") for f in targets):
        return True
    value = known(permission.props, "function")
    if not isinstance(value, str) or not isinstance(arn, str):
        return False
    parts = arn.split(":")  # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
    return value == arn or (len(parts) >= 7 and value == parts[6])


@stack_policy(
    POLICIES,
    "deploy-s3-notification-permission",
    "A bucket notification that invokes a Lambda function depends on a Lambda permission for "
    "s3.amazonaws.com whose source_arn is that bucket, and a bucket has one BucketNotification. "
    'PutBucketNotificationConfiguration: "In the case of Lambda destinations, Amazon S3 '
    "verifies that the Lambda function permissions grant Amazon S3 permission to invoke the "
    'function from the Amazon S3 bucket" (else it fails: "Unable to validate the following '
    'destination configurations"), and "This action replaces the existing notification '
    'configuration with the configuration you include in the request body": a second resource '
    "on the same bucket silently undoes the first.",
    ["custom"],
    [BUCKET, BUCKET_NOTIFICATION, PERMISSION, FUNCTION],
)
def _notification_permission(
    args: StackValidationArgs, report: ReportViolation, _: Settings
) -> None:
    buckets = list(of_type(args.resources, BUCKET))
    functions = list(of_type(args.resources, FUNCTION))
    permissions = [
        p
        for p in of_type(args.resources, PERMISSION)
        if get(p.props, "principal") == "s3.amazonaws.com"
    ]
    seen: dict[str, PolicyResource] = {}
    for notification in of_type(args.resources, BUCKET_NOTIFICATION):
        with judging(notification, report):
            key = _notified_bucket(notification, buckets)
            if key is not None and key in seen:
                report(
                    f"bucket notification {notification.name} configures the same bucket as "
                    f"{seen[key].name}: S3 keeps one notification configuration per bucket and "
                    "each put replaces it whole; merge them into one BucketNotification",
                    notification.urn,
                )
            elif key is not None:
                seen[key] = notification
            bucket = next((b for b in buckets if b.urn == key), None)
            name = known(notification.props, "bucket")
            depended = {d.urn for d in notification.dependencies}
            referenced = notification.property_dependencies.get("lambdaFunctions", [])
            for entry in items(get(notification.props, "lambdaFunctions")):
                arn = known(entry, "lambdaFunctionArn")
                targets = [
                    f for f in functions if isinstance(arn, str) and known(f.props, "arn") == arn
                ]
                if not targets and not isinstance(arn, str):
                    targets = [f for f in functions if any(r.urn == f.urn for r in referenced)]
                if not any(
                    p.urn in depended
                    and _invokes(p, arn, targets)
                    and _is_bucket_arn(p, bucket, name)
                    for p in permissions
                ):
                    target = targets[0].name if len(targets) == 1 else arn or "(unknown)"
                    report(
                        f"bucket notification {notification.name} invokes function {target} "
                        "without depending on a Lambda permission for s3.amazonaws.com whose "
                        'source_arn is the bucket: S3 refuses the configuration ("Unable to '
                        'validate the following destination configurations"); create the '
                        "permission and depend on it (components.media.MediaDelivery."
                        "notify_uploads does)",
                        notification.urn,
                    )
