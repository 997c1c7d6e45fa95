"""Firehose to the data lake, the Glue schema, Redshift and QuickSight."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from soundstack.app_services.activity.domain import ActivityEvent
from soundstack.components.analytics import (
    DATASET_COLUMNS,
    EVENT_COLUMNS,
    Analytics,
    AnalyticsArgs,
    dashboard_document,
)
from soundstack.components.network import Network, NetworkArgs
from tests.conftest import make_ctx, run_program

STREAM = "arn:aws:kinesis:eu-west-1:123456789012:stream/soundstack-test-activity"
STREAM_KEY = "arn:aws:kms:eu-west-1:123456789012:key/stream"
QUICKSIGHT_TYPES = ("aws:quicksight/vpcConnection:VpcConnection", "aws:quicksight/dataSource:DataSource",
                    "aws:quicksight/dataSet:DataSet", "aws:cloudcontrol/resource:Resource")  # fmt: skip


def _analytics(**kwargs):
    def program():
        ctx = make_ctx(stack="test")
        net = Network("net", NetworkArgs(az_count=2, nat_gateways="single", min_private_azs=3), ctx)
        Analytics("analytics", AnalyticsArgs(network=net, activity_stream_arn=STREAM,
                                             activity_stream_kms_key_arn=STREAM_KEY, **kwargs), ctx)  # fmt: skip

    return run_program(program)


def _statements(synth, prefix):
    return {p.name.removeprefix(prefix): json.loads(p.inputs["policy"])["Statement"][0]
            for p in synth.by_type("aws:iam/rolePolicy:RolePolicy") if p.name.startswith(prefix)}  # fmt: skip


def _private_subnets(synth):
    return {
        s.urn
        for s in synth.by_type("aws:ec2/subnet:Subnet")
        if s.inputs["tags"]["tier"] == "private"
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_redshift_serverless_is_private_encrypted_and_audited(request, stack):
    synth = request.getfixturevalue(stack)
    (namespace,) = synth.by_type("aws:redshiftserverless/namespace:Namespace")
    (workgroup,) = synth.by_type("aws:redshiftserverless/workgroup:Workgroup")
    ns, wg = namespace.inputs, workgroup.inputs
    assert (
        ns["kmsKeyId"].startswith("arn:aws:kms:")
        and ns["adminPasswordSecretKmsKeyId"] == ns["kmsKeyId"]
    )
    assert ns["manageAdminPassword"] is True and "adminUserPassword" not in ns
    assert set(ns["logExports"]) == {"userlog", "connectionlog", "useractivitylog"}
    assert wg["publiclyAccessible"] is False and wg["enhancedVpcRouting"] is True
    assert {"parameterKey": "require_ssl", "parameterValue": "true"} in wg["configParameters"]
    assert set(workgroup.property_dependencies["subnetIds"]) == _private_subnets(synth)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_redshift_serverless_gets_three_subnets_in_three_zones(request, stack):
    """AWS: "You must have at least three subnets, and they must span across three
    Availability Zones" (dev and staging run in two: network.min_private_azs adds the third)."""
    synth = request.getfixturevalue(stack)
    (workgroup,) = synth.by_type("aws:redshiftserverless/workgroup:Workgroup")
    zone = {s.urn: s.inputs["availabilityZone"] for s in synth.by_type("aws:ec2/subnet:Subnet")}
    subnets = workgroup.property_dependencies["subnetIds"]
    assert len(subnets) == 3 and len({zone[u] for u in subnets}) == 3


def test_serverless_refuses_a_network_in_two_zones():
    def program():
        ctx = make_ctx(stack="test")
        net = Network("net", NetworkArgs(az_count=2, nat_gateways="single"), ctx)
        AnalyticsArgs(network=net, activity_stream_arn=STREAM)

    with pytest.raises(Exception, match=r"NetworkArgs\.min_private_azs=3 \(config network"):
        run_program(program)


def test_provisioned_redshift_is_private_encrypted_and_audited():
    synth = _analytics(redshift_mode="provisioned", nodes=2)
    assert not synth.by_type("aws:redshiftserverless/workgroup:Workgroup")
    (cluster,) = synth.by_type("aws:redshift/cluster:Cluster")
    c = cluster.inputs
    assert c["encrypted"] is True and c["kmsKeyId"].startswith("arn:aws:kms:")
    assert c["publiclyAccessible"] is False and c["enhancedVpcRouting"] is True
    assert c["manageMasterPassword"] is True and "masterPassword" not in c
    assert (c["clusterType"], c["numberOfNodes"]) == ("multi-node", 2)
    assert c["automatedSnapshotRetentionPeriod"] >= 1
    (params,) = synth.by_type("aws:redshift/parameterGroup:ParameterGroup")
    assert {"name": "require_ssl", "value": "true"} in params.inputs["parameters"]
    (logging,) = synth.by_type("aws:redshift/logging:Logging")
    assert logging.inputs["logDestinationType"] == "cloudwatch"
    (subnets,) = synth.by_type("aws:redshift/subnetGroup:SubnetGroup")
    assert set(subnets.property_dependencies["subnetIds"]) < _private_subnets(synth)
    (statement,) = synth.by_type("aws:redshiftdata/statement:Statement")
    assert statement.inputs["clusterIdentifier"] == c["clusterIdentifier"]
    assert (
        "FROM DATA CATALOG DATABASE 'soundstack-test-analytics' IAM_ROLE default"
        in statement.inputs["sql"]
    )


