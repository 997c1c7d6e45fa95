"""`soundstack redrive`: the listing and the copy fallback against moto's SQS, SQS's move task
(which moto does not implement) against botocore's Stubber, the replay of functions' failure
queues (moto's SQS, Lambda's Invoke against the Stubber: moto runs no functions here), and the
one-line errors."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from moto import mock_aws

from soundstack.cli import main
from soundstack.redrive import (
    MAX_ASYNC_PAYLOAD,
    DeadLetterQueue,
    FunctionQueue,
    RecordError,
    RedriveError,
    copy_back,
    function_queues,
    queues,
    record_payload,
    refuse_copy_while_moving,
    run,
    start_move,
    wait_for_move,
)
from soundstack.synth import PROJECT_DIR

REGION = "eu-west-1"
NAMES = ("profiles", "notifications")
FUNCTION = "soundstack-dev-ingest-fn"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}"


def attributes(index: int) -> dict[str, Any]:
    return {
        "kind": {"DataType": "String", "StringValue": f"kind-{index}"},
        "attempt": {"DataType": "Number", "StringValue": str(index)},
        "blob": {"DataType": "Binary", "BinaryValue": bytes([index % 256]) * 3},
    }


@pytest.fixture
def estate(fake_aws_credentials, tmp_path):
    """Two queues with DLQs as messaging.Queue builds them, and the outputs naming them."""
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        exported = {}
        for name in NAMES:
            dlq = sqs.create_queue(QueueName=f"soundstack-dev-messaging-{name}-dlq")["QueueUrl"]
            dlq_arn = arn(sqs, dlq)
            policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
            source = sqs.create_queue(
                QueueName=f"soundstack-dev-messaging-{name}",
                Attributes={"RedrivePolicy": policy},
            )["QueueUrl"]
            exported[name] = {
                "dlq_arn": dlq_arn,
                "dlq_url": dlq,
                "source_arn": arn(sqs, source),
                "source_url": source,
            }
        failures = sqs.create_queue(QueueName=f"{FUNCTION}-dlq")["QueueUrl"]
        functions = {
            "ingest-fn": {
                "queue_arn": arn(sqs, failures),
                "queue_url": failures,
                "function_arn": FUNCTION_ARN,
                "function_name": FUNCTION,
            }
        }
        outputs = {
            "region": REGION,
            "dead_letter_queues": exported,
            "function_failure_queues": functions,
            "vpc_id": "vpc-1",
        }
        file = tmp_path / "outputs.json"
        file.write_text(json.dumps(outputs))
        yield {
            "sqs": sqs,
            "outputs": outputs,
            "file": str(file),
            "queues": queues(outputs),
            "functions": function_queues(outputs),
        }


def arn(sqs: Any, url: str) -> str:
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(found["Attributes"]["QueueArn"])


def dead_letter(sqs: Any, queue: DeadLetterQueue, count: int, body: str = "event") -> None:
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=queue.dlq_url,
            Entries=[
                {"Id": str(i), "MessageBody": f"{body}-{i}", "MessageAttributes": attributes(i)}
                for i in range(start, min(start + 10, count))
            ],
        )


def drain(sqs: Any, url: str) -> dict[str, dict[str, Any]]:
    """Every message of `url` by body, with its attributes (deleted as read)."""
    found: dict[str, dict[str, Any]] = {}
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages"):
        for message in batch:
            assert message["Body"] not in found
            found[message["Body"]] = message.get("MessageAttributes", {})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def waiting(sqs: Any, url: str) -> int:
    keys = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=keys)["Attributes"]
    return sum(int(found[k]) for k in keys)


def test_without_options_it_lists_each_dead_letter_queue_with_its_depth(estate, capsys):
    dead_letter(estate["sqs"], estate["queues"]["profiles"], 3)
    failed(estate["sqs"], estate["functions"]["ingest-fn"], [record({"n": 1}), record({"n": 2})])
    assert main(["redrive", "dev", "--outputs", estate["file"]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    profiles, notifications, ingest = lines
    assert profiles.split()[:3] == ["profiles", "3", "messages"]
    assert profiles.endswith(f"(back to {estate['queues']['profiles'].source_arn})")
    assert notifications.split()[:2] == ["notifications", "0"]
    assert ingest.split()[:3] == ["ingest-fn", "2", "messages"]
    assert ingest.endswith(f"(function queue: replayed to {FUNCTION})")


def test_by_copy_puts_every_message_back_with_its_attributes_and_empties_the_dlq(estate, capsys):
    sqs, queue = estate["sqs"], estate["queues"]["profiles"]
    dead_letter(sqs, queue, 25)
    argv = ["redrive", "dev", "--outputs", estate["file"], "--queue", "profiles"]
    assert main([*argv, "--replay", "--by-copy"]) == 0
    assert f"profiles: copied 25 messages back to {queue.source_arn}" in capsys.readouterr().out
    assert waiting(sqs, queue.dlq_url) == 0
    back = drain(sqs, queue.source_url)
    assert set(back) == {f"event-{i}" for i in range(25)}
    for i in range(25):
        got = back[f"event-{i}"]
        assert {k: v.get("StringValue", v.get("BinaryValue")) for k, v in got.items()} == {
            "kind": f"kind-{i}",
            "attempt": str(i),
            "blob": bytes([i]) * 3,
        }
    assert waiting(sqs, estate["queues"]["notifications"].source_url) == 0  # only the one asked


class FailingSends:
    """The moto client, except that SendMessageBatch reports `poison` bodies as failed."""

    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        good = [e for e in Entries if "poison" not in e["MessageBody"]]
        sent = self.sqs.send_message_batch(QueueUrl=QueueUrl, Entries=good) if good else {}
        failed = [
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
            for e in Entries
            if e not in good
        ]
        return {"Successful": sent.get("Successful", []), "Failed": failed}


def test_a_failed_send_leaves_that_message_and_the_rest_in_the_dlq(estate, capsys):
    sqs, queue = estate["sqs"], estate["queues"]["profiles"]
    dead_letter(sqs, queue, 5)
    sqs.send_message(QueueUrl=queue.dlq_url, MessageBody="poison-pill")
    dead_letter(sqs, queue, 30, body="later")
    code = run(
        "dev",
        estate["file"],
        PROJECT_DIR,
        "profiles",
        replay=True,
        by_copy=True,
        sqs=FailingSends(sqs),
    )
    assert code == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert "error: profiles: send failed for " in captured.err
    assert "(InternalError: try again)" in captured.err and "stay in the DLQ" in captured.err
    moved = drain(sqs, queue.source_url)
    left = drain(sqs, queue.dlq_url)  # visible again at once, not after the timeout
    assert "poison-pill" in left and "poison-pill" not in moved
    assert not set(moved) & set(left)
    assert len(moved) + len(left) == 36  # none lost, none doubled
    assert 0 < len(moved) < 36  # it stopped at the failing batch


def test_a_source_queue_that_refuses_everything_loses_nothing(estate):
    sqs, queue = estate["sqs"], estate["queues"]["profiles"]
    dead_letter(sqs, queue, 4)
    sqs.delete_queue(QueueUrl=queue.source_url)
    result = copy_back(sqs, queue, wait_seconds=0)
    assert result.moved == 0 and len(result.failed) == 4
    assert all("queue does not exist" in why for why in result.failed.values())
    assert set(drain(sqs, queue.dlq_url)) == {f"event-{i}" for i in range(4)}


def test_a_batch_over_the_size_limit_is_sent_one_message_at_a_time(estate):
    sqs, queue = estate["sqs"], estate["queues"]["profiles"]
    big = "x" * 200_000  # ten of them exceed SendMessageBatch's 1 MiB
    for i in range(10):
        sqs.send_message(QueueUrl=queue.dlq_url, MessageBody=f"{i}{big}")
    result = copy_back(sqs, queue, wait_seconds=0)
    assert (result.moved, result.failed) == (10, {})
    assert len(drain(sqs, queue.source_url)) == 10
    assert waiting(sqs, queue.dlq_url) == 0


# -- SQS's move task: request shapes checked against the SQS API model ----------------------
DLQ = DeadLetterQueue(
    "profiles",
    "arn:aws:sqs:eu-west-1:123456789012:soundstack-dev-messaging-profiles-dlq",
    "https://sqs.eu-west-1.amazonaws.com/123456789012/soundstack-dev-messaging-profiles-dlq",
    "arn:aws:sqs:eu-west-1:123456789012:soundstack-dev-messaging-profiles",
    "https://sqs.eu-west-1.amazonaws.com/123456789012/soundstack-dev-messaging-profiles",
)
LIST = {"SourceArn": DLQ.dlq_arn, "MaxResults": 1}


def outputs_of(queue: DeadLetterQueue, where: Path) -> Path:
    """An --outputs file exporting `queue` alone."""
    entry = {k: getattr(queue, k) for k in ("dlq_arn", "dlq_url", "source_arn", "source_url")}
    file = where / "outputs.json"
    file.write_text(json.dumps({"region": REGION, "dead_letter_queues": {queue.name: entry}}))
    return file


def task(status: str, moved: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "Results": [
            {
                "TaskHandle": "handle-1",
                "Status": status,
                "SourceArn": DLQ.dlq_arn,
                "ApproximateNumberOfMessagesMoved": moved,
                **extra,
            }
        ]
    }


@pytest.fixture
def stubbed(fake_aws_credentials):
    client = boto3.client("sqs", region_name=REGION)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_replay_starts_one_move_task_from_the_dlq_to_its_source(stubbed):
    client, stub = stubbed
    stub.add_response("list_message_move_tasks", task("COMPLETED", 7), LIST)
    stub.add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-2"},
        {
            "SourceArn": DLQ.dlq_arn,
            "DestinationArn": DLQ.source_arn,
            "MaxNumberOfMessagesPerSecond": 50,
        },
    )
    assert start_move(client, DLQ, max_per_second=50) == "handle-2"


def test_no_second_task_while_one_is_running(stubbed):
    client, stub = stubbed
    stub.add_response("list_message_move_tasks", task("RUNNING", 3), LIST)
    with pytest.raises(RedriveError, match=r"already RUNNING .* one at a time"):
        start_move(client, DLQ)  # and no StartMessageMoveTask: the Stubber would fail on it


def test_a_cancelling_task_also_blocks_and_no_handle_is_invented(stubbed):
    client, stub = stubbed
    cancelling = task("CANCELLING", 2)
    del cancelling["Results"][0]["TaskHandle"]  # AWS: "only populated for ... RUNNING status"
    stub.add_response("list_message_move_tasks", cancelling, LIST)
    with pytest.raises(RedriveError, match="already CANCELLING") as refused:
        start_move(client, DLQ)
    assert "cancel-message-move-task" not in str(refused.value)


def test_waiting_on_a_dlq_that_never_had_a_task_returns_at_once(stubbed):
    client, stub = stubbed
    stub.add_response("list_message_move_tasks", {"Results": []}, LIST)
    lines: list[str] = []
    slept: list[float] = []
    assert wait_for_move(client, DLQ, lines.append, sleep=slept.append, started=False) is None
    assert (lines, slept) == (["profiles: no move task yet"], [])


def test_the_rate_is_checked_before_asking_aws(stubbed):
    client, _ = stubbed
    with pytest.raises(RedriveError, match="--max-per-second=600: give 1 to 500"):
        start_move(client, DLQ, max_per_second=600)


def test_progress_is_reported_from_list_message_move_tasks(stubbed):
    client, stub = stubbed
    stub.add_response(
        "list_message_move_tasks", task("RUNNING", 3, ApproximateNumberOfMessagesToMove=10), LIST
    )
    stub.add_response(
        "list_message_move_tasks", task("COMPLETED", 10, ApproximateNumberOfMessagesToMove=10), LIST
    )
    lines: list[str] = []
    done = wait_for_move(client, DLQ, lines.append, sleep=lambda _: None)
    assert done is not None and done["Status"] == "COMPLETED"
    assert lines == [
        "profiles: move task RUNNING: 3 of 10 moved",
        "profiles: move task COMPLETED: 10 of 10 moved",
    ]


def test_the_cli_replays_and_refuses_a_second_task(stubbed, tmp_path, capsys):
    client, stub = stubbed
    outputs = outputs_of(DLQ, tmp_path)
    stub.add_response("list_message_move_tasks", {"Results": []}, LIST)
    stub.add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-9"},
        {"SourceArn": DLQ.dlq_arn, "DestinationArn": DLQ.source_arn},
    )
    assert run("dev", str(outputs), PROJECT_DIR, "profiles", replay=True, sqs=client) == 0
    out = capsys.readouterr().out
    assert f"profiles: move task started (handle-9) from {DLQ.dlq_arn} to {DLQ.source_arn}" in out
    stub.add_response("list_message_move_tasks", task("RUNNING", 1), LIST)
    assert run("dev", str(outputs), PROJECT_DIR, "profiles", replay=True, sqs=client) == 2
    assert "a move task is already RUNNING" in capsys.readouterr().err
    stub.add_response(
        "get_queue_attributes",
        {"Attributes": {"ApproximateNumberOfMessages": "4"}},
        {"QueueUrl": DLQ.dlq_url, "AttributeNames": ["ApproximateNumberOfMessages"]},
    )
    stub.add_response(
        "list_message_move_tasks", task("FAILED", 1, FailureReason="KMS.AccessDenied"), LIST
    )
    assert run("dev", str(outputs), PROJECT_DIR, "profiles", sqs=client) == 0
    assert capsys.readouterr().out == (
        f"profiles: 4 messages in {DLQ.dlq_arn}, move task FAILED: 1 moved (KMS.AccessDenied)\n"
    )


def test_by_copy_waits_for_a_running_move_task_and_copies_nothing(stubbed, tmp_path, capsys):
    client, stub = stubbed
    outputs = outputs_of(DLQ, tmp_path)
    stub.add_response("list_message_move_tasks", task("RUNNING", 2), LIST)
    # Nothing else is stubbed: a receive or a send would fail the Stubber.
    code = run("dev", str(outputs), PROJECT_DIR, "profiles", replay=True, by_copy=True, sqs=client)
    assert code == 2
    assert "profiles: a move task is already RUNNING on its DLQ" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("answer", "copies"),
    [
        (task("COMPLETED", 7), True),
        ({"Results": []}, True),
        ("UnsupportedOperation", True),  # a local SQS without move tasks: none can run there
        ("AccessDenied", False),  # not knowing is no licence to copy
    ],
)
def test_by_copy_starts_only_when_no_move_task_is_active(stubbed, answer, copies):
    client, stub = stubbed
    if isinstance(answer, str):
        stub.add_client_error("list_message_move_tasks", answer, "no", 400, expected_params=LIST)
    else:
        stub.add_response("list_message_move_tasks", answer, LIST)
    if copies:
        refuse_copy_while_moving(client, DLQ)
    else:
        with pytest.raises(ClientError, match="AccessDenied"):
            refuse_copy_while_moving(client, DLQ)


# -- what stops it before it starts: one line, exit 2 -----------------------------------------
def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_missing_outputs_and_unknown_queues_are_explained(estate, tmp_path, capsys):
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"region": REGION}))
    assert main(["redrive", "dev", "--outputs", str(partial)]) == 2
    assert "stack output dead_letter_queues missing: run `pulumi up`" in one_error_line(capsys)
    assert main(["redrive", "dev", "--outputs", str(tmp_path / "none.json")]) == 2
    assert "none.json: No such file or directory" in one_error_line(capsys)
    argv = ["redrive", "dev", "--outputs", estate["file"], "--queue", "billing", "--replay"]
    assert main(argv) == 2
    assert (
        "--queue billing: the stack has no such dead-letter queue; use one of "
        "ingest-fn, notifications, profiles" in one_error_line(capsys)
    )
    assert main(["redrive", "dev", "--outputs", estate["file"], "--replay"]) == 2
    assert "--queue NAME" in one_error_line(capsys)
    assert (
        main(["redrive", "dev", "--outputs", estate["file"], "--queue", "profiles", "--by-copy"])
        == 2
    )
    assert "--by-copy is a way to --replay" in one_error_line(capsys)
    argv = ["redrive", "dev", "--outputs", estate["file"], "--queue", "profiles"]
    assert main([*argv, "--max-per-second", "5"]) == 2
    assert "--max-per-second sets the rate of a --replay" in one_error_line(capsys)
    assert main([*argv, "--replay", "--by-copy", "--wait"]) == 2
    assert "--by-copy moves at its own pace" in one_error_line(capsys)


def test_no_credentials_is_one_line_naming_the_fix(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches earlier tests' credentials
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)
    outputs = outputs_of(DLQ, tmp_path)
    assert main(["redrive", "dev", "--outputs", str(outputs)]) == 2
    assert "error: no AWS credentials: set AWS_PROFILE" in one_error_line(capsys)


def test_an_endpoint_without_move_tasks_points_to_by_copy(stubbed, tmp_path, capsys):
    client, stub = stubbed
    stub.add_client_error(
        "list_message_move_tasks", "UnsupportedOperation", "not here", 400, expected_params=LIST
    )
    outputs = outputs_of(DLQ, tmp_path)
    assert run("dev", str(outputs), PROJECT_DIR, "profiles", replay=True, sqs=client) == 1
    err = one_error_line(capsys)
    assert "(UnsupportedOperation) when calling the ListMessageMoveTasks operation" in err
    assert err.endswith("--replay --by-copy moves them from here\n")


# -- functions' failure queues: invocation records replayed with Lambda's Invoke ---------------
def record(event: Any, function_arn: str = f"{FUNCTION_ARN}:$LATEST", **fields: Any) -> str:
    """An invocation record as Lambda sends it to an on-failure destination (the Lambda
    Developer Guide's example, for `function_arn`); `fields` replace or (None) drop fields."""
    body: dict[str, Any] = {
        "version": "1.0",
        "timestamp": "2026-11-30T18:16:05.568Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "functionArn": function_arn,
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": "database unavailable",
            "errorType": "OperationalError",
        },
    }
    for key, value in fields.items():
        if value is None:
            del body[key]
        else:
            body[key] = value
    return json.dumps(body)


