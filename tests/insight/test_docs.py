"""README's generated sections (prod diagram and cost) must match what `soundstack docs` writes."""

from __future__ import annotations

import pytest

from soundstack.insight import docs
from soundstack.synth import PROJECT_DIR


def test_readme_generated_sections_are_current(prod):
    text = (PROJECT_DIR / "README.md").read_text()
    assert docs.regenerate(text, prod) == text, "README is stale: run `make docs`"


def test_regenerate_replaces_only_the_marked_sections(prod):
    (d_begin, d_end), (c_begin, c_end) = docs._markers("diagram"), docs._markers("cost")
    text = f"intro\n{d_begin}\nold\n{d_end}\nmiddle\n{c_begin}\n{c_end}\nend\n"
    new = docs.regenerate(text, prod)
    assert new.startswith("intro\n") and "\nmiddle\n" in new and new.endswith("\nend\n")
    assert "old" not in new and "```mermaid\ngraph TD" in new and "Estimated" in new
    assert docs.regenerate(new, prod) == new
    with pytest.raises(ValueError, match="no cost section"):
        docs.regenerate(f"{d_begin}\n{d_end}\n", prod)
