"""`soundstack redrive <stack>`: show the stack's dead-letter queues and, once the bug that filled
one is fixed, put its messages back on the queue they came from, or replay a function's failed
asynchronous invocations.

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
    (`messaging.Queue`); the functions' `-dlq` queues are Lambda on-failure destinations,
    exported apart and replayed by invoking the function (below).
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
    (what `--by-copy` calls too). AWS's "Amazon SQS API permissions: Actions and resource
    reference" backs the DLQ side for the sibling call: CancelMessageMoveTask needs
    "sqs:CancelMessageMoveTask sqs:ReceiveMessage sqs:DeleteMessage sqs:GetQueueAttributes" on
    "arn:aws:sqs:region:account_id:dlq_queue_name". Its StartMessageMoveTask row was not in our
    reference library's copy, so the rest (SendMessage on the source queue, the KMS actions) is
    our reading: check it against that row before narrowing a role to it. The deploy role
    (components/bootstrap.py) holds `sqs:*` and `kms:*`.

- `--replay --by-copy`: the same move done by this process, for an endpoint without
  StartMessageMoveTask (a local SQS, moto in the tests). It starts only when ListMessageMoveTasks
  shows no active task on the DLQ (an endpoint that does not know the call has none; any other
  error stops it): beside a move task it would be a second mover of the same messages.
  Batches of up to 10 are received from the DLQ (long polling, hidden for
  `COPY_VISIBILITY_SECONDS` while being copied), sent to the source queue with their body and
  message attributes, and each message
  is deleted from the DLQ only once SendMessageBatch reported it successful. A message whose
  send failed stays in the DLQ (made visible again at once), the copy stops there, and the
  command exits 1 naming it: nothing is ever deleted that was not sent. A delete that fails
  after a successful send leaves the message in both queues (a duplicate, never a loss, and
  reported), which consumers of a standard queue must tolerate anyway (at-least-once). The
  copy stops at the depth the DLQ had when it started, so messages that fail again and come
  back cannot keep it running. Copies get new message ids and the source queue's retention,
  like a move task's, and do not carry `AWSTraceHeader` or FIFO fields (the queues are
  standard).

Function queues. Each `ServiceFunction`'s `-dlq` queue is the on-failure destination of its
asynchronous invocations (FunctionEventInvokeConfig `destination_config.on_failure`), exported as
`function_failure_queues` (name → `queue_arn`, `queue_url`, `function_arn`, `function_name`, one
per `ServiceFunction`, named as the component: `ingest-fn`); the listing marks them `function
queue`. SQS cannot move them (above), and there is no queue to move them to: the event went to
Lambda. `--queue NAME --replay` on a function queue invokes the function again with each record's
original event instead. What this relies on, in AWS's words (Lambda Developer Guide,
"Asynchronous invocation" and "Capturing records of Lambda asynchronous invocations"; Lambda API
Reference, Invoke and OnFailure):

- What a message is: "When an invocation matches the condition, Lambda sends a JSON document with
  details about the invocation to the destination", and "For Amazon SQS and Amazon SNS
  (`SnsDestination` and `SqsDestination`), the invocation record is passed as the `Message` to
  the destination." The guide's example record has `version`, `timestamp`, `requestContext`
  (`requestId`, `functionArn`, `condition`, `approximateInvokeCount`), `requestPayload`,
  `responseContext` (`statusCode`, `executedVersion`, `functionError`) and `responsePayload`:
  "The invocation record contains details about the event, the response, and the reason that
  the record was sent." `requestPayload` is the event; a body that is not such a record (not a
  JSON object, no `requestContext.functionArn`) stops the replay, stays in the queue and is named.
- Where it goes: the function named by `requestContext.functionArn`, which must be the exported
  function (unqualified or `:$LATEST`, the only version the estate's invoke config covers); a
  record naming any other is refused, so a message cannot point the replay elsewhere. The invoke
  names the exported ARN, so the code deployed now runs it (Invoke: "If you don't provide the
  `Qualifier` parameter, the `$LATEST` version of the Lambda function is invoked").
- No event, no replay: "If the combined size of the function request and response payload
  exceeds the limit, Lambda will drop the payload when sending OnFailure event to the
  destination" (OnFailure, of SNS's 256 KB; a queue has a message size limit too). A record
  without `requestPayload` stops the replay and stays.
- How: Invoke with `InvocationType='Event'` ("To invoke a function asynchronously, set
  InvocationType to Event") and `requestPayload` as JSON. "For asynchronous invocations, the
  maximum payload size is 1 MB": a larger event (over `MAX_ASYNC_PAYLOAD` bytes) is not sent;
  Lambda's own refusal (RequestTooLargeException, HTTP 413) would stop the replay the same way.
- Done means accepted: "For the `Event` invocation type this status code will be 202." A message
  is deleted only after its invoke answered 202. Any other answer or an error stops the replay
  with that message and every one not yet replayed still in the queue (visible again at once),
  exit 1 naming it. A delete that fails after an accepted invoke stops it too: that record stays
  and a later replay runs its event twice.
- Twice is allowed anyway: Invoke says "Occasionally, your function may receive the same event
  multiple times, even if no error occurs", and the guide "Ensure that your function code
  gracefully handles duplicate events". A replay is a new asynchronous invocation, retried by
  Lambda on error and, once retries are spent, recorded in this queue again: handlers must be
  idempotent.
- Like `--by-copy`, the replay stops at the depth the queue had when it started, so records of
  replays that fail again cannot keep it running.
- IAM: the operator calls sqs:GetQueueAttributes, sqs:ReceiveMessage, sqs:DeleteMessage and
  sqs:ChangeMessageVisibility on the function queue, kms:Decrypt on the stack's data key, and
  lambda:InvokeFunction on the function (Invoke: "This operation requires permission for the
  `lambda:InvokeFunction` action").
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
#: Stack output of each function's on-failure queue (platform/__main__.py exports it).
FUNCTION_OUTPUT = "function_failure_queues"
#: AWS (Invoke): "For asynchronous invocations, the maximum payload size is 1 MB."
MAX_ASYNC_PAYLOAD = 1024 * 1024
#: AWS (Invoke): "For the `Event` invocation type this status code will be 202."
ACCEPTED = 202


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


@dataclass(frozen=True)
class FunctionQueue:
    """One function's on-failure queue (invocation records of its failed asynchronous
    invocations) and the function they are replayed to."""

    name: str
    queue_arn: str
    queue_url: str
    function_arn: str
    function_name: str


def queues(outputs: Mapping[str, Any]) -> dict[str, DeadLetterQueue]:
    """The stack's dead-letter queues from its outputs, by name."""
    keys = ("dlq_arn", "dlq_url", "source_arn", "source_url")
    found = _exported(outputs, OUTPUT, keys, required=True)
    return {name: DeadLetterQueue(name, *values) for name, values in found.items()}