def test_redshift_role_reads_exactly_the_listening_events_and_their_schema():
    synth = _analytics()
    (bucket,) = [
        b for b in synth.by_type("aws:s3/bucket:Bucket") if b.name == "analytics-events-bucket"
    ]
    arn = f"arn:aws:s3:::{bucket.inputs['bucket']}"
    glue = "arn:aws:glue:eu-west-1:123456789012"
    statements = _statements(synth, "analytics-redshift-")
    assert set(statements) == {"read-listening-events", "list-listening-events",
                               "decrypt-listening-events", "read-event-catalog"}  # fmt: skip
    assert statements["read-listening-events"]["Action"] == ["s3:GetObject"]
    assert statements["read-listening-events"]["Resource"] == [f"{arn}/listening-events/*"]
    assert statements["list-listening-events"]["Resource"] == [arn]
    assert statements["decrypt-listening-events"]["Action"] == ["kms:Decrypt"]
    assert statements["read-event-catalog"]["Resource"] == [
        f"{glue}:catalog", f"{glue}:database/soundstack-test-analytics",
        f"{glue}:table/soundstack-test-analytics/listening_events"]  # fmt: skip
    (role,) = [r for r in synth.by_type("aws:iam/role:Role") if r.name == "analytics-redshift-role"]
    (namespace,) = synth.by_type("aws:redshiftserverless/namespace:Namespace")
    role_arn = f"arn:aws:iam::123456789012:role/{role.inputs['name']}"
    assert (
        namespace.inputs["iamRoles"] == [role_arn]
        and namespace.inputs["defaultIamRoleArn"] == role_arn
    )


def test_firehose_writes_date_partitioned_parquet_with_the_glue_schema():
    synth = _analytics()
    (stream,) = synth.by_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    s3 = stream.inputs["extendedS3Configuration"]
    assert stream.inputs["kinesisSourceConfiguration"]["kinesisStreamArn"] == STREAM
    assert (
        s3["prefix"]
        == "listening-events/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    )
    assert s3["errorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/year=")
    assert s3["kmsKeyArn"].startswith("arn:aws:kms:") and s3["compressionFormat"] == "UNCOMPRESSED"
    conversion = s3["dataFormatConversionConfiguration"]
    assert (
        conversion["outputFormatConfiguration"]["serializer"]["parquetSerDe"]["compression"]
        == "SNAPPY"
    )
    (table,) = synth.by_type("aws:glue/catalogTable:CatalogTable")
    assert conversion["schemaConfiguration"]["databaseName"] == table.inputs["databaseName"]
    assert (
        conversion["schemaConfiguration"]["tableName"] == table.inputs["name"] == "listening_events"
    )
    assert [k["name"] for k in table.inputs["partitionKeys"]] == ["year", "month", "day"]
    assert table.inputs["storageDescriptor"]["serDeInfo"]["serializationLibrary"].endswith(
        "ParquetHiveSerDe"
    )
    assert (
        table.inputs["storageDescriptor"]["location"]
        == "s3://soundstack-test-analytics-events-123456789012/listening-events/"
    )
    statements = _statements(synth, "analytics-firehose-")
    assert statements["read-activity-stream"]["Resource"] == [STREAM]
    assert all(
        a.startswith("kinesis:") and not a.startswith("kinesis:Put")
        for a in statements["read-activity-stream"]["Action"]
    )
    assert statements["decrypt-activity-stream"]["Resource"] == [STREAM_KEY]
    assert statements["decrypt-activity-stream"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "kinesis.eu-west-1.amazonaws.com"}}  # fmt: skip
    assert "read-event-schema" in statements


