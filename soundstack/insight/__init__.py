"""Insight computed from a stack's mocked registrations: diagram and architecture picture,
cost, diff and deploy plan.

Every command reads a `soundstack.synth.Synthesis` (the same registrations `soundstack preview
--json` prints), never a hand-kept list of resources, so it stays true as components change.
Numbers come from the dated tables in `soundstack/insight/data/`.
"""
