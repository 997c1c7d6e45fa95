"""`soundstack redrive <stack>`: show the stack's dead-letter queues and, once the bug that filled
one is fixed, put its messages back on the queue they came from.

The queues come from the stack output `dead_letter_queues` (platform/__main__.py: name →
`dlq_arn`, `dlq_url`, `source_arn`, `source_url`, one entry per `Messaging` queue and stream
failure queue). Without options the command prints each DLQ with its approximate depth
(GetQueueAttributes `ApproximateNumberOfMessages`) and the queue its messages go back to;
`--queue NAME` alone adds the DLQ's latest move task, and `--wait` follows it to its end.

Two ways to move, both ending with the messages on the source queue:

- `--replay` (default way): SQS's own redrive, StartMessageMoveTask with the DLQ as source and
  the exported source queue as destination. What this relies on, in AWS's words (SQS API
  Reference, StartMessageMoveTask and ListMessageMoveTasks):
  * "This action is currently limited to supporting message redrive from queues that are
    configured as dead-letter queues (DLQs) of other Amazon SQS queues only. Non-SQS queue
    sources of dead-letter queues, such as AWS Lambda or Amazon SNS topics, are currently not
    supported." Every exported DLQ is the `deadLetterTargetArn` of an SQS queue
    (`messaging.Queue`); the functions' `-dlq` queues are Lambda on-failure destinations and
    are not exported here.
  * Queue types: older SDK references of the call said "Currently, only standard queues
    support redrive. FIFO queues don't support redrive."; the developer guide now allows any
    destination "if both queues are the same type. For example, if the dead-letter queue is a
    FIFO queue, the redrive destination queue must be a FIFO queue as well." The estate's
    queues are all standard, DLQ and source alike, so both readings allow them.
  * "Only one active message movement task is supported per queue at any given time." The
    command asks ListMessageMoveTasks first ("Gets the most recent message movement tasks (up
    to 10) under a specific source queue") and starts nothing while one is RUNNING or
    CANCELLING ("Possible values are: RUNNING, COMPLETED, CANCELLING, CANCELLED, and FAILED").
  * DestinationArn: "If this field is left blank, the messages will be redriven back to their
    respective original source queues." It is sent anyway, as the exported source queue, so
    what the operator saw listed is where the messages go.
  * MaxNumberOfMessagesPerSecond (`--max-per-second`): "The maximum value for messages per
    second is 500. If this field is left blank, the system will optimize the rate based on the
    queue message backlog size".
  * Progress comes from ListMessageMoveTasks: `ApproximateNumberOfMessagesMoved` and
    `ApproximateNumberOfMessagesToMove` ("obtained at the time of starting the message movement
    task"), `FailureReason` "only included if the task status is FAILED". The developer guide
    adds: "A dead-letter queue redrive task can run a maximum of 36 hours" and "The redrive task
    resets the retention period. A new messageID and enqueueTime are assigned to redriven
    messages."
  * IAM: the operator calls sqs:GetQueueAttributes, sqs:ListMessageMoveTasks and
    sqs:StartMessageMoveTask on the DLQ. The move itself reads and deletes DLQ messages and
    sends them to the source queue, and both queues are SSE-KMS with the stack's data key, so
    we grant an operator role sqs:ReceiveMessage and sqs:DeleteMessage on the DLQ,
    sqs:SendMessage on the source queue and kms:Decrypt and kms:GenerateDataKey on the key
    (what `--by-copy` calls too). That list is ours: AWS's page on the permissions redrive
    needs was not in our reference library, so no AWS sentence backs it; check it against
    that page before narrowing a role to it. The deploy role (components/bootstrap.py) holds
    `sqs:*` and `kms:*`.

- `--replay --by-copy`: the same move done by this process, for an endpoint without
  StartMessageMoveTask (a local SQS, moto in the tests). Batches of up to 10
  are received from the DLQ (long polling, hidden for `COPY_VISIBILITY_SECONDS` while being
  copied), sent to the source queue with their body and message attributes, and each message
  is deleted from the DLQ only once SendMessageBatch reported it successful. A message whose
  send failed stays in the DLQ (made visible again at once), the copy stops there, and the
  command exits 1 naming it: nothing is ever deleted that was not sent. A delete that fails
  after a successful send leaves the message in both queues (a duplicate, never a loss, and
  reported), which consumers of a standard queue must tolerate anyway (at-least-once). The
  copy stops at the depth the DLQ had when it started, so messages that fail again and come
  back cannot keep it running. Copies get new message ids and the source queue's retention,
  like a move task's, and do not carry `AWSTraceHeader` or FIFO fields (the queues are
  standard).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

#: Stack output `redrive` reads (platform/__main__.py exports it).
OUTPUT = "dead_letter_queues"
#: Move task states during which SQS refuses another task on the same queue.
ACTIVE = ("RUNNING", "CANCELLING")
FINISHED = ("COMPLETED", "CANCELLED", "FAILED")
#: AWS: "The maximum value for messages per second is 500."
MAX_PER_SECOND = 500
#: How long a received message stays hidden while `--by-copy` sends and deletes it.
COPY_VISIBILITY_SECONDS = 120
#: Long polling on each receive of `--by-copy` (any wait > 0 asks every SQS server).
COPY_WAIT_SECONDS = 1


class RedriveError(Exception):
    """A redrive that cannot start (missing outputs, unknown queue, a task already running) or
    a task still running when `--wait` gives up: exit 2, the message says what to do."""


@dataclass(frozen=True)
class DeadLetterQueue:
    """One exported DLQ and the queue whose failed messages it keeps."""

    name: str
    dlq_arn: str
    dlq_url: str
    source_arn: str
    source_url: str


def queues(outputs: Mapping[str, Any]) -> dict[str, DeadLetterQueue]:
    """The stack's dead-letter queues from its outputs, by name."""
    found = outputs.get(OUTPUT)
    if not isinstance(found, Mapping) or not found:
        raise RedriveError(
            f"stack output {OUTPUT} missing: run `pulumi up` with this version of "
            "platform/__main__.py (it exports them), or add it to the --outputs file"
        )
    keys = ("dlq_arn", "dlq_url", "source_arn", "source_url")
    result = {}
    for name, entry in found.items():
        missing = [k for k in keys if not isinstance(entry, Mapping) or not entry.get(k)]
        if missing:
            raise RedriveError(
                f"stack output {OUTPUT}.{name} lacks {', '.join(missing)}: run `pulumi up` "
                "with this version of platform/__main__.py"
            )
        result[str(name)] = DeadLetterQueue(str(name), *(str(entry[k]) for k in keys))
    return result


