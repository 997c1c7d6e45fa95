"""ServiceFunction: packaging, runtime settings, and a role that holds only its grants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soundstack.components.function import (
    APP_SERVICES_DIR,
    TMP_HEADROOM_MB,
    CatalogSettings,
    FunctionCode,
    ServiceFunction,
    ServiceFunctionArgs,
    ServiceSettings,
    code_archive,
    settings_environment,
)
from soundstack.components.network import Network, NetworkArgs
from soundstack.stacks.loader import load_stack
from soundstack.stacks.model import SERVICE_FUNCTIONS
from tests.conftest import make_ctx, run_program

BASE_SIDS = {"WriteOwnLogs", "WriteTraces", "SendDeadLetters"}
#: What each service's function may do besides running (platform/__main__.py wiring).
EXPECTED_SIDS = {
    "auth": {"LinkSocialSignIns", "SendMessagingProfiles", "SendMessagingProfilesKey"},
    "catalog": {"ReadAudioMedia", "DecryptAudioMedia", "ReadSigningKeyMedia",
                "DecryptSigningKeyMedia", "ConnectDatabaseAsCatalog", "ConnectCache"},
    "playlist": {"ConnectDatabaseAsPlaylists", "ConnectCache"},
    "activity": {"PutMessagingListening", "PutMessagingListeningKey", "PublishMessagingActivity",
                 "PublishMessagingActivityKey", "ConnectGraph", "ConnectDatabaseAsActivity"},
    "recommendation": {"ConnectGraph", "ConnectCache", "ConnectDatabaseAsPreferences",
                       "ConsumeMessagingGraphUpdates",
                       "ConsumeMessagingGraphUpdatesKey"},
    "payment": {"ReadPaymentSecrets", "DecryptPaymentSecrets", "ConnectDatabaseAsPayments",
                "PublishMessagingNotifications",
                "PublishMessagingNotificationsKey"},
    "feed": {"ConnectCache", "ManageFeedConnections", "ReadGraph", "ReadMessagingListening",
             "ReadMessagingListeningFanOut", "ReadMessagingListeningKey",
             "SendMessagingListeningFeedFnFailed", "SendMessagingListeningFeedFnFailedKey"},
    "reminders": {"DescribeSigningKeyMedia", "PublishKeyAgeMedia"},
}  # fmt: skip
IN_VPC = set(EXPECTED_SIDS)  # Lambda.3: every service function runs in the VPC
#: The catalog's search grants on prod's OpenSearch domain; dev searches in PostgreSQL.
SEARCH_SIDS = {"dev": set(), "prod": {"SearchSearch", "IndexSearch"}}
#: Dev's graph is tables in PostgreSQL: no Neptune grants; the feed reads follows as `feed`.
GRAPH_SIDS = {
    "dev": {"feed": {"ConnectDatabaseAsFeed"}},
    "prod": {"activity": {"ConnectGraph"}, "recommendation": {"ConnectGraph"},
             "feed": {"ReadGraph"}},
}  # fmt: skip
NEPTUNE_SIDS = {"ConnectGraph", "ReadGraph"}


def policies_of(synth, role_prefix):
    """Sid → statement of every inline policy on the role named `<role_prefix>-role`."""
    found = {}
    for policy in synth.by_type("aws:iam/rolePolicy:RolePolicy"):
        if policy.name.startswith(f"{role_prefix}-role-"):
            for statement in json.loads(policy.inputs["policy"])["Statement"]:
                found[statement["Sid"]] = statement
    return found


def assert_no_broad_actions(statements):
    for statement in statements:
        for action in statement["Action"]:
            _, _, verb = action.partition(":")
            assert action != "*" and verb not in ("", "*"), statement


def build(network: bool = True, **overrides):
    def program():
        ctx = make_ctx(stack="test")
        net = None
        if network:
            net = Network("network", NetworkArgs(az_count=2, interface_endpoints=()), ctx)
        args = ServiceFunctionArgs(
            code=FunctionCode.service("catalog"),
            settings=ServiceSettings(
                db_host="proxy.example", db_user="catalog", log_level="WARNING"
            ),
            network=net,
            kms_key_arn="arn:aws:kms:eu-west-1:123456789012:key/fn",
            reserved_concurrency=7,
            log_retention_days=30,
            **overrides,
        )
        fn = ServiceFunction("catalog-fn", args, ctx)
        fn.grant("ReadMusicBucket", ["s3:GetObject"], ["arn:aws:s3:::music/*"])

    return run_program(program)


def test_function_runs_the_service_on_arm64_python_with_tracing_logs_and_limits():
    synth = build()
    (fn,) = synth.by_type("aws:lambda/function:Function")
    i = fn.inputs
    assert i["handler"] == "app_services.catalog.handler.handler"
    assert i["runtime"] == "python3.13" and i["architectures"] == ["arm64"]
    assert i["tracingConfig"] == {"mode": "Active"}
    assert i["reservedConcurrentExecutions"] == 7
    assert i["kmsKeyArn"].endswith(":key/fn")
    assert i["environment"]["variables"] == {
        "LOG_LEVEL": "WARNING", "DB_HOST": "proxy.example", "DB_USER": "catalog",
        "DB_SSLROOTCERT": "/opt/python/db-ca-bundle.pem",
    }  # fmt: skip
    (group,) = [g for g in synth.by_type("aws:cloudwatch/logGroup:LogGroup")
                if g.name == "catalog-fn-fn-logs"]  # fmt: skip
    assert i["loggingConfig"]["logGroup"] == group.inputs["name"]
    assert i["loggingConfig"]["logFormat"] == "JSON"
    assert group.inputs["retentionInDays"] == 30
    (layer,) = synth.by_type("aws:lambda/layerVersion:LayerVersion")
    assert layer.inputs["compatibleRuntimes"] == ["python3.13"]
    assert layer.inputs["compatibleArchitectures"] == ["arm64"]
    assert i["layers"] == [
        f"arn:aws:lambda:eu-west-1:123456789012:layer:{layer.inputs['layerName']}:1"
    ]


def test_function_in_vpc_uses_private_subnets_and_its_own_security_group():
    synth = build()
    (fn,) = synth.by_type("aws:lambda/function:Function")
    private = [
        s for s in synth.by_type("aws:ec2/subnet:Subnet") if s.inputs["tags"]["tier"] == "private"
    ]
    assert len(fn.inputs["vpcConfig"]["subnetIds"]) == len(private) == 2
    (sg,) = [
        s
        for s in synth.by_type("aws:ec2/securityGroup:SecurityGroup")
        if s.name == "catalog-fn-fn-sg"
    ]
    assert sg.inputs.get("ingress", []) == []
    assert len(fn.inputs["vpcConfig"]["securityGroupIds"]) == 1
    assert "ManageVpcInterfaces" in policies_of(synth, "catalog-fn")


def test_role_holds_exactly_the_base_permissions_and_its_grants():
    synth = build()
    policies = policies_of(synth, "catalog-fn")
    assert set(policies) == BASE_SIDS | {"UseFunctionKey", "ManageVpcInterfaces", "ReadMusicBucket"}
    assert_no_broad_actions(policies.values())
    logs = policies["WriteOwnLogs"]
    assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert all("/soundstack/test/catalog-fn/fn" in r for r in logs["Resource"])
    assert policies["SendDeadLetters"]["Resource"][0].endswith("soundstack-test-catalog-fn-dlq")
    # "*" resources only where AWS offers no resource-level permissions
    star = {sid for sid, s in policies.items() if "*" in s["Resource"]}
    assert star == {"WriteTraces", "ManageVpcInterfaces"}
    (role,) = [r for r in synth.by_type("aws:iam/role:Role") if r.name == "catalog-fn-role-role"]
    assert "managedPolicyArns" not in role.inputs


def test_function_outside_vpc_has_no_network_permissions():
    synth = build(network=False)
    (fn,) = synth.by_type("aws:lambda/function:Function")
    assert "vpcConfig" not in fn.inputs
    assert "ManageVpcInterfaces" not in policies_of(synth, "catalog-fn")


def test_failed_async_events_go_to_an_encrypted_dead_letter_queue():
    synth = build()
    (dlq,) = synth.by_type("aws:sqs/queue:Queue")
    assert dlq.inputs["kmsMasterKeyId"].endswith(":key/fn")
    assert dlq.inputs["messageRetentionSeconds"] == 14 * 24 * 3600
    (config,) = synth.by_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert config.inputs["destinationConfig"]["onFailure"]["destination"].endswith(
        dlq.inputs["name"]
    )
    assert config.inputs["maximumRetryAttempts"] == 2


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_program_exports_every_functions_failure_queue(request, stack):
    """`soundstack redrive` reads `function_failure_queues`: one entry per ServiceFunction, each
    queue the on-failure destination of that function's asynchronous invocations."""
    synth = request.getfixturevalue(stack)
    exported = synth.outputs["function_failure_queues"]
    components = {r.name for r in synth.by_type("soundstack:function:ServiceFunction")}
    assert set(exported) == components and {"ingest-fn", "reminders-fn"} <= components
    configs = synth.by_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    on_failure = {
        c.inputs["functionName"]: c.inputs["destinationConfig"]["onFailure"]["destination"]
        for c in configs
    }
    assert set(on_failure) == {entry["function_name"] for entry in exported.values()}
    for name, entry in exported.items():
        function = entry["function_name"]
        assert function == f"soundstack-{stack}-{name}"
        assert entry["function_arn"] == f"arn:aws:lambda:eu-west-1:123456789012:function:{function}"
        assert entry["queue_arn"] == on_failure[function]
        assert entry["queue_arn"].endswith(f":{function}-dlq")
        assert entry["queue_url"].endswith(f"/{function}-dlq")


