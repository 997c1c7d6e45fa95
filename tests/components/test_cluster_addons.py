"""Cluster add-ons against their upstream: the Load Balancer Controller's and the autoscaler's
IAM policies, the Helm values each pinned chart accepts, metrics-server, and the order in which
`pulumi up` creates add-ons and workloads (issue 12, items 5, 8 and 15)."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml

from soundstack.components.cluster import (
    AUTOSCALER_CHART,
    AUTOSCALER_KUBERNETES_VERSION,
    LBC_CHART,
    METRICS_SERVER_CHART,
    ClusterArgs,
    NodeGroupSpec,
    load_balancer_controller_statements,
)
from tests.components.test_cluster import build, statements
from tests.kubernetes_schema import validate_definition

UPSTREAM = Path(__file__).parent / "upstream"
CHARTS = {chart[0]: chart for chart in (AUTOSCALER_CHART, LBC_CHART, METRICS_SERVER_CHART)}
#: Helm values that the chart templates copy into a Kubernetes field, by chart.
TYPED_VALUES = {
    "aws-load-balancer-controller": {
        "securityContext": "io.k8s.api.core.v1.SecurityContext",
        "podSecurityContext": "io.k8s.api.core.v1.PodSecurityContext",
        "resources": "io.k8s.api.core.v1.ResourceRequirements",
        "podDisruptionBudget": "io.k8s.api.policy.v1.PodDisruptionBudgetSpec",
    },
    "cluster-autoscaler": {
        "containerSecurityContext": "io.k8s.api.core.v1.SecurityContext",
        "securityContext": "io.k8s.api.core.v1.PodSecurityContext",
        "resources": "io.k8s.api.core.v1.ResourceRequirements",
    },
    "metrics-server": {
        "securityContext": "io.k8s.api.core.v1.SecurityContext",
        "podSecurityContext": "io.k8s.api.core.v1.PodSecurityContext",
        "resources": "io.k8s.api.core.v1.ResourceRequirements",
        "topologySpreadConstraints[]": "io.k8s.api.core.v1.TopologySpreadConstraint",
    },
}


def upstream(chart: tuple[str, str, str], file: str) -> Any:
    text = (UPSTREAM / f"{chart[0]}-{chart[1]}" / file).read_text()
    return json.loads(text) if file.endswith(".json") else yaml.safe_load(text)


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def grants(policy_statements: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(action, resource, condition) for every pair a policy allows."""
    return [
        (action, resource, s.get("Condition") or {})
        for s in policy_statements
        for action in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    ]


def condition_within(upstream_condition: dict[str, Any], ours: dict[str, Any]) -> bool:
    """Ours keeps every condition upstream puts on the grant (it may add more)."""
    return all(
        ours.get(operator, {}).get(key) == value
        for operator, keys in upstream_condition.items()
        for key, value in keys.items()
    )


def ours_as_statements(rows: list[tuple[str, list[str], list[str], Any]]) -> list[dict[str, Any]]:
    return [{"Sid": sid, "Action": a, "Resource": r, "Condition": c} for sid, a, r, c in rows]


@pytest.fixture(scope="module")
def synth():
    return build()


# -- item 5: the controller's policy is upstream's, scoped --------------------------------------
def test_lbc_policy_grants_exactly_upstreams_actions_never_more_broadly():
    reference = grants(upstream(LBC_CHART, "iam_policy.json")["Statement"])
    ours = grants(ours_as_statements(load_balancer_controller_statements("aws", "eu-west-1", "1")))
    wanted = {a for a, _, _ in reference if not a.startswith("waf-regional:")}
    assert {a for a, _, _ in ours} == wanted
    for action, resource, condition in ours:
        assert resource == "*" or resource.startswith(
            f"arn:aws:{action.split(':')[0]}:eu-west-1:1:"
        )
        assert any(
            a == action and fnmatchcase(resource, r) and condition_within(c, condition)
            for a, r, c in reference
        ), f"{action} on {resource} with {condition} is broader than upstream's grant"


def test_lbc_can_attach_the_web_acl_and_set_listener_attributes():
    ours = grants(ours_as_statements(load_balancer_controller_statements("aws", "eu-west-1", "1")))
    resources: dict[str, set[str]] = {}
    for action, resource, _ in ours:
        resources.setdefault(action, set()).add(resource)
    # SetWebAcl has no resource type: a scoped grant never matches and the ALB stays unprotected.
    assert resources["elasticloadbalancing:SetWebAcl"] == {"*"}
    assert resources["wafv2:AssociateWebACL"] == {"*"}
    # ModifyListenerAttributes acts on listeners (of load balancers the controller tagged).
    assert resources["elasticloadbalancing:ModifyListenerAttributes"] == {
        "arn:aws:elasticloadbalancing:eu-west-1:1:listener/net/*/*/*",
        "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/*/*/*",
    }
    for action in ("ModifyListener", "AddListenerCertificates", "CreateRule", "DeleteListener"):
        assert all(":listener/" in r for r in resources[f"elasticloadbalancing:{action}"]), action
    for action in ("ModifyRule", "SetRulePriorities", "DeleteRule"):
        assert all(":listener-rule/" in r for r in resources[f"elasticloadbalancing:{action}"])
    for action in ("ModifyTargetGroup", "DeleteTargetGroup", "RegisterTargets"):
        assert all(":targetgroup/" in r for r in resources[f"elasticloadbalancing:{action}"])