def pick(found: Mapping[str, DeadLetterQueue], name: str) -> DeadLetterQueue:
    """The queue called `name`, or an error listing the valid names."""
    if name not in found:
        raise RedriveError(
            f"--queue {name}: the stack has no such dead-letter queue; use one of "
            f"{', '.join(sorted(found))}"
        )
    return found[name]


def depth(sqs: Any, queue: DeadLetterQueue) -> int:
    """Approximate number of messages waiting in the DLQ (not counting in-flight ones)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0))


def latest_task(sqs: Any, queue: DeadLetterQueue) -> dict[str, Any] | None:
    """The most recent move task of the DLQ (ListMessageMoveTasks), or None."""
    results = sqs.list_message_move_tasks(SourceArn=queue.dlq_arn, MaxResults=1)["Results"]
    return dict(results[0]) if results else None


def describe_task(task: Mapping[str, Any] | None) -> str:
    """One line for a move task: status and progress."""
    if task is None:
        return "no move task yet"
    moved = task.get("ApproximateNumberOfMessagesMoved", 0)
    line = f"move task {task.get('Status')}: {moved}"
    if "ApproximateNumberOfMessagesToMove" in task:
        line += f" of {task['ApproximateNumberOfMessagesToMove']}"
    line += " moved"
    if task.get("FailureReason"):
        line += f" ({task['FailureReason']})"
    return line


def start_move(sqs: Any, queue: DeadLetterQueue, max_per_second: int | None = None) -> str:
    """Start SQS's redrive of `queue` back to its source; the task handle. Raises
    `RedriveError` when a task is already active on the DLQ."""
    if max_per_second is not None and not 1 <= max_per_second <= MAX_PER_SECOND:
        raise RedriveError(
            f"--max-per-second={max_per_second}: give 1 to {MAX_PER_SECOND} (AWS's maximum), "
            "or leave it out to let SQS choose the rate"
        )
    active = latest_task(sqs, queue)
    if active is not None and active.get("Status") in ACTIVE:
        # AWS: TaskHandle "is only populated for tasks that are in RUNNING status".
        handle = active.get("TaskHandle")
        cancel = f" or cancel it (aws sqs cancel-message-move-task --task-handle {handle})"
        raise RedriveError(
            f"{queue.name}: a move task is already {active['Status']} on its DLQ "
            f"({describe_task(active)}); SQS allows one at a time: wait for it "
            f"(`--queue {queue.name} --wait`){cancel if handle else ''}"
        )
    request: dict[str, Any] = {"SourceArn": queue.dlq_arn, "DestinationArn": queue.source_arn}
    if max_per_second is not None:
        request["MaxNumberOfMessagesPerSecond"] = max_per_second
    return str(sqs.start_message_move_task(**request)["TaskHandle"])


def wait_for_move(
    sqs: Any,
    queue: DeadLetterQueue,
    report: Callable[[str], None],
    delay: float = 10,
    attempts: int = 360,
    sleep: Callable[[float], None] = time.sleep,
    started: bool = True,
) -> dict[str, Any] | None:
    """Poll ListMessageMoveTasks, reporting progress, until the latest task has finished.
    Returns that task; None at once when the DLQ has none and none was just `started` (a task
    just started is waited for until the list shows it)."""
    for _ in range(attempts):
        task = latest_task(sqs, queue)
        report(f"{queue.name}: {describe_task(task)}")
        if task is None and not started:
            return None
        if task is not None and task.get("Status") in FINISHED:
            return task
        sleep(delay)
    raise RedriveError(
        f"{queue.name}: the move task is still running after {delay * attempts:.0f} s; it "
        f"continues in SQS, follow it with `soundstack redrive <stack> --queue {queue.name}`"
    )


@dataclass
class CopyResult:
    """What `copy_back` did: messages moved, and those it could not move (id → reason)."""

    moved: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    #: Sent to the source queue but still in the DLQ (the delete failed): duplicates.
    not_deleted: dict[str, str] = field(default_factory=dict)


def _attributes(message: Mapping[str, Any]) -> dict[str, Any]:
    """The message attributes as SendMessage takes them (type and one value each)."""
    kept: dict[str, Any] = {}
    for name, value in message.get("MessageAttributes", {}).items():
        entry = {"DataType": value["DataType"]}
        for key in ("StringValue", "BinaryValue"):
            if key in value:
                entry[key] = value[key]
        kept[name] = entry
    return kept


def _reason(entry: Mapping[str, Any]) -> str:
    return f"{entry.get('Code', 'error')}: {entry.get('Message', 'no message')}"


def _failed(ids: Iterable[str], exc: Exception) -> list[dict[str, str]]:
    """Batch `Failed` entries for a call that raised: every entry failed."""
    code = exc.response["Error"].get("Code", "") if isinstance(exc, ClientError) else ""
    return [{"Id": i, "Code": code or type(exc).__name__, "Message": str(exc)} for i in ids]


def _send(sqs: Any, url: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """SendMessageBatch; a batch over SQS's total size limit (BatchRequestTooLong) goes one
    message at a time instead. Never raises for AWS errors: they come back as `Failed`."""
    try:
        return dict(sqs.send_message_batch(QueueUrl=url, Entries=entries))
    except ClientError as exc:
        if "BatchRequestTooLong" not in str(exc.response["Error"].get("Code", "")):
            return {"Failed": _failed((e["Id"] for e in entries), exc)}
    except BotoCoreError as exc:
        return {"Failed": _failed((e["Id"] for e in entries), exc)}
    sent: dict[str, list[dict[str, Any]]] = {"Successful": [], "Failed": []}
    for entry in entries:
        single = {k: v for k, v in entry.items() if k != "Id"}
        try:
            sqs.send_message(QueueUrl=url, **single)
            sent["Successful"].append({"Id": entry["Id"]})
        except (BotoCoreError, ClientError) as exc:
            sent["Failed"] += _failed([entry["Id"]], exc)
    return sent


def copy_back(
    sqs: Any,
    queue: DeadLetterQueue,
    limit: int | None = None,
    wait_seconds: int = COPY_WAIT_SECONDS,
) -> CopyResult:
    """Move messages from the DLQ to the source queue by receive, send, then delete, until
    the DLQ is empty, `limit` messages moved, or a send fails (see the module docstring)."""
    result = CopyResult()
    remaining = depth(sqs, queue) if limit is None else limit
    while remaining > 0 and not result.failed:
        batch = sqs.receive_message(
            QueueUrl=queue.dlq_url,
            MaxNumberOfMessages=min(10, remaining),
            MessageAttributeNames=["All"],
            VisibilityTimeout=COPY_VISIBILITY_SECONDS,
            WaitTimeSeconds=wait_seconds,
        ).get("Messages", [])
        if not batch:
            break
        by_id = {str(i): message for i, message in enumerate(batch)}
        entries = []
        for entry_id, message in by_id.items():
            entry = {"Id": entry_id, "MessageBody": message["Body"]}
            if attributes := _attributes(message):
                entry["MessageAttributes"] = attributes
            entries.append(entry)
        sent = _send(sqs, queue.source_url, entries)
        done = [by_id[entry["Id"]] for entry in sent.get("Successful", [])]
        for entry in sent.get("Failed", []):
            result.failed[by_id[entry["Id"]]["MessageId"]] = _reason(entry)
        if done:
            result.moved += len(done)
            handles = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
            ]
            try:
                failures = sqs.delete_message_batch(QueueUrl=queue.dlq_url, Entries=handles)
            except (BotoCoreError, ClientError) as exc:
                failures = {"Failed": _failed((h["Id"] for h in handles), exc)}
            for entry in failures.get("Failed", []):
                result.not_deleted[done[int(entry["Id"])]["MessageId"]] = _reason(entry)
        unsent = [by_id[entry["Id"]] for entry in sent.get("Failed", [])]
        if unsent:
            # In view again now rather than after the visibility timeout (if this fails too,
            # they reappear when it expires: still in the DLQ either way).
            with contextlib.suppress(BotoCoreError, ClientError):
                sqs.change_message_visibility_batch(
                    QueueUrl=queue.dlq_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                        for i, m in enumerate(unsent)
                    ],
                )
        remaining -= len(batch)
    return result


def load(stack: str, outputs_file: str | None, project_dir: Path) -> dict[str, Any]:
    """The stack outputs (`publish_web.load_outputs`), its errors as `RedriveError`."""
    from soundstack.publish_web import PublishError, load_outputs

    try:
        return load_outputs(stack, outputs_file, project_dir)
    except PublishError as exc:
        raise RedriveError(str(exc)) from exc
    except OSError as exc:
        raise RedriveError(
            f"--outputs {outputs_file}: {exc.strerror}; name the JSON file of "
            "`pulumi stack output --json`"
        ) from exc
    except json.JSONDecodeError as exc:
        raise RedriveError(f"--outputs {outputs_file} is not JSON ({exc})") from exc


def run(
    stack: str,
    outputs_file: str | None,
    project_dir: Path,
    queue_name: str | None = None,
    replay: bool = False,
    by_copy: bool = False,
    max_per_second: int | None = None,
    wait: bool = False,
    sqs: Any = None,
) -> int:
    """CLI entry. Exit 0 when done, 1 when AWS refused or a copy stopped on a failed send, 2
    when the redrive cannot start (with one line saying what to fix)."""
    import boto3

    try:
        if (replay or by_copy or wait or max_per_second is not None) and not queue_name:
            raise RedriveError("name the queue to move: --queue NAME (see them without options)")
        if by_copy and not replay:
            raise RedriveError("--by-copy is a way to --replay: give both")
        if max_per_second is not None and not replay:
            raise RedriveError("--max-per-second sets the rate of a --replay: give both")
        if by_copy and (max_per_second is not None or wait):
            raise RedriveError(
                "--max-per-second and --wait belong to the SQS move task; "
                "--by-copy moves at its own pace and returns when done"
            )
        outputs = load(stack, outputs_file, project_dir)
        found = queues(outputs)
        chosen = pick(found, queue_name) if queue_name else None
        region = str(outputs.get("region") or "") or None
        client = sqs or boto3.client("sqs", region_name=region)
        if chosen is None:
            for queue in found.values():
                count = depth(client, queue)
                print(f"{queue.name:<26} {count:>7} messages  (back to {queue.source_arn})")
            return 0
        if not replay:
            print(
                f"{chosen.name}: {depth(client, chosen)} messages in {chosen.dlq_arn}, "
                f"{describe_task(latest_task(client, chosen))}"
            )
            if wait:
                task = wait_for_move(client, chosen, print, started=False)
                return 0 if task is None or task.get("Status") == "COMPLETED" else 1
            return 0
        if by_copy:
            return _report_copy(chosen, copy_back(client, chosen))
        handle = start_move(client, chosen, max_per_second)
        print(
            f"{chosen.name}: move task started ({handle}) from {chosen.dlq_arn} to "
            f"{chosen.source_arn}"
        )
        if wait:
            task = wait_for_move(client, chosen, print)
            return 0 if task is not None and task.get("Status") == "COMPLETED" else 1
        print(f"follow it: soundstack redrive {stack} --queue {chosen.name} --wait")
        return 0
    except NoCredentialsError:
        print(
            "error: no AWS credentials: set AWS_PROFILE (or run `aws sso login`) for the "
            f"account of stack {stack}, then run the command again",
            file=sys.stderr,
        )
        return 2
    except RedriveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BotoCoreError | ClientError) -> str:
    """What AWS refused, on one line (an endpoint that answers with an HTML page makes botocore
    quote all of it), and the way round a missing move-task API."""
    line = (str(exc).splitlines() or [type(exc).__name__])[0].strip()
    if isinstance(exc, ClientError) and "MessageMoveTask" in exc.operation_name:
        line += "; where SQS move tasks are unavailable, --replay --by-copy moves them from here"
    return line


def _report_copy(queue: DeadLetterQueue, result: CopyResult) -> int:
    print(f"{queue.name}: copied {result.moved} messages back to {queue.source_arn}")
    for message_id, reason in result.not_deleted.items():
        print(
            f"warning: {message_id} was sent but is still in the DLQ ({reason}): delete it "
            "there or expect it twice",
            file=sys.stderr,
        )
    if result.failed:
        what = "; ".join(f"{mid} ({reason})" for mid, reason in result.failed.items())
        print(
            f"error: {queue.name}: send failed for {what}; it and every message not yet copied "
            "stay in the DLQ: fix the cause and run the command again",
            file=sys.stderr,
        )
        return 1
    return 0