def upload(i: int) -> dict[str, Any]:
    """The S3 event of an upload, as the ingest function receives it."""
    return {"Records": [{"eventSource": "aws:s3", "s3": {"object": {"key": f"uploads/{i}.mp3"}}}]}


def failed(sqs: Any, queue: FunctionQueue, bodies: list[str]) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=queue.queue_url, MessageBody=body)


def by_id(sqs: Any, url: str) -> dict[str, str]:
    """Every message of `url`, id → body (deleted as read)."""
    found: dict[str, str] = {}
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            found[message["MessageId"]] = message["Body"]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


INVOKE = {"FunctionName": FUNCTION_ARN, "InvocationType": "Event", "Payload": ANY}


class Invocations:
    """A lambda client answered by the Stubber (moto runs no functions here: no Docker), which
    keeps the payload of every Invoke made through it."""

    def __init__(self) -> None:
        self.client = boto3.client("lambda", region_name=REGION)
        self.stub = Stubber(self.client)
        self.payloads: list[Any] = []

    def invoke(self, **request: Any) -> Any:
        self.payloads.append(json.loads(request["Payload"]))
        return self.client.invoke(**request)

    def accept(self, count: int) -> None:
        for _ in range(count):
            self.stub.add_response("invoke", {"StatusCode": 202}, INVOKE)


