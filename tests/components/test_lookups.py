"""Account and partition are asked once per run, not once per component (issue 16)."""

from __future__ import annotations

from soundstack.components import lookups
from soundstack.components.kms import EncryptionKey, EncryptionKeyArgs
from tests.conftest import make_ctx, run_program, stack_synthesis

IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"
PARTITION = "aws:index/getPartition:getPartition"


def test_a_whole_prod_stack_asks_for_account_and_partition_once():
    prod = stack_synthesis("prod")
    assert prod.invokes[IDENTITY] == 1
    assert prod.invokes[PARTITION] == 1
    assert sum(prod.invokes.values()) <= 4  # + the availability zones and the release record


def test_each_run_asks_again():
    def program() -> None:
        ctx = make_ctx()
        EncryptionKey("a", EncryptionKeyArgs(description="a"), ctx)
        EncryptionKey("b", EncryptionKeyArgs(description="b"), ctx)
        assert lookups.account_id() == lookups.account_id()

    first, second = run_program(program), run_program(program)
    assert first.invokes[IDENTITY] == 1
    assert second.invokes[IDENTITY] == 1
