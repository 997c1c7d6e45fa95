"""The insight subcommands run end to end for a stack and write what they promise."""

from __future__ import annotations

import json

from soundstack.cli import main
from soundstack.insight import commands
from tests.conftest import stack_synthesis


def test_diagram_cost_diff_and_plan_commands(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(commands, "_synth", stack_synthesis)  # the session's cached runs
    out = tmp_path / "dev.mmd"
    assert main(["diagram", "dev", "--out", str(out)]) == 0
    assert out.read_text().startswith("graph TD\n")
    capsys.readouterr()

    assert main(["cost", "dev", "--json", "--monthly-streams", "1000"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["estimate"] is True and report["assumptions"]["monthly_streams"] == 1000
    assert report["total_usd"] == round(sum(i["monthly"] for i in report["items"]), 2)

    assert main(["diff", "dev", "staging", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["a"], d["b"]) == ("dev", "staging") and d["settings"]

    assert main(["plan", "dev"]) == 0
    assert "Critical path" in capsys.readouterr().out