def test_signals_cover_errors_throttles_duration_and_dead_letters():
    ctx = make_ctx(stack="test")

    def program():
        ServiceFunction("fn", ServiceFunctionArgs(FunctionCode.service("feed")), ctx)

    run_program(program)
    assert {s.key for s in ctx.signals} == {"errors", "throttles", "duration", "dlq_depth"}


def test_a_long_running_function_alarms_near_its_own_timeout_not_the_request_threshold():
    ctx = make_ctx(stack="test")

    def program():
        ServiceFunction("fn", ServiceFunctionArgs(FunctionCode.service("feed")), ctx)
        ServiceFunction(
            "long",
            ServiceFunctionArgs(
                FunctionCode.service("catalog", "ingest"), timeout_seconds=300,
                duration_alarm_ms=240_000,
            ),
            ctx,
        )  # fmt: skip

    run_program(program)
    duration = {s.component: s.threshold for s in ctx.signals if s.key == "duration"}
    assert duration == {"fn": None, "long": 240_000}
    with pytest.raises(ValueError, match=r"duration_alarm_ms=301000: use 1 to the timeout"):
        ServiceFunctionArgs(
            FunctionCode.service("feed"), timeout_seconds=300, duration_alarm_ms=301_000
        )


def test_a_reference_service_runs_a_named_entry_point_its_handler_module_defines():
    ingest = FunctionCode.service("catalog", "ingest")
    assert ingest.handler == "app_services.catalog.handler.ingest"
    assert ingest.label == "catalog" and ingest.archive()
    with pytest.raises(ValueError, match=r"defines no 'ingets' at module level.*ingest"):
        FunctionCode.service("catalog", "ingets").archive()


