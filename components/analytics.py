"""Listening analytics: activity stream → Firehose → S3 data lake → Redshift → QuickSight.

Data flow: the activity Kinesis stream feeds a Firehose delivery stream that writes date
partitioned Parquet (through the Glue table's schema) or GZIP JSON lines into a KMS-encrypted
bucket; Redshift (Serverless, or a provisioned cluster) reads it through Spectrum (an external
schema over the Glue database) or `COPY`, using a role that may read exactly that data; where a
stack switches QuickSight on, a VPC connection, a Redshift data source, a dataset over listening
events and a dashboard (rendered from `templates/listening_dashboard.json.j2`) sit on top.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import jinja2
import pulumi
import pulumi_aws as aws

from soundstack.components import lookups
from soundstack.components.access import KMS_DECRYPT, open_port
from soundstack.components.base import Component, StackContext
from soundstack.components.buckets import Bucket, bucket_policy, log_bucket, private_bucket
from soundstack.components.iam import Grantee, ServiceRole, ServiceRoleArgs
from soundstack.components.kms import EncryptionKey, EncryptionKeyArgs
from soundstack.components.logs import log_group
from soundstack.components.network import Network

REDSHIFT_PORT = 5439
#: Redshift Serverless (Considerations when using Amazon Redshift Serverless): "You must have at
#: least three subnets, and they must span across three Availability Zones." The current page
#: keeps that for workgroups with enhanced VPC routing, which ours use (Redshift.7).
SERVERLESS_MIN_AZS = 3
DATABASE = "analytics"
#: Schema in Redshift over the Glue database (Spectrum).
EXTERNAL_SCHEMA = "activity"
EVENTS_TABLE = "listening_events"
EVENTS_PREFIX = "listening-events/"
ERRORS_PREFIX = "errors/"

#: Columns of the listening-events table: the JSON fields of
#: `app_services.activity.domain.ActivityEvent.to_json` (a contract: add, never rename), plus
#: `country`, which the publisher adds from the listener's profile.
EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("version", "int"),
    ("event_id", "string"),
    ("kind", "string"),
    ("user_id", "string"),
    ("target_id", "string"),
    ("artist_id", "string"),
    ("ms_played", "bigint"),
    ("occurred_at", "string"),
    ("country", "string"),
)
#: Date partitions of the listening events: (column, Firehose timestamp format, digits).
#: Firehose writes `year=2026/month=03/day=07/` (its `!{timestamp:…}` namespace formats the
#: arrival time in UTC with Java's DateTimeFormatter, zero-padded).
PARTITIONS: tuple[tuple[str, str, int], ...] = (
    ("year", "yyyy", 4),
    ("month", "MM", 2),
    ("day", "dd", 2),
)
PARTITION_KEYS = tuple(column for column, _, _ in PARTITIONS)
#: The Firehose S3 prefix below EVENTS_PREFIX, and the same path with `${column}` placeholders
#: (Athena's `storage.location.template`).
FIREHOSE_PARTITIONS = "".join(f"{c}=!{{timestamp:{fmt}}}/" for c, fmt, _ in PARTITIONS)
PROJECTED_PARTITIONS = "".join(f"{c}=${{{c}}}/" for c, _, _ in PARTITIONS)
#: First year partition projection enumerates (no event predates the platform).
FIRST_YEAR = 2025
#: Athena partition projection. Athena only: "Partition projection is usable only when the
#: table is queried through Athena. If the same table is read through another service such as
#: Amazon Redshift Spectrum or Amazon EMR, the standard partition metadata is used." Spectrum
#: (and the QuickSight dataset over it) therefore read partitions `register_partitions` adds.
PROJECTION = {
    "projection.enabled": "true",
    "projection.year.type": "integer",
    "projection.year.range": f"{FIRST_YEAR},2099",
    "projection.year.digits": "4",
    "projection.month.type": "integer",
    "projection.month.range": "1,12",
    "projection.month.digits": "2",
    "projection.day.type": "integer",
    "projection.day.range": "1,31",
    "projection.day.digits": "2",
}
#: How often the partitions of today and tomorrow are registered (idempotent: Glue reports
#: the existing ones as errors of the batch and creates the missing ones).
REGISTRATION_SCHEDULE = "rate(1 hour)"
DAY_MS = 86_400_000

#: The QuickSight dataset: one row per play, typed for the dashboard's visuals.
DATASET_SQL = f"""SELECT event_id, user_id, target_id AS track_id, artist_id, country, ms_played,
       CAST(occurred_at AS TIMESTAMPTZ) AS played_at
