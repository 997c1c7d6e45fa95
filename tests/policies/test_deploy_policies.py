"""`deploy-*` policies: what AWS refuses at `pulumi up`, on compliant and violating stacks."""

from __future__ import annotations

import pytest

from tests.policies.helpers import Stack

FUNCTION = "aws:lambda/function:Function"
POLICY = "deploy-lambda-reserved-concurrency"


def functions(*reservations):
    stack = Stack()
    for i, reserved in enumerate(reservations):
        props = {"runtime": "python3.13"}
        if reserved is not None:
            props["reservedConcurrentExecutions"] = reserved
        stack.add(FUNCTION, f"fn{i}", props)
    return stack


@pytest.mark.parametrize(
    ("reservations", "config"),
    [
        ([50] * 7, {}),  # prod's 350 within the default quota of 1,000
        ([450, 450], {}),  # exactly quota - 100
        ([None, -1, None], {"account_concurrency_quota": 10}),  # nothing reserved: new account
        ([20] * 7, {"account_concurrency_quota": 240}),
    ],
)
def test_reservations_within_the_quota_pass(reservations, config):
    assert functions(*reservations).check(POLICY, config) == []


@pytest.mark.parametrize(
    ("reservations", "config", "total", "reservable"),
    [
        ([50] * 7, {"account_concurrency_quota": 10}, 350, 0),
        ([5] * 7, {"account_concurrency_quota": 100}, 35, 0),
        ([450, 451], {}, 901, 900),
        ([None, 300, 200], {"account_concurrency_quota": 599}, 500, 499),
    ],
)
def test_reservations_beyond_the_quota_name_quota_code_and_keys(
    reservations, config, total, reservable
):
    (violation,) = functions(*reservations).check(POLICY, config)
    at, message = violation
    assert at == f"fn{reservations.index(max(r for r in reservations if r))}"
    assert f"reserve {total} concurrent executions" in message
    assert f"lets the account reserve {reservable}" in message
    assert "L-B99A9384" in message and "functions.reserved_concurrency" in message
