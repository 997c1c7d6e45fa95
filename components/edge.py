"""Edge protection: WAFv2 web ACLs (CloudFront and regional) and Shield Advanced.

- `cloudfront_web_acl_arn` (scope CLOUDFRONT, in us-east-1): the web app's distribution. The
  public API is an API Gateway HTTP API, which WAF cannot be associated with and Shield Advanced
  cannot protect: it is reached through the web distribution's `/api/*` behaviour, so this ACL
  and the distribution's Shield protection cover it.
- `media_web_acl_arn` (scope CLOUDFRONT): the music distribution. Audio arrives as many range
  requests per track, and listeners behind one carrier NAT share an address, so its per-IP
  limit is sized for audio (`media_rate_limit`), not for page views.
- `regional_web_acl_arn` (scope REGIONAL): for the EKS load balancer and the Cognito user pool,
  attached with `associate(owner, role, resource_arn)`.
- Shield Advanced (USD 3,000/month, one-year commitment) is switched by `shield_advanced`:
  `protect(owner, role, resource_arn)` then adds a protection, a Route 53 health check for
  health-based detection and, on CloudFront, automatic application-layer mitigation; without
  Shield it adds nothing. Proactive engagement (the Shield Response Team calls you) is opt-in.

Every ACL runs the AWS managed rule groups (IP reputation, anonymous IPs, common rule set, known
bad inputs) and per-IP rate rules sized for what it fronts: the web ACL a stricter one on
`/api/`, the regional ACL a stricter one on Cognito's sign-in, sign-up and password-reset calls.
All send CloudWatch metrics for every rule (WAF.12) and log to KMS-encrypted CloudWatch log
groups with retention (WAF.11), with credentials redacted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from soundstack.components import cdn, lookups
from soundstack.components.base import Component, StackContext
from soundstack.components.logs import log_group

#: AWS managed rule groups every web ACL runs, in evaluation order.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)
#: Headers that carry credentials; WAF logs never record them.
REDACTED_HEADERS = ("authorization", "cookie")
#: Shield's EmergencyContact shapes (API reference, botocore's shield-2016-06-02 model).
E164_PHONE = re.compile(r"^\+[1-9]\d{1,14}$")
CONTACT_EMAIL = re.compile(r"^\S+@\S+\.\S+$")
CONTACT_NOTES = re.compile(r"^[\w\s\.\-,:/()+@]{1,1024}$")
MAX_EMERGENCY_CONTACTS = 10

Scope = Literal["CLOUDFRONT", "REGIONAL"]
#: WAF `RateBasedStatement.Limit`: 10 to 2,000,000,000 requests per evaluation window.
RATE_LIMIT_RANGE = (10, 2_000_000_000)
#: Paths of the web distribution that reach the HTTP API (components.web.API_PATH).
API_PREFIX = "/api/"
#: Cognito calls that sign in, sign up or reset a password: user pool API operations (by their
#: `X-Amz-Target`) and the managed login pages and token endpoint.
SIGN_IN_TARGETS = (
    r"^AWSCognitoIdentityProviderService\.(InitiateAuth|RespondToAuthChallenge|SignUp|"
    r"ConfirmSignUp|ForgotPassword|ConfirmForgotPassword)$"
)
SIGN_IN_PATHS = r"^/(login|signup|forgotPassword|confirmForgotPassword|oauth2/token)"


@dataclass(frozen=True)
class RateRule:
    """A per-IP limit over 5 minutes, on every request or only on those `scope_down` matches."""

    name: str
    limit: int
    scope_down: dict[str, Any] | None = None


def _match(field: dict[str, Any], regex: str) -> dict[str, Any]:
    return {
        "regex_match_statement": {
            "field_to_match": field,
            "regex_string": regex,
            "text_transformations": [{"priority": 0, "type": "NONE"}],
        }
    }


API_SCOPE: dict[str, Any] = {
    "byte_match_statement": {
        "field_to_match": {"uri_path": {}},
        "positional_constraint": "STARTS_WITH",
        "search_string": API_PREFIX,
        "text_transformations": [{"priority": 0, "type": "NONE"}],
    }
}
SIGN_IN_SCOPE: dict[str, Any] = {
    "or_statement": {
        "statements": [
            _match({"single_header": {"name": "x-amz-target"}}, SIGN_IN_TARGETS),
            _match({"uri_path": {}}, SIGN_IN_PATHS),
        ]
    }
}


@dataclass(frozen=True)
class EmergencyContact:
    """Who the Shield Response Team calls during an attack: an e-mail address, a phone number
    in E.164 form (`+353155501234`) and optional notes (e.g. hours, language)."""

    email: str
    phone: str | None = None
    notes: str | None = None


def contact_problems(contacts: Sequence[EmergencyContact], key: str) -> list[str]:
    """What `AssociateProactiveEngagementDetails` would refuse in `contacts` (under `key`)."""
    problems = []
    if len(contacts) > MAX_EMERGENCY_CONTACTS:
        problems.append(f"{key}: {len(contacts)} contacts; Shield takes at most 10")
    for i, c in enumerate(contacts):
        if not CONTACT_EMAIL.fullmatch(c.email) or len(c.email) > 150:
            problems.append(f"{key}[{i}].email={c.email!r} is not an e-mail address")
        if c.phone is not None and not E164_PHONE.fullmatch(c.phone):
            problems.append(
                f"{key}[{i}].phone={c.phone!r} is not an E.164 number; write it as + country "
                "code and number, digits only, e.g. +353155501234"
            )
        if c.notes is not None and not CONTACT_NOTES.fullmatch(c.notes):
            problems.append(
                f"{key}[{i}].notes: 1 to 1024 letters, digits, spaces and . - , : / ( ) + @"
            )
    if not any(c.phone for c in contacts):
        problems.append(
            f'{key} has no phone number; Shield: "You must provide at least one phone number '
            'in the emergency contact list." Add phone: +<country><number> to a contact'
        )
    return problems


@dataclass
class EdgeArgs:
    """Edge settings. Defaults, per IP and 5 minutes: 2000 requests to the web app, 1000 of them
    to its API, 20,000 to the music distribution, 300 sign-in calls; Shield Advanced on, a year
    of WAF logs, matched requests blocked automatically during an application-layer attack."""

    #: Every request to the web app (pages, assets and API) and to the regional resources.
    rate_limit: int = 2000
    #: Requests to the web app's `/api/` paths (stricter than `rate_limit`).
    api_rate_limit: int = 1000
    #: Requests to the music distribution: a track is several range requests, and a carrier
    #: NAT puts many listeners behind one address.
    media_rate_limit: int = 20_000
    #: Cognito sign-in, sign-up, password-reset and token calls (the regional ACL).
    sign_in_rate_limit: int = 300
    shield_advanced: bool = True
    log_retention_days: int = 365
    #: KMS key for the regional WAF log group (the CloudFront one gets a key in us-east-1).
    kms_key_arn: pulumi.Input[str] | None = None
    #: Shield proactive engagement: the Shield Response Team calls `emergency_contacts` when a
    #: protected resource's health check fails during an attack. Off unless asked: it needs
    #: Shield Advanced, a Business or Enterprise support plan, and a phone number.
    proactive_engagement: bool = False
    emergency_contacts: Sequence[EmergencyContact] = ()
    managed_rule_groups: Sequence[str] = MANAGED_RULE_GROUPS
    automatic_mitigation: Literal["BLOCK", "COUNT"] = "BLOCK"

    def __post_init__(self) -> None:
        low, high = RATE_LIMIT_RANGE
        for key, value in (("waf_rate_limit", self.rate_limit),
                           ("api_rate_limit", self.api_rate_limit),
                           ("media_rate_limit", self.media_rate_limit),
                           ("sign_in_rate_limit", self.sign_in_rate_limit)):  # fmt: skip
            if not low <= value <= high:
                raise ValueError(
                    f"edge.{key}={value}: WAF accepts 10 to 2,000,000,000 requests per 5 "
                    f"minutes; set e.g. edge.{key}: {getattr(EdgeArgs, key.replace('waf_', ''))}"
                )
        if self.proactive_engagement:
            if not self.shield_advanced:
                raise ValueError(
                    "edge.proactive_engagement.enabled needs edge.shield_advanced: true (the "
                    "Shield Response Team engages for Shield Advanced subscribers only)"
                )
            key = "edge.proactive_engagement.contacts"
            problems = contact_problems(self.emergency_contacts, key)
            if problems:
                raise ValueError("; ".join(problems))


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
        everything = RateRule("rate-limit-per-ip", args.rate_limit)
        self.cloudfront_web_acl = self._web_acl(
            "cloudfront", "CLOUDFRONT", global_logs,
            [RateRule("rate-limit-api", args.api_rate_limit, API_SCOPE), everything],
        )  # fmt: skip
        self.media_web_acl = self._web_acl(
            "media", "CLOUDFRONT", global_logs,
            [RateRule("rate-limit-per-ip", args.media_rate_limit)],
        )  # fmt: skip
        self.regional_web_acl = self._web_acl(
            "regional", "REGIONAL", regional_logs,
            [RateRule("rate-limit-sign-in", args.sign_in_rate_limit, SIGN_IN_SCOPE), everything],
        )  # fmt: skip
        self.cloudfront_web_acl_arn: pulumi.Output[str] = self.cloudfront_web_acl.arn
        self.media_web_acl_arn: pulumi.Output[str] = self.media_web_acl.arn
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
            if args.proactive_engagement:
                aws.shield.ProactiveEngagement(
                    self.child_name("proactive-engagement"),
                    enabled=True,
                    emergency_contacts=[
                        {
                            "email_address": c.email,
                            "phone_number": c.phone,
                            "contact_notes": c.notes,
                        }
                        for c in args.emergency_contacts
                    ],
                    opts=self.child_opts(depends_on=[self.subscription]),
                )
        self.register_outputs(
            {
                "cloudfront_web_acl_arn": self.cloudfront_web_acl_arn,
                "media_web_acl_arn": self.media_web_acl_arn,
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

    def _web_acl(
        self,
        role: str,
        scope: Scope,
        logs: aws.cloudwatch.LogGroup,
        rate_rules: Sequence[RateRule],
    ) -> aws.wafv2.WebAcl:
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
        for priority, rule in enumerate(rate_rules, start=100):
            statement: dict[str, Any] = {
                "limit": rule.limit,
                "aggregate_key_type": "IP",
                "evaluation_window_sec": 300,
            }
            if rule.scope_down is not None:
                statement["scope_down_statement"] = rule.scope_down
            rules.append(
                {
                    "name": rule.name,
                    "priority": priority,
                    "action": {"block": {}},
                    "statement": {"rate_based_statement": statement},
                    "visibility_config": _visibility(f"{metric_prefix}-{rule.name}"),
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