FROM {EXTERNAL_SCHEMA}.{EVENTS_TABLE}
WHERE kind = 'play'"""
DATASET_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "STRING"),
    ("user_id", "STRING"),
    ("track_id", "STRING"),
    ("artist_id", "STRING"),
    ("country", "STRING"),
    ("ms_played", "INTEGER"),
    ("played_at", "DATETIME"),
)

_QUICKSIGHT_DATA_ACTIONS = {
    "source": [
        "quicksight:DescribeDataSource",
        "quicksight:DescribeDataSourcePermissions",
        "quicksight:PassDataSource",
    ],
    "dataset": [
        "quicksight:DescribeDataSet",
        "quicksight:DescribeDataSetPermissions",
        "quicksight:PassDataSet",
        "quicksight:DescribeIngestion",
        "quicksight:ListIngestions",
    ],
    "dashboard": [
        "quicksight:DescribeDashboard",
        "quicksight:ListDashboardVersions",
        "quicksight:QueryDashboard",
    ],
}


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("components", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


def dashboard_document(
    account_id: str,
    dashboard_id: str,
    name: str,
    data_set_arn: str,
    principal_arn: str,
    tags: Mapping[str, str],
) -> str:
    """The `AWS::QuickSight::Dashboard` properties (top tracks, daily active listeners, plays per
    country) as JSON, rendered from `templates/listening_dashboard.json.j2`."""
    rendered = (
        _templates()
        .get_template("listening_dashboard.json.j2")
        .render(
            account_id=account_id,
            dashboard_id=dashboard_id,
            name=name,
            data_set_arn=data_set_arn,
            principal_arn=principal_arn,
            actions=_QUICKSIGHT_DATA_ACTIONS["dashboard"],
            tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        )
    )
    return json.dumps(json.loads(rendered), separators=(",", ":"))


def partition_values(day_offset: int) -> str:
    """JSONata: the partition values (`["2026", "03", "07"]`) of the UTC day `day_offset` days
    after the execution started, zero-padded like Firehose's prefix."""
    pictures = {"yyyy": "[Y0001]", "MM": "[M01]", "dd": "[D01]"}
    at = f"$toMillis($states.context.Execution.StartTime) + {day_offset} * {DAY_MS}"
    return (
        "[" + ", ".join(f"$fromMillis({at}, '{pictures[fmt]}')" for _, fmt, _ in PARTITIONS) + "]"
    )


def partition_registration_definition(database: str) -> str:
    """Amazon States Language (JSONata) registering today's and tomorrow's partitions of the
    listening-events table: read the table, then `BatchCreatePartition` with its storage
    descriptor pointed at each day's prefix."""
    partition = (
        "{'Values': $v, 'StorageDescriptor': $merge([$sd, {'Location': $sd.Location & "
        + " & ".join(f"'{c}=' & $v[{i}] & '/'" for i, (c, _, _) in enumerate(PARTITIONS))
        + "}])}"
    )
    days = ", ".join(f"($v := {partition_values(offset)}; {partition})" for offset in (0, 1))
    return json.dumps(
        {
            "Comment": "Register listening-events partitions for Redshift Spectrum",
            "QueryLanguage": "JSONata",
            "StartAt": "ReadTable",
            "States": {
                "ReadTable": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:glue:getTable",
                    "Arguments": {"DatabaseName": database, "Name": EVENTS_TABLE},
                    "Assign": {"sd": "{% $states.result.Table.StorageDescriptor %}"},
                    "Next": "RegisterPartitions",
                },
                "RegisterPartitions": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:glue:batchCreatePartition",
                    "Arguments": {
                        "DatabaseName": database,
                        "TableName": EVENTS_TABLE,
                        "PartitionInputList": f"{{% [{days}] %}}",
                    },
                    "End": True,
                },
            },
        },
        indent=2,
    )