def function_queues(outputs: Mapping[str, Any]) -> dict[str, FunctionQueue]:
    """The functions' on-failure queues from the stack outputs, by name; none for a stack
    deployed before the program exported them."""
    keys = ("queue_arn", "queue_url", "function_arn", "function_name")
    found = _exported(outputs, FUNCTION_OUTPUT, keys, required=False)
    return {name: FunctionQueue(name, *values) for name, values in found.items()}


def _exported(
    outputs: Mapping[str, Any], output: str, keys: tuple[str, ...], required: bool
) -> dict[str, list[str]]:
    """Stack output `output` (name → entry) as name → the values of `keys`, every entry
    checked for all of them; missing altogether: an error if `required`, else nothing."""
    found = outputs.get(output)
    if not found:
        if required:
            raise RedriveError(
                f"stack output {output} missing: run `pulumi up` with this version of "
                "platform/__main__.py (it exports them), or add it to the --outputs file"
            )
        return {}
    if not isinstance(found, Mapping):
        raise RedriveError(f"stack output {output} is not a mapping of name to queue")
    result = {}
    for name, entry in found.items():
        missing = [k for k in keys if not isinstance(entry, Mapping) or not entry.get(k)]
        if missing:
            raise RedriveError(
                f"stack output {output}.{name} lacks {', '.join(missing)}: run `pulumi up` "
                "with this version of platform/__main__.py"
            )
        result[str(name)] = [str(entry[k]) for k in keys]
    return result


def all_queues(outputs: Mapping[str, Any]) -> dict[str, DeadLetterQueue | FunctionQueue]:
    """Both kinds by name (one name space: `--queue` takes either)."""
    dead_letters, functions = queues(outputs), function_queues(outputs)
    if both := sorted(set(dead_letters) & set(functions)):
        raise RedriveError(
            f"{', '.join(both)}: named in both {OUTPUT} and {FUNCTION_OUTPUT}; give one of "
            "them another name in platform/__main__.py"
        )
    return {**dead_letters, **functions}


def pick(
    found: Mapping[str, DeadLetterQueue | FunctionQueue], name: str
) -> DeadLetterQueue | FunctionQueue:
    """The queue called `name`, or an error listing the valid names."""
    if name not in found:
        raise RedriveError(
            f"--queue {name}: the stack has no such dead-letter queue; use one of "
            f"{', '.join(sorted(found))}"
        )
    return found[name]


def depth(sqs: Any, queue: DeadLetterQueue | FunctionQueue) -> int:
    """Approximate number of messages waiting in the DLQ (not counting in-flight ones)."""
    url = queue.dlq_url if isinstance(queue, DeadLetterQueue) else queue.queue_url
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
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