@pytest.fixture
def invocations(estate):
    lambda_ = Invocations()
    with lambda_.stub:
        yield lambda_
        lambda_.stub.assert_no_pending_responses()


def replay(estate: dict[str, Any], invocations: Invocations) -> int:
    return run(
        "dev",
        estate["file"],
        PROJECT_DIR,
        "ingest-fn",
        replay=True,
        sqs=estate["sqs"],
        lambda_client=invocations,
    )


def test_replay_invokes_the_function_with_each_original_event_and_empties_the_queue(
    estate, invocations, capsys
):
    sqs, queue = estate["sqs"], estate["functions"]["ingest-fn"]
    failed(sqs, queue, [record(upload(i)) for i in range(13)])  # two receives
    invocations.accept(13)
    assert replay(estate, invocations) == 0
    assert sorted(invocations.payloads, key=json.dumps) == sorted(
        (upload(i) for i in range(13)), key=json.dumps
    )
    assert waiting(sqs, queue.queue_url) == 0
    out = capsys.readouterr().out
    assert f"ingest-fn: replayed 13 failed invocations to {FUNCTION}" in out


@pytest.mark.parametrize(
    "refusal",
    [
        ("client_error", "TooManyRequestsException", "Rate exceeded"),
        ("status", 200, "invoke answered 200, not 202"),
    ],
)
def test_an_invoke_lambda_did_not_accept_leaves_that_record_and_the_rest(
    estate, invocations, capsys, refusal
):
    sqs, queue = estate["sqs"], estate["functions"]["ingest-fn"]
    failed(sqs, queue, [record(upload(i)) for i in range(6)])
    invocations.accept(2)
    kind, what, why = refusal
    if kind == "client_error":
        invocations.stub.add_client_error("invoke", str(what), why, 429, expected_params=INVOKE)
    else:
        invocations.stub.add_response("invoke", {"StatusCode": what}, INVOKE)
    assert replay(estate, invocations) == 1
    err = one_error_line(capsys)
    left = by_id(sqs, queue.queue_url)  # visible again at once, not after the timeout
    assert len(invocations.payloads) == 3  # nothing invoked after the refusal
    assert len(left) == 4  # the refused record and the three not yet replayed
    refused = invocations.payloads[2]
    (stopped_at,) = [
        mid for mid, body in left.items() if json.loads(body)["requestPayload"] == refused
    ]
    assert f"error: ingest-fn: stopped at message {stopped_at}: " in err
    assert why in err and "stay in the queue" in err
    replayed = {json.dumps(p) for p in invocations.payloads[:2]}
    assert not replayed & {json.dumps(json.loads(b)["requestPayload"]) for b in left.values()}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("this is not json", "not an invocation record (not JSON: "),
        ('["a", "list"]', "not an invocation record (no requestContext.functionArn)"),
        (
            record(upload(1), requestContext={"requestId": "r"}),
            "not an invocation record (no requestContext",
        ),
        (record(upload(1), requestPayload=None), "its record has no requestPayload"),
    ],
)
def test_a_message_that_is_no_replayable_record_stops_the_replay_and_stays(
    estate, invocations, capsys, body, reason
):
    sqs, queue = estate["sqs"], estate["functions"]["ingest-fn"]
    failed(sqs, queue, [record(upload(0)), body, record(upload(2))])
    invocations.accept(1)
    assert replay(estate, invocations) == 1
    err = one_error_line(capsys)
    left = by_id(sqs, queue.queue_url)
    assert invocations.payloads == [upload(0)]
    assert sorted(left.values()) == sorted([body, record(upload(2))])
    (stopped_at,) = [mid for mid, found in left.items() if found == body]
    assert f"stopped at message {stopped_at}: {reason}" in err


