"""Stack files validate; bad or unsafe configs fail naming the key, the value and the fix."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from soundstack.stacks.loader import ConfigError, load_config, load_stack
from soundstack.synth import RecordingMonitor, synthesize
from tests.conftest import soundstack_cli

BASE = {
    "aws:region": "eu-west-1",
    "soundstack:owner": "team",
    "soundstack:cost_centre": "cc-1",
    "soundstack:monitoring": {"alarm_email": "oncall@example.com"},
    "soundstack:resilience": {"replica_region": "eu-central-1"},
}


def config(**sections):
    return {**BASE, **{f"soundstack:{k}": v for k, v in sections.items()}}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_file_is_valid(stack):
    cfg = load_stack(stack)
    assert cfg.environment == stack
    assert cfg.region == "eu-west-1"


def test_dev_is_cheap_and_prod_is_prod_grade():
    dev, prod = load_stack("dev"), load_stack("prod")
    assert (dev.network.az_count, dev.network.nat_gateways) == (2, "single")
    assert not dev.database.multi_az and not dev.database.deletion_protection
    assert not dev.cluster.enabled and not dev.edge.shield_advanced
    assert (prod.network.az_count, prod.network.nat_gateways) == (3, "per_az")
    assert prod.database.multi_az and prod.database.deletion_protection
    assert prod.database.backup_retention_days >= 7
    assert prod.graph.deletion_protection and prod.cache.multi_az
    assert not prod.cluster.public_endpoint and prod.identity.mfa == "required"


def test_dev_runs_the_cheap_engines_and_staging_and_prod_the_managed_ones():
    dev = load_stack("dev")
    assert (dev.graph.engine, dev.search.engine, dev.database.proxy) == (
        "postgres",
        "postgres",
        False,
    )
    assert (dev.messaging.kinesis_mode, dev.messaging.kinesis_shards) == ("PROVISIONED", 1)
    assert not {"ecr.api", "ecr.dkr", "sts", "logs"} & set(dev.network.interface_endpoints)
    for stack in ("staging", "prod"):
        cfg = load_stack(stack)
        assert (cfg.graph.engine, cfg.search.engine, cfg.database.proxy) == (
            "neptune",
            "opensearch",
            True,
        )
        assert cfg.messaging.kinesis_mode == "ON_DEMAND"
        assert {"ecr.api", "ecr.dkr", "sts"} <= set(cfg.network.interface_endpoints)


def test_a_dev_stack_with_a_cluster_and_its_endpoints_is_accepted():
    endpoints = ["secretsmanager", "sqs", "sns", "kinesis-streams", "ecr.api", "ecr.dkr", "sts"]
    cfg = load_config(
        "dev", config(cluster={"enabled": True}, network={"interface_endpoints": endpoints})
    )
    assert cfg.cluster.enabled and cfg.network.interface_endpoints == endpoints


def test_stack_values_override_the_profile():
    cfg = load_config("dev", config(network={"az_count": 3, "nat_gateways": "per_az"}))
    assert (cfg.network.az_count, cfg.network.nat_gateways) == (3, "per_az")
    assert cfg.network.flow_log_retention_days == 30  # rest of the dev profile kept


def test_engine_json_strings_are_accepted():
    cfg = load_config("dev", {**BASE, "soundstack:network": '{"az_count": 3}'})
    assert cfg.network.az_count == 3


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"database": {"multi_az": False}}, "soundstack:database.multi_az=false is not allowed in prod"),
        ({"database": {"multi_az": False}}, "set database.multi_az: true"),
        ({"database": {"backup_retention_days": 3}}, "database.backup_retention_days=3"),
        ({"network": {"az_count": 2, "nat_gateways": "single"}}, "network.nat_gateways: per_az"),
        ({"cluster": {"public_endpoint": True, "public_access_cidrs": ["203.0.113.0/24"]}},
         "cluster.public_endpoint=true is not allowed in prod"),
        ({"identity": {"mfa": "optional"}}, "identity.mfa: required"),
        ({"edge": {"shield_advanced": False}}, "edge.shield_advanced=false"),
        ({"monitoring": {"alarm_email": None}}, "monitoring.alarm_email=null"),
        ({"database": {"proxy": False}}, "database.proxy=false is not allowed in prod"),
        ({"database": {"proxy": False}}, "set database.proxy: true"),
        ({"graph": {"engine": "postgres"}}, "set graph.engine: neptune"),
        ({"search": {"engine": "postgres"}}, "set search.engine: opensearch"),
        ({"monitoring": {"alarm_email": "a@example.com", "trail_notifications": False}},
         "set monitoring.trail_notifications: true"),
        ({"functions": {"code_signing": "warn"}}, "set functions.code_signing: enforce"),
    ],
)  # fmt: skip
def test_prod_refuses_unsafe_settings(sections, expected):
    with pytest.raises(ConfigError) as err:
        load_config("prod", config(**sections))
    assert expected in str(err.value)


def test_the_same_settings_are_fine_in_dev():
    cfg = load_config("dev", config(database={"multi_az": False, "backup_retention_days": 1}))
    assert not cfg.database.multi_az


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as err:
        load_config("prod", config(database={"multi_az": False, "deletion_protection": False}))
    assert len(err.value.problems) == 2


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (config(network={"az_count": 5}), "soundstack:network.az_count=5: Input should be less than or equal to 3"),
        (config(network={"cidr": "10.0.0.0/33"}), "soundstack:network.cidr=\"10.0.0.0/33\": not a CIDR block"),
        (config(network={"cidr": "8.8.0.0/16"}), "use a private /16 to /24 block"),
        (config(network={"az_cuont": 2}), "soundstack:network.az_cuont is not a known key"),
        (config(databse={}), "soundstack:databse is not a known key"),
        (config(functions={"log_retention_days": 100}), "try 90"),
        (config(monitoring={"alarm_email": "nope"}), "not an e-mail address"),
        (config(cluster={"system_nodes": {"min_size": 3, "max_size": 2, "desired_size": 2}}),
         "need min_size ≤ desired_size ≤ max_size"),
        (config(cluster={"public_endpoint": True, "public_access_cidrs": ["0.0.0.0/0"]}),
         "public_access_cidrs contains 0.0.0.0/0"),
        (config(identity={"google_enabled": True}), "set identity.google_client_id"),
        (config(cluster={"enabled": True}),
         "network.interface_endpoints lacks ['ecr.api', 'ecr.dkr', 'sts'], but cluster.enabled: "
         "true"),
        (config(cluster={"enabled": True}, network={"interface_endpoints": ["sqs", "ecr.api"]}),
         "add ['ecr.dkr', 'sts'] to network.interface_endpoints, or set cluster.enabled: false"),
        (config(network={"interface_endpoints": ["sqs", "ecr"]}),
         "soundstack:network.interface_endpoints=[\"sqs\", \"ecr\"]: unknown service(s) ['ecr']; pick from"),
        (config(network={"interface_endpoints": ["sqs", "sqs"]}), "lists a service twice"),
        (config(search={"serverless": True}),
         "set search.engine: opensearch, or search.serverless: false"),
        (config(identity={"callback_urls": ["http://music.example.com/cb"]}), "must use https://"),
        (config(edge={"allowed_countries": ["GB", "UK"]}),
         "soundstack:edge.allowed_countries=[\"GB\", \"UK\"]: 'UK' is not an ISO 3166-1 alpha-2 "
         "country code (use GB)"),
        (config(edge={"allowed_countries": ["ie"]}), "(write it upper-case: \"IE\")"),
        (config(edge={"allowed_countries": ["FR", "FR"]}), "'FR' is listed twice"),
        (config(edge={"allowed_countries": ["GB", False]}),
         "YAML reads a bare NO (Norway) or YES as a boolean; quote it"),
        ({**config(), "aws:region": "Europe"}, "not an AWS region"),
        ({k: v for k, v in config().items() if k != "aws:region"}, "aws:region is required"),
        ({k: v for k, v in config().items() if k != "soundstack:owner"}, "soundstack:owner is required"),
        ({**config(), "soundstack:google_client_secret": "hunter2"},
         "run `pulumi config set --secret soundstack:google_client_secret <value>`"),
    ],
)  # fmt: skip
def test_malformed_configs_name_key_value_and_fix(values, expected):
    with pytest.raises(ConfigError) as err:
        load_config("dev", values)
    assert expected in str(err.value)


def test_secret_keys_pass_when_they_are_secrets():
    values = {**config(), "soundstack:google_client_secret": "ciphertext"}
    load_config("dev", values, secret_keys=["soundstack:google_client_secret"])


def test_unknown_stack_name_needs_an_environment():
    with pytest.raises(ConfigError, match="set `soundstack:environment`"):
        load_config("prod-eu", config())
    assert load_config("prod-eu", config(environment="prod")).environment == "prod"


def test_missing_stack_file_lists_known_stacks():
    with pytest.raises(ConfigError, match="known stacks: dev, prod, staging"):
        load_stack("qa")


def test_bad_config_fails_before_any_resource_is_registered(monkeypatch):
    created: list[RecordingMonitor] = []
    original = RecordingMonitor.__init__

    def spy(self, mocks):
        original(self, mocks)
        created.append(self)

    monkeypatch.setattr(RecordingMonitor, "__init__", spy)
    bad = {k: (v if isinstance(v, str) else __import__("json").dumps(v)) for k, v in
           config(environment="prod", database={"multi_az": False}).items()}  # fmt: skip
    with pytest.raises(ConfigError, match=r"database\.multi_az"):
        synthesize("prod", bad, [])
    assert created and created[0].registrations == []


PLAN = {"id": "premium", "kind": "subscription", "stripe_price_id": "price_1Abc"}


@pytest.mark.parametrize(
    ("plans", "expected"),
    [
        ([PLAN, PLAN], "plan ids must be unique"),
        ([{**PLAN, "kind": "pass"}], "a pass needs pass_days and amount"),
        (
            [{**PLAN, "stripe_price_id": "sk_live_oops"}],
            "soundstack:payments.plans.0.stripe_price_id",
        ),
    ],
)
def test_bad_payment_plans_name_the_plan(plans, expected):
    with pytest.raises(ConfigError) as err:
        load_config("dev", config(payments={"plans": plans}))
    assert expected in str(err.value)


@pytest.mark.parametrize(
    ("environment", "functions", "reservable"),
    [
        ("prod", {"account_concurrency_quota": 10}, 0),  # a new account: 10 x 50 > 10 - 100
        ("staging", {"account_concurrency_quota": 250}, 150),  # 10 x 20 = 200 > 250 - 100
        ("prod", {"account_concurrency_quota": 599}, 499),  # one short of 10 x 50 + 100
    ],
)
def test_reservations_beyond_the_account_quota_name_the_quota_and_the_key(
    environment, functions, reservable
):
    with pytest.raises(ConfigError) as err:
        load_config(environment, config(functions=functions))
    message = str(err.value)
    assert f"lets the stack reserve {reservable}" in message
    assert '"Concurrent executions" (Service Quotas code L-B99A9384)' in message
    assert "functions.reserved_concurrency=" in message
    assert "set functions.account_concurrency_quota" in message


def test_reservations_within_the_quota_and_dev_on_a_new_account_are_accepted():
    assert load_config("prod", config()).functions.account_concurrency_quota == 1000
    assert load_config("prod", config(functions={"account_concurrency_quota": 600}))
    # dev reserves nothing, so it deploys on an account whose quota is still 10
    dev = load_config("dev", config(functions={"account_concurrency_quota": 10}))
    assert dev.functions.reserved_concurrency is None
    staging = load_config("staging", config(functions={"reserved_concurrency": None,
                                                       "account_concurrency_quota": 10}))  # fmt: skip
    assert staging.functions.reserved_concurrency is None


# -- every problem in one report ------------------------------------------------------------


def test_schema_and_prod_rule_problems_come_in_one_report():
    bad = config(
        network={"az_count": 5, "nat_gateways": "single"},
        databse={},
        database={"multi_az": "false", "backup_retention_days": 3},
        identity={"mfa": "optional"},
    )
    with pytest.raises(ConfigError) as err:
        load_config("prod", bad)
    problems = err.value.problems
    assert any(p.startswith("soundstack:network.az_count=5: Input should be") for p in problems)
    assert any(p.startswith("soundstack:databse is not a known key") for p in problems)
    prod = sorted(p.split("=", 1)[0] for p in problems if "is not allowed in prod" in p)
    # Read as the schema reads them ("false" is false); az_count's own schema problem is not
    # repeated as a prod-rule problem.
    assert prod == [
        "soundstack:database.backup_retention_days",
        "soundstack:database.multi_az",
        "soundstack:identity.mfa",
        "soundstack:network.nat_gateways",
    ]
    assert len(problems) == 6


def test_a_missing_region_or_environment_does_not_hide_the_other_problems():
    no_region = {
        k: v for k, v in config(network={"cidr": "8.8.0.0/16"}).items() if k != "aws:region"
    }
    with pytest.raises(ConfigError) as err:
        load_config("prod", no_region)
    assert [p.split(" ", 1)[0].split("=")[0] for p in err.value.problems] == [
        "aws:region",
        "soundstack:network.cidr",
    ]
    with pytest.raises(ConfigError) as err:
        load_config("qa", config(databse={}))
    assert [p.split("=")[0].split(" ")[0] for p in err.value.problems] == [
        "soundstack:environment",
        "soundstack:databse",
    ]


@pytest.mark.parametrize(
    ("values", "fix"),
    [
        (config(database={"backup_retention_days": 40}), "set database.backup_retention_days: 35 or less"),
        (config(network={"nat_gateways": "two"}), "set network.nat_gateways to one of 'single' or 'per_az'"),
        (config(database={"proxy": "maybe"}), "set database.proxy to true or false"),
        (config(network={"az_count": "three"}), "set network.az_count to a whole number"),
        ({**config(), "soundstack:owner": ""}, "soundstack:owner=\"\": String should have at least 1 character; set owner"),
    ],
)  # fmt: skip
def test_schema_problems_name_the_fix(values, fix):
    with pytest.raises(ConfigError) as err:
        load_config("dev", values)
    assert fix in str(err.value)


# -- what the CLI prints ---------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = re.compile(
    r"<!-- config-error-example.*?-->\n```yaml\n(.*?)```\n\n```text\n\$ (.*?)\n(.*?)```", re.S
)


def _repo_like_project(tmp_path: Path, change: dict[str, object] | None = None) -> Path:
    """This repository's project (Pulumi.yaml, platform/, stacks/) with the prod file changed."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "platform").symlink_to(ROOT / "platform")
    (tmp_path / "stacks").mkdir()
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    document["config"].update(change or {})
    (tmp_path / "stacks" / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def test_the_readme_error_examples_are_what_the_cli_prints(tmp_path):
    examples = EXAMPLE.findall((ROOT / "README.md").read_text())
    assert len(examples) == 2
    for i, (change, command, printed) in enumerate(examples):
        project = _repo_like_project(
            tmp_path / str(i), yaml.safe_load(f"config:\n{change}")["config"]
        )
        args = shlex.split(command)
        assert args[0] == "soundstack"
        result = soundstack_cli(*args[1:], cwd=project)
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr == printed


def test_a_yaml_syntax_error_exits_2_naming_file_line_and_column(tmp_path):
    project = _repo_like_project(tmp_path)
    stack = project / "stacks" / "Pulumi.prod.yaml"
    stack.write_text("config:\n  aws:region: eu-west-1\n  soundstack:owner: team: platform\n")
    for command in ("check", "preview", "cost"):
        result = soundstack_cli(command, "prod", cwd=project)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(
            "error: YAML syntax error in stacks/Pulumi.prod.yaml:\n"
            "  - line 3, column 25: mapping values are not allowed here; fix the YAML there"
        ), result.stderr
    with pytest.raises(ConfigError, match=r"line 3, column 25: mapping values"):
        load_stack("prod", project / "stacks")


def test_a_yaml_syntax_error_in_the_project_file_exits_2_too(tmp_path):
    project = _repo_like_project(tmp_path)
    (project / "Pulumi.yaml").write_text("name: acme\nruntime: [python\n")
    result = soundstack_cli("preview", "prod", cwd=project)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(
        "error: YAML syntax error in Pulumi.yaml:\n  - line 3, column 1:"
    )


def test_a_sections_own_check_is_reported_by_its_key_not_its_value():
    with pytest.raises(ConfigError) as err:
        load_config("dev", config(cluster={"enabled": True, "system_nodes": {"min_size": 3,
                                                                             "max_size": 2}}))  # fmt: skip
    assert err.value.problems == [
        "soundstack:cluster.system_nodes: need min_size ≤ desired_size ≤ max_size, got 3 ≤ 1 ≤ 2; "
        "adjust the three sizes"
    ]
    with pytest.raises(ConfigError) as err:
        load_config("dev", config(cluster={"enabled": True}))
    (problem,) = err.value.problems
    assert problem.startswith("network.interface_endpoints lacks ['ecr.api', 'ecr.dkr', 'sts']")