def test_code_archive_ships_the_package_without_tests_or_caches(tmp_path: Path):
    pkg = tmp_path / "app_services"
    for rel in ("__init__.py", "catalog/__init__.py", "catalog/handler.py",
                "catalog/tests/test_x.py", "catalog/__pycache__/handler.cpython-313.pyc",
                "catalog/Dockerfile", "tests/conftest.py", "migrations/0001.sql",
                "web/package.json", "web/node_modules/react/index.js", "web/dist/index.html"):  # fmt: skip
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text("x")
    assert sorted(code_archive(pkg, exclude={"web"}).assets) == [
        "app_services/__init__.py", "app_services/catalog/__init__.py",
        "app_services/catalog/handler.py", "app_services/migrations/0001.sql",
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"source_dir=.* is not a directory"):
        code_archive(tmp_path / "missing")


def test_code_archive_of_the_repository_leaves_the_web_client_out():
    """app_services/web (React sources, node_modules, dist) goes to the site bucket, never into
    a function's code."""
    keys = list(FunctionCode.service("catalog").archive().assets)
    assert "app_services/catalog/handler.py" in keys
    assert not [k for k in keys if k.startswith("app_services/web/") or "node_modules" in k]


def test_settings_become_upper_case_variables_and_must_be_a_dataclass():
    env = settings_environment(ServiceSettings(db_user="catalog", redis_url=None))
    assert env == {"LOG_LEVEL": "INFO", "DB_USER": "catalog"}
    with pytest.raises(TypeError, match="dataclass instance"):
        settings_environment({"LOG_LEVEL": "INFO"})