def _firehose_path(prefix: str, at: datetime) -> str:
    """Firehose's `!{timestamp:…}` rendering (Java DateTimeFormatter, UTC) of `prefix`."""
    for java, python in (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d")):
        prefix = prefix.replace(f"!{{timestamp:{java}}}", at.strftime(python))
    return prefix


def _projected_path(template: str, params: dict, at: datetime) -> str:
    """Athena's projection of an integer partition value into `storage.location.template`."""
    for column, value in (("year", at.year), ("month", at.month), ("day", at.day)):
        low, high = (int(v) for v in params[f"projection.{column}.range"].split(","))
        assert params[f"projection.{column}.type"] == "integer" and low <= value <= high
        digits = int(params.get(f"projection.{column}.digits", 1))
        template = template.replace(f"${{{column}}}", str(value).zfill(digits))
    return template


@pytest.mark.parametrize("fmt", ["parquet", "json"])
def test_partition_projection_matches_the_firehose_prefix(fmt):
    synth = _analytics(delivery_format=fmt)
    (stream,) = synth.by_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    (table,) = synth.by_type("aws:glue/catalogTable:CatalogTable")
    params = table.inputs["parameters"]
    assert params["projection.enabled"] == "true"
    location = table.inputs["storageDescriptor"]["location"]
    prefix = stream.inputs["extendedS3Configuration"]["prefix"]
    for at in (
        datetime(2026, 3, 7, 0, 0, 1, tzinfo=UTC),
        datetime(2099, 12, 31, 23, 59, tzinfo=UTC),
    ):
        written = f"s3://soundstack-test-analytics-events-123456789012/{_firehose_path(prefix, at)}"
        assert _projected_path(params["storage.location.template"], params, at) == written
        assert written.startswith(location)


def test_spectrum_gets_registered_partitions_of_today_and_tomorrow():
    """Projection is Athena-only; Spectrum reads the Glue partitions a scheduled state machine
    registers. Its JSONata is evaluated here and must yield Firehose's prefixes."""
    import jsonata

    synth = _analytics()
    (machine,) = synth.by_type("aws:sfn/stateMachine:StateMachine")
    (schedule,) = synth.by_type("aws:scheduler/schedule:Schedule")
    (stream,) = synth.by_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    (table,) = synth.by_type("aws:glue/catalogTable:CatalogTable")
    assert schedule.inputs["scheduleExpression"] == "rate(1 hour)"
    assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    assert machine.urn in schedule.property_dependencies["target"]
    definition = json.loads(machine.inputs["definition"])
    assert definition["QueryLanguage"] == "JSONata"
    read, register = definition["States"]["ReadTable"], definition["States"]["RegisterPartitions"]
    assert read["Resource"] == "arn:aws:states:::aws-sdk:glue:getTable"
    assert register["Resource"] == "arn:aws:states:::aws-sdk:glue:batchCreatePartition"
    assert register["Arguments"]["DatabaseName"] == table.inputs["databaseName"]
    assert register["Arguments"]["TableName"] == read["Arguments"]["Name"] == "listening_events"

    def jsonata_of(value):
        assert value.startswith("{%") and value.endswith("%}")
        return jsonata.Jsonata(value[2:-2])

    descriptor = dict(
        table.inputs["storageDescriptor"], Location=table.inputs["storageDescriptor"]["location"]
    )
    sd = jsonata_of(read["Assign"]["sd"]).evaluate(
        None, {"states": {"result": {"Table": {"StorageDescriptor": descriptor}}}}
    )
    started = "2026-12-31T23:40:00.000Z"
    partitions = jsonata_of(register["Arguments"]["PartitionInputList"]).evaluate(
        None, {"states": {"context": {"Execution": {"StartTime": started}}}, "sd": sd}
    )
    prefix = stream.inputs["extendedS3Configuration"]["prefix"]
    days = [datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)]
    assert [p["Values"] for p in partitions] == [["2026", "12", "31"], ["2027", "01", "01"]]
    for partition, day in zip(partitions, days, strict=True):
        assert partition["StorageDescriptor"]["Location"] == (
            f"s3://soundstack-test-analytics-events-123456789012/{_firehose_path(prefix, day)}")  # fmt: skip
        assert partition["StorageDescriptor"]["serDeInfo"] == descriptor["serDeInfo"]
    statements = _statements(synth, "analytics-partitions-")
    assert set(statements["register-partitions"]["Action"]) == {
        "glue:GetTable",
        "glue:BatchCreatePartition",
    }
    assert all(":glue:eu-west-1:" in r for r in statements["register-partitions"]["Resource"])
    start = _statements(synth, "analytics-partitions-schedule-")["start-registration"]
    assert start["Action"] == ["states:StartExecution"] and len(start["Resource"]) == 1


def test_json_delivery_is_gzip_without_conversion_and_a_json_table():
    synth = _analytics(delivery_format="json")
    (stream,) = synth.by_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    s3 = stream.inputs["extendedS3Configuration"]
    assert s3["compressionFormat"] == "GZIP" and "dataFormatConversionConfiguration" not in s3
    (table,) = synth.by_type("aws:glue/catalogTable:CatalogTable")
    assert (
        table.inputs["storageDescriptor"]["serDeInfo"]["serializationLibrary"]
        == "org.openx.data.jsonserde.JsonSerDe"
    )
    assert "read-event-schema" not in _statements(synth, "analytics-firehose-")


