"""The relational store per stack, and what its grant verbs add."""

from __future__ import annotations

import dataclasses

import pytest

from soundstack.components.database import (
    PROXY_PORT,
    RESERVED_WORDS,
    Database,
    DatabaseArgs,
    identifier_from,
)
from tests.components.datatier import (
    DATA_KEY,
    LOGS_KEY,
    assert_no_secret_inputs,
    by_name,
    ingress_into,
    policies,
    run,
    sg_of,
    sources,
    under,
)


def test_dev_runs_aurora_serverless_v2_that_pauses(dev):
    (cluster,) = dev.by_type("aws:rds/cluster:Cluster")
    assert cluster.inputs["engine"] == "aurora-postgresql"
    assert cluster.inputs["serverlessv2ScalingConfiguration"] == {
        "minCapacity": 0,
        "maxCapacity": 2,
        "secondsUntilAutoPause": 1800,
    }
    (writer,) = dev.by_type("aws:rds/clusterInstance:ClusterInstance")
    assert writer.inputs["instanceClass"] == "db.serverless"
    assert writer.inputs["publiclyAccessible"] is False
    assert cluster.inputs["storageEncrypted"] is True
    assert cluster.inputs["iamDatabaseAuthenticationEnabled"] is True
    assert cluster.inputs["manageMasterUserPassword"] is True
    assert cluster.inputs["deletionProtection"] is False and cluster.inputs["skipFinalSnapshot"]
    (params,) = dev.by_type("aws:rds/clusterParameterGroup:ClusterParameterGroup")
    assert params.inputs["family"] == "aurora-postgresql17"
    assert {"name": "rds.force_ssl", "value": "1"} in params.inputs["parameters"]
    assert not dev.by_type("aws:rds/instance:Instance")


def test_prod_is_multi_az_postgres_that_survives_a_destroy(prod):
    (db,) = prod.by_type("aws:rds/instance:Instance")
    i = db.inputs
    assert (i["engine"], i["engineVersion"]) == ("postgres", "17")
    assert i["multiAz"] is True and i["publiclyAccessible"] is False
    assert i["deletionProtection"] is True
    assert i["backupRetentionPeriod"] >= 7 and i["deleteAutomatedBackups"] is False
    assert i["skipFinalSnapshot"] is False
    assert i["finalSnapshotIdentifier"] == "soundstack-prod-database-final"
    assert i["storageEncrypted"] is True and i["copyTagsToSnapshot"] is True
    assert i["autoMinorVersionUpgrade"] is True and i["allowMajorVersionUpgrade"] is False
    assert i["iamDatabaseAuthenticationEnabled"] is True
    assert i["performanceInsightsEnabled"] is True and i["monitoringInterval"] == 60
    assert i["monitoringRoleArn"].endswith(":role/soundstack-prod-database-monitoring")
    assert set(i["enabledCloudwatchLogsExports"]) == {"postgresql", "upgrade"}
    assert i["port"] != 5432  # RDS.23: not the engine default
    assert i["manageMasterUserPassword"] is True and "password" not in i
    # storage, Performance Insights and the master secret use the data key, not the logs key
    logs_key = prod.outputs["logs_kms_key_arn"]
    keys = {i["kmsKeyId"], i["performanceInsightsKmsKeyId"], i["masterUserSecretKmsKeyId"]}
    assert len(keys) == 1 and keys.pop() not in (logs_key, None)
    (params,) = prod.by_type("aws:rds/parameterGroup:ParameterGroup")
    assert i["parameterGroupName"] == params.inputs["name"]
    assert {"name": "rds.force_ssl", "value": "1"} in params.inputs["parameters"]
    assert params.inputs["family"] == "postgres17"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_database_and_proxy_live_in_isolated_subnets(request, stack):
    synth = request.getfixturevalue(stack)
    isolated = synth.outputs["isolated_subnet_ids"]
    (group,) = synth.by_type("aws:rds/subnetGroup:SubnetGroup")
    assert group.inputs["subnetIds"] == isolated
    (proxy,) = synth.by_type("aws:rds/proxy:Proxy")
    assert proxy.inputs["vpcSubnetIds"] == isolated
    assert proxy.inputs["requireTls"] is True
    assert proxy.inputs["defaultAuthScheme"] == "IAM_AUTH" and "auths" not in proxy.inputs
    # log groups exist before RDS writes to them, with retention and KMS
    logs = [r for r in under(synth, "database") if r.type.endswith("logGroup:LogGroup")]
    assert logs and all(g.inputs["name"].startswith("/aws/rds/") for g in logs)
    assert all(g.inputs["kmsKeyId"] == synth.outputs["logs_kms_key_arn"] for g in logs)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_only_the_proxy_reaches_the_database_and_nothing_reaches_the_proxy_yet(request, stack):
    synth = request.getfixturevalue(stack)
    db_sg, proxy_sg = sg_of(synth, "database-db-sg"), sg_of(synth, "database-proxy-sg")
    assert not db_sg.inputs.get("ingress") and not proxy_sg.inputs.get("ingress")
    (rule,) = ingress_into(synth, db_sg)
    assert sources(rule) == [proxy_sg.urn]
    assert rule.inputs["fromPort"] == rule.inputs["toPort"] == 5433
    assert all(sources(r) for r in ingress_into(synth, proxy_sg))  # only grants, no CIDRs
    assert_no_secret_inputs(under(synth, "database"))