@dataclass
class AnalyticsArgs:
    """The analytics tier. Defaults are production-grade: Parquet, Serverless, no QuickSight
    (it needs an account subscription first)."""

    #: VPC: Redshift and the QuickSight VPC connection sit in its private subnets.
    network: Network
    #: ARN of the activity Kinesis stream Firehose reads.
    activity_stream_arn: pulumi.Input[str]
    #: KMS key of the activity stream, if it uses a customer-managed key (Firehose decrypts).
    activity_stream_kms_key_arn: pulumi.Input[str] | None = None
    #: `parquet` converts records with the Glue table's schema; `json` stores GZIP JSON lines.
    delivery_format: Literal["parquet", "json"] = "parquet"
    #: Seconds Firehose buffers before writing a file (60 to 900); larger files query faster.
    buffer_seconds: int = 300
    #: `serverless` bills per query (RPUs); `provisioned` runs `nodes` of `node_type` always.
    redshift_mode: Literal["serverless", "provisioned"] = "serverless"
    base_capacity_rpu: int = 8
    node_type: str = "ra3.xlplus"
    nodes: int = 2
    #: Days automated snapshots of the provisioned cluster are kept (Redshift.3).
    snapshot_retention_days: int = 7
    #: Retention and KMS key of the Firehose error log group.
    log_retention_days: int = 365
    logs_kms_key_arn: pulumi.Input[str] | None = None
    #: Bucket for the data bucket's S3 server access logs; None makes one for analytics.
    access_logs: Bucket | None = None
    #: QuickSight VPC connection, Redshift data source, dataset and dashboard.
    quicksight: bool = False

    def __post_init__(self) -> None:
        if not 60 <= self.buffer_seconds <= 900:
            raise ValueError(f"buffer_seconds={self.buffer_seconds}: Firehose accepts 60 to 900")
        if self.redshift_mode == "serverless" and not (
            8 <= self.base_capacity_rpu <= 1024 and self.base_capacity_rpu % 8 == 0
        ):
            raise ValueError(
                f"analytics.redshift_base_capacity_rpu={self.base_capacity_rpu}: use a multiple "
                "of 8 between 8 and 1024"
            )
        zones = len(self.network.extended_private_subnet_ids)
        if self.redshift_mode == "serverless" and zones < SERVERLESS_MIN_AZS:
            raise ValueError(
                f"analytics.redshift_mode=serverless: the network's private subnets span {zones} "
                f'zones, and Redshift Serverless needs {SERVERLESS_MIN_AZS} ("You must have at '
                'least three subnets, and they must span across three Availability Zones"); set '
                "network.min_private_azs: 3 (one more private subnet, no NAT or endpoints) or "
                "network.az_count: 3, or analytics.redshift_mode: provisioned"
            )