def test_glue_schema_covers_every_field_activity_events_carry():
    event = ActivityEvent("e1", "play", "u1", "t1", datetime(2025, 1, 1, tzinfo=UTC), "a1", 1000)
    assert set(event.to_json()) <= {name for name, _ in EVENT_COLUMNS}


def test_quicksight_absent_in_dev_and_present_in_prod(dev, prod):
    for token in QUICKSIGHT_TYPES:
        assert not dev.by_type(token), token
        assert len(prod.by_type(token)) == 1, token
    (source,) = prod.by_type("aws:quicksight/dataSource:DataSource")
    (workgroup,) = prod.by_type("aws:redshiftserverless/workgroup:Workgroup")
    assert source.inputs["type"] == "REDSHIFT"
    assert source.inputs["parameters"]["redshift"]["host"].startswith(
        workgroup.inputs["workgroupName"]
    )
    assert source.inputs["sslProperties"] == {"disableSsl": False}
    assert source.inputs["credentials"]["secretArn"].startswith("arn:aws:secretsmanager:")
    (vpc,) = prod.by_type("aws:quicksight/vpcConnection:VpcConnection")
    assert set(vpc.property_dependencies["subnetIds"]) == _private_subnets(prod)
    # QuickSight reaches Redshift on its port only, from its own security group
    (ingress,) = [r for r in prod.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
                  if r.name == "analytics-from-analytics-quicksight-vpc-5439-ingress"]  # fmt: skip
    assert ingress.inputs["fromPort"] == ingress.inputs["toPort"] == 5439


def test_dashboard_template_shows_the_three_views_over_dataset_columns():
    document = json.loads(dashboard_document(
        "123456789012", "dash", "Listening", "arn:aws:quicksight:eu-west-1:1:dataset/d",
        "arn:aws:quicksight:eu-west-1:1:group/default/analysts", {"stack": "prod"}))  # fmt: skip
    definition = document["Definition"]
    assert definition["DataSetIdentifierDeclarations"] == [
        {"Identifier": "plays", "DataSetArn": "arn:aws:quicksight:eu-west-1:1:dataset/d"}]  # fmt: skip
    visuals = [next(iter(v.values())) for v in definition["Sheets"][0]["Visuals"]]
    titles = [v["Title"]["FormatText"]["PlainText"] for v in visuals]
    assert titles == ["Top tracks", "Daily active listeners", "Plays per country"]
    columns: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if "ColumnName" in node:
                columns.add(node["ColumnName"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(definition)
    assert columns and columns <= {name for name, _ in DATASET_COLUMNS}
    assert document["Tags"] == [{"Key": "stack", "Value": "prod"}]


def test_prod_dashboard_is_the_rendered_template_over_the_stack_dataset(prod):
    (dashboard,) = prod.by_type("aws:cloudcontrol/resource:Resource")
    (data_set,) = prod.by_type("aws:quicksight/dataSet:DataSet")
    assert dashboard.inputs["typeName"] == "AWS::QuickSight::Dashboard"
    state = json.loads(dashboard.inputs["desiredState"])
    (declaration,) = state["Definition"]["DataSetIdentifierDeclarations"]
    assert declaration["DataSetArn"].endswith(f"dataset/{data_set.inputs['dataSetId']}")
    assert state["AwsAccountId"] == "123456789012"


def test_bad_analytics_args_fail_clearly():
    net = object()
    with pytest.raises(ValueError, match="Firehose accepts 60 to 900"):
        AnalyticsArgs(network=net, activity_stream_arn=STREAM, buffer_seconds=30)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="multiple of 8"):
        AnalyticsArgs(network=net, activity_stream_arn=STREAM, base_capacity_rpu=12)  # type: ignore[arg-type]


def test_redshift_admin_user_comes_from_the_project_or_the_argument():
    synth = _analytics()
    (namespace,) = synth.by_type("aws:redshiftserverless/namespace:Namespace")
    assert namespace.inputs["adminUsername"] == "soundstack_admin"  # make_ctx's project
    synth = _analytics(redshift_mode="provisioned", admin_username="warehouse_owner")
    (cluster,) = synth.by_type("aws:redshift/cluster:Cluster")
    assert cluster.inputs["masterUsername"] == "warehouse_owner"
    net = object()
    for bad, why in (("Owner", "lower-case letters"), ("9lives", "starting with a letter"),
                     ("public", "reserved word"), ("user", "reserved word")):  # fmt: skip
        with pytest.raises(ValueError, match=f"AnalyticsArgs.admin_username='{bad}'.*{why}"):
            AnalyticsArgs(network=net, activity_stream_arn=STREAM, admin_username=bad)  # type: ignore[arg-type]
