"""`deploy-*` policies: AWS API constraints a registration must meet or `pulumi up` fails.

Each quotes the AWS sentence it enforces. They read what the program registers, so they also
hold a stack composed without `stacks/` (whose config model checks the same limits earlier).
"""

from __future__ import annotations

import re

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from .core import (
    Settings,
    Spec,
    get,
    items,
    of_type,
    references,
    resource_policy,
    stack_policy,
)

POLICIES: list[Spec] = []

WORKGROUP = "aws:redshiftserverless/workgroup:Workgroup"
SUBNET = "aws:ec2/subnet:Subnet"
PROACTIVE_ENGAGEMENT = "aws:shield/proactiveEngagement:ProactiveEngagement"
#: Shield's `PhoneNumber` shape (API reference): E.164.
E164 = re.compile(r"^\+[1-9]\d{1,14}$")


@stack_policy(
    POLICIES,
    "deploy-redshift-serverless-three-azs",
    'Redshift Serverless workgroups get subnets in three AZs: "You must have at least three '
    'subnets, and they must span across three Availability Zones."',
    ["custom"],
    [WORKGROUP, SUBNET],
)
def _three_azs(args: StackValidationArgs, report: ReportViolation, _: Settings) -> None:
    subnets = list(of_type(args.resources, SUBNET))
    for workgroup in of_type(args.resources, WORKGROUP):
        ids = items(get(workgroup.props, "subnetIds"))
        known = [s for s in subnets if references(workgroup, "subnetIds", s)]
        zones = {get(s.props, "availabilityZone") for s in known} - {None}
        # Subnets from outside the stack have no zone here: count each as a zone of its own.
        spread = len(zones) + max(len(ids) - len(known), 0)
        if len(ids) < 3 or spread < 3:
            report(
                f"workgroup {workgroup.name} has {len(ids)} subnets in {len(zones) or 'unknown'} "
                "zones; give it three subnets in three AZs (network.min_private_azs: 3)",
                workgroup.urn,
            )


@resource_policy(
    POLICIES,
    "deploy-shield-proactive-engagement-phone",
    "Shield proactive engagement lists up to 10 contacts with E.164 phone numbers: "
    '"You must provide at least one phone number in the emergency contact list."',
    ["custom"],
    [PROACTIVE_ENGAGEMENT],
)
def _phone(args: ResourceValidationArgs, report: ReportViolation, _: Settings) -> None:
    contacts = items(get(args.props, "emergencyContacts"))
    phones = [get(c, "phoneNumber") for c in contacts if get(c, "phoneNumber")]
    if not phones:
        report(
            "no emergency contact has a phone number; add one in E.164 form "
            "(edge.proactive_engagement.contacts[].phone: +353155501234)",
            None,
        )
    for phone in phones:
        if not E164.fullmatch(str(phone)):
            report(f"phone number {phone!r} is not E.164 (+ country code and digits)", None)
    if len(contacts) > 10:
        report(f"{len(contacts)} emergency contacts; Shield accepts at most 10", None)