def _database(e, **kwargs):
    return Database(
        "db",
        DatabaseArgs(network=e.network, kms_key_arn=DATA_KEY, log_kms_key_arn=LOGS_KEY, **kwargs),
        e.ctx,
    )


def test_grant_connect_adds_one_iam_user_on_the_proxy_and_one_port():
    def build(e):
        db = _database(e)
        db.grant_connect(e.granted, "playlists")

    synth, _ = run(build)
    (statement,) = policies(synth, "granted").values()
    assert statement["Sid"] == "ConnectDbAsPlaylists"
    assert statement["Action"] == ["rds-db:connect"]
    (arn,) = statement["Resource"]
    proxy = by_name(synth, "aws:rds/proxy:Proxy")["db-proxy"]
    assert arn.startswith("arn:aws:rds-db:eu-west-1:123456789012:dbuser:prx-")
    assert arn.endswith("/playlists")
    assert not policies(synth, "bystander")
    (rule,) = ingress_into(synth, sg_of(synth, "db-proxy-sg"))
    assert sources(rule) == [sg_of(synth, "granted-client-app-sg").urn]
    assert rule.inputs["fromPort"] == rule.inputs["toPort"] == PROXY_PORT
    assert proxy.inputs["vpcSecurityGroupIds"] == [rule.inputs["securityGroupId"]]
    # the proxy itself signs in as the service roles only
    (proxy_grant,) = policies(synth, "db-proxy-role").values()
    assert [r.rsplit("/", 1)[1] for r in proxy_grant["Resource"]] == [
        "catalog",
        "playlists",
        "preferences",
        "accounts",
        "payments",
        "activity",
    ]
    assert all(":dbuser:db-" in r for r in proxy_grant["Resource"])


def test_grant_admin_reads_the_master_secret_and_reaches_postgres_directly():
    def build(e):
        _database(e).grant_admin(e.granted)

    synth, _ = run(build)
    granted = policies(synth, "granted")
    secret = granted["ReadDbMasterSecret"]
    assert secret["Action"] == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    (arn,) = secret["Resource"]
    assert arn.startswith("arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-")
    assert granted["DecryptDbMasterSecret"]["Resource"] == [DATA_KEY]
    assert granted["DecryptDbMasterSecret"]["Action"] == ["kms:Decrypt"]
    rules = ingress_into(synth, sg_of(synth, "db-db-sg"))
    assert {(r.inputs["fromPort"], tuple(sources(r))) for r in rules} == {
        (5433, (sg_of(synth, "db-proxy-sg").urn,)),
        (5433, (sg_of(synth, "granted-client-app-sg").urn,)),
    }


