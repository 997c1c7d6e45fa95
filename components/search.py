"""OpenSearch for catalog search (the seed's ElasticSearch), inside the VPC: a domain (`Search`)
or an OpenSearch Serverless collection (`SearchCollection`). Both offer `endpoint` (a host name),
`signing_service` (the SigV4 service name clients sign for) and the verbs `grant_read`,
`grant_write` and `allow_from`.

The domain is encrypted at rest with the data key and node to node, HTTPS only with TLS 1.2+,
fine-grained access control with an IAM role as master user (`admin_role_arn`; no internal user
database, so no password anywhere), zone awareness and dedicated masters in prod, application,
slow-query and audit logs in CloudWatch. OpenSearch takes automated hourly snapshots of every
domain itself.

The domain policy lets the account's IAM principals in; which of them may search or index is then
decided by their own policies (`grant_read`, `grant_write`) and, inside OpenSearch, by the
fine-grained role mapping (map a service's role ARN to an OpenSearch role with the security
plugin). The account needs the service-linked role `AWSServiceRoleForAmazonOpenSearchService`
once (created by the console, or `aws iam create-service-linked-role --aws-service-name
opensearchservice.amazonaws.com`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from soundstack.components import access, lookups
from soundstack.components.base import Component, StackContext, json_document
from soundstack.components.iam import Grantee, ServiceRole, ServiceRoleArgs
from soundstack.components.logs import log_group
from soundstack.components.network import Network

HTTPS_PORT = 443
#: Log streams OpenSearch publishes (audit logs need fine-grained access control, which is on).
LOG_TYPES = ("ES_APPLICATION_LOGS", "INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS", "AUDIT_LOGS")
_READ = ("es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost")
_WRITE = ("es:ESHttpDelete", "es:ESHttpPatch", "es:ESHttpPost", "es:ESHttpPut")
#: Data-plane permissions a collection's data access policy gives per verb (on its indices only).
AOSS_READ = ("aoss:DescribeIndex", "aoss:ReadDocument")
AOSS_WRITE = ("aoss:CreateIndex", "aoss:DescribeIndex", "aoss:UpdateIndex", "aoss:WriteDocument")


@dataclass
class SearchArgs:
    """Shape of the search domain. Defaults are production-grade: 3 data nodes over 3 AZs."""

    network: Network
    #: Customer-managed KMS key for the indices at rest.
    kms_key_arn: pulumi.Input[str]
    #: KMS key of the log groups; None: a key of the component's own.
    log_kms_key_arn: pulumi.Input[str] | None = None
    engine_version: str = "OpenSearch_2.19"
    #: None: t3.small.search in dev, r7g.large.search elsewhere (`StackContext.sized`).
    instance_type: str | None = None
    instance_count: int = 3
    #: Three dedicated master nodes keep cluster state stable under indexing load; None: on,
    #: except in dev.
    dedicated_master: bool | None = None
    dedicated_master_type: str = "m7g.large.search"
    #: Spread data nodes over the network's zones (instance_count must be a multiple of them).
    zone_awareness: bool = True
    volume_size_gb: int = 100
    log_retention_days: int = 365


class Search(Component):
    """An OpenSearch domain in the isolated subnets."""

    TYPE = "soundstack:search:Search"

    def __init__(
        self,
        name: str,
        args: SearchArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self._admitted: set[str] = set()
        net = args.network
        zones = len(net.isolated_subnet_ids) if args.zone_awareness else 1
        if args.zone_awareness and args.instance_count % zones:
            raise ValueError(
                f"SearchArgs.instance_count={args.instance_count} (config search.instance_count) "
                f"does not spread evenly over {zones} zones; set it to a multiple of {zones}"
            )
        part, account = lookups.partition(), lookups.account_id()
        self.security_group = net.security_group(self, "search", f"{name}: HTTPS, granted only")
        self.security_group_id: pulumi.Output[str] = self.security_group.id
        domain_name = self.physical_name("", "opensearch")
        #: The domain ARN as text, known before the domain exists (its own policies need it).
        arn = f"arn:{part}:es:{ctx.region}:{account}:domain/{domain_name}"
        self.admin = ServiceRole(
            self.child_name("admin"),
            ServiceRoleArgs(
                assume_role_policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:{part}:iam::{account}:root"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                )
            ),
            ctx,
            opts=self.child_opts(),
        )
        groups = {
            log_type: log_group(
                self,
                log_type.lower().replace("_", "-"),
                args.log_retention_days,
                args.log_kms_key_arn,
                arg="SearchArgs.log_retention_days",
            )
            for log_type in LOG_TYPES
        }
        log_policy = aws.cloudwatch.LogResourcePolicy(
            self.child_name("log-policy"),
            policy_name=self.physical_name("logs"),
            policy_document=json_document(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "OpenSearchWritesLogs",
                            "Effect": "Allow",
                            "Principal": {"Service": "es.amazonaws.com"},
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": [
                                pulumi.Output.concat(g.arn, ":*") for g in groups.values()
                            ],
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": account},
                                "ArnLike": {"aws:SourceArn": arn},
                            },
                        }
                    ],
                }
            ),
            opts=self.child_opts(),
        )
        dedicated_master = (
            args.dedicated_master if args.dedicated_master is not None else ctx.environment != "dev"
        )
        cluster: dict[str, object] = {
            "instance_type": args.instance_type or ctx.sized("t3.small.search", "r7g.large.search"),
            "instance_count": args.instance_count,
            "dedicated_master_enabled": dedicated_master,
            "zone_awareness_enabled": args.zone_awareness,
        }
        if dedicated_master:
            cluster |= {
                "dedicated_master_type": args.dedicated_master_type,
                "dedicated_master_count": 3,
            }
        if args.zone_awareness:
            cluster["zone_awareness_config"] = {"availability_zone_count": zones}
        self.domain = aws.opensearch.Domain(
            self.child_name("domain"),
            domain_name=domain_name,
            engine_version=args.engine_version,
            cluster_config=cluster,
            ebs_options={
                "ebs_enabled": True,
                "volume_type": "gp3",
                "volume_size": args.volume_size_gb,
            },
            vpc_options={
                "subnet_ids": net.isolated_subnet_ids[:zones],
                "security_group_ids": [self.security_group.id],
            },
            encrypt_at_rest={"enabled": True, "kms_key_id": args.kms_key_arn},
            node_to_node_encryption={"enabled": True},
            domain_endpoint_options={
                "enforce_https": True,
                "tls_security_policy": "Policy-Min-TLS-1-2-PFS-2023-10",
            },
            advanced_security_options={
                "enabled": True,
                "anonymous_auth_enabled": False,
                "internal_user_database_enabled": False,
                "master_user_options": {"master_user_arn": self.admin.role_arn},
            },
            access_policies=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AccountPrincipalsWithIamGrants",
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:{part}:iam::{account}:root"},
                            "Action": sorted({*_READ, *_WRITE}),
                            "Resource": f"{arn}/*",
                        }
                    ],
                }
            ),
            log_publishing_options=[
                {"log_type": log_type, "cloudwatch_log_group_arn": group.arn, "enabled": True}
                for log_type, group in groups.items()
            ],
            software_update_options={"auto_software_update_enabled": True},
            off_peak_window_options={"enabled": True},
            tags=self.tags(),
            opts=self.child_opts(depends_on=[log_policy]),
        )
        #: The domain's ARN as its output, so grants built from it depend on the domain.
        self.arn: pulumi.Output[str] = self.domain.arn
        self.endpoint: pulumi.Output[str] = self.domain.endpoint
        self.port = HTTPS_PORT
        self.signing_service = "es"
        dims = {"DomainName": self.domain.domain_name, "ClientId": account}
        self.add_signal(
            "cpu", f"{name} CPU %", "AWS/ES", "CPUUtilization", dims, statistic="Average"
        )
        self.add_signal(
            "free_storage",
            f"{name} free storage (MB)",
            "AWS/ES",
            "FreeStorageSpace",
            dims,
            statistic="Minimum",
            comparison="LessThanThreshold",
        )
        self.register_outputs({"endpoint": self.endpoint, "arn": self.arn})

    def allow_from(self, grantee: Grantee) -> None:
        """Let `grantee`'s security group reach the domain on 443 (network only)."""
        access.open_port(
            self, self.security_group.id, grantee, HTTPS_PORT, "OpenSearch", self._admitted
        )

    def grant_read(self, grantee: Grantee) -> None:
        """Let `grantee` search the domain's indices (GET/HEAD, and POST for `_search`)."""
        indices = pulumi.Output.concat(self.arn, "/*")
        access.grant(grantee, access.sid("Search", self.logical_name), _READ, [indices])
        self.allow_from(grantee)

    def grant_write(self, grantee: Grantee) -> None:
        """Let `grantee` index, update and delete documents."""
        indices = pulumi.Output.concat(self.arn, "/*")
        access.grant(grantee, access.sid("Index", self.logical_name), _WRITE, [indices])
        self.allow_from(grantee)


