"""EKS: private endpoint, node bounds per stack, add-on roles, and hardened workloads."""

from __future__ import annotations

import json

import pytest

from soundstack.components.cluster import (
    Cluster,
    ClusterArgs,
    NodeGroupSpec,
    WorkloadSpec,
    load_balancer_controller_statements,
)
from soundstack.components.network import Network, NetworkArgs
from soundstack.stacks.loader import ConfigError, load_config
from soundstack.synth import stack_values, synthesize
from tests.conftest import make_ctx, run_program

ACL = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/soundstack/abc"


def build(**overrides):
    def program():
        ctx = make_ctx("prod", stack="test")
        net = Network("network", NetworkArgs(az_count=2, interface_endpoints=()), ctx)
        args = {
            "network": net,
            "domain": "music.example.com",
            "web_acl_arn": ACL,
            "admin_role_arns": ["arn:aws:iam::123456789012:role/platform-admin"],
            "image_tag": "1.2.3",
            "workloads": [WorkloadSpec("catalog", "/catalog"),
                          WorkloadSpec("recommendation", "/recommendations")],
            **overrides,
        }  # fmt: skip
        cluster = Cluster("cluster", ClusterArgs(**args), ctx)
        cluster.workloads["catalog"].grant("ReadMusic", ["s3:GetObject"], ["arn:aws:s3:::m/*"])

    return run_program(program)


@pytest.fixture(scope="module")
def synth():
    return build()


def statements(synth, prefix):
    found = {}
    for policy in synth.by_type("aws:iam/rolePolicy:RolePolicy"):
        if policy.name.startswith(prefix):
            for s in json.loads(policy.inputs["policy"])["Statement"]:
                found[s["Sid"]] = s
    return found


