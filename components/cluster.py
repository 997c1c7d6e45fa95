"""EKS for the long-running, heavier services, with their container workloads.

`Cluster` builds a pulumi-eks cluster in the private subnets (private API endpoint, secrets
encrypted with its own KMS key, all control-plane logs, access entries, an OIDC provider for
IAM roles for service accounts), managed node groups (an on-demand system group and an optional
Spot group for workers), the cluster autoscaler, the AWS Load Balancer Controller and
metrics-server by Helm on the system nodes (the first two with IRSA roles holding their
upstream policy, scoped to this account, region and cluster), and one `Workload` per
containerised service (ECR repository, Deployment, Service, HPA, PDB, service account with its
own role, Ingress on a shared, WAF-protected HTTPS ALB).

Kubernetes resources are created through a provider built from the cluster's kubeconfig. The
endpoint is private, so only a deploy inside the VPC reaches them: the stack's deploy runner
(components/pipeline.py `DeployRunner`, admitted with `allow_api_from`) runs as the deploy role,
which has a cluster-admin access entry. The in-cluster part (add-ons, namespace, workloads)
exists once a release is recorded (`ClusterArgs.image_tag`, read from the account by
`lookups.release_image_tag`); until then a `pulumi up` from a workstation deploys the AWS side
alone (cluster, node groups, image repositories, roles) and completes. Once it exists, the
in-cluster part is created in this order: node groups, add-ons (each Helm release waits for its
pods), then the workloads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from soundstack.components import lookups
from soundstack.components.base import Component, StackContext
from soundstack.components.iam import RoleGrantee, ServiceRole, ServiceRoleArgs
from soundstack.components.kms import EncryptionKey, EncryptionKeyArgs
from soundstack.components.logs import log_group
from soundstack.components.naming import physical_name
from soundstack.components.network import Network

#: Every control-plane log type EKS offers (EKS.8 asks for audit at least).
CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")
NAMESPACE = "soundstack"
SYSTEM_NAMESPACE = "kube-system"
#: Cluster autoscaler 1.33.0: "We recommend using Cluster Autoscaler with the Kubernetes control
#: plane version for which it was meant" (its README), so `ClusterArgs.version` must match.
AUTOSCALER_CHART = ("cluster-autoscaler", "9.51.0", "https://kubernetes.github.io/autoscaler")
AUTOSCALER_KUBERNETES_VERSION = "1.33"
#: Controller v2.13.3: its IAM policy is `load_balancer_controller_statements`.
LBC_CHART = ("aws-load-balancer-controller", "1.13.3", "https://aws.github.io/eks-charts")
#: metrics-server 0.8.1: the resource metrics API the HPAs read CPU utilisation from.
METRICS_SERVER_CHART = (
    "metrics-server",
    "3.13.1",
    "https://kubernetes-sigs.github.io/metrics-server/",
)
#: Node label of the managed node groups (`system`, `workers`).
NODE_ROLE_LABEL = "soundstack/node-role"
#: The UID the service images run as (app_services Dockerfiles create this user).
APP_UID = 10001
_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
_RUNTIME_DEFAULT = {"type": "RuntimeDefault"}
#: Container security context of the add-ons (Pod Security Standard `restricted`).
_RESTRICTED_CONTAINER: dict[str, Any] = {
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": _RUNTIME_DEFAULT,
}


def no_creator_admin(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Transform for pulumi-eks: do not make whoever runs the first `pulumi up` cluster admin.

    pulumi-eks sets `bootstrapClusterCreatorAdminPermissions: true`; EKS then adds an access
    entry for the creating principal, and "You can't specify the same ARN in more than one
    access entry", so a first deploy run as the deploy role (or a listed admin) would fail on the
    explicit entry below. Cluster access comes from the explicit entries only.
    """
    if args.type_ != "aws:eks/cluster:Cluster":
        return None
    key = "bootstrapClusterCreatorAdminPermissions"
    access = args.props.get("accessConfig")
    patched: pulumi.Input[dict[str, Any]] = (
        {**access, key: False}
        if isinstance(access, dict)
        else pulumi.Output.from_input(access).apply(lambda a: {**(a or {}), key: False})
    )
    return pulumi.ResourceTransformResult({**args.props, "accessConfig": patched}, args.opts)


def _admin_entry(principal_arn: str, partition: str) -> eks.AccessEntryArgs:
    return eks.AccessEntryArgs(
        principal_arn=principal_arn,
        access_policies={
            "cluster-admin": eks.AccessPolicyAssociationArgs(
                policy_arn=_ADMIN_POLICY.replace("arn:aws:", f"arn:{partition}:"),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
            )
        },
    )


