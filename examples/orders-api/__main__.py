"""Acme's orders service on SoundStack components: a VPC, a PostgreSQL database and a Lambda
function running Acme's own code (`orders/handler.py`), allowed to sign in to the database as
the role `orders` and nothing else.

Before `pulumi up`, build the function's layer where `ServiceFunctionArgs.layer_dir` expects
it (`build/layer`, under this directory) from `orders/requirements.txt`:

    pip install --target build/layer/python --platform manylinux2014_aarch64 \\
        --only-binary=:all: --implementation cp --python-version 3.13 -r orders/requirements.txt

and, once the database exists, create the role and its schema as the master user (its password
is in the secret `master_secret_arn`):

    CREATE ROLE orders LOGIN; GRANT rds_iam TO orders;
    CREATE SCHEMA orders AUTHORIZATION orders; ALTER ROLE orders SET search_path = orders;

Offline, with no AWS account: `soundstack preview -C examples/orders-api dev`.
"""

from pathlib import Path

import pulumi

from soundstack.components.base import StackContext
from soundstack.components.database import Database, DatabaseArgs
from soundstack.components.function import FunctionCode, ServiceFunction, ServiceFunctionArgs
from soundstack.components.kms import EncryptionKey, EncryptionKeyArgs
from soundstack.components.monitoring import AuditTrail, AuditTrailArgs
from soundstack.components.network import Network, NetworkArgs

config = pulumi.Config()
ctx = StackContext(
    project=pulumi.get_project(),
    stack=pulumi.get_stack(),
    environment=config.require("environment"),  # type: ignore[arg-type]
    region=pulumi.Config("aws").require("region"),
    owner=config.require("owner"),
    cost_centre=config.require("costCentre"),
)
HERE = Path(__file__).resolve().parent

# Every stack needs a multi-region trail (policy stack-audit-trail); drop this where an
# organisation trail already covers the account.
AuditTrail("audit", AuditTrailArgs(), ctx)
data_key = EncryptionKey(
    "data", EncryptionKeyArgs(description=f"orders data of {ctx.project}-{ctx.stack}"), ctx
)
network = Network("network", NetworkArgs(cidr=config.get("vpcCidr") or "10.60.0.0/16"), ctx)
database = Database(
    "orders-db",
    DatabaseArgs(network=network, kms_key_arn=data_key.arn, users=["orders"]),
    ctx,
)
orders = ServiceFunction(
    "orders-fn",
    ServiceFunctionArgs(
        # The package directory orders/ is the archive's top-level package: Lambda imports
        # orders.handler and calls handler(event, context).
        code=FunctionCode("orders.handler.handler", HERE / "orders"),
        network=network,  # the database is reachable from the private subnets only
        kms_key_arn=data_key.arn,
        reserved_concurrency=None,  # a new account's concurrency quota is often 10
        extra_environment={
            "DB_HOST": database.client_endpoint,
            "DB_PORT": str(database.port),
            "DB_NAME": database.db_name,
            "DB_USER": "orders",
        },
    ),
    ctx,
)
# rds-db:connect as `orders` on the proxy, and the proxy's security group opened to the function.
database.grant_connect(orders, user="orders")

pulumi.export("function_name", orders.function_name)
pulumi.export("database_endpoint", database.client_endpoint)
pulumi.export("master_secret_arn", database.master_secret_arn)