@pytest.mark.parametrize("stack", ["test", "prod"])
def test_lbc_role_fits_the_inline_policy_quota(request, synth, stack):
    # IAM quotas: "Role policy size cannot exceed 10,240 characters" (the sum of a role's
    # inline policies, whitespace not counted). Prod adds the Shield statement.
    found = synth if stack == "test" else request.getfixturevalue(stack)
    size = sum(
        len(json.dumps(json.loads(p.inputs["policy"]), separators=(",", ":")))
        for p in found.by_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.startswith("cluster-lbc-role-")
    )
    assert 6000 < size <= 10_240


# -- the autoscaler's policy and version ---------------------------------------------------------
def test_autoscaler_policy_is_upstreams_with_writes_limited_to_this_clusters_groups(synth):
    reference = {
        a for a, _, _ in grants(upstream(AUTOSCALER_CHART, "iam_policy.json")["Statement"])
    }
    ours = statements(synth, "cluster-autoscaler-role")
    assert {a for s in ours.values() for a in s["Action"]} == reference
    scale = ours["ScaleOwnNodeGroups"]
    assert set(scale["Action"]) == {"autoscaling:SetDesiredCapacity",
                                    "autoscaling:TerminateInstanceInAutoScalingGroup"}  # fmt: skip
    assert scale["Condition"]["StringEquals"] == {
        "aws:ResourceTag/k8s.io/cluster-autoscaler/soundstack-test-cluster": "owned"
    }


def test_autoscaler_is_the_one_built_for_the_cluster_version():
    image = upstream(AUTOSCALER_CHART, "values.yaml")["image"]["tag"]
    assert image.startswith(f"v{AUTOSCALER_KUBERNETES_VERSION}.")
    with pytest.raises(ValueError, match=r"set cluster\.version: '1\.33'"):
        ClusterArgs(network=object(), domain="x.com", version="1.34")  # type: ignore[arg-type]


# -- Helm values: only keys the pinned chart has, typed parts valid Kubernetes ------------------
def unknown_keys(
    ours: dict[str, Any],
    defaults: dict[str, Any],
    typed: frozenset[str] = frozenset(),
    path: str = "",
) -> list[str]:
    """Keys of `ours` the chart's values.yaml does not declare. Maps the chart leaves empty
    (`{}`, null: annotations, extraArgs, nodeSelector) take any key; `typed` values are
    checked against their Kubernetes definition instead."""
    found = []
    for key, value in ours.items():
        if key not in defaults:
            found.append(f"{path}{key}")
        elif key in typed:
            continue
        elif isinstance(value, dict) and isinstance(defaults[key], dict) and defaults[key]:
            found += unknown_keys(value, defaults[key], path=f"{path}{key}.")
    return found


def merged(defaults: Any, ours: Any) -> Any:
    if isinstance(defaults, dict) and isinstance(ours, dict):
        return {k: merged(defaults.get(k), ours[k]) if k in ours else defaults[k]
                for k in {**defaults, **ours}}  # fmt: skip
    return ours


def check_release_values(release: Any) -> None:
    chart = CHARTS[release.inputs["chart"]]
    assert release.inputs["version"] == chart[1]
    assert release.inputs["repositoryOpts"] == {"repo": chart[2]}
    defaults = upstream(chart, "values.yaml")
    values = release.inputs["values"]
    typed = {key.removesuffix("[]") for key in TYPED_VALUES[chart[0]]}
    # extraArgs is the autoscaler's command line (`--<key>=<value>`), not a chart setting.
    assert unknown_keys(values, defaults, frozenset({*typed, "extraArgs"})) == [], chart
    final = merged(defaults, values)
    for key, definition in TYPED_VALUES[chart[0]].items():
        name = key.removesuffix("[]")
        for item in final[name] if key.endswith("[]") else [final[name]]:
            validate_definition(item, definition)
    assert final["nodeSelector"] == {"soundstack/node-role": "system"}


@pytest.mark.parametrize("stack", ["test", "staging", "prod"])
def test_helm_values_are_the_pinned_charts_own(request, synth, stack):
    found = synth if stack == "test" else request.getfixturevalue(stack)
    releases = found.by_type("kubernetes:helm.sh/v3:Release")
    assert {r.inputs["chart"] for r in releases} == set(CHARTS)
    for release in releases:
        check_release_values(release)


def test_helm_value_checks_catch_typos_and_invalid_kubernetes_fields():
    defaults = upstream(LBC_CHART, "values.yaml")
    assert unknown_keys({"serviceAccount": {"annotation": {}}, "enableWafV2": True}, defaults) == [
        "serviceAccount.annotation", "enableWafV2"]  # fmt: skip
    assert unknown_keys({"serviceAccount": {"annotations": {"a": "b"}}}, defaults) == []
    with pytest.raises(Exception, match="unexpected"):
        validate_definition(
            {"readOnlyRootFS": True}, TYPED_VALUES["metrics-server"]["securityContext"]
        )


