"""What differs between two stacks: resources only one has, and every input whose value differs.

Resources match by type and logical name. Inputs are compared flattened (`clusterConfig.
instanceCount`, `tags.environment` …; JSON policy strings are expanded too). By default each
stack's own name is replaced by `<stack>` first, so `soundstack-dev-network-vpc` and
`soundstack-prod-network-vpc` count as the same setting; every id the engine (here, the
mocks) gave a resource is replaced by `<logical name>`, so a subnet id compares as which subnet
it is, not as an id nobody wrote; an input that is wholly another resource's output compares as
that reference; hash suffixes compare as `<hash>`. `normalise=False` compares raw values.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from soundstack.insight.estate import Estate, flatten
from soundstack.synth import Resource, Synthesis


@dataclass(frozen=True)
class Setting:
    type: str
    name: str
    path: str
    a: Any
    b: Any


@dataclass
class StackDiff:
    a: str
    b: str
    only_a: list[Resource]
    only_b: list[Resource]
    settings: list[Setting]
    counts: dict[str, tuple[int, int]]  # type → (count in a, count in b) where they differ


_MISSING = "(unset)"
#: A run of hex digits with both a digit and a letter in it (alone, or a UUID): a name's stable
#: hash (components/naming.py) or an id the engine computed (API ids, UUIDs, OIDC issuer ids).
#: Both follow from the stack's name, never from what the user wrote.
_HASH = re.compile(
    r"(?<![A-Za-z0-9])(?:[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){1,4}[0-9a-fA-F]*"
    r"|(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,})(?![A-Za-z0-9])"
)


def _normaliser(synth: Synthesis) -> Callable[[str], str]:
    """Stack names → `<stack>`, engine-made ids (alone or inside ARNs) → `<logical name>`."""
    words = {synth.stack, Estate(synth).environment}
    stack = re.compile("|".join(rf"(?<![A-Za-z0-9]){re.escape(w)}(?![A-Za-z0-9])" for w in words))
    names = {r.id: f"<{r.name}>" for r in synth.resources if r.id and len(r.id) >= 8}
    ids = sorted((i for i in names if i != names[i][1:-1]), key=len, reverse=True)
    made = re.compile(
        "(?<![A-Za-z0-9-])(" + "|".join(map(re.escape, ids)) + ")(?![A-Za-z0-9-])"
    ) if ids else None  # fmt: skip

    def normalise(text: str) -> str:
        if made is not None:
            text = made.sub(lambda m: names[m.group(1)], text)
        return _HASH.sub("<hash>", stack.sub("<stack>", text))

    return normalise


def _settings(r: Resource, normalise: Callable[[str], str] | None) -> dict[str, Any]:
    flat = flatten(r.masked_inputs)
    if normalise is None:
        return flat
    settings = {normalise(k): normalise(v) if isinstance(v, str) else v for k, v in flat.items()}
    for key, urns in r.property_dependencies.items():
        value = settings.get(key)
        if urns and isinstance(value, str) and "<" not in value:
            # a whole input that is another resource's output (e.g. a cluster's security group
            # id): what the user wrote is the reference, not the value the engine computed
            settings[key] = "<output of " + ", ".join(u.rsplit("::", 1)[-1] for u in urns) + ">"
    return settings


def compare(a: Synthesis, b: Synthesis, normalise: bool = True) -> StackDiff:
    """Resources and settings that differ between stacks `a` and `b`."""
    left = {(r.type, r.name): r for r in a.resources}
    right = {(r.type, r.name): r for r in b.resources}
    na = _normaliser(a) if normalise else None
    nb = _normaliser(b) if normalise else None
    settings = []
    for key in [k for k in left if k in right]:
        sa, sb = _settings(left[key], na), _settings(right[key], nb)
        for path in sorted(set(sa) | set(sb)):
            va, vb = sa.get(path, _MISSING), sb.get(path, _MISSING)
            if va != vb:
                settings.append(Setting(key[0], key[1], path, va, vb))
    ca = Counter(r.type for r in a.resources)
    cb = Counter(r.type for r in b.resources)
    counts = {t: (ca[t], cb[t]) for t in sorted(set(ca) | set(cb)) if ca[t] != cb[t]}
    return StackDiff(
        a.stack,
        b.stack,
        [r for k, r in left.items() if k not in right],
        [r for k, r in right.items() if k not in left],
        settings,
        counts,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _common(a: str, b: str) -> int:
    """Length of the longest common prefix."""
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def _shorten(a: Any, b: Any, width: int = 60, context: int = 12) -> tuple[str, str]:
    """Both values, cut where they agree: the differing middle of each is always shown whole,
    with `context` characters around it."""
    ta, tb = _text(a), _text(b)
    if len(ta) <= width and len(tb) <= width:
        return ta, tb
    head = _common(ta, tb)
    tail = _common(ta[head:][::-1], tb[head:][::-1])
    start = max(head - context, 0)

    def cut(text: str) -> str:
        end = min(len(text) - tail + context, len(text))
        return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")

    return cut(ta), cut(tb)


def render(d: StackDiff) -> str:
    lines = [f"Stack {d.a!r} vs {d.b!r}", "", "Resource counts that differ (type: a → b):"]
    lines += [f"  {t}: {ca} → {cb}" for t, (ca, cb) in d.counts.items()] or ["  (none)"]
    for label, only in ((f"Only in {d.a}", d.only_a), (f"Only in {d.b}", d.only_b)):
        lines += ["", f"{label} ({len(only)}):"]
        lines += [f"  {r.type}  {r.name}" for r in only] or ["  (none)"]
    lines += ["", f"Settings that differ ({len(d.settings)}):"]
    lines += [f"  {s.name} ({s.type.split(':')[-1]}) {s.path}: " + " → ".join(_shorten(s.a, s.b))
              for s in d.settings] or ["  (none)"]  # fmt: skip
    return "\n".join(lines)


def as_json(d: StackDiff) -> dict[str, Any]:
    return {
        "a": d.a,
        "b": d.b,
        "counts": {t: {"a": ca, "b": cb} for t, (ca, cb) in d.counts.items()},
        "only_a": [{"type": r.type, "name": r.name} for r in d.only_a],
        "only_b": [{"type": r.type, "name": r.name} for r in d.only_b],
        "settings": [
            {"type": s.type, "name": s.name, "path": s.path, "a": s.a, "b": s.b} for s in d.settings
        ],
    }