@pytest.mark.parametrize(
    "function_arn",
    [
        f"arn:aws:lambda:{REGION}:123456789012:function:soundstack-dev-payment-fn:$LATEST",
        f"arn:aws:lambda:{REGION}:123456789012:function:soundstack-dev-payment-fn",
        f"{FUNCTION_ARN}:7",  # a published version: not what the estate's invoke config covers
        f"{FUNCTION_ARN}-evil",
    ],
)
def test_a_record_of_another_function_is_refused_and_nothing_is_invoked(
    estate, invocations, capsys, function_arn
):
    sqs, queue = estate["sqs"], estate["functions"]["ingest-fn"]
    failed(sqs, queue, [record(upload(0), function_arn)])
    assert replay(estate, invocations) == 1
    err = one_error_line(capsys)
    assert f"its record names {function_arn}, not {FUNCTION_ARN}: refused" in err
    assert invocations.payloads == []
    assert list(by_id(sqs, queue.queue_url).values()) == [record(upload(0), function_arn)]


def test_an_unqualified_function_arn_is_the_function_and_the_event_keeps_its_json():
    queue = FunctionQueue("ingest-fn", "arn:q", "https://q", FUNCTION_ARN, FUNCTION)
    event = {"key": "uploads/ä.mp3", "size": 3, "nested": [1, {"a": None}]}
    assert json.loads(record_payload(record(event, FUNCTION_ARN), queue)) == event
    big = record({"blob": "x" * MAX_ASYNC_PAYLOAD})
    with pytest.raises(RecordError, match=f"over the {MAX_ASYNC_PAYLOAD} bytes of an asynchronous"):
        record_payload(big, queue)


