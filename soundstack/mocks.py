"""Pulumi mocks that answer like AWS: realistic ids, ARNs, endpoints and data-source results.

`EstateMocks.new_resource` echoes a resource's inputs and adds the outputs AWS would compute
(`id`, `arn`, endpoints …), so a mocked run's stack outputs look like a real deployment's.
`EstateMocks.call` answers the data sources components use (see components/lookups.py).

Like the provider, the mocks accept every input form the SDK accepts (an IAM document given as a
dict comes back as the JSON string the output type declares) and give a resource created without
its name the name Pulumi would generate (logical name + random suffix), so what depends on that
name keeps the value and the dependency. With `first_preview=True` they answer as a preview of a
new stack: no id, computed outputs unknown.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.runtime import rpc

ACCOUNT_ID = "123456789012"
#: The image tag the offline preview finds recorded for every stack (a commit id, as the deploy
#: runner records it): previews show the steady state, with the workloads deployed.
OFFLINE_RELEASE = "0123456789abcdef0123456789abcdef01234567"


def offline_signed_code(project: str, stack: str, release: str, account: str = ACCOUNT_ID) -> str:
    """The signed-code record the offline preview finds (as `soundstack sign-lambda` writes it:
    objects Signer put under `signed/` of the stack's layer assets bucket)."""
    bucket = f"{project}-{stack}-deps-assets-{account}"
    return json.dumps(
        {
            "bucket": bucket,
            "code_key": f"lambda-code/signed/code-{release[:12]}.zip",
            "layer_key": f"lambda-code/signed/layer-{release[:12]}.zip",
            "code_sha256": "0" * 64,
            "layer_sha256": "1" * 64,
            "profile_version_arn": "",
            "signature_expires": "2099-01-01T00:00:00+00:00",
        }
    )


# Type token → prefix of the id AWS gives such a resource (e.g. vpc-0a1b2c…).
_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:opensearch/serverlessVpcEndpoint:ServerlessVpcEndpoint": "vpce",
    "aws:opensearch/serverlessCollection:ServerlessCollection": "",  # bare id, e.g. 1a2b3c…
}

# Type token → id AWS generates for it from (region, a stable hex digest), where it is no name.
_ID_FORMATS: dict[str, Callable[[str, str], str]] = {
    "aws:cloudfront/distribution:Distribution": lambda region, h: f"E{h[:13].upper()}",
    "aws:cloudfront/publicKey:PublicKey": lambda region, h: f"K{h[:13].upper()}",
    "aws:cognito/userPool:UserPool": lambda region, h: f"{region}_{h[:4].upper()}{h[4:9]}",
    "aws:cognito/userPoolClient:UserPoolClient": lambda region, h: h[:26],
    # API Gateway v2 ids: 10 characters for an API, 6-7 for its children (a Lambda permission
    # for an authorizer names `<execution ARN>/authorizers/<authorizer id>`).
    "aws:apigatewayv2/api:Api": lambda region, h: h[:10],
    "aws:apigatewayv2/authorizer:Authorizer": lambda region, h: h[:6],
    "aws:apigatewayv2/integration:Integration": lambda region, h: h[:7],
    "aws:apigatewayv2/route:Route": lambda region, h: h[:7],
}

# Input property that holds a resource's physical name, per type (first present wins).
_NAME_KEYS = ("name", "bucket", "functionName", "clusterIdentifier", "identifier",
              "replicationGroupId", "domainName", "topicName", "streamName", "namespaceName",
              "workgroupName", "roleName", "userPoolName")  # fmt: skip


#: Inputs the SDK types `str | PolicyDocument` (or a lifecycle document) whose output is the
#: JSON string: every such input of pulumi-aws (`Union[str, ...DocumentArgs]`) is named so.
_DOCUMENT_KEYS = ("policy", "assumeRolePolicy", "accessPolicies", "policyDocument")

#: Services whose generated names AWS wants in lower case (pulumi-aws lower-cases them too).
_LOWERCASE_NAMES = ("s3", "rds", "neptune", "elasticache", "redshift", "docdb", "memorydb")