# -- item 8: metrics-server --------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["test", "staging", "prod"])
def test_metrics_server_serves_cpu_metrics_securely_on_the_system_nodes(request, synth, stack):
    found = synth if stack == "test" else request.getfixturevalue(stack)
    (release,) = [r for r in found.by_type("kubernetes:helm.sh/v3:Release")
                  if r.inputs["chart"] == "metrics-server"]  # fmt: skip
    assert release.inputs["namespace"] == "kube-system" and release.inputs["atomic"] is True
    values = release.inputs["values"]
    # The API server verifies metrics-server's certificate (CA in the APIService's caBundle).
    assert values["tls"] == {"type": "helm"}
    assert values["apiService"]["insecureSkipTLSVerify"] is False
    assert not any("insecure" in arg for arg in values.get("args", []))
    assert values["replicas"] == 2 and values["podDisruptionBudget"]["enabled"] is True
    assert values["nodeSelector"] == {"soundstack/node-role": "system"}
    security = values["securityContext"]
    assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}


# -- item 15: the order of `pulumi up` ---------------------------------------------------------
def depends_on(found, resource, type_suffix: str, name: str) -> bool:
    return any(u.endswith(f"{type_suffix}::{name}") for u in resource.dependencies)


def check_ordering(found, worker_group: str) -> None:
    groups = [g.name for g in found.by_type("aws:eks/nodeGroup:NodeGroup")]
    assert groups
    for release in found.by_type("kubernetes:helm.sh/v3:Release"):
        for group in groups:
            assert depends_on(found, release, "aws:eks/nodeGroup:NodeGroup", group), release.name
    lbc = next(r for r in found.by_type("kubernetes:helm.sh/v3:Release")
               if r.inputs["chart"] == "aws-load-balancer-controller")  # fmt: skip
    assert any(u.endswith("rolePolicy:RolePolicy::cluster-lbc-role-attach-web-acls")
               for u in lbc.dependencies)  # fmt: skip
    workload = [r for r in found.resources if r.type.startswith("kubernetes:")
                and "helm.sh" not in r.type and not r.type.endswith("Namespace")]  # fmt: skip
    kinds = {r.type.rsplit(":", 1)[1] for r in workload}
    assert {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler"} <= kinds
    for resource in workload:
        assert depends_on(found, resource, "Release", "cluster-lbc"), resource.name
        assert depends_on(found, resource, "Namespace", "cluster-ns"), resource.name
    for deployment in found.by_type("kubernetes:apps/v1:Deployment"):
        assert depends_on(found, deployment, "NodeGroup", worker_group), deployment.name
    for hpa in found.by_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler"):
        assert depends_on(found, hpa, "Release", "cluster-metrics-server"), hpa.name


@pytest.mark.parametrize("stack", ["test", "staging", "prod"])
def test_workloads_wait_for_the_controller_their_nodes_and_metrics(request, synth, stack):
    found = synth if stack == "test" else request.getfixturevalue(stack)
    check_ordering(found, "cluster-workers-nodes")


def test_without_spot_workers_pods_wait_for_the_system_nodes():
    found = build(worker_nodes=None, system_nodes=NodeGroupSpec(("t4g.large",), 1, 3, 1))
    check_ordering(found, "cluster-system-nodes")


# -- Shield Advanced on the ingress ALB where the account subscribes -----------------------------
def test_prod_alb_is_shield_protected_by_the_controller_and_staging_grants_no_shield(staging, prod):
    def lbc(found):
        return next(r for r in found.by_type("kubernetes:helm.sh/v3:Release")
                    if r.inputs["chart"] == "aws-load-balancer-controller")  # fmt: skip

    assert lbc(prod).inputs["values"]["enableShield"] is True
    assert "ManageShieldProtections" in statements(prod, "cluster-lbc-role")
    (subscription,) = prod.by_type("aws:shield/subscription:Subscription")
    for ingress in prod.by_type("kubernetes:networking.k8s.io/v1:Ingress"):
        notes = ingress.inputs["metadata"]["annotations"]
        assert notes["alb.ingress.kubernetes.io/shield-advanced-protection"] == "true"
        assert subscription.urn in ingress.dependencies
    assert not staging.by_type("aws:shield/subscription:Subscription")
    assert lbc(staging).inputs["values"]["enableShield"] is False
    assert "ManageShieldProtections" not in statements(staging, "cluster-lbc-role")
    for ingress in staging.by_type("kubernetes:networking.k8s.io/v1:Ingress"):
        assert "alb.ingress.kubernetes.io/shield-advanced-protection" not in ingress.inputs[
            "metadata"]["annotations"]  # fmt: skip
    shield_free = load_balancer_controller_statements("aws", "eu-west-1", "1", shield=False)
    assert not [a for _, actions, _, _ in shield_free for a in actions if a.startswith("shield:")]