class FailingDeletes:
    """The moto client, except that DeleteMessage is refused."""

    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def delete_message(self, **_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "DeleteMessage"
        )


def test_a_record_replayed_but_not_deleted_stops_the_replay_and_says_so(
    estate, invocations, capsys
):
    sqs, queue = estate["sqs"], estate["functions"]["ingest-fn"]
    failed(sqs, queue, [record(upload(i)) for i in range(3)])
    invocations.accept(1)
    code = run(
        "dev",
        estate["file"],
        PROJECT_DIR,
        "ingest-fn",
        replay=True,
        sqs=FailingDeletes(sqs),
        lambda_client=invocations,
    )
    assert code == 1
    err = one_error_line(capsys)
    assert "was replayed but is still in the queue" in err and "AccessDenied" in err
    assert invocations.payloads == [upload(0)]
    assert waiting(sqs, queue.queue_url) == 3  # nothing lost; the replayed one comes back


def test_move_task_options_are_refused_for_a_function_queue(estate, capsys):
    argv = ["redrive", "dev", "--outputs", estate["file"], "--queue", "ingest-fn", "--replay"]
    for extra in (["--wait"], ["--max-per-second", "5"]):
        assert main([*argv, *extra]) == 2
        assert "--queue ingest-fn is a function queue" in one_error_line(capsys)
    failed(estate["sqs"], estate["functions"]["ingest-fn"], [record(upload(0))])
    assert main(argv[:-1]) == 0
    assert capsys.readouterr().out.startswith(
        f"ingest-fn: 1 messages in {estate['functions']['ingest-fn'].queue_arn}, failed "
        f"asynchronous invocations of {FUNCTION}"
    )