def test_bad_grants_and_args_fail_clearly():
    errors = []

    def build(e):
        db = _database(e)
        for call in (
            lambda: db.grant_connect(e.granted, "billing"),
            lambda: db.grant_connect(e.outside, "catalog"),
        ):
            with pytest.raises(ValueError) as err:
                call()
            errors.append(str(err.value))

    run(build)
    assert "unknown database role 'billing'" in errors[0]
    assert "outside has no security group" in errors[1]
    with pytest.raises(ValueError, match="default port"):
        DatabaseArgs(network=None, kms_key_arn=DATA_KEY, port=5432)  # type: ignore[arg-type]


def test_database_offers_cpu_and_free_storage_signals():
    seen = {}

    def build(e):
        _database(e)
        seen.update({s.key: s for s in e.ctx.signals if s.component == "db"})

    run(build)
    assert seen["cpu"].metric == "CPUUtilization" and seen["cpu"].namespace == "AWS/RDS"
    assert seen["free_storage"].comparison == "LessThanThreshold"
    assert seen["free_storage"].metric == "FreeStorageSpace"


@pytest.mark.parametrize(
    ("engine", "resource_id"),
    [("aurora-serverless", ":dbuser:cluster-"), ("postgres", ":dbuser:db-")],
)
def test_without_proxy_grant_connect_names_the_databases_own_resource_id(engine, resource_id):
    def build(e):
        db = _database(e, engine=engine, proxy=False)
        db.grant_connect(e.granted, "playlists")

    synth, _ = run(build)
    assert not synth.by_type("aws:rds/proxy:Proxy")
    assert not synth.by_type("aws:rds/proxyTarget:ProxyTarget")
    (statement,) = policies(synth, "granted").values()
    # "arn:aws:rds-db:region:account-id:dbuser:DbClusterResourceId/db-user-name" (Aurora User
    # Guide, IAM database access): the cluster's `cluster-…` id, an instance's `db-…` id.
    (arn,) = statement["Resource"]
    assert resource_id in arn and arn.endswith("/playlists")
    assert not policies(synth, "bystander")
    # the granted service reaches the database's own port, nothing else does
    (rule,) = ingress_into(synth, sg_of(synth, "db-db-sg"))
    assert sources(rule) == [sg_of(synth, "granted-client-app-sg").urn]
    assert rule.inputs["fromPort"] == rule.inputs["toPort"] == 5433


def test_dev_functions_reach_aurora_directly_with_iam_tokens(dev):
    assert not dev.by_type("aws:rds/proxy:Proxy")
    (cluster,) = dev.by_type("aws:rds/cluster:Cluster")
    assert cluster.inputs["iamDatabaseAuthenticationEnabled"] is True
    users = {}
    for fn in dev.by_type("aws:lambda/function:Function"):
        env = fn.inputs.get("environment", {}).get("variables", {})
        if "DB_HOST" in env:
            assert ".cluster-" in env["DB_HOST"] and env["DB_PORT"] == "5433", fn.name
            users[fn.name.removesuffix("-lambda")] = env["DB_USER"]
    assert users == {"profiles-fn": "accounts", "catalog-fn": "catalog",
                     "ingest-fn": "catalog", "playlist-fn": "playlists", "activity-fn": "activity",
                     "recommendation-fn": "preferences", "payment-fn": "payments",
                     "feed-fn": "feed"}  # fmt: skip
    for fn, user in users.items():
        (connect,) = [s for s in policies(dev, fn).values() if s["Action"] == ["rds-db:connect"]]
        (arn,) = connect["Resource"]
        assert ":dbuser:cluster-" in arn and arn.endswith(f"/{user}"), fn
    rules = ingress_into(dev, sg_of(dev, "database-db-sg"))
    assert len(rules) == len(users)  # one per granted function, each from its own group
    assert all(r.inputs["fromPort"] == r.inputs["toPort"] == 5433 and sources(r) for r in rules)


