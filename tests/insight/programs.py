"""Small programs under the estate mocks, shared by the insight tests."""

from __future__ import annotations

from typing import Literal

import pulumi
import pulumi_aws as aws

from soundstack.components.base import Component
from soundstack.components.iam import ServiceRole, ServiceRoleArgs
from soundstack.components.network import Network, NetworkArgs, allow_from
from tests.conftest import make_ctx


class Store(Component):
    TYPE = "soundstack:tests:Store"


class Service(Component):
    TYPE = "soundstack:tests:Service"


NatMode = Literal["single", "per_az"]


def make_network(nat_gateways: NatMode = "single", az_count: int = 2) -> Network:
    args = NetworkArgs(az_count=az_count, nat_gateways=nat_gateways)
    return Network("network", args, make_ctx(stack="test"))


def network(nat_gateways: NatMode = "single") -> None:
    """Only a two-AZ network, with one NAT gateway or one per AZ."""
    make_network(nat_gateways)


def database(multi_az: bool, instance_class: str = "db.r7g.large") -> None:
    """A network and a PostgreSQL instance in a `db` component, behind its subnets."""
    ctx = make_ctx(stack="test")
    net = make_network()
    db = Store("db", ctx)
    group = aws.rds.SubnetGroup(
        db.child_name("subnets"), subnet_ids=net.isolated_subnet_ids, tags=db.tags(),
        opts=db.child_opts(),
    )  # fmt: skip
    aws.rds.Instance(
        db.child_name("instance"),
        engine="postgres",
        instance_class=instance_class,
        allocated_storage=100,
        storage_type="gp3",
        multi_az=multi_az,
        db_subnet_group_name=group.id,
        tags=db.tags(),
        opts=db.child_opts(),
    )


def wired() -> None:
    """A bucket and a topic feeding a queue in `store`, read by `reader`'s role and port."""
    ctx = make_ctx(stack="test")
    net = make_network()
    store = Store("store", ctx)
    bucket = aws.s3.BucketV2(store.child_name("bucket"), tags=store.tags(), opts=store.child_opts())
    reader = Service("reader", ctx)
    role = ServiceRole(
        "reader-role", ServiceRoleArgs(services=["lambda.amazonaws.com"]), ctx,
        opts=pulumi.ResourceOptions(parent=reader),
    )  # fmt: skip
    role.grant("ReadTracks", ["s3:GetObject"], [bucket.arn.apply(lambda a: f"{a}/*")])
    store_sg = net.security_group(store, "db", "the store")
    reader_sg = net.security_group(reader, "app", "the reader")
    allow_from(store, "from-reader", store_sg.id, reader_sg.id, 5432, "reader to store")
    bus = Service("bus", ctx)
    topic = aws.sns.Topic(bus.child_name("topic"), tags=bus.tags(), opts=bus.child_opts())
    queue = aws.sqs.Queue(reader.child_name("queue"), tags=reader.tags(), opts=reader.child_opts())
    aws.sns.TopicSubscription(
        bus.child_name("to-reader"), topic=topic.arn, protocol="sqs", endpoint=queue.arn,
        opts=bus.child_opts(),
    )  # fmt: skip