class Analytics(Component):
    """Firehose delivery of listening events, the Glue schema, Redshift and QuickSight."""

    TYPE = "soundstack:analytics:Analytics"

    def __init__(
        self,
        name: str,
        args: AnalyticsArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        self._args = args
        self._admitted: set[str] = set()
        self.account = lookups.account_id()
        self.partition = lookups.partition()
        self.key = EncryptionKey(
            self.child_name("key"),
            EncryptionKeyArgs(description=f"Listening analytics of {ctx.project}-{ctx.stack}"),
            ctx,
            opts=self.child_opts(),
        )
        logs = args.access_logs or log_bucket(self, "access-logs", 365)
        self.bucket = private_bucket(self, "events", self.key.arn, logs)
        bucket_policy(self, "events", self.bucket)
        self._catalog(args)
        self._firehose(args)
        self._register_partitions()
        self.security_group = args.network.security_group(
            self, "redshift", "Redshift: admits only the clients granted `allow_from`"
        )
        self.redshift_role = self._redshift_role()
        if args.redshift_mode == "serverless":
            self._serverless(args)
        else:
            self._provisioned(args)
        aws.redshiftdata.Statement(
            self.child_name("external-schema"),
            database=DATABASE,
            sql=self.glue_database.name.apply(
                lambda db: (
                    f"CREATE EXTERNAL SCHEMA IF NOT EXISTS {EXTERNAL_SCHEMA} "
                    f"FROM DATA CATALOG DATABASE '{db}' IAM_ROLE default"
                )
            ),
            secret_arn=self.admin_secret_arn,
            workgroup_name=self._workgroup_name,
            cluster_identifier=self._cluster_identifier,
            opts=self.child_opts(depends_on=[self.glue_table, self._warehouse]),
        )
        self.dashboard: aws.cloudcontrol.Resource | None = None
        if args.quicksight:
            self._quicksight(args)
        self.register_outputs(
            {
                "bucket": self.bucket.name,
                "delivery_stream": self.delivery_stream.name,
                "redshift_endpoint": self.endpoint,
            }
        )

    # -- data lake ---------------------------------------------------------------------------
    def _catalog(self, args: AnalyticsArgs) -> None:
        self.glue_database = aws.glue.CatalogDatabase(
            self.child_name("catalog"),
            name=self.physical_name("", "glue"),  # Athena quotes it: `soundstack-prod-analytics`
            description="Listening events delivered by Firehose",
            tags=self.tags(),
            opts=self.child_opts(),
        )
        if args.delivery_format == "parquet":
            formats = {
                "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "ser_de_info": {
                    "serialization_library": (
                        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                    ),
                    "parameters": {"serialization.format": "1"},
                },
            }
            classification = {"classification": "parquet", "parquet.compression": "SNAPPY"}
        else:
            formats = {
                "input_format": "org.apache.hadoop.mapred.TextInputFormat",
                "output_format": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "ser_de_info": {"serialization_library": "org.openx.data.jsonserde.JsonSerDe"},
            }
            classification = {"classification": "json", "compressionType": "gzip"}
        location = pulumi.Output.concat("s3://", self.bucket.name, "/", EVENTS_PREFIX)
        self.glue_table = aws.glue.CatalogTable(
            self.child_name("events-table"),
            name=EVENTS_TABLE,
            database_name=self.glue_database.name,
            table_type="EXTERNAL_TABLE",
            parameters={
                "EXTERNAL": "TRUE",
                **classification,
                **PROJECTION,
                "storage.location.template": pulumi.Output.concat(location, PROJECTED_PARTITIONS),
            },
            partition_keys=[{"name": k, "type": "string"} for k in PARTITION_KEYS],
            storage_descriptor={
                "location": location,
                "columns": [{"name": n, "type": t} for n, t in EVENT_COLUMNS],
                **formats,
            },
            opts=self.child_opts(),
        )
        region, account, part = self.ctx.region, self.account, self.partition
        glue = f"arn:{part}:glue:{region}:{account}"
        self._glue_arns = [
            f"{glue}:catalog",
            self.glue_database.name.apply(lambda db: f"{glue}:database/{db}"),
            self.glue_database.name.apply(lambda db: f"{glue}:table/{db}/{EVENTS_TABLE}"),
        ]

    def _firehose(self, args: AnalyticsArgs) -> None:
        region = self.ctx.region
        role = ServiceRole(
            self.child_name("firehose"),
            ServiceRoleArgs(
                assume_role_policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "firehose.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                                "Condition": {"StringEquals": {"sts:ExternalId": self.account}},
                            }
                        ],
                    }
                )
            ),
            self.ctx,
            opts=self.child_opts(),
        )
        role.grant(
            "ReadActivityStream",
            ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary",
             "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"],
            [args.activity_stream_arn],
        )  # fmt: skip
        if args.activity_stream_kms_key_arn is not None:
            role.grant(
                "DecryptActivityStream",
                list(KMS_DECRYPT),
                [args.activity_stream_kms_key_arn],
                {"StringEquals": {"kms:ViaService": f"kinesis.{region}.amazonaws.com"}},
            )
        role.grant(
            "WriteListeningEvents",
            ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject",
             "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"],
            [self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*")],
        )  # fmt: skip
        role.grant(
            "EncryptListeningEvents",
            ["kms:Decrypt", "kms:GenerateDataKey"],
            [self.key.arn],
            {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        )
        if args.delivery_format == "parquet":
            role.grant(
                "ReadEventSchema",
                ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                self._glue_arns,
            )
        group = log_group(self, "firehose", args.log_retention_days, args.logs_kms_key_arn)
        stream = aws.cloudwatch.LogStream(
            self.child_name("firehose-s3-delivery"),
            name=self.physical_name("s3-delivery"),
            log_group_name=group.name,
            opts=self.child_opts(),
        )
        role.grant(
            "WriteDeliveryErrors",
            ["logs:PutLogEvents"],
            [pulumi.Output.concat(group.arn, ":log-stream:*")],
        )
        partitions = FIREHOSE_PARTITIONS
        s3: dict[str, Any] = {
            "bucket_arn": self.bucket.arn,
            "role_arn": role.role_arn,
            "prefix": f"{EVENTS_PREFIX}{partitions}",
            "error_output_prefix": f"{ERRORS_PREFIX}!{{firehose:error-output-type}}/{partitions}",
            "buffering_interval": args.buffer_seconds,
            "buffering_size": 128,  # MiB; Parquet conversion needs ≥ 64
            "kms_key_arn": self.key.arn,
            "cloudwatch_logging_options": {
                "enabled": True,
                "log_group_name": group.name,
                "log_stream_name": stream.name,
            },
        }
        if args.delivery_format == "parquet":
            s3["compression_format"] = "UNCOMPRESSED"  # Parquet pages are Snappy-compressed
            s3["data_format_conversion_configuration"] = {
                "enabled": True,
                "input_format_configuration": {"deserializer": {"open_x_json_ser_de": {}}},
                "output_format_configuration": {
                    "serializer": {"parquet_ser_de": {"compression": "SNAPPY"}}
                },
                "schema_configuration": {
                    "database_name": self.glue_database.name,
                    "table_name": self.glue_table.name,
                    "role_arn": role.role_arn,
                    "region": region,
                },
            }
        else:
            s3["compression_format"] = "GZIP"
        self.delivery_stream = aws.kinesis.FirehoseDeliveryStream(
            self.child_name("delivery"),
            name=self.physical_name("delivery", "firehose"),
            destination="extended_s3",
            kinesis_source_configuration={
                "kinesis_stream_arn": args.activity_stream_arn,
                "role_arn": role.role_arn,
            },
            extended_s3_configuration=s3,
            tags=self.tags(),
            opts=self.child_opts(depends_on=[role]),
        )
        dims = {"DeliveryStreamName": self.delivery_stream.name}
        self.add_signal("throttles", "Firehose throttled stream reads", "AWS/Firehose",
                        "ThrottledGetRecords", dims)  # fmt: skip
        self.add_signal("errors", "Firehose Parquet conversion failures", "AWS/Firehose",
                        "FailedConversion.Records", dims)  # fmt: skip

    def _register_partitions(self) -> None:
        """Spectrum reads registered partitions only: a state machine, started every hour by
        EventBridge Scheduler, registers today's and tomorrow's (UTC) with the table's storage
        descriptor, so a day's partition exists before Firehose writes its first file."""
        role = ServiceRole(
            self.child_name("partitions"),
            ServiceRoleArgs(services=["states.amazonaws.com"]),
            self.ctx,
            opts=self.child_opts(),
        )
        role.grant("RegisterPartitions", ["glue:GetTable", "glue:BatchCreatePartition"],
                   self._glue_arns)  # fmt: skip
        self.partition_registrar = aws.sfn.StateMachine(
            self.child_name("partitions"),
            name=self.physical_name("partitions", "sfn"),
            role_arn=role.role_arn,
            definition=self.glue_database.name.apply(partition_registration_definition),
            tags=self.tags(),
            opts=self.child_opts(depends_on=[role]),
        )
        scheduler = ServiceRole(
            self.child_name("partitions-schedule"),
            ServiceRoleArgs(
                assume_role_policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "scheduler.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                                "Condition": {"StringEquals": {"aws:SourceAccount": self.account}},
                            }
                        ],
                    }
                )
            ),
            self.ctx,
            opts=self.child_opts(),
        )
        scheduler.grant("StartRegistration", ["states:StartExecution"],
                        [self.partition_registrar.arn])  # fmt: skip
        aws.scheduler.Schedule(
            self.child_name("partitions-schedule"),
            name=self.physical_name("partitions", "scheduler"),
            schedule_expression=REGISTRATION_SCHEDULE,
            flexible_time_window={"mode": "OFF"},
            target={"arn": self.partition_registrar.arn, "role_arn": scheduler.role_arn},
            opts=self.child_opts(depends_on=[scheduler]),
        )
        dims = {"StateMachineArn": self.partition_registrar.arn}
        self.add_signal("failures", "Partition registration failures", "AWS/States",
                        "ExecutionsFailed", dims)  # fmt: skip

    # -- warehouse ---------------------------------------------------------------------------
    def _redshift_role(self) -> ServiceRole:
        """What Redshift may read: the listening events (COPY / Spectrum) and their schema."""
        role = ServiceRole(
            self.child_name("redshift"),
            ServiceRoleArgs(
                services=["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]
            ),
            self.ctx,
            opts=self.child_opts(),
        )
        role.grant(
            "ReadListeningEvents",
            ["s3:GetObject"],
            [pulumi.Output.concat(self.bucket.arn, f"/{EVENTS_PREFIX}*")],
        )
        role.grant(
            "ListListeningEvents",
            ["s3:GetBucketLocation", "s3:ListBucket"],
            [self.bucket.arn],
        )
        role.grant("DecryptListeningEvents", list(KMS_DECRYPT), [self.key.arn])
        role.grant(
            "ReadEventCatalog",
            ["glue:BatchGetPartition", "glue:GetDatabase", "glue:GetPartition",
             "glue:GetPartitions", "glue:GetTable", "glue:GetTables"],
            self._glue_arns,
        )  # fmt: skip
        return role

    def _serverless(self, args: AnalyticsArgs) -> None:
        namespace = aws.redshiftserverless.Namespace(
            self.child_name("namespace"),
            namespace_name=self.physical_name("", "redshift"),
            db_name=DATABASE,
            admin_username="soundstack_admin",
            manage_admin_password=True,  # Secrets Manager generates and keeps the password
            admin_password_secret_kms_key_id=self.key.arn,
            kms_key_id=self.key.arn,
            iam_roles=[self.redshift_role.role_arn],
            default_iam_role_arn=self.redshift_role.role_arn,
            log_exports=["userlog", "connectionlog", "useractivitylog"],  # Redshift.4
            tags=self.tags(),
            opts=self.child_opts(),
        )
        workgroup = aws.redshiftserverless.Workgroup(
            self.child_name("workgroup"),
            namespace_name=namespace.namespace_name,
            workgroup_name=self.physical_name("", "redshift"),
            base_capacity=args.base_capacity_rpu,
            subnet_ids=args.network.extended_private_subnet_ids,  # three AZs: SERVERLESS_MIN_AZS
            security_group_ids=[self.security_group.id],
            publicly_accessible=False,  # Redshift.1
            enhanced_vpc_routing=True,  # Redshift.7: COPY/Spectrum traffic stays in the VPC
            port=REDSHIFT_PORT,
            config_parameters=[
                {"parameter_key": "require_ssl", "parameter_value": "true"},  # Redshift.2
                {"parameter_key": "enable_user_activity_logging", "parameter_value": "true"},
            ],
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self._warehouse: pulumi.Resource = workgroup
        self._workgroup_name: pulumi.Output[str] | None = workgroup.workgroup_name
        self._cluster_identifier: pulumi.Output[str] | None = None
        self.admin_secret_arn: pulumi.Output[str] = namespace.admin_password_secret_arn
        self.endpoint: pulumi.Output[str] = workgroup.endpoints.apply(lambda e: e[0].address)

    def _provisioned(self, args: AnalyticsArgs) -> None:
        subnets = aws.redshift.SubnetGroup(
            self.child_name("subnets"),
            name=self.physical_name("", "redshift"),
            subnet_ids=args.network.private_subnet_ids,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        parameters = aws.redshift.ParameterGroup(
            self.child_name("parameters"),
            name=self.physical_name("", "redshift"),
            family="redshift-2.0",
            parameters=[
                {"name": "require_ssl", "value": "true"},  # Redshift.2
                {"name": "enable_user_activity_logging", "value": "true"},
            ],
            tags=self.tags(),
            opts=self.child_opts(),
        )
        cluster = aws.redshift.Cluster(
            self.child_name("cluster"),
            cluster_identifier=self.physical_name("", "redshift"),
            node_type=args.node_type,
            cluster_type="multi-node" if args.nodes > 1 else "single-node",
            number_of_nodes=args.nodes,
            database_name=DATABASE,
            master_username="soundstack_admin",
            manage_master_password=True,  # Secrets Manager generates and keeps the password
            master_password_secret_kms_key_id=self.key.arn,
            encrypted=True,  # Redshift.10
            kms_key_id=self.key.arn,
            publicly_accessible=False,  # Redshift.1
            enhanced_vpc_routing=True,  # Redshift.7
            cluster_subnet_group_name=subnets.name,
            cluster_parameter_group_name=parameters.name,
            vpc_security_group_ids=[self.security_group.id],
            iam_roles=[self.redshift_role.role_arn],
            default_iam_role_arn=self.redshift_role.role_arn,
            automated_snapshot_retention_period=args.snapshot_retention_days,  # Redshift.3
            allow_version_upgrade=True,
            skip_final_snapshot=not self.ctx.is_prod,
            final_snapshot_identifier=(
                self.physical_name("final", "redshift") if self.ctx.is_prod else None
            ),
            port=REDSHIFT_PORT,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        aws.redshift.Logging(
            self.child_name("audit-logging"),
            cluster_identifier=cluster.cluster_identifier,
            log_destination_type="cloudwatch",  # Redshift.4
            log_exports=["connectionlog", "useractivitylog", "userlog"],
            opts=self.child_opts(),
        )
        self._warehouse = cluster
        self._workgroup_name = None
        self._cluster_identifier = cluster.cluster_identifier
        self.admin_secret_arn = cluster.master_password_secret_arn
        self.endpoint = cluster.dns_name
        dims = {"ClusterIdentifier": cluster.cluster_identifier}
        self.add_signal("cpu", "Redshift CPU", "AWS/Redshift", "CPUUtilization", dims,
                        statistic="Average")  # fmt: skip

    def allow_from(self, grantee: Grantee) -> None:
        """Let `grantee` connect to Redshift on its port (SQL access still needs a DB user)."""
        open_port(self, self.security_group.id, grantee, REDSHIFT_PORT, "Redshift",
                  self._admitted)  # fmt: skip

    # -- QuickSight --------------------------------------------------------------------------
    def _quicksight(self, args: AnalyticsArgs) -> None:
        """VPC connection, Redshift data source, listening-events dataset and the dashboard.

        The account must already subscribe to QuickSight, and QuickSight's service role must be
        allowed to read the Redshift admin secret (QuickSight: Security & permissions)."""
        network = args.network
        sg = network.security_group(self, "quicksight", "QuickSight to Redshift")
        role = ServiceRole(
            self.child_name("quicksight-vpc"),
            ServiceRoleArgs(services=["quicksight.amazonaws.com"], security_group_id=sg.id),
            self.ctx,
            opts=self.child_opts(),
        )
        # QuickSight manages its network interfaces itself; EC2 scopes these calls to no ARN.
        role.grant(
            "ManageQuickSightInterfaces",
            ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
             "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups",
             "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:ModifyNetworkInterfaceAttribute"],
            ["*"],
        )  # fmt: skip
        self.allow_from(role)
        # QuickSight's interfaces are not stateful: replies from Redshift need an inbound rule.
        aws.vpc.SecurityGroupIngressRule(
            self.child_name("quicksight-replies-ingress"),
            security_group_id=sg.id,
            referenced_security_group_id=self.security_group.id,
            ip_protocol="tcp",
            from_port=0,
            to_port=65535,
            description="replies from Redshift to QuickSight's network interfaces",
            tags=self.tags(),
            opts=self.child_opts(),
        )
        base_id = self.physical_name("", "default")
        vpc_connection = aws.quicksight.VpcConnection(
            self.child_name("quicksight-vpc-connection"),
            vpc_connection_id=base_id,
            name=base_id,
            role_arn=role.role_arn,
            security_group_ids=[sg.id],
            subnet_ids=network.private_subnet_ids,
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self.analysts = aws.quicksight.Group(
            self.child_name("analysts"),
            group_name=self.physical_name("analysts", "quicksight"),
            description="Readers of the listening analytics",
            opts=self.child_opts(),
        )
        data_source = aws.quicksight.DataSource(
            self.child_name("redshift-source"),
            data_source_id=f"{base_id}-redshift",
            name=f"{base_id} Redshift",
            type="REDSHIFT",
            parameters={
                "redshift": {"host": self.endpoint, "port": REDSHIFT_PORT, "database": DATABASE}
            },
            credentials={"secret_arn": self.admin_secret_arn},
            ssl_properties={"disable_ssl": False},
            vpc_connection_properties={"vpc_connection_arn": vpc_connection.arn},
            permissions=[
                {"principal": self.analysts.arn, "actions": _QUICKSIGHT_DATA_ACTIONS["source"]}
            ],
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self.data_set = aws.quicksight.DataSet(
            self.child_name("listening-events"),
            data_set_id=f"{base_id}-listening-events",
            name="Listening events",
            import_mode="DIRECT_QUERY",
            physical_table_maps=[
                {
                    "physical_table_map_id": "plays",
                    "custom_sql": {
                        "data_source_arn": data_source.arn,
                        "name": "plays",
                        "sql_query": DATASET_SQL,
                        "columns": [{"name": n, "type": t} for n, t in DATASET_COLUMNS],
                    },
                }
            ],
            permissions=[
                {"principal": self.analysts.arn, "actions": _QUICKSIGHT_DATA_ACTIONS["dataset"]}
            ],
            tags=self.tags(),
            opts=self.child_opts(),
        )
        dashboard_id = f"{base_id}-listening"
        tags = self.tags()
        # The Python SDK has no typed `definition`; Cloud Control takes the dashboard whole.
        self.dashboard = aws.cloudcontrol.Resource(
            self.child_name("dashboard"),
            type_name="AWS::QuickSight::Dashboard",
            desired_state=pulumi.Output.all(self.data_set.arn, self.analysts.arn).apply(
                lambda arns: dashboard_document(
                    self.account, dashboard_id, "Listening", arns[0], arns[1], tags
                )
            ),
            opts=self.child_opts(),
        )