def refuse_if_moving(queue: DeadLetterQueue, task: Mapping[str, Any] | None) -> None:
    """Raise `RedriveError` when `task` (the DLQ's latest move task) is still active."""
    if task is None or task.get("Status") not in ACTIVE:
        return
    # AWS: TaskHandle "is only populated for tasks that are in RUNNING status".
    handle = task.get("TaskHandle")
    cancel = f" or cancel it (aws sqs cancel-message-move-task --task-handle {handle})"
    raise RedriveError(
        f"{queue.name}: a move task is already {task['Status']} on its DLQ "
        f"({describe_task(task)}); SQS allows one at a time: wait for it "
        f"(`--queue {queue.name} --wait`){cancel if handle else ''}"
    )


#: What an SQS endpoint without move tasks (a local one) answers ListMessageMoveTasks with.
NO_MOVE_TASKS = ("UnsupportedOperation", "InvalidAction", "UnknownOperationException")


def refuse_copy_while_moving(sqs: Any, queue: DeadLetterQueue) -> None:
    """Raise `RedriveError` while a move task is active on the DLQ: `--by-copy` beside it would
    be a second mover of the same messages, and the task's progress would no longer add up. An
    endpoint without move tasks has none running."""
    try:
        task = latest_task(sqs, queue)
    except NotImplementedError:  # moto, in-process, has no ListMessageMoveTasks
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in NO_MOVE_TASKS:
            return
        raise
    refuse_if_moving(queue, task)


def start_move(sqs: Any, queue: DeadLetterQueue, max_per_second: int | None = None) -> str:
    """Start SQS's redrive of `queue` back to its source; the task handle. Raises
    `RedriveError` when a task is already active on the DLQ."""
    if max_per_second is not None and not 1 <= max_per_second <= MAX_PER_SECOND:
        raise RedriveError(
            f"--max-per-second={max_per_second}: give 1 to {MAX_PER_SECOND} (AWS's maximum), "
            "or leave it out to let SQS choose the rate"
        )
    refuse_if_moving(queue, latest_task(sqs, queue))
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
        _release(sqs, queue.dlq_url, [by_id[entry["Id"]] for entry in sent.get("Failed", [])])
        remaining -= len(batch)
    return result


class RecordError(Exception):
    """A function-queue message that cannot be replayed as it is (not an invocation record, no
    event, another function's, too large): the replay stops there and it stays in the queue."""


def _unqualified(arn: str) -> tuple[str, str]:
    """`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` as (ARN without the
    qualifier, qualifier or "")."""
    parts = arn.split(":")
    if len(parts) == 8:
        return ":".join(parts[:7]), parts[7]
    return arn, ""


def record_payload(body: str, queue: FunctionQueue) -> bytes:
    """The original event of the invocation record `body`, as the payload to invoke the
    queue's function with; `RecordError` saying why when there is none to replay."""
    try:
        record = json.loads(body)
    except json.JSONDecodeError as exc:
        raise RecordError(f"not an invocation record (not JSON: {exc.msg})") from exc
    context = record.get("requestContext") if isinstance(record, dict) else None
    arn = context.get("functionArn") if isinstance(context, dict) else None
    if not isinstance(arn, str) or not arn:
        raise RecordError("not an invocation record (no requestContext.functionArn)")
    function, qualifier = _unqualified(arn)
    if function != queue.function_arn or qualifier not in ("", "$LATEST"):
        raise RecordError(
            f"its record names {arn}, not {queue.function_arn}: refused (a replay invokes only "
            "the queue's own function)"
        )
    if record.get("requestPayload") is None:
        raise RecordError(
            "its record has no requestPayload (Lambda leaves it out of a record over the "
            "destination's size limit): nothing to replay; find the event in the function's logs"
        )
    payload = json.dumps(record["requestPayload"], separators=(",", ":")).encode()
    if len(payload) > MAX_ASYNC_PAYLOAD:
        raise RecordError(
            f"its event is {len(payload)} bytes, over the {MAX_ASYNC_PAYLOAD} bytes of an "
            "asynchronous invoke"
        )
    return payload


def _reinvoke(lambda_client: Any, queue: FunctionQueue, body: str) -> str | None:
    """Invoke the queue's function asynchronously with the record's event: None once Lambda
    accepted it (202), else why not."""
    try:
        payload = record_payload(body, queue)
    except RecordError as exc:
        return str(exc)
    try:
        answer = lambda_client.invoke(
            FunctionName=queue.function_arn, InvocationType="Event", Payload=payload
        )
    except (BotoCoreError, ClientError) as exc:
        return f"invoke failed: {_one_line(exc)}"
    status = answer.get("StatusCode")
    if status != ACCEPTED:
        return f"invoke answered {status}, not {ACCEPTED} (accepted)"
    return None