@pytest.mark.parametrize(("field", "value"), [("timeout_seconds", 901), ("memory_mb", 64),
                                              ("layer", "arn:aws:lambda:eu-west-1:1:layer:x:1"),
                                              ("layer", "build/layer")])  # fmt: skip
def test_bad_function_args_fail_clearly(field, value):
    kwargs = {"code": FunctionCode.service("catalog"), "settings": ServiceSettings(), field: value}
    with pytest.raises(ValueError, match=field.split("_")[0]):
        ServiceFunctionArgs(**kwargs)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_service_function_holds_only_its_services_grants(request, stack):
    synth = request.getfixturevalue(stack)
    functions = synth.by_type("aws:lambda/function:Function")
    by_service = {
        f.inputs["tags"]["service"]: f for f in functions if "service" in f.inputs["tags"]
    }
    assert set(by_service) == set(EXPECTED_SIDS)
    for service, expected in EXPECTED_SIDS.items():
        policies = policies_of(synth, f"{service}-fn")
        base = (
            BASE_SIDS
            | {"UseFunctionKey"}
            | ({"ManageVpcInterfaces"} if service in IN_VPC else set())
        )
        search = SEARCH_SIDS[stack] if service == "catalog" else set()
        graph = GRAPH_SIDS[stack].get(service, set())
        assert set(policies) == base | (expected - NEPTUNE_SIDS) | search | graph, service
        assert_no_broad_actions(policies.values())
        assert ("vpcConfig" in by_service[service].inputs) == (service in IN_VPC), service


@pytest.mark.parametrize(
    ("stack", "concurrency", "retention"), [("dev", None, 14), ("prod", 50, 365)]
)
def test_function_sizes_come_from_the_stack(request, stack, concurrency, retention):
    synth = request.getfixturevalue(stack)
    for fn in synth.by_type("aws:lambda/function:Function"):
        if fn.inputs["tags"].get("component") != "function":
            continue
        # dev reserves nothing: a new account's quota (often 10) leaves nothing to reserve;
        # the hourly reminder never does (one short run an hour)
        reserved = None if fn.name == "reminders-fn-lambda" else concurrency
        assert fn.inputs.get("reservedConcurrentExecutions") == reserved
        group = next(g for g in synth.by_type("aws:cloudwatch/logGroup:LogGroup")
                     if g.inputs["name"] == fn.inputs["loggingConfig"]["logGroup"])  # fmt: skip
        assert group.inputs["retentionInDays"] == retention


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_payment_function_gets_the_configured_plans_in_the_services_own_shape(request, stack):
    from soundstack.app_services.payment.domain import Plan

    synth = request.getfixturevalue(stack)
    (payment,) = [f for f in synth.by_type("aws:lambda/function:Function")
                  if f.name == "payment-fn-lambda"]  # fmt: skip
    plans = [Plan.model_validate(p) for p in
             json.loads(payment.inputs["environment"]["variables"]["PAYMENT_PLANS"])]  # fmt: skip
    assert {p.id for p in plans} == {"premium_monthly", "day_pass"}
    assert next(p for p in plans if p.kind == "pass").pass_days == 1


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_function_of_a_stack_shares_one_dependency_layer(request, stack):
    synth = request.getfixturevalue(stack)
    (layer,) = synth.by_type("aws:lambda/layerVersion:LayerVersion")
    assert layer.parent and layer.parent.endswith("soundstack:function:DependencyLayer::deps")
    layer_arn = f"arn:aws:lambda:eu-west-1:123456789012:layer:{layer.inputs['layerName']}:1"
    functions = synth.by_type("aws:lambda/function:Function")
    # seven services (auth runs as triggers, profile writer, gate), the catalog's upload ingest
    # and the hourly reminders
    assert len(functions) == 11
    assert all(f.inputs["layers"] == [layer_arn] for f in functions)
    # the count of reservations the config model checks against the account's quota: every
    # function but the reminders, which reserves nothing
    reserving = [f for f in functions if f.name != "reminders-fn-lambda"]
    assert sorted(f.name.removesuffix("-fn-lambda") for f in reserving) == sorted(SERVICE_FUNCTIONS)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_ingest_function_has_tmp_for_its_largest_upload_and_others_the_default(request, stack):
    synth = request.getfixturevalue(stack)
    functions = synth.by_type("aws:lambda/function:Function")
    sizes = {f.name: f.inputs["ephemeralStorage"]["size"] for f in functions}
    ingest = next(f for f in functions if f.name == "ingest-fn-lambda")
    limit = int(ingest.inputs["environment"]["variables"]["MAX_INGEST_BYTES"])
    assert limit == load_stack(stack).functions.max_ingest_bytes
    assert sizes.pop("ingest-fn-lambda") * 2**20 >= limit + TMP_HEADROOM_MB * 2**20
    # the API's catalog function never downloads an upload: the default /tmp, no limit set
    assert set(sizes.values()) == {512}
    catalog = next(f for f in functions if f.name == "catalog-fn-lambda")
    assert "MAX_INGEST_BYTES" not in catalog.inputs["environment"]["variables"]


