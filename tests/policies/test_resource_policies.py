"""Every resource policy: at least one compliant and one violating input (props as registered)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from soundstack.policies.registry import specs
from soundstack.policies.tags import REQUIRED_TAGS
from tests.policies.helpers import check_resource
from tests.policies.test_deploy import RESOURCE_CASES

PROD = {"tags": {"environment": "prod"}}
DEV = {"tags": {"environment": "dev"}}
BLOCK_ALL = {
    "blockPublicAcls": True,
    "blockPublicPolicy": True,
    "ignorePublicAcls": True,
    "restrictPublicBuckets": True,
}
DIST = "aws:cloudfront/distribution:Distribution"
RDS = "aws:rds/instance:Instance"
AURORA = "aws:rds/cluster:Cluster"
NEPTUNE = "aws:neptune/cluster:Cluster"
RG = "aws:elasticache/replicationGroup:ReplicationGroup"
AOS = "aws:opensearch/domain:Domain"
FN = "aws:lambda/function:Function"
EKS = "eks:index:Cluster"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POOL = "aws:cognito/userPool:UserPool"
STRONG_PASSWORDS = {
    "minimumLength": 12,
    "requireLowercase": True,
    "requireUppercase": True,
    "requireNumbers": True,
    "requireSymbols": True,
    "temporaryPasswordValidityDays": 3,
}


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _pod(container: dict, pod_context: dict | None = None) -> dict:
    spec = {"containers": [container], "securityContext": pod_context or {}}
    return {"spec": {"template": {"spec": spec}}}


GOOD_CONTAINER = {
    "name": "app",
    "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False},
    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
}
S3_ORIGIN = {"originId": "music", "domainName": "b.s3.eu-west-1.amazonaws.com"}
CUSTOM_CERT = {
    "acmCertificateArn": "arn:aws:acm:us-east-1:1:certificate/x",
    "minimumProtocolVersion": "TLSv1.2_2021",
    "sslSupportMethod": "sni-only",
}
AOS_GOOD: dict[str, Any] = {
    "encryptAtRest": {"enabled": True},
    "nodeToNodeEncryption": {"enabled": True},
    "domainEndpointOptions": {
        "enforceHttps": True,
        "tlsSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10",
    },
    "vpcOptions": {"subnetIds": ["subnet-1", "subnet-2"]},
    "advancedSecurityOptions": {"enabled": True},
    "logPublishingOptions": [
        {"logType": "ES_APPLICATION_LOGS", "cloudwatchLogGroupArn": "arn:g1"},
        {"logType": "AUDIT_LOGS", "cloudwatchLogGroupArn": "arn:g2", "enabled": True},
    ],
    "clusterConfig": {"instanceCount": 3, "zoneAwarenessEnabled": True},
    **PROD,
}
EKS_GOOD = {
    "endpointPublicAccess": False,
    "endpointPrivateAccess": True,
    "encryptionConfigKeyArn": "arn:aws:kms:k",
    "version": "1.33",
    "enabledClusterLogTypes": ["api", "audit", "authenticator"],
}
TAGS = {t: "x" for t in REQUIRED_TAGS}

# (policy, resource type, compliant props, violating props)
CASES = [
    (
        "s3-public-access-block-settings",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        {"bucket": "b", **BLOCK_ALL},
        {"bucket": "b", **BLOCK_ALL, "restrictPublicBuckets": False},
    ),
    (
        "s3-no-public-acl",
        "aws:s3/bucket:Bucket",
        {"bucket": "b", "acl": "private"},
        {"bucket": "b", "acl": "public-read"},
    ),
    (
        "s3-no-public-acl",
        "aws:s3/bucketAclV2:BucketAclV2",
        {"bucket": "b", "acl": "private"},
        {
            "bucket": "b",
            "accessControlPolicy": {
                "grants": [
                    {
                        "permission": "READ",
                        "grantee": {
                            "type": "Group",
                            "uri": "http://acs.amazonaws.com/groups/global/AllUsers",
                        },
                    }
                ]
            },
        },
    ),
    (
        "s3-policy-no-public-principal",
        "aws:s3/bucketPolicy:BucketPolicy",
        {
            "policy": _doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::b/*",
                    "Condition": {"StringEquals": {"AWS:SourceArn": "arn:d"}},
                },
                {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
            )
        },
        {
            "policy": _doc(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::b/*",
                }
            )
        },
    ),
    (
        "cloudfront-viewer-https",
        DIST,
        {
            "defaultCacheBehavior": {"viewerProtocolPolicy": "redirect-to-https"},
            "orderedCacheBehaviors": [
                {"pathPattern": "/api/*", "viewerProtocolPolicy": "https-only"}
            ],
        },
        {
            "defaultCacheBehavior": {"viewerProtocolPolicy": "https-only"},
            "orderedCacheBehaviors": [{"pathPattern": "/x", "viewerProtocolPolicy": "allow-all"}],
        },
    ),
    (
        "cloudfront-viewer-min-tls",
        DIST,
        {"viewerCertificate": CUSTOM_CERT},
        {"viewerCertificate": {**CUSTOM_CERT, "minimumProtocolVersion": "TLSv1_2016"}},
    ),
    (
        "cloudfront-custom-certificate",
        DIST,
        {"viewerCertificate": CUSTOM_CERT},
        {"viewerCertificate": {"cloudfrontDefaultCertificate": True}},
    ),
    (
        "cloudfront-origin-access-control",
        DIST,
        {"origins": [{**S3_ORIGIN, "originAccessControlId": "oac-1"}]},
        {"origins": [S3_ORIGIN]},
    ),
    (
        "cloudfront-origin-access-control",
        DIST,
        {"origins": [{**S3_ORIGIN, "originAccessControlId": "oac-1"}]},
        {
            "origins": [
                {
                    "originId": "w",
                    "domainName": "b.s3-website-eu-west-1.amazonaws.com",
                    "customOriginConfig": {"originProtocolPolicy": "http-only"},
                }
            ]
        },
    ),
    (
        "cloudfront-origin-tls",
        DIST,
        {
            "origins": [
                {
                    "originId": "api",
                    "domainName": "x.execute-api.eu-west-1.amazonaws.com",
                    "customOriginConfig": {
                        "originProtocolPolicy": "https-only",
                        "originSslProtocols": ["TLSv1.2"],
                    },
                }
            ]
        },
        {
            "origins": [
                {
                    "originId": "api",
                    "domainName": "x.example.com",
                    "customOriginConfig": {
                        "originProtocolPolicy": "match-viewer",
                        "originSslProtocols": ["TLSv1", "TLSv1.2"],
                    },
                }
            ]
        },
    ),
    ("cloudfront-waf", DIST, {"webAclId": "arn:aws:wafv2:us-east-1:1:global/webacl/a/1"}, {}),
    (
        "deploy-cloudfront-origin-group",
        DIST,
        {
            "origins": [{"originId": "a"}, {"originId": "b"}],
            "originGroups": [
                {
                    "originId": "g",
                    "members": [{"originId": "a"}, {"originId": "b"}],
                    "failoverCriteria": {"statusCodes": [403, 404, 500, 502, 503, 504]},
                }
            ],
            "defaultCacheBehavior": {
                "targetOriginId": "g",
                "allowedMethods": ["GET", "HEAD", "OPTIONS"],
            },
        },
        {
            "origins": [{"originId": "a"}, {"originId": "b"}],
            "originGroups": [
                {
                    "originId": "g",
                    "members": [{"originId": "a"}, {"originId": "b"}],
                    "failoverCriteria": {"statusCodes": [500]},
                }
            ],
            "defaultCacheBehavior": {
                "targetOriginId": "g",
                "allowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
            },
        },
    ),
    ("cloudfront-default-root-object", DIST, {"defaultRootObject": "index.html"}, {}),
    ("waf-rules", "aws:wafv2/webAcl:WebAcl", {"rules": [{"name": "common"}]}, {"rules": []}),
    (
        "waf-metrics",
        "aws:wafv2/webAcl:WebAcl",
        {
            "visibilityConfig": {"cloudwatchMetricsEnabled": True},
            "rules": [{"name": "r", "visibilityConfig": {"cloudwatchMetricsEnabled": True}}],
        },
        {
            "visibilityConfig": {"cloudwatchMetricsEnabled": True},
            "rules": [{"name": "r", "visibilityConfig": {"cloudwatchMetricsEnabled": False}}],
        },
    ),
    ("rds-encrypted", RDS, {"storageEncrypted": True}, {"storageEncrypted": False}),
    ("rds-encrypted", AURORA, {"storageEncrypted": True}, {}),
    (
        "rds-not-public",
        "aws:rds/clusterInstance:ClusterInstance",
        {"publiclyAccessible": False},
        {"publiclyAccessible": True},
    ),
    (
        "rds-backups",
        RDS,
        {"backupRetentionPeriod": 14, **PROD},
        {"backupRetentionPeriod": 3, **PROD},
    ),
    (
        "rds-backups",
        AURORA,
        {"backupRetentionPeriod": 1, **DEV},
        {"backupRetentionPeriod": 1, **PROD},
    ),
    (
        "rds-deletion-protection",
        RDS,
        {"deletionProtection": True, **PROD},
        {"deletionProtection": False, **PROD},
    ),
    ("rds-iam-auth", AURORA, {"iamDatabaseAuthenticationEnabled": True}, {}),
    (
        "rds-log-exports",
        RDS,
        {"engine": "postgres", "enabledCloudwatchLogsExports": ["postgresql"]},
        {"engine": "postgres", "enabledCloudwatchLogsExports": ["upgrade"]},
    ),
    (
        "rds-auto-minor-upgrade",
        RDS,
        {"autoMinorVersionUpgrade": True},
        {"autoMinorVersionUpgrade": False},
    ),
    (
        "rds-non-default-port",
        RDS,
        {"engine": "postgres", "port": 5433},
        {"engine": "postgres", "port": 5432},
    ),
    ("neptune-encrypted", NEPTUNE, {"storageEncrypted": True}, {"storageEncrypted": False}),
    (
        "neptune-iam-auth",
        NEPTUNE,
        {"iamDatabaseAuthenticationEnabled": True},
        {"iamDatabaseAuthenticationEnabled": False},
    ),
    (
        "neptune-prod-protection",
        NEPTUNE,
        {"backupRetentionPeriod": 14, "deletionProtection": True, **PROD},
        {"backupRetentionPeriod": 14, "deletionProtection": False, **PROD},
    ),
    ("neptune-copy-tags", NEPTUNE, {"copyTagsToSnapshot": True}, {}),
    (
        "elasticache-encryption",
        RG,
        {
            "atRestEncryptionEnabled": True,
            "transitEncryptionEnabled": True,
            "transitEncryptionMode": "required",
        },
        {
            "atRestEncryptionEnabled": True,
            "transitEncryptionEnabled": True,
            "transitEncryptionMode": "preferred",
        },
    ),
    ("elasticache-auth", RG, {"userGroupIds": ["ug-1"]}, {}),
    (
        "elasticache-auth",
        "aws:elasticache/serverlessCache:ServerlessCache",
        {"userGroupId": "ug-1"},
        {"userGroupId": None},
    ),
    (
        "elasticache-backups",
        RG,
        {"snapshotRetentionLimit": 7, **PROD},
        {"snapshotRetentionLimit": 1, **PROD},
    ),
    (
        "elasticache-failover",
        RG,
        {"automaticFailoverEnabled": True, "multiAzEnabled": True, **PROD},
        {"automaticFailoverEnabled": True, "multiAzEnabled": False, **PROD},
    ),
    (
        "elasticache-maintenance",
        RG,
        {"subnetGroupName": "cache-subnets"},
        {"subnetGroupName": "default"},
    ),
    (
        "opensearch-encryption",
        AOS,
        AOS_GOOD,
        {
            **AOS_GOOD,
            "domainEndpointOptions": {
                "enforceHttps": True,
                "tlsSecurityPolicy": "Policy-Min-TLS-1-0-2019-07",
            },
        },
    ),
    ("opensearch-private-fgac", AOS, AOS_GOOD, {**AOS_GOOD, "vpcOptions": None}),
    (
        "opensearch-logs",
        AOS,
        AOS_GOOD,
        {**AOS_GOOD, "logPublishingOptions": AOS_GOOD["logPublishingOptions"][:1]},
    ),
    (
        "opensearch-prod-capacity",
        AOS,
        AOS_GOOD,
        {**AOS_GOOD, "clusterConfig": {"instanceCount": 1, "zoneAwarenessEnabled": False}},
    ),
    (
        "opensearch-serverless-private",
        "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy",
        {
            "type": "network",
            "policy": json.dumps([{"AllowFromPublic": False, "SourceVPCEs": ["vpce-1"]}]),
        },
        {"type": "network", "policy": json.dumps([{"AllowFromPublic": True}])},
    ),
    (
        "opensearch-serverless-kms",
        "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy",
        {
            "type": "encryption",
            "policy": json.dumps({"AWSOwnedKey": False, "KmsARN": "arn:aws:kms:r:1:key/k"}),
        },
        {"type": "encryption", "policy": json.dumps({"AWSOwnedKey": True})},
    ),
    (
        "opensearch-serverless-named-access",
        "aws:opensearch/serverlessAccessPolicy:ServerlessAccessPolicy",
        {
            "type": "data",
            "policy": json.dumps(
                [
                    {
                        "Rules": [{"ResourceType": "index", "Permission": ["aoss:ReadDocument"]}],
                        "Principal": ["arn:aws:iam::1:role/reader"],
                    }
                ]
            ),
        },
        {
            "type": "data",
            "policy": json.dumps(
                [
                    {
                        "Rules": [{"ResourceType": "index", "Permission": ["aoss:*"]}],
                        "Principal": ["arn:aws:iam::1:role/reader"],
                    }
                ]
            ),
        },
    ),
    (
        "redshift-not-public",
        "aws:redshiftserverless/workgroup:Workgroup",
        {"publiclyAccessible": False},
        {"publiclyAccessible": True},
    ),
    (
        "redshift-kms",
        "aws:redshift/cluster:Cluster",
        {"encrypted": True, "kmsKeyId": "arn:k"},
        {"encrypted": True},
    ),
    (
        "redshift-enhanced-vpc-routing",
        "aws:redshiftserverless/workgroup:Workgroup",
        {"enhancedVpcRouting": True},
        {"enhancedVpcRouting": False},
    ),
    (
        "redshift-snapshots",
        "aws:redshift/cluster:Cluster",
        {"automatedSnapshotRetentionPeriod": 7, **PROD},
        {"automatedSnapshotRetentionPeriod": 1, **PROD},
    ),
    (
        "lambda-no-public-invoke",
        "aws:lambda/permission:Permission",
        {"function": "f", "principal": "apigateway.amazonaws.com", "sourceArn": "arn:api/*/GET/x"},
        {"function": "f", "principal": "*"},
    ),
    (
        "lambda-no-public-invoke",
        "aws:lambda/permission:Permission",
        {"function": "f", "principal": "s3.amazonaws.com", "sourceAccount": "123456789012"},
        {"function": "f", "principal": "s3.amazonaws.com"},
    ),
    (
        "lambda-no-public-invoke",
        "aws:lambda/functionUrl:FunctionUrl",
        {"functionName": "f", "authorizationType": "AWS_IAM"},
        {"functionName": "f", "authorizationType": "NONE"},
    ),
    ("lambda-supported-runtime", FN, {"runtime": "python3.13"}, {"runtime": "python3.8"}),
    (
        "lambda-tracing",
        FN,
        {"tracingConfig": {"mode": "Active"}},
        {"tracingConfig": {"mode": "PassThrough"}},
    ),
    (
        "lambda-in-vpc",
        FN,
        {"vpcConfig": {"subnetIds": ["a", "b"]}},
        {"vpcConfig": {"subnetIds": ["a"]}},
    ),
    (
        "lambda-no-plaintext-secrets",
        FN,
        {
            "environment": {
                "variables": {"STRIPE_SECRET_ARN": "arn:aws:secretsmanager:x", "LOG_LEVEL": "INFO"}
            }
        },
        {"environment": {"variables": {"STRIPE_KEY": "sk_live_abc123"}}},
    ),
    (
        "eks-endpoint-private",
        EKS,
        EKS_GOOD,
        {**EKS_GOOD, "endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]},
    ),
    (
        "eks-endpoint-private",
        EKS,
        {**EKS_GOOD, "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
        {k: v for k, v in EKS_GOOD.items() if k != "endpointPublicAccess"},
    ),
    ("eks-secrets-encryption", EKS, EKS_GOOD, {**EKS_GOOD, "encryptionConfigKeyArn": None}),
    (
        "eks-secrets-encryption",
        "aws:eks/cluster:Cluster",
        {"encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:k"}}},
        {},
    ),
    ("eks-control-plane-logging", EKS, EKS_GOOD, {**EKS_GOOD, "enabledClusterLogTypes": ["api"]}),
    ("eks-supported-version", EKS, EKS_GOOD, {**EKS_GOOD, "version": "1.27"}),
    (
        "k8s-no-privileged-or-root",
        DEPLOYMENT,
        _pod(GOOD_CONTAINER),
        _pod(
            {
                **GOOD_CONTAINER,
                "securityContext": {
                    "privileged": True,
                    "allowPrivilegeEscalation": False,
                    "runAsNonRoot": True,
                },
            }
        ),
    ),
    (
        "k8s-no-privileged-or-root",
        DEPLOYMENT,
        _pod(
            {**GOOD_CONTAINER, "securityContext": {"allowPrivilegeEscalation": False}},
            {"runAsNonRoot": True, "runAsUser": 10001},
        ),
        _pod(
            {
                **GOOD_CONTAINER,
                "securityContext": {"allowPrivilegeEscalation": False, "runAsUser": 0},
            },
            {"runAsNonRoot": True},
        ),
    ),
    (
        "k8s-resources",
        DEPLOYMENT,
        _pod(GOOD_CONTAINER),
        _pod({**GOOD_CONTAINER, "resources": {"requests": {"cpu": "1"}}}),
    ),
    (
        "apigw-route-authorization",
        "aws:apigatewayv2/route:Route",
        {"routeKey": "ANY /catalog", "authorizationType": "JWT", "authorizerId": "a"},
        {"routeKey": "ANY /catalog", "authorizationType": "NONE"},
    ),
    (
        "apigw-route-authorization",
        "aws:apigatewayv2/route:Route",
        {"routeKey": "POST /payments/webhooks/stripe", "authorizationType": "NONE"},
        {"routeKey": "$connect", "authorizationType": "NONE"},
    ),
    (
        "apigw-access-logging",
        "aws:apigatewayv2/stage:Stage",
        {"accessLogSettings": {"destinationArn": "arn:g", "format": "{}"}},
        {},
    ),
    (
        "apigw-execution-logging",
        "aws:apigatewayv2/stage:Stage",
        {"name": "prod", "defaultRouteSettings": {"loggingLevel": "ERROR"}},
        {"name": "prod", "defaultRouteSettings": {"loggingLevel": "OFF"}},
    ),
    (
        "apigw-throttling",
        "aws:apigatewayv2/stage:Stage",
        {"defaultRouteSettings": {"throttlingRateLimit": 100, "throttlingBurstLimit": 200}},
        {"defaultRouteSettings": {"throttlingRateLimit": 100}},
    ),
    ("sns-encrypted", "aws:sns/topic:Topic", {"kmsMasterKeyId": "arn:k"}, {}),
    (
        "sqs-encrypted",
        "aws:sqs/queue:Queue",
        {"sqsManagedSseEnabled": True},
        {"sqsManagedSseEnabled": False},
    ),
    (
        "kinesis-encrypted",
        "aws:kinesis/stream:Stream",
        {"encryptionType": "KMS", "kmsKeyId": "arn:k"},
        {"encryptionType": "NONE"},
    ),
    (
        "iam-no-full-admin",
        ROLE_POLICY,
        {"policy": _doc({"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"})},
        {"policy": _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})},
    ),
    (
        "iam-no-full-admin",
        "aws:iam/role:Role",
        {
            "inlinePolicies": [
                {
                    "name": "ok",
                    "policy": _doc(
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetObject"],
                            "Resource": "arn:aws:s3:::b/*",
                        }
                    ),
                }
            ]
        },
        {
            "inlinePolicies": [
                {
                    "name": "admin",
                    "policy": _doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
                }
            ]
        },
    ),
    (
        "iam-no-wildcard-actions",
        "aws:iam/policy:Policy",
        {
            "policy": _doc(
                {"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "arn:aws:s3:::b/*"},
                {"Effect": "Deny", "Action": "*", "Resource": "*"},
            )
        },
        {"policy": _doc({"Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::b/*"})},
    ),
    (
        "iam-no-admin-managed-policies",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        {"policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
        {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    ),
    (
        "iam-trust-not-public",
        "aws:iam/role:Role",
        {
            "assumeRolePolicy": _doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            )
        },
        {
            "assumeRolePolicy": _doc(
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
            )
        },
    ),
    (
        "default-sg-closed",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        {"ingress": [], "egress": []},
        {"ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}], "egress": []},
    ),
    (
        "cloudtrail-multi-region-validation",
        "aws:cloudtrail/trail:Trail",
        {
            "isMultiRegionTrail": True,
            "enableLogFileValidation": True,
            "includeGlobalServiceEvents": True,
        },
        {"isMultiRegionTrail": True, "enableLogFileValidation": False},
    ),
    ("cloudtrail-encrypted", "aws:cloudtrail/trail:Trail", {"kmsKeyId": "arn:k"}, {}),
    (
        "cloudtrail-cloudwatch-logs",
        "aws:cloudtrail/trail:Trail",
        {"cloudWatchLogsGroupArn": "arn:g:*", "cloudWatchLogsRoleArn": "arn:r"},
        {"cloudWatchLogsGroupArn": "arn:g:*"},
    ),
    (
        "log-group-retention",
        "aws:cloudwatch/logGroup:LogGroup",
        {"retentionInDays": 365, **PROD},
        {"retentionInDays": 30, **PROD},
    ),
    (
        "log-group-retention",
        "aws:cloudwatch/logGroup:LogGroup",
        {"retentionInDays": 30, **DEV},
        {**DEV},
    ),
    ("log-group-encrypted", "aws:cloudwatch/logGroup:LogGroup", {"kmsKeyId": "arn:k"}, {}),
    ("kms-rotation", "aws:kms/key:Key", {"enableKeyRotation": True}, {"enableKeyRotation": False}),
    (
        "kms-rotation",
        "aws:kms/key:Key",
        {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"},
        {"customerMasterKeySpec": "SYMMETRIC_DEFAULT"},
    ),
    (
        "required-cost-tags",
        "aws:sqs/queue:Queue",
        {"tags": TAGS},
        {"tags": {**TAGS, "cost-centre": ""}},
    ),
    (
        "cost-allowed-instance-classes",
        RDS,
        {"instanceClass": "db.t4g.medium", **DEV},
        {"instanceClass": "db.r7g.16xlarge", **DEV},
    ),
    (
        "cost-allowed-instance-classes",
        "aws:eks/nodeGroup:NodeGroup",
        {"instanceTypes": ["m7g.large"], **PROD},
        {"instanceTypes": ["m7g.large", "p5.48xlarge"], **PROD},
    ),
    (
        "cognito-threat-protection",
        "aws:cognito/userPool:UserPool",
        {"userPoolAddOns": {"advancedSecurityMode": "ENFORCED"}, **PROD},
        {"userPoolAddOns": {"advancedSecurityMode": "AUDIT"}, **PROD},
    ),
    (
        "cognito-mfa",
        "aws:cognito/userPool:UserPool",
        {"mfaConfiguration": "ON", "softwareTokenMfaConfiguration": {"enabled": True}, **PROD},
        {
            "mfaConfiguration": "OPTIONAL",
            "softwareTokenMfaConfiguration": {"enabled": True},
            **PROD,
        },
    ),
    (
        "cognito-password-policy",
        "aws:cognito/userPool:UserPool",
        {"passwordPolicy": STRONG_PASSWORDS},
        {"passwordPolicy": {**STRONG_PASSWORDS, "minimumLength": 8}},
    ),
    (
        "ecr-tag-immutability",
        "aws:ecr/repository:Repository",
        {"name": "api", "imageTagMutability": "IMMUTABLE"},
        {"name": "api"},
    ),
    (
        "secrets-cmk",
        "aws:secretsmanager/secret:Secret",
        {"kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
        {"kmsKeyId": "alias/aws/secretsmanager"},
    ),
    (
        "codebuild-no-credentials",
        "aws:codebuild/project:Project",
        {
            "source": {"type": "CODEPIPELINE"},
            "environment": {
                "environmentVariables": [
                    {
                        "name": "PULUMI_ACCESS_TOKEN",
                        "value": "pulumi/token",
                        "type": "SECRETS_MANAGER",
                    }
                ]
            },
        },
        {"source": {"type": "GITHUB", "location": "https://user:ghp_x@github.com/o/r.git"}},
    ),
    (
        "codebuild-logging",
        "aws:codebuild/project:Project",
        {"logsConfig": {"cloudwatchLogs": {"status": "ENABLED"}}},
        {
            "logsConfig": {
                "cloudwatchLogs": {"status": "DISABLED"},
                "s3Logs": {"status": "DISABLED"},
            }
        },
    ),
    (
        "codebuild-privileged-mode",
        "aws:codebuild/project:Project",
        {"environment": {"privilegedMode": False}},
        {"environment": {"privilegedMode": True}},
    ),
    (
        "codepipeline-artifacts-encrypted",
        "aws:codepipeline/pipeline:Pipeline",
        {
            "artifactStores": [
                {"location": "b", "type": "S3", "encryptionKey": {"id": "arn:k", "type": "KMS"}}
            ]
        },
        {"artifactStores": [{"location": "b", "type": "S3"}]},
    ),
    (
        "quicksight-private-tls",
        "aws:quicksight/dataSource:DataSource",
        {
            "sslProperties": {"disableSsl": False},
            "vpcConnectionProperties": {"vpcConnectionArn": "arn:v"},
        },
        {
            "sslProperties": {"disableSsl": True},
            "vpcConnectionProperties": {"vpcConnectionArn": "arn:v"},
        },
    ),
    (
        "deploy-shield-proactive-engagement-phone",
        "aws:shield/proactiveEngagement:ProactiveEngagement",
        {"emergencyContacts": [{"emailAddress": "a@example.com", "phoneNumber": "+3531555012"}]},
        {"emergencyContacts": [{"emailAddress": "a@example.com"}]},
    ),
]
SIGNED = {"defaultCacheBehavior": {"trustedKeyGroups": ["kg"]}, **PROD}
LICENSED = {"geoRestriction": {"restrictionType": "whitelist", "locations": ["GB", "IE"]}}
# more cases in test_licensing_policies.py
CASES.append(
    (
        "cloudfront-geo-restriction",
        DIST,
        {**SIGNED, "restrictions": LICENSED},
        {**SIGNED, "restrictions": {"geoRestriction": {"restrictionType": "none"}}},
    )
)
COVERS = {"pathPattern": "covers/*", "allowedMethods": ["GET", "HEAD"]}
# more cases in tests/components/test_media.py
CASES.append(
    (
        "cloudfront-signed-unsigned-paths",
        DIST,
        {**SIGNED, "orderedCacheBehaviors": [COVERS]},
        {**SIGNED, "orderedCacheBehaviors": [COVERS, {**COVERS, "pathPattern": "tracks/*"}]},
    )
)
CASES += RESOURCE_CASES  # the deploy-* policies (tests/policies/test_deploy.py)


@pytest.mark.parametrize(("policy", "type_token", "good", "bad"), CASES)
def test_compliant_passes_and_violating_fails(policy, type_token, good, bad):
    assert check_resource(policy, type_token, good) == []
    assert check_resource(policy, type_token, bad) != []


def test_every_resource_policy_has_cases():
    tested = {case[0] for case in CASES}
    resource_policies = {s.name for s in specs() if s.kind == "resource"}
    assert resource_policies - tested == set()


def test_policies_ignore_other_types():
    bad_acl = {"bucket": "b", "acl": "public-read"}
    assert check_resource("s3-no-public-acl", "aws:sqs/queue:Queue", bad_acl) == []


def test_environment_scoped_rules_skip_dev_but_hold_untagged_resources():
    assert (
        check_resource("rds-deletion-protection", RDS, {"deletionProtection": False, **DEV}) == []
    )
    assert check_resource("rds-deletion-protection", RDS, {"deletionProtection": False}) != []


def test_config_changes_a_policy_threshold_and_scope():
    props = {"backupRetentionPeriod": 7, **DEV}
    assert check_resource("rds-backups", RDS, props) == []
    assert check_resource("rds-backups", RDS, props, {"environments": ["dev"], "minimumDays": 14})


def test_declared_public_function_url_is_allowed_by_config():
    url = {"functionName": "soundstack-prod-stripe-hook", "authorizationType": "NONE"}
    assert check_resource("lambda-no-public-invoke", "aws:lambda/functionUrl:FunctionUrl", url)
    assert not check_resource(
        "lambda-no-public-invoke",
        "aws:lambda/functionUrl:FunctionUrl",
        url,
        {"publicFunctionUrls": ["*-stripe-hook"]},
    )


def test_untaggable_types_need_no_tags():
    assert check_resource("required-cost-tags", "aws:ec2/route:Route", {}) == []


def test_cognito_mfa_is_a_prod_rule_and_needs_a_factor():
    assert check_resource("cognito-mfa", POOL, {"mfaConfiguration": "OFF", **DEV}) == []
    assert check_resource("cognito-mfa", POOL, {**PROD}) != []  # Cognito's default is OFF
    (message,) = check_resource("cognito-mfa", POOL, {"mfaConfiguration": "ON", **PROD})
    assert "without a factor" in message


def test_weak_password_policies_name_every_weakness():
    assert len(check_resource("cognito-password-policy", POOL, {})) == 1  # default: 8 chars
    weak = {**STRONG_PASSWORDS, "requireSymbols": False, "temporaryPasswordValidityDays": 30}
    found = check_resource("cognito-password-policy", POOL, {"passwordPolicy": weak})
    assert len(found) == 2 and "requireSymbols" in found[0] and "30 days" in found[1]


def test_secrets_without_a_key_use_the_aws_managed_one():
    secret = "aws:secretsmanager/secret:Secret"
    assert check_resource("secrets-cmk", secret, {"name": "s"}) != []
    arn = "arn:aws:kms:eu-west-1:123456789012:alias/aws/secretsmanager"
    assert check_resource("secrets-cmk", secret, {"kmsKeyId": arn}) != []


def test_ecr_mutable_with_exclusions_is_mutable():
    repo = "aws:ecr/repository:Repository"
    assert check_resource("ecr-tag-immutability", repo, {"imageTagMutability": "MUTABLE"})
    mixed = {"imageTagMutability": "MUTABLE_WITH_EXCLUSION"}
    assert check_resource("ecr-tag-immutability", repo, mixed)