def test_cluster_is_private_encrypted_logged_and_uses_access_entries(synth):
    (eks,) = synth.by_type("eks:index:Cluster")
    i = eks.inputs
    assert i["endpointPrivateAccess"] is True and i["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in i
    assert i["encryptionConfigKeyArn"].startswith("arn:aws:kms:")
    assert set(i["enabledClusterLogTypes"]) == {"api", "audit", "authenticator",
                                                "controllerManager", "scheduler"}  # fmt: skip
    assert i["authenticationMode"] == "API" and i["createOidcProvider"] is True
    (entry,) = i["accessEntries"].values()
    assert entry["principalArn"].endswith("role/platform-admin")
    private = {s.inputs["cidrBlock"] for s in synth.by_type("aws:ec2/subnet:Subnet")
               if s.inputs["tags"]["tier"] == "private"}  # fmt: skip
    assert len(i["subnetIds"]) == len(private)
    (logs,) = [g for g in synth.by_type("aws:cloudwatch/logGroup:LogGroup")
               if g.inputs["name"].startswith("/aws/eks/")]  # fmt: skip
    assert logs.inputs["name"] == f"/aws/eks/{i['name']}/cluster"
    assert logs.inputs["retentionInDays"] == 365


def test_public_endpoint_only_with_allowed_cidrs():
    synth = build(public_endpoint=True, public_access_cidrs=["198.51.100.0/24"])
    (eks,) = synth.by_type("eks:index:Cluster")
    assert eks.inputs["endpointPublicAccess"] is True
    assert eks.inputs["publicAccessCidrs"] == ["198.51.100.0/24"]
    net = object()
    with pytest.raises(ValueError, match="needs public_access_cidrs"):
        ClusterArgs(network=net, domain="x.com", public_endpoint=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"0\.0\.0\.0/0"):
        ClusterArgs(network=net, domain="x.com", public_endpoint=True,  # type: ignore[arg-type]
                    public_access_cidrs=["0.0.0.0/0"])  # fmt: skip


def test_prod_config_refuses_a_public_endpoint_and_a_cluster_needs_a_domain():
    base = {"aws:region": "eu-west-1", "soundstack:owner": "o", "soundstack:cost_centre": "c"}
    with pytest.raises(ConfigError, match=r"cluster\.public_endpoint=true is not allowed in prod"):
        load_config("prod", {**base, "soundstack:domain": "music.example.com",
                             "soundstack:monitoring": {"alarm_email": "a@example.com"},
                             "soundstack:cluster": {"public_endpoint": True,
                                                    "public_access_cidrs": ["198.51.100.0/24"]}})  # fmt: skip
    values, secret = stack_values("staging")
    del values["soundstack:domain"]
    with pytest.raises(ConfigError, match=r"cluster\.enabled=true needs soundstack:domain"):
        synthesize("staging", values, secret)


def test_node_groups_spot_workers_and_system_on_demand(synth):
    groups = {g.inputs["labels"]["soundstack/node-role"]: g
              for g in synth.by_type("aws:eks/nodeGroup:NodeGroup")}  # fmt: skip
    assert groups["system"].inputs["capacityType"] == "ON_DEMAND"
    assert groups["workers"].inputs["capacityType"] == "SPOT"
    assert groups["system"].inputs["scalingConfig"] == {
        "minSize": 2,
        "maxSize": 6,
        "desiredSize": 2,
    }
    synth = build(worker_nodes=None, system_nodes=NodeGroupSpec(("t4g.large",), 1, 3, 1))
    (only,) = synth.by_type("aws:eks/nodeGroup:NodeGroup")
    assert only.inputs["instanceTypes"] == ["t4g.large"]
    (deployment,) = synth.by_type("kubernetes:apps/v1:Deployment")[:1]
    assert "nodeSelector" not in deployment.inputs["spec"]["template"]["spec"]


@pytest.mark.parametrize(
    ("stack", "system", "workers"),
    [("staging", (2, 6, 2), (0, 4, 1)), ("prod", (2, 6, 2), (0, 10, 2))],
)
def test_node_group_bounds_follow_the_stack(request, stack, system, workers):
    synth = request.getfixturevalue(stack)
    groups = {g.inputs["labels"]["soundstack/node-role"]: g.inputs["scalingConfig"]
              for g in synth.by_type("aws:eks/nodeGroup:NodeGroup")}  # fmt: skip
    as_tuple = {k: (v["minSize"], v["maxSize"], v["desiredSize"]) for k, v in groups.items()}
    assert as_tuple == {"system": system, "workers": workers}


def test_dev_runs_without_a_cluster(dev):
    assert not dev.by_type("eks:index:Cluster")
    assert not [r for r in dev.resources if r.type.startswith("kubernetes:")]


def test_prod_cluster_endpoint_is_private(prod):
    (eks,) = prod.by_type("eks:index:Cluster")
    assert eks.inputs["endpointPublicAccess"] is False
    assert eks.inputs["endpointPrivateAccess"] is True


def test_add_ons_are_installed_by_helm_with_their_own_roles(synth):
    releases = {r.inputs["chart"]: r for r in synth.by_type("kubernetes:helm.sh/v3:Release")}
    assert set(releases) == {"cluster-autoscaler", "aws-load-balancer-controller", "metrics-server"}
    lbc = releases["aws-load-balancer-controller"].inputs["values"]
    assert lbc["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        "cluster-lbc-role"
    )
    autoscaler = releases["cluster-autoscaler"].inputs["values"]
    assert autoscaler["autoDiscovery"]["clusterName"] == "soundstack-test-cluster"
    scale = statements(synth, "cluster-autoscaler-role")["ScaleOwnNodeGroups"]
    assert scale["Condition"] == {"StringEquals": {
        "aws:ResourceTag/k8s.io/cluster-autoscaler/soundstack-test-cluster": "owned"}}  # fmt: skip
    trust = json.loads(next(r for r in synth.by_type("aws:iam/role:Role")
                            if r.name == "cluster-lbc-role-role").inputs["assumeRolePolicy"])  # fmt: skip
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:aws-load-balancer-controller" in condition.values()
    assert "sts.amazonaws.com" in condition.values()


def test_no_cluster_role_is_granted_a_wildcard_action(synth):
    found = statements(synth, "cluster-")
    assert len(found) > 15
    for statement in found.values():
        for action in statement["Action"]:
            assert action != "*" and not action.endswith(":*"), statement
    # the controller writes only load balancers and security groups it tagged
    lbc = dict(
        (sid, (res, cond))
        for sid, _, res, cond in load_balancer_controller_statements("aws", "eu-west-1", "1")
    )
    assert lbc["ModifyOwnLoadBalancers"][1] == {
        "Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}
    }
    assert all(r.startswith("arn:aws:elasticloadbalancing:eu-west-1:1:")
               for r in lbc["ModifyOwnLoadBalancers"][0])  # fmt: skip


def _by_kind(synth, kind):
    return {r.inputs["metadata"]["name"]: r.inputs
            for r in synth.resources if r.type.endswith(f":{kind}")}  # fmt: skip


def assert_workloads_hardened(synth):
    deployments = _by_kind(synth, "Deployment")
    assert set(deployments) == {"catalog", "recommendation"}
    hpas, pdbs = _by_kind(synth, "HorizontalPodAutoscaler"), _by_kind(synth, "PodDisruptionBudget")
    for name, deployment in deployments.items():
        assert hpas[name]["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1",
                                                        "kind": "Deployment", "name": name}  # fmt: skip
        assert hpas[name]["spec"]["minReplicas"] >= 2
        assert (
            pdbs[name]["spec"]["selector"]["matchLabels"]
            == deployment["spec"]["selector"]["matchLabels"]
        )
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["serviceAccountName"] == name
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] > 0
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert set(container["resources"]["requests"]) == {"cpu", "memory"}
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}
            assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert ".dkr.ecr.eu-west-1.amazonaws.com/" in container["image"]
    return deployments


