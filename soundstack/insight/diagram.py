"""Component-level diagram of a stack: nodes are SoundStack components, edges are data paths.

Edges come from the registrations, never from a hand-drawn list, and point the way a request
goes: from the caller to the callee (a grantee reads or writes a store, a distribution fetches
from its origin, a queue triggers a function, WAF filters what it sits in front of); data may
flow back along the arrow (reads):
- IAM grants: a role's policy built from another component's ARNs (who reads/writes what);
- wiring resources, per `EDGE_RULES`: SNS subscriptions, event source mappings, security-group
  ingress rules, CloudFront origins, API integrations, Lambda permissions, WAF, Shield …;
- plain dependencies as a fallback (dotted), except onto components most others use.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from soundstack.insight.estate import STACK_OWNER, Estate
from soundstack.synth import Resource, Synthesis

#: The resource itself (rather than one of its inputs) as an edge end.
SELF = ""

#: Type token → (source input, target input, label) of the data path the resource creates,
#: source being the caller. Inputs name the property whose dependencies identify the component
#: at that end; a label may use `{input}` placeholders filled from the resource's inputs.
EDGE_RULES: dict[str, list[tuple[str, str, str]]] = {
    "aws:sns/topicSubscription:TopicSubscription": [("topic", "endpoint", "{protocol}")],
    "aws:lambda/eventSourceMapping:EventSourceMapping": [
        ("eventSourceArn", "functionName", "triggers")
    ],
    "aws:lambda/permission:Permission": [("sourceArn", "function", "invokes")],
    "aws:apigatewayv2/integration:Integration": [("apiId", "integrationUri", "invokes")],
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": [
        ("referencedSecurityGroupId", "securityGroupId", "tcp/{fromPort}")
    ],
    "aws:ec2/securityGroupRule:SecurityGroupRule": [
        ("sourceSecurityGroupId", "securityGroupId", "{protocol}/{fromPort}")
    ],
    "aws:cloudfront/distribution:Distribution": [
        (SELF, "origins", "origin"),
        ("webAclId", SELF, "filters"),
    ],
    "aws:wafv2/webAclAssociation:WebAclAssociation": [("webAclArn", "resourceArn", "filters")],
    "aws:shield/protection:Protection": [(SELF, "resourceArn", "protects")],
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": [
        ("kinesisSourceConfiguration", SELF, "feeds"),
        (SELF, "extendedS3Configuration", "delivers"),
        (SELF, "redshiftConfiguration", "delivers"),
        (SELF, "opensearchConfiguration", "delivers"),
    ],
    "aws:cloudwatch/eventTarget:EventTarget": [("rule", "arn", "routes")],
    "aws:pipes/pipe:Pipe": [("source", "target", "pipes")],
    "aws:cloudwatch/metricAlarm:MetricAlarm": [(SELF, "alarmActions", "alarms")],
    "aws:cloudtrail/trail:Trail": [(SELF, "s3BucketName", "writes")],
    "aws:s3/bucketNotification:BucketNotification": [
        ("bucket", "queues", "notifies"),
        ("bucket", "topics", "notifies"),
        ("bucket", "lambdaFunctions", "notifies"),
    ],
}

#: IAM policy resources whose statements grant the owner of a role access to other components.
_POLICY_TYPES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")
_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"

#: AWS services whose resources hold data: their components are drawn as stores.
STORE_SERVICES = frozenset(
    {"rds", "neptune", "elasticache", "opensearch", "s3", "dynamodb", "redshift",
     "redshiftserverless", "efs"}
)  # fmt: skip
MESSAGING_SERVICES = frozenset({"sqs", "sns", "kinesis", "firehose", "mq"})
#: Services that run or watch something: their components are drawn as services even when they
#: also own a bucket or a queue (a function's dead-letter queue, a pipeline's artifacts).
ACTIVE_SERVICES = frozenset(
    {"lambda", "eks", "ecs", "apigatewayv2", "codebuild", "codepipeline", "cloudtrail"}
)


@dataclass(frozen=True, order=True)
class Edge:
    source: str
    target: str
    label: str
    data: bool = True  # False: a plain dependency drawn dotted


@dataclass
class Diagram:
    stack: str
    nodes: dict[str, str]  # component name → its type without the `soundstack:` prefix
    shapes: dict[str, str]  # component name → "store" | "messaging" | "service"
    edges: list[Edge]
    hubs: dict[str, str]  # component → "used by most" | "uses most" (plain edges left out)

    def mermaid(self) -> str:
        opening = {"store": '[("', "messaging": '>"', "service": '["'}
        closing = {"store": '")]', "messaging": '"]', "service": '"]'}
        lines = ["graph TD"]
        for name, kind in self.nodes.items():
            shape = self.shapes[name]
            note = f"<br/><i>{self.hubs[name]}</i>" if name in self.hubs else ""
            lines.append(
                f"  {_node_id(name)}{opening[shape]}{name}<br/>{kind}{note}{closing[shape]}"
            )
        for e in self.edges:
            arrow = "-->" if e.data else "-.->"
            lines.append(f"  {_node_id(e.source)} {arrow}|{e.label}| {_node_id(e.target)}")
        return "\n".join(lines) + "\n"


def _node_id(name: str) -> str:
    return "c_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _service(type_token: str) -> str:
    package, module, _ = type_token.split(":")
    return module.split("/")[0] if package == "aws" else package


#: OpenSearch HTTP verbs that change documents: without them, POST is a search (`_search`).
_ES_WRITES = frozenset({"es:ESHttpPut", "es:ESHttpDelete", "es:ESHttpPatch"})


def _verb(actions: list[str]) -> str:
    """Summarise IAM actions as the data path they open."""
    kinds = set()
    if "es:ESHttpPost" in actions and not _ES_WRITES & set(actions):
        actions = [a for a in actions if a != "es:ESHttpPost"] + ["es:ESHttpGet"]
    for action in actions:
        service, _, verb = action.partition(":")
        if service == "kms":
            kinds.add("uses key")
        elif service == "ec2":
            kinds.add("runs in")
        elif verb.startswith("Invoke"):
            kinds.add("invokes")
        elif re.match(r"(Get|Receive|Read|List|Describe|Query|Scan|Select|Search|ESHttpGet|"
                      r"ESHttpHead|Subscribe|BatchGet|Consume)", verb):  # fmt: skip
            kinds.add("reads")
        elif verb.lower() == "connect":
            kinds.add("connects")
        else:
            kinds.add("writes")
    if {"reads", "writes"} <= kinds:
        kinds -= {"reads", "writes"}
        kinds.add("reads/writes")
    return ", ".join(sorted(kinds))


def _actions(policy: object) -> list[str]:
    try:
        document = json.loads(policy) if isinstance(policy, str) else policy
    except ValueError:
        return []
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    found: list[str] = []
    for s in statements:
        if isinstance(s, dict) and s.get("Effect", "Allow") == "Allow":
            action = s.get("Action", [])
            found += [action] if isinstance(action, str) else list(action)
    return found


#: Which node a resource is drawn as, by URN (its component here; `picture` draws finer).
NodeOf = Callable[[str], str]


def _ends(estate: Estate, r: Resource, prop: str, node_of: NodeOf) -> list[str]:
    """Nodes of the resources `r`'s input `prop` was built from (`SELF`: `r`'s own node)."""
    if prop == SELF:
        return [node_of(r.urn)]
    urns = [u for u in r.property_dependencies.get(prop, []) if u in estate.by_urn]
    return list(dict.fromkeys(node_of(u) for u in urns))


def grant_edges(estate: Estate, node_of: NodeOf) -> list[Edge]:
    """Grantee → store for each IAM policy built from another component's ARNs."""
    attached: dict[str, list[str]] = defaultdict(list)  # policy URN → roles' nodes
    for a in estate.synth.by_type(_ATTACHMENT):
        for urn in a.property_dependencies.get("policyArn", []):
            attached[urn] += _ends(estate, a, "role", node_of)
    edges = []
    for policy_type in _POLICY_TYPES:
        for p in estate.synth.by_type(policy_type):
            verb = _verb(_actions(p.inputs.get("policy")))
            grantees = attached.get(p.urn) or _ends(estate, p, "role", node_of) or [node_of(p.urn)]
            for target in _ends(estate, p, "policy", node_of):
                edges += [Edge(g, target, verb or "grant") for g in grantees]
    return edges


