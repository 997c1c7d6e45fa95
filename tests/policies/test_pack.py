"""The pack in the analyzer's shape, its project file, report and the CLI around it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from soundstack.engine import evaluate, levels, settings_for

from soundstack import report
from soundstack.components.api import DEFAULT_ROUTES
from soundstack.policies.api import DECLARED_PUBLIC_ROUTES
from soundstack.policies.core import FRAMEWORKS
from soundstack.policies.registry import policies, specs

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"
CONTROLS = Path(__file__).resolve().parents[3] / "shared" / "CONTROLS.md"
CONTROL = re.compile(r"^(FSBP [A-Za-z0-9]+\.\d+|CIS \d+(\.\d+)+|PCI \d+(\.\d+)*|custom)$")


def test_pack_builds_pulumi_policy_objects_with_unique_names():
    built = policies()
    assert len(built) >= 40
    assert len({p.name for p in built}) == len(built)
    for policy in built:
        assert isinstance(policy, ResourceValidationPolicy | StackValidationPolicy)
        assert policy.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)
        assert policy.config_schema is None or isinstance(policy.config_schema, PolicyConfigSchema)
        assert re.fullmatch(r"[a-z0-9-]+", policy.name)


def test_descriptions_cite_controls_from_controls_md():
    listed = CONTROLS.read_text() if CONTROLS.is_file() else None
    for spec in specs():
        assert spec.controls, spec.name
        assert spec.description.endswith(f"Controls: {', '.join(spec.controls)}.")
        for control in spec.controls:
            assert CONTROL.match(control), (spec.name, control)
            assert control.split(" ")[0] in FRAMEWORKS
            if listed and control.startswith("FSBP "):
                assert control.removeprefix("FSBP ").split(".")[0] in listed, control


def test_project_file_and_entry_point():
    project = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert (PACK_DIR / project["runtime"]["options"]["virtualenv"]).resolve().is_dir()
    main = (PACK_DIR / "__main__.py").read_text()
    assert "PolicyPack(" in main and "policies()" in main


def test_declared_public_routes_match_the_api_component():
    declared = sorted(r.key for routes in DEFAULT_ROUTES.values() for r in routes if r.public)
    assert sorted(DECLARED_PUBLIC_ROUTES) == declared


def test_config_overrides_levels_like_pulumi():
    (policy,) = [p for p in policies() if p.name == "s3-versioning"]
    assert settings_for(policy, {}).level == EnforcementLevel.MANDATORY
    assert settings_for(policy, {"all": "advisory"}).level == EnforcementLevel.ADVISORY
    setting = settings_for(
        policy, {"all": "advisory", "s3-versioning": {"enforcementLevel": "disabled", "x": 1}}
    )
    assert setting.level == EnforcementLevel.DISABLED and setting.properties == {"x": 1}


def test_per_stack_config_files_name_real_policies():
    names = {s.name for s in specs()}
    for path in (PACK_DIR / "config").glob("*.json"):
        import json

        for key, value in json.loads(path.read_text()).items():
            assert key == "all" or key in names, (path.name, key)
            level = value if isinstance(value, str) else value.get("enforcementLevel", "advisory")
            assert EnforcementLevel(level)


def test_report_lists_every_control_covered(dev):
    violations = evaluate(dev)
    text = report.markdown("dev", specs(), violations, levels({}))
    for spec in specs():
        for control in spec.controls:
            assert f"| {control} | `{spec.name}` |" in text
    html = report.to_html("dev", specs(), violations, levels({}))
    assert html.startswith("<!doctype html>") and "FSBP S3.5" in html


def test_analyzer_serves_the_pack_metadata_without_starting_grpc():
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    servicer = _PolicyAnalyzerServicer(
        "soundstack", "0.1.0", policies(), EnforcementLevel.MANDATORY
    )
    info = servicer.GetAnalyzerInfo(None, None)
    served = {p.name: p for p in info.policies}
    assert set(served) == {s.name for s in specs()}
    routes = served["apigw-route-authorization"].configSchema.properties["publicRoutes"]
    assert list(routes["default"]) == DECLARED_PUBLIC_ROUTES
    assert "FSBP APIGateway.8" in served["apigw-route-authorization"].description


def test_report_opens_with_a_summary_and_marks_unmatched_policies_not_applicable(dev):
    import datetime

    violations = evaluate(dev)
    types = {r.type for r in dev.resources}
    text = report.markdown(
        "dev", specs(), violations, levels({}), types, datetime.date(2026, 12, 1)
    )
    head = text.split("## ", 1)[0]
    assert "Stack `dev`, checked 2026-12-01." in head
    assert "| level | policies | failing | violations | pass | not applicable |" in head
    # dev runs no EKS cluster: the cluster policies did not run, so they did not pass either
    eks = [
        s
        for s in specs()
        if s.types and not set(s.types) - {"eks:index:Cluster", "aws:eks/cluster:Cluster"}
    ]
    assert eks
    for spec in eks:
        assert (
            f"`{spec.name}` | {levels({}).get(spec.name, 'mandatory')} | not applicable |" in text
        )
    applicable = [s for s in specs() if not s.types or set(s.types) & types]
    total = sum(
        int(row.split("|")[2])
        for row in head.splitlines()
        if row.startswith("| m") or row.startswith("| a")
    )
    assert total == len(specs())
    assert len(applicable) < len(specs())
    html = report.to_html("dev", specs(), violations, levels({}), types)
    assert "not applicable" in html and "<td>level</td>" in html