@dataclass
class NodeGroupSpec:
    """Size and shape of one managed node group."""

    instance_types: Sequence[str] = ("m7g.large",)
    min_size: int = 2
    max_size: int = 6
    desired_size: int = 2

    def __post_init__(self) -> None:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                f"node group needs min_size ≤ desired_size ≤ max_size, got {self.min_size} ≤ "
                f"{self.desired_size} ≤ {self.max_size}"
            )


@dataclass
class WorkloadSpec:
    """One containerised service. Defaults: 2-6 replicas at 70 % CPU, 250m/512Mi requested."""

    #: Package under `app_services/` whose Dockerfile builds the image.
    service: str
    #: Path prefix on the ingress, e.g. `/catalog`.
    path: str
    port: int = 8080
    health_path: str = "/healthz"
    min_replicas: int = 2
    max_replicas: int = 6
    target_cpu_percent: int = 70
    cpu_request: str = "250m"
    memory_request: str = "512Mi"
    cpu_limit: str = "1"
    memory_limit: str = "1Gi"
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError(
                f"{self.service}: need 1 ≤ min_replicas ≤ max_replicas, got "
                f"{self.min_replicas}, {self.max_replicas}"
            )
        if not self.path.startswith("/"):
            raise ValueError(f"{self.service}: path {self.path!r} must start with /")


@dataclass
class ClusterArgs:
    """The cluster. Defaults are production-grade: private endpoint only, encrypted secrets, a
    year of control-plane logs, 2-6 on-demand system nodes plus 0-10 Spot workers."""

    network: Network
    #: DNS name under which the ingress serves HTTPS as `apps.<domain>`.
    domain: str
    version: str = "1.33"
    #: Public API endpoint (in addition to the private one), reachable from these CIDRs only.
    public_endpoint: bool = False
    public_access_cidrs: Sequence[str] = ()
    system_nodes: NodeGroupSpec = field(default_factory=NodeGroupSpec)
    #: A Spot node group for the service pods; None runs them on the system group.
    worker_nodes: NodeGroupSpec | None = field(
        default_factory=lambda: NodeGroupSpec(("m7g.large", "m6g.large"), 0, 10, 2)
    )
    #: IAM roles (e.g. the platform team's SSO role) given cluster-admin access entries.
    admin_role_arns: Sequence[str] = ()
    #: The stack's `<project>-<stack>-deploy` role (components/bootstrap.py): a cluster-admin
    #: access entry, since every deploy of the in-cluster resources runs as it.
    deploy_role_arn: str | None = None
    #: Image tag the deploy runner recorded after the Images stage pushed it (every workload
    #: runs it). None before the first release: nothing is deployed inside the cluster yet.
    image_tag: str | None = None
    log_retention_days: int = 365
    log_kms_key_arn: pulumi.Input[str] | None = None
    #: Regional WAF web ACL the ALB is associated with (the edge component's).
    web_acl_arn: pulumi.Input[str] | None = None
    #: The account's Shield Advanced subscription (the edge component's, None without one):
    #: when set, the controller puts the ingress ALB under Shield Advanced protection.
    shield_subscription: pulumi.Resource | None = None
    #: Route 53 zone of `domain` (validates the ingress certificate, points `apps.<domain>`).
    hosted_zone_id: pulumi.Input[str] | None = None
    workloads: Sequence[WorkloadSpec] = ()

    def __post_init__(self) -> None:
        if self.version != AUTOSCALER_KUBERNETES_VERSION:
            raise ValueError(
                f"cluster version {self.version!r}: the pinned cluster autoscaler is built for "
                f"Kubernetes {AUTOSCALER_KUBERNETES_VERSION} (it should match the control "
                f"plane): set cluster.version: '{AUTOSCALER_KUBERNETES_VERSION}' or pin the "
                "autoscaler chart of your version in AUTOSCALER_CHART"
            )
        if self.public_endpoint and not self.public_access_cidrs:
            raise ValueError("public_endpoint needs public_access_cidrs (your VPN ranges)")
        if any(c in ("0.0.0.0/0", "::/0") for c in self.public_access_cidrs):
            raise ValueError("public_access_cidrs must not contain 0.0.0.0/0 or ::/0")
        # CreateAccessEntry: "You can't specify the same ARN in more than one access entry."
        if self.deploy_role_arn is not None and self.deploy_role_arn in self.admin_role_arns:
            raise ValueError(
                f"admin_role_arns lists the deploy role {self.deploy_role_arn}, which already has "
                "its own access entry: EKS refuses a second entry for one ARN; remove it there"
            )
        if self.image_tag is not None and not re.fullmatch(
            r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", self.image_tag
        ):
            raise ValueError(
                f"image_tag={self.image_tag!r} is not a Docker tag (letters, digits, _ . -; at "
                "most 128): record the commit id the Images stage pushed"
            )