def _label(template: str, r: Resource) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(r.inputs.get(m.group(1), "?")), template)


def rule_edges(estate: Estate, node_of: NodeOf) -> list[Edge]:
    """The data paths wiring resources create (`EDGE_RULES`)."""
    edges = []
    for r in estate.custom():
        for source, target, label in EDGE_RULES.get(r.type, []):
            sources = _ends(estate, r, source, node_of)
            targets = _ends(estate, r, target, node_of)
            edges += [Edge(s, t, _label(label, r)) for s in sources for t in targets]
    return edges


def _dependency_pairs(estate: Estate) -> set[tuple[str, str]]:
    """(component, component it depends on) for every cross-component dependency."""
    pairs: set[tuple[str, str]] = set()
    for r in estate.synth.resources:
        for urn in r.dependencies:
            if urn in estate.by_urn:
                pairs.add((estate.owner(r), estate.owners[urn]))
    return {(a, b) for a, b in pairs if a != b}


def _hubs(pairs: set[tuple[str, str]], count: int) -> dict[str, str]:
    """Components more than half of the others depend on ("used by most", e.g. a shared key)
    or that depend on more than half of the others ("uses most", e.g. monitoring)."""
    users: dict[str, set[str]] = defaultdict(set)
    used: dict[str, set[str]] = defaultdict(set)
    for a, b in pairs:
        users[b].add(a)
        used[a].add(b)
    others = count - 1
    if others < 3:
        return {}
    hubs = {b: "used by most" for b, a in users.items() if len(a) > others / 2}
    hubs.update({a: "uses most" for a, b in used.items() if len(b) > others / 2})
    return hubs