@dataclass
class ReplayResult:
    """What `replay_records` did: events replayed, and the message it stopped at."""

    replayed: int = 0
    #: The message the replay stopped at (id → reason); it and the rest stay in the queue.
    stopped: dict[str, str] = field(default_factory=dict)
    #: Replayed, but still in the queue (the delete failed): a second replay runs it again.
    not_deleted: dict[str, str] = field(default_factory=dict)


def _release(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    """Make received messages visible again now rather than after the visibility timeout (if
    this fails too, they reappear when it expires: still in the queue either way)."""
    if not messages:
        return
    with contextlib.suppress(BotoCoreError, ClientError):
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(messages)
            ],
        )


def replay_records(
    sqs: Any,
    lambda_client: Any,
    queue: FunctionQueue,
    limit: int | None = None,
    wait_seconds: int = COPY_WAIT_SECONDS,
) -> ReplayResult:
    """Invoke the queue's function again with each record's event, deleting each message once
    Lambda accepted its invoke, until the queue is empty, `limit` messages were received, or a
    message cannot be replayed (see the module docstring)."""
    result = ReplayResult()
    remaining = depth(sqs, queue) if limit is None else limit
    while remaining > 0 and not (result.stopped or result.not_deleted):
        batch = sqs.receive_message(
            QueueUrl=queue.queue_url,
            MaxNumberOfMessages=min(10, remaining),
            VisibilityTimeout=COPY_VISIBILITY_SECONDS,
            WaitTimeSeconds=wait_seconds,
        ).get("Messages", [])
        if not batch:
            break
        remaining -= len(batch)
        for index, message in enumerate(batch):
            reason = _reinvoke(lambda_client, queue, message["Body"])
            if reason is not None:
                result.stopped[message["MessageId"]] = reason
                _release(sqs, queue.queue_url, batch[index:])
                break
            try:
                sqs.delete_message(QueueUrl=queue.queue_url, ReceiptHandle=message["ReceiptHandle"])
            except (BotoCoreError, ClientError) as exc:
                result.not_deleted[message["MessageId"]] = _one_line(exc)
                _release(sqs, queue.queue_url, batch[index + 1 :])
                break
            result.replayed += 1
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
    lambda_client: Any = None,
) -> int:
    """CLI entry. Exit 0 when done, 1 when AWS refused, a copy stopped on a failed send or a
    replay on a message it could not replay, 2 when the redrive cannot start (with one line
    saying what to fix)."""
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
        found = all_queues(outputs)
        chosen = pick(found, queue_name) if queue_name else None
        region = str(outputs.get("region") or "") or None
        if isinstance(chosen, FunctionQueue) and (by_copy or max_per_second is not None or wait):
            raise RedriveError(
                f"--queue {chosen.name} is a function queue: --replay invokes "
                f"{chosen.function_name} with each record's event; --by-copy, --max-per-second "
                "and --wait belong to the SQS dead-letter queues"
            )
        client = sqs or boto3.client("sqs", region_name=region)
        if chosen is None:
            for queue in found.values():
                count = depth(client, queue)
                whither = (
                    f"back to {queue.source_arn}"
                    if isinstance(queue, DeadLetterQueue)
                    else f"function queue: replayed to {queue.function_name}"
                )
                print(f"{queue.name:<26} {count:>7} messages  ({whither})")
            return 0
        if isinstance(chosen, FunctionQueue):
            if not replay:
                print(
                    f"{chosen.name}: {depth(client, chosen)} messages in {chosen.queue_arn}, "
                    f"failed asynchronous invocations of {chosen.function_name} (--replay "
                    "invokes it again with each one's event)"
                )
                return 0
            invoker = lambda_client or boto3.client("lambda", region_name=region)
            return _report_replay(chosen, replay_records(client, invoker, chosen))
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
            refuse_copy_while_moving(client, chosen)
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


def _report_replay(queue: FunctionQueue, result: ReplayResult) -> int:
    print(
        f"{queue.name}: replayed {result.replayed} failed invocations to {queue.function_name} "
        "(asynchronously, each deleted once Lambda accepted it)"
    )
    for message_id, reason in result.not_deleted.items():
        print(
            f"error: {queue.name}: {message_id} was replayed but is still in the queue "
            f"({reason}); delete it there or a next replay runs its event again; the messages "
            "not yet replayed stay in the queue",
            file=sys.stderr,
        )
    for message_id, reason in result.stopped.items():
        print(
            f"error: {queue.name}: stopped at message {message_id}: {reason}; it and every "
            "message not yet replayed stay in the queue: fix the cause (or take that message "
            "out of the queue) and run the command again",
            file=sys.stderr,
        )
    return 1 if result.stopped or result.not_deleted else 0


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
