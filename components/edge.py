"""Edge protection: WAFv2 web ACLs (CloudFront and regional) and Shield Advanced.

- `cloudfront_web_acl_arn` (scope CLOUDFRONT, in us-east-1): set as `web_acl_id` on every
  distribution (media, web). The public API is an API Gateway HTTP API, which WAF cannot be
  associated with and Shield Advanced cannot protect: it is reached through the web
  distribution's `/api/*` behaviour, so this ACL and the distribution's Shield protection
  cover it.
- `regional_web_acl_arn` (scope REGIONAL): for the EKS load balancer and the Cognito user pool,
  attached with `associate(owner, role, resource_arn)`.
- Shield Advanced (USD 3,000/month, one-year commitment) is switched by `shield_advanced`:
  `protect(owner, role, resource_arn)` then adds a protection, a Route 53 health check for
  health-based detection and, on CloudFront, automatic application-layer mitigation; without
  Shield it adds nothing.

Both ACLs run the AWS managed rule groups (IP reputation, anonymous IPs, common rule set, known
bad inputs) and a per-IP rate rule, send CloudWatch metrics for every rule (WAF.12) and log to
KMS-encrypted CloudWatch log groups with retention (WAF.11), with credentials redacted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components import cdn, lookups
from components.base import Component, StackContext
from components.logs import log_group

#: AWS managed rule groups every web ACL runs, in evaluation order.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)
#: Headers that carry credentials; WAF logs never record them.
REDACTED_HEADERS = ("authorization", "cookie")

Scope = Literal["CLOUDFRONT", "REGIONAL"]


@dataclass
class EdgeArgs:
    """Edge settings. Defaults: 2000 requests per 5 minutes per IP, Shield Advanced on, a year
    of WAF logs, matched requests blocked automatically during an application-layer attack."""

    rate_limit: int = 2000
    shield_advanced: bool = True
    log_retention_days: int = 365
    #: KMS key for the regional WAF log group (the CloudFront one gets a key in us-east-1).
    kms_key_arn: pulumi.Input[str] | None = None
    #: Who the Shield Response Team calls during an attack (proactive engagement).
    emergency_contacts: Sequence[str] = field(default_factory=list)
    managed_rule_groups: Sequence[str] = MANAGED_RULE_GROUPS
    automatic_mitigation: Literal["BLOCK", "COUNT"] = "BLOCK"

    def __post_init__(self) -> None:
        if not 10 <= self.rate_limit <= 2_000_000_000:
            raise ValueError(
                f"edge.waf_rate_limit={self.rate_limit}: WAF accepts 10 to 2,000,000,000 "
                "requests per 5 minutes; set e.g. edge.waf_rate_limit: 2000"
            )


class EdgeProtection(Component):
    """Web ACLs for CloudFront and regional resources, WAF logging and Shield Advanced."""

    TYPE = "soundstack:edge:EdgeProtection"

    def __init__(
        self,
        name: str,
        args: EdgeArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self.args = args
        self.shield_enabled = args.shield_advanced

        global_key = self._us_east_1_logs_key()
        global_logs = aws.cloudwatch.LogGroup(
            self.child_name("cloudfront-waf-logs"),
            name=f"aws-waf-logs-{self.physical_name('cloudfront')}",
            retention_in_days=args.log_retention_days,
            kms_key_id=global_key.arn,
            region=cdn.CLOUDFRONT_REGION,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        regional_logs = log_group(
            self,
            "regional-waf",
            args.log_retention_days,
            args.kms_key_arn,
            name=f"aws-waf-logs-{self.physical_name('regional')}",
        )
        self.cloudfront_web_acl = self._web_acl("CLOUDFRONT", global_logs)
        self.regional_web_acl = self._web_acl("REGIONAL", regional_logs)
        self.cloudfront_web_acl_arn: pulumi.Output[str] = self.cloudfront_web_acl.arn
        self.regional_web_acl_arn: pulumi.Output[str] = self.regional_web_acl.arn

        self.subscription: aws.shield.Subscription | None = None
        if args.shield_advanced:
            self.subscription = aws.shield.Subscription(
                self.child_name("shield"),
                auto_renew="ENABLED",
                # Destroying the stack must not cancel a yearly commitment by accident.
                skip_destroy=True,
                opts=self.child_opts(protect=ctx.is_prod),
            )
            if args.emergency_contacts:
                aws.shield.ProactiveEngagement(
                    self.child_name("proactive-engagement"),
                    enabled=True,
                    emergency_contacts=[{"email_address": e} for e in args.emergency_contacts],
                    opts=self.child_opts(depends_on=[self.subscription]),
                )
        self.register_outputs(
            {
                "cloudfront_web_acl_arn": self.cloudfront_web_acl_arn,
                "regional_web_acl_arn": self.regional_web_acl_arn,
            }
        )

    def _us_east_1_logs_key(self) -> aws.kms.Key:
        """KMS key for the CloudFront ACL's log group, which must live in us-east-1."""
        account = lookups.account_id()
        part = lookups.partition()
        region = cdn.CLOUDFRONT_REGION
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{part}:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsUseKey",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:{part}:logs:{region}:{account}:*"
                            )
                        }
                    },
                },
            ],
        }
        key = aws.kms.Key(
            self.child_name("cloudfront-logs-key"),
            description=f"CloudFront WAF logs of {self.ctx.project}-{self.ctx.stack}",
            enable_key_rotation=True,
            deletion_window_in_days=30 if self.ctx.is_prod else 7,
            policy=json.dumps(policy),
            region=region,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        aws.kms.Alias(
            self.child_name("cloudfront-logs-alias"),
            name=f"alias/{self.physical_name('cloudfront-logs', 'kms_alias')}",
            target_key_id=key.key_id,
            region=region,
            opts=self.child_opts(),
        )
        return key

    def _web_acl(self, scope: Scope, logs: aws.cloudwatch.LogGroup) -> aws.wafv2.WebAcl:
        role = "cloudfront" if scope == "CLOUDFRONT" else "regional"
        region = cdn.CLOUDFRONT_REGION if scope == "CLOUDFRONT" else None
        metric_prefix = self.physical_name(role, "waf")
        rules: list[dict[str, Any]] = [
            {
                "name": group,
                "priority": priority,
                "override_action": {"none": {}},
                "statement": {
                    "managed_rule_group_statement": {"name": group, "vendor_name": "AWS"}
                },
                "visibility_config": _visibility(f"{metric_prefix}-{group}"),
            }
            for priority, group in enumerate(self.args.managed_rule_groups, start=10)
        ]
        rules.append(
            {
                "name": "rate-limit-per-ip",
                "priority": 100,
                "action": {"block": {}},
                "statement": {
                    "rate_based_statement": {
                        "limit": self.args.rate_limit,
                        "aggregate_key_type": "IP",
                        "evaluation_window_sec": 300,
                    }
                },
                "visibility_config": _visibility(f"{metric_prefix}-rate-limit"),
            }
        )
        acl = aws.wafv2.WebAcl(
            self.child_name(f"{role}-acl"),
            name=self.physical_name(role, "waf"),
            description=f"{scope} web ACL of {self.ctx.project}-{self.ctx.stack}",
            scope=scope,
            default_action={"allow": {}},
            rules=rules,
            visibility_config=_visibility(metric_prefix),
            region=region,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        aws.wafv2.WebAclLoggingConfiguration(
            self.child_name(f"{role}-acl-logging"),
            resource_arn=acl.arn,
            log_destination_configs=[logs.arn],
            redacted_fields=[{"single_header": {"name": h}} for h in REDACTED_HEADERS],
            region=region,
            opts=self.child_opts(),
        )
        return acl

    def associate(
        self,
        owner: Component,
        role: str,
        resource_arn: pulumi.Input[str],
        shield: bool = False,
        health_check_fqdn: pulumi.Input[str] | None = None,
    ) -> aws.wafv2.WebAclAssociation:
        """Put a regional resource (ALB, Cognito user pool, REST API stage) behind the regional
        ACL; with `shield=True` also protect it (ALBs) when Shield Advanced is on."""
        association = aws.wafv2.WebAclAssociation(
            owner.child_name(f"{role}-waf"),
            resource_arn=resource_arn,
            web_acl_arn=self.regional_web_acl_arn,
            opts=owner.child_opts(),
        )
        if shield:
            self.protect(owner, role, resource_arn, health_check_fqdn, application_layer=True)
        return association

    def protect(
        self,
        owner: Component,
        role: str,
        resource_arn: pulumi.Input[str],
        health_check_fqdn: pulumi.Input[str] | None = None,
        health_check_path: str = "/",
        application_layer: bool = False,
    ) -> aws.shield.Protection | None:
        """Shield Advanced protection for a CloudFront distribution, ALB, EIP or hosted zone
        (None when the stack runs without Shield Advanced).

        `health_check_fqdn` adds an HTTPS Route 53 health check the Shield Response Team uses
        to detect attacks (skip it where every request needs a signature, e.g. media);
        `application_layer` lets Shield add WAF rules automatically during an L7 attack (the
        resource must already use one of this component's web ACLs)."""
        if self.subscription is None:
            return None
        protection = aws.shield.Protection(
            owner.child_name(f"{role}-shield"),
            name=owner.physical_name(role),
            resource_arn=resource_arn,
            tags=owner.tags(),
            opts=owner.child_opts(depends_on=[self.subscription]),
        )
        if health_check_fqdn is not None:
            check = aws.route53.HealthCheck(
                owner.child_name(f"{role}-health"),
                type="HTTPS",
                fqdn=health_check_fqdn,
                port=443,
                resource_path=health_check_path,
                enable_sni=True,
                request_interval=30,
                failure_threshold=3,
                measure_latency=True,
                tags=owner.tags({"Name": owner.physical_name(f"{role}-health")}),
                opts=owner.child_opts(),
            )
            aws.shield.ProtectionHealthCheckAssociation(
                owner.child_name(f"{role}-shield-health"),
                shield_protection_id=protection.id,
                health_check_arn=check.arn,
                opts=owner.child_opts(),
            )
        if application_layer:
            aws.shield.ApplicationLayerAutomaticResponse(
                owner.child_name(f"{role}-shield-l7"),
                resource_arn=resource_arn,
                action=self.args.automatic_mitigation,
                opts=owner.child_opts(depends_on=[protection]),
            )
        return protection


def _visibility(metric_name: str) -> dict[str, Any]:
    return {
        "cloudwatch_metrics_enabled": True,
        "sampled_requests_enabled": True,
        "metric_name": metric_name[:128],
    }