def readme_commands() -> list[list[str]]:
    """The `soundstack redrive` lines of README's "Replaying dead letters", as argv."""
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    block = readme.split("**Replaying dead letters**", 1)[1].split("```sh", 1)[1]
    lines = block.split("```", 1)[0].splitlines()
    return [shlex.split(line, comments=True)[1:] for line in lines if line.startswith("soundstack")]


def test_the_readme_commands_work_as_written(estate, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.json").write_text(json.dumps(estate["outputs"]))
    sqs, queue = estate["sqs"], estate["queues"]["profiles"]
    dead_letter(sqs, queue, 4)
    commands = readme_commands()
    assert [argv[:4] for argv in commands] == [["redrive", "prod", "--outputs", "out.json"]] * 4
    listing, replay, copy, reinvoke = commands
    assert main(listing) == 0
    listed = capsys.readouterr().out
    assert "profiles" in listed and "ingest-fn" in listed and "function queue" in listed
    stubbed = boto3.client("sqs", region_name=REGION)  # moto has no move tasks: AWS's answers
    arns = {"SourceArn": queue.dlq_arn}
    with Stubber(stubbed) as stub, monkeypatch.context() as patch:
        patch.setattr(boto3, "client", lambda *_, **__: stubbed)
        stub.add_response("list_message_move_tasks", {"Results": []}, {**arns, "MaxResults": 1})
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "h"},
            {**arns, "DestinationArn": queue.source_arn},
        )
        stub.add_response(
            "list_message_move_tasks",
            {"Results": [{"Status": "COMPLETED", "ApproximateNumberOfMessagesMoved": 4}]},
            {**arns, "MaxResults": 1},
        )
        assert main(replay) == 0
        stub.assert_no_pending_responses()
    assert "profiles: move task COMPLETED: 4 moved" in capsys.readouterr().out
    assert main(copy) == 0  # moto's SQS for real
    assert waiting(sqs, queue.dlq_url) == 0
    assert len(drain(sqs, queue.source_url)) == 4
    failures = estate["functions"]["ingest-fn"]
    failed(sqs, failures, [record(upload(i)) for i in range(3)])
    lambda_ = Invocations()
    real = boto3.client
    with lambda_.stub, monkeypatch.context() as patch:  # moto's SQS, Lambda's answers
        patch.setattr(
            boto3, "client", lambda name, **kw: lambda_ if name == "lambda" else real(name, **kw)
        )
        lambda_.accept(3)
        assert main(reinvoke) == 0
        lambda_.stub.assert_no_pending_responses()
    assert sorted(lambda_.payloads, key=json.dumps) == [upload(i) for i in range(3)]
    assert waiting(sqs, failures.queue_url) == 0
