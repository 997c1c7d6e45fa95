"""Lambda functions, EKS clusters, the Kubernetes workloads deployed on them and the ECR
repositories their images come from."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from .core import (
    ADVISORY,
    Settings,
    Spec,
    as_strings,
    get,
    items,
    judging,
    known,
    linked,
    matches_any,
    of_type,
    present,
    resource_policy,
    stack_policy,
    truthy,
)

POLICIES: list[Spec] = []

FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
IMMUTABLE_TAGS = ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION")
EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
WORKLOADS = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}
#: Lambda runtimes in standard support (AWS "Lambda runtimes" page); configurable.
SUPPORTED_RUNTIMES = [
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "java17",
    "java21",
    "java25",
    "dotnet8",
    "ruby3.3",
    "ruby3.4",
    "provided.al2023",
    "provided.al2",
]
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|PRIVATE_KEY|API_KEY|TOKEN)", re.IGNORECASE)
SECRET_VALUE = re.compile(
    r"(sk_live_|sk_test_|rk_live_|whsec_|AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)


# -- Lambda ------------------------------------------------------------------------------------


@resource_policy(
    POLICIES,
    "lambda-no-public-invoke",
    "No Lambda permission lets anybody invoke a function: principal `*` is refused, service "
    "principals must name their source (source_arn or source_account), and function URLs "
    "without auth are allowed only for functions declared in `publicFunctionUrls`.",
    ["FSBP Lambda.1", "PCI 1.3"],
    [PERMISSION, FUNCTION_URL],
    config={
        "publicFunctionUrls": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "function-name patterns whose URL may be called without IAM auth "
            "(declared webhooks)",
        }
    },
)
def _public_invoke(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    props = args.props
    function = str(known(props, "function") or known(props, "functionName") or "(unknown)")

    def declared() -> bool:  # reads the function only when it matters (it may be unknown)
        name = get(props, "function", default=get(props, "functionName", default=""))
        return matches_any(str(name), cfg["publicFunctionUrls"])

    if args.resource_type == FUNCTION_URL:
        if get(props, "authorizationType") == "NONE" and not declared():
            report(
                f"function URL of {function} has authorization_type NONE; use AWS_IAM or "
                "declare the webhook in publicFunctionUrls",
                None,
            )
        return
    principal = str(get(props, "principal", default=""))
    if principal == "*" and not get(props, "principalOrgId"):
        if get(props, "functionUrlAuthType") == "NONE" and declared():
            return
        report(f"permission {args.name} lets principal * invoke {function}", None)
    elif principal.endswith(".amazonaws.com") and not (
        present(props, "sourceArn") or present(props, "sourceAccount")
    ):
        report(
            f"permission {args.name} for {principal} has no source_arn or source_account "
            "(any account's resource could invoke)",
            None,
        )


@resource_policy(
    POLICIES,
    "lambda-supported-runtime",
    "Functions run a runtime in standard support (`supportedRuntimes`); container images "
    "are exempt.",
    ["FSBP Lambda.2"],
    [FUNCTION],
    config={
        "supportedRuntimes": {
            "type": "array",
            "items": {"type": "string"},
            "default": SUPPORTED_RUNTIMES,
        }
    },
)
def _runtime(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    if get(args.props, "packageType") == "Image":
        return
    runtime = get(args.props, "runtime")
    if runtime not in cfg["supportedRuntimes"]:
        report(f"runtime {runtime!r} is not in standard support; use python3.13", None)


@resource_policy(
    POLICIES,
    "lambda-tracing",
    "Functions send X-Ray traces (tracing mode Active).",
    ["custom"],
    [FUNCTION],
)
def _tracing(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if get(args.props, "tracingConfig", "mode") != "Active":
        report("tracing_config.mode is not Active", None)


@stack_policy(
    POLICIES,
    "lambda-async-failure-destination",
    "Every function keeps failed asynchronous events: a dead-letter queue or an on-failure "
    "destination (FunctionEventInvokeConfig).",
    ["custom"],
    [FUNCTION, INVOKE_CONFIG],
)
def _failures(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    configs = [
        c
        for c in of_type(args.resources, INVOKE_CONFIG)
        if present(c.props, "destinationConfig", "onFailure", "destination")
    ]
    for fn in of_type(args.resources, FUNCTION):
        with judging(fn, report):
            if present(fn.props, "deadLetterConfig", "targetArn"):
                continue
            if not any(linked(c, "functionName", fn, "name", "arn") for c in configs):
                report(
                    f"function {fn.name} drops failed async events; add an on-failure "
                    "destination or dead_letter_config",
                    fn.urn,
                )


@resource_policy(
    POLICIES,
    "lambda-in-vpc",
    "Functions run in the VPC, in subnets of at least two AZs.",
    ["FSBP Lambda.3", "FSBP Lambda.5"],
    [FUNCTION],
    level=ADVISORY,
)
def _in_vpc(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    subnets = items(get(args.props, "vpcConfig", "subnetIds"))
    if not subnets:
        report("not in a VPC; pass the network so the function runs in private subnets", None)
    elif len(subnets) < 2:
        report("runs in one subnet (one AZ); give it the private subnets of ≥ 2 AZs", None)


@resource_policy(
    POLICIES,
    "lambda-no-plaintext-secrets",
    "Function environments hold no secret values (provider keys, private keys, access keys): "
    "secrets come from Secrets Manager by ARN.",
    ["PCI 8.6.2"],
    [FUNCTION],
)
def _env_secrets(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    variables = get(args.props, "environment", "variables", default={})
    unknown: list[str] = []  # values computed from outputs: judged last, only if secret-named
    for key in variables if isinstance(variables, Mapping) else {}:
        if known(variables, key) is None and present(variables, key):
            if SECRET_NAME.search(key):
                unknown.append(key)
            continue
        value = str(variables[key])
        looks_secret = SECRET_VALUE.search(value) or (
            SECRET_NAME.search(key) and value and not value.startswith("arn:")
        )
        if looks_secret:
            report(
                f"environment variable {key} holds a secret value; store it in Secrets "
                f"Manager and pass {key}_ARN",
                None,
            )
    for key in unknown:
        variables[key]  # raises UnknownValueError: a secret-named value unknown until deploy


# -- EKS ---------------------------------------------------------------------------------------


def _eks_settings(args: ResourceValidationArgs) -> dict:
    """The EKS settings of either an `eks:index:Cluster` or an `aws:eks/cluster:Cluster`."""
    props = args.props
    if args.resource_type == EKS_COMPONENT:
        return {
            "public": get(props, "endpointPublicAccess", default=True),
            "cidrs": as_strings(get(props, "publicAccessCidrs")),
            "kms": get(props, "encryptionConfigKeyArn"),
            "logs": as_strings(get(props, "enabledClusterLogTypes")),
            "version": get(props, "version"),
        }
    encryption = items(get(props, "encryptionConfig"))
    return {
        "public": get(props, "vpcConfig", "endpointPublicAccess", default=True),
        "cidrs": as_strings(get(props, "vpcConfig", "publicAccessCidrs")),
        "kms": next(
            (
                get(e, "provider", "keyArn")
                for e in encryption
                if "secrets" in as_strings(get(e, "resources"))
            ),
            None,
        ),
        "logs": as_strings(get(props, "enabledClusterLogTypes")),
        "version": get(props, "version"),
    }


@resource_policy(
    POLICIES,
    "eks-endpoint-private",
    "The Kubernetes API endpoint is private, or public only to listed CIDRs (never the internet).",
    ["FSBP EKS.1", "PCI 1.3"],
    [EKS_COMPONENT, EKS_CLUSTER],
)
def _eks_endpoint(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    eks = _eks_settings(args)
    if not truthy(eks["public"]):
        return
    open_cidrs = [c for c in eks["cidrs"] if c in ("0.0.0.0/0", "::/0")]
    if not eks["cidrs"] or open_cidrs:
        report(
            "the API endpoint is public to the internet; set endpoint_public_access false "
            "or public_access_cidrs to your VPN ranges",
            None,
        )


@resource_policy(
    POLICIES,
    "eks-secrets-encryption",
    "Kubernetes secrets are envelope-encrypted with a KMS key.",
    ["FSBP EKS.3"],
    [EKS_COMPONENT, EKS_CLUSTER],
)
def _eks_secrets(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    if not _eks_settings(args)["kms"]:
        report("no secrets encryption key; set encryption_config_key_arn", None)


@resource_policy(
    POLICIES,
    "eks-control-plane-logging",
    "The control plane sends api, audit and authenticator logs to CloudWatch Logs.",
    ["FSBP EKS.8", "PCI 10.2.1"],
    [EKS_COMPONENT, EKS_CLUSTER],
)
def _eks_logs(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    missing = {"api", "audit", "authenticator"} - set(_eks_settings(args)["logs"])
    if missing:
        report(f"enabled_cluster_log_types lacks {sorted(missing)}", None)


def _version(value: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", value)[:2])


@resource_policy(
    POLICIES,
    "eks-supported-version",
    "Clusters pin a Kubernetes version at least `minimumVersion` (in EKS standard support).",
    ["FSBP EKS.2"],
    [EKS_COMPONENT, EKS_CLUSTER],
    config={"minimumVersion": {"type": "string", "default": "1.31"}},
)
def _eks_version(args: ResourceValidationArgs, report: ReportViolation, cfg: Settings) -> None:
    version = _eks_settings(args)["version"]
    if not version:
        report("no version pinned: EKS picks one and upgrades surprise you; set version", None)
    elif _version(str(version)) < _version(cfg["minimumVersion"]):
        report(f"version {version} is older than {cfg['minimumVersion']}", None)


# -- Kubernetes workloads ----------------------------------------------------------------------


def _pod_spec(args: ResourceValidationArgs) -> Mapping:
    spec = get(args.props, *WORKLOADS[args.resource_type], default={})
    return spec if isinstance(spec, Mapping) else {}


def _containers(pod: Mapping) -> list[Mapping]:
    return [*items(get(pod, "containers")), *items(get(pod, "initContainers"))]


@resource_policy(
    POLICIES,
    "k8s-no-privileged-or-root",
    "Pods run as non-root, no container is privileged or may escalate privileges.",
    ["custom"],
    list(WORKLOADS),
)
def _k8s_root(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    pod = _pod_spec(args)
    pod_non_root = truthy(get(pod, "securityContext", "runAsNonRoot"))
    pod_user = get(pod, "securityContext", "runAsUser")
    for container in _containers(pod):
        name = get(container, "name")
        context = get(container, "securityContext", default={})
        if truthy(get(context, "privileged")):
            report(f"container {name} is privileged", None)
        if get(context, "allowPrivilegeEscalation") is not False:
            report(f"container {name} does not set allowPrivilegeEscalation: false", None)
        non_root = get(context, "runAsNonRoot")
        user = get(context, "runAsUser", default=pod_user)
        if user == 0 or non_root is False or not (pod_non_root or truthy(non_root)):
            report(f"container {name} may run as root; set runAsNonRoot: true", None)


@resource_policy(
    POLICIES,
    "k8s-resources",
    "Every container requests CPU and memory and has a memory limit.",
    ["custom"],
    list(WORKLOADS),
)
def _k8s_resources(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    for container in _containers(_pod_spec(args)):
        resources = get(container, "resources", default={})
        missing = [f"requests.{k}" for k in ("cpu", "memory") if not get(resources, "requests", k)]
        if not get(resources, "limits", "memory"):
            missing.append("limits.memory")
        if missing:
            report(f"container {get(container, 'name')} lacks {', '.join(missing)}", None)


# -- ECR -----------------------------------------------------------------------------------------


@resource_policy(
    POLICIES,
    "ecr-tag-immutability",
    "ECR repositories make image tags immutable (a pushed tag cannot be overwritten by another "
    "image); Security Hub's ECR.2, which CONTROLS.md does not list.",
    ["custom"],
    [ECR_REPOSITORY],
)
def _ecr_immutable(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    mutability = get(args.props, "imageTagMutability", default="MUTABLE")
    if mutability not in IMMUTABLE_TAGS:
        report(f"image_tag_mutability is {mutability!r}; set IMMUTABLE", None)


def _registry_scans(scanning: list, name: str) -> bool:
    """A registry scanning configuration has a rule whose wildcard filter matches `name`."""
    for config in scanning:
        for rule in items(get(config.props, "rules")):
            filters = items(get(rule, "repositoryFilters"))
            if any(matches_any(name, [str(get(f, "filter", default=""))]) for f in filters):
                return True
    return False


@stack_policy(
    POLICIES,
    "ecr-image-scanning",
    "ECR repositories scan images on push (or a registry scanning configuration covers them); "
    "Security Hub's ECR.1, which CONTROLS.md does not list.",
    ["custom"],
    [ECR_REPOSITORY, ECR_SCANNING],
)
def _ecr_scanning(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    scanning = list(of_type(args.resources, ECR_SCANNING))
    for repo in of_type(args.resources, ECR_REPOSITORY):
        with judging(repo, report):
            if truthy(get(repo.props, "imageScanningConfiguration", "scanOnPush")):
                continue
            if _registry_scans(scanning, str(known(repo.props, "name") or repo.name)):
                continue
            report(
                f"repository {repo.name} does not scan images on push; set "
                "image_scanning_configuration.scan_on_push (or add a registry scanning rule)",
                repo.urn,
            )
