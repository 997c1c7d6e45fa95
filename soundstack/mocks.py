"""Pulumi mocks that answer like AWS: realistic ids, ARNs, endpoints and data-source results.

`EstateMocks.new_resource` echoes a resource's inputs and adds the outputs AWS would compute
(`id`, `arn`, endpoints …), so a mocked run's stack outputs look like a real deployment's.
`EstateMocks.call` answers the data sources components use (see components/lookups.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pulumi

ACCOUNT_ID = "123456789012"

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
}

# Input property that holds a resource's physical name, per type (first present wins).
_NAME_KEYS = ("name", "bucket", "functionName", "clusterIdentifier", "identifier",
              "replicationGroupId", "domainName", "topicName", "streamName", "namespaceName",
              "workgroupName", "roleName", "userPoolName")  # fmt: skip


def _digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


class EstateMocks(pulumi.runtime.Mocks):
    """Mocks for one region and account."""

    def __init__(self, region: str, account_id: str = ACCOUNT_ID) -> None:
        self.region = region
        self.account_id = account_id
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
        }

    # -- resources -------------------------------------------------------------------------
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        name = next((str(inputs[k]) for k in _NAME_KEYS if isinstance(inputs.get(k), str)),
                    args.name)  # fmt: skip
        prefix = _ID_PREFIX.get(args.typ)
        resource_id = f"{prefix}-0{_digest(args.typ, args.name)}" if prefix else name
        outputs = {**inputs, **self._computed(args.typ, resource_id, name, inputs)}
        return resource_id, outputs

    def _computed(self, typ: str, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        package, module, kind = typ.split(":")
        service = module.split("/", maxsplit=1)[0] if package == "aws" else package
        default = {"arn": f"arn:aws:{service}:{self.region}:{self.account_id}:{kind.lower()}/{rid}"}
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
    return {"keyId": key_id, "arn": f"arn:aws:kms:{m.region}:{m.account_id}:key/{key_id}"}


def _iam(kind: str) -> Computed:
    return lambda m, rid, name, inputs: {
        "arn": f"arn:aws:iam::{m.account_id}:{kind}/{name}",
        "name": name,
        "uniqueId": f"AROA{_digest(name, length=16).upper()}",
    }


def _bucket(m: EstateMocks, rid: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "arn": f"arn:aws:s3:::{name}",
        "bucket": name,
        "bucketDomainName": f"{name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{name}.s3.{m.region}.amazonaws.com",
        "region": m.region,
    }


def _public_ip(rid: str) -> str:
    return f"52.31.{int(_digest(rid, '1', length=2), 16)}.{int(_digest(rid, '2', length=2), 16)}"


#: Type token → outputs AWS computes for such a resource (beyond the generic `arn`).
#: Add an entry when a component reads an output the generic answer lacks.
_OUTPUTS: dict[str, Computed] = {
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": lambda m, rid, name, i: {
        "arn": f"arn:aws:kms:{m.region}:{m.account_id}:{name}"
    },
    "aws:cloudwatch/logGroup:LogGroup": lambda m, rid, name, i: {
        "arn": f"arn:aws:logs:{m.region}:{m.account_id}:log-group:{name}"
    },
    "aws:iam/role:Role": _iam("role"),
    "aws:iam/policy:Policy": _iam("policy"),
    "aws:iam/user:User": _iam("user"),
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketV2:BucketV2": _bucket,
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
}