class Cluster(Component):
    """An EKS cluster with node groups, add-ons by Helm and the containerised services."""

    TYPE = "soundstack:cluster:Cluster"

    def __init__(
        self,
        name: str,
        args: ClusterArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.cluster_name = self.physical_name("", "eks")
        self.key = EncryptionKey(
            self.child_name("key"),
            EncryptionKeyArgs(description=f"EKS secrets and images of {self.cluster_name}"),
            ctx,
            opts=self.child_opts(),
        )
        # EKS writes control-plane logs to this fixed name; creating it first sets retention.
        self.control_plane_logs = log_group(
            self, "control-plane", args.log_retention_days, args.log_kms_key_arn,
            name=f"/aws/eks/{self.cluster_name}/cluster",
        )  # fmt: skip
        partition = lookups.partition()
        self.cluster = eks.Cluster(
            self.child_name("eks"),
            name=self.cluster_name,
            version=args.version,
            vpc_id=args.network.vpc_id,
            subnet_ids=args.network.private_subnet_ids,
            endpoint_private_access=True,
            endpoint_public_access=args.public_endpoint,
            public_access_cidrs=list(args.public_access_cidrs) or None,
            encryption_config_key_arn=self.key.arn,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            authentication_mode=eks.AuthenticationMode.API,
            access_entries={
                **{
                    f"admin-{i}": _admin_entry(arn, partition)
                    for i, arn in enumerate(args.admin_role_arns)
                },
                **(
                    {"deploy": _admin_entry(args.deploy_role_arn, partition)}
                    if args.deploy_role_arn
                    else {}
                ),
            }
            or None,
            create_oidc_provider=True,
            skip_default_node_group=True,
            # Managed node groups join the EKS-created cluster security group.
            skip_default_security_groups=True,
            node_associate_public_ip_address=False,
            deletion_protection=ctx.is_prod,
            tags=self.tags(),
            cluster_tags=self.tags(),
            opts=self.child_opts(
                depends_on=[self.control_plane_logs], transforms=[no_creator_admin]
            ),
        )
        #: Security group of the nodes (and so of every pod): stores `allow_from` it.
        self.security_group_id: pulumi.Output[str] = self.cluster.cluster_security_group_id
        self.oidc_provider_arn: pulumi.Output[str] = self.cluster.oidc_provider_arn
        self.oidc_issuer: pulumi.Output[str] = self.cluster.oidc_issuer
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(self.cluster.kubeconfig_json)

        self.node_groups = self._node_groups(args)
        #: The group the service pods schedule on (their `nodeSelector`).
        self.workload_nodes = self.node_groups[
            "workers" if args.worker_nodes is not None else "system"
        ]
        self.ingress_host = f"apps.{args.domain}"
        self.certificate_arn = self._certificate(args)
        self.image_tag = args.image_tag
        if args.image_tag is None:
            # No release yet: the cluster's AWS side and the image repositories only.
            self.workloads = {spec.service: Workload(self, spec, args) for spec in args.workloads}
            self._register()
            return
        self.provider = k8s.Provider(
            self.child_name("k8s"),
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=self.child_opts(),
        )
        # Add-ons run on the system nodes, after both groups exist; workloads wait for them.
        self.autoscaler = self._autoscaler()
        self.load_balancer_controller = self._load_balancer_controller(args)
        self.metrics_server = self._metrics_server()
        self.namespace = k8s.core.v1.Namespace(
            self.child_name("ns"),
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAMESPACE,
                labels={
                    # Pod Security Admission: refuse any pod that is not `restricted`.
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            ),
            opts=self.k8s_opts(),
        )
        self.workloads = {spec.service: Workload(self, spec, args) for spec in args.workloads}
        self._register()

    def _register(self) -> None:
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "oidc_provider_arn": self.oidc_provider_arn,
                "security_group_id": self.security_group_id,
            }
        )

    def allow_api_from(
        self, owner: Component, role: str, security_group_id: pulumi.Input[str]
    ) -> None:
        """Admit `security_group_id` (e.g. the deploy runner's) to the private API endpoint.

        EKS: "If you disable public access, your cluster's Kubernetes API server can only
        receive requests from within the cluster VPC", and the endpoint's network interfaces
        carry the cluster security group, whose only default inbound rule is from itself.
        """
        aws.vpc.SecurityGroupIngressRule(
            owner.child_name(f"{role}-eks-api"),
            security_group_id=self.security_group_id,
            referenced_security_group_id=security_group_id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description=f"Kubernetes API from {owner.logical_name} {role}",
            tags=self.tags(),
            opts=owner.child_opts(),
        )

    # -- helpers used by workloads ---------------------------------------------------------
    def k8s_opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a Kubernetes child: parented here, deployed through the cluster."""
        return self.child_opts(provider=self.provider, **kwargs)

    def irsa_trust(self, namespace: str, service_account: str) -> pulumi.Output[str]:
        """Trust policy: only `namespace/service_account` of this cluster may assume the role."""
        return pulumi.Output.all(self.oidc_provider_arn, self.oidc_issuer).apply(
            lambda v: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Federated": v[0]},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {
                                "StringEquals": {
                                    f"{v[1]}:sub": (
                                        f"system:serviceaccount:{namespace}:{service_account}"
                                    ),
                                    f"{v[1]}:aud": "sts.amazonaws.com",
                                }
                            },
                        }
                    ],
                }
            )
        )

    def irsa_role(
        self, owner: Component, role: str, namespace: str, service_account: str
    ) -> ServiceRole:
        """A role for the pods of one service account, in the nodes' security group."""
        return ServiceRole(
            owner.child_name(role),
            ServiceRoleArgs(
                assume_role_policy=self.irsa_trust(namespace, service_account),
                security_group_id=self.security_group_id,
            ),
            self.ctx,
            opts=owner.child_opts(),
        )

    # -- nodes -----------------------------------------------------------------------------
    def _node_groups(self, args: ClusterArgs) -> dict[str, aws.eks.NodeGroup]:
        part = lookups.partition()
        node_role = ServiceRole(
            self.child_name("node-role"),
            ServiceRoleArgs(
                services=["ec2.amazonaws.com"],
                managed_policy_arns=[
                    f"arn:{part}:iam::aws:policy/AmazonEKSWorkerNodePolicy",
                    f"arn:{part}:iam::aws:policy/AmazonEKS_CNI_Policy",
                    f"arn:{part}:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
                ],
            ),
            self.ctx,
            opts=self.child_opts(),
        )
        groups: dict[str, tuple[NodeGroupSpec, str]] = {"system": (args.system_nodes, "ON_DEMAND")}
        if args.worker_nodes is not None:
            groups["workers"] = (args.worker_nodes, "SPOT")
        return {
            role: aws.eks.NodeGroup(
                self.child_name(f"{role}-nodes"),
                cluster_name=self.cluster_name,
                node_group_name=self.physical_name(f"{role}-nodes", "eks"),
                node_role_arn=node_role.role_arn,
                subnet_ids=args.network.private_subnet_ids,
                capacity_type=capacity,
                ami_type="AL2023_ARM_64_STANDARD",
                instance_types=list(spec.instance_types),
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=spec.min_size, max_size=spec.max_size, desired_size=spec.desired_size
                ),
                update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
                labels={NODE_ROLE_LABEL: role},
                tags=self.tags(),
                # The autoscaler owns the desired size once the group exists.
                opts=self.child_opts(
                    depends_on=[self.cluster], ignore_changes=["scalingConfig.desiredSize"]
                ),
            )
            for role, (spec, capacity) in groups.items()
        }

    # -- add-ons ---------------------------------------------------------------------------
    def _helm(
        self,
        role: str,
        chart: tuple[str, str, str],
        values: Mapping[str, Any],
        irsa: ServiceRole | None = None,
    ) -> k8s.helm.v3.Release:
        """A chart in kube-system on the system nodes, once every node group exists (and the
        IRSA role with all its grants, so the pods start with their permissions). `atomic`
        waits until its pods are ready, so dependents find webhooks and APIs serving."""
        name, version, repo = chart
        after: list[pulumi.Resource] = [*self.node_groups.values(), *([irsa] if irsa else [])]
        return k8s.helm.v3.Release(
            self.child_name(role),
            name=self.physical_name(role, "helm_release"),
            chart=name,
            version=version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo),
            namespace=SYSTEM_NAMESPACE,
            values={**values, "nodeSelector": {NODE_ROLE_LABEL: "system"}},
            atomic=True,
            cleanup_on_fail=True,
            opts=self.k8s_opts(depends_on=after),
        )

    def _autoscaler(self) -> k8s.helm.v3.Release:
        account = lookups.account_id()
        part = lookups.partition()
        region = self.ctx.region
        sa = "cluster-autoscaler"
        role = self.irsa_role(self, "autoscaler-role", SYSTEM_NAMESPACE, sa)
        # The "Full Cluster Autoscaler Features Policy" of its AWS README (auto-discovery),
        # with the writes restricted by the tag EKS puts on the node groups' ASGs, as advised.
        role.grant(
            "DescribeScalingGroups",
            [
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling:DescribeScalingActivities",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:GetInstanceTypesFromInstanceRequirements",
            ],
            ["*"],  # describe calls take no resource ARNs
        )
        role.grant(
            "DescribeOwnNodeGroups",
            ["eks:DescribeNodegroup"],
            [f"arn:{part}:eks:{region}:{account}:nodegroup/{self.cluster_name}/*/*"],
        )
        role.grant(
            "ScaleOwnNodeGroups",
            ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
            [
                f"arn:{part}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/*"
            ],
            conditions={
                "StringEquals": {
                    f"aws:ResourceTag/k8s.io/cluster-autoscaler/{self.cluster_name}": "owned"
                }
            },
        )
        return self._helm(
            "autoscaler",
            AUTOSCALER_CHART,
            {
                "autoDiscovery": {"clusterName": self.cluster_name},
                "awsRegion": region,
                "rbac": {
                    "serviceAccount": {
                        "create": True,
                        "name": sa,
                        "annotations": {"eks.amazonaws.com/role-arn": role.role_arn},
                    }
                },
                "extraArgs": {
                    "balance-similar-node-groups": True,
                    "expander": "least-waste",
                    "skip-nodes-with-system-pods": False,
                },
                "resources": {"requests": {"cpu": "100m", "memory": "300Mi"},
                              "limits": {"memory": "600Mi"}},
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65534,
                                    "runAsGroup": 65534, "seccompProfile": _RUNTIME_DEFAULT},
                "containerSecurityContext": _RESTRICTED_CONTAINER,
            },
            irsa=role,
        )  # fmt: skip

    def _load_balancer_controller(self, args: ClusterArgs) -> k8s.helm.v3.Release:
        sa = "aws-load-balancer-controller"
        role = self.irsa_role(self, "lbc-role", SYSTEM_NAMESPACE, sa)
        shield = args.shield_subscription is not None
        for sid, actions, resources, conditions in load_balancer_controller_statements(
            lookups.partition(), self.ctx.region, lookups.account_id(), shield=shield
        ):
            role.grant(sid, actions, resources, conditions)
        return self._helm(
            "lbc",
            LBC_CHART,
            {
                "clusterName": self.cluster_name,
                "region": self.ctx.region,
                "vpcId": args.network.vpc_id,
                "replicaCount": 2,
                "serviceAccount": {
                    "create": True,
                    "name": sa,
                    "annotations": {"eks.amazonaws.com/role-arn": role.role_arn},
                },
                "enableShield": shield,
                "enableWaf": False,
                "enableWafv2": True,
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"memory": "512Mi"}},
                "podDisruptionBudget": {"maxUnavailable": 1},
                "podSecurityContext": {"fsGroup": 65534, "seccompProfile": _RUNTIME_DEFAULT},
                "securityContext": _RESTRICTED_CONTAINER,
            },
            irsa=role,
        )  # fmt: skip

    def _metrics_server(self) -> k8s.helm.v3.Release:
        """metrics-server for the HPAs' CPU metrics: two replicas on different system nodes,
        restricted pods, and an APIService the API server reaches over verified TLS (a
        certificate Helm generates, its CA in `caBundle`) instead of `insecureSkipTLSVerify`."""
        return self._helm(
            "metrics-server",
            METRICS_SERVER_CHART,
            {
                "replicas": 2,
                "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": {
                            "matchLabels": {"app.kubernetes.io/name": "metrics-server"}
                        },
                    }
                ],
                "resources": {"requests": {"cpu": "100m", "memory": "200Mi"},
                              "limits": {"memory": "400Mi"}},
                "podSecurityContext": {"seccompProfile": _RUNTIME_DEFAULT},
                "securityContext": {**_RESTRICTED_CONTAINER, "runAsUser": 1000},
                "tls": {"type": "helm"},
                "apiService": {"insecureSkipTLSVerify": False},
            },
        )  # fmt: skip

    def _certificate(self, args: ClusterArgs) -> pulumi.Output[str]:
        cert = aws.acm.Certificate(
            self.child_name("ingress-cert"),
            domain_name=self.ingress_host,
            validation_method="DNS",
            key_algorithm="EC_prime256v1",
            tags=self.tags({"Name": self.ingress_host}),
            opts=self.child_opts(),
        )
        if args.hosted_zone_id is None:
            return cert.arn
        option = cert.domain_validation_options[0]
        record = aws.route53.Record(
            self.child_name("ingress-cert-validation"),
            zone_id=args.hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=self.child_opts(),
        )
        return aws.acm.CertificateValidation(
            self.child_name("ingress-cert-validated"),
            certificate_arn=cert.arn,
            validation_record_fqdns=[record.fqdn],
            opts=self.child_opts(),
        ).certificate_arn


