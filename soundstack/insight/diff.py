"""What differs between two stacks: resources only one has, and every input whose value differs.

Resources match by type and logical name. Inputs are compared flattened (`clusterConfig.
instanceCount`, `tags.environment` …; JSON policy strings are expanded too). By default each
stack's own name is replaced by `<stack>` first, so `soundstack-dev-network-vpc` and
`soundstack-prod-network-vpc` count as the same setting; `normalise=False` compares raw values.
"""

from __future__ import annotations

import re
from collections import Counter
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


def _normaliser(synth: Synthesis) -> re.Pattern[str]:
    words = {synth.stack, Estate(synth).environment}
    return re.compile("|".join(rf"(?<![A-Za-z0-9]){re.escape(w)}(?![A-Za-z0-9])" for w in words))


def _settings(r: Resource, stack: re.Pattern[str] | None) -> dict[str, Any]:
    flat = flatten(r.masked_inputs)
    if stack is None:
        return flat
    return {k: stack.sub("<stack>", v) if isinstance(v, str) else v for k, v in flat.items()}


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


def _short(value: Any, width: int = 60) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 1] + "…"


def render(d: StackDiff) -> str:
    lines = [f"Stack {d.a!r} vs {d.b!r}", "", "Resource counts that differ (type: a → b):"]
    lines += [f"  {t}: {ca} → {cb}" for t, (ca, cb) in d.counts.items()] or ["  (none)"]
    for label, only in ((f"Only in {d.a}", d.only_a), (f"Only in {d.b}", d.only_b)):
        lines += ["", f"{label} ({len(only)}):"]
        lines += [f"  {r.type}  {r.name}" for r in only] or ["  (none)"]
    lines += ["", f"Settings that differ ({len(d.settings)}):"]
    lines += [f"  {s.name} ({s.type.split(':')[-1]}) {s.path}: {_short(s.a)} → {_short(s.b)}"
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