def _plain(value: Any) -> Any:
    """An input as the provider reads it: secret-marked values (e.g. admin user names, which
    pulumi-aws marks sensitive) unwrapped."""
    return value["value"] if rpc.is_rpc_secret(value) else value


def _digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _name_property(typ: str) -> str | None:
    """The property Pulumi auto-names for `typ` (`name`, or `bucket` for S3 buckets): the input
    the SDK's args class pairs with a `<prop>_prefix` input; None when the type has none."""
    package, module, kind = typ.split(":")
    if package != "aws":
        return None
    service = module.split("/", maxsplit=1)[0]
    try:
        sdk = importlib.import_module(f"pulumi_aws.{service}")
    except ImportError:
        try:
            sdk = importlib.import_module(f"pulumi_aws.{service}_")
        except ImportError:
            return None
    args = getattr(sdk, f"{kind}Args", None)
    for prop, prefix in (("name", "name_prefix"), ("bucket", "bucket_prefix")):
        if args is not None and hasattr(args, prop) and hasattr(args, prefix):
            return prop
    return None


class EstateMocks(pulumi.runtime.Mocks):
    """Mocks for one region and account."""

    def __init__(
        self,
        region: str,
        account_id: str = ACCOUNT_ID,
        first_preview: bool = False,
        release: str | None = OFFLINE_RELEASE,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.first_preview = first_preview
        self.release = release  # None: an empty account, before the first pipeline run
        self._calls: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": lambda _: {
                "accountId": account_id,
                "arn": f"arn:aws:iam::{account_id}:user/offline-preview",
                "userId": "AIDAOFFLINEPREVIEW",
                "id": account_id,
            },
            "aws:index/getPartition:getPartition": lambda _: {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
                "id": "aws",
            },
            "aws:index/getRegion:getRegion": lambda _: {
                "name": region,
                "region": region,
                "id": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            },
            "aws:index/getAvailabilityZones:getAvailabilityZones": lambda _: {
                "id": region,
                "names": [f"{region}{z}" for z in "abc"],
                "zoneIds": [f"{region[:2]}{region.split('-')[1][:1]}1-az{i}" for i in (1, 2, 3)],
                "groupNames": [region],
            },
            "aws:ssm/getParametersByPath:getParametersByPath": self._parameters,
        }

    def _parameters(self, args: dict[str, Any]) -> dict[str, Any]:
        """SSM answers a path with the parameters under it: only release records exist here,
        the image tag and the signed Lambda code of a released stack."""
        path = str(args["path"]).rstrip("/")
        records = {}
        if path.endswith("/release") and self.release:
            project, stack = path.split("/")[1:3]
            signed = offline_signed_code(project, stack, self.release, self.account_id)
            records = {f"{path}/image-tag": self.release, f"{path}/lambda-code": signed}
        return {
            "id": path,
            "path": path,
            "names": list(records),
            "values": list(records.values()),
            "types": ["String"] * len(records),
            "arns": [f"arn:aws:ssm:{self.region}:{self.account_id}:parameter{n}" for n in records],
            "withDecryption": True,
        }

    # -- resources -------------------------------------------------------------------------
    def autonamed(self, typ: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The name Pulumi generates when `inputs` give none: `<logical name>-<7 hex>` (or the
        given `<prop>Prefix` + 26 characters, as the provider does); {} when named or unnamed."""
        prop = _name_property(typ)
        if prop is None or inputs.get(prop):
            return {}
        prefix = inputs.get(f"{prop}Prefix")
        generated = (
            f"{prefix}{_digest(typ, name, length=26)}"
            if isinstance(prefix, str)
            else f"{name}-{_digest(typ, name, length=7)}"
        )
        lower = typ.split(":")[1].split("/", maxsplit=1)[0] in _LOWERCASE_NAMES
        return {prop: generated.lower() if lower else generated}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = {
            k: json.dumps(v) if k in _DOCUMENT_KEYS and isinstance(v, Mapping) else v
            for k, v in args.inputs.items()
        }
        inputs.update(self.autonamed(args.typ, args.name, inputs))
        name = next((str(inputs[k]) for k in _NAME_KEYS if isinstance(inputs.get(k), str)),
                    args.name)  # fmt: skip
        prefix = _ID_PREFIX.get(args.typ)
        id_format = _ID_FORMATS.get(args.typ)
        resource_id = (
            id_format(self.region, _digest(args.typ, args.name, length=32)) if id_format
            else name if prefix is None
            else f"{prefix}-0{_digest(args.typ, args.name)}" if prefix
            else _digest(args.typ, args.name, length=20)
        )  # fmt: skip
        computed = self._computed(args.typ, resource_id, name, inputs)
        if self.first_preview:  # a new resource: only what the program gave is known
            unknown = {k: rpc.UNKNOWN for k in computed if k not in inputs}
            return "", {**inputs, **unknown, "id": rpc.UNKNOWN}
        return resource_id, {**inputs, **computed}

    def _computed(self, typ: str, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        package, module, kind = typ.split(":")
        service = module.split("/", maxsplit=1)[0] if package == "aws" else package
        region = inputs.get("region") or self.region
        default = {"arn": f"arn:aws:{service}:{region}:{self.account_id}:{kind.lower()}/{rid}"}
        extra = _OUTPUTS.get(typ)
        return {**default, **extra(self, rid, name, inputs)} if extra else default

    # -- data sources ----------------------------------------------------------------------
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        handler = self._calls.get(args.token)
        if handler is None:
            raise NotImplementedError(
                f"the offline preview does not answer data source {args.token}; "
                "add it to soundstack/mocks.py (data sources belong in components/lookups.py)"
            )
        return handler(dict(args.args))


Computed = Callable[[EstateMocks, str, str, dict[str, Any]], dict[str, Any]]


def _kms_key(m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    h = _digest(rid, length=32)
    key_id = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
    region = inputs.get("region") or m.region
    return {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{m.account_id}:key/{key_id}"}


def _iam(kind: str) -> Computed:
    return lambda m, rid, name, inputs: {
        "arn": f"arn:aws:iam::{m.account_id}:{kind}/{name}",
        "name": name,
        "uniqueId": f"AROA{_digest(name, length=16).upper()}",
    }


def _bucket(m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    region = inputs.get("region") or m.region
    return {
        "arn": f"arn:aws:s3:::{name}",
        "bucket": name,
        "bucketDomainName": f"{name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        "region": region,
    }


def _public_ip(rid: str) -> str:
    return f"52.31.{int(_digest(rid, '1', length=2), 16)}.{int(_digest(rid, '2', length=2), 16)}"


# -- data tier and messaging (components/database.py, graph.py, cache.py, search.py, messaging.py)
def _rds_host(m: EstateMocks, name: str, kind: str = "") -> str:
    cluster = _digest(m.account_id, m.region, length=11)
    return f"{name}.{kind}c{cluster}.{m.region}.rds.amazonaws.com"


def _master_secret(m: EstateMocks, name: str, inputs: dict[str, Any]) -> list[dict[str, Any]]:
    if not inputs.get("manageMasterUserPassword"):
        return []
    return [
        {
            "secretArn": f"arn:aws:secretsmanager:{m.region}:{m.account_id}:secret:"
            f"rds!db-{_digest(name, length=8)}-{_digest(name, 'uuid', length=6)}",
            "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
            "secretStatus": "active",
        }
    ]


def _rds_instance(m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    host = _rds_host(m, name)
    port = inputs.get("port", 5432)
    return {
        "arn": f"arn:aws:rds:{m.region}:{m.account_id}:db:{name}",
        "address": host,
        "endpoint": f"{host}:{port}",
        "port": port,
        "resourceId": f"db-{_digest(name, 'rid', length=26).upper()}",
        "masterUserSecrets": _master_secret(m, name, inputs),
    }


def _db_cluster(service: str) -> Computed:
    def computed(m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        suffix = f"c{_digest(m.account_id, m.region, length=11)}.{m.region}.{service}.amazonaws.com"
        return {
            "arn": f"arn:aws:rds:{m.region}:{m.account_id}:cluster:{name}",
            "endpoint": f"{name}.cluster-{suffix}",
            "readerEndpoint": f"{name}.cluster-ro-{suffix}",
            "clusterResourceId": f"cluster-{_digest(name, 'rid', length=26).upper()}",
            "engineVersion": inputs.get("engineVersion", "17.4"),
            "masterUserSecrets": _master_secret(m, name, inputs),
        }

    return computed


def _cache_host(m: EstateMocks, name: str, role: str) -> str:
    geo, area, number = m.region.split("-")[-3:]
    short = f"{geo}{area[0]}{number}"  # eu-west-1 → euw1
    return f"{role}{name}.{_digest(name, length=6)}.{short}.cache.amazonaws.com"


def _replication_group(
    m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]
) -> dict[str, Any]:
    nodes = int(inputs.get("numCacheClusters", 1))
    return {
        "arn": f"arn:aws:elasticache:{m.region}:{m.account_id}:replicationgroup:{name}",
        "primaryEndpointAddress": _cache_host(m, name, "master."),
        "readerEndpointAddress": _cache_host(m, name, "replica."),
        "memberClusters": [f"{name}-{n:03d}" for n in range(1, nodes + 1)],
    }


def _elasticache_serverless(
    m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]
) -> dict[str, Any]:
    host = _cache_host(m, name, "").replace(".cache.", ".serverless.cache.", 1)
    return {
        "arn": f"arn:aws:elasticache:{m.region}:{m.account_id}:serverlesscache:{name}",
        "endpoints": [{"address": host, "port": 6379}],
        "readerEndpoints": [{"address": host, "port": 6380}],
    }


def _queue(m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "arn": f"arn:aws:sqs:{m.region}:{m.account_id}:{name}",
        "url": f"https://sqs.{m.region}.amazonaws.com/{m.account_id}/{name}",
    }


def _lambda_function(m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    arn = f"arn:aws:lambda:{m.region}:{m.account_id}:function:{name}"
    return {
        "arn": arn,
        "qualifiedArn": f"{arn}:$LATEST",
        "version": "$LATEST",
        "invokeArn": f"arn:aws:apigateway:{m.region}:lambda:path/2015-03-31/functions/{arn}"
        "/invocations",
    }


def _lambda_layer(m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    layer_arn = f"arn:aws:lambda:{m.region}:{m.account_id}:layer:{inputs.get('layerName', name)}"
    return {"arn": f"{layer_arn}:1", "layerArn": layer_arn, "version": "1"}


def _apigw_api(m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    api_id = rid
    scheme = "wss" if inputs.get("protocolType") == "WEBSOCKET" else "https"
    return {
        "apiEndpoint": f"{scheme}://{api_id}.execute-api.{m.region}.amazonaws.com",
        "executionArn": f"arn:aws:execute-api:{m.region}:{m.account_id}:{api_id}",
        "arn": f"arn:aws:apigateway:{m.region}::/apis/{api_id}",
    }


def _apigw_domain(m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    config = dict(inputs.get("domainNameConfiguration") or {})
    config.update(
        targetDomainName=f"d-{_digest(rid, length=10)}.execute-api.{m.region}.amazonaws.com",
        hostedZoneId="ZLY8HYME6SFDD",
    )
    return {"domainNameConfiguration": config, "apiMappingSelectionExpression": "$request.basepath"}


def _acm_certificate(m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    h = _digest(rid, length=32)
    domains = [inputs.get("domainName", name), *(inputs.get("subjectAlternativeNames") or [])]
    return {
        "arn": f"arn:aws:acm:{inputs.get('region') or m.region}:{m.account_id}:certificate/"
        f"{h[:8]}-{h[8:12]}-{h[12:16]}"
        f"-{h[16:20]}-{h[20:32]}",
        "domainValidationOptions": [
            {
                "domainName": domain,
                "resourceRecordName": f"_{_digest(domain, length=32)}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_digest(domain, 'v', length=32)}.acm-validations.aws.",
            }
            for domain in domains
        ],
        "status": "PENDING_VALIDATION",
    }


def _ecr_repository(m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "arn": f"arn:aws:ecr:{m.region}:{m.account_id}:repository/{name}",
        "registryId": m.account_id,
        "repositoryUrl": f"{m.account_id}.dkr.ecr.{m.region}.amazonaws.com/{name}",
    }


def _eks_cluster(m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """pulumi-eks `Cluster` (one opaque component under mocks): only its top-level outputs."""
    oidc_id = _digest(rid, "oidc", length=32).upper()
    issuer = f"oidc.eks.{m.region}.amazonaws.com/id/{oidc_id}"
    endpoint = f"https://{oidc_id}.gr7.{m.region}.eks.amazonaws.com"
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "server": endpoint,
                    "certificate-authority-data": "TU9DSy1DQQ==",
                },
            }
        ],
        "contexts": [{"name": "aws", "context": {"cluster": name, "user": "aws"}}],
        "current-context": "aws",
        "users": [
            {
                "name": "aws",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": ["eks", "get-token", "--cluster-name", name, "--output", "json"],
                    }
                },
            }
        ],
    }
    return {
        "kubeconfig": kubeconfig,
        "kubeconfigJson": json.dumps(kubeconfig),
        "oidcProviderArn": f"arn:aws:iam::{m.account_id}:oidc-provider/{issuer}",
        "oidcProviderUrl": f"https://{issuer}",
        "oidcIssuer": issuer,
        "clusterSecurityGroupId": f"sg-0{_digest(rid, 'eks-cluster-sg')}",
        "nodeSecurityGroupId": f"sg-0{_digest(rid, 'eks-cluster-sg')}",
        "clusterIngressRuleId": "",
        "defaultNodeGroupAsgName": "",
        "fargateProfileId": "",
        "fargateProfileStatus": "",
        "autoModeNodeRoleName": "",
    }


#: Type token → outputs AWS computes for such a resource (beyond the generic `arn`).
#: Add an entry when a component reads an output the generic answer lacks.
_OUTPUTS: dict[str, Computed] = {
    "aws:kms/key:Key": _kms_key,
    "aws:signer/signingProfile:SigningProfile": lambda m, rid, name, i: {
        "arn": (arn := f"arn:aws:signer:{m.region}:{m.account_id}:/signing-profiles/{name}"),
        "version": "a1b2c3d4e5",
        "versionArn": f"{arn}/a1b2c3d4e5",
    },
    "aws:backup/vault:Vault": lambda m, rid, name, i: {
        "arn": f"arn:aws:backup:{i.get('region') or m.region}:{m.account_id}:backup-vault:{name}"
    },
    "aws:kms/alias:Alias": lambda m, rid, name, i: {
        "arn": f"arn:aws:kms:{i.get('region') or m.region}:{m.account_id}:{name}"
    },
    "aws:cloudwatch/logGroup:LogGroup": lambda m, rid, name, i: {
        "arn": f"arn:aws:logs:{i.get('region') or m.region}:{m.account_id}:log-group:{name}"
    },
    # CloudWatch Logs deliveries (CloudFront standard logging v2): named, ARN'd like AWS's.
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": lambda m, rid, name, i: {
        "arn": f"arn:aws:logs:{i.get('region') or m.region}:{m.account_id}:delivery-source:{name}",
        "service": "cloudfront",
    },
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": lambda m, rid, name, i: {
        "arn": f"arn:aws:logs:{i.get('region') or m.region}:{m.account_id}:"
        f"delivery-destination:{name}",
        "deliveryDestinationType": "S3",
    },
    "aws:cloudwatch/logDelivery:LogDelivery": lambda m, rid, name, i: {
        "arn": f"arn:aws:logs:{i.get('region') or m.region}:{m.account_id}:"
        f"delivery:{_digest(rid, length=16)}",
    },
    "aws:iam/role:Role": _iam("role"),
    "aws:lambda/codeSigningConfig:CodeSigningConfig": lambda m, rid, name, i: {
        "configId": f"csc-{_digest(rid)}",
        "arn": f"arn:aws:lambda:{i.get('region') or m.region}:{m.account_id}:"
        f"code-signing-config:csc-{_digest(rid)}",
    },
    "aws:sfn/stateMachine:StateMachine": lambda m, rid, name, i: {
        "arn": f"arn:aws:states:{i.get('region') or m.region}:{m.account_id}:stateMachine:{name}"
    },
    "aws:scheduler/schedule:Schedule": lambda m, rid, name, i: {
        "arn": f"arn:aws:scheduler:{i.get('region') or m.region}:{m.account_id}:schedule/"
        f"{i.get('groupName') or 'default'}/{name}"
    },
    "aws:lambda/function:Function": _lambda_function,
    "aws:lambda/layerVersion:LayerVersion": _lambda_layer,
    "aws:apigatewayv2/api:Api": _apigw_api,
    "aws:apigatewayv2/domainName:DomainName": _apigw_domain,
    "aws:acm/certificate:Certificate": _acm_certificate,
    "aws:ecr/repository:Repository": _ecr_repository,
    "eks:index:Cluster": _eks_cluster,
    "aws:iam/policy:Policy": _iam("policy"),
    "aws:iam/user:User": _iam("user"),
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketV2:BucketV2": _bucket,
    # A versioned bucket answers every PutObject with a new version id.
    "aws:s3/bucketObject:BucketObject": lambda m, rid, name, i: {
        "versionId": _digest(rid, "version", length=32)
    },
    "aws:ec2/vpc:Vpc": lambda m, rid, name, i: {
        "arn": f"arn:aws:ec2:{m.region}:{m.account_id}:vpc/{rid}",
        "defaultSecurityGroupId": f"sg-0{_digest(rid, 'default')}",
        "mainRouteTableId": f"rtb-0{_digest(rid, 'main')}",
    },
    "aws:ec2/eip:Eip": lambda m, rid, name, i: {"publicIp": _public_ip(rid)},
    "aws:ec2/natGateway:NatGateway": lambda m, rid, name, i: {"publicIp": _public_ip(rid)},
    "aws:ec2/vpcEndpoint:VpcEndpoint": lambda m, rid, name, i: {
        "dnsEntries": [
            {"dnsName": f"{rid}.{i.get('serviceName', '')}", "hostedZoneId": "Z7HUB22UULQXV"}
        ]
    },
    "aws:rds/instance:Instance": _rds_instance,
    "aws:rds/cluster:Cluster": _db_cluster("rds"),
    "aws:rds/clusterInstance:ClusterInstance": lambda m, rid, name, i: {
        "arn": f"arn:aws:rds:{m.region}:{m.account_id}:db:{name}",
        "endpoint": _rds_host(m, name),
    },
    "aws:rds/proxy:Proxy": lambda m, rid, name, i: {
        "arn": f"arn:aws:rds:{m.region}:{m.account_id}:db-proxy:prx-{_digest(name)}",
        "endpoint": _rds_host(m, name, "proxy-"),
    },
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": lambda m, rid, name, i: {
        "name": "default"
    },
    "aws:neptune/cluster:Cluster": _db_cluster("neptune"),
    "aws:neptune/clusterInstance:ClusterInstance": lambda m, rid, name, i: {
        "arn": f"arn:aws:rds:{m.region}:{m.account_id}:db:{name}",
        "endpoint": f"{name}.c{_digest(m.account_id, length=11)}.{m.region}.neptune.amazonaws.com",
    },
    "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group,
    "aws:elasticache/serverlessCache:ServerlessCache": _elasticache_serverless,
    "aws:elasticache/user:User": lambda m, rid, name, i: {
        "arn": f"arn:aws:elasticache:{m.region}:{m.account_id}:user:{i.get('userId', name)}"
    },
    "aws:elasticache/userGroup:UserGroup": lambda m, rid, name, i: {
        "arn": f"arn:aws:elasticache:{m.region}:{m.account_id}:usergroup:{i.get('userGroupId')}"
    },
    "aws:opensearch/domain:Domain": lambda m, rid, name, i: {
        "arn": f"arn:aws:es:{m.region}:{m.account_id}:domain/{name}",
        "domainId": f"{m.account_id}/{name}",
        "endpoint": f"vpc-{name}-{_digest(name, length=26)}.{m.region}.es.amazonaws.com",
    },
    "aws:opensearch/serverlessCollection:ServerlessCollection": lambda m, rid, name, i: {
        "arn": f"arn:aws:aoss:{m.region}:{m.account_id}:collection/{rid}",
        "collectionEndpoint": f"https://{rid}.{m.region}.aoss.amazonaws.com",
        "dashboardEndpoint": f"https://{rid}.{m.region}.aoss.amazonaws.com/_dashboards",
        "standbyReplicas": i.get("standbyReplicas", "ENABLED"),
    },
    "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy": lambda m, rid, name, i: {
        "policyVersion": f"MTY{_digest(name, length=17)}Xzk=",
    },
    "aws:opensearch/serverlessAccessPolicy:ServerlessAccessPolicy": lambda m, rid, name, i: {
        "policyVersion": f"MTY{_digest(name, length=17)}Xzk=",
    },
    "aws:sns/topic:Topic": lambda m, rid, name, i: {
        "arn": f"arn:aws:sns:{i.get('region') or m.region}:{m.account_id}:{name}"
    },
    "aws:sqs/queue:Queue": _queue,
    "aws:kinesis/stream:Stream": lambda m, rid, name, i: {
        "arn": f"arn:aws:kinesis:{m.region}:{m.account_id}:stream/{name}"
    },
    "aws:kinesis/streamConsumer:StreamConsumer": lambda m, rid, name, i: {
        "arn": f"{i.get('streamArn', '')}/consumer/{name}:1767225600"
    },
    "aws:lambda/eventSourceMapping:EventSourceMapping": lambda m, rid, name, i: {
        "uuid": f"{_digest(name, length=8)}-{_digest(name, 'u', length=4)}-4000-8000-"
        f"{_digest(name, 'v', length=12)}"
    },
    # Edge, media, web and identity (issue 3): global CloudFront ARNs, WAF ARNs by scope.
    "aws:cloudfront/distribution:Distribution": lambda m, rid, name, i: {
        "arn": f"arn:aws:cloudfront::{m.account_id}:distribution/{rid}",
        "domainName": f"d{_digest(rid, length=13)}.cloudfront.net",
        "hostedZoneId": "Z2FDTNDATAQYW2",
        "status": "Deployed",
    },
    "aws:cloudfront/function:Function": lambda m, rid, name, i: {
        "arn": f"arn:aws:cloudfront::{m.account_id}:function/{name}"
    },
    "aws:wafv2/webAcl:WebAcl": lambda m, rid, name, i: {
        "arn": f"arn:aws:wafv2:{i.get('region') or m.region}:{m.account_id}:"
        f"{'global' if i.get('scope') == 'CLOUDFRONT' else 'regional'}/webacl/{name}/"
        f"{_digest(name, length=8)}-{_digest(name, 'a', length=4)}-{_digest(name, 'b', length=4)}"
        f"-{_digest(name, 'c', length=4)}-{_digest(name, 'd', length=12)}",  # a UUID, as AWS's
    },
    "aws:cognito/userPool:UserPool": lambda m, rid, name, i: {
        "arn": f"arn:aws:cognito-idp:{m.region}:{m.account_id}:userpool/{rid}",
        "endpoint": f"cognito-idp.{m.region}.amazonaws.com/{rid}",
    },
    "aws:secretsmanager/secret:Secret": lambda m, rid, name, i: {
        "arn": f"arn:aws:secretsmanager:{m.region}:{m.account_id}:secret:{name}-"
        f"{_digest(name, length=6)}"
    },
    "aws:route53/healthCheck:HealthCheck": lambda m, rid, name, i: {
        "arn": f"arn:aws:route53:::healthcheck/{rid}"
    },
    "aws:route53/record:Record": lambda m, rid, name, i: {
        "fqdn": str(i.get("name", name)).rstrip(".")
    },
    # Analytics, observability and delivery (issue 6).
    "aws:cloudtrail/trail:Trail": lambda m, rid, name, i: {
        "arn": f"arn:aws:cloudtrail:{m.region}:{m.account_id}:trail/{name}",
        "homeRegion": m.region,
    },
    "aws:cloudwatch/metricAlarm:MetricAlarm": lambda m, rid, name, i: {
        "arn": f"arn:aws:cloudwatch:{i.get('region') or m.region}:{m.account_id}:alarm:{name}"
    },
    # a rule on the default bus: arn:aws:events:<region>:<account>:rule/<name>
    "aws:cloudwatch/eventRule:EventRule": lambda m, rid, name, i: {
        "arn": f"arn:aws:events:{i.get('region') or m.region}:{m.account_id}:rule/{name}"
    },
    "aws:cloudwatch/dashboard:Dashboard": lambda m, rid, name, i: {
        "dashboardArn": f"arn:aws:cloudwatch::{m.account_id}:dashboard/{name}"
    },
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": lambda m, rid, name, i: {
        "arn": f"arn:aws:firehose:{m.region}:{m.account_id}:deliverystream/{name}"
    },
    "aws:glue/catalogDatabase:CatalogDatabase": lambda m, rid, name, i: {
        "arn": f"arn:aws:glue:{m.region}:{m.account_id}:database/{name}"
    },
    "aws:glue/catalogTable:CatalogTable": lambda m, rid, name, i: {
        "arn": f"arn:aws:glue:{m.region}:{m.account_id}:table/{i.get('databaseName')}/{name}"
    },
    "aws:redshiftserverless/namespace:Namespace": lambda m, rid, name, i: {
        "arn": f"arn:aws:redshift-serverless:{m.region}:{m.account_id}:namespace/"
        f"{_digest(name, length=8)}-{_digest(name, 'ns', length=4)}",
        "namespaceId": _digest(name, length=32),
        "adminPasswordSecretArn": f"arn:aws:secretsmanager:{m.region}:{m.account_id}:secret:"
        f"redshift!{name}-{_plain(i.get('adminUsername'))}-{_digest(name, length=6)}",
    },
    "aws:redshiftserverless/workgroup:Workgroup": lambda m, rid, name, i: {
        "arn": f"arn:aws:redshift-serverless:{m.region}:{m.account_id}:workgroup/"
        f"{_digest(name, length=8)}",
        "workgroupId": _digest(name, length=32),
        "endpoints": [
            {
                "address": f"{name}.{m.account_id}.{m.region}.redshift-serverless.amazonaws.com",
                "port": i.get("port", 5439),
                "vpcEndpoints": [],
            }
        ],
    },
    "aws:redshift/cluster:Cluster": lambda m, rid, name, i: {
        "arn": f"arn:aws:redshift:{m.region}:{m.account_id}:cluster:{name}",
        "dnsName": f"{name}.c{_digest(name, length=11)}.{m.region}.redshift.amazonaws.com",
        "endpoint": f"{name}.c{_digest(name, length=11)}.{m.region}.redshift.amazonaws.com:5439",
        "masterPasswordSecretArn": f"arn:aws:secretsmanager:{m.region}:{m.account_id}:secret:"
        f"redshift!{name}-{_plain(i.get('masterUsername'))}-{_digest(name, length=6)}",
    },
    "aws:quicksight/vpcConnection:VpcConnection": lambda m, rid, name, i: {
        "arn": f"arn:aws:quicksight:{m.region}:{m.account_id}:vpcConnection/"
        f"{i.get('vpcConnectionId')}"
    },
    "aws:quicksight/group:Group": lambda m, rid, name, i: {
        "arn": f"arn:aws:quicksight:{m.region}:{m.account_id}:group/default/{i.get('groupName')}"
    },
    "aws:quicksight/dataSource:DataSource": lambda m, rid, name, i: {
        "arn": f"arn:aws:quicksight:{m.region}:{m.account_id}:datasource/{i.get('dataSourceId')}"
    },
    "aws:quicksight/dataSet:DataSet": lambda m, rid, name, i: {
        "arn": f"arn:aws:quicksight:{m.region}:{m.account_id}:dataset/{i.get('dataSetId')}"
    },
    "aws:codebuild/project:Project": lambda m, rid, name, i: {
        "arn": f"arn:aws:codebuild:{m.region}:{m.account_id}:project/{name}"
    },
    "aws:codepipeline/pipeline:Pipeline": lambda m, rid, name, i: {
        "arn": f"arn:aws:codepipeline:{m.region}:{m.account_id}:{name}"
    },
    "aws:codepipeline/customActionType:CustomActionType": lambda m, rid, name, i: {
        "arn": f"arn:aws:codepipeline:{m.region}:{m.account_id}:actiontype:Custom/"
        f"{i.get('category')}/{i.get('providerName')}/{i.get('version')}",
        "owner": "Custom",
    },
}