def _shape(services: set[str]) -> str:
    if services & ACTIVE_SERVICES or not services & (STORE_SERVICES | MESSAGING_SERVICES):
        return "service"
    return "store" if services & STORE_SERVICES else "messaging"


def build(synth: Synthesis) -> Diagram:
    """The component-level diagram of `synth`."""
    estate = Estate(synth)
    services: dict[str, set[str]] = defaultdict(set)
    for r in estate.custom():
        services[estate.owner(r)].add(_service(r.type))
    nodes = {name: c.type.split(":", 1)[1] for name, c in sorted(estate.components.items())}
    if any(estate.owner(r) == STACK_OWNER for r in estate.custom()):
        nodes[STACK_OWNER] = "outside components"
    pairs = _dependency_pairs(estate)
    hubs = _hubs(pairs, len(nodes))

    def hidden(e: Edge) -> bool:
        """Edges a hub would repeat for nearly every component: plain use and key use."""
        if hubs.get(e.target) == "used by most":
            return not e.data or e.label == "uses key"
        return not e.data and hubs.get(e.source) == "uses most"

    owner = estate.owners.__getitem__
    found = grant_edges(estate, owner) + rule_edges(estate, owner)
    data = merge({e for e in found if e.source != e.target})
    linked = {frozenset((e.source, e.target)) for e in data}
    fallback = {Edge(a, b, "uses", data=False) for a, b in pairs if frozenset((a, b)) not in linked}
    edges = sorted(e for e in data | fallback if not hidden(e))
    shapes = {n: _shape(services[n]) for n in nodes}
    return Diagram(synth.stack, nodes, shapes, edges, hubs)


def merge(edges: set[Edge]) -> set[Edge]:
    """One edge per (source, target) with the labels joined."""
    labels: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in edges:
        labels[(e.source, e.target)].update(part.strip() for part in e.label.split(","))
    merged = set()
    for (source, target), parts in labels.items():
        both = "reads/writes" in parts or {"reads", "writes"} <= parts
        kinds = (parts - {"reads", "writes"}) | {"reads/writes"} if both else parts
        merged.add(Edge(source, target, ", ".join(sorted(kinds))))
    return merged


def write(diagram: Diagram, out: Path) -> Path:
    """Write the Mermaid text of `diagram` to `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(diagram.mermaid())
    return out