def test_workloads_run_as_non_root_with_probes_limits_hpa_and_pdb(synth):
    assert_workloads_hardened(synth)
    (ns,) = _by_kind(synth, "Namespace").values()
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_each_workload_has_an_immutable_scanned_encrypted_repository(synth):
    repos = synth.by_type("aws:ecr/repository:Repository")
    assert len(repos) == 2
    for repo in repos:
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo.inputs["encryptionConfigurations"][0]["encryptionType"] == "KMS"
    lifecycles = synth.by_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert {lc.inputs["repository"] for lc in lifecycles} == {r.inputs["name"] for r in repos}
    rules = json.loads(lifecycles[0].inputs["policy"])["rules"]
    assert {r["selection"]["tagStatus"] for r in rules} == {"untagged", "any"}
    image = _by_kind(synth, "Deployment")["catalog"]["spec"]["template"]["spec"]["containers"][0]
    assert image["image"].endswith("/soundstack-test-cluster-catalog:1.2.3")


def test_service_accounts_are_bound_to_least_privilege_roles(synth):
    accounts = _by_kind(synth, "ServiceAccount")
    for name, sa in accounts.items():
        role = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        assert role.endswith(f"soundstack-test-cluster-{name}-role")
        trust = json.loads(next(r for r in synth.by_type("aws:iam/role:Role")
                                if r.inputs["name"] == role.rsplit("/", 1)[1]).inputs[
            "assumeRolePolicy"])  # fmt: skip
        sub = next(v for k, v in trust["Statement"][0]["Condition"]["StringEquals"].items()
                   if k.endswith(":sub"))  # fmt: skip
        assert sub == f"system:serviceaccount:soundstack:{name}"
    assert set(statements(synth, "cluster-catalog-role")) == {"ReadMusic"}
    assert statements(synth, "cluster-recommendation-role") == {}


def test_ingress_is_https_alb_behind_the_waf(synth):
    ingresses = _by_kind(synth, "Ingress")
    assert set(ingresses) == {"catalog", "recommendation"}
    for ingress in ingresses.values():
        notes = ingress["metadata"]["annotations"]
        assert ingress["spec"]["ingressClassName"] == "alb"
        assert notes["alb.ingress.kubernetes.io/wafv2-acl-arn"] == ACL
        assert json.loads(notes["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTPS": 443}]
        assert notes["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:")
        assert notes["alb.ingress.kubernetes.io/ssl-policy"].startswith("ELBSecurityPolicy-TLS13")
        assert ingress["spec"]["rules"][0]["host"] == "apps.music.example.com"
    paths = {i["spec"]["rules"][0]["http"]["paths"][0]["path"] for i in ingresses.values()}
    assert paths == {"/catalog", "/recommendations"}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_stack_workloads_are_hardened_and_fronted_by_the_regional_waf(request, stack):
    synth = request.getfixturevalue(stack)
    assert_workloads_hardened(synth)
    acls = {r.inputs["name"] for r in synth.by_type("aws:wafv2/webAcl:WebAcl")
            if r.inputs.get("scope") == "REGIONAL"}  # fmt: skip
    assert acls
    for ingress in _by_kind(synth, "Ingress").values():
        arn = ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/wafv2-acl-arn"]
        assert ":regional/webacl/" in arn
        assert arn.split("/")[2] in acls


