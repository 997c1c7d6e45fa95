"""README "Deploying for real" names what the code creates and the tests that prove each step."""

from __future__ import annotations

import re
from pathlib import Path

from soundstack.components.bootstrap import deploy_role_name
from soundstack.components.lookups import release_parameter
from soundstack.components.naming import physical_name

ROOT = Path(__file__).resolve().parents[1]


def section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Deploying for real")
    return text[start : text.index("\n## ", start + 1)]


def test_every_test_the_sequence_cites_exists():
    cited = set(re.findall(r"`(test_\w+)`", section()))
    assert len(cited) >= 5
    defined = {m for path in (ROOT / "tests").rglob("test_*.py")
               for m in re.findall(r"^def (test_\w+)", path.read_text(), re.M)}  # fmt: skip
    assert cited <= defined, cited - defined
    for path in re.findall(r"`((?:tests|components|bootstrap|\.ci)/[\w./-]+)`", section()):
        assert (ROOT / path).exists(), path


def test_the_sequence_uses_the_names_the_code_gives():
    text = section()
    for stack in ("staging", "prod"):
        assert f"role/{deploy_role_name('soundstack', stack)}" in text or stack == "prod"
        secret = physical_name("soundstack", stack, "deploy-runner-pulumi-access-token", "secret")
        assert secret in text
    assert physical_name("soundstack", "prod", "pipeline", "codepipeline") in text
    assert release_parameter("<project>", "<stack>") in text
    assert "pulumi -C bootstrap up --stack account" in text
    assert (ROOT / "bootstrap" / "Pulumi.account.yaml").is_file()
    prerequisites = text[text.index("### AWS account prerequisites") :]
    for needed in ("Support plan", "QuickSight", "Lambda concurrency quota",
                   "Service-linked roles", "hosted zone", "CodeConnections", "Pulumi state"):  # fmt: skip
        assert needed in prerequisites


def test_the_rotation_runbook_names_every_secret_prod_creates(prod):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    runbook = readme.split("## Secrets rotation (runbook)", 1)[1].split("\n## ", 1)[0]
    names = [r.inputs["name"] for r in prod.by_type("aws:secretsmanager/secret:Secret")]
    assert len(names) >= 4
    missing = [n for n in names if f"`{n.replace('-prod-', '-<stack>-', 1)}`" not in runbook]
    assert missing == []
    managed = [r for r in prod.by_type("aws:rds/instance:Instance")
               if r.inputs.get("manageMasterUserPassword")]  # fmt: skip
    assert managed and "manage_master_user_password" in runbook
