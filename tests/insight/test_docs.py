"""README's generated sections (prod diagram and cost) must match what `soundstack docs` writes."""

from __future__ import annotations

import pytest

from soundstack.insight import docs
from soundstack.synth import PROJECT_DIR


@pytest.fixture(scope="module")
def stacks(dev, staging, prod):
    return {"dev": dev, "staging": staging, "prod": prod}


def test_readme_generated_sections_are_current(stacks):
    text = (PROJECT_DIR / "README.md").read_text()
    assert docs.regenerate(text, stacks) == text, "README is stale: run `make docs`"


def test_regenerate_replaces_only_the_marked_sections(stacks):
    (d_begin, d_end), (c_begin, c_end) = docs._markers("diagram"), docs._markers("cost")
    s_begin, s_end = docs._markers("stacks")
    r_begin, r_end = docs._markers("recovery")
    text = (f"intro\n{d_begin}\nSTALE\n{d_end}\nmiddle\n{c_begin}\n{c_end}\n"
            f"{s_begin}\n{s_end}\n{r_begin}\n{r_end}\nend\n")  # fmt: skip
    new = docs.regenerate(text, stacks)
    assert new.startswith("intro\n") and "\nmiddle\n" in new and new.endswith("\nend\n")
    assert "STALE" not in new and "```mermaid\ngraph TD" in new and "Estimated" in new
    assert docs.regenerate(new, stacks) == new
    with pytest.raises(ValueError, match="no cost section"):
        docs.regenerate(f"{d_begin}\n{d_end}\n", stacks)


def test_the_stacks_section_lists_each_stack_with_its_first_limit(stacks):
    section = docs.SECTIONS["stacks"](stacks)
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert [r.split("|")[1].strip() for r in rows[1:]] == ["dev", "staging", "prod"]
    for row in rows[1:]:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert cells[1].startswith("$") and cells[4].startswith("$")
        assert int(cells[2].replace(",", "")) > 0
