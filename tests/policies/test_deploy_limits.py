"""deploy-* policies of policies/deploy_limits.py: one compliant and one violating input each."""

from __future__ import annotations

import pytest

from tests.policies.helpers import Stack, check_resource

WORKGROUP = "aws:redshiftserverless/workgroup:Workgroup"
SUBNET = "aws:ec2/subnet:Subnet"
ENGAGEMENT = "aws:shield/proactiveEngagement:ProactiveEngagement"


def _workgroup(zones: list[str]) -> list[tuple[str, str]]:
    stack = Stack()
    subnets = [
        stack.add(SUBNET, f"private-{i}", {"availabilityZone": z}) for i, z in enumerate(zones)
    ]
    stack.add(WORKGROUP, "wg", {"subnetIds": [f"subnet-{i}" for i in range(len(zones))]},
              {"subnetIds": subnets})  # fmt: skip
    return stack.check("deploy-redshift-serverless-three-azs")


def test_workgroup_in_three_zones_passes():
    assert _workgroup(["eu-west-1a", "eu-west-1b", "eu-west-1c"]) == []


@pytest.mark.parametrize(
    "zones", [["eu-west-1a", "eu-west-1b"], ["eu-west-1a", "eu-west-1a", "eu-west-1b"]]
)
def test_workgroup_in_two_zones_is_refused(zones):
    ((name, message),) = _workgroup(zones)
    assert name == "wg" and "three subnets in three AZs" in message


def test_engagement_with_an_e164_phone_passes():
    props = {"enabled": True, "emergencyContacts": [
        {"emailAddress": "oncall@example.com", "phoneNumber": "+353155501234"},
        {"emailAddress": "sre@example.com"}]}  # fmt: skip
    assert check_resource("deploy-shield-proactive-engagement-phone", ENGAGEMENT, props) == []


@pytest.mark.parametrize(
    ("contacts", "expected"),
    [
        ([{"emailAddress": "oncall@example.com"}], "no emergency contact has a phone number"),
        ([{"emailAddress": "oncall@example.com", "phoneNumber": "0155501234"}], "is not E.164"),
        ([{"emailAddress": "a@example.com", "phoneNumber": "+353155501234"}] * 11, "at most 10"),
    ],
)
def test_engagement_without_a_valid_phone_is_refused(contacts, expected):
    props = {"enabled": True, "emergencyContacts": contacts}
    found = check_resource("deploy-shield-proactive-engagement-phone", ENGAGEMENT, props)
    assert any(expected in m for m in found), found


def test_the_stacks_pass_both(dev, prod):
    from soundstack.engine import evaluate

    for synth in (dev, prod):
        assert not [v for v in evaluate(synth) if v.policy.startswith("deploy-redshift")
                    or v.policy.startswith("deploy-shield")]  # fmt: skip