def test_ephemeral_storage_is_checked_against_lambda_and_the_ingest_limit():
    CATALOG = FunctionCode.service("catalog")
    big = CatalogSettings(max_ingest_bytes=2 * 2**30)
    assert ServiceFunctionArgs(CATALOG, settings=big).tmp_mb == 2048 + TMP_HEADROOM_MB
    with pytest.raises(ValueError, match="cannot hold an upload"):
        ServiceFunctionArgs(CATALOG, settings=big, ephemeral_storage_mb=1024)
    with pytest.raises(ValueError, match="512 to 10240"):
        ServiceFunctionArgs(CATALOG, settings=ServiceSettings(), ephemeral_storage_mb=256)
    with pytest.raises(ValueError, match="512 to 10240"):
        ServiceFunctionArgs(CATALOG, settings=CatalogSettings(max_ingest_bytes=2**34))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_functions_that_reach_the_database_verify_it_against_the_layers_ca_bundle(request, stack):
    """sslmode=verify-full needs a root certificate file; Lambda has none of libpq's defaults."""
    from soundstack.components.function import DB_CA_BUNDLE

    functions = request.getfixturevalue(stack).by_type("aws:lambda/function:Function")
    env = {f.name: f.inputs["environment"]["variables"] for f in functions}
    with_db = {name for name, e in env.items() if "DB_HOST" in e}
    assert with_db
    assert {name for name, e in env.items() if e.get("DB_SSLROOTCERT") == DB_CA_BUNDLE} == with_db


def acme(tmp_path: Path, handler_source: str = "def handler(event, context):\n    return {}\n"):
    """A user's own package: acme_services/orders/handler.py (plus a test the archive drops)."""
    pkg = tmp_path / "src" / "acme_services"
    (pkg / "orders" / "tests").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "orders" / "__init__.py").write_text("")
    (pkg / "orders" / "handler.py").write_text(handler_source)
    (pkg / "orders" / "tests" / "test_handler.py").write_text("def test(): pass\n")
    return pkg