def test_database_and_master_user_are_named_after_the_project_unless_set():
    def build(e):
        _database(e)

    synth, _ = run(build)
    (db,) = synth.by_type("aws:rds/instance:Instance")
    # make_ctx's project is `soundstack`: the names the platform always had
    assert (db.inputs["dbName"], db.inputs["username"]) == ("soundstack", "soundstack_admin")

    def other(e):
        ctx = dataclasses.replace(e.ctx, project="orders-platform")
        Database("db", DatabaseArgs(network=e.network, kms_key_arn=DATA_KEY), ctx)
        Database(
            "aurora",
            DatabaseArgs(network=e.network, kms_key_arn=DATA_KEY, engine="aurora-serverless",
                         db_name="orders", master_username="orders_owner"),
            ctx,
        )  # fmt: skip

    synth, _ = run(other)
    (db,) = synth.by_type("aws:rds/instance:Instance")
    assert (db.inputs["dbName"], db.inputs["username"]) == ("orders_platform", "orders_pla_admin")
    (cluster,) = synth.by_type("aws:rds/cluster:Cluster")
    assert (cluster.inputs["databaseName"], cluster.inputs["masterUsername"]) == (
        "orders", "orders_owner",
    )  # fmt: skip
    assert identifier_from("42-Ops.Team") == "db_42_ops_team"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("master_username", "1admin", "1 to 16 letters, digits or underscores"),
        ("master_username", "platform_administrator", "1 to 16 letters"),
        ("master_username", "db-admin", "1 to 16 letters"),
        ("master_username", "user", "reserved word"),
        ("db_name", "orders-db", "1 to 63 letters"),
        ("db_name", "select", "reserved word"),
    ],
)
def test_names_rds_refuses_fail_naming_the_argument(field, value, expected):
    with pytest.raises(ValueError, match=f"DatabaseArgs.{field}={value!r}.*{expected}"):
        DatabaseArgs(network=None, kms_key_arn=DATA_KEY, **{field: value})  # type: ignore[arg-type]


def test_a_project_named_like_a_reserved_word_fails_naming_db_name():
    def build(e):
        ctx = dataclasses.replace(e.ctx, project="user")
        Database("db", DatabaseArgs(network=e.network, kms_key_arn=DATA_KEY), ctx)

    with pytest.raises(ValueError, match=r"DatabaseArgs\.db_name='user' is a PostgreSQL reserved"):
        run(build)


def test_reserved_words_are_the_servers(postgres_keywords):
    """Every key word the running PostgreSQL reserves (fully, or except as function/type name)
    is in RESERVED_WORDS."""
    assert postgres_keywords - RESERVED_WORDS == set()


@pytest.fixture(scope="module")
def postgres_keywords() -> set[str]:
    import os

    import psycopg

    dsn = os.environ.get(
        "SOUNDSTACK_TEST_DSN", "host=127.0.0.1 port=5432 dbname=test user=postgres"
    )
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')")
        return {word for (word,) in rows}


def test_granting_a_function_outside_the_vpc_names_the_argument_that_puts_it_inside():
    from soundstack.components.function import FunctionCode, ServiceFunction, ServiceFunctionArgs

    def build(e):
        fn = ServiceFunction("orders-fn", ServiceFunctionArgs(FunctionCode.service("feed")), e.ctx)
        _database(e).grant_connect(fn, "catalog")

    with pytest.raises(ValueError, match=r"set ServiceFunctionArgs\.network of orders-fn") as err:
        run(build)
    assert "ServiceRoleArgs" not in str(err.value)
    # a bare role is told about its own argument
    assert "set ServiceRoleArgs.security_group_id of outside" in _error_of_outside()


def _error_of_outside() -> str:
    box = []

    def build(e):
        with pytest.raises(ValueError) as err:
            _database(e).grant_connect(e.outside, "catalog")
        box.append(str(err.value))

    run(build)
    return box[0]
