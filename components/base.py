"""Conventions every SoundStack component follows: stack context, names, tags and child options."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

from soundstack.components import lookups
from soundstack.components.naming import physical_name

Environment = Literal["dev", "staging", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Signal:
    """A CloudWatch metric a component offers for alarms and the stack dashboard.

    `key` names the kind of signal (e.g. `errors`, `throttles`, `5xx`, `cpu`, `free_storage`,
    `memory`, `queue_age`, `dlq_depth`, `iterator_age`); thresholds are looked up by it.
    `region` is where CloudWatch keeps the metric (CloudFront's live in us-east-1); None means the
    stack's region. Its alarm is built there, since an alarm only notifies topics of its region.
    """

    component: str
    key: str
    label: str
    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    statistic: str = "Sum"
    period_seconds: int = 300
    comparison: str = "GreaterThanThreshold"
    region: str | None = None
    #: A threshold the component fixes itself (e.g. from its own settings); None: the stack's
    #: threshold for `key` (`monitoring.thresholds`).
    threshold: float | None = None


@dataclass(frozen=True)
class AlertEvent:
    """An EventBridge event pattern a component offers: monitoring builds a rule in the stack's
    region that sends every matching event to the alerts topic (e.g. a failed backup job).
    `pattern` is plain JSON (EventBridge's event pattern syntax)."""

    component: str
    role: str
    description: str
    pattern: Mapping[str, Any]


@dataclass(frozen=True)
class FailureQueue:
    """The SQS queue a function's asynchronous invocations go to once they failed every attempt
    (its on-failure destination: Lambda sends it an invocation record, not the bare event), and
    the function whose records it keeps. `soundstack redrive` lists and replays them from the
    stack output `function_failure_queues`; `component` is the name it goes by there."""

    component: str
    queue_arn: pulumi.Output[str]
    queue_url: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]


@dataclass(frozen=True)
class StackContext:
    """Who owns the resources being built: project, stack, environment and cost tags.

    It also collects the `Signal`s and `AlertEvent`s every component offers (`signals`,
    `alert_events`), so monitoring can build alarms, event rules and a dashboard from the
    components that exist, without a hand-kept list; and each function's `FailureQueue`
    (`failure_queues`), which the program exports for `soundstack redrive`.
    """

    project: str
    stack: str
    environment: Environment
    region: str
    owner: str
    cost_centre: str
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    #: S3 bucket names end in the account id (`Component.s3_bucket_name`); False keeps the
    #: names of stacks deployed before they did: a new name replaces the bucket.
    account_in_bucket_names: bool = True
    signals: list[Signal] = field(default_factory=list, compare=False, hash=False, repr=False)
    alert_events: list[AlertEvent] = field(
        default_factory=list, compare=False, hash=False, repr=False
    )
    failure_queues: list[FailureQueue] = field(
        default_factory=list, compare=False, hash=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ValueError(
                f"StackContext.environment={self.environment!r}: use one of "
                f"{', '.join(ENVIRONMENTS)} (it picks the profile of defaults and policies)"
            )

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    def sized(self, dev: str, other: str) -> str:
        """A default size: burstable `dev` in dev (the only classes the pack's
        `cost-allowed-instance-classes` allows there), production-grade `other` elsewhere."""
        return dev if self.environment == "dev" else other

    def name(self, role: str, kind: str = "default") -> str:
        """Physical name `<project>-<stack>-<role>` cut to the limit of `kind`."""
        return physical_name(self.project, self.stack, role, kind)

    def tags(self, component: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Default tags merged explicitly (mocks run no provider `default_tags`)."""
        return {
            **self.extra_tags,
            "project": self.project,
            "stack": self.stack,
            "environment": self.environment,
            "component": component,
            "owner": self.owner,
            "cost-centre": self.cost_centre,
            **(extra or {}),
        }


class Component(pulumi.ComponentResource):
    """Base class: a `soundstack:<module>:<Name>` component whose children hang under it.

    Subclasses set `TYPE`, build their children with `self.child_opts()`, name them with
    `self.child_name(role)` (logical) and `self.physical_name(role, kind)` (AWS), tag them with
    `self.tags()`, and finish with `self.register_outputs({...})`.
    """

    TYPE: str = ""

    def __init__(
        self, name: str, ctx: StackContext, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        if not self.TYPE:
            raise TypeError(f"{type(self).__name__} must set TYPE = 'soundstack:<module>:<Name>'")
        super().__init__(self.TYPE, name, None, opts)
        self.ctx = ctx
        self.logical_name = name

    @property
    def module(self) -> str:
        return self.TYPE.split(":")[1]

    def child_opts(self, **kwargs: object) -> pulumi.ResourceOptions:
        """Options for a child: always parented to this component."""
        return pulumi.ResourceOptions(parent=self, **kwargs)  # type: ignore[arg-type]

    def child_name(self, role: str) -> str:
        """Logical name of a child, prefixed so two instances never collide."""
        return f"{self.logical_name}-{role}"

    def physical_name(self, role: str, kind: str = "default") -> str:
        return self.ctx.name(f"{self.logical_name}-{role}" if role else self.logical_name, kind)

    def s3_bucket_name(self, role: str) -> str:
        """`<project>-<stack>-<component>-<role>-<account id>`, cut to 63 characters: S3 bucket
        names are global ("Bucket names must be unique across all AWS accounts in all the AWS
        Regions within a partition"), so the account keeps two accounts' stacks of the same
        project apart, as CDK's bootstrap bucket does. Without the account id where
        `StackContext.account_in_bucket_names` is False (stacks deployed before)."""
        if not self.ctx.account_in_bucket_names:
            return self.physical_name(role, "s3_bucket")
        return self.physical_name(f"{role}-{lookups.account_id()}", "s3_bucket")

    def tags(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return self.ctx.tags(self.module, extra)

    def add_signal(
        self,
        key: str,
        label: str,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, pulumi.Input[str]],
        statistic: str = "Sum",
        period_seconds: int = 300,
        comparison: str = "GreaterThanThreshold",
        region: str | None = None,
        threshold: float | None = None,
    ) -> None:
        """Offer a metric of this component for alarms and the dashboard (see `Signal`)."""
        self.ctx.signals.append(
            Signal(
                self.logical_name,
                key,
                label,
                namespace,
                metric,
                dimensions,
                statistic,
                period_seconds,
                comparison,
                region,
                threshold,
            )
        )

    def add_alert_event(self, role: str, description: str, pattern: Mapping[str, Any]) -> None:
        """Offer an event pattern whose events page the alerts topic (see `AlertEvent`)."""
        self.ctx.alert_events.append(AlertEvent(self.logical_name, role, description, pattern))


def json_document(document: Any) -> pulumi.Output[str]:
    """`document` as JSON once the Outputs in it (at any depth; each resolving to a JSON value)
    have: the string `pulumi.Output.json_dumps` gives, unknown, secret and dependent alike.

    `json_dumps`, like `Output.all`, turns every node of the document and of each Output's
    resolved value into an Output of its own (an IAM policy costs a few hundred asyncio tasks);
    even `Output.all` over the document's Outputs alone makes three Outputs apiece. Here one
    task awaits the Outputs in the document and one Output carries the JSON: a prod preview
    registers the same resources with ~9,000 fewer Outputs than with `json_dumps`."""
    leaves: list[pulumi.Output[Any]] = []

    def collect(node: Any) -> None:
        if isinstance(node, pulumi.Output):
            leaves.append(node)
        elif isinstance(node, Mapping):
            for value in node.values():
                collect(value)
        elif isinstance(node, list | tuple):
            for value in node:
                collect(value)

    def fill(node: Any, values: Iterator[Any]) -> Any:
        if isinstance(node, pulumi.Output):
            return next(values)
        if isinstance(node, Mapping):
            return {key: fill(value, values) for key, value in node.items()}
        if isinstance(node, list | tuple):
            return [fill(value, values) for value in node]
        return node

    async def resolve() -> tuple[set[pulumi.Resource], str | None, bool, bool]:
        resources: set[pulumi.Resource] = set()
        values, known, secret = [], True, False
        for leaf in leaves:
            resources |= await leaf.resources()
            values.append(await leaf.future(with_unknowns=True))
            known = known and await leaf.is_known()
            secret = secret or await leaf.is_secret()
        text = json.dumps(fill(document, iter(values))) if known else None
        return resources, text, known, secret

    collect(document)
    state = asyncio.ensure_future(resolve())

    async def part(index: int) -> Any:
        return (await state)[index]

    return pulumi.Output(part(0), part(1), part(2), part(3))