def test_bad_workload_specs_fail_clearly():
    with pytest.raises(ValueError, match="min_replicas"):
        WorkloadSpec("catalog", "/catalog", min_replicas=3, max_replicas=2)
    with pytest.raises(ValueError, match="must start with /"):
        WorkloadSpec("catalog", "catalog")
    with pytest.raises(ValueError, match="min_size"):
        NodeGroupSpec(("m7g.large",), 3, 2, 2)


DEPLOY = "arn:aws:iam::123456789012:role/soundstack-test-deploy"


def test_the_deploy_role_is_cluster_admin_and_the_creator_is_not():
    import pulumi

    from soundstack.components.cluster import no_creator_admin

    synth = build(deploy_role_arn=DEPLOY)
    (eks,) = synth.by_type("eks:index:Cluster")
    deploy = eks.inputs["accessEntries"]["deploy"]
    assert deploy["principalArn"] == DEPLOY
    (policy,) = deploy["accessPolicies"].values()
    assert policy["policyArn"].endswith(":cluster-access-policy/AmazonEKSClusterAdminPolicy")
    assert policy["accessScope"] == {"type": "cluster"}
    # pulumi-eks asks EKS for a creator entry; the transform turns it off (one entry per ARN).
    child = pulumi.ResourceTransformArgs(
        custom=True, type_="aws:eks/cluster:Cluster", name="cluster-eks-eksCluster",
        props={"accessConfig": {"authenticationMode": "API",
                                "bootstrapClusterCreatorAdminPermissions": True}},
        opts=pulumi.ResourceOptions(),
    )  # fmt: skip
    result = no_creator_admin(child)
    assert result is not None
    assert result.props["accessConfig"] == {
        "authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}  # fmt: skip
    other = pulumi.ResourceTransformArgs(custom=True, type_="aws:iam/role:Role", name="r",
                                         props={}, opts=pulumi.ResourceOptions())  # fmt: skip
    assert no_creator_admin(other) is None
    with pytest.raises(ValueError, match="refuses a second entry for one ARN"):
        ClusterArgs(network=object(), domain="x.com", deploy_role_arn=DEPLOY,  # type: ignore[arg-type]
                    admin_role_arns=[DEPLOY])  # fmt: skip


def test_before_a_release_only_the_clusters_aws_side_deploys():
    synth = build(image_tag=None)
    assert not [r for r in synth.resources if r.type.startswith("kubernetes:")]
    assert not [r for r in synth.resources if r.type == "pulumi:providers:kubernetes"]
    # Repositories (the Images stage pushes into them) and the pods' roles exist already.
    repos = {r.inputs["name"] for r in synth.by_type("aws:ecr/repository:Repository")}
    assert repos == {"soundstack-test-cluster-catalog", "soundstack-test-cluster-recommendation"}
    roles = {r.inputs["name"] for r in synth.by_type("aws:iam/role:Role")}
    assert {"soundstack-test-cluster-catalog-role", "soundstack-test-cluster-node-role"} <= roles
    assert synth.by_type("aws:eks/nodeGroup:NodeGroup")
    with pytest.raises(ValueError, match="is not a Docker tag"):
        ClusterArgs(network=object(), domain="x.com", image_tag="v1:latest")  # type: ignore[arg-type]


@pytest.mark.slow
def test_staging_and_prod_deploy_the_recorded_release_and_wait_for_one(staging, prod):
    from soundstack.mocks import OFFLINE_RELEASE

    for stack, released in (("staging", staging), ("prod", prod)):
        images = {c["image"] for d in released.by_type("kubernetes:apps/v1:Deployment")
                  for c in d.inputs["spec"]["template"]["spec"]["containers"]}  # fmt: skip
        assert images == {
            f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/soundstack-{stack}-cluster-{s}:"
            f"{OFFLINE_RELEASE}" for s in ("catalog", "recommendation")}  # fmt: skip
        (eks,) = released.by_type("eks:index:Cluster")
        assert eks.inputs["accessEntries"]["deploy"]["principalArn"] == (
            f"arn:aws:iam::123456789012:role/soundstack-{stack}-deploy")  # fmt: skip
    config, secret = stack_values("prod")
    first = synthesize("prod", config, secret, release=None)  # an empty account
    assert not [r for r in first.resources if r.type.startswith("kubernetes:")]
    assert first.by_type("eks:index:Cluster") and first.by_type("aws:ecr/repository:Repository")