class Workload(RoleGrantee, Component):
    """One containerised service on the cluster: image repository, pods, scaling, ingress.

    A `Grantee`: stores grant the service's pods access through its IRSA role.
    """

    TYPE = "soundstack:cluster:Workload"

    def __init__(self, cluster: Cluster, spec: WorkloadSpec, args: ClusterArgs) -> None:
        super().__init__(
            cluster.child_name(spec.service), cluster.ctx, pulumi.ResourceOptions(parent=cluster)
        )
        self.service = spec.service
        self.repository_name = image_repository_name(self.ctx.project, self.ctx.stack, spec.service)
        self.repository = aws.ecr.Repository(
            self.child_name("repo"),
            name=self.repository_name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True
            ),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(
                    encryption_type="KMS", kms_key=cluster.key.arn
                )
            ],
            tags=self.tags({"service": spec.service}),
            opts=self.child_opts(),
        )
        aws.ecr.LifecyclePolicy(
            self.child_name("repo-lifecycle"),
            repository=self.repository.name,
            policy=json.dumps(ECR_LIFECYCLE),
            opts=self.child_opts(),
        )
        sa_name = spec.service
        self.role = cluster.irsa_role(self, "role", NAMESPACE, sa_name)
        if cluster.image_tag is None:  # no release recorded: no pods without an image
            self.register_outputs({"repository_url": self.repository.repository_url})
            return
        labels = {"app.kubernetes.io/name": spec.service, "app.kubernetes.io/part-of": "soundstack"}
        metadata = k8s.meta.v1.ObjectMetaArgs(name=spec.service, namespace=NAMESPACE, labels=labels)
        # Everything after the namespace, the nodes the pods schedule on and the Load Balancer
        # Controller, whose webhooks (Services, Ingresses) refuse objects until it serves.
        opts = self.child_opts(
            provider=cluster.provider,
            depends_on=[
                cluster.namespace,
                cluster.workload_nodes,
                cluster.load_balancer_controller,
            ],
        )

        self.service_account = k8s.core.v1.ServiceAccount(
            self.child_name("sa"),
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=sa_name,
                namespace=NAMESPACE,
                labels=labels,
                annotations={"eks.amazonaws.com/role-arn": self.role.role_arn},
            ),
            automount_service_account_token=False,
            opts=opts,
        )
        self.image = pulumi.Output.concat(self.repository.repository_url, ":", cluster.image_tag)
        self.deployment = k8s.apps.v1.Deployment(
            self.child_name("deployment"),
            metadata=metadata,
            # No `replicas`: the HPA owns the count, a deploy must not reset it.
            spec=k8s.apps.v1.DeploymentSpecArgs(
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                        max_unavailable=0, max_surge=1
                    ),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=self._pod_spec(spec, sa_name, labels, args),
                ),
            ),
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[self.service_account])
            ),
        )
        self.k8s_service = k8s.core.v1.Service(
            self.child_name("svc"),
            metadata=metadata,
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=labels,
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=80, target_port="http")],
            ),
            opts=opts,
        )
        self.hpa = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            self.child_name("hpa"),
            metadata=metadata,
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=spec.service
                ),
                min_replicas=spec.min_replicas,
                max_replicas=spec.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization",
                                average_utilization=spec.target_cpu_percent,
                            ),
                        ),
                    )
                ],
            ),
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[self.deployment, cluster.metrics_server])
            ),
        )
        self.pdb = k8s.policy.v1.PodDisruptionBudget(
            self.child_name("pdb"),
            metadata=metadata,
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
            ),
            opts=opts,
        )
        annotations: dict[str, pulumi.Input[str]] = {
            "alb.ingress.kubernetes.io/group.name": cluster.cluster_name,
            "alb.ingress.kubernetes.io/scheme": "internet-facing",
            "alb.ingress.kubernetes.io/target-type": "ip",
            "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS": 443}]',
            "alb.ingress.kubernetes.io/certificate-arn": cluster.certificate_arn,
            "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "alb.ingress.kubernetes.io/healthcheck-path": spec.health_path,
            "alb.ingress.kubernetes.io/load-balancer-attributes": (
                "routing.http.drop_invalid_header_fields.enabled=true,"
                "deletion_protection.enabled=" + str(cluster.ctx.is_prod).lower()
            ),
            "alb.ingress.kubernetes.io/tags": ",".join(f"{k}={v}" for k, v in self.tags().items()),
        }
        if args.web_acl_arn is not None:
            annotations["alb.ingress.kubernetes.io/wafv2-acl-arn"] = args.web_acl_arn
        ingress_opts = opts
        if args.shield_subscription is not None:
            annotations["alb.ingress.kubernetes.io/shield-advanced-protection"] = "true"
            # The controller protects the ALB in the reconcile that publishes its address.
            ingress_opts = pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[args.shield_subscription])
            )
        self.ingress = k8s.networking.v1.Ingress(
            self.child_name("ingress"),
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=spec.service, namespace=NAMESPACE, labels=labels, annotations=annotations
            ),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name="alb",
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=cluster.ingress_host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[
                                k8s.networking.v1.HTTPIngressPathArgs(
                                    path=spec.path,
                                    path_type="Prefix",
                                    backend=k8s.networking.v1.IngressBackendArgs(
                                        service=k8s.networking.v1.IngressServiceBackendArgs(
                                            name=spec.service,
                                            port=k8s.networking.v1.ServiceBackendPortArgs(
                                                name="http"
                                            ),
                                        )
                                    ),
                                )
                            ]
                        ),
                    )
                ],
            ),
            opts=ingress_opts,
        )
        self.register_outputs(
            {"repository_url": self.repository.repository_url, "role_arn": self.role.role_arn}
        )

    def _pod_spec(
        self,
        spec: WorkloadSpec,
        sa_name: str,
        labels: Mapping[str, str],
        args: ClusterArgs,
    ) -> k8s.core.v1.PodSpecArgs:
        probe = k8s.core.v1.HTTPGetActionArgs(path=spec.health_path, port="http")
        return k8s.core.v1.PodSpecArgs(
            service_account_name=sa_name,
            automount_service_account_token=False,
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True,
                run_as_user=APP_UID,
                run_as_group=APP_UID,
                fs_group=APP_UID,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            topology_spread_constraints=[
                k8s.core.v1.TopologySpreadConstraintArgs(
                    max_skew=1,
                    topology_key="topology.kubernetes.io/zone",
                    when_unsatisfiable="ScheduleAnyway",
                    label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(labels)),
                )
            ],
            node_selector=({NODE_ROLE_LABEL: "workers"} if args.worker_nodes is not None else None),
            containers=[
                k8s.core.v1.ContainerArgs(
                    name=spec.service,
                    image=self.image,
                    ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=spec.port)],
                    env=[
                        k8s.core.v1.EnvVarArgs(name=k, value=v)
                        for k, v in sorted(spec.environment.items())
                    ],
                    resources=k8s.core.v1.ResourceRequirementsArgs(
                        requests={"cpu": spec.cpu_request, "memory": spec.memory_request},
                        limits={"cpu": spec.cpu_limit, "memory": spec.memory_limit},
                    ),
                    readiness_probe=k8s.core.v1.ProbeArgs(
                        http_get=probe, initial_delay_seconds=5, period_seconds=10
                    ),
                    liveness_probe=k8s.core.v1.ProbeArgs(
                        http_get=probe,
                        initial_delay_seconds=15,
                        period_seconds=20,
                        failure_threshold=3,
                    ),
                    security_context=k8s.core.v1.SecurityContextArgs(
                        run_as_non_root=True,
                        run_as_user=APP_UID,
                        read_only_root_filesystem=True,
                        allow_privilege_escalation=False,
                        privileged=False,
                        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                    ),
                    volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
                )
            ],
            volumes=[
                k8s.core.v1.VolumeArgs(
                    name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")
                )
            ],
        )