@dataclass
class SearchCollectionArgs:
    """Shape of the serverless collection. Defaults are production-grade."""

    network: Network
    #: Customer-managed KMS key the collection's indices are encrypted with.
    kms_key_arn: pulumi.Input[str]
    #: Standby replicas in another AZ (OpenSearch Serverless "redundancy"). Off halves the
    #: always-on capacity (0.5 + 0.5 OCU instead of 1 + 1) but a zone outage stops search.
    standby_replicas: bool = True


class SearchCollection(Component):
    """An OpenSearch Serverless SEARCH collection reached only through a VPC endpoint.

    The collection is encrypted with the stack's data key (an encryption security policy; the
    collection waits for it). A network security policy admits the collection endpoint only from
    this component's OpenSearch Serverless VPC endpoint in the private subnets (no public access,
    no dashboards); the endpoint's security group admits 443 from granted grantees only.

    Who may use the data is decided twice, as AWS requires: each `grant_read` / `grant_write`
    creates its own data access policy naming that grantee's role with exactly the verb's
    permissions on `index/<collection>/*`, and grants the role `aoss:APIAccessAll` on the
    collection in IAM. A collection has no slow or audit logs like a domain: CloudTrail (the
    monitoring trail) records the control plane (collections, policies, endpoints).
    """

    TYPE = "soundstack:search:SearchCollection"

    def __init__(
        self,
        name: str,
        args: SearchCollectionArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self._admitted: set[str] = set()
        self._api_granted: set[str] = set()
        net = args.network
        #: Collection name, known before the collection exists (access policies name it).
        self.collection_name = self.physical_name("", "aoss")
        self.security_group = net.security_group(self, "search", f"{name}: HTTPS, granted only")
        self.security_group_id: pulumi.Output[str] = self.security_group.id
        self.vpc_endpoint = aws.opensearch.ServerlessVpcEndpoint(
            self.child_name("vpce"),
            name=self.physical_name("vpce", "aoss"),
            vpc_id=net.vpc_id,
            subnet_ids=net.private_subnet_ids,
            security_group_ids=[self.security_group.id],
            opts=self.child_opts(),
        )
        collection_rule = {
            "ResourceType": "collection",
            "Resource": [f"collection/{self.collection_name}"],
        }
        encryption = aws.opensearch.ServerlessSecurityPolicy(
            self.child_name("encryption"),
            name=self.physical_name("enc", "aoss"),
            type="encryption",
            description=f"{self.collection_name}: encrypted with the stack's data key",
            policy=json_document(
                {"Rules": [collection_rule], "AWSOwnedKey": False, "KmsARN": args.kms_key_arn}
            ),
            opts=self.child_opts(),
        )
        network_policy = aws.opensearch.ServerlessSecurityPolicy(
            self.child_name("network"),
            name=self.physical_name("net", "aoss"),
            type="network",
            description=f"{self.collection_name}: reachable from the VPC endpoint only",
            policy=json_document(
                [
                    {
                        "Description": "collection endpoint through the VPC endpoint only",
                        "Rules": [collection_rule],
                        "AllowFromPublic": False,
                        "SourceVPCEs": [self.vpc_endpoint.id],
                    }
                ]
            ),
            opts=self.child_opts(),
        )
        self.collection = aws.opensearch.ServerlessCollection(
            self.child_name("collection"),
            name=self.collection_name,
            type="SEARCH",
            description=f"{ctx.project} {ctx.stack} catalog search",
            standby_replicas="ENABLED" if args.standby_replicas else "DISABLED",
            tags=self.tags(),
            opts=self.child_opts(depends_on=[encryption, network_policy]),
        )
        self.arn: pulumi.Output[str] = self.collection.arn
        #: Host name of the collection endpoint (the API answers `https://<id>.<region>.aoss…`).
        self.endpoint: pulumi.Output[str] = self.collection.collection_endpoint.apply(
            lambda url: url.removeprefix("https://")
        )
        self.port = HTTPS_PORT
        self.signing_service = "aoss"
        dims = {
            "ClientId": lookups.account_id(),
            "CollectionId": self.collection.id,
            "CollectionName": self.collection_name,
        }
        self.add_signal("5xx", f"{name} 5xx", "AWS/AOSS", "5xx", dims)
        self.add_signal(
            "latency",
            f"{name} search latency (ms)",
            "AWS/AOSS",
            "SearchRequestLatency",
            dims,
            statistic="Average",
        )
        self.register_outputs(
            {"endpoint": self.endpoint, "arn": self.arn, "vpc_endpoint_id": self.vpc_endpoint.id}
        )

    def allow_from(self, grantee: Grantee) -> None:
        """Let `grantee`'s security group reach the VPC endpoint on 443 (network only)."""
        access.open_port(
            self, self.security_group.id, grantee, HTTPS_PORT, "OpenSearch", self._admitted
        )

    def grant_read(self, grantee: Grantee) -> None:
        """Let `grantee` search the collection's indices (describe them, read documents)."""
        self._grant(grantee, "read", AOSS_READ)

    def grant_write(self, grantee: Grantee) -> None:
        """Let `grantee` create and update indices and write (index, update, delete) documents."""
        self._grant(grantee, "write", AOSS_WRITE)

    def _grant(self, grantee: Grantee, verb: str, permissions: tuple[str, ...]) -> None:
        """One data access policy for `grantee` and `verb`, the IAM API access, and port 443."""
        who = access.grantee_name(grantee)
        aws.opensearch.ServerlessAccessPolicy(
            self.child_name(f"{who}-{verb}"),
            name=self.physical_name(f"{who}-{verb}", "aoss"),
            type="data",
            description=f"{who} may {verb} {self.collection_name}",
            policy=json_document(
                [
                    {
                        "Rules": [
                            {
                                "ResourceType": "index",
                                "Resource": [f"index/{self.collection_name}/*"],
                                "Permission": sorted(permissions),
                            }
                        ],
                        "Principal": [grantee.role_arn],
                    }
                ]
            ),
            opts=self.child_opts(),
        )
        if who not in self._api_granted:
            self._api_granted.add(who)
            access.grant(
                grantee,
                access.sid("Api", "access", self.logical_name),
                ["aoss:APIAccessAll"],
                [self.arn],
            )
        self.allow_from(grantee)
