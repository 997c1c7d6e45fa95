"""The only place components ask AWS about the account they deploy into (mocks answer these).

Account id and partition are asked once per run, not once per component: each synchronous
invoke is a provider round trip in `pulumi up`, and it waits for every registration still in
flight, so 50 of them dominated a prod preview (issue 16). A run is one Pulumi monitor (one
`pulumi up`, or one mocked synthesis), so the answers are remembered per monitor.
"""

from __future__ import annotations

from typing import Any

import pulumi_aws as aws
from pulumi.runtime import settings

_ANSWERS: dict[tuple[int, str], Any] = {}


def _once(key: str, ask: Any) -> Any:
    """`ask()` the first time `key` is needed in this run; the same answer after that."""
    monitor = settings.get_monitor()
    slot = (id(monitor), key)
    if slot not in _ANSWERS:
        if len(_ANSWERS) > 64:  # runs follow each other in one test process: forget old ones
            _ANSWERS.clear()
        _ANSWERS[slot] = (monitor, ask())  # the monitor is kept alive so its id stays unique
    return _ANSWERS[slot][1]


def account_id() -> str:
    """The AWS account id of the credentials in use."""
    return str(_once("account", lambda: aws.get_caller_identity().account_id))


def partition() -> str:
    """`aws`, `aws-cn` or `aws-us-gov`."""
    return str(_once("partition", lambda: aws.get_partition().partition))


def availability_zones(count: int) -> list[str]:
    """The first `count` available (non opt-in) zones of the region, or a clear error."""
    zones = aws.get_availability_zones(
        state="available",
        filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
    ).names
    if len(zones) < count:
        raise ValueError(
            f"NetworkArgs.az_count={count} (config network.az_count) but the region offers only "
            f"{len(zones)} zones ({', '.join(zones)}); set it to {len(zones)}"
        )
    return sorted(zones)[:count]


def release_parameter(project: str, stack: str) -> str:
    """SSM parameter holding the image tag a stack's workloads run (its deploy runner writes it
    after checking the images exist, before `pulumi up`; see components/pipeline.py)."""
    return f"/{project}/{stack}/release/image-tag"


def signed_code_parameter(project: str, stack: str) -> str:
    """SSM parameter holding where the stack's signed Lambda code and layer are (its deploy
    runner writes it after signing them, before `pulumi up`; soundstack/lambda_artefacts.py)."""
    return f"/{project}/{stack}/release/lambda-code"


def _release_records(project: str, stack: str) -> dict[str, str]:
    """Every parameter under `/<project>/<stack>/release`, asked once per run.

    Read by path, because SSM's GetParameter fails on a missing name ("ParameterNotFound") while
    GetParametersByPath answers an empty list, which is the normal state of a new account.
    """
    path = release_parameter(project, stack).rsplit("/", 1)[0]

    def ask() -> dict[str, str]:
        found = aws.ssm.get_parameters_by_path(path=path)
        return dict(zip(found.names, found.values, strict=True))

    return dict(_once(f"release:{path}", ask))


def release_image_tag(project: str, stack: str) -> str | None:
    """The image tag recorded for the stack, or None before its first release."""
    return _release_records(project, stack).get(release_parameter(project, stack))


def signed_code_record(project: str, stack: str) -> str | None:
    """The signed-code record of the stack (JSON, `components.signing.SignedCode`), or None
    before its deploy runner first signed."""
    return _release_records(project, stack).get(signed_code_parameter(project, stack))