def image_repository_name(project: str, stack: str, service: str) -> str:
    """ECR repository of a service's image in a stack (the pipeline pushes to it by name)."""
    return physical_name(project, stack, f"cluster-{service}", "ecr")


#: Keep the last 30 release images; drop untagged layers after a week.
ECR_LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "expire untagged images after 7 days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 7,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "keep the last 30 images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30},
            "action": {"type": "expire"},
        },
    ]
}

Statement = tuple[str, list[str], list[str], dict[str, Any] | None]


def load_balancer_controller_statements(
    part: str, region: str, account: str, shield: bool = True
) -> list[Statement]:
    """The AWS Load Balancer Controller's policy: upstream's `docs/install/iam_policy.json` at
    the installed version (LBC_CHART), statement for statement, with two differences.

    - ARNs are this region's and account's, and every statement names only resource types its
      actions have (Service Authorization Reference): listener actions on listeners, rule
      actions on rules, target-group actions on target groups. Writes keep upstream's tag
      conditions (`elbv2.k8s.aws/cluster` on the request or on the resource the controller
      tagged). Actions that have no resource type (`elasticloadbalancing:SetWebAcl`, the
      Describe/List calls, `shield:CreateProtection`) are granted on `*`, as only `*` grants them.
    - No `waf-regional:*` (WAF Classic): the chart runs with `enableWaf: false` and attaches the
      WAFv2 web ACL (`enableWafv2: true`); the `shield:*` statement only with `shield=True`
      (the chart's `enableShield`, on when the account has Shield Advanced).
    """
    elb = f"arn:{part}:elasticloadbalancing:{region}:{account}"
    sg = f"arn:{part}:ec2:{region}:{account}:security-group/*"
    tagged = {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    request_tagged = {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}}
    untagged_request = {
        "Null": {
            "aws:RequestTag/elbv2.k8s.aws/cluster": "true",
            "aws:ResourceTag/elbv2.k8s.aws/cluster": "false",
        }
    }
    balancers = [f"{elb}:loadbalancer/net/*/*", f"{elb}:loadbalancer/app/*/*"]
    target_groups = [f"{elb}:targetgroup/*/*"]
    listeners = [f"{elb}:listener/net/*/*/*", f"{elb}:listener/app/*/*/*"]
    rules = [f"{elb}:listener-rule/net/*/*/*", f"{elb}:listener-rule/app/*/*/*"]
    shield_protections: list[Statement] = [
        (
            "ManageShieldProtections",
            [
                "shield:GetSubscriptionState",
                "shield:DescribeProtection",
                "shield:CreateProtection",
                "shield:DeleteProtection",
            ],
            ["*"],
            None,
        )
    ]
    return [
        *(shield_protections if shield else []),
        (
            "CreateElbServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            ["*"],
            {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
        ),
        (
            "DescribeNetworkAndLoadBalancers",
            [
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeVpcs",
                "ec2:DescribeVpcPeeringConnections",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeTags",
                "ec2:GetCoipPoolUsage",
                "ec2:DescribeCoipPools",
                "ec2:GetSecurityGroupsForVpc",
                "ec2:DescribeIpamPools",
                "ec2:DescribeRouteTables",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeSSLPolicies",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTrustStores",
                "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeCapacityReservation",
            ],
            ["*"],
            None,
        ),
        (
            "ReadCertificates",
            [
                "cognito-idp:DescribeUserPoolClient",
                "acm:ListCertificates",
                "acm:DescribeCertificate",
                "iam:ListServerCertificates",
                "iam:GetServerCertificate",
            ],
            ["*"],
            None,
        ),
        (
            # SetWebAcl has no resource type: the load balancer's side of a WAFv2 association.
            "AttachWebAcls",
            [
                "wafv2:GetWebACL",
                "wafv2:GetWebACLForResource",
                "wafv2:AssociateWebACL",
                "wafv2:DisassociateWebACL",
                "elasticloadbalancing:SetWebAcl",
            ],
            ["*"],
            None,
        ),
        (
            "CreateSecurityGroups",
            ["ec2:CreateSecurityGroup"],
            [sg, f"arn:{part}:ec2:{region}:{account}:vpc/*"],
            None,
        ),
        (
            "TagNewSecurityGroups",
            ["ec2:CreateTags"],
            [sg],
            {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, **request_tagged},
        ),
        ("RetagOwnSecurityGroups", ["ec2:CreateTags", "ec2:DeleteTags"], [sg], untagged_request),
        ("DeleteOwnSecurityGroups", ["ec2:DeleteSecurityGroup"], [sg], tagged),
        (
            # Also the nodes' group, which the controller did not tag: it opens it to its ALBs.
            "OpenSecurityGroupsToAlbs",
            ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            [sg],
            None,
        ),
        (
            "CreateTaggedLoadBalancers",
            ["elasticloadbalancing:CreateLoadBalancer"],
            balancers,
            request_tagged,
        ),
        (
            "CreateTaggedTargetGroups",
            ["elasticloadbalancing:CreateTargetGroup"],
            target_groups,
            request_tagged,
        ),
        (
            "TagOnCreate",
            ["elasticloadbalancing:AddTags"],
            [*target_groups, *balancers],
            {
                "StringEquals": {
                    "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]
                },
                **request_tagged,
            },
        ),
        (
            "RetagOwnLoadBalancers",
            ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            [*target_groups, *balancers],
            untagged_request,
        ),
        (
            "ModifyOwnLoadBalancers",
            [
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:SetIpAddressType",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:ModifyCapacityReservation",
            ],
            balancers,
            tagged,
        ),
        (
            # IP pools exist for application load balancers only.
            "ModifyOwnAlbIpPools",
            ["elasticloadbalancing:ModifyIpPools"],
            [f"{elb}:loadbalancer/app/*/*"],
            tagged,
        ),
        (
            "ModifyOwnTargetGroups",
            [
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:DeleteTargetGroup",
            ],
            target_groups,
            tagged,
        ),
        (
            "ModifyOwnListenerAttributes",
            ["elasticloadbalancing:ModifyListenerAttributes"],
            listeners,
            tagged,
        ),
        (
            "RegisterTargets",
            ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
            target_groups,
            None,
        ),
        ("CreateListeners", ["elasticloadbalancing:CreateListener"], balancers, None),
        (
            "ManageListeners",
            [
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags",
            ],
            listeners,
            None,
        ),
        (
            "ManageRules",
            [
                "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:SetRulePriorities",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags",
            ],
            rules,
            None,
        ),
    ]