def test_a_function_runs_your_own_package_with_its_top_package_at_the_archive_root(tmp_path):
    pkg = acme(tmp_path)
    code = FunctionCode("acme_services.orders.handler.handler", pkg)

    def program():
        ServiceFunction(
            "orders-fn", ServiceFunctionArgs(code, reserved_concurrency=None), make_ctx(stack="t")
        )

    synth = run_program(program)
    (fn,) = synth.by_type("aws:lambda/function:Function")
    assert fn.inputs["handler"] == "acme_services.orders.handler.handler"
    assert fn.inputs["tags"]["service"] == "orders"
    assert "environment" not in fn.inputs or fn.inputs["environment"]["variables"] == {}
    # what Lambda imports from /var/task: acme_services/orders/handler.py, nothing of the tests
    assert sorted(code.archive().assets) == [
        "acme_services/__init__.py", "acme_services/orders/__init__.py",
        "acme_services/orders/handler.py",
    ]  # fmt: skip


def test_a_handler_module_missing_from_the_archive_fails_naming_the_argument(tmp_path):
    pkg = acme(tmp_path)
    with pytest.raises(ValueError, match=r"handler='acme_services\.orders\.api\.handler'") as err:
        FunctionCode("acme_services.orders.api.handler", pkg).archive()
    message = str(err.value)
    assert "acme_services/orders/api.py" in message and "source_dir=" in message
    assert "found acme_services/orders/__init__.py, acme_services/orders/handler.py" in message
    # a module that exists only under tests/ is not shipped, so it is not found either
    with pytest.raises(ValueError, match="not in the code archive"):
        FunctionCode("acme_services.orders.tests.test_handler.test", pkg).archive()


def test_a_handler_function_the_module_does_not_define_fails_listing_what_it_defines(tmp_path):
    pkg = acme(tmp_path, "import json\n\ndef main(event, context):\n    return {}\n")
    with pytest.raises(ValueError, match=r"defines no 'handler' .*json, main") as err:
        FunctionCode("acme_services.orders.handler.handler", pkg).archive()
    assert "handler='acme_services.orders.handler.handler'" in str(err.value)
    # assigned, imported or conditionally defined names count; a star import cannot be judged
    for source in ("handler = make_handler()\n", "from .app import handler\n",
                   "try:\n    import x\nexcept ImportError:\n    x = None\nif x:\n"
                   "    def handler(e, c): ...\n", "from .app import *\n"):  # fmt: skip
        (pkg / "orders" / "handler.py").write_text(source)
        FunctionCode("acme_services.orders.handler.handler", pkg).archive()
    (pkg / "orders" / "handler.py").write_text("def handler(event, context)\n")
    with pytest.raises(ValueError, match=r"handler\.py:1 does not parse"):
        FunctionCode("acme_services.orders.handler.handler", pkg).archive()


def test_a_handler_whose_package_is_not_the_source_dir_fails_with_the_fix(tmp_path):
    pkg = acme(tmp_path)
    with pytest.raises(ValueError, match="imports package 'orders'") as err:
        FunctionCode("orders.handler.handler", pkg)
    assert f"source_dir={str(pkg / 'orders')!r} is the package it names" in str(err.value)
    with pytest.raises(ValueError, match=r"handler='handler' is not"):
        FunctionCode("handler", pkg)
    with pytest.raises(ValueError, match=r"source_dir=.* is not a directory"):
        FunctionCode("missing.handler.handler", tmp_path / "missing").archive()


def test_an_unknown_reference_service_fails_listing_the_valid_ones():
    with pytest.raises(ValueError, match="service='nosuchservice' is not a reference") as err:
        FunctionCode.service("nosuchservice")
    valid = sorted(p.parent.name for p in APP_SERVICES_DIR.glob("*/handler.py"))
    assert f"valid: {', '.join(valid)}" in str(err.value)
    assert {"catalog", "payment", "feed"} <= set(valid)


def test_a_published_layer_version_is_used_as_is():
    arn = "arn:aws:lambda:eu-west-1:123456789012:layer:acme-deps:7"

    def program():
        ServiceFunction(
            "fn", ServiceFunctionArgs(FunctionCode.service("feed"), layer=arn), make_ctx(stack="t")
        )

    synth = run_program(program)
    (fn,) = synth.by_type("aws:lambda/function:Function")
    assert fn.inputs["layers"] == [arn]
    assert synth.by_type("aws:lambda/layerVersion:LayerVersion") == []
